//! The real binary under its mosquitto_* names, where mosquitto 2.1.2 is the reference
//! and differs from Debian's 2.0.11: `--help`/`--version` (exit 1), `-D` property
//! errors, and `-f` errors. Expected bytes are 2.1.2's, from its sources
//! (client/client_props.c, client/client_shared.c, client/pub_client.c,
//! client/pub_shared.c, libcommon's property and string tables); where 2.0.11 says the
//! same, the run is also compared with Debian's tools.

use std::io::Write;
use std::process::{Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::util::{
    Sandbox, TestBroker, assert_code, describe, free_port, have_mosquitto_tool, run_with_timeout,
    wait_with_timeout,
};

const T: Duration = Duration::from_secs(10);

/// `tool ARGS` through the multi-call symlink, stdin empty.
fn run_as(sb: &Sandbox, tool: &str, args: &[&str]) -> Output {
    run_with_timeout(sb.command(sb.multicall(tool)).args(args), T)
}

/// `tool ARGS` through the multi-call symlink, with `input` on stdin.
fn run_as_with_input(sb: &Sandbox, tool: &str, args: &[&str], input: &[u8]) -> Output {
    let mut child = sb
        .command(sb.multicall(tool))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(input).unwrap();
    wait_with_timeout(child, T, &format!("{tool} {args:?}"))
}

#[track_caller]
fn expect(out: &Output, code: i32, stdout: &str, stderr: &str) {
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).as_ref(),
            String::from_utf8_lossy(&out.stderr).as_ref(),
        ),
        (Some(code), stdout, stderr),
        "\n{}",
        describe(out)
    );
}

fn usage(tool: &str) -> String {
    format!("\nUse '{tool} --help' to see usage.\n")
}

/// Debian's `tool` and ours agree on exit status and stderr (and on stdout when
/// `same_stdout`).
fn differential(sb: &Sandbox, tool: &str, args: &[&str], same_stdout: bool) {
    let theirs = run_with_timeout(sb.command(tool).args(args), T);
    let ours = run_as(sb, tool, args);
    let show = || {
        format!(
            "{tool} {args:?}\n--- ours ---\n{}\n--- Debian ---\n{}",
            describe(&ours),
            describe(&theirs)
        )
    };
    assert_eq!(ours.status.code(), theirs.status.code(), "{}", show());
    assert_eq!(ours.stderr, theirs.stderr, "{}", show());
    if same_stdout {
        assert_eq!(ours.stdout, theirs.stdout, "{}", show());
    }
}

/// Enough for `tool` to get past its own checks: a closed port, a topic, and for pub
/// and rr a message (and rr's response topic).
fn base_args<'a>(tool: &str, port: &'a str) -> Vec<&'a str> {
    match tool {
        "mosquitto_sub" => vec!["-p", port, "-t", "a"],
        "mosquitto_rr" => vec!["-p", port, "-t", "a", "-m", "x", "-e", "r"],
        _ => vec!["-p", port, "-t", "a", "-m", "x"],
    }
}

const CLIENTS: [(&str, &str, &str); 3] = [
    ("mosquitto_pub", "pub", "3.1/3.1.1/5.0"),
    ("mosquitto_sub", "sub", "3.1/3.1.1/5.0"),
    ("mosquitto_rr", "rr", "3.1/3.1.1/5.0"),
];

/// 2.1: `--help` prints the usage and `--version` the version line, on stdout, and the
/// client leaves through `cleanup`, exit status 1. It stops reading argv there. Under
/// mqtk's own names both succeed.
#[test]
fn help_and_version_exit_1_under_mosquitto_names() {
    let sb = Sandbox::new();
    let v = env!("CARGO_PKG_VERSION");
    for (tool, sub, protocols) in CLIENTS {
        let direct = run_with_timeout(sb.mqtk().args([sub, "--help"]), T);
        assert_code(&direct, 0);
        let help = String::from_utf8(direct.stdout.clone()).unwrap();
        assert!(help.contains("--property"), "{help}");
        for args in [&["--help"][..], &["--help", "-q", "5", "--bogus"]] {
            expect(&run_as(&sb, tool, args), 1, &help, "");
        }
        let line = format!("{tool} version {v} (mqtk, MQTT {protocols}).\n");
        for args in [&["--version"][..], &["--version", "--bogus"]] {
            expect(&run_as(&sb, tool, args), 1, &line, "");
        }
        expect(
            &run_with_timeout(sb.mqtk().args([sub, "--version"]), T),
            0,
            &format!("mqtk {sub} version {v} (mqtk, MQTT {protocols}).\n"),
            "",
        );
        // What comes before is still read (and may fail) ...
        expect(
            &run_as(&sb, tool, &["-q", "5", "--help"]),
            1,
            "",
            &format!("Error: Invalid QoS given: 5\n{}", usage(tool)),
        );
        // ... the options file included.
        let opts = sb.file(format!("{sub}.opts").as_str());
        std::fs::write(&opts, "--bogus\n").unwrap();
        expect(
            &run_as(&sb, tool, &["-o", opts.to_str().unwrap(), "--version"]),
            1,
            "",
            &format!("Error: Unknown option '--bogus'.\n{}", usage(tool)),
        );
    }
    // Any multi-call name: with .exe too.
    let exe = run_as(&sb, "mosquitto_sub.exe", &["--version"]);
    expect(
        &exe,
        1,
        &format!("mosquitto_sub version {v} (mqtk, MQTT 3.1/3.1.1/5.0).\n"),
        "",
    );
}

