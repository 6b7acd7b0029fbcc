//! The in-process broker driven with raw bytes written by hand (not our codec): CONNECT
//! variants, QoS handshakes, errors, timeouts, wills, takeover, bounded queues. The
//! byte helpers are shared with `paho` and `broker_hostile`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::util::TestBroker;

/// A packet: fixed header byte, remaining length (1–2 bytes here), body.
pub(crate) fn pkt(header: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![header];
    let mut n = body.len();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        v.push(b);
        if n == 0 {
            break;
        }
    }
    v.extend_from_slice(body);
    v
}

/// A length-prefixed MQTT string.
pub(crate) fn s(x: &str) -> Vec<u8> {
    let mut v = (x.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(x.as_bytes());
    v
}

pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// CONNECT 3.1.1: `flags` byte, keep alive, client id.
pub(crate) fn connect_v311(flags: u8, ka: u16, id: &str) -> Vec<u8> {
    pkt(
        0x10,
        &cat(&[&s("MQTT"), &[0x04, flags], &ka.to_be_bytes(), &s(id)]),
    )
}

/// CONNECT 5.0 without properties.
pub(crate) fn connect_v5(flags: u8, ka: u16, id: &str) -> Vec<u8> {
    pkt(
        0x10,
        &cat(&[
            &s("MQTT"),
            &[0x05, flags],
            &ka.to_be_bytes(),
            &[0x00],
            &s(id),
        ]),
    )
}

pub(crate) const CONNACK_OK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
/// Our v5 CONNACK, byte for byte mosquitto 2.0's: session present 0, success,
/// properties: Topic Alias Maximum 10, Receive Maximum 20.
pub(crate) const CONNACK_V5_OK: [u8; 11] = [
    0x20, 0x09, 0x00, 0x00, 0x06, 0x22, 0x00, 0x0a, 0x21, 0x00, 0x14,
];

pub(crate) struct Raw {
    pub(crate) s: TcpStream,
}

impl Raw {
    pub(crate) fn open(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.set_nodelay(true).unwrap();
        Raw { s }
    }

    /// Opens a connection and completes a 3.1.1 CONNECT (clean session, keepalive 60).
    pub(crate) fn v311(port: u16, id: &str) -> Raw {
        let mut r = Raw::open(port);
        r.send(&connect_v311(0x02, 60, id));
        r.expect(&CONNACK_OK);
        r
    }

    pub(crate) fn v5(port: u16, id: &str) -> Raw {
        let mut r = Raw::open(port);
        r.send(&connect_v5(0x02, 60, id));
        r.expect(&CONNACK_V5_OK);
        r
    }

    pub(crate) fn send(&mut self, b: &[u8]) {
        self.s.write_all(b).expect("write");
    }

    /// One whole packet.
    pub(crate) fn recv(&mut self) -> Vec<u8> {
        read_packet(&mut self.s)
    }

    #[track_caller]
    pub(crate) fn expect(&mut self, b: &[u8]) {
        assert_eq!(self.recv(), b);
    }

    /// Reads until the broker closes the connection; returns what came before.
    pub(crate) fn until_closed(&mut self, within: Duration) -> Vec<u8> {
        self.s.set_read_timeout(Some(within)).unwrap();
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.s.read(&mut buf) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
                Err(e) => panic!("connection not closed within {within:?}: {e}"),
            }
        }
    }

    /// Asserts nothing arrives for `d`.
    #[track_caller]
    pub(crate) fn expect_silence(&mut self, d: Duration) {
        self.s.set_read_timeout(Some(d)).unwrap();
        let mut b = [0u8; 1];
        match self.s.read(&mut b) {
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            other => panic!("expected silence, got {other:?} {b:?}"),
        }
        self.s
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
    }
}

/// SUBSCRIBE 3.1.1, packet id `pid`, one filter.
pub(crate) fn subscribe_v311(pid: u16, filter: &str, qos: u8) -> Vec<u8> {
    pkt(0x82, &cat(&[&pid.to_be_bytes(), &s(filter), &[qos]]))
}

pub(crate) fn subscribe_v5(pid: u16, filter: &str, opts: u8) -> Vec<u8> {
    pkt(
        0x82,
        &cat(&[&pid.to_be_bytes(), &[0x00], &s(filter), &[opts]]),
    )
}

/// PUBLISH 3.x: `flags` are the low nibble (dup, qos, retain).
pub(crate) fn publish_v311(flags: u8, topic: &str, pid: Option<u16>, payload: &[u8]) -> Vec<u8> {
    let pid = pid.map(|p| p.to_be_bytes().to_vec()).unwrap_or_default();
    pkt(0x30 | flags, &cat(&[&s(topic), &pid, payload]))
}

pub(crate) fn publish_v5(
    flags: u8,
    topic: &str,
    pid: Option<u16>,
    props: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let pid = pid.map(|p| p.to_be_bytes().to_vec()).unwrap_or_default();
    let plen = [props.len() as u8];
    pkt(
        0x30 | flags,
        &cat(&[&s(topic), &pid, &plen, props, payload]),
    )
}

