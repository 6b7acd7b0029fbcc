//! Broker routing throughput, side by side: `mqtk broker` and Debian's `mosquitto`,
//! measured in one run with the same minimal raw-socket publisher and subscribers.
//!
//! QoS 0, 16-byte payloads, 1 publisher → 1 subscriber and 1 → 10 subscribers. The
//! figure is messages *delivered* per second, summed over subscribers, median of
//! several alternating rounds. Run: `cargo bench --bench broker_throughput`
//! (env: `ROUNDS` (default 5), `MESSAGES` per round (default 1,000,000)).
//!
//! The clients speak MQTT 3.1.1 with bytes written here by hand, not with our codec,
//! so neither broker is measured through code it shares with the load.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

mod common;
use common::{mosquitto_path, start};

const TOPIC: &[u8] = b"bench/t";
const PAYLOAD_LEN: usize = 16;
/// Fixed header (2) + topic length (2) + topic + payload.
const PUBLISH_LEN: usize = 2 + 2 + TOPIC.len() + PAYLOAD_LEN;

fn connect_packet(client_id: &str) -> Vec<u8> {
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x00];
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    let mut p = vec![0x10, body.len() as u8];
    p.extend_from_slice(&body);
    p
}

fn subscribe_packet() -> Vec<u8> {
    let mut p = vec![0x82, (2 + 2 + TOPIC.len() + 1) as u8, 0x00, 0x01];
    p.extend_from_slice(&(TOPIC.len() as u16).to_be_bytes());
    p.extend_from_slice(TOPIC);
    p.push(0x00);
    p
}

fn publish_packet() -> Vec<u8> {
    let mut p = vec![0x30, (PUBLISH_LEN - 2) as u8];
    p.extend_from_slice(&(TOPIC.len() as u16).to_be_bytes());
    p.extend_from_slice(TOPIC);
    p.extend_from_slice(&[b'x'; PAYLOAD_LEN]);
    assert_eq!(p.len(), PUBLISH_LEN);
    p
}

fn read_exact_packet(s: &mut TcpStream, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    s.read_exact(&mut buf)?;
    Ok(buf)
}

/// Connects and waits for CONNACK (4 bytes, return code 0).
fn open(port: u16, id: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&connect_packet(id)).unwrap();
    let ack = read_exact_packet(&mut s, 4).expect("CONNACK");
    assert_eq!(ack, [0x20, 0x02, 0x00, 0x00], "CONNACK");
    s
}

/// Subscribes and then counts delivered PUBLISH packets until `expected` arrive or
/// the stream goes quiet. Returns (count, first arrival, last arrival).
fn subscriber(port: u16, id: String, expected: u64) -> (u64, Option<Instant>, Option<Instant>) {
    let mut s = open(port, &id);
    s.write_all(&subscribe_packet()).unwrap();
    let ack = read_exact_packet(&mut s, 5).expect("SUBACK");
    assert_eq!(ack, [0x90, 0x03, 0x00, 0x01, 0x00], "SUBACK");
    s.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let (mut bytes, mut first, mut last) = (0u64, None, None);
    let target = expected * PUBLISH_LEN as u64;
    while bytes < target {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let now = Instant::now();
                first.get_or_insert(now);
                last = Some(now);
                bytes += n as u64;
            }
        }
    }
    let _ = s.write_all(&[0xE0, 0x00]);
    let _ = s.shutdown(Shutdown::Both);
    (bytes / PUBLISH_LEN as u64, first, last)
}

/// Delivered messages per second for one publisher and `subs` subscribers, and the
/// share of the published messages that were delivered (QoS 0 may be dropped).
fn measure(port: u16, subs: usize, messages: u64) -> (f64, f64) {
    let handles: Vec<_> = (0..subs)
        .map(|i| {
            let id = format!("bench-sub-{i}");
            std::thread::spawn(move || subscriber(port, id, messages))
        })
        .collect();
    // Subscriptions are in place once every SUBACK came back; a short pause covers it.
    std::thread::sleep(Duration::from_millis(200));
    let mut p = open(port, "bench-pub");
    let batch: Vec<u8> = publish_packet().repeat(1000);
    let mut sent = 0;
    while sent < messages {
        p.write_all(&batch).unwrap();
        sent += 1000;
    }
    let _ = p.write_all(&[0xE0, 0x00]);
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let total: u64 = results.iter().map(|r| r.0).sum();
    let first = results.iter().filter_map(|r| r.1).min();
    let last = results.iter().filter_map(|r| r.2).max();
    let share = total as f64 / (messages * subs as u64) as f64;
    match (first, last) {
        (Some(f), Some(l)) if l > f => (total as f64 / (l - f).as_secs_f64(), share),
        _ => (0.0, share),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing useful.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(mosquitto) = mosquitto_path() else {
        eprintln!("skipping: mosquitto is not installed (apt-get install mosquitto)");
        return;
    };
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let messages: u64 = std::env::var("MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let extra = "";
    let brokers = [
        start("mqtk", env!("CARGO_BIN_EXE_mqtk"), &["broker"], extra),
        start("mosquitto", mosquitto.to_str().unwrap(), &[], extra),
    ];
    println!(
        "broker routing throughput: QoS 0, {PAYLOAD_LEN}-byte payloads, {messages} messages a round, {rounds} rounds"
    );
    for subs in [1usize, 10] {
        let per_sub = messages / subs as u64;
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); brokers.len()];
        let mut shares: Vec<Vec<f64>> = vec![Vec::new(); brokers.len()];
        for _ in 0..rounds {
            for (i, b) in brokers.iter().enumerate() {
                let (rate, share) = measure(b.port, subs, per_sub);
                rates[i].push(rate);
                shares[i].push(share);
            }
        }
        let medians: Vec<f64> = rates.iter_mut().map(|r| median(r)).collect();
        for ((b, m), s) in brokers.iter().zip(&medians).zip(shares.iter_mut()) {
            println!(
                "  1 -> {subs:>2} {:<10} median {:>10.0} msg/s delivered ({:.1}% of published)",
                b.name,
                m,
                100.0 * median(s)
            );
        }
        println!(
            "  1 -> {subs:>2} ratio mqtk/mosquitto: {:.2}",
            medians[0] / medians[1].max(1.0)
        );
    }
}