/// 2.0.11 agrees with 2.1 on the exit statuses and stderr (the usage text and version
/// line are each program's own).
#[test]
fn help_and_version_match_debians_clients() {
    let sb = Sandbox::new();
    for (tool, _, _) in CLIENTS {
        if !have_mosquitto_tool(tool) {
            return;
        }
        for args in [
            &["--help"][..],
            &["--version"],
            &["--help", "-q", "5"],
            &["-q", "5", "--help"],
            &["--version", "--bogus"],
        ] {
            differential(&sb, tool, args, false);
        }
    }
}

/// No topic or no message: as mosquitto_pub, 2.1's line on stderr and the usage (ours:
/// `--help`'s text) on stdout, exit 1, stderr and status as Debian's 2.0.11 gives them;
/// as `mqtk pub`, the line and the pointer to `--help` that other usage errors get,
/// and nothing on stdout.
#[test]
fn no_message_or_no_topic() {
    let sb = Sandbox::new();
    let help = run_with_timeout(sb.mqtk().args(["pub", "--help"]), T);
    let help = String::from_utf8(help.stdout).unwrap();
    let line = "Error: Both topic and message must be supplied.\n";
    for args in [&["-t", "a"][..], &["-m", "x"], &[]] {
        expect(&run_as(&sb, "mosquitto_pub", args), 1, &help, line);
        let ours = run_with_timeout(sb.mqtk().arg("pub").args(args), T);
        expect(&ours, 1, "", &format!("{line}{}", usage("mqtk pub")));
        if have_mosquitto_tool("mosquitto_pub") {
            differential(&sb, "mosquitto_pub", args, false);
        }
    }
}

