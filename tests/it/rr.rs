//! `mqtk rr` end to end, mostly through a `mosquitto_rr` symlink, against the
//! in-process broker and Debian's mosquitto. A responder written here over raw TCP and
//! our codec captures every request as it arrives (so the tests see the PUBLISH on the
//! wire: its properties) and answers on the request's Response Topic, or on `resp` when
//! the request has none (MQTT 3.1/3.1.1). Differential tests run Debian's mosquitto_rr
//! beside ours where 2.0.11 agrees with 2.1; elsewhere the expected bytes come from
//! 2.1's source (client/rr_client.c, client/client_shared.c, lib/send_subscribe.c).

use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtk::codec::{
    self, Connect, Packet, Properties, PropertyId, PropertyValue, ProtocolVersion, Publish, QoS,
    Subscribe, SubscribeFilter, SubscriptionOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{
    Mosquitto, Sandbox, Spawned, TestBroker, assert_code, describe, have_mosquitto_tool,
    run_with_timeout, which,
};

const T: Duration = Duration::from_secs(10);
const V5: ProtocolVersion = ProtocolVersion::V5;

async fn send(s: &mut TcpStream, p: Packet) {
    let mut b = BytesMut::new();
    codec::encode(&p, V5, &mut b).unwrap();
    s.write_all(&b).await.unwrap();
}

async fn recv(s: &mut TcpStream, buf: &mut BytesMut) -> Option<Packet> {
    loop {
        if let Some(p) = codec::decode(buf, V5, usize::MAX).unwrap() {
            return Some(p);
        }
        if s.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

/// How the responder answers each request.
#[derive(Clone, Copy)]
enum Plan {
    /// `n` replies, echoing the request's Correlation Data when it has some.
    Answer(usize),
    /// First a reply with someone else's Correlation Data, then `n` proper ones.
    DecoyFirst(usize),
}

/// A v5 client subscribed to `req` that reports every request it receives.
struct Responder {
    requests: mpsc::Receiver<Publish>,
}

impl Responder {
    /// Connects on `port` and returns once subscribed; it then answers in a background
    /// thread until the broker goes away.
    fn start(port: u16, plan: Plan) -> Responder {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (req_tx, requests) = mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(respond(port, plan, ready_tx, req_tx));
        });
        ready_rx.recv_timeout(T).expect("responder subscribed");
        Responder { requests }
    }

    /// The next request that reached the responder, as it arrived.
    fn next_request(&self) -> Publish {
        self.requests
            .recv_timeout(T)
            .expect("a request reached the responder")
    }
}

async fn respond(port: u16, plan: Plan, ready: mpsc::Sender<()>, requests: mpsc::Sender<Publish>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut buf = BytesMut::new();
    let connect = Connect {
        version: V5,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::new(),
        client_id: "responder".into(),
        will: None,
        username: None,
        password: None,
    };
    send(&mut s, Packet::Connect(connect)).await;
    assert!(matches!(
        recv(&mut s, &mut buf).await,
        Some(Packet::ConnAck(_))
    ));
    let sub = Subscribe {
        packet_id: 1,
        properties: Properties::new(),
        filters: vec![SubscribeFilter {
            filter: "req".into(),
            options: SubscriptionOptions::default(),
        }],
    };
    send(&mut s, Packet::Subscribe(sub)).await;
    assert!(matches!(
        recv(&mut s, &mut buf).await,
        Some(Packet::SubAck(_))
    ));
    ready.send(()).unwrap();
    while let Some(p) = recv(&mut s, &mut buf).await {
        let Packet::Publish(req) = p else { continue };
        let _ = requests.send(req.clone());
        let topic = req
            .properties
            .get_str(PropertyId::ResponseTopic)
            .unwrap_or("resp")
            .to_string();
        let corr = req.properties.get_binary(PropertyId::CorrelationData);
        let reply = |payload: String, corr: Option<&Bytes>| {
            let mut props = Properties::new();
            if let Some(c) = corr {
                props.set(
                    PropertyId::CorrelationData,
                    PropertyValue::Binary(c.clone()),
                );
            }
            Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: false,
                topic: topic.clone(),
                packet_id: 0,
                properties: props,
                payload: Bytes::from(payload),
            })
        };
        let answers = match plan {
            Plan::Answer(n) => n,
            Plan::DecoyFirst(n) => {
                let decoy = Bytes::from_static(b"not yours");
                send(&mut s, reply("wrong".into(), Some(&decoy))).await;
                n
            }
        };
        for i in 0..answers {
            let body = format!("re:{}#{i}", String::from_utf8_lossy(&req.payload));
            send(&mut s, reply(body, corr)).await;
        }
    }
}

