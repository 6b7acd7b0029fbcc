//! Failures after the TCP connection is made: mosquitto's clients exit with
//! libmosquitto's error number and print "Error: " and its words (2.1's pub_client.c,
//! sub_client.c, rr_client.c): 7 when the connection is lost, 2 for a protocol error,
//! 8 for a TLS error. mqtk adds a line with its own reason. The cases run against
//! Debian's mosquitto (a TLS listener that requires a client certificate, and a plain
//! one) and against our broker, and where Debian's 2.0.11 clients behave as 2.1's
//! source says they are run beside ours: the same status, the same first line (2.0.11
//! ends it with a period, 2.1 does not).

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use mqtk::broker::config::{ListenerConfig, TlsConfig};

use crate::util::{
    Mosquitto, Sandbox, TestBroker, certs, describe, have_mosquitto_tool, run_with_timeout,
    wait_for_port,
};

const T: Duration = Duration::from_secs(10);

/// A CA and a server certificate for localhost, written into `sb`.
struct Pki {
    ca: PathBuf,
    other_ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    fn new(sb: &Sandbox) -> Pki {
        let ca = certs::ca("exit-status-ca");
        let (cert, key) = certs::server(&["localhost"], &ca);
        Pki {
            ca: certs::write(sb.path(), "ca.crt", &ca.pem()),
            other_ca: certs::write(sb.path(), "other.crt", &certs::ca("other").pem()),
            cert: certs::write(sb.path(), "server.crt", &cert),
            key: certs::write(sb.path(), "server.key", &key),
        }
    }
}

/// `tool` (mqtk's `pub`/`sub`/`rr`, or Debian's `mosquitto_*`) against localhost:`port`
/// with `extra` flags: enough arguments to publish, subscribe or ask once.
fn run(sb: &Sandbox, tool: &str, port: u16, extra: &[&str]) -> Output {
    let port = port.to_string();
    let mut args: Vec<&str> = vec!["-h", "localhost", "-p", &port, "-q", "1"];
    args.extend(match tool.trim_start_matches("mosquitto_") {
        "pub" => &["-t", "t", "-m", "x"][..],
        "sub" => &["-t", "t", "-C", "1"],
        _ => &["-t", "t", "-e", "r", "-m", "x"],
    });
    args.extend(extra);
    let mut cmd = if tool.starts_with("mosquitto_") {
        sb.command(tool)
    } else {
        let mut c = sb.mqtk();
        c.arg(tool);
        c
    };
    run_with_timeout(cmd.args(&args), T)
}

/// Ours exits `code` and prints `first` (2.1's words), then at most one line more.
#[track_caller]
fn expect(out: &Output, code: i32, first: &str, second: Option<&str>) {
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(out.status.code(), Some(code), "{}", describe(out));
    assert_eq!(lines.first(), Some(&first), "{}", describe(out));
    match second {
        Some(s) => assert!(
            lines.len() == 2 && lines[1].starts_with(s),
            "second line {s:?}\n{}",
            describe(out)
        ),
        None => assert_eq!(lines.len(), 1, "{}", describe(out)),
    }
}

/// Debian's 2.0.11 client gives the same status, and the same first line but for its
/// final period.
fn same_as_debian(sb: &Sandbox, sub: &str, port: u16, extra: &[&str], ours: &Output) {
    let tool = format!("mosquitto_{sub}");
    if !have_mosquitto_tool(&tool) {
        return;
    }
    let theirs = run(sb, &tool, port, extra);
    let first = |o: &Output| {
        let e = String::from_utf8_lossy(&o.stderr);
        e.lines()
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .to_string()
    };
    let show = || {
        format!(
            "--- ours ---\n{}\n--- {tool} ---\n{}",
            describe(ours),
            describe(&theirs)
        )
    };
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{extra:?}\n{}",
        show()
    );
    assert_eq!(first(ours), first(&theirs), "{extra:?}\n{}", show());
}

const LOST: &str = "Error: The connection was lost";
const PROTOCOL: &str =
    "Error: A network protocol error occurred when communicating with the broker";
const TLS: &str = "Error: A TLS error occurred";