/// `-D` errors found while reading the arguments (cfg_parse_property): 2.1's words,
/// the usage line after them, exit status 1. The words after -D are taken whatever
/// they look like (`-1` is a value, not an option).
#[test]
fn property_errors_in_mosquitto_21_words() {
    let sb = Sandbox::new();
    let long = "x".repeat(65536);
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "mosquitto_pub",
            &["-D", "publish", "message-expiry-interval", "-1"],
            "Error: Property value (-1) out of range for property message-expiry-interval.\n\n",
        ),
        (
            "mosquitto_pub",
            &[
                "-D",
                "publish",
                "message-expiry-interval",
                "99999999999999999999",
            ],
            "Error: Property value (9223372036854775807) out of range for property message-expiry-interval.\n\n",
        ),
        (
            "mosquitto_rr",
            &["-D", "connect", "receive-maximum", "70000"],
            "Error: Property value (70000) out of range for property receive-maximum.\n\n",
        ),
        (
            "mosquitto_pub",
            &["-D", "publish", "payload-format-indicator", "256"],
            "Error: Property value (256) out of range for property payload-format-indicator.\n\n",
        ),
        (
            "mosquitto_sub",
            &["-D", "subscribe", "subscription-identifier", "-5"],
            "Error: Property value (-5) out of range for property subscription-identifier.\n\n",
        ),
        (
            "mosquitto_pub",
            &["-D", "bogus", "content-type", "1"],
            "Error: Invalid command bogus given in --property argument.\n\n",
        ),
        (
            "mosquitto_sub",
            &["-D", "subscribe", "nope", "1"],
            "Error: Invalid property name nope given in --property argument.\n\n",
        ),
        (
            "mosquitto_rr",
            &["-D", "Connect", "Content-Type", "x"],
            "Error: Content-Type property not allowed for Connect in --property argument.\n\n",
        ),
        (
            "mosquitto_pub",
            &["-D", "publish", "subscription-identifier", "1"],
            "Error: subscription-identifier property not supported for publish in --property argument.\n\n",
        ),
        (
            "mosquitto_sub",
            &["-D", "puback", "reason-string", "x"],
            "Error: reason-string property not supported for puback in --property argument.\n\n",
        ),
        // CONNACK is a command mosquitto knows but keeps no list for: no message.
        ("mosquitto_pub", &["-D", "connack", "maximum-qos", "1"], ""),
        (
            "mosquitto_sub",
            &["-D", "subscribe", "subscription-identifier", "268435456"],
            "Error adding property subscription-identifier 4\n",
        ),
        (
            "mosquitto_pub",
            &["-D", "publish", "content-type", "a\tb"],
            "Error adding property content-type 6\n",
        ),
        (
            "mosquitto_pub",
            &["-D", "connect", "user-property", "k\u{7f}", "v"],
            "Error adding property user-property 7\n",
        ),
        (
            "mosquitto_pub",
            &["-D", "publish", "correlation-data", &long],
            "Error: Property value too long for property correlation-data.\n\n",
        ),
        (
            "mosquitto_pub",
            &["-t", "a", "-D", "publish", "user-property", "k"],
            "Error: --property argument given but not enough arguments specified.\n\n",
        ),
        (
            "mosquitto_pub",
            &["-D", "publish", "content-type"],
            "Error: --property argument given but not enough arguments specified.\n\n",
        ),
    ];
    let port = free_port().to_string();
    for (tool, args, head) in cases {
        let all = [&base_args(tool, &port)[..], args].concat();
        expect(
            &run_as(&sb, tool, &all),
            1,
            "",
            &format!("{head}{}", usage(tool)),
        );
    }
    // mosquitto reads an options file line by line: a -D there never has its words.
    std::fs::write(
        sb.file("home/.config/mosquitto_pub"),
        "-D publish content-type x\n",
    )
    .unwrap();
    expect(
        &run_as(&sb, "mosquitto_pub", &base_args("mosquitto_pub", &port)),
        1,
        "",
        &format!(
            "Error: --property argument given but not enough arguments specified.\n\n{}",
            usage("mosquitto_pub")
        ),
    );
}

/// Where 2.0.11's cfg_parse_property says what 2.1's does, Debian's clients give the
/// same bytes.
#[test]
fn property_errors_match_debians_clients() {
    if !have_mosquitto_tool("mosquitto_pub") || !have_mosquitto_tool("mosquitto_sub") {
        return;
    }
    let sb = Sandbox::new();
    let port = free_port().to_string();
    for (tool, args) in [
        (
            "mosquitto_pub",
            &["-D", "publish", "message-expiry-interval", "-1"][..],
        ),
        (
            "mosquitto_pub",
            &["-D", "connect", "receive-maximum", "70000"],
        ),
        (
            "mosquitto_pub",
            &["-D", "publish", "payload-format-indicator", "256"],
        ),
        ("mosquitto_pub", &["-D", "connect", "content-type", "x"]),
        (
            "mosquitto_pub",
            &["-D", "publish", "subscription-identifier", "1"],
        ),
        ("mosquitto_pub", &["-D", "connack", "maximum-qos", "1"]),
        ("mosquitto_pub", &["-D", "publish", "content-type", "a\tb"]),
        (
            "mosquitto_pub",
            &["-D", "connect", "user-property", "k\u{7f}", "v"],
        ),
        ("mosquitto_pub", &["-D", "publish", "user-property", "k"]),
        (
            "mosquitto_sub",
            &["-D", "subscribe", "subscription-identifier", "-5"],
        ),
        (
            "mosquitto_sub",
            &["-D", "subscribe", "subscription-identifier", "268435456"],
        ),
        ("mosquitto_sub", &["-D", "auth", "reason-string", "x"]),
    ] {
        differential(
            &sb,
            tool,
            &[&base_args(tool, &port)[..], args].concat(),
            true,
        );
    }
}

