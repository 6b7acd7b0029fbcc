//! `mqtk bench`: the real binary against the in-process `TestBroker` (and a raw
//! listener, and a delaying proxy): every mode runs small and exits 0, the summary has
//! its fields, the JSON report is consistent, merge adds exactly, `--ifaddr` spreads
//! source addresses, and latency matches a known injected delay.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use mqtk::cmd::bench::report::Report;

use crate::util::{
    Sandbox, TestBroker, assert_code, describe, run_with_timeout, wait_with_timeout,
};

const T: Duration = Duration::from_secs(60);

fn bench(sb: &Sandbox, port: u16, args: &[&str]) -> std::process::Command {
    let mut c = sb.mqtk();
    let (mode, rest) = match args.first() {
        Some(m @ (&"pub" | &"sub" | &"conn")) => (Some(*m), &args[1..]),
        _ => (None, args),
    };
    c.arg("bench");
    if let Some(m) = mode {
        c.arg(m);
    }
    c.args(["-h", "127.0.0.1", "-p", &port.to_string(), "--quiet"])
        .args(rest);
    c
}

fn report(path: &Path) -> Report {
    let text = std::fs::read_to_string(path).expect("report written");
    serde_json::from_str(&text).expect("report parses")
}

/// Runs `mqtk bench ARGS --json FILE` to its end, checks its exit code, and returns its
/// output with the JSON report it wrote.
fn run_bench(sb: &Sandbox, port: u16, args: &[&str], code: i32) -> (Output, Report) {
    let json = sb.file("report.json");
    let out = run_with_timeout(bench(sb, port, args).arg("--json").arg(&json), T);
    assert_code(&out, code);
    (out, report(&json))
}

#[test]
fn pub_sub_qos1_loses_nothing_and_reports_consistently() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let (out, r) = run_bench(
        &sb,
        b.port(),
        &["-c", "5", "-q", "1", "-L", "1000", "-s", "32"],
        0,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for field in [
        "sent", "acked", "received", "loss", "p50", "p99", "p99.9", "e2e", "errors",
    ] {
        assert!(
            stdout.contains(field),
            "{field} missing:\n{}",
            describe(&out)
        );
    }
    let t = &r.totals;
    assert_eq!(t.connects_ok, 10);
    assert_eq!(t.sent, 1000);
    assert_eq!(t.acked, 1000);
    // %i in the topic: subscriber k hears publisher k only.
    assert_eq!(t.expected, Some(1000));
    assert_eq!(t.received, 1000);
    assert_eq!(t.lost, Some(0));
    assert_eq!((t.duplicates, t.gaps, t.unparsed), (0, 0, 0));
    assert_eq!(r.latency["e2e"].count, 1000);
    assert_eq!(r.latency["ack"].count, 1000);
    assert_eq!(r.latency["connect"].count, 10);
    let e2e = r.latency["e2e"].histogram().unwrap();
    assert_eq!(e2e.len(), 1000);
    assert!(r.latency["e2e"].p50_ms <= r.latency["e2e"].p99_ms);
}

#[test]
fn fan_out_counts_every_delivery() {
    // One topic for all: 2 publishers × 3 subscribers, QoS 2.
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let args = [
        "-c",
        "2",
        "--subscribers",
        "3",
        "-t",
        "fan/all",
        "-q",
        "2",
        "-L",
        "100",
        "-V",
        "5",
    ];
    let t = run_bench(&sb, b.port(), &args, 0).1.totals;
    assert_eq!(t.sent, 100);
    assert_eq!(t.acked, 100);
    assert_eq!(t.expected, Some(300));
    assert_eq!(t.received, 300);
    assert_eq!(t.lost, Some(0));
}

#[test]
fn pub_at_an_interval_keeps_its_schedule() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let args = ["pub", "-c", "5", "-I", "10", "--duration", "1", "-s", "16"];
    let (out, r) = run_bench(&sb, b.port(), &args, 0);
    // 5 publishers × (1 s / 10 ms + 1) at most; a slow machine may send fewer on time
    // but owes them, so the count stays near the schedule.
    assert!((300..=510).contains(&r.totals.sent), "{:?}", r.totals);
    assert!(!r.latency.contains_key("e2e"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("every 10 ms each"));
}