/// `mosquitto_rr -p PORT -t req -e resp ARGS…` (our binary through the symlink).
fn rr(sb: &Sandbox, port: u16, args: &[&str]) -> Output {
    run_with_timeout(
        sb.command(sb.multicall("mosquitto_rr"))
            .args(["-p", &port.to_string(), "-t", "req", "-e", "resp"])
            .args(args),
        T,
    )
}

#[track_caller]
fn assert_out(out: &Output, code: i32, stdout: &str, stderr: &str) {
    assert_code(out, code);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        stdout,
        "{}",
        describe(out)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        stderr,
        "{}",
        describe(out)
    );
}

/// The request's properties as the responder saw them, as (id, value) text.
fn props_of(p: &Publish) -> Vec<String> {
    p.properties
        .0
        .iter()
        .map(|p| format!("{:?}={:?}", p.id, p.value))
        .collect()
}

#[test]
fn every_version_gets_its_response_and_v5_sends_a_response_topic_only() {
    let b = TestBroker::start();
    let responder = Responder::start(b.port(), Plan::Answer(1));
    let sb = Sandbox::new();
    for v in [None, Some("5"), Some("311"), Some("31")] {
        let mut args = vec!["-m", "ping", "-v"];
        args.extend(v.iter().flat_map(|v| ["-V", *v]));
        let out = rr(&sb, b.port(), &args);
        assert_out(&out, 0, "resp re:ping#0\n", "");
        let req = responder.next_request();
        assert_eq!(req.topic, "req");
        assert_eq!(&req.payload[..], b"ping");
        if matches!(v, None | Some("5")) {
            // mosquitto_rr's request: the Response Topic, and no Correlation Data.
            assert_eq!(
                req.properties.get_str(PropertyId::ResponseTopic),
                Some("resp"),
                "{v:?}"
            );
            assert_eq!(props_of(&req).len(), 1, "{v:?}: {:?}", props_of(&req));
        } else {
            // Below v5 the request goes without properties (rr_client.c my_publish).
            assert!(req.properties.is_empty(), "{v:?}: {:?}", props_of(&req));
        }
    }
}

#[test]
fn correlate_is_opt_in() {
    let b = TestBroker::start();
    let responder = Responder::start(b.port(), Plan::DecoyFirst(1));
    let sb = Sandbox::new();
    // As mosquitto_rr: the first message on the response topic is the response.
    let out = rr(&sb, b.port(), &["-m", "ping"]);
    assert_out(&out, 0, "wrong\n", "");
    let req = responder.next_request();
    assert!(req.properties.get(PropertyId::CorrelationData).is_none());
    // --correlate: the request carries our Correlation Data; the decoy is skipped.
    let out = rr(&sb, b.port(), &["-m", "ping", "--correlate", "-v"]);
    assert_out(&out, 0, "resp re:ping#0\n", "");
    let req = responder.next_request();
    let corr = req.properties.get_binary(PropertyId::CorrelationData);
    assert_eq!(corr.map(|c| c.len()), Some(16), "{:?}", props_of(&req));
    assert_eq!(
        req.properties.get_str(PropertyId::ResponseTopic),
        Some("resp")
    );
    // Correlation Data is a v5 property.
    let out = rr(&sb, b.port(), &["-m", "x", "--correlate", "-V", "311"]);
    assert_out(
        &out,
        1,
        "",
        "Error: --correlate needs MQTT v5 (-V 5): correlation data is an MQTT v5 property.\n\nUse 'mosquitto_rr --help' to see usage.\n",
    );
}

#[test]
fn count_waits_for_n_replies_and_latency_is_printed() {
    let b = TestBroker::start();
    let _responder = Responder::start(b.port(), Plan::Answer(3));
    let sb = Sandbox::new();
    let out = rr(
        &sb,
        b.port(),
        &["-m", "x", "--count", "3", "--latency", "-q", "1"],
    );
    assert_code(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    for (i, pair) in lines.chunks(2).enumerate() {
        assert_eq!(pair[0], format!("re:x#{i}"));
        assert!(pair[1].starts_with("Latency: "), "{text}");
        assert!(
            ["ns", "µs", "ms"].iter().any(|u| pair[1].ends_with(u)),
            "{text}"
        );
    }
}

#[test]
fn no_reply_times_out_with_27() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let out = rr(&sb, b.port(), &["-n", "-W", "1"]);
    assert_out(&out, 27, "", "Timed out\n");
}

