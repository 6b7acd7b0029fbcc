//! Hostile and faulty clients: ones that never send CONNECT or drip a huge declared
//! packet, malformed packets (with the v5 reason the broker gives), queues bounded by
//! bytes, and the memory and threads of a real `mqtk broker` process under connection
//! churn and many idle connections (read from /proc).

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::broker::{
    CONNACK_OK, Raw, cat, connect_v5, connect_v311, pkt, publish_v5, publish_v311, s, subscribe_v5,
    subscribe_v311,
};
use crate::broker_edges::BrokerProcess;
use crate::util::{Sandbox, TestBroker, free_port, poll_until};

/// A client that declares a 256 MiB CONNECT and then sends a byte every 50 ms is held
/// no longer than one that sends nothing: `connect_timeout`.
#[test]
fn silent_and_dripping_clients_are_dropped_at_connect_timeout() {
    let mut c = TestBroker::config();
    c.connect_timeout = Duration::from_millis(500);
    let b = TestBroker::start_with(c);
    let silent = Raw::open(b.port());
    let mut drip = Raw::open(b.port());
    let t = Instant::now();
    drip.send(&[0x10, 0xff, 0xff, 0xff, 0x7f]);
    let mut w = drip.s.try_clone().unwrap();
    let dripper = std::thread::spawn(move || {
        for _ in 0..60 {
            if w.write_all(&[0x00]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    for (name, mut r) in [("dripping", drip), ("silent", silent)] {
        assert!(r.until_closed(Duration::from_secs(3)).is_empty(), "{name}");
        let held = t.elapsed();
        assert!(
            held >= Duration::from_millis(400) && held < Duration::from_millis(2500),
            "{name} client held {held:?}"
        );
    }
    dripper.join().unwrap();
}

/// Malformed or forbidden packets end the connection; v5 clients first get DISCONNECT
/// with the reason (5.0 §4.13): 0x81 Malformed Packet, 0x82 Protocol Error, 0x90 Topic
/// Name invalid. 3.x has no server DISCONNECT: the connection just closes.
#[test]
fn malformed_input_gets_a_reason_for_v5_and_silence_for_3x() {
    let b = TestBroker::start();
    // (what, v5 packet, reason, 3.1.1 packet)
    let utf8 = |topic: &[u8], props: &[u8]| {
        pkt(
            0x30,
            &cat(&[&[0x00, topic.len() as u8], topic, props, b"x"]),
        )
    };
    let cases: Vec<(&str, Vec<u8>, u8, Vec<u8>)> = vec![
        (
            "wildcard in a topic name",
            publish_v5(0, "a/+", None, &[], b"x"),
            0x90,
            publish_v311(0, "a/#", None, b"x"),
        ),
        (
            "invalid UTF-8 in a topic",
            utf8(&[0xff, 0xfe], &[0x00]),
            0x81,
            utf8(&[0xff, 0xfe], &[]),
        ),
        (
            "U+0000 in a topic",
            utf8(b"a\0b", &[0x00]),
            0x81,
            utf8(b"a\0b", &[]),
        ),
        (
            "packet id 0",
            publish_v5(0x02, "t", Some(0), &[], b"x"),
            0x82,
            publish_v311(0x02, "t", Some(0), b"x"),
        ),
        (
            "reserved packet type 0",
            vec![0x00, 0x00],
            0x81,
            vec![0x00, 0x00],
        ),
        (
            "a second CONNECT",
            connect_v5(0x02, 60, "again"),
            0x82,
            connect_v311(0x02, 60, "again"),
        ),
        (
            "QoS 3",
            pkt(0x36, &cat(&[&s("t"), &[0x00, 0x01, 0x00]])),
            0x81,
            pkt(0x36, &cat(&[&s("t"), &[0x00, 0x01]])),
        ),
    ];
    for (what, v5, reason, v3) in cases {
        let mut c = Raw::v5(b.port(), "bad5");
        c.send(&v5);
        assert_eq!(
            c.until_closed(Duration::from_secs(3)),
            [0xe0, 0x01, reason],
            "v5: {what}"
        );
        let mut c = Raw::v311(b.port(), "bad3");
        c.send(&v3);
        assert!(
            c.until_closed(Duration::from_secs(3)).is_empty(),
            "3.1.1: {what}"
        );
    }
    // The broker is still serving.
    let mut c = Raw::v311(b.port(), "fine");
    c.send(&[0xc0, 0x00]);
    c.expect(&[0xd0, 0x00]);
}

/// `max_queued_bytes`: a client away with a persistent session keeps at most that many
/// bytes of payload; the rest is dropped and counted ($SYS/broker/publish/messages/dropped).
#[test]
fn max_queued_bytes_bounds_a_session_queue() {
    let mut c = TestBroker::config();
    c.max_queued_messages = 0;
    c.max_queued_bytes = 1000;
    let b = TestBroker::start_with(c);
    let mut away = Raw::open(b.port());
    away.send(&connect_v311(0x00, 60, "away"));
    away.expect(&CONNACK_OK);
    away.send(&subscribe_v311(1, "q", 1));
    away.expect(&[0x90, 0x03, 0x00, 0x01, 0x01]);
    away.send(&[0xe0, 0x00]);
    drop(away);
    b.wait_stats("the subscriber gone", |s| {
        s.sessions_detached
            .load(std::sync::atomic::Ordering::Acquire)
            == 1
    });
    let mut p = Raw::v311(b.port(), "pub");
    for i in 1..=30u16 {
        p.send(&publish_v311(0x02, "q", Some(i), &[b'x'; 100]));
        p.expect(&[0x40, 0x02, (i >> 8) as u8, i as u8]);
    }
    let dropped = b.stats().dropped.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(dropped, 20);
    let mut back = Raw::open(b.port());
    back.send(&connect_v311(0x00, 60, "away"));
    back.expect(&[0x20, 0x02, 0x01, 0x00]);
    for i in 1..=10u16 {
        let got = back.recv();
        assert_eq!(got[0], 0x32, "message {i}: {got:02x?}");
        back.send(&[0x40, 0x02, got[4 + 1], got[5 + 1]]);
    }
    back.expect_silence(Duration::from_millis(100));
}

/// A slow consumer (here one away with a persistent session) over
/// `max_queued_messages` loses the newest messages; the log says so once per client,
/// as mosquitto does, and the count goes to `$SYS/broker/publish/messages/dropped`
/// (`Stats::dropped`, published by `broker::sys`, whose unit test covers the topic).
#[test]
fn a_slow_consumer_s_drops_are_logged() {
    let port = free_port();
    let conf = format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 3\nlog_dest stdout\n"
    );
    let mut broker = BrokerProcess::start(Sandbox::new(), &conf, port);
    let mut away = Raw::open(port);
    away.send(&connect_v311(0x00, 60, "away"));
    away.expect(&CONNACK_OK);
    away.send(&subscribe_v311(1, "q", 1));
    away.expect(&[0x90, 0x03, 0x00, 0x01, 0x01]);
    away.send(&[0xe0, 0x00]);
    drop(away);
    broker.wait_log("Client away disconnected.");
    let mut p = Raw::v311(port, "pub");
    for i in 1..=5u16 {
        p.send(&publish_v311(0x02, "q", Some(i), b"m"));
        p.expect(&[0x40, 0x02, 0x00, i as u8]);
    }
    let mut back = Raw::open(port);
    back.send(&connect_v311(0x00, 60, "away"));
    back.expect(&[0x20, 0x02, 0x01, 0x00]);
    for i in 1..=3u8 {
        let got = back.recv();
        assert_eq!(got[0], 0x32, "message {i}: {got:02x?}");
        back.send(&[0x40, 0x02, got[5], got[6]]);
    }
    back.expect_silence(Duration::from_millis(100));
    let out = broker.stop();
    let log = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        log.matches("Outgoing messages are being dropped for client away.")
            .count(),
        1,
        "{log}"
    );
}

/// A filter and a topic of 32,768 levels (`a/a/…/a` and `+/+/…/#`, 65,535 bytes each,
/// the longest MQTT string) are refused as mosquitto refuses anything over its
/// `TOPIC_HIERARCHY_LIMIT` (200 '/'), as any invalid filter or topic name: 3.1.1
/// connections are closed, v5 ones get SUBACK 0x8F or DISCONNECT 0x90; nothing is
/// subscribed, and the broker goes on serving everyone else. An UNSUBSCRIBE of such a
/// filter is refused the same way (3.1.1 closed, as mosquitto; v5 UNSUBACK 0x8F).
/// Without the limit, each level cost a trie node (one such filter: several MB), and
/// once the tree recursed per level: a debug build's 2 MiB broker thread overflowed at
/// about 8,192 levels (the router still needs no deep stack).
#[test]
fn filters_and_topics_of_32768_levels_are_refused_and_the_broker_stands() {
    let b = TestBroker::start();
    let mut bystander = Raw::v311(b.port(), "bystander");
    bystander.send(&subscribe_v311(1, "ok", 0));
    bystander.expect(&[0x90, 0x03, 0x00, 0x01, 0x00]);
    let deep = format!("{}a", "a/".repeat(32767));
    let wild = format!("{}#", "+/".repeat(32767));
    assert_eq!((deep.len(), wild.len()), (65535, 65535));
    let closed = |mut r: Raw, packet: &[u8]| {
        r.send(packet);
        r.until_closed(Duration::from_secs(3))
    };
    for filter in [&deep, &wild] {
        let unsubscribe = pkt(0xa2, &cat(&[&[0x00, 0x03], &s(filter)]));
        assert!(closed(Raw::v311(b.port(), "deep"), &unsubscribe).is_empty());
        assert!(closed(Raw::v311(b.port(), "deep"), &subscribe_v311(1, filter, 0)).is_empty());
        let mut d = Raw::v5(b.port(), "deep5");
        d.send(&pkt(0xa2, &cat(&[&[0x00, 0x03, 0x00], &s(filter)])));
        d.expect(&[0xb0, 0x04, 0x00, 0x03, 0x00, 0x8f]);
        d.send(&subscribe_v5(1, filter, 0));
        d.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x8f]);
        let message = publish_v5(0, &deep, None, &[], b"deep");
        assert_eq!(closed(d, &message), [0xe0, 0x01, 0x90]);
    }
    let message = publish_v311(0, &deep, None, b"deep");
    assert!(closed(Raw::v311(b.port(), "pub"), &message).is_empty());
    assert_eq!(b.stats().subscriptions.load(Ordering::SeqCst), 1);
    // 201 levels (200 '/') are within the limit, as in mosquitto.
    let within = format!("{}a", "a/".repeat(200));
    let mut d = Raw::v311(b.port(), "within");
    d.send(&subscribe_v311(1, &format!("{}#", "+/".repeat(200)), 0));
    d.expect(&[0x90, 0x03, 0x00, 0x01, 0x00]);
    let mut p = Raw::v311(b.port(), "pub");
    p.send(&publish_v311(0, &within, None, b"within"));
    d.expect(&publish_v311(0, &within, None, b"within"));
    p.send(&publish_v311(0, "ok", None, b"fine"));
    bystander.expect(&publish_v311(0, "ok", None, b"fine"));
}

