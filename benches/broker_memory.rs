//! Broker memory and threads under load, side by side: `mqtk broker` and Debian's
//! `mosquitto`, read from /proc/PID/status (VmRSS, VmHWM, Threads).
//!
//! 1. Churn: `CHURN_CLIENTS` (300) threads connect, CONNECT, wait for CONNACK,
//!    DISCONNECT and close, in a loop for `CHURN_SECS` (10) seconds; `ROUNDS` (4)
//!    rounds. RSS before, peak (VmHWM) and 2 s after each round, threads 2 s after.
//! 2. Idle connections: `IDLE` (2,000) connected clients held open; RSS per
//!    connection, then RSS and threads 2 s after they all closed.
//!
//! Run: `cargo bench --bench broker_memory`; `MQTK_BIN=path` measures another mqtk
//! binary (e.g. an older build) in place of this one. Loopback only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

mod common;
use common::{Broker, mosquitto_path, start};

/// Logging off: both brokers would otherwise write a line per connection.
const LOG_OFF: &str = "log_dest none\n";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const CONNECT: [u8; 14] = [
    0x10, 0x0c, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00,
];
const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
const DISCONNECT: [u8; 2] = [0xe0, 0x00];

/// One CONNECT (empty client id, clean session) → CONNACK; the open stream.
fn connect(port: u16) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(&CONNECT)?;
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack)?;
    if ack != CONNACK {
        return Err(std::io::Error::other(format!("CONNACK {ack:02x?}")));
    }
    Ok(s)
}

#[derive(Clone, Copy, Debug, Default)]
struct Status {
    rss_kb: u64,
    hwm_kb: u64,
    threads: u64,
}

fn status(pid: u32) -> Status {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Status {
        rss_kb: field("VmRSS:"),
        hwm_kb: field("VmHWM:"),
        threads: field("Threads:"),
    }
}

/// Resets VmHWM to the current RSS (Linux: write 5 to clear_refs).
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// `clients` threads connecting and disconnecting for `secs`; (cycles, errors).
fn churn(port: u16, clients: usize, secs: u64) -> (u64, u64) {
    let cycles = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (cycles, errors, stop) = (cycles.clone(), errors.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match connect(port) {
                        Ok(mut s) => {
                            let _ = s.write_all(&DISCONNECT);
                            cycles.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    (
        cycles.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
    )
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn churn_rounds(b: &Broker, rounds: usize, clients: usize, secs: u64) {
    let pid = b.child.id();
    std::thread::sleep(Duration::from_secs(1));
    let start = status(pid);
    println!(
        "  {:<10} idle: RSS {}, {} threads",
        b.name,
        mb(start.rss_kb),
        start.threads
    );
    for r in 1..=rounds {
        reset_peak(pid);
        let (cycles, errors) = churn(b.port, clients, secs);
        let peak = status(pid).hwm_kb;
        std::thread::sleep(Duration::from_secs(2));
        let after = status(pid);
        println!(
            "  {:<10} churn round {r}: {cycles} cycles, {errors} errors; RSS peak {}, 2 s after {} ({:+.1} MB vs idle), {} threads",
            b.name,
            mb(peak),
            mb(after.rss_kb),
            (after.rss_kb as f64 - start.rss_kb as f64) / 1024.0,
            after.threads
        );
    }
}

fn idle_connections(b: &Broker, n: usize) {
    let pid = b.child.id();
    std::thread::sleep(Duration::from_secs(1));
    let before = status(pid);
    let conns: Vec<TcpStream> = (0..n)
        .map(|_| connect(b.port).expect("idle connection"))
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let held = status(pid);
    drop(conns);
    std::thread::sleep(Duration::from_secs(2));
    let after = status(pid);
    println!(
        "  {:<10} {n} idle connections: RSS {} -> {} ({:.2} KB each), {} threads; 2 s after closing: RSS {}, {} threads",
        b.name,
        mb(before.rss_kb),
        mb(held.rss_kb),
        (held.rss_kb as f64 - before.rss_kb as f64) / n as f64,
        held.threads,
        mb(after.rss_kb),
        after.threads
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(mosquitto) = mosquitto_path() else {
        eprintln!("skipping: mosquitto is not installed (apt-get install mosquitto)");
        return;
    };
    let mqtk = std::env::var("MQTK_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mqtk").into());
    let rounds = env_or("ROUNDS", 4);
    let clients = env_or("CHURN_CLIENTS", 300);
    let secs = env_or("CHURN_SECS", 10);
    let idle = env_or("IDLE", 2000);
    println!("broker memory: {mqtk} beside {}", mosquitto.display());
    println!("churn: {clients} clients connecting and disconnecting for {secs} s, {rounds} rounds");
    for (name, program, args) in [
        ("mqtk", mqtk.as_str(), &["broker"][..]),
        ("mosquitto", mosquitto.to_str().unwrap(), &[][..]),
    ] {
        let b = start(name, program, args, LOG_OFF);
        churn_rounds(&b, rounds, clients, secs);
    }
    println!("idle connections:");
    for (name, program, args) in [
        ("mqtk", mqtk.as_str(), &["broker"][..]),
        ("mosquitto", mosquitto.to_str().unwrap(), &[][..]),
    ] {
        let b = start(name, program, args, LOG_OFF);
        idle_connections(&b, idle);
    }
}