#[test]
fn sub_measures_what_a_separate_pub_sends() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let json = sb.file("s.json");
    let sub = bench(
        &sb,
        b.port(),
        &[
            "sub",
            "-c",
            "2",
            "-t",
            "sep/t",
            "-q",
            "1",
            "-L",
            "200",
            "--duration",
            "20",
            "--json",
        ],
    )
    .arg(&json)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    b.wait_subscriptions(2);
    let out = run_with_timeout(
        &mut bench(
            &sb,
            b.port(),
            &["pub", "-c", "1", "-t", "sep/t", "-q", "1", "-L", "100"],
        ),
        T,
    );
    assert_code(&out, 0);
    let out = wait_with_timeout(sub, T, "bench sub");
    assert_code(&out, 0);
    let r = report(&json);
    assert_eq!(r.totals.received, 200);
    assert_eq!(r.latency["e2e"].count, 200);
    assert_eq!((r.totals.gaps, r.totals.duplicates), (0, 0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("received      200"));
}

#[test]
fn conn_holds_connections_and_reports_memory() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let args = [
        "conn",
        "-c",
        "50",
        "--connect-rate",
        "500",
        "--duration",
        "0.5",
    ];
    let r = run_bench(&sb, b.port(), &args, 0).1;
    assert_eq!(r.totals.connects_ok, 50);
    assert_eq!(r.totals.connected_max, 50);
    assert_eq!(r.totals.disconnects, 0);
    assert_eq!(r.latency["connect"].count, 50);
    assert!(r.rss_bytes_per_connection.is_some());
    // 50 connections at 500/s take about 0.1 s.
    assert!(r.rates.connect_per_s < 700.0, "{:?}", r.rates);
}

#[test]
fn conn_errors_are_counted_by_kind() {
    // A port nobody listens on: every connection is refused.
    let port = crate::util::free_port();
    let sb = Sandbox::new();
    let (out, r) = run_bench(&sb, port, &["conn", "-c", "3", "--duration", "0.1"], 1);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 × ECONNREFUSED"),
        "{}",
        describe(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no client could connect"));
    assert_eq!(r.totals.connect_errors["ECONNREFUSED"], 3);
}

/// A listener that answers every CONNECT with a CONNACK and records where
/// connections come from.
fn raw_acceptor() -> (u16, Arc<Mutex<Vec<IpAddr>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().take(16) {
            let Ok(mut c) = conn else { return };
            s.lock().unwrap().push(c.peer_addr().unwrap().ip());
            std::thread::spawn(move || {
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut buf = [0u8; 256];
                if c.read(&mut buf).unwrap_or(0) > 0 {
                    // CONNACK, 3.1.1 §3.2: type 0x20, length 2, no session, accepted.
                    let _ = c.write_all(&[0x20, 0x02, 0x00, 0x00]);
                }
                while c.read(&mut buf).unwrap_or(0) > 0 {}
            });
        }
    });
    (port, seen)
}

