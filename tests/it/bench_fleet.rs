//! `mqtk bench` beyond one process: shards (`--shard I/N`, `auto/N` from
//! JOB_COMPLETION_INDEX) started together (`--start-at`) against Debian's mosquitto and
//! merged exactly; the `--metrics` endpoint, whose counters end equal to the report's;
//! a real Prometheus scraping two shards; the Kubernetes Job validated against the
//! Kubernetes schemas (kubernetes-validate, offline) and its container command run
//! here as N local shards; the Grafana dashboard's queries run by that Prometheus.
//!
//! Prometheus and kubernetes-validate are real parts like mosquitto: missing, they are
//! skipped with the reason, unless MQTK_REQUIRE_MOSQUITTO=1 (CI), which fails.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mqtk::cmd::bench::report::Report;

use crate::util::{
    Mosquitto, Sandbox, Spawned, TestBroker, assert_code, describe, free_port, poll_until,
    run_with_timeout, which,
};

const T: Duration = Duration::from_secs(60);

/// Whether a real part other than mosquitto is here, as `util::have_mosquitto_tool`
/// decides it: missing, the test is skipped with the reason, or fails when
/// MQTK_REQUIRE_MOSQUITTO=1.
fn have_tool(tool: &str, install: &str) -> Option<PathBuf> {
    let found = which(tool);
    if found.is_none() {
        if std::env::var("MQTK_REQUIRE_MOSQUITTO").as_deref() == Ok("1") {
            panic!("{tool} is not installed, and MQTK_REQUIRE_MOSQUITTO=1 requires it ({install})");
        }
        eprintln!("skipping: {tool} is not installed ({install})");
    }
    found
}

