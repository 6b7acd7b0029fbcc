//! `mqtk pub` end to end: the real binary against Debian's mosquitto (and the
//! in-process broker), differential error texts against Debian's mosquitto_pub, `-d`
//! lines, options files, streaming, and the delivery guarantee across a broker restart.

use std::cell::Cell;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::util::{
    Mosquitto, Sandbox, Spawned, TestBroker, assert_code, count, describe, free_port,
    have_mosquitto_tool, run_with_timeout, which,
};

const T: Duration = Duration::from_secs(10);

/// A mosquitto_sub that prints what it receives, read line by line.
struct Sub {
    proc: Spawned,
    /// Lines handed out so far.
    taken: Cell<usize>,
}

impl Sub {
    /// Starts mosquitto_sub on `m` and returns once mosquitto has acknowledged its
    /// subscription.
    fn start(sb: &Sandbox, m: &Mosquitto, args: &[&str]) -> Sub {
        let acked = m.subacks();
        let proc = Spawned::spawn(
            sb.command("mosquitto_sub")
                .arg("-p")
                .arg(m.port.to_string())
                .args(args),
        );
        m.wait_subacks(acked + 1);
        Sub {
            proc,
            taken: Cell::new(0),
        }
    }

    fn next(&self, timeout: Duration) -> Option<String> {
        self.take(1, timeout).pop()
    }

    /// The next `n` lines, or as many as came within `timeout`.
    fn take(&self, n: usize, timeout: Duration) -> Vec<String> {
        let from = self.taken.get();
        let c = self
            .proc
            .wait(timeout, |c| count(&c.stdout, "\n") >= from + n)
            .unwrap_or_else(|c| c);
        let text = c.stdout_text();
        let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let got: Vec<String> = whole.lines().skip(from).take(n).map(String::from).collect();
        self.taken.set(from + got.len());
        got
    }
}

fn pub_cmd(sb: &Sandbox, port: u16) -> Command {
    let mut c = sb.mqtk();
    c.arg("pub").arg("-p").arg(port.to_string());
    c
}

#[test]
fn qos_0_1_2_are_delivered_and_exit_0() {
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let sb = Sandbox::new();
    let sub = Sub::start(&sb, &m, &["-t", "q/#", "-v", "-q", "2"]);
    for q in ["0", "1", "2"] {
        let out = run_with_timeout(
            pub_cmd(&sb, m.port).args(["-t", &format!("q/{q}"), "-m", &format!("m{q}"), "-q", q]),
            T,
        );
        assert_code(&out, 0);
    }
    assert_eq!(sub.take(3, T), ["q/0 m0", "q/1 m1", "q/2 m2"]);
}

#[test]
fn v5_qos_and_properties_reach_the_subscriber() {
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let sb = Sandbox::new();
    let sub = Sub::start(&sb, &m, &["-t", "p/#", "-V", "5", "-F", "%t %P %p"]);
    let out = run_with_timeout(
        pub_cmd(&sb, m.port).args([
            "-t",
            "p/x",
            "-m",
            "pay",
            "-q",
            "1",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
            "-D",
            "connect",
            "user-property",
            "c",
            "d",
        ]),
        T,
    );
    assert_code(&out, 0);
    assert_eq!(sub.next(T).as_deref(), Some("p/x k:v pay"));
}

#[test]
fn in_process_broker_acknowledges_qos1_and_qos2() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    for q in ["1", "2"] {
        for v in ["311", "5"] {
            let out = run_with_timeout(
                pub_cmd(&sb, b.port()).args(["-t", "t", "-m", "x", "-q", q, "-V", v]),
                T,
            );
            assert_code(&out, 0);
        }
    }
}

/// Runs the same arguments through Debian's mosquitto_pub and through our binary
/// named mosquitto_pub; stderr and exit code must be identical.
fn differential(sb: &Sandbox, args: &[&str]) {
    let theirs = run_with_timeout(sb.command("mosquitto_pub").args(args), T);
    let ours = run_with_timeout(sb.command(sb.multicall("mosquitto_pub")).args(args), T);
    assert_eq!(
        (String::from_utf8_lossy(&ours.stderr), ours.status.code()),
        (
            String::from_utf8_lossy(&theirs.stderr),
            theirs.status.code()
        ),
        "args {args:?}\n--- ours ---\n{}\n--- theirs ---\n{}",
        describe(&ours),
        describe(&theirs)
    );
}