#[test]
fn ifaddr_spreads_source_addresses() {
    let (port, seen) = raw_acceptor();
    let sb = Sandbox::new();
    let out = run_with_timeout(
        &mut bench(
            &sb,
            port,
            &[
                "conn",
                "-c",
                "4",
                "--ifaddr",
                "127.0.0.1,127.0.0.2",
                "--duration",
                "0.2",
            ],
        ),
        T,
    );
    assert_code(&out, 0);
    let mut ips = seen.lock().unwrap().clone();
    ips.sort();
    let want: Vec<IpAddr> = ["127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(ips, want);
}

/// A TCP proxy on loopback that holds every byte going to `upstream` for `delay`
/// (the way back is not delayed).
fn delaying_proxy(upstream: u16, delay: Duration) -> u16 {
    proxy(upstream, delay, None)
}

/// `delaying_proxy`, and with `stall = Some((after, length))` the way to `upstream`
/// also stops for `length`, `after` the connection was accepted: a broker that hangs.
fn proxy(upstream: u16, delay: Duration, stall: Option<(Duration, Duration)>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in l.incoming().take(16) {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], upstream)))
            else {
                return;
            };
            client.set_nodelay(true).unwrap();
            server.set_nodelay(true).unwrap();
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut s_in, mut c_out) = (server, client);
            let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
            let stall =
                stall.map(|(after, len)| (Instant::now() + after, Instant::now() + after + len));
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = c_in.read(&mut buf) {
                    let mut at = Instant::now() + delay;
                    if let Some((from, until)) = stall
                        && (from..until).contains(&Instant::now())
                    {
                        at = at.max(until);
                    }
                    if n == 0 || tx.send((at, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            });
            std::thread::spawn(move || {
                while let Ok((at, bytes)) = rx.recv() {
                    // The injected delay (or stall) itself: the behaviour under test.
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                    if s_out.write_all(&bytes).is_err() {
                        break;
                    }
                }
                let _ = s_out.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s_in, &mut c_out);
                let _ = c_out.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

#[test]
fn latency_matches_an_injected_delay() {
    let b = TestBroker::start();
    let delay = Duration::from_millis(20);
    let port = delaying_proxy(b.port(), delay);
    let sb = Sandbox::new();
    let (_, r) = run_bench(
        &sb,
        port,
        &["-c", "1", "-q", "1", "-I", "10", "-L", "100"],
        0,
    );
    assert_eq!(r.totals.received, 100);
    // Publisher → broker is delayed by 20 ms; broker → subscriber and the PUBACK back
    // are not: end-to-end and publish-to-ack p50 are both 20 ms plus loopback.
    for name in ["e2e", "ack"] {
        let p50 = r.latency[name].p50_ms;
        eprintln!("{name}: p50 {p50} ms");
        assert!(
            (20.0..=22.0).contains(&p50),
            "{name} p50 {p50} ms: {:?}",
            r.latency[name]
        );
    }
}

#[test]
fn merge_adds_reports_exactly() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let (a, c, m) = (sb.file("a.json"), sb.file("b.json"), sb.file("m.json"));
    for (path, n) in [(&a, "300"), (&c, "500")] {
        let out = run_with_timeout(
            bench(
                &sb,
                b.port(),
                &["pub", "-c", "2", "-q", "1", "-L", n, "--json"],
            )
            .arg(path),
            T,
        );
        assert_code(&out, 0);
    }
    let out = run_with_timeout(
        sb.mqtk()
            .arg("bench")
            .arg("merge")
            .arg(&a)
            .arg(&c)
            .arg("--json")
            .arg(&m),
        T,
    );
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 merged runs"));
    let (ra, rb, rm) = (report(&a), report(&c), report(&m));
    assert_eq!(rm.totals.sent, 800);
    assert_eq!(rm.totals.acked, 800);
    assert_eq!(rm.totals.connects_ok, 4);
    assert_eq!(rm.settings.len(), 2);
    let (ha, hb, hm) = (
        ra.latency["ack"].histogram().unwrap(),
        rb.latency["ack"].histogram().unwrap(),
        rm.latency["ack"].histogram().unwrap(),
    );
    assert_eq!(hm.len(), ha.len() + hb.len());
    let mut both = ha.clone();
    both.add(&hb).unwrap();
    assert_eq!(hm, both);
    assert_eq!(
        rm.latency["ack"].p99_ms,
        both.value_at_quantile(0.99) as f64 / 1e6
    );
}

/// One run merged twice would count twice: refused, naming the files. Runs with
/// different settings merge with a warning naming the fields that differ.
#[test]
fn merge_refuses_a_run_twice_and_warns_when_runs_differ() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let (a, c) = (sb.file("a.json"), sb.file("c.json"));
    for (path, qos) in [(&a, "0"), (&c, "1")] {
        let out = run_with_timeout(
            bench(&sb, b.port(), &["pub", "-L", "20", "-q", qos, "--json"]).arg(path),
            T,
        );
        assert_code(&out, 0);
    }
    let merge =
        |files: &[&Path]| run_with_timeout(sb.mqtk().args(["bench", "merge"]).args(files), T);
    let out = merge(&[&a, &a]);
    assert_code(&out, 1);
    let id = &report(&a).run_ids[0];
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error: {0} and {0} hold the same run (run id {id}); merged twice, it would be counted twice.\n",
            a.display()
        )
    );
    assert!(out.stdout.is_empty());
    let out = merge(&[&a, &c]);
    assert_code(&out, 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Warning: the merged runs differ in qos (0, 1): ")
            && err.lines().count() == 1,
        "{}",
        describe(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("note          the merged runs differ in qos")
    );
}