#[test]
fn after_connecting_to_debians_mosquitto() {
    let sb = Sandbox::new();
    let pki = Pki::new(&sb);
    let tls_port = crate::util::free_port();
    // `user root` keeps a broker started as root from dropping to the mosquitto user,
    // who could not read the key in the test's private temp dir.
    let extra = format!(
        "user root\nlistener {tls_port} 127.0.0.1\ncertfile {}\nkeyfile {}\ncafile {}\n\
         require_certificate true\n",
        pki.cert.display(),
        pki.key.display(),
        pki.ca.display()
    );
    let Some(m) = Mosquitto::start(&extra) else {
        return;
    };
    assert!(
        wait_for_port(tls_port, T),
        "mosquitto's TLS listener did not open"
    );
    let ca = pki.ca.to_str().unwrap();
    for sub in ["pub", "sub", "rr"] {
        // TLS without the client certificate the listener requires: the broker's
        // alert arrives after our side of the handshake, as a lost connection. (Debian's
        // clients exit 7 too when the alert comes after their blocking connect, but
        // "Error: Protocol error" and 1 when it comes during it: a race.)
        let ours = run(&sb, sub, tls_port, &["--cafile", ca]);
        expect(
            &ours,
            7,
            LOST,
            Some("Received fatal alert: CertificateRequired"),
        );
        // Plain MQTT to the TLS port: mosquitto closes the connection.
        let ours = run(&sb, sub, tls_port, &[]);
        expect(&ours, 7, LOST, None);
        if sub == "pub" {
            // (mosquitto_sub and _rr 2.0.11 and 2.1 try again forever here.)
            same_as_debian(&sb, sub, tls_port, &[], &ours);
        }
        // TLS to the plain port: the handshake fails.
        let ours = run(&sb, sub, m.port, &["--cafile", ca]);
        expect(
            &ours,
            8,
            TLS,
            Some("The connection failed during the handshake"),
        );
        same_as_debian(&sb, sub, m.port, &["--cafile", ca], &ours);
        // A server certificate we do not trust (mosquitto's status depends on when
        // OpenSSL notices, so ours is checked alone).
        let other = pki.other_ca.to_str().unwrap();
        let ours = run(&sb, sub, tls_port, &["--cafile", other]);
        expect(&ours, 8, TLS, Some("Invalid peer certificate"));
        // With -q, the status alone.
        let ours = run(&sb, sub, tls_port, &["--quiet"]);
        assert_eq!(ours.status.code(), Some(7), "{}", describe(&ours));
        assert!(ours.stderr.is_empty(), "{}", describe(&ours));
    }
}

#[test]
fn after_connecting_to_our_broker() {
    let sb = Sandbox::new();
    let pki = Pki::new(&sb);
    let mut config = TestBroker::config();
    let plain = config.listeners[0].clone();
    config.listeners.push(ListenerConfig {
        tls: Some(TlsConfig {
            certfile: pki.cert.clone(),
            keyfile: pki.key.clone(),
            cafile: Some(pki.ca.clone()),
            require_certificate: true,
            tls13_only: false,
        }),
        ..plain
    });
    let broker = TestBroker::start_with(config);
    let tls_port = match broker.addrs()[1] {
        mqtk::broker::listener::BoundAddr::Tcp(a) => a.port(),
        ref other => panic!("{other:?}"),
    };
    let ca = pki.ca.to_str().unwrap();
    for sub in ["pub", "sub", "rr"] {
        let ours = run(&sb, sub, tls_port, &["--cafile", ca]);
        expect(
            &ours,
            7,
            LOST,
            Some("Received fatal alert: CertificateRequired"),
        );
        // Plain MQTT to the TLS port: the broker answers with a TLS alert, which
        // does not read as MQTT.
        let ours = run(&sb, sub, tls_port, &[]);
        expect(&ours, 2, PROTOCOL, Some("Malformed packet from the broker"));
        same_as_debian(&sb, sub, tls_port, &[], &ours);
        // TLS to the plain port: our broker closes the connection. (Debian's 2.0.11
        // says "Unable to connect (A TLS error occurred.)." and exits 1 here, 2.1
        // "Error: Protocol error" and 14: ours is a TLS error either way.)
        let ours = run(&sb, sub, broker.port(), &["--cafile", ca]);
        expect(
            &ours,
            8,
            TLS,
            Some("The server closed the connection during the handshake"),
        );
    }
}
