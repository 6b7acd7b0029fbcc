//! `mqtk broker` as a real process: config files, every listener kind end to end with
//! Debian's mosquitto_pub/mosquitto_sub (and raw MQTT over WebSocket), startup errors,
//! and signals.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::listeners::Pki;
use crate::util::{
    SUBACK, Sandbox, Spawned, assert_code, count, describe, free_port, have_mosquitto_tool,
    run_with_timeout, wait_for_port, wait_with_timeout,
};

/// `mqtk broker -c FILE` running in a sandbox, its output collected; killed on drop.
pub(crate) struct BrokerProcess {
    pub(crate) sandbox: Sandbox,
    proc: Option<Spawned>,
}

impl BrokerProcess {
    /// Starts the broker with `conf` (written to mqtk.conf) and waits until `port` accepts.
    pub(crate) fn start(sandbox: Sandbox, conf: &str, port: u16) -> BrokerProcess {
        BrokerProcess::start_with(sandbox, conf, &[], port)
    }

    /// `start`, with extra arguments before `-c`.
    pub(crate) fn start_with(
        sandbox: Sandbox,
        conf: &str,
        args: &[&str],
        port: u16,
    ) -> BrokerProcess {
        let path = sandbox.file("mqtk.conf");
        std::fs::write(&path, conf).unwrap();
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.push("-c".into());
        all.push(path.display().to_string());
        BrokerProcess::spawn(sandbox, &all, port)
    }

    /// `mqtk broker ARGS`, waiting until `port` accepts on 127.0.0.1.
    pub(crate) fn spawn(sandbox: Sandbox, args: &[String], port: u16) -> BrokerProcess {
        let proc = Spawned::spawn(sandbox.mqtk().arg("broker").args(args));
        let mut b = BrokerProcess {
            sandbox,
            proc: Some(proc),
        };
        if !wait_for_port(port, Duration::from_secs(10)) {
            let out = b.stop();
            panic!("broker did not listen on {port}\n{}", describe(&out));
        }
        b
    }

    /// The broker's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.proc.as_ref().unwrap().pid()
    }

    /// Waits until the broker's log (`log_dest stdout`) has shown `line`.
    pub(crate) fn wait_log(&self, line: &str) {
        self.proc.as_ref().unwrap().wait_stdout(line, 1);
    }

    pub(crate) fn signal(&self, name: &str) {
        self.proc.as_ref().unwrap().signal(name);
    }

    /// Sends SIGTERM and collects the exit status and output.
    pub(crate) fn stop(&mut self) -> Output {
        self.signal("TERM");
        self.wait()
    }

    pub(crate) fn wait(&mut self) -> Output {
        self.proc.take().unwrap().finish(Duration::from_secs(10))
    }

    /// How many SUBACKs the broker has logged (with `log_type all`).
    fn subacks(&self) -> usize {
        count(&self.proc.as_ref().unwrap().captured().stderr, SUBACK)
    }

    /// Waits until the broker has logged `n` SUBACKs in all: it logs each after adding
    /// the subscriptions, so the subscriber gets what is published next.
    fn wait_subacks(&self, n: usize) {
        self.proc.as_ref().unwrap().wait_stderr(SUBACK, n);
    }
}

/// How a mosquitto client reaches the broker: the arguments after the tool name.
fn tool(name: &str, sandbox: &Sandbox, via: &[String]) -> Command {
    let mut cmd = sandbox.command(name);
    cmd.args(via);
    cmd
}