#[test]
fn connack_bytes_for_each_protocol_version() {
    let b = TestBroker::start();
    // 3.1: protocol name MQIsdp, level 3.
    let mut r = Raw::open(b.port());
    r.send(&pkt(
        0x10,
        &cat(&[&s("MQIsdp"), &[0x03, 0x02, 0x00, 0x3c], &s("c31")]),
    ));
    r.expect(&CONNACK_OK);
    // 3.1.1
    let mut r = Raw::open(b.port());
    r.send(&connect_v311(0x02, 60, "c311"));
    r.expect(&CONNACK_OK);
    // 5.0
    let mut r = Raw::open(b.port());
    r.send(&connect_v5(0x02, 60, "c5"));
    r.expect(&CONNACK_V5_OK);
}

#[test]
fn qos0_pub_sub_ping_disconnect() {
    let b = TestBroker::start();
    let mut sub = Raw::v311(b.port(), "sub");
    sub.send(&subscribe_v311(1, "a/+", 0));
    sub.expect(&[0x90, 0x03, 0x00, 0x01, 0x00]);
    let mut publ = Raw::v311(b.port(), "pub");
    publ.send(&publish_v311(0, "a/b", None, b"hi"));
    publ.send(&publish_v311(0, "x/y", None, b"no"));
    publ.send(&publish_v311(0, "a/c", None, b""));
    sub.expect(&publish_v311(0, "a/b", None, b"hi"));
    sub.expect(&publish_v311(0, "a/c", None, b""));
    sub.send(&[0xc0, 0x00]);
    sub.expect(&[0xd0, 0x00]);
    publ.send(&[0xe0, 0x00]);
    assert!(publ.until_closed(Duration::from_secs(2)).is_empty());
}

#[test]
fn qos1_handshake_both_ways() {
    let b = TestBroker::start();
    let mut sub = Raw::v311(b.port(), "sub");
    sub.send(&subscribe_v311(1, "a/b", 1));
    sub.expect(&[0x90, 0x03, 0x00, 0x01, 0x01]);
    let mut publ = Raw::v311(b.port(), "pub");
    publ.send(&publish_v311(0x02, "a/b", Some(7), b"hi"));
    publ.expect(&[0x40, 0x02, 0x00, 0x07]);
    // Outgoing packet ids are the broker's own, starting at 1.
    sub.expect(&publish_v311(0x02, "a/b", Some(1), b"hi"));
    sub.send(&[0x40, 0x02, 0x00, 0x01]);
    // QoS is downgraded to the subscription's: a QoS 1 sub gets QoS 2 messages at 1.
    publ.send(&publish_v311(0x04, "a/b", Some(8), b"q2"));
    publ.expect(&[0x50, 0x02, 0x00, 0x08]);
    sub.expect(&publish_v311(0x02, "a/b", Some(2), b"q2"));
    publ.send(&[0x62, 0x02, 0x00, 0x08]);
    publ.expect(&[0x70, 0x02, 0x00, 0x08]);
}

#[test]
fn qos2_exactly_once_and_duplicates_dropped() {
    let b = TestBroker::start();
    let mut sub = Raw::v311(b.port(), "sub");
    sub.send(&subscribe_v311(1, "a/b", 2));
    sub.expect(&[0x90, 0x03, 0x00, 0x01, 0x02]);
    let mut publ = Raw::v311(b.port(), "pub");
    publ.send(&publish_v311(0x04, "a/b", Some(8), b"once"));
    publ.expect(&[0x50, 0x02, 0x00, 0x08]);
    // The same packet again with DUP before PUBREL: acked, not delivered twice.
    publ.send(&publish_v311(0x0c, "a/b", Some(8), b"once"));
    publ.expect(&[0x50, 0x02, 0x00, 0x08]);
    publ.send(&[0x62, 0x02, 0x00, 0x08]);
    publ.expect(&[0x70, 0x02, 0x00, 0x08]);
    sub.expect(&publish_v311(0x04, "a/b", Some(1), b"once"));
    sub.send(&[0x50, 0x02, 0x00, 0x01]);
    sub.expect(&[0x62, 0x02, 0x00, 0x01]);
    sub.send(&[0x70, 0x02, 0x00, 0x01]);
    sub.expect_silence(Duration::from_millis(200));
    // After PUBREL the id is free: a new message with id 8 is delivered.
    publ.send(&publish_v311(0x04, "a/b", Some(8), b"again"));
    publ.expect(&[0x50, 0x02, 0x00, 0x08]);
    sub.expect(&publish_v311(0x04, "a/b", Some(2), b"again"));
}

#[test]
fn v5_puback_no_matching_subscribers() {
    let b = TestBroker::start();
    let mut p = Raw::v5(b.port(), "p5");
    p.send(&publish_v5(0x02, "nobody/here", Some(3), &[], b"x"));
    // PUBACK, packet id 3, reason 0x10 No matching subscribers (5.0 §3.4.2.1).
    p.expect(&[0x40, 0x03, 0x00, 0x03, 0x10]);
    p.send(&subscribe_v5(4, "some/one", 0x01));
    p.expect(&[0x90, 0x04, 0x00, 0x04, 0x00, 0x01]);
    p.send(&publish_v5(0x02, "some/one", Some(5), &[], b"x"));
    p.expect(&[0x40, 0x02, 0x00, 0x05]);
}