/// The summary counts in words ("1 publisher"), gives no rate for a window under
/// 0.1 s, and describes a subscriber run by what subscribers choose.
#[test]
fn summary_words_and_rates() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let (out, r) = run_bench(&sb, b.port(), &["pub", "-L", "1"], 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("mqtk bench pub: 1 publisher, QoS 0, 256 B, unpaced, "),
        "{text}"
    );
    // One message: its window is the time from the start signal to its write.
    let sent = if r.measured_s < 0.1 { "1 (–)" } else { "1 (" };
    assert!(
        text.contains(&format!("  sent          {sent}")),
        "{r:?}\n{text}"
    );
    let (out, _) = run_bench(&sb, b.port(), &["sub", "-t", "x/+", "--duration", "0.2"], 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!(
            "mqtk bench sub: 1 subscriber to x/+, QoS 0, 127.0.0.1:{} (MQTT 3.1.1)\n",
            b.port()
        )),
        "{text}"
    );
}

#[test]
fn merge_of_a_bad_file_fails_clearly() {
    let sb = Sandbox::new();
    std::fs::write(sb.file("x.json"), "{}").unwrap();
    let out = run_with_timeout(sb.mqtk().args(["bench", "merge", "x.json"]), T);
    assert_code(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a bench report"));
}

#[test]
fn invalid_flags_exit_1_with_a_clear_error() {
    let sb = Sandbox::new();
    for (args, text) in [
        (&["-c", "0"][..], "-c"),
        (&["-s", "8"][..], "--size"),
        (&["-q", "3"][..], "QoS"),
        (&["-t", "a/%z"][..], "unknown placeholder '%z'"),
        (&["-t", "a/#"][..], "Invalid publish topic"),
        (&["--rate", "10", "-I", "5"][..], "cannot be used with"),
        (&["conn", "--rate", "5"][..], "--connect-rate"),
        (&["--ifaddr", "nonsense"][..], "--ifaddr"),
        (&["--warmup", "-1"][..], "--warmup"),
        (
            &["--warmup", "5", "--duration", "1"][..],
            "shorter than --duration",
        ),
        (&["-k", "2"][..], "keepalive"),
        (&["--bogus"][..], "'--bogus'"),
        (&["-V", "5", "-D", "foo", "a", "b"][..], "foo"),
        (&["sub", "-s", "64"][..], "bench sub does not take -s"),
        (&["pub", "-o", "opts"][..], "options file"),
    ] {
        let out = run_with_timeout(&mut bench(&sb, 1, args), T);
        assert_code(&out, 1);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(text),
            "{args:?}: want {text:?} in {}",
            describe(&out)
        );
        // One line, one prefix (no "Error: Error:", no clap blank lines).
        assert!(
            err.starts_with("Error: ") && err.matches("Error:").count() == 1,
            "{args:?}: {}",
            describe(&out)
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: {}", describe(&out));
        assert!(out.stdout.is_empty(), "{args:?}: {}", describe(&out));
    }
}

#[test]
fn qos0_limit_run_ends_when_the_last_message_is_out() {
    // Regression: an unpaced QoS 0 publisher waited for its keep-alive (60 s) after
    // its last message, since nothing was left to acknowledge.
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let started = Instant::now();
    let (_, r) = run_bench(
        &sb,
        b.port(),
        &["-c", "2", "-q", "0", "-L", "2000", "-s", "16"],
        0,
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(r.totals.sent, 2000);
    assert!(r.elapsed_s < 15.0, "{}", r.elapsed_s);
}

#[test]
fn parallel_conn_runs_merge_into_one_count() {
    // The README's recipe for 100k+ connections, small: processes with their own start
    // numbers and source addresses, side by side, then `bench merge`.
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let children: Vec<_> = (0..3u32)
        .map(|i| {
            bench(
                &sb,
                b.port(),
                &[
                    "conn",
                    "-c",
                    "30",
                    "-n",
                    &(i * 30).to_string(),
                    "--ifaddr",
                    &format!("127.0.0.{},127.0.0.{}", 2 * i + 2, 2 * i + 3),
                    "--duration",
                    "1",
                    "--json",
                    &format!("conn{i}.json"),
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        assert_code(&wait_with_timeout(c, T, "bench conn"), 0);
    }
    let out = run_with_timeout(
        sb.mqtk().args([
            "bench",
            "merge",
            "conn0.json",
            "conn1.json",
            "conn2.json",
            "--json",
            "all.json",
        ]),
        T,
    );
    assert_code(&out, 0);
    let r = report(&sb.file("all.json"));
    assert_eq!(r.totals.connects_ok, 90);
    // All three held their connections at the same time.
    assert_eq!(r.totals.connected_max, 90);
    assert_eq!(r.latency["connect"].count, 90);
    assert!(
        r.totals.connect_errors.is_empty(),
        "{:?}",
        r.totals.connect_errors
    );
}

/// Ctrl-C, and SIGTERM as `timeout`, CI runners, systemd and Kubernetes send it:
/// publishing stops, what is in flight drains, the report and its JSON are written,
/// exit 0.
#[test]
fn interrupt_or_terminate_stops_publishing_and_still_reports() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let b = TestBroker::start();
        let sb = Sandbox::new();
        let json = sb.file("i.json");
        let child = bench(
            &sb,
            b.port(),
            &["pub", "-c", "2", "-q", "1", "-I", "5", "--json"],
        )
        .arg(&json)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
        // Signal once it is well under way (the broker has more than 100 messages).
        b.wait_stats("100 messages received", |s| {
            s.messages_received
                .load(std::sync::atomic::Ordering::SeqCst)
                > 100
        });
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
        let out = wait_with_timeout(child, T, "bench pub");
        assert_code(&out, 0);
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("mqtk bench pub: "),
            "signal {signal}: {}",
            describe(&out)
        );
        let r = report(&json);
        assert!(r.totals.sent > 100, "{:?}", r.totals);
        // Drained: every message sent was acknowledged before the report.
        assert_eq!(r.totals.acked, r.totals.sent, "signal {signal}");
    }
}

/// A broker that accepts one connection, answers its CONNECT and never acknowledges a
/// PUBLISH; `published` receives once PUBLISH bytes have arrived.
fn unacknowledging_broker() -> (u16, mpsc::Receiver<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut c, _)) = l.accept() else { return };
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut head = [0u8; 2];
        c.read_exact(&mut head).unwrap();
        let mut connect = vec![0u8; usize::from(head[1])];
        c.read_exact(&mut connect).unwrap();
        c.write_all(&[0x20, 0x02, 0x00, 0x00]).unwrap();
        let mut buf = [0u8; 4096];
        if c.read(&mut buf).unwrap_or(0) > 0 {
            let _ = tx.send(());
        }
        while c.read(&mut buf).unwrap_or(0) > 0 {}
    });
    (port, rx)
}

