//! Differential tests of `mqtk::output` against Debian's mosquitto_sub 2.0.11: both
//! subscribe to the same Debian mosquitto broker at once (ours through our codec on
//! a plain socket), receive the same messages, and their output must match byte for
//! byte, after two normalisations stated per case:
//! - JSON `tst` values (and clock fields) differ by when each subscriber printed;
//! - where 2.0.11 and 2.1 differ, the case lists the exact 2.0.11 text and the 2.1
//!   text that replaces it (we follow 2.1): `"retain":0` → `false`, the `tst` "Z",
//!   user properties as an object → an array, `%x` widths and grouping.
//!
//! Every JSON output is also parsed with serde_json.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use bytes::BytesMut;
use mqtk::codec::{
    self, Connect, Packet, Properties, PropertyId, PropertyValue, ProtocolVersion, PubAck, PubComp,
    PubRec, Publish, QoS, ReasonCode, Subscribe, SubscribeFilter, SubscriptionOptions,
};
use mqtk::output::{Formatter, Message, OutputOptions};

use crate::util::{self, Mosquitto};

/// A minimal subscriber built on our codec: CONNECT, SUBSCRIBE, then PUBLISHes
/// (acknowledged, so QoS 1 and 2 flow as for mosquitto_sub).
struct RawSub {
    s: TcpStream,
    buf: BytesMut,
    version: ProtocolVersion,
}

impl RawSub {
    fn connect(port: u16, version: ProtocolVersion, id: &str) -> RawSub {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut r = RawSub {
            s,
            buf: BytesMut::new(),
            version,
        };
        r.send(&Packet::Connect(Connect {
            version,
            clean_start: true,
            keep_alive: 60,
            properties: Properties::new(),
            client_id: id.into(),
            will: None,
            username: None,
            password: None,
        }));
        match r.next(Duration::from_secs(5)) {
            Packet::ConnAck(c) => assert_eq!(c.code, 0, "CONNACK {c:?}"),
            p => panic!("expected CONNACK, got {p:?}"),
        }
        r
    }

    fn subscribe(&mut self, filter: &str, qos: QoS, sub_id: Option<u32>) {
        let mut properties = Properties::new();
        if let Some(id) = sub_id {
            properties.push(
                PropertyId::SubscriptionIdentifier,
                PropertyValue::VarInt(id),
            );
        }
        self.send(&Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties,
            filters: vec![SubscribeFilter {
                filter: filter.into(),
                options: SubscriptionOptions {
                    qos,
                    ..SubscriptionOptions::default()
                },
            }],
        }));
    }

    fn send(&mut self, p: &Packet) {
        let mut out = BytesMut::new();
        codec::encode(p, self.version, &mut out).expect("encode");
        self.s.write_all(&out).expect("write");
    }

    /// The next packet, within `within`.
    fn next(&mut self, within: Duration) -> Packet {
        let deadline = Instant::now() + within;
        loop {
            if let Some(p) = codec::decode(&mut self.buf, self.version, 1 << 20).expect("decode") {
                return p;
            }
            assert!(Instant::now() < deadline, "no packet within {within:?}");
            let mut b = [0u8; 4096];
            match self.s.read(&mut b) {
                Ok(0) => panic!("broker closed the connection"),
                Ok(n) => self.buf.extend_from_slice(&b[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// The next PUBLISH (stamped with its arrival time), answering acks on the way.
    fn publish(&mut self, within: Duration) -> (Publish, SystemTime) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Packet::Publish(p) => {
                    let at = SystemTime::now();
                    match p.qos {
                        QoS::AtMostOnce => {}
                        QoS::AtLeastOnce => self.send(&Packet::PubAck(PubAck {
                            packet_id: p.packet_id,
                            reason: ReasonCode::SUCCESS,
                            properties: Properties::new(),
                        })),
                        QoS::ExactlyOnce => self.send(&Packet::PubRec(PubRec {
                            packet_id: p.packet_id,
                            reason: ReasonCode::SUCCESS,
                            properties: Properties::new(),
                        })),
                    }
                    return (p, at);
                }
                Packet::PubRel(r) => self.send(&Packet::PubComp(PubComp {
                    packet_id: r.packet_id,
                    reason: ReasonCode::SUCCESS,
                    properties: Properties::new(),
                })),
                Packet::SubAck(_) => {}
                p => panic!("unexpected packet {p:?}"),
            }
        }
    }
}

/// One comparison: mosquitto_sub's output flags, and the messages to publish.
struct Case<'a> {
    name: &'a str,
    v5: bool,
    /// Subscription QoS, for both subscribers.
    qos: u8,
    /// v5 subscription identifier, for both subscribers.
    sub_id: Option<u32>,
    /// mosquitto_sub output flags (`-v`, `-N`, `--pretty`, `-F fmt`).
    flags: &'a [&'a str],
    /// One mosquitto_pub argument list per message (topic and broker added).
    pubs: &'a [&'a [&'a str]],
    /// 2.0.11 → 2.1 replacements on mosquitto_sub's output, each `(2.0.11, 2.1)`.
    to_2_1: &'a [(&'a [u8], &'a [u8])],
    /// Whether the output is JSON objects (normalise `tst`, check with serde_json).
    json: bool,
    /// The retained first message, whose output shows mosquitto_sub has subscribed.
    sentinel: &'a str,
    /// Time fields: compare with every ASCII digit replaced by `0`.
    clock: bool,
}