#[test]
fn v5_invalid_filter_gets_0x8f_and_v311_is_disconnected() {
    let b = TestBroker::start();
    let mut p = Raw::v5(b.port(), "p5");
    p.send(&subscribe_v5(1, "a/#/b", 0x00));
    p.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x8f]);
    let mut q = Raw::v311(b.port(), "p3");
    q.send(&subscribe_v311(1, "a/#/b", 0));
    assert!(q.until_closed(Duration::from_secs(2)).is_empty());
}

#[test]
fn v5_unsubscribe_reason_codes() {
    let b = TestBroker::start();
    let mut p = Raw::v5(b.port(), "p5");
    p.send(&subscribe_v5(1, "a/b", 0x00));
    p.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x00]);
    p.send(&pkt(
        0xa2,
        &cat(&[&[0x00, 0x02, 0x00], &s("a/b"), &s("c/d")]),
    ));
    p.expect(&[0xb0, 0x05, 0x00, 0x02, 0x00, 0x00, 0x11]);
}

#[test]
fn malformed_packet_disconnects_only_that_client() {
    let b = TestBroker::start();
    let mut other = Raw::v311(b.port(), "other");
    other.send(&subscribe_v311(1, "t", 0));
    other.expect(&[0x90, 0x03, 0x00, 0x01, 0x00]);

    // v5: a remaining length of five bytes is malformed; DISCONNECT 0x81 first.
    let mut m = Raw::v5(b.port(), "bad5");
    m.send(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
    let got = m.until_closed(Duration::from_secs(2));
    assert!(got.len() >= 3, "expected DISCONNECT, got {got:02x?}");
    assert_eq!((got[0], got[2]), (0xe0, 0x81), "got {got:02x?}");

    // 3.1.1: PUBLISH with QoS 3 is malformed; the connection is closed.
    let mut m = Raw::v311(b.port(), "bad3");
    m.send(&[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01]);
    assert!(m.until_closed(Duration::from_secs(2)).is_empty());

    // Others are unaffected.
    let mut p = Raw::v311(b.port(), "pub");
    p.send(&publish_v311(0, "t", None, b"ok"));
    other.expect(&publish_v311(0, "t", None, b"ok"));
}

#[test]
fn unknown_protocol_level_gets_connack_1() {
    let b = TestBroker::start();
    let mut r = Raw::open(b.port());
    r.send(&pkt(
        0x10,
        &cat(&[&s("MQTT"), &[0x06, 0x02, 0x00, 0x3c], &s("x")]),
    ));
    let got = r.until_closed(Duration::from_secs(2));
    assert_eq!(got, [0x20, 0x02, 0x00, 0x01]);
}

#[test]
fn first_packet_must_be_connect_and_only_once() {
    let b = TestBroker::start();
    let mut r = Raw::open(b.port());
    r.send(&[0xc0, 0x00]);
    assert!(r.until_closed(Duration::from_secs(2)).is_empty());
    let mut r = Raw::v311(b.port(), "twice");
    r.send(&connect_v311(0x02, 60, "twice"));
    assert!(r.until_closed(Duration::from_secs(2)).is_empty());
}

#[test]
fn connect_timeout_drops_silent_clients() {
    let mut c = TestBroker::config();
    c.connect_timeout = Duration::from_millis(300);
    let b = TestBroker::start_with(c);
    let mut r = Raw::open(b.port());
    let t = Instant::now();
    assert!(r.until_closed(Duration::from_secs(3)).is_empty());
    let e = t.elapsed();
    assert!(e >= Duration::from_millis(250), "closed too early: {e:?}");
}

#[test]
fn keepalive_timeout_publishes_will() {
    let b = TestBroker::start();
    let mut w = Raw::v311(b.port(), "watcher");
    w.send(&subscribe_v311(1, "will/t", 0));
    w.expect(&[0x90, 0x03, 0x00, 0x01, 0x00]);
    // Clean session + will flag (0x06), keep alive 1 s, will topic/payload.
    let mut c = Raw::open(b.port());
    c.send(&pkt(
        0x10,
        &cat(&[
            &s("MQTT"),
            &[0x04, 0x06, 0x00, 0x01],
            &s("dying"),
            &s("will/t"),
            &s("gone"),
        ]),
    ));
    c.expect(&CONNACK_OK);
    let t = Instant::now();
    assert!(c.until_closed(Duration::from_secs(4)).is_empty());
    let e = t.elapsed();
    assert!(
        e >= Duration::from_millis(1400) && e < Duration::from_millis(3000),
        "closed after {e:?}, expected 1.5 s"
    );
    w.expect(&publish_v311(0, "will/t", None, b"gone"));
}

#[test]
fn normal_disconnect_discards_will_and_close_publishes_it() {
    let b = TestBroker::start();
    let mut w = Raw::v311(b.port(), "watcher");
    w.send(&subscribe_v311(1, "will/#", 0));
    w.expect(&[0x90, 0x03, 0x00, 0x01, 0x00]);
    let with_will = |id: &str, topic: &str| {
        pkt(
            0x10,
            &cat(&[
                &s("MQTT"),
                &[0x04, 0x06, 0x00, 0x3c],
                &s(id),
                &s(topic),
                &s("bye"),
            ]),
        )
    };
    let mut c = Raw::open(b.port());
    c.send(&with_will("polite", "will/polite"));
    c.expect(&CONNACK_OK);
    c.send(&[0xe0, 0x00]);
    c.until_closed(Duration::from_secs(2));
    let mut c = Raw::open(b.port());
    c.send(&with_will("rude", "will/rude"));
    c.expect(&CONNACK_OK);
    drop(c);
    // Only the connection that closed without DISCONNECT has its will published.
    w.expect(&publish_v311(0, "will/rude", None, b"bye"));
    w.expect_silence(Duration::from_millis(200));
}

#[test]
fn duplicate_client_id_takes_over() {
    let b = TestBroker::start();
    let mut old = Raw::v5(b.port(), "same");
    let _new = Raw::v5(b.port(), "same");
    let got = old.until_closed(Duration::from_secs(2));
    // DISCONNECT, reason 0x8E Session taken over (5.0 §3.1.4-3).
    assert!(got.len() >= 3, "got {got:02x?}");
    assert_eq!((got[0], got[2]), (0xe0, 0x8e), "got {got:02x?}");

    let mut old = Raw::v311(b.port(), "same3");
    let mut new = Raw::v311(b.port(), "same3");
    assert!(old.until_closed(Duration::from_secs(2)).is_empty());
    new.send(&[0xc0, 0x00]);
    new.expect(&[0xd0, 0x00]);
}

#[test]
fn empty_client_ids() {
    let b = TestBroker::start();
    // 3.1.1, clean session: the broker assigns one.
    let mut r = Raw::open(b.port());
    r.send(&connect_v311(0x02, 60, ""));
    r.expect(&CONNACK_OK);
    // 3.1.1, persistent session: identifier rejected (3.1.1 §3.1.3-8).
    let mut r = Raw::open(b.port());
    r.send(&connect_v311(0x00, 60, ""));
    r.expect(&[0x20, 0x02, 0x00, 0x02]);
    // 3.1: always rejected.
    let mut r = Raw::open(b.port());
    r.send(&pkt(
        0x10,
        &cat(&[&s("MQIsdp"), &[0x03, 0x02, 0x00, 0x3c], &s("")]),
    ));
    r.expect(&[0x20, 0x02, 0x00, 0x02]);
    // 5.0: assigned, and told in Assigned Client Identifier (0x12).
    let mut r = Raw::open(b.port());
    r.send(&connect_v5(0x02, 60, ""));
    let got = r.recv();
    assert_eq!(&got[..5], &[0x20, got[1], 0x00, 0x00, got[4]]);
    assert_eq!(got[5], 0x12, "assigned client id first: {got:02x?}");
    let len = usize::from(u16::from_be_bytes([got[6], got[7]]));
    let id = std::str::from_utf8(&got[8..8 + len]).unwrap();
    assert!(id.starts_with("auto-") && id.len() == 41, "{id}");
}

#[test]
fn retained_set_replace_delete() {
    let b = TestBroker::start();
    let mut p = Raw::v311(b.port(), "pub");
    p.send(&publish_v311(0x01, "r/a", None, b"one"));
    p.send(&publish_v311(0x01, "r/a", None, b"two"));
    p.send(&publish_v311(0x01, "r/b", None, b"bee"));
    p.send(&publish_v311(0x01, "r/b", None, b""));
    p.send(&[0xc0, 0x00]);
    p.expect(&[0xd0, 0x00]);
    let mut s1 = Raw::v311(b.port(), "s1");
    s1.send(&subscribe_v311(1, "r/#", 0));
    s1.expect(&[0x90, 0x03, 0x00, 0x01, 0x00]);
    // Sent because of the new subscription: retain flag set.
    s1.expect(&publish_v311(0x01, "r/a", None, b"two"));
    s1.expect_silence(Duration::from_millis(200));
    // Normal delivery clears the retain flag (3.1.1 §3.3.1.3).
    p.send(&publish_v311(0x01, "r/a", None, b"three"));
    s1.expect(&publish_v311(0x00, "r/a", None, b"three"));
}

#[test]
fn persistent_session_queues_and_resends() {
    let b = TestBroker::start();
    // Clean session 0.
    let mut s1 = Raw::open(b.port());
    s1.send(&connect_v311(0x00, 60, "keep"));
    s1.expect(&CONNACK_OK);
    s1.send(&subscribe_v311(1, "q/t", 1));
    s1.expect(&[0x90, 0x03, 0x00, 0x01, 0x01]);
    let mut p = Raw::v311(b.port(), "pub");
    p.send(&publish_v311(0x02, "q/t", Some(1), b"m1"));
    p.expect(&[0x40, 0x02, 0x00, 0x01]);
    // Received but not acknowledged, then the client goes away.
    s1.expect(&publish_v311(0x02, "q/t", Some(1), b"m1"));
    drop(s1);
    // Queued for an offline session only once the broker has seen it go ("pub" stays).
    // It counts the connection gone just before detaching the session, without a pause
    // between, so the PUBLISH below, a round trip later, finds it offline.
    b.wait_connected_down_to(1);
    p.send(&publish_v311(0x02, "q/t", Some(2), b"m2"));
    p.expect(&[0x40, 0x02, 0x00, 0x02]);
    p.send(&publish_v311(0x00, "q/t", None, b"qos0-lost"));
    p.send(&[0xc0, 0x00]);
    p.expect(&[0xd0, 0x00]);
    let mut s2 = Raw::open(b.port());
    s2.send(&connect_v311(0x00, 60, "keep"));
    // Session present.
    s2.expect(&[0x20, 0x02, 0x01, 0x00]);
    // The unacknowledged message again with DUP, then the queued one.
    s2.expect(&publish_v311(0x0a, "q/t", Some(1), b"m1"));
    s2.expect(&publish_v311(0x02, "q/t", Some(2), b"m2"));
    s2.send(&[0x40, 0x02, 0x00, 0x01]);
    s2.send(&[0x40, 0x02, 0x00, 0x02]);
    s2.expect_silence(Duration::from_millis(200));
}

#[test]
fn slow_subscriber_is_bounded_and_others_keep_working() {
    let mut c = TestBroker::config();
    c.max_queued_messages = 100;
    let b = TestBroker::start_with(c);
    // A subscriber that never reads, with a small receive buffer.
    let mut stuck = Raw {
        s: small_rcvbuf_socket(b.port()),
    };
    stuck.send(&connect_v311(0x02, 0, "stuck"));
    stuck.expect(&CONNACK_OK);
    stuck.send(&subscribe_v311(1, "flood", 0));
    stuck.expect(&[0x90, 0x03, 0x00, 0x01, 0x00]);

    let mut good = Raw::v311(b.port(), "good");
    good.send(&subscribe_v311(1, "flood", 0));
    good.expect(&[0x90, 0x03, 0x00, 0x01, 0x00]);
    let end = publish_v311(0, "flood", None, b"end");
    let end2 = end.clone();
    let (done, counted) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut r = std::io::BufReader::with_capacity(1 << 16, good.s);
        let mut n = 0u32;
        loop {
            let p = read_packet(&mut r);
            if p == end2 {
                let _ = done.send(n);
                return;
            }
            assert_eq!(p[0], 0x30);
            n += 1;
        }
    });
    let mut p = Raw::v311(b.port(), "pub");
    // 100,000 messages of 1 KiB: 100 MB, far more than kernel buffers can absorb.
    let rss_before = rss_bytes();
    let one = publish_v311(0, "flood", None, &[0x55; 1024]);
    let batch = one.repeat(1000);
    for _ in 0..100 {
        p.send(&batch);
    }
    // Once the broker has routed the flood (PINGRESP), mark the end. The mark is QoS 0
    // like the flood, so it may be dropped too while the good subscriber still has a
    // full queue: send it again until the subscriber has it.
    p.send(&[0xc0, 0x00]);
    p.expect(&[0xd0, 0x00]);
    let mut got = None;
    for _ in 0..200 {
        p.send(&end);
        match counted.recv_timeout(Duration::from_millis(50)) {
            Ok(n) => {
                got = Some(n);
                break;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    reader.join().expect("good subscriber");
    let got = got.expect("the good subscriber never got the end mark (10 s)");
    assert!(got > 1000, "good subscriber got only {got}");
    let dropped = b.stats().dropped.load(std::sync::atomic::Ordering::Relaxed);
    // The stuck client holds at most its socket buffers plus a bounded queue; the rest
    // of the 100,000 are dropped and counted.
    assert!(dropped > 50_000, "dropped only {dropped}");
    // Memory: the bounded queue is a few MB; keeping the whole flood would be 100 MB.
    if let (Some(before), Some(after)) = (rss_before, rss_bytes()) {
        let grown = after.saturating_sub(before);
        assert!(grown < 48 << 20, "RSS grew by {} MB", grown >> 20);
    }
    drop(stuck);
}

/// Resident set size of this process (the in-process broker included), on Linux.
pub(crate) fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

pub(crate) fn read_packet(r: &mut impl Read) -> Vec<u8> {
    let mut h = [0u8; 1];
    r.read_exact(&mut h).expect("read fixed header");
    let mut out = vec![h[0]];
    let mut len = 0usize;
    let mut mult = 1usize;
    loop {
        let mut b = [0u8; 1];
        r.read_exact(&mut b).expect("read remaining length");
        out.push(b[0]);
        len += usize::from(b[0] & 0x7f) * mult;
        mult *= 128;
        if b[0] & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).expect("read body");
    out.extend(body);
    out
}

/// A connected socket with a 4 KiB receive buffer, so the broker's writes block soon.
pub(crate) fn small_rcvbuf_socket(port: u16) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        sock.connect(([127, 0, 0, 1], port).into()).await.unwrap()
    });
    let s = s.into_std().unwrap();
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s
}