/// The first signal starts the drain, the second ends it at once: with a broker that
/// never acknowledges, a 60 s drain ends in moments, still with its report.
#[test]
fn a_second_signal_ends_the_drain_at_once() {
    let (port, published) = unacknowledging_broker();
    let sb = Sandbox::new();
    let json = sb.file("d.json");
    // Not --quiet: the first signal's line is the sign it was handled.
    let child = crate::util::Spawned::spawn(sb.mqtk().args([
        "bench",
        "pub",
        "-p",
        &port.to_string(),
        "-q",
        "1",
        "--drain",
        "60",
        "--json",
        json.to_str().unwrap(),
    ]));
    published
        .recv_timeout(Duration::from_secs(10))
        .expect("bench published");
    child.signal("TERM");
    child.wait_stderr("interrupt again to stop at once", 1);
    child.signal("TERM");
    let out = child.finish(Duration::from_secs(20));
    assert_code(&out, 0);
    let r = report(&json);
    assert!(r.totals.sent > 0, "{:?}", r.totals);
    assert_eq!(r.totals.acked, 0);
}

#[test]
fn retained_messages_of_earlier_runs_are_not_counted() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    for run in ["a", "b"] {
        let args = ["-c", "1", "-r", "-q", "1", "-t", "keep/t", "-L", "50"];
        let t = run_bench(&sb, b.port(), &args, 0).1.totals;
        assert_eq!(
            (t.received, t.lost, t.duplicates),
            (50, Some(0), 0),
            "{run}"
        );
    }
}