/// Starts `mosquitto_sub -C 1` on `sub_via` and, once `broker` has acknowledged its
/// subscription, publishes one message with mosquitto_pub on `pub_via`. Returns what
/// the subscriber printed.
fn pub_to_sub(
    broker: &BrokerProcess,
    pub_via: &[String],
    sub_via: &[String],
    topic: &str,
) -> String {
    let sandbox = &broker.sandbox;
    let acked = broker.subacks();
    let sub = tool("mosquitto_sub", sandbox, sub_via)
        .args(["-t", topic, "-C", "1", "-W", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    broker.wait_subacks(acked + 1);
    let out = run_with_timeout(
        tool("mosquitto_pub", sandbox, pub_via).args(["-t", topic, "-m", "hello"]),
        Duration::from_secs(5),
    );
    assert_code(&out, 0);
    let out = wait_with_timeout(sub, Duration::from_secs(5), "mosquitto_sub");
    assert_code(&out, 0);
    String::from_utf8(out.stdout).unwrap()
}

/// The raw MQTT 3.1.1 packets of a WebSocket client (built by hand, not by our codec).
mod raw {
    pub const CONNECT: &[u8] = &[
        0x10, 0x0e, // CONNECT, remaining length 14
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x04, 0x02, 0x00, 0x3c, // level 4, clean session, keepalive 60
        0x00, 0x02, b'w', b's', // client id "ws"
    ];
    pub const CONNACK_OK: &[u8] = &[0x20, 0x02, 0x00, 0x00];

    /// SUBSCRIBE packet id 1, one filter at QoS 0.
    pub fn subscribe(filter: &str) -> Vec<u8> {
        let mut p = vec![0x82, (2 + 2 + filter.len() + 1) as u8, 0x00, 0x01];
        p.extend_from_slice(&(filter.len() as u16).to_be_bytes());
        p.extend_from_slice(filter.as_bytes());
        p.push(0x00);
        p
    }
    pub const SUBACK_QOS0: &[u8] = &[0x90, 0x03, 0x00, 0x01, 0x00];

    /// PUBLISH at QoS 0.
    pub fn publish(topic: &str, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x30, (2 + topic.len() + payload.len()) as u8];
        p.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        p.extend_from_slice(topic.as_bytes());
        p.extend_from_slice(payload);
        p
    }
}

/// Listeners of every kind, on free ports; each `via_*` gives mosquitto client arguments.
struct AllKinds {
    pki: Pki,
    tcp: u16,
    tls: u16,
    ws: u16,
    sock: PathBuf,
}

impl AllKinds {
    fn new(sandbox: &Sandbox) -> AllKinds {
        AllKinds {
            pki: Pki::new(),
            tcp: free_port(),
            tls: free_port(),
            ws: free_port(),
            sock: sandbox.file("mqtk.sock"),
        }
    }

    fn conf(&self) -> String {
        format!(
            "# every listener kind\n\
             listener {tcp} 127.0.0.1\n\
             listener 0 {sock}\n\
             listener {tls} 127.0.0.1\n\
             cafile {ca}\n\
             certfile {cert}\n\
             keyfile {key}\n\
             listener {ws} 127.0.0.1\n\
             protocol websockets\n\
             allow_anonymous true\n\
             log_type all\n",
            tcp = self.tcp,
            tls = self.tls,
            ws = self.ws,
            sock = self.sock.display(),
            ca = self.pki.ca.display(),
            cert = self.pki.server_cert.display(),
            key = self.pki.server_key.display(),
        )
    }

    fn via_tcp(&self) -> Vec<String> {
        vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.tcp.to_string(),
        ]
    }

    fn via_unix(&self) -> Vec<String> {
        vec!["--unix".into(), self.sock.display().to_string()]
    }

    fn via_tls(&self) -> Vec<String> {
        vec![
            "-h".into(),
            "localhost".into(),
            "-p".into(),
            self.tls.to_string(),
            "--cafile".into(),
            self.pki.ca.display().to_string(),
        ]
    }
}