fn report(path: &Path) -> Report {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `ms` since the epoch as `--start-at` takes it: Unix seconds with a fraction.
fn unix_seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// A GET over HTTP/1.0 (so that the body comes whole, not chunked): status and body,
/// or `None` when nothing listens.
fn http_get(port: u16, target: &str, accept: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n{accept}\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The samples of an exposition: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Three shards on this machine, one `--start-at`, against Debian's mosquitto, with
/// one id template for all (as in Kubernetes, where every pod is process 1): the
/// shards' own index ranges keep the client ids distinct (mosquitto's log shows each
/// once), they start within 100 ms of each other, and the merge is their sum.
#[test]
fn three_shards_start_together_and_merge_to_their_sum() {
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let sb = Sandbox::new();
    let start_at = now_ms() + 2_000;
    let shards: Vec<Spawned> = (0..3)
        .map(|i| {
            Spawned::spawn(sb.mqtk().args([
                "bench",
                "-p",
                &m.port.to_string(),
                "-i",
                "fleet-%i",
                "-c",
                "3",
                "-q",
                "1",
                "-L",
                "300",
                "-s",
                "32",
                "--shard",
                &format!("{i}/3"),
                "--start-at",
                &unix_seconds(start_at),
                "--json",
                &format!("s{i}.json"),
                "--quiet",
            ]))
        })
        .collect();
    for s in shards {
        let out = s.finish(T);
        assert_code(&out, 0);
        assert!(out.stderr.is_empty(), "{}", describe(&out));
    }
    let parts: Vec<Report> = (0..3)
        .map(|i| report(&sb.file(&format!("s{i}.json"))))
        .collect();
    let out = run_with_timeout(
        sb.mqtk().args([
            "bench", "merge", "s0.json", "s1.json", "s2.json", "--json", "all.json",
        ]),
        T,
    );
    assert_code(&out, 0);
    assert!(out.stderr.is_empty(), "no warnings: {}", describe(&out));
    let all = report(&sb.file("all.json"));
    check_sum(&parts, &all);
    let starts: Vec<u64> = parts.iter().map(|r| r.start_unix_ms).collect();
    let spread = starts.iter().max().unwrap() - starts.iter().min().unwrap();
    eprintln!("--start-at {start_at} ms: shards started at {starts:?}, spread {spread} ms");
    assert!(spread <= 100, "starts {starts:?}");
    for s in &starts {
        assert!((start_at..=start_at + 100).contains(s), "{s} vs {start_at}");
    }
    assert_eq!(all.start_spread_ms, Some(spread));
    assert_eq!(all.start_unix_ms, *starts.iter().min().unwrap());
    // mosquitto saw 18 clients, each id once: shard i has indices 3i..3i+2.
    let log = m.log();
    let ids: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("New client connected"))
        .filter_map(|l| l.split(" as ").nth(1)?.split(' ').next())
        .collect();
    let distinct: BTreeSet<&str> = ids.iter().copied().collect();
    let want: BTreeSet<String> = (0..9)
        .flat_map(|i| [format!("fleet-{i}-pub"), format!("fleet-{i}-sub")])
        .collect();
    assert_eq!(ids.len(), 18, "{log}");
    assert_eq!(
        distinct,
        want.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
}

/// A `--start-at` already past starts at once: one warning line saying by how much,
/// the same words as the report's note, and the measured start is now, not then.
#[test]
fn a_start_time_in_the_past_starts_at_once_with_a_warning() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let launched = now_ms();
    let out = run_with_timeout(
        sb.mqtk().args([
            "bench",
            "-p",
            &b.port().to_string(),
            "-q",
            "1",
            "-L",
            "20",
            "--start-at",
            "2020-01-01T00:00:00Z",
            "--json",
            "r.json",
            "--quiet",
        ]),
        T,
    );
    assert_code(&out, 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Warning: --start-at 2020-01-01T00:00:00Z had passed ")
            && err.ends_with(" s before the clients were ready: started at once.\n")
            && err.lines().count() == 1,
        "{}",
        describe(&out)
    );
    let r = report(&sb.file("r.json"));
    assert!(
        r.start_unix_ms >= launched,
        "{} < {launched}",
        r.start_unix_ms
    );
    assert_eq!((r.totals.sent, r.totals.received), (20, 20));
    let note = err
        .trim_end()
        .trim_start_matches("Warning: ")
        .trim_end_matches('.');
    assert!(r.notes.iter().any(|n| n == note), "{:?} vs {note}", r.notes);
}

/// The merged report is the shards' sum: every total, and each histogram exactly.
fn check_sum(parts: &[Report], all: &Report) {
    let sum = |f: fn(&Report) -> u64| parts.iter().map(f).sum::<u64>();
    let t = &all.totals;
    assert_eq!(t.sent, sum(|r| r.totals.sent));
    assert_eq!(t.acked, sum(|r| r.totals.acked));
    assert_eq!(t.received, sum(|r| r.totals.received));
    assert_eq!(t.connects_ok, sum(|r| r.totals.connects_ok));
    assert_eq!(t.connect_attempts, sum(|r| r.totals.connect_attempts));
    assert_eq!(t.expected, Some(sum(|r| r.totals.expected.unwrap())));
    assert_eq!(t.lost, Some(0));
    assert_eq!((t.duplicates, t.gaps), (0, 0));
    assert_eq!(t.received, t.sent, "{t:?}");
    for name in ["e2e", "ack", "connect"] {
        let mut h = parts[0].latency[name].histogram().unwrap();
        for p in &parts[1..] {
            h.add(p.latency[name].histogram().unwrap()).unwrap();
        }
        assert_eq!(all.latency[name].histogram().unwrap(), h, "{name}");
    }
    eprintln!(
        "merged {} shards: sent {}, received {}, connects {}",
        parts.len(),
        t.sent,
        t.received,
        t.connects_ok
    );
}

/// `--metrics`: served while the run lasts, and at its end (during
/// `--metrics-linger`) every counter equals the JSON report's total; a signal ends
/// the linger. OpenMetrics for a scraper that asks, Prometheus text otherwise.
#[test]
fn metrics_end_equal_to_the_report() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let port = free_port();
    let bench = Spawned::spawn(sb.mqtk().args([
        "bench",
        "-p",
        &b.port().to_string(),
        "-c",
        "2",
        "-q",
        "1",
        "-I",
        "5",
        "--duration",
        "1.5",
        "--shard",
        "1/2",
        "--metrics",
        &format!("127.0.0.1:{port}"),
        "--metrics-linger",
        "60",
        "--json",
        "r.json",
        "--quiet",
    ]));
    // While it runs: the counters grow.
    poll_until("a live scrape with messages sent", T, || {
        http_get(port, "/metrics", None).is_some_and(|(_, body)| {
            let s = samples(&body);
            s.get("mqtk_bench_running{shard=\"1\"}") == Some(&1.0)
                && s.get("mqtk_bench_sent_total{shard=\"1\"}")
                    .is_some_and(|v| *v > 0.0)
        })
    });
    bench.wait_stdout("  errors ", 1);
    let r = report(&sb.file("r.json"));
    let openmetrics = "application/openmetrics-text; version=1.0.0";
    let (status, body) = http_get(port, "/metrics", Some(openmetrics)).expect("lingering");
    assert_eq!(status, 200);
    assert!(body.ends_with("# EOF\n"), "OpenMetrics: {body}");
    let s = samples(&body);
    let get = |name: &str| s[&format!("mqtk_bench_{name}{{shard=\"1\"}}")] as u64;
    let t = &r.totals;
    for (name, want) in [
        ("sent_total", t.sent),
        ("acked_total", t.acked),
        ("received_total", t.received),
        ("expected_total", t.expected.unwrap()),
        ("lost_total", t.lost.unwrap()),
        ("duplicates_total", t.duplicates),
        ("out_of_order_total", t.out_of_order),
        ("connects_total", t.connects_ok),
        ("connect_attempts_total", t.connect_attempts),
        ("disconnects_total", t.disconnects),
        ("subscribed_total", t.subscribed),
        ("sequence_gaps", t.gaps),
        ("e2e_latency_seconds_count", r.latency["e2e"].count),
        ("ack_latency_seconds_count", r.latency["ack"].count),
        ("connect_latency_seconds_count", r.latency["connect"].count),
        ("running", 0),
    ] {
        assert_eq!(get(name), want, "{name}\n{body}");
    }
    assert!(t.sent > 100, "{t:?}");
    assert_eq!(get("start_time_seconds"), r.start_unix_ms / 1000);
    let (status, text) = http_get(port, "/metrics", None).unwrap();
    assert_eq!(status, 200);
    assert!(!text.contains("# EOF") && text.contains("# TYPE mqtk_bench_sent_total counter"));
    assert_eq!(http_get(port, "/", None).unwrap().0, 404);
    bench.signal("TERM");
    assert_code(&bench.finish(Duration::from_secs(10)), 0);
}