#[test]
fn usage_errors() {
    let sb = Sandbox::new();
    let out = run_with_timeout(sb.mqtk().args(["rr", "-t", "a", "-m", "x"]), T);
    assert_out(
        &out,
        1,
        "",
        "Error: All of topic, message, and response topic must be supplied.\n\nUse 'mqtk rr --help' to see usage.\n",
    );
    let out = run_with_timeout(sb.mqtk().args(["rr", "-t", "a", "-e", "b/#", "-m", "x"]), T);
    assert_code(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("Error: Invalid response topic 'b/#', does it contain '+' or '#'?\n")
    );
    // 2.1's words (client_shared.c), then main's usage line.
    let out = rr(&sb, 1, &["-m", "x", "--retain-handling", "sometimes"]);
    assert_out(
        &out,
        1,
        "",
        "Error: Unknown value 'sometimes' for --retain-handling.\n\n\nUse 'mosquitto_rr --help' to see usage.\n",
    );
    let out = rr(&sb, 1, &["-m", "x", "--retain-handling"]);
    assert_out(
        &out,
        1,
        "",
        "Error: --retain-handling argument given but no option specified.\n\n\nUse 'mosquitto_rr --help' to see usage.\n",
    );
    // rr_client.c adds its own Response Topic to -D's and checks them: before connecting.
    let out = rr(&sb, 1, &["-m", "x", "-D", "publish", "response-topic", "r"]);
    assert_out(
        &out,
        1,
        "",
        "Error in PUBLISH properties: Duplicate response topic.\n",
    );
}

#[test]
fn file_source_and_output_flags() {
    let b = TestBroker::start();
    let _responder = Responder::start(b.port(), Plan::Answer(1));
    let sb = Sandbox::new();
    let body = sb.file("request.txt");
    std::fs::write(&body, "from a file").unwrap();
    let out = rr(
        &sb,
        b.port(),
        &["-f", body.to_str().unwrap(), "-N", "-F", "%t:%p"],
    );
    assert_out(&out, 0, "resp:re:from a file#0", "");
    let out = rr(&sb, b.port(), &["-f", "/nonexistent/request"]);
    assert_out(
        &out,
        1,
        "",
        "Error: Unable to read file \"/nonexistent/request\": No such file or directory.
Error loading input file \"/nonexistent/request\".
",
    );
}

#[test]
fn a_refused_connection_reads_as_mosquitto_rr_2_1() {
    let mut config = TestBroker::config();
    config.allow_anonymous = false;
    let b = TestBroker::start_with(config);
    let sb = Sandbox::new();
    let out = rr(&sb, b.port(), &["-m", "x"]);
    // 0x87 Not authorized, as the exit status too.
    assert_out(&out, 135, "", "Connection error: Not authorized\n");
}

#[test]
fn retain_handling_decides_whether_a_retained_message_is_the_response() {
    let b = TestBroker::start();
    let sb = Sandbox::new();
    let out = run_with_timeout(
        sb.mqtk().args([
            "pub",
            "-p",
            &b.port().to_string(),
            "-t",
            "resp",
            "-m",
            "old",
            "-r",
        ]),
        T,
    );
    assert_code(&out, 0);
    let _responder = Responder::start(b.port(), Plan::Answer(1));
    let cases: [(&[&str], &str); 7] = [
        (&[], "old\n"),
        (&["--retain-handling", "always"], "old\n"),
        (&["--retain-handling", "new"], "old\n"),
        (&["--retain-handling", "never"], "re:ping#0\n"),
        // -R: 2.1 sets "never" too, and would skip a retained message anyway.
        (&["-R"], "re:ping#0\n"),
        (&["-R", "--retain-handling", "always"], "re:ping#0\n"),
        // Below v5 libmosquitto sends no subscription options.
        (&["--retain-handling", "never", "-V", "311"], "old\n"),
    ];
    for (args, want) in cases {
        let mut all = vec!["-m", "ping"];
        all.extend_from_slice(args);
        let out = rr(&sb, b.port(), &all);
        assert_out(&out, 0, want, "");
    }
}