#[test]
fn usage_errors_match_mosquitto_pub() {
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let sb = Sandbox::new();
    let dead = free_port().to_string();
    // Where 2.1 words it differently (-f, -D names), tests/it/mosquitto21.rs holds
    // 2.1's strings.
    for args in [
        &["-z"][..],
        &["foo"],
        &[],
        &["-t", "a"],
        &["-m", "x"],
        &["-t", "a/+", "-m", "x"],
        &["-t", "a/#", "-m", "x"],
        &["-t", "a", "-m", "x", "-p", "70000"],
        &["-t", "a", "-m", "x", "-q", "3"],
        &["-t", "a", "-m", "x", "-k", "3"],
        &["-t", "a", "-m", "x", "-V", "7"],
        &["-t", "a", "-m", "x", "-l"],
        &["-t", "a", "-m", "x", "-D", "connect", "content-type", "1"],
        &["-t", "a", "-m", "x", "-D", "publish", "user-property", "k"],
        &["-t", "a", "-m", "x", "-D", "publish"],
        &["-t", "a", "-m", "x", "-c"],
        &["-t", "a", "-m", "x", "-i", ""],
        &["-t", "a", "-m", "x", "--will-payload", "p"],
        &["-t", "a", "-m", "x", "--will-retain"],
        &["-t", "a", "-m", "x", "--will-qos", "5"],
        &["-t", "a", "-m", "x", "--will-topic", "w/+"],
        &["-t", "a", "-m", "x", "--cert", "c"],
        &["-t", "a", "-m", "x", "--psk", "00"],
        &["-t", "a", "-m", "x", "-M", "0"],
        &["-t", "a", "-m", "x", "--repeat", "0"],
        &["-t", "a", "-m", "x", "-x", "foo"],
        &["-t", "a", "-m", "x", "-p"],
        &["-t"],
        &["-t", "a", "-m", "x", "-p", &dead],
    ] {
        differential(&sb, args);
    }
}

/// A topic longer than MQTT's 65,535 bytes is called too long, and only its start is
/// shown (mosquitto echoes all of it and speaks of wildcards or of malformed UTF-8),
/// wherever a topic is given.
#[test]
fn an_overlong_topic_is_called_too_long() {
    let sb = Sandbox::new();
    let long = "t".repeat(70_000);
    let start = "t".repeat(40);
    for (args, what, tool) in [
        (vec!["pub", "-t", &long, "-m", "x"], "publish topic", "pub"),
        (
            vec!["pub", "-t", "a", "-m", "x", "--will-topic", &long],
            "will topic",
            "pub",
        ),
        (vec!["sub", "-t", &long], "subscription topic", "sub"),
        (vec!["sub", "-t", "a", "-T", &long], "filter topic", "sub"),
        (vec!["sub", "-U", &long], "unsubscribe topic", "sub"),
        (
            vec!["rr", "-t", "a", "-m", "x", "-e", &long],
            "response topic",
            "rr",
        ),
    ] {
        let out = run_with_timeout(sb.mqtk().args(&args), T);
        assert_code(&out, 1);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "Error: Invalid {what} '{start}…': too long (70000 bytes, at most 65535).\n\n\
                 Use 'mqtk {tool} --help' to see usage.\n"
            ),
        );
    }
}