#[test]
fn every_listener_kind_carries_messages_between_mosquitto_clients() {
    if !have_mosquitto_tool("mosquitto_pub") || !have_mosquitto_tool("mosquitto_sub") {
        return;
    }
    let sandbox = Sandbox::new();
    let kinds = AllKinds::new(&sandbox);
    let conf = kinds.conf();
    let mut broker = BrokerProcess::start(sandbox, &conf, kinds.tcp);
    let sandbox = &broker.sandbox;

    let pairs = [
        ("tcp-to-unix", kinds.via_tcp(), kinds.via_unix()),
        ("unix-to-tls", kinds.via_unix(), kinds.via_tls()),
        ("tls-to-tcp", kinds.via_tls(), kinds.via_tcp()),
    ];
    for (name, pub_via, sub_via) in &pairs {
        let got = pub_to_sub(&broker, pub_via, sub_via, &format!("e2e/{name}"));
        assert_eq!(got, "hello\n", "{name}");
    }

    // WebSocket: mosquitto's clients have no WebSocket support, so speak raw MQTT.
    let ws_port = kinds.ws;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::{Bytes, Message};

        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", ws_port))
            .await
            .unwrap();
        let mut req = format!("ws://127.0.0.1:{ws_port}/mqtt")
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());
        let (mut ws, resp) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
        assert_eq!(resp.headers()["Sec-WebSocket-Protocol"], "mqtt");

        // Reads binary frames until `want` bytes arrived.
        async fn expect<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, want: &[u8])
        where
            S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
        {
            let mut got = Vec::new();
            while got.len() < want.len() {
                match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                    Ok(Some(Ok(Message::Binary(b)))) => got.extend_from_slice(&b),
                    other => panic!("expected {want:02x?}, got {got:02x?} then {other:?}"),
                }
            }
            assert_eq!(got, want);
        }

        // CONNECT split across two frames.
        ws.send(Message::Binary(Bytes::from_static(&raw::CONNECT[..3])))
            .await
            .unwrap();
        ws.send(Message::Binary(Bytes::from_static(&raw::CONNECT[3..])))
            .await
            .unwrap();
        expect(&mut ws, raw::CONNACK_OK).await;
        ws.send(Message::Binary(raw::subscribe("e2e/ws").into()))
            .await
            .unwrap();
        expect(&mut ws, raw::SUBACK_QOS0).await;

        // TCP → WebSocket.
        let out = run_with_timeout(
            tool("mosquitto_pub", sandbox, &kinds.via_tcp()).args(["-t", "e2e/ws", "-m", "to ws"]),
            Duration::from_secs(5),
        );
        assert_code(&out, 0);
        expect(&mut ws, &raw::publish("e2e/ws", b"to ws")).await;

        // WebSocket → unix, once the broker has acknowledged the subscription.
        let acked = broker.subacks();
        let sub = tool("mosquitto_sub", sandbox, &kinds.via_unix())
            .args(["-t", "e2e/from-ws", "-C", "2", "-W", "10"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        broker.wait_subacks(acked + 1);
        for _ in 0..2 {
            ws.send(Message::Binary(
                raw::publish("e2e/from-ws", b"from ws").into(),
            ))
            .await
            .unwrap();
        }
        let out = wait_with_timeout(sub, Duration::from_secs(5), "mosquitto_sub");
        assert_code(&out, 0);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "from ws\nfrom ws\n");
    });

    let out = broker.stop();
    assert_code(&out, 0);
    let log = String::from_utf8_lossy(&out.stderr);
    for line in [
        format!("Opening ipv4 listen socket on port {}.", kinds.tcp),
        format!(
            "Opening unix listen socket on path {}.",
            kinds.sock.display()
        ),
        format!("Opening websockets listen socket on port {}.", kinds.ws),
    ] {
        assert!(log.contains(&line), "missing {line:?} in\n{log}");
    }
    assert!(
        !kinds.sock.exists(),
        "the unix socket file is removed at exit"
    );
}

#[test]
fn listeners_from_a_file_refuse_anonymous_clients_by_default() {
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let port = free_port();
    let mut broker = BrokerProcess::start(
        Sandbox::new(),
        &format!("listener {port} 127.0.0.1\n"),
        port,
    );
    let out = run_with_timeout(
        broker.sandbox.command("mosquitto_pub").args([
            "-p",
            &port.to_string(),
            "-t",
            "t",
            "-m",
            "m",
        ]),
        Duration::from_secs(5),
    );
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not authorised"),
        "{}",
        describe(&out)
    );
    assert_code(&broker.stop(), 0);
}