#[test]
fn refused_connections_are_counted_with_their_reason_code() {
    let mut config = TestBroker::config();
    config.allow_anonymous = false;
    let b = TestBroker::start_with(config);
    let sb = Sandbox::new();
    for (v, want) in [
        ("311", "2 × CONNACK refused 0x05"),
        ("5", "2 × CONNACK refused 0x87"),
    ] {
        let out = run_with_timeout(
            &mut bench(
                &sb,
                b.port(),
                &["conn", "-c", "2", "-V", v, "--duration", "0.1"],
            ),
            T,
        );
        assert_code(&out, 1);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(want), "-V {v}: {}", describe(&out));
    }
}

#[test]
fn websocket_and_unix_socket_transports_work_in_bench() {
    // The shared connection layer: bench reaches brokers over every transport.
    let sb = Sandbox::new();
    let sock = sb.file("mqtk.sock");
    let mut config = TestBroker::config();
    let tcp = config.listeners[0].clone();
    config.listeners.push(mqtk::broker::config::ListenerConfig {
        websockets: true,
        ..tcp.clone()
    });
    config.listeners.push(mqtk::broker::config::ListenerConfig {
        unix_socket: Some(sock.clone()),
        ..tcp
    });
    let b = TestBroker::start_with(config);
    let ws_port = match b.addrs()[1] {
        mqtk::broker::listener::BoundAddr::Tcp(a) => a.port(),
        ref other => panic!("{other:?}"),
    };
    let sock = sock.to_str().unwrap().to_string();
    for (port, extra) in [(ws_port, vec!["--ws"]), (b.port(), vec!["--unix", &sock])] {
        let mut args = vec!["-c", "2", "-q", "1", "-L", "100", "-V", "5"];
        args.extend(extra.iter().copied());
        let t = run_bench(&sb, port, &args, 0).1.totals;
        assert_eq!(
            (t.sent, t.received, t.lost),
            (100, 100, Some(0)),
            "{extra:?}"
        );
    }
}

#[test]
fn warmup_is_left_out_of_latency_and_rates() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let args = [
        "-c",
        "1",
        "-q",
        "1",
        "-I",
        "10",
        "--duration",
        "1.5",
        "--warmup",
        "0.5",
    ];
    let r = run_bench(&sb, b.port(), &args, 0).1;
    // ~150 messages, the first ~50 in the warm-up: counted, but not timed.
    assert_eq!(r.totals.received, r.totals.sent);
    let timed = r.latency["e2e"].count;
    assert!(
        timed < r.totals.received - 30 && timed > 60,
        "{timed} of {}",
        r.totals.received
    );
    assert!((0.8..=1.2).contains(&r.measured_s), "{}", r.measured_s);
    assert!(
        (70.0..=110.0).contains(&r.rates.received_per_s),
        "{:?}",
        r.rates
    );
}

#[test]
fn a_stalled_broker_shows_in_latency_coordinated_omission_corrected() {
    // The broker path hangs for 400 ms during a 2 s run at 100 msg/s with one message in
    // flight. The publisher cannot send while it waits for the ack, but the messages due
    // in that time keep their due times: ~40 of ~200 messages (20%) wait 200 ms on
    // average. A sender that timed itself would report one slow message and a p90 of
    // about 1 ms.
    let b = TestBroker::start();
    let port = proxy(
        b.port(),
        Duration::ZERO,
        Some((Duration::from_millis(800), Duration::from_millis(400))),
    );
    let sb = Sandbox::new();
    let args = [
        "pub",
        "-c",
        "1",
        "-q",
        "1",
        "--inflight",
        "1",
        "-I",
        "10",
        "--duration",
        "2",
    ];
    let r = run_bench(&sb, port, &args, 0).1;
    let ack = &r.latency["ack"];
    assert!(ack.count >= 150, "{ack:?}");
    assert!(
        ack.p90_ms > 50.0,
        "p90 {} ms: the stall was hidden",
        ack.p90_ms
    );
    assert!(
        ack.max_ms > 350.0 && ack.max_ms < 600.0,
        "max {} ms",
        ack.max_ms
    );
}

/// The load flags a mode does not take, each with a value, by clap id.
const MODE_FLAGS: &[(&str, &[&str])] = &[
    ("subscribers", &["--subscribers", "2"]),
    ("topic", &["-t", "x/%i"]),
    ("qos", &["-q", "1"]),
    ("size", &["-s", "64"]),
    ("retain", &["-r"]),
    ("rate", &["--rate", "10"]),
    ("interval", &["-I", "5"]),
    ("limit", &["-L", "5"]),
    ("warmup", &["--warmup", "1"]),
    ("drain", &["--drain", "1"]),
    ("max_inflight", &["-M", "5"]),
];