/// CONNECT 5.0 with properties and an optional will (properties, topic, payload).
pub(crate) fn connect_v5_full(
    flags: u8,
    ka: u16,
    props: &[u8],
    id: &str,
    will: Option<(&[u8], &str, &[u8])>,
) -> Vec<u8> {
    let mut body = cat(&[
        &s("MQTT"),
        &[0x05, flags],
        &ka.to_be_bytes(),
        &[props.len() as u8],
        props,
        &s(id),
    ]);
    if let Some((wp, topic, payload)) = will {
        body.extend_from_slice(&[wp.len() as u8]);
        body.extend_from_slice(wp);
        body.extend_from_slice(&s(topic));
        body.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        body.extend_from_slice(payload);
    }
    pkt(0x10, &body)
}

#[test]
fn shared_subscription_round_robin_without_retained() {
    let b = TestBroker::start();
    let mut p = Raw::v311(b.port(), "pub");
    p.send(&publish_v311(0x01, "sh/t", None, b"retained"));
    let mut a = Raw::v5(b.port(), "a");
    let mut c = Raw::v5(b.port(), "c");
    for r in [&mut a, &mut c] {
        r.send(&subscribe_v5(1, "$share/g/sh/+", 0x00));
        r.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x00]);
    }
    for i in 0..4u8 {
        p.send(&publish_v311(0, "sh/t", None, &[b'0' + i]));
    }
    // No retained message for shared subscriptions (5.0 §4.8.2); each message goes to
    // one member, alternately.
    let got_a = [a.recv(), a.recv()];
    let got_c = [c.recv(), c.recv()];
    let payload = |v: &Vec<u8>| *v.last().unwrap();
    let mut all: Vec<u8> = got_a.iter().chain(&got_c).map(payload).collect();
    all.sort();
    assert_eq!(all, b"0123");
    a.expect_silence(Duration::from_millis(100));
    c.expect_silence(Duration::from_millis(100));
}