/// What libmosquitto 2.1 checks as it sets the will and starts to connect (before any
/// connection: the port here is closed): values the spec forbids, duplicates (-x adds
/// the session expiry after the -D ones), properties below MQTT v5 (the last of -V and
/// -D decides). mosquitto_rr checks its request's properties, its -e included.
#[test]
fn properties_refused_before_connecting() {
    let sb = Sandbox::new();
    let port = free_port().to_string();
    let unable = |why: &str| format!("Unable to connect ({why}).\n");
    let protocol = "A network protocol error occurred when communicating with the broker";
    let cases: &[(&str, &[&str], String)] = &[
        (
            "mosquitto_pub",
            &["-D", "connect", "receive-maximum", "0"],
            unable(protocol),
        ),
        (
            "mosquitto_sub",
            &["-D", "connect", "maximum-packet-size", "0"],
            unable(protocol),
        ),
        (
            "mosquitto_pub",
            &["-D", "connect", "request-problem-information", "2"],
            unable(protocol),
        ),
        (
            "mosquitto_pub",
            &["-D", "connect", "session-expiry-interval", "5", "-x", "10"],
            unable("Duplicate property in property list"),
        ),
        (
            "mosquitto_sub",
            &[
                "-c",
                "-i",
                "me",
                "-D",
                "connect",
                "session-expiry-interval",
                "5",
            ],
            unable("Duplicate property in property list"),
        ),
        (
            "mosquitto_pub",
            &["-D", "connect", "user-property", "a", "b", "-V", "311"],
            unable("This feature is not supported"),
        ),
        (
            "mosquitto_pub",
            &[
                "--will-topic",
                "w",
                "-D",
                "will",
                "payload-format-indicator",
                "2",
            ],
            "Error: Problem setting will.\n".into(),
        ),
        (
            "mosquitto_rr",
            &[
                "--will-topic",
                "w",
                "-D",
                "will",
                "content-type",
                "a",
                "-D",
                "will",
                "content-type",
                "b",
            ],
            "Error: Problem setting will.\n".into(),
        ),
        (
            "mosquitto_pub",
            &[
                "--will-topic",
                "w",
                "-D",
                "will",
                "content-type",
                "a",
                "-V",
                "mqttv311",
            ],
            "Error: Problem setting will.\n".into(),
        ),
        (
            "mosquitto_rr",
            &["-D", "publish", "response-topic", "x"],
            "Error in PUBLISH properties: Duplicate response topic.\n".into(),
        ),
        (
            "mosquitto_rr",
            &["-D", "publish", "payload-format-indicator", "2"],
            "Error in PUBLISH properties: Duplicate response topic.\n".into(),
        ),
    ];
    for (tool, args, stderr) in cases {
        let mut all = [&base_args(tool, &port)[..], args].concat();
        expect(&run_as(&sb, tool, &all), 1, "", stderr);
        all.push("--quiet");
        expect(&run_as(&sb, tool, &all), 1, "", "");
    }
}

/// PUBLISH properties libmosquitto refuses are found only when mosquitto_pub 2.1
/// publishes, after CONNACK: it disconnects without publishing and reports the
/// connection lost (7); with -l the first line's publish fails and it returns that
/// error's number. Nothing reaches the broker.
#[test]
fn publish_properties_refused_after_connack() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let port = b.port().to_string();
    let base = ["-p", &port, "-i", "c1", "-d", "-t", "t"];
    let dup = [
        "-D",
        "publish",
        "content-type",
        "a",
        "-D",
        "publish",
        "content-type",
        "b",
    ];
    let hello = "Client c1 sending CONNECT\nClient c1 received CONNACK (0)\n";
    let bye = format!("{hello}Client c1 sending DISCONNECT\n");
    let lost = "Error: The connection was lost\n";
    let run = |extra: &[&str], input: &[u8]| {
        let args = [&base[..], extra].concat();
        run_as_with_input(&sb, "mosquitto_pub", &args, input)
    };
    expect(
        &run(
            &["-m", "x", "-D", "publish", "payload-format-indicator", "2"],
            b"",
        ),
        7,
        &bye,
        &format!("Error: Protocol error when communicating with broker.\n{lost}"),
    );
    expect(&run(&[&["-m", "x"][..], &dup].concat(), b""), 7, &bye, lost);
    expect(
        &run(
            &["-m", "x", "-D", "publish", "topic-alias", "0", "--quiet"],
            b"",
        ),
        7,
        &bye,
        "",
    );
    // Below v5 (-V after -D) properties are "not supported": no message of its own.
    expect(
        &run(
            &["-m", "x", "-D", "publish", "content-type", "x", "-V", "311"],
            b"",
        ),
        7,
        &bye,
        lost,
    );
    // -l: the first line fails, without a DISCONNECT ...
    expect(
        &run(&["-l", "-D", "publish", "topic-alias", "0"], b"a\nb\n"),
        2,
        hello,
        "Error: A network protocol error occurred when communicating with the broker\n",
    );
    expect(
        &run(&[&["-l"][..], &dup].concat(), b"a\n"),
        22,
        hello,
        "Error: Duplicate property in property list\n",
    );
    // ... but after one for a last QoS 0 line without a newline; no line, no error.
    expect(
        &run(&[&["-l"][..], &dup].concat(), b"a"),
        22,
        &bye,
        "Error: Duplicate property in property list\n",
    );
    expect(&run(&[&["-l"][..], &dup].concat(), b""), 0, &bye, "");
    assert_eq!(b.stats().messages_received.load(Ordering::SeqCst), 0);
    // -V before -D: the -D wins, MQTT v5, published.
    let ok = run(
        &["-m", "x", "-V", "311", "-D", "publish", "content-type", "x"],
        b"",
    );
    assert_code(&ok, 0);
    assert_eq!(b.stats().messages_received.load(Ordering::SeqCst), 1);
}

