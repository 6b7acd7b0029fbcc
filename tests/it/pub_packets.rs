//! The same `mosquitto_pub` command through Debian's mosquitto_pub and through ours
//! must put the same bytes on the wire. A recording broker written here (packets
//! framed by hand, answers written byte by byte, not with our codec) accepts one
//! client, acknowledges what it sends, and keeps every byte it received.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::util::{Sandbox, describe, have_mosquitto_tool, run_with_timeout};

const T: Duration = Duration::from_secs(10);

/// Reads one whole packet (fixed header, remaining length, body); `None` at EOF.
pub fn read_packet(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut first = [0u8; 1];
    s.read_exact(&mut first).ok()?;
    let mut packet = vec![first[0]];
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).ok()?;
        packet.push(b[0]);
        len |= usize::from(b[0] & 0x7F) << shift;
        shift += 7;
        if b[0] & 0x80 == 0 || shift > 21 {
            break;
        }
    }
    let start = packet.len();
    packet.resize(start + len, 0);
    s.read_exact(&mut packet[start..]).ok()?;
    Some(packet)
}

/// Accepts one connection on a loopback port 0 and answers CONNECT, PUBLISH (QoS 1
/// and 2), PUBREL and PINGREQ until DISCONNECT or EOF; returns every packet received.
fn recording_broker() -> (u16, JoinHandle<Vec<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        let mut got = Vec::new();
        while let Some(p) = read_packet(&mut s) {
            let kind = p[0] >> 4;
            // The packet id follows the topic in PUBLISH, the fixed header elsewhere.
            let id_after_topic = |p: &[u8]| {
                let mut i = 1;
                while p[i] & 0x80 != 0 {
                    i += 1;
                }
                let topic_len = usize::from(u16::from_be_bytes([p[i + 1], p[i + 2]]));
                let at = i + 3 + topic_len;
                [p[at], p[at + 1]]
            };
            let answer: Vec<u8> = match kind {
                // CONNECT: protocol level 5 wants a CONNACK with an empty property list.
                1 => {
                    let name_len = usize::from(u16::from_be_bytes([p[2], p[3]]));
                    if p.get(4 + name_len) == Some(&5) {
                        vec![0x20, 0x03, 0x00, 0x00, 0x00]
                    } else {
                        vec![0x20, 0x02, 0x00, 0x00]
                    }
                }
                3 => match (p[0] >> 1) & 3 {
                    1 => [&[0x40, 0x02][..], &id_after_topic(&p)].concat(),
                    2 => [&[0x50, 0x02][..], &id_after_topic(&p)].concat(),
                    _ => Vec::new(),
                },
                6 => vec![0x70, 0x02, p[2], p[3]],
                12 => vec![0xD0, 0x00],
                _ => Vec::new(),
            };
            got.push(p);
            if !answer.is_empty() {
                s.write_all(&answer).unwrap();
            }
            if kind == 14 {
                break;
            }
        }
        got
    });
    (port, handle)
}

/// Runs `program ARGS -p PORT` against a fresh recording broker; returns the packets.
fn packets_from(sb: &Sandbox, program: &PathBuf, args: &[&str]) -> Vec<Vec<u8>> {
    let (port, broker) = recording_broker();
    let out = run_with_timeout(
        sb.command(program)
            .args(args)
            .args(["-p", &port.to_string(), "-h", "127.0.0.1"]),
        T,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{program:?} {args:?}\n{}",
        describe(&out)
    );
    broker.join().unwrap()
}

fn hex(packets: &[Vec<u8>]) -> String {
    packets
        .iter()
        .map(|p| {
            p.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn same_packets_as_mosquitto_pub() {
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let sb = Sandbox::new();
    let ours = sb.multicall("mosquitto_pub");
    let theirs = crate::util::which("mosquitto_pub").unwrap();
    let cases: &[&[&str]] = &[
        &["-i", "c1", "-t", "a/b", "-m", "hello"],
        &["-i", "c1", "-t", "a/b", "-m", "hello", "-q", "1"],
        &["-i", "c1", "-t", "a/b", "-m", "hello", "-q", "2", "-r"],
        &["-i", "c1", "-t", "a/b", "-n", "-r"],
        &["-i", "c1", "-t", "a/b", "-m", "x", "-V", "31", "-q", "1"],
        &["-i", "c1", "-t", "a/b", "-m", "x", "-c", "-k", "30"],
        &[
            "-i", "c1", "-t", "a/b", "-m", "x", "-u", "user", "-P", "secret",
        ],
        &[
            "-i",
            "c1",
            "-t",
            "a/b",
            "-m",
            "x",
            "--will-topic",
            "w/t",
            "--will-payload",
            "bye",
            "--will-qos",
            "1",
            "--will-retain",
        ],
        &[
            "-i", "c1", "-t", "a/b", "-m", "x", "--repeat", "3", "-q", "1",
        ],
        &["-i", "c1", "-t", "a/b", "-m", "x", "-V", "5", "-q", "1"],
        &[
            "-i", "c1", "-t", "a/b", "-m", "x", "-V", "5", "-q", "1", "-M", "5",
        ],
        &[
            "-i", "c1", "-t", "a/b", "-m", "x", "-V", "5", "-x", "100", "-k", "5",
        ],
        &[
            "-i",
            "c1",
            "-t",
            "a/b",
            "-m",
            "x",
            "-V",
            "5",
            "-q",
            "2",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
            "-D",
            "publish",
            "message-expiry-interval",
            "60",
            "-D",
            "connect",
            "session-expiry-interval",
            "30",
            "-D",
            "connect",
            "receive-maximum",
            "10",
        ],
        &[
            "-i",
            "c1",
            "-t",
            "a/b",
            "-m",
            "x",
            "-V",
            "5",
            "--will-topic",
            "w",
            "--will-payload",
            "p",
            "-D",
            "will",
            "will-delay-interval",
            "5",
        ],
    ];
    for args in cases {
        let mosq = packets_from(&sb, &theirs, args);
        let mqtk = packets_from(&sb, &ours, args);
        assert_eq!(
            hex(&mqtk),
            hex(&mosq),
            "packets differ for {args:?} (ours first, mosquitto_pub's second)"
        );
    }
}
