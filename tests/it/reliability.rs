//! Nothing lost, nothing hidden, across a broker that dies: `sub -c -q 1` gets every
//! message through a SIGKILL and a restart from mosquitto's persistence file, with
//! `-C` counting across the reconnection; `pub -q 1 -l` that cannot reconnect says how
//! many messages the broker never confirmed; `rr` waiting for its response reports
//! the lost connection instead of hanging. Against Debian's real mosquitto where the
//! broker's own behaviour matters, and a scripted broker where ours must be exact.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use crate::util::{
    Mosquitto, Sandbox, Spawned, assert_code, describe, free_port, have_mosquitto_tool, poll_until,
    run_with_timeout,
};

const T: Duration = Duration::from_secs(30);

/// mosquitto with a persistence file in `sb` saved after every change, so that a
/// SIGKILL loses nothing that was acknowledged.
fn persistent(sb: &Sandbox) -> String {
    format!(
        "persistence true\npersistence_location {}/\nautosave_on_changes true\n\
         autosave_interval 1\nmax_queued_messages 0\nuser {}\n",
        sb.path().display(),
        // Started as root, mosquitto drops to user "mosquitto", which cannot write the
        // sandbox: stay as whoever runs the test.
        std::env::var("USER").unwrap_or_else(|_| "root".into())
    )
}

/// Publishes `topic` = `payload` at QoS 1 with Debian's mosquitto_pub.
fn publish(sb: &Sandbox, port: u16, topic: &str, payload: &str) {
    let out = run_with_timeout(
        sb.command("mosquitto_pub").args([
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            payload,
        ]),
        T,
    );
    assert_code(&out, 0);
}

#[test]
fn sub_keeps_every_qos1_message_across_a_kill_9_and_counts_across_it() {
    if !have_mosquitto_tool("mosquitto") || !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let sb = Sandbox::new();
    let port = free_port();
    let conf = persistent(&sb);
    let m = Mosquitto::start_on(port, &conf)
        .unwrap_or_else(|out| panic!("mosquitto did not start\n{}", describe(&out)));
    let sub = Spawned::spawn(sb.mqtk().args([
        "sub",
        "-p",
        &port.to_string(),
        "-c",
        "-q",
        "1",
        "-i",
        "kill9-sub",
        "-t",
        "k9/#",
        "-v",
        "-C",
        "6",
    ]));
    m.wait_subacks(1);
    for i in 1..=3 {
        publish(&sb, port, &format!("k9/{i}"), &i.to_string());
    }
    sub.wait_stdout("k9/3 3\n", 1);
    // SIGKILL: only what mosquitto saved survives. It saves after every change, so
    // once a save that began after the third PUBACK has ended, nothing is left to
    // deliver again. The log line opens a save; mosquitto's one loop logs nothing
    // else until the save's rename is done, so a connection logged after it proves
    // the file is complete.
    poll_until("mosquitto began a save after the third PUBACK", T, || {
        m.log()
            .split("Received PUBACK from kill9-sub (Mid: 3,")
            .nth(1)
            .is_some_and(|after| after.contains("Saving in-memory database"))
    });
    let _probe = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to mosquitto");
    poll_until("mosquitto finished that save", T, || {
        m.log()
            .split("Received PUBACK from kill9-sub (Mid: 3,")
            .nth(1)
            .and_then(|after| after.split("Saving in-memory database").nth(1))
            .is_some_and(|after| after.contains("New connection from"))
    });
    m.kill();
    let _m = Mosquitto::start_on(port, &conf)
        .unwrap_or_else(|out| panic!("mosquitto did not restart\n{}", describe(&out)));
    // Published while the subscriber may still be away: its session queues them.
    for i in 4..=6 {
        publish(&sb, port, &format!("k9/{i}"), &i.to_string());
    }
    let out = sub.finish(T);
    assert_code(&out, 0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "k9/1 1\nk9/2 2\nk9/3 3\nk9/4 4\nk9/5 5\nk9/6 6\n",
        "{}",
        describe(&out)
    );
}

/// A broker that accepts one connection, takes `publishes` QoS 1 PUBLISH packets of
/// `packet_len` bytes without acknowledging any and drops the connection; then it
/// closes each of the next `later` connections at once. It keeps its port all along,
/// so no other test's broker can answer there.
fn black_hole(
    publishes: usize,
    packet_len: usize,
    later: usize,
) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let mut s = accept_connect(&listener);
        s.write_all(&[0x20, 0x02, 0x00, 0x00]).unwrap(); // CONNACK, accepted
        let mut publish = vec![0u8; publishes * packet_len];
        s.read_exact(&mut publish).unwrap();
        assert!(
            publish.chunks(packet_len).all(|p| p[0] == 0x32),
            "QoS 1 PUBLISHes"
        );
        drop(s);
        // Read each CONNECT whole before closing: a clean end of stream (not a reset
        // from unread bytes) is what the client sees.
        for _ in 0..later {
            drop(accept_connect(&listener));
        }
    });
    (port, t)
}

/// Accepts a connection and reads its CONNECT (fixed header, a one-byte remaining
/// length here, and the rest).
fn accept_connect(listener: &TcpListener) -> std::net::TcpStream {
    let (mut s, _) = listener.accept().unwrap();
    let mut head = [0u8; 2];
    s.read_exact(&mut head).unwrap();
    let mut connect = vec![0u8; usize::from(head[1])];
    s.read_exact(&mut connect).unwrap();
    s
}

#[test]
fn pub_that_cannot_reconnect_counts_what_was_not_confirmed() {
    // Three lines "l1".."l3" on topic "t": 0x32, remaining 7, topic (3), id (2),
    // payload (2) = 9 bytes each. mqtk pub tries 10 times to reconnect.
    let (port, broker) = black_hole(3, 9, 10);
    let sb = Sandbox::new();
    let mut cmd = sb.mqtk();
    cmd.args(["pub", "-p", &port.to_string(), "-t", "t", "-q", "1", "-l"]);
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The input stays open (no end of file): the publisher must not finish by itself.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"l1\nl2\nl3\n").unwrap();
    let out = crate::util::wait_with_timeout(child, T, "mqtk pub -l");
    drop(stdin);
    broker.join().unwrap();
    // mosquitto_pub 2.1's status and first line for a lost connection, then mqtk's
    // account of its attempts.
    assert_code(&out, 7);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: The connection was lost\n\
         Error: It could not be re-established (The connection was lost).\n\
         Error: 3 message(s) were not confirmed by the broker.\n"
    );
}

#[test]
fn rr_reports_the_broker_dying_while_it_waits() {
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let sb = Sandbox::new();
    let rr = Spawned::spawn(sb.mqtk().args([
        "rr",
        "-p",
        &m.port.to_string(),
        "-t",
        "req",
        "-e",
        "resp",
        "-m",
        "x",
        "-W",
        "20",
    ]));
    // Subscribed, so the request is on its way and rr waits for the response.
    m.wait_subacks(1);
    m.wait_log("Received PUBLISH from", 1);
    m.kill();
    let out = rr.finish(T);
    // mosquitto_rr 2.1 returns libmosquitto's MOSQ_ERR_CONN_LOST, in its words.
    assert_code(&out, 7);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: The connection was lost\n",
        "{}",
        describe(&out)
    );
}