#[test]
fn bad_config_exits_1_naming_file_and_line() {
    let sandbox = Sandbox::new();
    let conf = sandbox.file("bad.conf");
    std::fs::write(&conf, "# fine\nlistener 1883\nmax_inflight_messages lots\n").unwrap();
    let out = run_with_timeout(
        sandbox.mqtk().arg("broker").arg("-c").arg(&conf),
        Duration::from_secs(10),
    );
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error: Invalid max_inflight_messages value (lots).\nError found at {}:3.\n",
            conf.display()
        )
    );

    let out = run_with_timeout(
        sandbox.mqtk().args(["broker", "-c", "missing.conf"]),
        Duration::from_secs(10),
    );
    assert_code(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("Error: Unable to open config file missing.conf: "),
        "{}",
        describe(&out)
    );
}

/// A password file the broker cannot read (missing, or a directory; as Debian's
/// mosquitto finds a 0600 file of root's after dropping to its own user), or a device
/// that never ends, stops it before any listener opens: it never says "running", and
/// exits 1 with mosquitto's words and the OS's reason (no Rust "(os error N)").
#[test]
fn an_unreadable_password_file_stops_the_broker_before_it_listens() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.file("a-directory")).unwrap();
    // An absolute path: `sandbox.file` leaves it as it is.
    for file in ["missing", "a-directory", "/dev/zero"] {
        let port = free_port();
        let conf = sandbox.file("pw.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n",
                sandbox.file(file).display()
            ),
        )
        .unwrap();
        let out = run_with_timeout(
            sandbox.mqtk().arg("broker").arg("-c").arg(&conf),
            Duration::from_secs(10),
        );
        assert_code(&out, 1);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains("Opening ") && !all.contains(" running"),
            "{file}: {}",
            describe(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!(
                "Error: Unable to open pwfile \"{}\": ",
                sandbox.file(file).display()
            )) && !String::from_utf8_lossy(&out.stderr).contains("os error"),
            "{file}: {}",
            describe(&out)
        );
    }
}

#[test]
fn port_in_use_exits_1_with_address_and_reason() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let sandbox = Sandbox::new();
    let out = run_with_timeout(
        sandbox.mqtk().args(["broker", "-p", &port.to_string()]),
        Duration::from_secs(10),
    );
    assert_code(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "Error: Unable to listen on 127.0.0.1:{port}: Address already in use"
        )),
        "{}",
        describe(&out)
    );
}

#[test]
fn default_config_is_local_only_and_stops_cleanly_on_signals() {
    for signal in ["TERM", "INT"] {
        let port = free_port();
        let mut broker =
            BrokerProcess::spawn(Sandbox::new(), &["-p".into(), port.to_string()], port);
        // Anonymous clients are allowed in local only mode.
        if have_mosquitto_tool("mosquitto_pub") {
            let out = run_with_timeout(
                broker.sandbox.command("mosquitto_pub").args([
                    "-p",
                    &port.to_string(),
                    "-t",
                    "t",
                    "-m",
                    "m",
                ]),
                Duration::from_secs(5),
            );
            assert_code(&out, 0);
        }
        broker.signal(signal);
        let out = broker.wait();
        assert_code(&out, 0);
        let log = String::from_utf8_lossy(&out.stderr);
        for line in [
            "Using default config.",
            "Starting in local only mode. Connections will only be possible from clients running on this machine.",
            &format!("Opening ipv4 listen socket on port {port}."),
        ] {
            assert!(log.contains(line), "missing {line:?} in\n{log}");
        }
    }
}

#[test]
fn log_dest_and_log_type_decide_what_is_printed_and_verbose_overrides_them() {
    let port = free_port();
    let mut quiet = BrokerProcess::start(
        Sandbox::new(),
        &format!("listener {port} 127.0.0.1\nlog_dest none\n"),
        port,
    );
    let out = quiet.stop();
    assert_code(&out, 0);
    assert!(
        out.stderr.is_empty() && out.stdout.is_empty(),
        "{}",
        describe(&out)
    );

    // Startup lines are "information": log_type error hides them.
    let conf = |port: u16| format!("listener {port} 127.0.0.1\nlog_dest stdout\nlog_type error\n");
    let port = free_port();
    let mut errors_only = BrokerProcess::start(Sandbox::new(), &conf(port), port);
    let out = errors_only.stop();
    assert_code(&out, 0);
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        describe(&out)
    );

    // -v turns every kind on, written to log_dest (stdout here).
    let port = free_port();
    let mut verbose = BrokerProcess::start_with(Sandbox::new(), &conf(port), &["-v"], port);
    let out = verbose.stop();
    assert_code(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Config loaded from"), "{}", describe(&out));
    assert!(out.stderr.is_empty(), "{}", describe(&out));
}