/// A taken `--metrics` port is an error before any client connects.
#[test]
fn a_taken_metrics_port_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let sb = Sandbox::new();
    let out = run_with_timeout(
        sb.mqtk().args([
            "bench",
            "-p",
            "1",
            "--metrics",
            &format!("127.0.0.1:{port}"),
        ]),
        T,
    );
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("Error: --metrics 127.0.0.1:{port}: cannot listen: Address already in use\n")
    );
}

/// Prometheus's instant query: the value of the one result, or `None` while there is
/// none.
fn prom_query(port: u16, query: &str) -> Result<Option<f64>, String> {
    let enc: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (_, body) = http_get(port, &format!("/api/v1/query?query={enc}"), None)
        .ok_or("Prometheus is not answering")?;
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if v["status"] != "success" {
        return Err(body);
    }
    Ok(v["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok()))
}

/// Starts Prometheus on a free loopback port, scraping `targets` every second, with its
/// own storage in `sb`; returns once it is ready.
fn start_prometheus(prometheus: &Path, sb: &Sandbox, targets: &[u16]) -> (Spawned, u16) {
    let port = free_port();
    let list: Vec<String> = targets.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
    let conf = sb.file("prometheus.yml");
    std::fs::write(
        &conf,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: mqtk\n    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        ),
    )
    .unwrap();
    let p = Spawned::spawn(Command::new(prometheus).args([
        format!("--config.file={}", conf.display()),
        format!("--storage.tsdb.path={}", sb.file("tsdb").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--log.level=warn".to_string(),
    ]));
    poll_until("Prometheus ready", T, || {
        http_get(port, "/-/ready", None).is_some_and(|(s, _)| s == 200)
    });
    (p, port)
}

/// A real Prometheus scrapes two running shards every second; after the run (while
/// they linger) its `sum(mqtk_bench_received_total)` is the sum of the reports'
/// received totals. The Grafana dashboard's queries are valid PromQL to it.
#[test]
fn prometheus_sums_what_the_reports_say() {
    let Some(prometheus) = have_tool("prometheus", "apt-get install prometheus") else {
        return;
    };
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let ports = [free_port(), free_port()];
    let (prom, prom_port) = start_prometheus(&prometheus, &sb, &ports);
    let shards: Vec<Spawned> = (0..2)
        .map(|i| {
            Spawned::spawn(sb.mqtk().args([
                "bench",
                "-p",
                &b.port().to_string(),
                "-c",
                "2",
                "-q",
                "1",
                "-I",
                "10",
                "--duration",
                "2",
                "--shard",
                &format!("{i}/2"),
                "--metrics",
                &format!("127.0.0.1:{}", ports[i]),
                "--metrics-linger",
                "60",
                "--json",
                &format!("p{i}.json"),
                "--quiet",
            ]))
        })
        .collect();
    for s in &shards {
        s.wait_until("its summary", T, |c| {
            crate::util::count(&c.stdout, "  errors ") > 0
        });
    }
    let want: u64 = (0..2)
        .map(|i| report(&sb.file(&format!("p{i}.json"))).totals.received)
        .sum();
    assert!(want > 100, "{want}");
    let mut seen = None;
    poll_until("Prometheus to have the final totals", T, || {
        seen = prom_query(prom_port, "sum(mqtk_bench_received_total)").unwrap();
        seen == Some(want as f64)
    });
    eprintln!("Prometheus: sum(mqtk_bench_received_total) = {seen:?}, reports: {want}");
    assert_eq!(
        prom_query(prom_port, "count(mqtk_bench_running == 0)").unwrap(),
        Some(2.0)
    );
    for expr in dashboard_queries() {
        let q = expr.replace("$__rate_interval", "1m");
        prom_query(prom_port, &q).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
    for s in shards {
        s.signal("TERM");
        assert_code(&s.finish(Duration::from_secs(10)), 0);
    }
    drop(prom);
}

/// The PromQL of the Grafana dashboard's panels.
fn dashboard_queries() -> Vec<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/mqtk-bench-dashboard.json");
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exprs: Vec<String> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    assert!(exprs.len() >= 8, "{exprs:?}");
    exprs
}

fn manifest_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/mqtk-bench-job.yaml")
}

/// The Job's spec, parsed.
fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(manifest_path()).unwrap();
    serde_yaml_ng::from_str(&text).expect("the manifest is YAML")
}

