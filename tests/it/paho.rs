//! The behaviours the Eclipse Paho interoperability suite checks (eclipse/paho.mqtt.testing,
//! `interoperability/client_test5.py`) where mqtk once failed, written as our own tests
//! against the in-process broker with raw bytes: flow control (a client over our Receive
//! Maximum gets DISCONNECT 0x93 and may still write while it reads it), subscriptions
//! handled in the order they arrived across connections (No Local, request/response),
//! Server Keep Alive from `max_keepalive`, and SUBACK 0x80 for an ACL refusal. The
//! broker runs with the configuration the suite is run with: a mosquitto.conf with
//! `max_keepalive 60` and an `acl_file` that denies `test/nosubscribe`.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::broker::{
    CONNACK_OK, Raw, cat, connect_v5_full, connect_v311, pkt, publish_v5, s, subscribe_v5,
    subscribe_v311,
};
use crate::util::{Sandbox, TestBroker};

/// The suite's broker: `max_keepalive 60`, an ACL that lets everyone read and write
/// everything but `test/nosubscribe`, read from a mosquitto.conf as a user would.
fn paho_broker(sb: &Sandbox) -> TestBroker {
    let acl = sb.file("acl");
    std::fs::write(&acl, "topic deny test/nosubscribe\ntopic readwrite #\n").unwrap();
    let conf = sb.file("mosquitto.conf");
    let text = format!(
        "max_keepalive 60\nacl_file {}\nallow_anonymous true\n",
        acl.display()
    );
    std::fs::write(&conf, text).unwrap();
    let file = mqtk::broker::config::Config::load(Path::new(&conf)).expect("config");
    let mut c = file.config;
    let t = TestBroker::config();
    c.listeners = t.listeners;
    c.log = t.log;
    TestBroker::start_with(c)
}

/// A v5 CONNECT with a keep alive and no properties.
fn connect_v5_ka(ka: u16, id: &str) -> Vec<u8> {
    connect_v5_full(0x02, ka, &[], id, None)
}

/// Reads one CONNACK and returns its v5 properties.
fn connack_properties(r: &mut Raw) -> Vec<u8> {
    let p = r.recv();
    assert_eq!(&p[..4.min(p.len())][..2], &[0x20, p[1]], "{p:02x?}");
    assert_eq!(p[3], 0x00, "CONNACK refused: {p:02x?}");
    p[5..].to_vec()
}

/// test_flow_control2: more QoS 2 PUBLISHes than our Receive Maximum (20) without
/// PUBREL end the connection with DISCONNECT 0x93 (5.0 §3.3.4), and the client, which
/// answers the PUBRECs while it reads, may go on writing until it has read it: the
/// broker lingers, reading, rather than resetting the connection.
#[test]
fn receive_maximum_exceeded_is_told_and_the_client_may_still_write() {
    let b = TestBroker::start();
    let mut c = Raw::open(b.port());
    c.send(&connect_v5_ka(60, "flow2"));
    let props = connack_properties(&mut c);
    // Receive Maximum 20 in CONNACK.
    assert!(
        props.windows(3).any(|w| w == [0x21, 0x00, 20]),
        "{props:02x?}"
    );
    let burst: Vec<u8> = (1..=21u16)
        .flat_map(|i| publish_v5(0x04, "flow", Some(i), &[], b"m"))
        .collect();
    c.send(&burst);
    for i in 1..=20u8 {
        // PUBREC, "no matching subscribers" (0x10).
        c.expect(&[0x50, 0x03, 0x00, i, 0x10]);
    }
    c.expect(&[0xe0, 0x01, 0x93]);
    // The client answers each PUBREC as it goes (the Paho client does, then reads the
    // DISCONNECT): every write must succeed, however late.
    c.s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let t = Instant::now();
    for i in 1..=20u8 {
        let pubrel = [0x62, 0x02, 0x00, i];
        if let Err(e) = c.s.write_all(&pubrel) {
            panic!("PUBREL {i} failed after {:?}: {e}", t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Then a clean end of stream, not a reset.
    let mut rest = Vec::new();
    match c.s.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "{rest:02x?}"),
        Err(e) => panic!("connection reset instead of closed: {e}"),
    }
}

/// test_subscribe_options (No Local) and test_request_response: client B subscribes and,
/// without waiting for its SUBACK, client A publishes; B must get the message, and A,
/// subscribed with No Local, must not. The broker handles the two connections' packets
/// in the order they arrived (`broker::runtime`). Twenty rounds, so that a broker that
/// routes before it subscribes is caught.
#[test]
fn a_subscription_is_in_place_for_a_publish_sent_after_it_on_another_connection() {
    let sb = Sandbox::new();
    let b = paho_broker(&sb);
    for round in 0..20u8 {
        let topic = format!("nolocal/{round}");
        let mut a = Raw::open(b.port());
        a.send(&connect_v5_ka(60, "paho-a"));
        connack_properties(&mut a);
        a.send(&subscribe_v5(1, &topic, 0x02 | 0x04));
        a.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x02]);
        let mut bc = Raw::open(b.port());
        bc.send(&connect_v5_ka(60, "paho-b"));
        connack_properties(&mut bc);
        bc.send(&subscribe_v5(1, &topic, 0x02 | 0x04));
        a.send(&publish_v5(0x02, &topic, Some(7), &[], b"noLocal test"));
        bc.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x02]);
        let got = bc.recv();
        assert_eq!(
            got,
            publish_v5(0x02, &topic, Some(1), &[], b"noLocal test"),
            "round {round}"
        );
        // A gets its PUBACK and never its own message.
        a.expect(&[0x40, 0x02, 0x00, 0x07]);
        a.expect_silence(Duration::from_millis(50));
    }
}