/// A failed name lookup, run in a network namespace of its own (`unshare -rn`, only a
/// down loopback inside): the lookup fails on this machine, so no DNS query leaves it.
#[test]
fn lookup_failure_matches_mosquitto_pub() {
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let Some(unshare) = which("unshare") else {
        eprintln!("skipping: unshare is not installed (util-linux)");
        return;
    };
    let isolated = Command::new(&unshare)
        .args(["-rn", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !isolated {
        eprintln!("skipping: unshare -rn is not permitted here");
        return;
    }
    let sb = Sandbox::new();
    let args = ["-t", "a", "-m", "x", "-h", "nonexistent.invalid"];
    let run_isolated = |program: &std::ffi::OsStr| {
        let mut cmd = sb.command(&unshare);
        cmd.arg("-rn").arg(program).args(args);
        run_with_timeout(&mut cmd, T)
    };
    let theirs = run_isolated("mosquitto_pub".as_ref());
    let ours = run_isolated(sb.multicall("mosquitto_pub").as_os_str());
    assert_eq!(
        (String::from_utf8_lossy(&ours.stderr), ours.status.code()),
        (
            String::from_utf8_lossy(&theirs.stderr),
            theirs.status.code()
        ),
        "--- ours ---\n{}\n--- theirs ---\n{}",
        describe(&ours),
        describe(&theirs)
    );
    assert_ne!(ours.status.code(), Some(0));
}

#[test]
fn refused_connections_match_mosquitto_pub() {
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    // The later line overrides the harness's `allow_anonymous true`.
    let Some(m) = Mosquitto::start("allow_anonymous false") else {
        return;
    };
    let sb = Sandbox::new();
    let port = m.port.to_string();
    differential(&sb, &["-p", &port, "-t", "a", "-m", "x"]);
    differential(&sb, &["-p", &port, "-t", "a", "-m", "x", "-V", "5"]);
    differential(&sb, &["-p", &port, "-t", "a", "-m", "x", "-V", "31"]);
    // And the exit codes are the CONNACK codes: 5 (3.1.1), 0x87 (v5).
    let out = run_with_timeout(pub_cmd(&sb, m.port).args(["-t", "a", "-m", "x"]), T);
    assert_code(&out, 5);
    let out = run_with_timeout(
        pub_cmd(&sb, m.port).args(["-t", "a", "-m", "x", "-V", "5", "--quiet"]),
        T,
    );
    assert_code(&out, 135);
    assert!(out.stderr.is_empty(), "--quiet printed: {}", describe(&out));
}

#[test]
fn debug_lines_match_mosquitto_pub() {
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let sb = Sandbox::new();
    let port = m.port.to_string();
    for args in [
        &["-p", &port, "-t", "d/0", "-m", "hello", "-d"][..],
        &[
            "-p", &port, "-t", "d/1", "-m", "hello", "-d", "-q", "1", "-i", "dbg1",
        ],
        &[
            "-p", &port, "-t", "d/2", "-m", "hello", "-d", "-q", "2", "-r", "-i", "dbg2",
        ],
        &[
            "-p", &port, "-t", "d/5", "-n", "-d", "-q", "1", "-V", "5", "-i", "dbg5",
        ],
        &[
            "-p", &port, "-t", "d/p", "-m", "x", "-d", "-u", "bob", "-P", "s3cret", "-i", "d",
        ],
    ] {
        let theirs = run_with_timeout(sb.command("mosquitto_pub").args(args), T);
        let ours = run_with_timeout(sb.command(sb.multicall("mosquitto_pub")).args(args), T);
        assert_code(&ours, 0);
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "args {args:?}"
        );
        assert!(!String::from_utf8_lossy(&ours.stdout).contains("s3cret"));
    }
}

#[test]
fn failed_publish_reason_code_exits_nonzero() {
    // An ACL that lets nobody write: v5 PUBACK carries 0x87 Not authorized.
    let sb = Sandbox::new();
    let acl = sb.file("acl");
    std::fs::write(&acl, "topic read #\n").unwrap();
    let Some(m) = Mosquitto::start(&format!("acl_file {}", acl.display())) else {
        return;
    };
    let out = run_with_timeout(
        pub_cmd(&sb, m.port).args(["-t", "x", "-m", "y", "-q", "1", "-V", "5"]),
        T,
    );
    assert_code(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Warning: Publish 1 failed: Not authorized.\n"),
        "{}",
        describe(&out)
    );
}

#[test]
fn options_file_and_dash_o() {
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let sb = Sandbox::new();
    let sub = Sub::start(&sb, &m, &["-t", "opt/#", "-v"]);
    // The default file: $XDG_CONFIG_HOME/mosquitto_pub, one option per line.
    std::fs::write(
        sb.path().join("home/.config/mosquitto_pub"),
        format!("# defaults\n-p {}\n-t opt/default\n-q 1\n", m.port),
    )
    .unwrap();
    let out = run_with_timeout(sb.mqtk().args(["pub", "-m", "from default file"]), T);
    assert_code(&out, 0);
    assert_eq!(
        sub.next(T).as_deref(),
        Some("opt/default from default file")
    );
    // argv wins over the file.
    let out = run_with_timeout(sb.mqtk().args(["pub", "-m", "x", "-t", "opt/argv"]), T);
    assert_code(&out, 0);
    assert_eq!(sub.next(T).as_deref(), Some("opt/argv x"));
    // -o replaces the default file.
    let other = sb.file("other");
    std::fs::write(
        &other,
        format!("-p {}\n-t opt/other\n-m hello world\n", m.port),
    )
    .unwrap();
    let out = run_with_timeout(sb.mqtk().args(["pub", "-o", other.to_str().unwrap()]), T);
    assert_code(&out, 0);
    assert_eq!(sub.next(T).as_deref(), Some("opt/other hello world"));
}

#[test]
fn url_gives_host_port_and_topic() {
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let sb = Sandbox::new();
    let sub = Sub::start(&sb, &m, &["-t", "url/#", "-v"]);
    let url = format!("mqtt://user:pw@127.0.0.1:{}/url/topic", m.port);
    let out = run_with_timeout(sb.mqtk().args(["pub", "-L", &url, "-m", "via url"]), T);
    assert_code(&out, 0);
    assert_eq!(sub.next(T).as_deref(), Some("url/topic via url"));
}

#[test]
fn repeat_and_null_and_stdin_file() {
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let sb = Sandbox::new();
    let sub = Sub::start(&sb, &m, &["-t", "r/#", "-v"]);
    let out = run_with_timeout(
        pub_cmd(&sb, m.port).args([
            "-t",
            "r/a",
            "-m",
            "x",
            "--repeat",
            "3",
            "--repeat-delay",
            "0.01",
            "-q",
            "1",
        ]),
        T,
    );
    assert_code(&out, 0);
    assert_eq!(sub.take(3, T), ["r/a x", "r/a x", "r/a x"]);
    let out = run_with_timeout(pub_cmd(&sb, m.port).args(["-t", "r/n", "-n"]), T);
    assert_code(&out, 0);
    assert_eq!(sub.next(T).as_deref(), Some("r/n (null)"));
    let input = sb.file("in.txt");
    std::fs::write(&input, "all of\nstdin").unwrap();
    let out = run_with_timeout(
        pub_cmd(&sb, m.port)
            .args(["-t", "r/s", "-s"])
            .stdin(std::fs::File::open(&input).unwrap()),
        T,
    );
    assert_code(&out, 0);
    assert_eq!(sub.take(2, T), ["r/s all of", "stdin"]);
}

#[test]
fn large_file_is_streamed_intact() {
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let sb = Sandbox::new();
    // Above the whole-read threshold, so it takes the streaming path.
    let body: Vec<u8> = (0..3_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let f = sb.file("big");
    std::fs::write(&f, &body).unwrap();
    let acked = m.subacks();
    let mut sub = sb
        .command("mosquitto_sub")
        .args([
            "-p",
            &m.port.to_string(),
            "-t",
            "big",
            "-C",
            "1",
            "-N",
            "-q",
            "1",
            "-W",
            "10",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    m.wait_subacks(acked + 1);
    let out = run_with_timeout(
        pub_cmd(&sb, m.port).args(["-t", "big", "-q", "1", "-f", f.to_str().unwrap()]),
        T,
    );
    assert_code(&out, 0);
    let mut got = Vec::new();
    std::io::Read::read_to_end(sub.stdout.as_mut().unwrap(), &mut got).unwrap();
    let _ = sub.wait();
    assert_eq!(got.len(), body.len());
    assert!(got == body, "payload differs");
}

#[test]
fn line_mode_publishes_each_line_as_it_arrives() {
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let sb = Sandbox::new();
    let sub = Sub::start(&sb, &m, &["-t", "l/#", "-v"]);
    let mut child = pub_cmd(&sb, m.port)
        .args(["-t", "l/x", "-l", "-q", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Line 1 must arrive while stdin is still open and line 2 unwritten (tail -f).
    stdin.write_all(b"line 1\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(sub.next(T).as_deref(), Some("l/x line 1"));
    stdin.write_all(b"line 2\nlast without newline").unwrap();
    drop(stdin);
    let out = crate::util::wait_with_timeout(child, T, "mqtk pub -l");
    assert_code(&out, 0);
    assert_eq!(sub.take(2, T), ["l/x line 2", "l/x last without newline"]);
}

#[test]
fn bad_input_gets_clear_errors_and_exit_1() {
    let sb = Sandbox::new();
    let port = free_port().to_string();
    let run = |args: &[&str]| run_with_timeout(sb.mqtk().arg("pub").args(args), T);
    let out = run(&["-p", &port, "-t", "a", "-f", "/nonexistent"]);
    assert_code(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unable to read file"));
    // Invalid UTF-8 in a topic.
    let bad = {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(b"a/\xff").to_os_string()
    };
    let out = run_with_timeout(sb.mqtk().args(["pub", "-m", "x", "-t"]).arg(bad), T);
    assert_code(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("Error: Malformed UTF-8 in -t argument."),
        "{}",
        describe(&out)
    );
    // Oversized topic (stderr to a file: the message is larger than a pipe buffer).
    let long = "a".repeat(70_000);
    let errf = sb.file("long.err");
    let child = sb
        .mqtk()
        .args(["pub", "-t", &long, "-m", "x"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&errf).unwrap())
        .spawn()
        .unwrap();
    let out = crate::util::wait_with_timeout(child, T, "mqtk pub -t <70000 bytes>");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        std::fs::read_to_string(&errf)
            .unwrap()
            .starts_with("Error: Invalid publish topic 'aaa")
    );
    // A directory as stdin cannot be read.
    let out = run_with_timeout(
        sb.mqtk()
            .args(["pub", "-p", &port, "-t", "a", "-s"])
            .stdin(std::fs::File::open(sb.path()).unwrap()),
        T,
    );
    assert_code(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error loading input from stdin"));
    // A file over the MQTT limit (sparse: no disk used).
    let huge = sb.file("huge");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(268_435_456)
        .unwrap();
    let out = run(&["-p", &port, "-t", "a", "-f", huge.to_str().unwrap()]);
    assert_code(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("Error: File must be less than 268435455 bytes."),
        "{}",
        describe(&out)
    );
    // Options rustls cannot honour are refused by name.
    for (args, name) in [
        (&["--psk", "00", "--psk-identity", "i"][..], "--psk"),
        (&["--tls-engine", "e"], "--tls-engine"),
        (
            &["--cert", "c", "--key", "k", "--keyform", "engine"],
            "--keyform engine",
        ),
        (&["--tls-version", "tlsv1.1"], "--tls-version tlsv1.1"),
        (&["--mptcp"], "--mptcp"),
    ] {
        let mut all = vec!["-t", "a", "-m", "x"];
        all.extend_from_slice(args);
        let out = run(&all);
        assert_code(&out, 1);
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .starts_with(&format!("Error: {name} is not supported")),
            "{}",
            describe(&out)
        );
    }
}

/// Starts Debian's mosquitto on `port` with persistence in `sb` (so queued messages
/// for a persistent subscriber survive a restart), once its log says it is running.
fn start_persistent_mosquitto(sb: &Sandbox, port: u16) -> Mosquitto {
    let extra = format!(
        "persistence true\npersistence_location {}/\nmax_queued_messages 0\nuser {}\n",
        sb.path().display(),
        // Started as root, mosquitto drops to user "mosquitto", which cannot write
        // the sandbox: stay as whoever runs the test.
        std::env::var("USER").unwrap_or_else(|_| "root".into())
    );
    Mosquitto::start_on(port, &extra)
        .unwrap_or_else(|out| panic!("mosquitto did not start\n{}", describe(&out)))
}

/// A persistent QoS 1 subscriber on rumqttc (an independent client) that reconnects
/// by itself when the broker comes back; payloads arrive on the channel.
fn persistent_subscriber(port: u16, topic: &str) -> (rumqttc::Client, mpsc::Receiver<Vec<u8>>) {
    use rumqttc::{Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new("restart-sub", "127.0.0.1", port);
    opts.set_clean_session(false);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut conn) = rumqttc::Client::new(opts, 100);
    client.subscribe(topic, QoS::AtLeastOnce).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for n in conn.iter() {
            match n {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p.payload.to_vec()).is_err() {
                        return;
                    }
                }
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
                Ok(_) => {}
                // The broker is down: rumqttc fails each reconnect at once, so this is
                // the client's reconnect delay (not a wait for anything); the loop ends
                // with the test's own deadline.
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    });
    (client, rx)
}

#[test]
fn broker_restart_mid_run_loses_no_qos1_line() {
    if !have_mosquitto_tool("mosquitto") {
        return;
    }
    let sb = Sandbox::new();
    let port = free_port();
    let broker = start_persistent_mosquitto(&sb, port);
    let (client, lines) = persistent_subscriber(port, "kr/#");
    broker.wait_subacks(1);
    let mut publisher = pub_cmd(&sb, port)
        .args(["-t", "kr/x", "-l", "-q", "1", "-i", "restart-pub"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = publisher.stdin.take().unwrap();
    const N: usize = 2000;
    // A steady writer (about 2 s for all lines), so messages are in flight when the
    // broker stops: its pause is the pacing under test, not a wait.
    let writer = std::thread::spawn(move || {
        for i in 0..N {
            writeln!(stdin, "line {i}").unwrap();
            if i % 20 == 0 {
                stdin.flush().unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
    // Stop the broker a quarter of the way in, with lines in flight.
    broker.wait_log("Received PUBLISH from restart-pub", N / 4);
    // SIGTERM: mosquitto saves its persistence file on the way out.
    broker.stop();
    let broker = start_persistent_mosquitto(&sb, port);
    writer.join().unwrap();
    let out: Output =
        crate::util::wait_with_timeout(publisher, Duration::from_secs(30), "mqtk pub -l");
    assert_code(&out, 0);
    // At least once: every line arrives; duplicates are allowed.
    let mut seen = vec![false; N];
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.iter().any(|s| !s) && Instant::now() < deadline {
        if let Ok(p) = lines.recv_timeout(Duration::from_millis(500))
            && let Some(n) = std::str::from_utf8(&p)
                .ok()
                .and_then(|l| l.strip_prefix("line "))
                .and_then(|n| n.parse::<usize>().ok())
            && n < N
        {
            seen[n] = true;
        }
    }
    let _ = client.disconnect();
    broker.stop();
    let missing: Vec<usize> = (0..N).filter(|&i| !seen[i]).collect();
    assert!(
        missing.is_empty(),
        "{} lines lost, first {:?}\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        describe(&out)
    );
}

/// Every transport end to end against the in-process broker: plain TCP, a unix
/// socket, WebSocket, TLS with a CA file, and TLS with a client certificate; the
/// broker counts what arrived.
#[test]
fn every_transport_reaches_the_in_process_broker() {
    use mqtk::broker::config::ListenerConfig;
    use mqtk::broker::listener::BoundAddr;
    use std::sync::atomic::Ordering;
    let pki = crate::listeners::Pki::new();
    let sock = pki.dir.path().join("broker.sock");
    let tcp = |websockets, tls| ListenerConfig {
        port: 0,
        bind_address: Some("127.0.0.1".into()),
        socket_domain: None,
        unix_socket: None,
        websockets,
        tls,
    };
    let mut config = TestBroker::config();
    config.listeners = vec![
        tcp(false, None),
        ListenerConfig {
            unix_socket: Some(sock.clone()),
            ..tcp(false, None)
        },
        tcp(true, None),
        tcp(false, Some(pki.server_tls(false))),
        tcp(false, Some(pki.server_tls(true))),
    ];
    let b = TestBroker::start_with(config);
    let ports: Vec<u16> = b
        .addrs()
        .iter()
        .map(|a| match a {
            BoundAddr::Tcp(s) => s.port(),
            BoundAddr::Unix(_) => 0,
        })
        .collect();
    let sb = Sandbox::new();
    let ca = pki.ca.to_str().unwrap().to_string();
    let p = |i: usize| ports[i].to_string();
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("tcp", vec!["-p".into(), p(0)]),
        ("unix", vec!["--unix".into(), sock.to_str().unwrap().into()]),
        ("ws", vec!["-p".into(), p(2), "--ws".into()]),
        (
            "ws url",
            vec!["-L".into(), format!("ws://127.0.0.1:{}/t", p(2))],
        ),
        (
            "tls",
            vec!["-p".into(), p(3), "--cafile".into(), ca.clone()],
        ),
        (
            "tls client cert",
            vec![
                "-p".into(),
                p(4),
                "--cafile".into(),
                ca.clone(),
                "--cert".into(),
                pki.client_cert.to_str().unwrap().into(),
                "--key".into(),
                pki.client_key.to_str().unwrap().into(),
            ],
        ),
    ];
    for (name, args) in cases {
        let before = b.stats().messages_received.load(Ordering::SeqCst);
        let out = run_with_timeout(
            sb.mqtk()
                .args(["pub", "-h", "127.0.0.1", "-t", "t", "-m", "x", "-q", "1"])
                .args(&args),
            T,
        );
        assert_eq!(out.status.code(), Some(0), "{name}\n{}", describe(&out));
        let after = b.stats().messages_received.load(Ordering::SeqCst);
        assert_eq!(
            after,
            before + 1,
            "{name}: the broker did not count the message"
        );
    }
    // TLS without trusting the broker's CA is refused, in mosquitto's words.
    let out = run_with_timeout(
        sb.mqtk().args([
            "pub",
            "-h",
            "127.0.0.1",
            "-p",
            &p(3),
            "-t",
            "t",
            "-m",
            "x",
            "--tls-use-os-certs",
        ]),
        T,
    );
    assert_code(&out, 8);
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("Error: A TLS error occurred\n"),
        "{}",
        describe(&out)
    );
}

#[test]
fn will_is_published_when_the_client_dies() {
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let sb = Sandbox::new();
    let sub = Sub::start(&sb, &m, &["-t", "will/#", "-v"]);
    let mut child = pub_cmd(&sb, m.port)
        .args([
            "-t",
            "x",
            "-l",
            "--will-topic",
            "will/t",
            "--will-payload",
            "gone",
            "--will-qos",
            "1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Connected (mosquitto has its will) and waiting for lines; dying without
    // DISCONNECT fires the will.
    m.wait_log("Will message specified", 1);
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(sub.next(T).as_deref(), Some("will/t gone"));
}

/// Regression: an options-file error through the `mosquitto_pub` symlink named
/// `mqtk pub` in its usage line (the tool name was read after the argv rewrite).
#[test]
fn options_file_error_names_the_invoked_tool() {
    let sb = Sandbox::new();
    let out = run_with_timeout(
        sb.command(sb.multicall("mosquitto_pub")).args([
            "-o",
            "/nonexistent/opts",
            "-t",
            "a",
            "-m",
            "b",
        ]),
        T,
    );
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: Unable to open options file \"/nonexistent/opts\": No such file or directory.\n\n\
         Use 'mosquitto_pub --help' to see usage.\n"
    );
    let out = run_with_timeout(
        sb.mqtk()
            .args(["pub", "-o", "/nonexistent/opts", "-t", "a", "-m", "b"]),
        T,
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).ends_with("Use 'mqtk pub --help' to see usage.\n"),
        "{}",
        describe(&out)
    );
}

/// Where mqtk pub chooses differently from mosquitto_pub (README, "Differences from
/// mosquitto"): QoS 1 messages in flight are not capped at 20 (a 3.x broker gets up
/// to 65,535, within 1 MiB of payload), numbers are read whole (`-p 12abc` is not
/// port 12), and an empty topic is refused before connecting.
#[test]
fn pub_window_and_strict_arguments() {
    use std::io::Write as _;
    use std::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        crate::pub_packets::read_packet(&mut s).unwrap(); // CONNECT
        s.write_all(&[0x20, 0x02, 0x00, 0x00]).unwrap();
        // Count QoS 1 PUBLISHes, acknowledging none.
        let mut n = 0;
        while let Some(p) = crate::pub_packets::read_packet(&mut s) {
            if p[0] == 0x32 {
                n += 1;
                if n == 100 {
                    let _ = tx.send(());
                }
            }
        }
    });
    let sb = Sandbox::new();
    let mut child = pub_cmd(&sb, port)
        .args(["-t", "w", "-q", "1", "-l"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines: String = (0..100).map(|i| format!("{i}\n")).collect();
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let all_sent = rx.recv_timeout(T);
    let _ = child.kill();
    let _ = child.wait();
    all_sent.expect("100 unacknowledged QoS 1 messages in flight (mosquitto_pub stops at 20)");

    let closed = free_port().to_string();
    for (args, want) in [
        (
            &["-p", "12abc", "-t", "a", "-m", "x"][..],
            "Error: Invalid port given: 12abc\n",
        ),
        (
            &["-p", &closed, "-t", "", "-m", "x"],
            "Error: Invalid input. Does your topic contain '+' or '#'?\n",
        ),
    ] {
        let out = run_with_timeout(sb.mqtk().arg("pub").args(args), T);
        assert_code(&out, 1);
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with(want),
            "{args:?}: {}",
            describe(&out)
        );
    }
}