#[test]
fn require_certificate_with_mosquitto_clients() {
    if !have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let pki = Pki::new();
    let port = free_port();
    let conf = format!(
        "listener {port} 127.0.0.1\n\
         cafile {ca}\n\
         certfile {cert}\n\
         keyfile {key}\n\
         require_certificate true\n\
         allow_anonymous true\n",
        ca = pki.ca.display(),
        cert = pki.server_cert.display(),
        key = pki.server_key.display(),
    );
    let mut broker = BrokerProcess::start(Sandbox::new(), &conf, port);
    let publish = |cert: bool| {
        let mut cmd = broker.sandbox.command("mosquitto_pub");
        cmd.args([
            "-h",
            "localhost",
            "-p",
            &port.to_string(),
            "-t",
            "t",
            "-m",
            "m",
        ])
        .arg("--cafile")
        .arg(&pki.ca);
        if cert {
            cmd.arg("--cert").arg(&pki.client_cert);
            cmd.arg("--key").arg(&pki.client_key);
        }
        run_with_timeout(&mut cmd, Duration::from_secs(10))
    };
    assert_code(&publish(true), 0);
    let refused = publish(false);
    assert_ne!(refused.status.code(), Some(0), "{}", describe(&refused));

    let out = broker.stop();
    assert_code(&out, 0);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("Client connection from 127.0.0.1:") && log.contains("TLS handshake"),
        "the refused handshake is logged\n{log}"
    );
}

/// mosquitto.conf keys: harmless ones mqtk lacks are warned about and ignored,
/// `max_connections` turns away clients over the limit, `connection_messages false`
/// silences the connection lines, and a key whose absence would weaken security stops
/// the broker with exit 1, naming file and line.
#[test]
fn config_keys_warn_limit_and_refuse() {
    use std::io::{Read, Write};
    let port = free_port();
    let conf = format!(
        "persistence true\nlistener {port} 127.0.0.1\nallow_anonymous true\nmax_connections 1\n\
         connection_messages false\nlog_type all\n"
    );
    let mut broker = BrokerProcess::start(Sandbox::new(), &conf, port);
    // The port probe of `start` may still hold the one place for a moment.
    let connect = || -> Option<std::net::TcpStream> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.write_all(&[0x10, 0x0c, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 0])
            .ok()?;
        let mut ack = [0u8; 4];
        s.read_exact(&mut ack).ok()?;
        (ack == [0x20, 0x02, 0x00, 0x00]).then_some(s)
    };
    let mut first = None;
    crate::util::poll_until("a first client accepted", Duration::from_secs(5), || {
        first = connect();
        first.is_some()
    });
    // The second connection is closed at once: end of stream, no CONNACK.
    let mut second = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = second.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{rest:02x?}");
    drop(first);
    let out = broker.stop();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains(": Warning: persistence is not supported by mqtk and is ignored."),
        "{log}"
    );
    assert!(log.contains("denied: max_connections exceeded."), "{log}");
    assert!(!log.contains("New connection from"), "{log}");
    assert!(!log.contains("New client connected"), "{log}");

    let sandbox = Sandbox::new();
    let path = sandbox.file("bad.conf");
    std::fs::write(&path, "listener 1883\nclientid_prefixes trusted-\n").unwrap();
    let out = run_with_timeout(
        sandbox.mqtk().arg("broker").arg("-c").arg(&path),
        Duration::from_secs(10),
    );
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error: clientid_prefixes is not supported by mqtk, and ignoring it would weaken security.\nError found at {}:2.\n",
            path.display()
        )
    );
}
