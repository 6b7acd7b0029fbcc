//! `mosquitto_sub --message-rate` (mosquitto 2.1): our binary by that name against
//! the embedded broker prints `N msgs/s` once a second instead of the messages; the
//! counts add up to what was published; `-W N` gives N lines; a signal prints the
//! last, partial second. mosquitto 2.1 refuses no output option with it (its manual
//! calls them "not valid", its code ignores them): they are accepted and have no
//! effect, and the checks 2.1 makes while reading the arguments still apply.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{
    Sandbox, Spawned, TestBroker, assert_code, describe, have_mosquitto_tool, run_with_timeout,
    wait_with_timeout,
};

const T: Duration = Duration::from_secs(15);

/// `mosquitto_sub --message-rate` (our binary by that name) on the broker's port.
fn rate_cmd(sb: &Sandbox, port: u16) -> Command {
    let mut c = sb.command(sb.multicall("mosquitto_sub"));
    c.args(["-p", &port.to_string(), "--message-rate"]);
    c
}

/// Publishes `n` messages to `topic` in one `mqtk pub` run (QoS 1: the broker has
/// each before the next is sent).
fn publish_n(sb: &Sandbox, port: u16, topic: &str, n: usize) {
    let out = run_with_timeout(
        sb.mqtk()
            .args([
                "pub",
                "-p",
                &port.to_string(),
                "-t",
                topic,
                "-q",
                "1",
                "-m",
                "x",
            ])
            .args(["--repeat", &n.to_string()]),
        T,
    );
    assert_code(&out, 0);
}

/// The counts of `N msgs/s` lines; every line must be one.
fn counts(stdout: &[u8]) -> Vec<u64> {
    let text = String::from_utf8_lossy(stdout);
    text.lines()
        .map(|l| {
            l.strip_suffix(" msgs/s")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a rate line: {l:?} in\n{text}"))
        })
        .collect()
}

#[test]
fn counts_per_second_add_up_and_w_gives_that_many_lines() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let p = b.port();
    let start = Instant::now();
    // Output options mosquitto 2.1 ignores here: -C 1 does not stop it, -T does not
    // filter the count, -v/-F/-N do not print messages.
    let child = rate_cmd(&sb, p)
        .args([
            "-t", "rate/#", "-q", "1", "-W", "3", "-C", "1", "-T", "rate/b",
        ])
        .args(["-v", "-F", "%t %p", "-N"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    b.wait_subscriptions(1);
    publish_n(&sb, p, "rate/a", 40);
    publish_n(&sb, p, "rate/b", 10);
    let out = wait_with_timeout(child, T, "mosquitto_sub --message-rate -W 3");
    let elapsed = start.elapsed();
    // -W: "Timed out" and 27, as without --message-rate.
    assert_code(&out, 27);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "Timed out\n");
    let c = counts(&out.stdout);
    assert_eq!(
        c.len(),
        3,
        "one line a second, the last at -W\n{}",
        describe(&out)
    );
    assert_eq!(c.iter().sum::<u64>(), 50, "{}", describe(&out));
    assert!(
        elapsed >= Duration::from_millis(2900) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
}

#[test]
fn a_signal_prints_the_last_partial_second_and_exits_0() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let p = b.port();
    // stdout is collected as it comes, to see the counts before the signal.
    let child = Spawned::spawn(rate_cmd(&sb, p).args(["-t", "sig", "-V", "5"]));
    b.wait_subscriptions(1);
    publish_n(&sb, p, "sig", 7);
    // The seven counted (lines come once a second).
    let seen = child.wait_until("counts adding up to 7", T, |c| {
        counts(&c.stdout).iter().sum::<u64>() >= 7
    });
    let lines_before = counts(&seen.stdout).len();
    child.signal("TERM");
    let out = child.finish(T);
    assert_code(&out, 0);
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    let c = counts(&out.stdout);
    // One more line, for the second the signal cut short; the total stays 7.
    assert!(c.len() > lines_before, "{c:?}");
    assert_eq!(c.iter().sum::<u64>(), 7, "{c:?}");
}

#[test]
fn no_counts_when_the_first_connection_fails() {
    let sb = Sandbox::new();
    // A port nobody listens on: the error alone, as mosquitto_sub (which starts
    // counting only once connected).
    let port = crate::util::free_port();
    let out = run_with_timeout(rate_cmd(&sb, port).args(["-t", "a"]), T);
    assert_code(&out, 1);
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: Connection refused\n"
    );
}

#[test]
fn the_argument_checks_of_2_1_still_apply() {
    let sb = Sandbox::new();
    let sub = |args: &[&str]| {
        run_with_timeout(
            sb.command(sb.multicall("mosquitto_sub"))
                .arg("--message-rate")
                .args(args),
            T,
        )
    };
    let suffix = "\nUse 'mosquitto_sub --help' to see usage.\n";
    let out = sub(&["-t", "a", "-R", "--retained-only"]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "\nError: Combining '-R' and '--retained-only' makes no sense.\n"
    );
    let out = sub(&["-t", "a", "-F", "%z"]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("Error: Invalid format specifier 'z'.\n{suffix}")
    );
    let out = sub(&[]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error: You must specify a topic to subscribe to (-t) or unsubscribe from (-U).\n{suffix}"
        )
    );
}

/// --message-rate is mosquitto_sub's only: pub and rr do not know it. 2.0.11 has it
/// nowhere, so its pub and rr answer as 2.1's do.
#[test]
fn pub_and_rr_do_not_know_message_rate() {
    let sb = Sandbox::new();
    for tool in ["mosquitto_pub", "mosquitto_rr"] {
        let args = ["-t", "a", "-m", "b", "--message-rate"];
        let ours = run_with_timeout(sb.command(sb.multicall(tool)).args(args), T);
        assert_code(&ours, 1);
        assert_eq!(
            String::from_utf8_lossy(&ours.stderr),
            format!(
                "Error: Unknown option '--message-rate'.\n\nUse '{tool} --help' to see usage.\n"
            )
        );
        if have_mosquitto_tool(tool) {
            let theirs = run_with_timeout(sb.command(tool).args(args), T);
            assert_eq!(
                (ours.stderr, ours.status.code()),
                (theirs.stderr, theirs.status.code()),
                "{tool}"
            );
        }
    }
}
