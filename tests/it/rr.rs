//! `mqtk rr` end to end against the in-process broker, with a responder written here
//! over raw TCP and our codec: it answers each request first with a reply carrying
//! the wrong correlation data (which rr must ignore), then with `answers` correct ones.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtk::codec::{
    self, Connect, Packet, Properties, PropertyId, PropertyValue, ProtocolVersion, Publish, QoS,
    Subscribe, SubscribeFilter, SubscriptionOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{Sandbox, TestBroker, assert_code, run_with_timeout};

const T: Duration = Duration::from_secs(10);
const V5: ProtocolVersion = ProtocolVersion::V5;

async fn send(s: &mut TcpStream, p: Packet) {
    let mut b = BytesMut::new();
    codec::encode(&p, V5, &mut b).unwrap();
    s.write_all(&b).await.unwrap();
}

async fn recv(s: &mut TcpStream, buf: &mut BytesMut) -> Option<Packet> {
    loop {
        if let Some(p) = codec::decode(buf, V5, usize::MAX).unwrap() {
            return Some(p);
        }
        if s.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

/// Connects a responder on `port`, subscribed to `req`; returns once subscribed.
/// It then answers in a background thread until the broker goes away.
fn start_responder(port: u16, answers: usize) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let mut buf = BytesMut::new();
            send(
                &mut s,
                Packet::Connect(Connect {
                    version: V5,
                    clean_start: true,
                    keep_alive: 0,
                    properties: Properties::new(),
                    client_id: "responder".into(),
                    will: None,
                    username: None,
                    password: None,
                }),
            )
            .await;
            assert!(matches!(
                recv(&mut s, &mut buf).await,
                Some(Packet::ConnAck(_))
            ));
            send(
                &mut s,
                Packet::Subscribe(Subscribe {
                    packet_id: 1,
                    properties: Properties::new(),
                    filters: vec![SubscribeFilter {
                        filter: "req".into(),
                        options: SubscriptionOptions::default(),
                    }],
                }),
            )
            .await;
            assert!(matches!(
                recv(&mut s, &mut buf).await,
                Some(Packet::SubAck(_))
            ));
            ready_tx.send(()).unwrap();
            while let Some(p) = recv(&mut s, &mut buf).await {
                let Packet::Publish(req) = p else { continue };
                let Some(topic) = req.properties.get_str(PropertyId::ResponseTopic) else {
                    continue;
                };
                let topic = topic.to_string();
                let corr = req
                    .properties
                    .get_binary(PropertyId::CorrelationData)
                    .cloned()
                    .unwrap_or_default();
                let reply = |payload: String, corr: Bytes| {
                    let mut props = Properties::new();
                    props.set(PropertyId::CorrelationData, PropertyValue::Binary(corr));
                    Packet::Publish(Publish {
                        dup: false,
                        qos: QoS::AtMostOnce,
                        retain: false,
                        topic: topic.clone(),
                        packet_id: 0,
                        properties: props,
                        payload: Bytes::from(payload),
                    })
                };
                send(
                    &mut s,
                    reply("wrong".into(), Bytes::from_static(b"not yours")),
                )
                .await;
                for i in 0..answers {
                    let body = format!("re:{}#{i}", String::from_utf8_lossy(&req.payload));
                    send(&mut s, reply(body, corr.clone())).await;
                }
            }
        });
    });
    ready_rx.recv_timeout(T).expect("responder subscribed");
}

fn rr(sb: &Sandbox, port: u16, args: &[&str]) -> std::process::Output {
    run_with_timeout(
        sb.mqtk()
            .args(["rr", "-p", &port.to_string(), "-t", "req", "-e", "resp"])
            .args(args),
        T,
    )
}

#[test]
fn only_the_correlated_reply_is_printed() {
    let b = TestBroker::start();
    start_responder(b.port(), 1);
    let sb = Sandbox::new();
    let out = rr(&sb, b.port(), &["-m", "ping", "-v"]);
    assert_code(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "resp re:ping#0\n");
}

#[test]
fn count_waits_for_n_replies_and_latency_is_printed() {
    let b = TestBroker::start();
    start_responder(b.port(), 3);
    let sb = Sandbox::new();
    let out = rr(
        &sb,
        b.port(),
        &["-m", "x", "--count", "3", "--latency", "-q", "1"],
    );
    assert_code(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    for (i, pair) in lines.chunks(2).enumerate() {
        assert_eq!(pair[0], format!("re:x#{i}"));
        assert!(pair[1].starts_with("Latency: "), "{text}");
        assert!(
            ["ns", "µs", "ms"].iter().any(|u| pair[1].ends_with(u)),
            "{text}"
        );
    }
}

#[test]
fn no_reply_times_out_with_27() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let out = rr(&sb, b.port(), &["-n", "-W", "1"]);
    assert_code(&out, 27);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "Timed out\n");
}

#[test]
fn usage_errors() {
    let sb = Sandbox::new();
    let out = run_with_timeout(sb.mqtk().args(["rr", "-t", "a", "-m", "x"]), T);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: All of topic, message, and response topic must be supplied.\n\nUse 'mqtk rr --help' to see usage.\n"
    );
    let out = run_with_timeout(
        sb.mqtk()
            .args(["rr", "-t", "a", "-e", "b", "-m", "x", "-V", "311"]),
        T,
    );
    assert_code(&out, 1);
    let out = run_with_timeout(sb.mqtk().args(["rr", "-t", "a", "-e", "b/#", "-m", "x"]), T);
    assert_code(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("Error: Invalid response topic 'b/#', does it contain '+' or '#'?\n")
    );
}

#[test]
fn file_source_and_output_flags() {
    let b = TestBroker::start();
    start_responder(b.port(), 1);
    let sb = Sandbox::new();
    let body = sb.file("request.txt");
    std::fs::write(&body, "from a file").unwrap();
    let out = rr(
        &sb,
        b.port(),
        &["-f", body.to_str().unwrap(), "-N", "-F", "%t:%p"],
    );
    assert_code(&out, 0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "resp:re:from a file#0"
    );
    let out = rr(&sb, b.port(), &["-f", "/nonexistent/request"]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: Unable to read file \"/nonexistent/request\": No such file or directory.\nError loading input file \"/nonexistent/request\".\n"
    );
}

#[test]
fn a_refused_connection_reads_as_mosquitto_rr_2_1() {
    let mut config = TestBroker::config();
    config.allow_anonymous = false;
    let b = TestBroker::start_with(config);
    let sb = Sandbox::new();
    let out = rr(&sb, b.port(), &["-m", "x"]);
    // 0x87 Not authorized, as the exit status too.
    assert_code(&out, 135);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Connection error: Not authorized\n"
    );
}