#[test]
fn v5_will_delay_and_cancel_on_reconnect() {
    let b = TestBroker::start();
    let mut w = Raw::v5(b.port(), "watcher");
    w.send(&subscribe_v5(1, "wd/#", 0x00));
    w.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x00]);
    // Session Expiry 10 s; will with Will Delay Interval 1 s.
    let sess = [0x11, 0, 0, 0, 10];
    let delay = [0x18, 0, 0, 0, 1];
    let connect = |id: &str, topic: &str| {
        connect_v5_full(0x06, 60, &sess, id, Some((&delay, topic, b"late")))
    };
    let mut d = Raw::open(b.port());
    d.send(&connect("delayed", "wd/a"));
    assert_eq!(d.recv()[3], 0x00);
    let t = Instant::now();
    drop(d);
    // The watcher's PUBLISH: topic wd/a, no properties, payload.
    let expect = publish_v5(0, "wd/a", None, &[], b"late");
    w.expect_silence(Duration::from_millis(600));
    w.expect(&expect);
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );

    // Reconnecting within the delay cancels the will (5.0 §3.1.3.2.2).
    let mut d = Raw::open(b.port());
    d.send(&connect("back", "wd/b"));
    assert_eq!(d.recv()[3], 0x00);
    drop(d);
    // Reconnect once the broker has seen the connection go (the watcher stays), so this
    // is a return within the delay, not a takeover.
    b.wait_connected_down_to(1);
    let mut again = Raw::open(b.port());
    // Clean start 0, same session.
    again.send(&connect_v5_full(0x00, 60, &sess, "back", None));
    let ack = again.recv();
    assert_eq!(&ack[2..4], &[0x01, 0x00], "session present: {ack:02x?}");
    w.expect_silence(Duration::from_millis(1300));
}