#[test]
fn debug_lines_show_the_subscription_options_as_2_1_logs_them() {
    let b = TestBroker::start();
    let _responder = Responder::start(b.port(), Plan::Answer(1));
    let sb = Sandbox::new();
    // lib/send_subscribe.c: "Client %s sending SUBSCRIBE (Mid: %d, Topic: %s, QoS: %d,
    // Options: 0x%02x)" with the options byte less its QoS bits.
    let cases: [(&[&str], &str); 6] = [
        (&[], "0x00"),
        (&["--retain-handling", "new"], "0x10"),
        (&["--retain-handling", "never"], "0x20"),
        (&["-R"], "0x20"),
        (&["--retain-as-published", "-q", "1"], "0x08"),
        (&["--retain-handling", "never", "-V", "31"], "0x00"),
    ];
    for (args, options) in cases {
        let mut all = vec!["-m", "ping", "-d", "-i", "rr-opts"];
        all.extend_from_slice(args);
        let out = rr(&sb, b.port(), &all);
        assert_code(&out, 0);
        let qos = if args.contains(&"-q") { 1 } else { 0 };
        let want = format!(
            "Client rr-opts sending SUBSCRIBE (Mid: 1, Topic: resp, QoS: {qos}, Options: {options})\n"
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&want), "{args:?}: want {want:?}\n{text}");
        // mosquitto_rr leaves without a DISCONNECT once it has its response.
        assert!(!text.contains("sending DISCONNECT"), "{args:?}\n{text}");
    }
}

/// Runs Debian's mosquitto_rr and ours with the same arguments and compares stdout,
/// stderr and exit status; returns ours.
fn same_as_debian(sb: &Sandbox, args: &[&str]) -> Output {
    let theirs = run_with_timeout(sb.command(which("mosquitto_rr").unwrap()).args(args), T);
    let ours = run_with_timeout(sb.command(sb.multicall("mosquitto_rr")).args(args), T);
    assert_eq!(
        (ours.status.code(), &ours.stdout, &ours.stderr),
        (theirs.status.code(), &theirs.stdout, &theirs.stderr),
        "{args:?}\n--- ours ---\n{}\n--- mosquitto_rr ---\n{}",
        describe(&ours),
        describe(&theirs)
    );
    ours
}

#[test]
fn same_bytes_and_same_request_as_debian_mosquitto_rr() {
    if !have_mosquitto_tool("mosquitto_rr") {
        return;
    }
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let responder = Responder::start(m.port, Plan::Answer(1));
    let sb = Sandbox::new();
    let port = m.port.to_string();
    let base = [
        "-p", &port, "-t", "req", "-e", "resp", "-d", "-i", "rr-diff",
    ];
    let cases: [&[&str]; 5] = [
        &["-m", "ping"],
        &["-m", "ping", "-V", "5", "-v"],
        &["-m", "ping", "-V", "311"],
        &["-m", "ping", "-V", "31", "-q", "2"],
        &["-n", "-q", "1", "-V", "5"],
    ];
    for extra in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = same_as_debian(&sb, &args);
        assert_code(&out, 0);
        let theirs = responder.next_request();
        let ours = responder.next_request();
        assert_eq!(
            (props_of(&ours), ours.qos, &ours.payload),
            (props_of(&theirs), theirs.qos, &theirs.payload),
            "{extra:?}"
        );
    }
    // Errors both versions word alike.
    let cases: [&[&str]; 2] = [
        &["-m", "x", "-D", "publish", "response-topic", "r"],
        &["-m", "x", "-V", "4"],
    ];
    for extra in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        assert_code(&same_as_debian(&sb, &args), 1);
    }
}

/// The `-F` fields between `req R=[` and `] END` in a mosquitto_sub capture.
fn captures(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.windows(7).position(|w| w == b"req R=[") {
        let tail = &rest[start + 4..];
        let end = tail
            .windows(5)
            .position(|w| w == b"] END")
            .expect("a whole capture");
        out.push(&tail[..end + 1]);
        rest = &tail[end + 5..];
    }
    out
}

