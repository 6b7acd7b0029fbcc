//! Debian's mosquitto_pub and mosquitto_sub (the reference clients) against our
//! in-process broker: every protocol version and QoS, retained, wills, persistent sessions.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{
    Sandbox, TestBroker, assert_code, describe, run_with_timeout, wait_with_timeout,
};

const T: Duration = Duration::from_secs(10);

fn tool(sb: &Sandbox, name: &str, b: &TestBroker) -> Command {
    let mut c = sb.command(name);
    c.args(["-h", "127.0.0.1", "-p", &b.port().to_string()]);
    c
}

fn spawn(mut c: Command) -> Child {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mosquitto client")
}

#[test]
fn pub_sub_every_version_and_qos() {
    if !crate::util::have_mosquitto_tool("mosquitto_sub")
        || !crate::util::have_mosquitto_tool("mosquitto_pub")
    {
        return;
    }
    let b = TestBroker::start();
    let sb = Sandbox::new();
    for v in ["mqttv31", "mqttv311", "mqttv5"] {
        for q in 0..3 {
            let topic = format!("iop/{v}/{q}");
            let mut sub = tool(&sb, "mosquitto_sub", &b);
            sub.args([
                "-V",
                v,
                "-q",
                &q.to_string(),
                "-t",
                &topic,
                "-C",
                "1",
                "-W",
                "5",
                "-v",
            ]);
            let child = spawn(sub);
            b.wait_subscriptions(1);
            let mut p = tool(&sb, "mosquitto_pub", &b);
            p.args(["-V", v, "-q", &q.to_string(), "-t", &topic, "-m", "hello"]);
            let out = run_with_timeout(&mut p, T);
            assert_code(&out, 0);
            let out = wait_with_timeout(child, T, "mosquitto_sub");
            assert_code(&out, 0);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("{topic} hello\n"),
                "{v} qos {q}\n{}",
                describe(&out)
            );
            // The subscriber's session is gone once it disconnected.
            b.wait_subscriptions_down_to(0);
        }
    }
}

#[test]
fn retained_message_reaches_late_subscriber() {
    if !crate::util::have_mosquitto_tool("mosquitto_sub")
        || !crate::util::have_mosquitto_tool("mosquitto_pub")
    {
        return;
    }
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let mut p = tool(&sb, "mosquitto_pub", &b);
    p.args(["-t", "iop/ret", "-m", "kept", "-r", "-q", "1"]);
    assert_code(&run_with_timeout(&mut p, T), 0);
    for v in ["mqttv311", "mqttv5"] {
        let mut s = tool(&sb, "mosquitto_sub", &b);
        s.args(["-V", v, "-t", "iop/#", "-C", "1", "-W", "5", "-v"]);
        let out = run_with_timeout(&mut s, T);
        assert_code(&out, 0);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "iop/ret kept\n");
    }
}

#[test]
fn will_of_killed_client_is_delivered() {
    if !crate::util::have_mosquitto_tool("mosquitto_sub") {
        return;
    }
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let mut w = tool(&sb, "mosquitto_sub", &b);
    w.args(["-t", "iop/will", "-C", "1", "-W", "5"]);
    let watcher = spawn(w);
    b.wait_subscriptions(1);
    let mut d = tool(&sb, "mosquitto_sub", &b);
    d.args([
        "-t",
        "iop/other",
        "--will-topic",
        "iop/will",
        "--will-payload",
        "it died",
    ]);
    let mut dying = spawn(d);
    b.wait_subscriptions(2);
    dying.kill().unwrap();
    let _ = dying.wait();
    let out = wait_with_timeout(watcher, T, "watcher");
    assert_code(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "it died\n");
}

#[test]
fn persistent_session_across_runs() {
    if !crate::util::have_mosquitto_tool("mosquitto_sub")
        || !crate::util::have_mosquitto_tool("mosquitto_pub")
    {
        return;
    }
    let b = TestBroker::start();
    let sb = Sandbox::new();
    for v in ["mqttv311", "mqttv5"] {
        let id = format!("fixed-{v}");
        let topic = format!("iop/ps/{v}");
        // Subscribe, then exit at once (-E), keeping the session (-c; v5 needs an expiry).
        let mut s = tool(&sb, "mosquitto_sub", &b);
        s.args(["-V", v, "-c", "-i", &id, "-q", "1", "-t", &topic, "-E"]);
        if v == "mqttv5" {
            s.args(["-x", "60"]);
        }
        assert_code(&run_with_timeout(&mut s, T), 0);
        for m in ["one", "two"] {
            let mut p = tool(&sb, "mosquitto_pub", &b);
            p.args(["-V", v, "-q", "1", "-t", &topic, "-m", m]);
            assert_code(&run_with_timeout(&mut p, T), 0);
        }
        let mut s = tool(&sb, "mosquitto_sub", &b);
        s.args([
            "-V", v, "-c", "-i", &id, "-q", "1", "-t", &topic, "-C", "2", "-W", "5",
        ]);
        if v == "mqttv5" {
            s.args(["-x", "60"]);
        }
        let out = run_with_timeout(&mut s, T);
        assert_code(&out, 0);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "one\ntwo\n", "{v}");
    }
}