#[test]
fn takeover_publishes_the_old_connections_will() {
    let b = TestBroker::start();
    let mut w = Raw::v311(b.port(), "watcher");
    w.send(&subscribe_v311(1, "tw", 0));
    w.expect(&[0x90, 0x03, 0x00, 0x01, 0x00]);
    let mut old = Raw::open(b.port());
    old.send(&pkt(
        0x10,
        &cat(&[
            &s("MQTT"),
            &[0x04, 0x06, 0x00, 0x3c],
            &s("dup"),
            &s("tw"),
            &s("old"),
        ]),
    ));
    old.expect(&CONNACK_OK);
    let _new = Raw::v311(b.port(), "dup");
    assert!(old.until_closed(Duration::from_secs(2)).is_empty());
    w.expect(&publish_v311(0, "tw", None, b"old"));
}

#[test]
fn expired_messages_are_not_delivered() {
    let b = TestBroker::start();
    let mut p = Raw::v5(b.port(), "pub");
    // Retained, Message Expiry Interval 1 s.
    p.send(&publish_v5(
        0x01,
        "ex/t",
        None,
        &[0x02, 0, 0, 0, 1],
        b"short",
    ));
    p.send(&publish_v5(
        0x01,
        "ex/u",
        None,
        &[0x02, 0, 0, 0, 100],
        b"long",
    ));
    p.send(&[0xc0, 0x00]);
    p.expect(&[0xd0, 0x00]);
    // The behaviour under test: the 1 s Message Expiry Interval passes (the broker
    // counts whole seconds, so nothing short of waiting tells it has passed).
    std::thread::sleep(Duration::from_millis(1100));
    let mut sub = Raw::v5(b.port(), "sub");
    sub.send(&subscribe_v5(1, "ex/#", 0x00));
    sub.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x00]);
    // Only the long-lived one, with what is left of its interval (≤ 100 s).
    let got = sub.recv();
    assert_eq!(got[0], 0x31, "retain flag: {got:02x?}");
    let plen = usize::from(got[8]);
    assert_eq!(&got[9..9 + plen - 4], &[0x02]);
    let left = u32::from_be_bytes(got[10..14].try_into().unwrap());
    assert!((98..=100).contains(&left), "{left}");
    assert_eq!(&got[14..], b"long");
    sub.expect_silence(Duration::from_millis(100));
}