#[test]
fn mosquitto_sub_sees_a_response_topic_and_correlation_data_only_with_correlate() {
    if !have_mosquitto_tool("mosquitto_sub") {
        return;
    }
    let Some(m) = Mosquitto::start("") else {
        return;
    };
    let port = m.port.to_string();
    let sb = Sandbox::new();
    let publish = |args: &[&str]| {
        let out = run_with_timeout(sb.mqtk().args(["pub", "-p", &port]).args(args), T);
        assert_code(&out, 0);
    };
    // Debian's mosquitto_sub prints the requests' v5 properties (%R, %D); the retained
    // "ready" message, printed the moment it subscribes, says it is listening.
    publish(&["-t", "ready", "-m", "1", "-r"]);
    let capture = Spawned::spawn(sb.command(which("mosquitto_sub").unwrap()).args([
        "-p",
        &port,
        "-V",
        "5",
        "-t",
        "ready",
        "-t",
        "req",
        "-F",
        "%t R=[%R] D=[%D] END",
    ]));
    capture.wait_stdout("ready R=[", 1);
    let _responder = Responder::start(m.port, Plan::Answer(1));
    assert_code(&rr(&sb, m.port, &["-m", "a"]), 0);
    assert_code(&rr(&sb, m.port, &["-m", "b", "--correlate"]), 0);
    assert_code(&rr(&sb, m.port, &["-m", "c", "-V", "311"]), 0);
    // "ready" and three requests.
    let text = capture.wait_stdout("] END", 4).stdout;
    let got = captures(&text);
    assert_eq!(got.len(), 3, "{}", String::from_utf8_lossy(&text));
    assert_eq!(got[0], b"R=[resp] D=[]");
    assert!(got[1].starts_with(b"R=[resp] D=["), "{got:?}");
    assert_eq!(got[1].len(), b"R=[resp] D=[]".len() + 16, "{got:?}");
    assert_eq!(got[2], b"R=[] D=[]");
}

#[test]
fn options_file_and_environment_as_2_1_reads_them() {
    let b = TestBroker::start();
    let _responder = Responder::start(b.port(), Plan::Answer(1));
    let sb = Sandbox::new();
    let port = b.port();
    let run = |cmd: &mut Command| run_with_timeout(cmd, T);
    let xdg = sb.path().join("xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::write(
        xdg.join("mosquitto_rr"),
        format!("-p {port}\n-e resp\n-v\n"),
    )
    .unwrap();
    let home_file = sb.path().join("home/.config/mosquitto_rr");
    std::fs::write(&home_file, format!("-p {port}\n-e resp\n-F %t:%p\n")).unwrap();
    let rr = || {
        let mut c = sb.command(sb.multicall("mosquitto_rr"));
        c.args(["-t", "req", "-m", "x"]);
        c
    };
    // $XDG_CONFIG_HOME/mosquitto_rr, and then no look at ~/.config.
    let out = run(rr().env("XDG_CONFIG_HOME", &xdg));
    assert_out(&out, 0, "resp re:x#0\n", "");
    // ~/.config/mosquitto_rr when XDG_CONFIG_HOME is unset.
    let out = run(rr().env_remove("XDG_CONFIG_HOME"));
    assert_out(&out, 0, "resp:re:x#0\n", "");
    // Set but empty means "/mosquitto_rr" ("%s/mosquitto_rr"), never the current
    // directory, where the sandbox's mosquitto_rr is our binary.
    let out = run(rr()
        .env("XDG_CONFIG_HOME", "")
        .args(["-p", &port.to_string(), "-e", "resp"]));
    assert_out(&out, 0, "re:x#0\n", "");
    // Each line is read alone: an option never takes the next line as its value.
    std::fs::write(xdg.join("mosquitto_rr"), format!("-p {port}\n-e\n-v\n")).unwrap();
    let out = run(rr().env("XDG_CONFIG_HOME", &xdg));
    assert_out(
        &out,
        1,
        "",
        "Error: -e argument given but no response topic specified.\n\n\nUse 'mosquitto_rr --help' to see usage.\n",
    );
    if have_mosquitto_tool("mosquitto_rr") {
        let theirs = run(sb
            .command(which("mosquitto_rr").unwrap())
            .args(["-t", "req", "-m", "x"])
            .env("XDG_CONFIG_HOME", &xdg));
        assert_eq!(
            (theirs.status.code(), &theirs.stderr),
            (out.status.code(), &out.stderr)
        );
    }
    // -o FILE instead of the default file; a line's value may start with '-'.
    let opts = sb.file("opts");
    std::fs::write(&opts, format!("-p {port}\n-e -resp\n-v\n")).unwrap();
    let out = run(rr().env("XDG_CONFIG_HOME", &xdg).arg("-o").arg(&opts));
    assert_out(&out, 0, "-resp re:x#0\n", "");
}