/// The manifest is a valid Kubernetes Job by the Kubernetes schemas (bundled with
/// kubernetes-validate, so offline), an Indexed Job whose N is the same in
/// completions, parallelism and `--shard auto/N`, scraped where it serves metrics.
#[test]
fn the_kubernetes_job_is_valid_and_consistent() {
    let job = manifest();
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(n));
    let pod = &spec["template"];
    let c = &pod["spec"]["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let after = |flag: &str| args[args.iter().position(|a| *a == flag).unwrap() + 1];
    assert_eq!(after("--shard"), format!("auto/{n}"));
    let port = c["ports"][0]["containerPort"].as_u64().unwrap();
    assert_eq!(after("--metrics"), format!("0.0.0.0:{port}"));
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/port"], port.to_string());
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert!(after("--metrics-linger").parse::<f64>().unwrap() > 30.0);
    assert!(c["resources"]["limits"]["memory"].is_string());
    let Some(validate) = have_tool("kubernetes-validate", "pip install kubernetes-validate") else {
        return;
    };
    // The tool's own environment (a Python install may need HOME and more); it reads
    // nothing of ours but the file.
    let out = run_with_timeout(
        Command::new(validate).arg("--strict").arg(manifest_path()),
        T,
    );
    assert_code(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("passed for resource job/mqtk-bench"),
        "{}",
        describe(&out)
    );
}