#[derive(Clone, Copy, Debug)]
struct Status {
    rss_kb: i64,
    threads: i64,
}

fn status(pid: u32) -> Status {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> i64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    Status {
        rss_kb: field("VmRSS:"),
        threads: field("Threads:"),
    }
}

fn connect(port: u16) -> TcpStream {
    let mut r = Raw::open(port);
    r.send(&connect_v311(0x02, 60, ""));
    r.expect(&CONNACK_OK);
    r.s
}

/// A real `mqtk broker` process: connection churn (8 clients connecting and leaving,
/// 4,000 times) starts no threads and leaves memory within a few MB of where it was
/// (once, each CONNECT moved tokio's workers to fresh threads and arenas: 500 threads
/// and +50 MB); 400 idle connections cost a few KB each and give it back when closed;
/// clients that declare a 256 MiB packet cost nothing for it.
#[test]
fn churn_and_idle_connections_leave_threads_and_memory_where_they_were() {
    let port = free_port();
    let conf = format!("listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest none\n");
    let mut broker = BrokerProcess::start(Sandbox::new(), &conf, port);
    let pid = broker.pid();
    drop(connect(port));
    let idle = status(pid);
    let churners: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..500 {
                    let mut s = connect(port);
                    let _ = s.write_all(&[0xe0, 0x00]);
                }
            })
        })
        .collect();
    for c in churners {
        c.join().unwrap();
    }
    let peak = status(pid);
    assert_eq!(
        peak.threads, idle.threads,
        "threads during churn: {peak:?} vs {idle:?}"
    );
    assert!(
        peak.rss_kb - idle.rss_kb < 8 << 10,
        "RSS after churn: {peak:?} vs {idle:?}"
    );

    let before = status(pid);
    let n = 400;
    let mut held: Vec<TcpStream> = (0..n).map(|_| connect(port)).collect();
    // And a few that declare a 256 MiB packet after CONNECT and stop there.
    for _ in 0..10 {
        let mut s = connect(port);
        s.write_all(&[0x30, 0xff, 0xff, 0xff, 0x7f, 0x00]).unwrap();
        held.push(s);
    }
    let open = status(pid);
    // About 3.7 KB in a release build (benches/broker_memory.rs); 13 KB before idle
    // buffers shrank, 4.4 KB before the control queue gave its memory back.
    let each = (open.rss_kb - before.rss_kb) as f64 * 1024.0 / n as f64;
    assert!(
        each < 6144.0,
        "{each:.0} bytes per idle connection: {open:?} vs {before:?}"
    );
    drop(held);
    poll_until("RSS back after closing", Duration::from_secs(5), || {
        status(pid).rss_kb - before.rss_kb < 2 << 10
    });
    assert_eq!(status(pid).threads, idle.threads);
    broker.stop();
}