fn options(flags: &[&str]) -> OutputOptions {
    let mut o = OutputOptions::default();
    let mut it = flags.iter();
    while let Some(f) = it.next() {
        match *f {
            "-v" => o.verbose = true,
            "-N" => o.eol = false,
            "--pretty" => o.pretty = true,
            "-F" => o.format = Some(it.next().expect("-F value").as_bytes().to_vec()),
            other => panic!("unknown flag {other}"),
        }
    }
    o
}

/// Replaces every `"tst":"…"` value (pretty or not) with `TST`, after checking its
/// form: 2.1's `2026-11-23T05:30:42.588806+0000` for ours, or 2.0.11's, which has a
/// `Z` before the zone (`…42.588806Z+0000`).
fn normalise_tst(s: &[u8], ours: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let key = if rest.starts_with(b"\"tst\":\"") {
            7
        } else if rest.starts_with(b"\"tst\":\t\"") {
            8
        } else {
            out.push(s[i]);
            i += 1;
            continue;
        };
        out.extend_from_slice(&rest[..key]);
        let end = rest[key..]
            .iter()
            .position(|&b| b == b'"')
            .expect("closing quote");
        let value = &rest[key..key + end];
        // 2.1: 2026-11-23T05:30:42.588806+0000; 2.0.11 adds a Z before the zone.
        let form_2_1 = value.len() == 31 && value[20..26].iter().all(u8::is_ascii_digit);
        let form_2_0 = value.len() == 32 && value[26] == b'Z';
        assert!(
            if ours { form_2_1 } else { form_2_0 },
            "tst {:?}",
            String::from_utf8_lossy(value)
        );
        out.extend_from_slice(b"TST");
        i += key + end;
    }
    out
}

fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// Splits concatenated JSON objects (one per message) and parses each.
fn parse_each_json(s: &[u8], messages: usize) {
    let mut de = serde_json::Deserializer::from_slice(s).into_iter::<serde_json::Value>();
    let mut n = 0;
    for v in &mut de {
        v.unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(s)));
        n += 1;
    }
    assert_eq!(n, messages, "{}", String::from_utf8_lossy(s));
}