/// `mqtk bench [MODE] ARGS`, parsed and resolved (nothing connects).
fn resolve(
    mode: Option<&str>,
    args: &[&str],
) -> Result<mqtk::cmd::bench::BenchSettings, mqtk::exit::Error> {
    use clap::Parser;
    use mqtk::cli::bench::BenchMode;
    use mqtk::cmd::bench::Mode;
    let argv: Vec<&str> = ["mqtk", "bench"]
        .into_iter()
        .chain(mode)
        .chain(args.iter().copied())
        .collect();
    let cli = mqtk::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let mqtk::cli::Command::Bench(b) = cli.command else {
        panic!("not bench")
    };
    let (mode, load) = match b.mode {
        None => (Mode::PubSub, b.load),
        Some(BenchMode::Pub(a)) => (Mode::Pub, *a),
        Some(BenchMode::Sub(a)) => (Mode::Sub, *a),
        Some(BenchMode::Conn(a)) => (Mode::Conn, *a),
        Some(BenchMode::Merge(_)) => panic!("merge"),
    };
    mqtk::cmd::bench::resolve(mode, &load)
}

/// Each mode's help lists exactly the flags the mode takes: the others are hidden
/// there and refused when given (bench's -o and -d everywhere), and the defaults the
/// help names are the ones the settings get.
#[test]
fn each_modes_help_lists_what_it_takes_with_the_defaults_it_uses() {
    use clap::CommandFactory;
    use mqtk::cli::bench::{NOT_IN_CONN, NOT_IN_PUB, NOT_IN_SUB};
    let mut root = mqtk::cli::Cli::command();
    root.build();
    let bench = root.find_subcommand("bench").unwrap();
    for (mode, not_in) in [
        (None, &[][..]),
        (Some("pub"), NOT_IN_PUB),
        (Some("sub"), NOT_IN_SUB),
        (Some("conn"), NOT_IN_CONN),
    ] {
        let cmd = mode.map_or(bench, |m| bench.find_subcommand(m).unwrap());
        let visible: Vec<&str> = cmd
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .map(|a| a.get_id().as_str())
            .collect();
        for (id, args) in MODE_FLAGS {
            let hidden = not_in.contains(id);
            assert_eq!(!visible.contains(id), hidden, "{mode:?}: {id}");
            let r = resolve(mode, args);
            if hidden {
                let e = r.err().unwrap_or_else(|| panic!("{mode:?} took {args:?}"));
                assert!(e.message().contains("does not take"), "{}", e.message());
            } else {
                assert!(
                    r.is_ok(),
                    "{mode:?} {args:?}: {:?}",
                    r.err().map(|e| e.message())
                );
            }
        }
        for (id, flag) in [("options_file", ["-o", "f"]), ("debug", ["-d", "-d"])] {
            assert!(!visible.contains(&id), "{mode:?}: {id}");
            assert!(resolve(mode, &flag[..1 + usize::from(id == "options_file")]).is_err());
        }
        let help = cmd.clone().render_help().to_string();
        let s = resolve(mode, &[]).unwrap();
        let mut defaults = vec![];
        if !not_in.contains(&"topic") {
            defaults.push(format!("else {}", s.topic));
        }
        if !not_in.contains(&"qos") {
            defaults.push(format!("[default: {}]", s.qos as u8));
        }
        if !not_in.contains(&"size") {
            defaults.push(format!("[default: {}]", s.size));
        }
        if !not_in.contains(&"max_inflight") {
            defaults.push(format!("[default: {}]", s.inflight));
        }
        if !not_in.contains(&"drain") {
            defaults.push(format!("[default: {}]", s.drain.as_secs_f64()));
        }
        if !not_in.contains(&"warmup") {
            defaults.push(format!("[default: {}]", s.warmup.as_secs_f64()));
        }
        let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
        for d in defaults {
            assert!(flat.contains(&d), "{mode:?}: {d:?} not in\n{help}");
        }
        // `-c` is bench's clients, not the mosquitto flag the -x help used to name.
        assert!(flat.contains("-1 with --disable-clean-session"), "{help}");
    }
}