/// mosquitto_sub 2.1 does not send a SUBSCRIBE whose properties libmosquitto refuses,
/// and says nothing: it stays connected until -W (or -C, or a signal).
#[test]
fn subscribe_properties_refused_means_no_subscribe() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let port = b.port().to_string();
    let out = run_as(
        &sb,
        "mosquitto_sub",
        &[
            "-p",
            &port,
            "-i",
            "s1",
            "-d",
            "-t",
            "t",
            "-W",
            "1",
            "-D",
            "subscribe",
            "subscription-identifier",
            "1",
            "-D",
            "subscribe",
            "subscription-identifier",
            "2",
        ],
    );
    expect(
        &out,
        27,
        "Client s1 sending CONNECT\nClient s1 received CONNACK (0)\nClient s1 sending DISCONNECT\n",
        "Timed out\n",
    );
    assert_eq!(b.stats().subscriptions.load(Ordering::SeqCst), 0);
}

/// `-f` that cannot be read: pub_shared.c's load_file line with the OS's reason, then
/// "Error loading input file", exit status 1; --quiet silences both. (For something
/// that is not a regular file 2.1 glues its "is not a file." to a line with a stale
/// errno; mqtk ends the line and leaves that reason out.)
#[test]
fn unreadable_input_file_in_mosquitto_21_words() {
    let sb = Sandbox::new();
    let port = free_port().to_string();
    std::fs::write(sb.file("plain"), "x").unwrap();
    std::fs::create_dir(sb.file("dir")).unwrap();
    for (tool, extra) in [("mosquitto_pub", &[][..]), ("mosquitto_rr", &["-e", "r"])] {
        let run = |file: &str, quiet: bool| {
            let mut args = vec!["-p", &port, "-t", "a", "-f", file];
            args.extend_from_slice(extra);
            if quiet {
                args.push("--quiet");
            }
            run_as(&sb, tool, &args)
        };
        for (file, why) in [
            ("missing", "No such file or directory"),
            ("plain/x", "Not a directory"),
        ] {
            expect(
                &run(file, false),
                1,
                "",
                &format!(
                    "Error: Unable to read file \"{file}\": {why}.\nError loading input file \"{file}\".\n"
                ),
            );
            expect(&run(file, true), 1, "", "");
        }
        expect(
            &run("dir", false),
            1,
            "",
            "Error: dir is not a file.\nError loading input file \"dir\".\n",
        );
    }
}

/// 2.1's clients refuse a topic or filter with more than 200 '/' (TOPIC_HIERARCHY_LIMIT,
/// checked by mosquitto_pub_topic_check and mosquitto_sub_topic_check) with the
/// wildcard hint, before connecting; 200 '/' is accepted (the connection is then
/// refused: nothing listens). Debian's 2.0.11 has no such check.
#[test]
fn topics_over_the_hierarchy_limit_are_refused_as_2_1_does() {
    let sb = Sandbox::new();
    let port = free_port().to_string();
    let over = "/".repeat(201);
    let at = "/".repeat(200);
    expect(
        &run_as(&sb, "mosquitto_pub", &["-p", &port, "-t", &over, "-m", "x"]),
        1,
        "",
        &format!(
            "Error: Invalid publish topic '{over}', does it contain '+' or '#'?\n\n\
             Use 'mosquitto_pub --help' to see usage.\n"
        ),
    );
    let filter = format!("{over}#");
    expect(
        &run_as(&sb, "mosquitto_sub", &["-p", &port, "-t", &filter]),
        1,
        "",
        &format!(
            "Error: Invalid subscription topic '{filter}', are all '+' and '#' wildcards correct?\n\n\
             Use 'mosquitto_sub --help' to see usage.\n"
        ),
    );
    let out = run_as(&sb, "mosquitto_pub", &["-p", &port, "-t", &at, "-m", "x"]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: Connection refused\n"
    );
}