/// Reads a child's stdout on a thread; the receiver sees each chunk.
fn pump(child: &mut Child) -> mpsc::Receiver<Vec<u8>> {
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut b = [0u8; 8192];
        loop {
            match stdout.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send(b[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

fn run_case(m: &Mosquitto, case: &Case<'_>) {
    let port = m.port.to_string();
    let base = format!("diff/{}", case.name);
    let filter = format!("{base}/#");
    let version = if case.v5 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V311
    };
    let sandbox = &m.sandbox;
    let publish = |topic: &str, args: &[&str]| {
        let out = util::run_with_timeout(
            sandbox
                .command("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &port, "-t", topic])
                .args(args),
            Duration::from_secs(10),
        );
        util::assert_code(&out, 0);
    };

    // A retained sentinel reaches each subscriber as soon as it has subscribed.
    publish(&format!("{base}/0"), &["-r", "-m", case.sentinel]);

    let mut ours = RawSub::connect(m.port, version, &format!("ours-{}", case.name));
    let qos = match case.qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    };
    ours.subscribe(&filter, qos, case.sub_id);
    let mut received = vec![ours.publish(Duration::from_secs(5))];

    let count = (case.pubs.len() + 1).to_string();
    let qos_arg = case.qos.to_string();
    let mut cmd = sandbox.command("mosquitto_sub");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        &filter,
        "-q",
        &qos_arg,
    ])
    .args([
        "-C",
        &count,
        "-W",
        "10",
        "-i",
        &format!("theirs-{}", case.name),
    ]);
    if case.v5 {
        cmd.args(["-V", "5"]);
    }
    if let Some(id) = case.sub_id {
        cmd.args([
            "-D",
            "subscribe",
            "subscription-identifier",
            &id.to_string(),
        ]);
    }
    cmd.args(case.flags);
    // Same zone as ours (the sandbox clears the environment).
    if let Some(tz) = std::env::var_os("TZ") {
        cmd.env("TZ", tz);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mosquitto_sub");
    let rx = pump(&mut child);
    // Subscribed once the sentinel's output appears.
    let mut theirs = rx
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_else(|_| panic!("{}: mosquitto_sub printed nothing", case.name));

    // mosquitto_sub prints a QoS 2 message only when the broker's PUBREL comes, so a
    // message published right after it could be printed first. libmosquitto prints it
    // before reading its next packet, and has sent PUBCOMP by then: once mosquitto logs
    // that PUBCOMP, the next message is printed after this one.
    let mut qos2 = 0;
    for (i, args) in case.pubs.iter().enumerate() {
        publish(&format!("{base}/{}", i + 1), args);
        if case.qos == 2 && args.windows(2).any(|w| w == ["-q", "2"]) {
            qos2 += 1;
            m.wait_log(
                &format!("Received PUBCOMP from theirs-{} ", case.name),
                qos2,
            );
        }
    }
    for _ in case.pubs {
        received.push(ours.publish(Duration::from_secs(5)));
    }
    let status = util::wait_with_timeout(child, Duration::from_secs(15), "mosquitto_sub");
    while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(2)) {
        theirs.extend_from_slice(&chunk);
    }
    assert!(
        status.status.success(),
        "{}: mosquitto_sub failed\n{}",
        case.name,
        util::describe(&status)
    );

    // Ours: the same messages through our formatter.
    let mut f = Formatter::new(&options(case.flags)).expect("valid format");
    let mut mine = Vec::new();
    let mut diag = Vec::new();
    for (p, at) in &received {
        f.write(
            &Message::from_publish(p, &p.topic, *at),
            &mut mine,
            &mut diag,
        )
        .unwrap();
    }

    let mut theirs_2_1 = theirs.clone();
    for (old, new) in case.to_2_1 {
        assert!(
            theirs_2_1.windows(old.len()).any(|w| w == *old),
            "{}: 2.0.11 output lacks the stated difference {:?}:\n{:?}",
            case.name,
            String::from_utf8_lossy(old),
            String::from_utf8_lossy(&theirs)
        );
        theirs_2_1 = replace_all(&theirs_2_1, old, new);
    }
    if case.json {
        parse_each_json(&mine, received.len());
        mine = normalise_tst(&mine, true);
        theirs_2_1 = normalise_tst(&theirs_2_1, false);
    }
    if case.clock {
        for b in mine.iter_mut().chain(theirs_2_1.iter_mut()) {
            if b.is_ascii_digit() {
                *b = b'0';
            }
        }
    }
    if std::env::var_os("MQTK_SHOW_OUTPUT").is_some() {
        eprintln!("{}: {:?}", case.name, String::from_utf8_lossy(&mine));
    }
    assert!(
        mine == theirs_2_1,
        "{}: output differs\n--- mosquitto_sub 2.0.11 (as 2.1) ---\n{:?}\n--- ours ---\n{:?}",
        case.name,
        String::from_utf8_lossy(&theirs_2_1),
        String::from_utf8_lossy(&mine)
    );
}

/// Payload files for `mosquitto_pub -f` (the only way to send a NUL).
fn payload_file(m: &Mosquitto, name: &str, bytes: &[u8]) -> String {
    let path = m.sandbox.file(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// One broker for every case (fewer free-port races with other tests' brokers);
/// the cases run one after another, each on its own topics.
#[test]
fn output_matches_mosquitto_sub() {
    if !util::have_mosquitto_tool("mosquitto_sub") || !util::have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    plain_and_verbose(&m);
    templates(&m);
    hex_widths_follow_2_1(&m);
    v5_properties(&m);
    json(&m);
    json_v5(&m);
    json_embedded(&m);
}

fn plain_and_verbose(m: &Mosquitto) {
    let nul = payload_file(m, "nul.bin", b"a\0b\xff\n");
    let pubs: &[&[&str]] = &[
        &["-m", "hello"],
        &["-n"],
        &["-f", &nul],
        &["-m", "two\nlines"],
        &["-q", "1", "-m", "q1"],
    ];
    for (name, flags) in [
        ("plain", &[][..]),
        ("plain-N", &["-N"][..]),
        ("verbose", &["-v"][..]),
        ("verbose-N", &["-v", "-N"][..]),
    ] {
        run_case(
            m,
            &Case {
                name,
                v5: false,
                qos: 1,
                sub_id: None,
                flags,
                pubs,
                to_2_1: &[],
                json: false,
                sentinel: "ready",
                clock: false,
            },
        );
    }
}

fn templates(m: &Mosquitto) {
    let bin = payload_file(m, "bin.bin", b"\x00\x01\xfe\xff");
    let pubs: &[&[&str]] = &[
        &["-m", "hello"],
        &["-n"],
        &["-f", &bin],
        &["-q", "1", "-m", "q1"],
        &["-q", "2", "-r", "-m", "retained at qos 2"],
    ];
    // Everything except time fields and the %x forms 2.1 changed.
    let fmt = "%t|%p|%l|%m|%q|%r|%%|%10t|%-10t|%.1t|%5.1t|%-5.1t|%05t|%10p|%-10p|%.2p|%3p|%-p|%07p|%-05p|%5m|%-5m|%05m|%5l|%-05l|%x|%X|%5q%5r%5%@@\\t\\\\\\e\\a\\v\\r\\0.";
    run_case(
        m,
        &Case {
            name: "template",
            v5: false,
            qos: 2,
            sub_id: None,
            flags: &["-F", fmt],
            pubs,
            to_2_1: &[],
            json: false,
            sentinel: "ready",
            clock: false,
        },
    );
    // Time fields, compared by shape (digits blanked): the same clock, zone and
    // strftime conversions, whatever the instant each subscriber read.
    run_case(
        m,
        &Case {
            name: "clock",
            v5: false,
            qos: 0,
            sub_id: None,
            flags: &[
                "-F",
                "%I|%30I|%-30I|%.10I|%U|@Y-@m-@dT@H:@M:@S.@N|@s|@z|@Z|@a @b|@%|@@|@Q",
            ],
            pubs: &[&["-m", "x"]],
            to_2_1: &[],
            json: false,
            sentinel: "ready",
            clock: true,
        },
    );
    run_case(
        m,
        &Case {
            name: "template-N",
            v5: false,
            qos: 0,
            sub_id: None,
            flags: &["-N", "-F", "%t=%p;"],
            pubs,
            to_2_1: &[],
            json: false,
            sentinel: "ready",
            clock: false,
        },
    );
}

fn hex_widths_follow_2_1(m: &Mosquitto) {
    // 2.0.11 halves the byte count under a field width and ignores a precision;
    // 2.1 caps the bytes at the width and groups nibbles by the precision. The
    // sentinel ("ready") and "hello" lines, 2.0.11 → 2.1:
    run_case(
        m,
        &Case {
            name: "hex",
            v5: false,
            qos: 0,
            sub_id: None,
            flags: &["-F", "%10x|%-4x|%014X|%.2x"],
            pubs: &[&["-m", "hello"]],
            to_2_1: &[
                (
                    b"      7265|7265|00000000007265|7265616479",
                    b"7265616479|72656164    |00007265616479|72 65 61 64 79",
                ),
                (
                    b"      6865|6865|00000000006865|68656c6c6f",
                    b"68656c6c6f|68656c6c    |000068656C6C6F|68 65 6c 6c 6f",
                ),
            ],
            json: false,
            sentinel: "ready",
            clock: false,
        },
    );
}

fn v5_properties(m: &Mosquitto) {
    let pubs: &[&[&str]] = &[
        &[
            "-V",
            "5",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "correlation-data",
            "corr",
            "-D",
            "publish",
            "response-topic",
            "re/ply",
            "-D",
            "publish",
            "message-expiry-interval",
            "3600",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
            "-D",
            "publish",
            "user-property",
            "k1",
            "v1",
            "-D",
            "publish",
            "user-property",
            "k2",
            "v2",
            "-m",
            "with props",
        ],
        &["-V", "5", "-m", "no props"],
        &["-m", "from a 3.1.1 publisher"],
    ];
    run_case(
        m,
        &Case {
            name: "props",
            v5: true,
            qos: 1,
            sub_id: Some(7),
            flags: &[
                "-F",
                "%A|%5A|%05A|%C|%12C|%-12C|%.4C|%D|%E|%8E|%-8E|%08E|%F|%3F|%P|%R|%8R|%S|%4S|%04S|%-4S|%p",
            ],
            pubs,
            to_2_1: &[],
            json: false,
            sentinel: "ready",
            clock: false,
        },
    );
}

fn json(m: &Mosquitto) {
    let nul = payload_file(m, "nul.bin", b"a\0b");
    let latin1 = payload_file(m, "latin1.bin", b"caf\xe9");
    let ctl = payload_file(m, "ctl.bin", b"q\"b\\s\x01\x1f\x7f\t\r\n\x08\x0c/\xc3\xa9");
    let pubs: &[&[&str]] = &[
        &["-m", "hello"],
        &["-n"],
        &["-f", &ctl],
        &["-q", "1", "-m", "q1"],
        &["-q", "2", "-r", "-m", "q2 retained"],
        &["-f", &nul],
        &["-f", &latin1],
    ];
    // 2.0.11 → 2.1: "retain" is a number there, a boolean here. Beyond both, a
    // payload with a NUL (2.0.11 cuts it: "a") or invalid UTF-8 (2.0.11 prints the
    // raw byte: invalid JSON) goes out as base64.
    let to_2_1: &[(&[u8], &[u8])] = &[
        (b"\"retain\":0", b"\"retain\":false"),
        (b"\"retain\":1", b"\"retain\":true"),
        (
            b"\"payloadlen\":3,\"payload\":\"a\"}",
            b"\"payloadlen\":3,\"payload_base64\":\"YQBi\"}",
        ),
        (
            b"\"payloadlen\":4,\"payload\":\"caf\xe9\"}",
            b"\"payloadlen\":4,\"payload_base64\":\"Y2Fm6Q==\"}",
        ),
    ];
    run_case(
        m,
        &Case {
            name: "json",
            v5: false,
            qos: 2,
            sub_id: None,
            flags: &["-F", "%j"],
            pubs,
            to_2_1,
            json: true,
            sentinel: "ready",
            clock: false,
        },
    );
}

fn json_v5(m: &Mosquitto) {
    let pubs: &[&[&str]] = &[
        &[
            "-V",
            "5",
            "-D",
            "publish",
            "content-type",
            "application/json",
            "-D",
            "publish",
            "correlation-data",
            "c-1",
            "-D",
            "publish",
            "response-topic",
            "re/ply",
            "-D",
            "publish",
            "message-expiry-interval",
            "3600",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
            "-D",
            "publish",
            "user-property",
            "k1",
            "v1",
            "-D",
            "publish",
            "user-property",
            "k\"2",
            "v\\2",
            "-q",
            "1",
            "-m",
            "with props",
        ],
        &["-V", "5", "-m", "no props"],
    ];
    // 2.0.11 → 2.1: "retain" numbers become booleans; user properties, one object
    // in 2.0.11 (duplicate keys collapse in most readers), become an array of
    // one-entry objects in 2.1.
    run_case(
        m,
        &Case {
            name: "json-v5",
            v5: true,
            qos: 1,
            sub_id: Some(7),
            flags: &["-F", "%j"],
            pubs,
            to_2_1: &[
                (b"\"retain\":0", b"\"retain\":false"),
                (b"\"retain\":1", b"\"retain\":true"),
                (
                    b"\"user-properties\":{\"k1\":\"v1\",\"k\\\"2\":\"v\\\\2\"}",
                    b"\"user-properties\":[{\"k1\":\"v1\"},{\"k\\\"2\":\"v\\\\2\"}]",
                ),
            ],
            json: true,
            sentinel: "ready",
            clock: false,
        },
    );
    // The same with --pretty: cJSON_Print's layout.
    run_case(
        m,
        &Case {
            name: "json-v5-pretty",
            v5: true,
            qos: 1,
            sub_id: Some(7),
            flags: &["--pretty", "-F", "%j"],
            pubs,
            to_2_1: &[
                (b"\"retain\":\t0", b"\"retain\":\tfalse"),
                (b"\"retain\":\t1", b"\"retain\":\ttrue"),
                (
                    b"\t\t\"user-properties\":\t{\n\t\t\t\"k1\":\t\"v1\",\n\t\t\t\"k\\\"2\":\t\"v\\\\2\"\n\t\t}",
                    b"\t\t\"user-properties\":\t[{\n\t\t\t\t\"k1\":\t\"v1\"\n\t\t\t}, {\n\t\t\t\t\"k\\\"2\":\t\"v\\\\2\"\n\t\t\t}]",
                ),
            ],
            json: true,
            sentinel: "ready",
            clock: false,
        },
    );
}

/// A JSON array of 400 numbers of every magnitude and form (random bit patterns,
/// integers, short decimals), to hold our number printing to cJSON's.
fn numbers_payload() -> String {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut items = Vec::new();
    while items.len() < 400 {
        let r = next();
        let item = match items.len() % 4 {
            0 => {
                let d = f64::from_bits(r);
                if !d.is_finite() {
                    continue;
                }
                format!("{d:e}")
            }
            1 => format!("{}", (r as i64) >> (r % 64)),
            2 => format!(
                "{}.{}e{}",
                (r % 1000) as i64 - 500,
                r % 97,
                (r % 40) as i64 - 20
            ),
            _ => format!("{}", f64::from_bits(r >> 2) / 1e300),
        };
        items.push(item);
    }
    format!("[{}]", items.join(","))
}

fn json_embedded(m: &Mosquitto) {
    let numbers = numbers_payload();
    // cJSON re-prints what it parsed: numbers as doubles (%d, %1.15g or %1.17g),
    // strings re-escaped, whitespace dropped.
    let pubs: &[&[&str]] = &[
        &[
            "-m",
            r#" {"temperature": 27.0, "humidity":57, "s":"\u00e9\/\"\n", "n":[1e3,-0.5,null,true,false,0.1,1e400,12345678901234567890,0.30000000000000004,1.7976931348623157e308,5e-324,-0,2147483648,-2147483649,0.333333333333333314829616256247]} "#,
        ],
        &["-m", "\"str\""],
        &["-m", "[]"],
        &["-m", "{}"],
        &["-m", "  42\n"],
        &[
            "-m",
            r#"{"a":[{"b":{}}],"c":[],"d":[1,[2,{"e":null}]],"a":1}"#,
        ],
        &["-n"],
        &["-m", &numbers],
    ];
    // 2.0.11 → 2.1: "retain" numbers become booleans. Beyond cJSON, a number whose
    // 15-digit form reads back as infinity gets 17 digits.
    let to_2_1: &[(&[u8], &[u8])] = &[
        (b"\"retain\":0", b"\"retain\":false"),
        (b"\"retain\":1", b"\"retain\":true"),
        (b"1.79769313486232e+308", b"1.7976931348623157e+308"),
    ];
    let pretty: &[(&[u8], &[u8])] = &[
        (b"\"retain\":\t0", b"\"retain\":\tfalse"),
        (b"\"retain\":\t1", b"\"retain\":\ttrue"),
        (b"1.79769313486232e+308", b"1.7976931348623157e+308"),
    ];
    // Every payload here is JSON (the sentinel too): for one that is not, mosquitto
    // prints only the newline (and an error) where we print it as %j would.
    run_case(
        m,
        &Case {
            name: "json-raw",
            v5: false,
            qos: 0,
            sub_id: None,
            flags: &["-F", "%J"],
            pubs,
            to_2_1,
            json: true,
            sentinel: "[\"ready\"]",
            clock: false,
        },
    );
    run_case(
        m,
        &Case {
            name: "json-raw-pretty",
            v5: false,
            qos: 0,
            sub_id: None,
            flags: &["--pretty", "-F", "%J"],
            pubs,
            to_2_1: pretty,
            json: true,
            sentinel: "[\"ready\"]",
            clock: false,
        },
    );
}