#[test]
fn max_packet_size_ours_and_the_clients() {
    let mut c = TestBroker::config();
    c.max_packet_size = 100;
    let b = TestBroker::start_with(c);
    // Our maximum is advertised in CONNACK (Maximum Packet Size 0x27).
    let mut small = Raw::open(b.port());
    // The client's own maximum: 30 bytes.
    small.send(&connect_v5_full(
        0x02,
        60,
        &[0x27, 0, 0, 0, 30],
        "small",
        None,
    ));
    small.expect(&[
        0x20, 0x0e, 0x00, 0x00, 0x0b, 0x22, 0x00, 0x0a, 0x21, 0x00, 0x14, 0x27, 0x00, 0x00, 0x00,
        0x64,
    ]);
    small.send(&subscribe_v5(1, "mp", 0x00));
    small.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x00]);
    let mut p = Raw::open(b.port());
    p.send(&connect_v5(0x02, 60, "p"));
    p.recv();
    // 40-byte payload: over the client's 30, so not sent to it (5.0 §3.1.2.11.4).
    p.send(&publish_v5(0, "mp", None, &[], &[b'x'; 40]));
    p.send(&publish_v5(0, "mp", None, &[], b"fits"));
    small.expect(&publish_v5(0, "mp", None, &[], b"fits"));
    // Over our 100: DISCONNECT 0x95 Packet too large.
    p.send(&publish_v5(0, "mp", None, &[], &[b'x'; 120]));
    let got = p.until_closed(Duration::from_secs(2));
    assert!(got.len() >= 3, "{got:02x?}");
    assert_eq!((got[0], got[2]), (0xe0, 0x95), "{got:02x?}");
}

#[test]
fn message_size_limit_acks_0x95() {
    let mut c = TestBroker::config();
    c.message_size_limit = 10;
    let b = TestBroker::start_with(c);
    let mut sub = Raw::v5(b.port(), "sub");
    sub.send(&subscribe_v5(1, "ml", 0x01));
    sub.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x01]);
    let mut p = Raw::v5(b.port(), "p");
    p.send(&publish_v5(0x02, "ml", Some(9), &[], &[b'x'; 11]));
    p.expect(&[0x40, 0x03, 0x00, 0x09, 0x95]);
    sub.expect_silence(Duration::from_millis(100));
}

#[test]
fn receive_maximum_limits_messages_in_flight() {
    let b = TestBroker::start();
    let mut sub = Raw::open(b.port());
    // Receive Maximum 1.
    sub.send(&connect_v5_full(0x02, 60, &[0x21, 0, 1], "rm", None));
    sub.expect(&CONNACK_V5_OK);
    sub.send(&subscribe_v5(1, "rm", 0x01));
    sub.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x01]);
    let mut p = Raw::v5(b.port(), "p");
    for i in 1..=3u16 {
        p.send(&publish_v5(0x02, "rm", Some(i), &[], &[b'0' + i as u8]));
        p.expect(&[0x40, 0x02, 0x00, i as u8]);
    }
    for i in 1..=3u8 {
        sub.expect(&publish_v5(
            0x02,
            "rm",
            Some(u16::from(i)),
            &[],
            &[b'0' + i],
        ));
        // Nothing more until this one is acknowledged.
        sub.expect_silence(Duration::from_millis(100));
        sub.send(&[0x40, 0x02, 0x00, i]);
    }
}

#[test]
fn sys_version_is_retained() {
    let b = TestBroker::start();
    let mut r = Raw::v311(b.port(), "sys");
    r.send(&subscribe_v311(1, "$SYS/broker/version", 0));
    r.expect(&[0x90, 0x03, 0x00, 0x01, 0x00]);
    let version = format!("mqtk version {}", env!("CARGO_PKG_VERSION"));
    r.expect(&publish_v311(
        0x01,
        "$SYS/broker/version",
        None,
        version.as_bytes(),
    ));
    // `#` does not match `$SYS` topics (5.0 §4.7.2).
    r.send(&subscribe_v311(2, "#", 0));
    r.expect(&[0x90, 0x03, 0x00, 0x02, 0x00]);
    r.expect_silence(Duration::from_millis(100));
}