/// Kubernetes' `$(VAR)` expansion of container args from the container's env.
fn expand(arg: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = arg.to_string();
    for (k, v) in env {
        out = out.replace(&format!("$({k})"), v);
    }
    out
}

/// The Job's own container command, run here as its N shards with JOB_COMPLETION_INDEX
/// 0…N-1 against our broker: its env gives the broker (here), a small load and a start
/// time just ahead; the one change is the metrics address, as the N shards share this
/// machine's ports where pods each have their own. Each prints its report on stdout
/// (`--json -`); merged, they are their sum exactly, with nothing to warn about.
#[test]
fn the_jobs_command_runs_as_n_shards_that_merge_exactly() {
    let job = manifest();
    let n = job["spec"]["completions"].as_u64().unwrap() as usize;
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    let mut env: BTreeMap<String, String> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().into(),
                e["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    let b = TestBroker::start();
    let start_at = now_ms() + 3_000;
    for (k, v) in [
        ("BROKER_HOST", "127.0.0.1".to_string()),
        ("BROKER_PORT", b.port().to_string()),
        ("START_AT", unix_seconds(start_at)),
        ("CLIENTS", "2".into()),
        ("RATE", "200".into()),
        ("DURATION", "1".into()),
    ] {
        assert!(env.insert(k.into(), v).is_some(), "the Job sets {k}");
    }
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| expand(a.as_str().unwrap(), &env))
        .map(|a| {
            if a == "0.0.0.0:9464" {
                "127.0.0.1:0".into()
            } else {
                a
            }
        })
        .collect();
    assert!(!args.iter().any(|a| a.contains("$(")), "{args:?}");
    let sb = Sandbox::new();
    let shards: Vec<Spawned> = (0..n)
        .map(|i| {
            Spawned::spawn(
                sb.mqtk()
                    .args(&args)
                    .env("JOB_COMPLETION_INDEX", i.to_string()),
            )
        })
        .collect();
    let mut files = Vec::new();
    for (i, s) in shards.into_iter().enumerate() {
        // The report is the one line on stdout; then the shard lingers for the last
        // scrape, which a signal ends.
        let c = s.wait_until("its report", T, |c| c.stdout.ends_with(b"\n"));
        s.signal("TERM");
        assert_code(&s.finish(Duration::from_secs(10)), 0);
        let file = sb.file(&format!("shard{i}.json"));
        std::fs::write(&file, &c.stdout).unwrap();
        files.push(file);
    }
    let parts: Vec<Report> = files.iter().map(|f| report(f)).collect();
    for (i, r) in parts.iter().enumerate() {
        assert_eq!(r.settings[0].shard, Some(i as u32));
        assert_eq!(r.settings[0].start_number, 2 * i as u32);
        assert!(r.totals.sent > 0, "shard {i}: {:?}", r.totals);
    }
    let out = run_with_timeout(
        sb.mqtk()
            .args(["bench", "merge", "--json", "all.json"])
            .args(&files),
        T,
    );
    assert_code(&out, 0);
    assert!(out.stderr.is_empty(), "no warnings: {}", describe(&out));
    let all = report(&sb.file("all.json"));
    check_sum(&parts, &all);
    eprintln!(
        "{n} shards of the Job's command: start spread {:?} ms",
        all.start_spread_ms
    );
}