/// test_server_keep_alive: with `max_keepalive 60`, a v5 client asking for 120 (or for
/// none) gets Server Keep Alive 60 (5.0 §3.2.2.3.14); one asking for 30 keeps it. A
/// 3.1.1 client cannot be told, so asking for more is refused with "identifier
/// rejected", as mosquitto 2.1 does.
#[test]
fn max_keepalive_is_announced_to_v5_and_enforced_on_3x() {
    let sb = Sandbox::new();
    let b = paho_broker(&sb);
    for (ka, expected) in [(120, Some(60u8)), (0, Some(60)), (30, None)] {
        let mut c = Raw::open(b.port());
        c.send(&connect_v5_ka(ka, "ka"));
        let props = connack_properties(&mut c);
        let announced = props
            .windows(3)
            .find(|w| w[0] == 0x13)
            .map(|w| u16::from_be_bytes([w[1], w[2]]));
        assert_eq!(
            announced,
            expected.map(u16::from),
            "keep alive {ka}: {props:02x?}"
        );
    }
    let mut c = Raw::open(b.port());
    c.send(&connect_v311(0x02, 120, "ka3"));
    assert_eq!(
        c.until_closed(Duration::from_secs(2)),
        [0x20, 0x02, 0x00, 0x02]
    );
    let mut c = Raw::open(b.port());
    c.send(&connect_v311(0x02, 60, "ka3"));
    c.expect(&CONNACK_OK);
}

/// The Server Keep Alive is the one the broker then holds the client to: 1.5 times it.
#[test]
fn the_server_keep_alive_is_enforced() {
    let mut config = TestBroker::config();
    config.max_keepalive = 1;
    let b = TestBroker::start_with(config);
    let mut c = Raw::open(b.port());
    let t = Instant::now();
    c.send(&connect_v5_ka(0, "quiet"));
    connack_properties(&mut c);
    let got = c.until_closed(Duration::from_secs(5));
    // DISCONNECT 0x8D Keep Alive timeout, after 1.5 s of silence.
    assert_eq!(got, [0xe0, 0x01, 0x8d]);
    assert!(
        t.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        t.elapsed()
    );
}

/// test_subscribe_failure (client_test5.py and client_test.py): a subscription the ACL
/// refuses gets SUBACK 0x80 in 5.0 and in 3.1.1; the others in the same SUBSCRIBE are
/// granted.
#[test]
fn a_refused_subscription_gets_0x80_in_every_version() {
    let sb = Sandbox::new();
    let b = paho_broker(&sb);
    let mut c = Raw::open(b.port());
    c.send(&connect_v5_ka(60, "subfail5"));
    connack_properties(&mut c);
    let two = pkt(
        0x82,
        &cat(&[
            &[0x00, 0x02, 0x00],
            &s("test/nosubscribe"),
            &[0x02],
            &s("ok"),
            &[0x02],
        ]),
    );
    c.send(&two);
    c.expect(&[0x90, 0x05, 0x00, 0x02, 0x00, 0x80, 0x02]);
    let mut c = Raw::open(b.port());
    c.send(&connect_v311(0x02, 60, "subfail3"));
    c.expect(&CONNACK_OK);
    c.send(&subscribe_v311(1, "test/nosubscribe", 2));
    c.expect(&[0x90, 0x03, 0x00, 0x01, 0x80]);
}