#[test]
fn shutdown_tells_v5_clients_and_closes() {
    let b = TestBroker::start();
    let mut r = Raw::v5(b.port(), "bye");
    let t = Instant::now();
    drop(b);
    // DISCONNECT 0x8B Server shutting down.
    let got = r.until_closed(Duration::from_secs(3));
    assert!(got.len() >= 3, "{got:02x?}");
    assert_eq!((got[0], got[2]), (0xe0, 0x8b), "{got:02x?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[test]
fn test_broker_starts_fast() {
    let t = Instant::now();
    let b = TestBroker::start();
    let e = t.elapsed();
    let _r = Raw::v311(b.port(), "quick");
    assert!(e < Duration::from_millis(500), "start took {e:?}");
}

#[test]
fn v5_session_expiry_ends_the_session() {
    let b = TestBroker::start();
    // Clean start 0, Session Expiry Interval 1 s.
    let connect = connect_v5_full(0x00, 60, &[0x11, 0, 0, 0, 1], "exp", None);
    let mut c = Raw::open(b.port());
    c.send(&connect);
    assert_eq!(&c.recv()[2..4], &[0x00, 0x00]);
    c.send(&subscribe_v5(1, "se/t", 0x01));
    c.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x01]);
    c.send(&[0xe0, 0x00]);
    c.until_closed(Duration::from_secs(2));
    // Within the interval the session is there…
    let mut c = Raw::open(b.port());
    c.send(&connect);
    assert_eq!(&c.recv()[2..4], &[0x01, 0x00], "session present");
    c.send(&[0xe0, 0x00]);
    c.until_closed(Duration::from_secs(2));
    // …and after it, gone (5.0 §3.1.2.11.2). The behaviour under test: the 1 s Session
    // Expiry Interval passes, and then the session must be gone (not merely at some point).
    std::thread::sleep(Duration::from_millis(1300));
    let mut c = Raw::open(b.port());
    c.send(&connect);
    assert_eq!(&c.recv()[2..4], &[0x00, 0x00], "session expired");
    assert_eq!(
        b.stats()
            .subscriptions
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn v5_qos2_inbound_state_survives_reconnect() {
    let b = TestBroker::start();
    let mut sub = Raw::v5(b.port(), "sub");
    sub.send(&subscribe_v5(1, "q2/t", 0x02));
    sub.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x02]);
    let connect = connect_v5_full(0x00, 60, &[0x11, 0, 0, 0, 60], "q2pub", None);
    let mut p = Raw::open(b.port());
    p.send(&connect);
    p.recv();
    p.send(&publish_v5(0x04, "q2/t", Some(5), &[], b"once"));
    p.expect(&[0x50, 0x02, 0x00, 0x05]);
    drop(p);
    // The publisher comes back, resends the PUBLISH with DUP (it never got PUBREC, as
    // far as it knows), then PUBREL: still delivered once.
    let mut p = Raw::open(b.port());
    p.send(&connect);
    assert_eq!(&p.recv()[2..4], &[0x01, 0x00]);
    p.send(&publish_v5(0x0c, "q2/t", Some(5), &[], b"once"));
    p.expect(&[0x50, 0x02, 0x00, 0x05]);
    p.send(&[0x62, 0x02, 0x00, 0x05]);
    p.expect(&[0x70, 0x02, 0x00, 0x05]);
    sub.expect(&publish_v5(0x04, "q2/t", Some(1), &[], b"once"));
    sub.expect_silence(Duration::from_millis(200));
}

#[test]
fn v5_receive_maximum_exceeded_by_client() {
    let mut c = TestBroker::config();
    c.max_inflight_messages = 2;
    let b = TestBroker::start_with(c);
    let mut p = Raw::open(b.port());
    p.send(&connect_v5(0x02, 60, "greedy"));
    // Receive Maximum 2 advertised.
    p.expect(&[
        0x20, 0x09, 0x00, 0x00, 0x06, 0x22, 0x00, 0x0a, 0x21, 0x00, 0x02,
    ]);
    for i in 1..=2u8 {
        p.send(&publish_v5(0x04, "rx", Some(u16::from(i)), &[], b"x"));
        p.expect(&[0x50, 0x03, 0x00, i, 0x10]);
    }
    // A third QoS 2 message without PUBREL for the first two: DISCONNECT 0x93.
    p.send(&publish_v5(0x04, "rx", Some(3), &[], b"x"));
    let got = p.until_closed(Duration::from_secs(2));
    assert!(got.len() >= 3, "{got:02x?}");
    assert_eq!((got[0], got[2]), (0xe0, 0x93), "{got:02x?}");
}

#[test]
fn client_that_never_reads_is_dropped_at_keepalive() {
    let b = TestBroker::start();
    let mut c = Raw {
        s: small_rcvbuf_socket(b.port()),
    };
    c.send(&connect_v311(0x02, 1, "deaf"));
    c.expect(&CONNACK_OK);
    // Flood PINGREQs and never read a PINGRESP: the broker stops reading from it once
    // replies pile up, and then keepalive ends it.
    let mut w = c.s.try_clone().unwrap();
    w.set_write_timeout(Some(Duration::from_secs(6))).unwrap();
    let flood = std::thread::spawn(move || {
        let pings = [0xc0, 0x00].repeat(32 * 1024);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(6) {
            if w.write_all(&pings).is_err() {
                break;
            }
        }
    });
    let connected = || {
        b.stats()
            .connected
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    crate::util::poll_until("still connected", Duration::from_secs(5), || {
        connected() == 0
    });
    drop(c);
    flood.join().unwrap();
}
