//! The TLS key log (`--tls-keylog FILE` of mosquitto 2.1's clients, and
//! `SSLKEYLOGFILE` as curl reads it): `mosquitto_pub` and `mosquitto_sub` (our binary
//! by those names) connect over TLS to the embedded broker, and the file must hold
//! the session's secrets in NSS key log format, be created with mode 0600, and be the
//! only place they appear.

use std::path::Path;
use std::time::Duration;

use crate::listeners::Pki;
use crate::util::{Sandbox, TestBroker, assert_code, describe, run_with_timeout};

const T: Duration = Duration::from_secs(10);

/// The embedded broker with one TLS listener on 127.0.0.1 (certificate for
/// 127.0.0.1 and localhost, from `pki`'s CA).
fn tls_broker(pki: &Pki) -> TestBroker {
    let mut config = TestBroker::config();
    config.listeners[0].tls = Some(pki.server_tls(false));
    TestBroker::start_with(config)
}

/// `tool` (a multi-call name) over TLS to `port`, trusting `pki`'s CA.
fn tls_cmd(sb: &Sandbox, tool: &str, pki: &Pki, port: u16) -> std::process::Command {
    let mut cmd = sb.command(sb.multicall(tool));
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "--cafile"])
        .arg(&pki.ca);
    cmd
}

/// The key log's lines, each checked to be `LABEL <32-byte client random> <secret>` in
/// lower-case hex; and its mode, which must be 0600.
fn keylog(path: &Path) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("key log {}: {e}", path.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode of {}", path.display());
    }
    let hex = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 3, "not LABEL RANDOM SECRET: {l:?}");
            assert!(
                f[0].bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit()),
                "{l:?}"
            );
            assert!(hex(f[1]) && f[1].len() == 64, "client random: {l:?}");
            assert!(hex(f[2]) && f[2].len() >= 64, "secret: {l:?}");
            (f[0].to_string(), f[2].to_string())
        })
        .collect()
}

fn labels(lines: &[(String, String)]) -> Vec<&str> {
    lines.iter().map(|(l, _)| l.as_str()).collect()
}

#[test]
fn tls_keylog_writes_the_secrets_of_pub_and_sub() {
    let pki = Pki::new();
    let b = tls_broker(&pki);
    let sb = Sandbox::new();
    let p = b.port();

    // pub, TLS 1.3 (the default), with -d: the secrets go to the file and nowhere else.
    let pub_keys = sb.file("pub.keys");
    let out = run_with_timeout(
        tls_cmd(&sb, "mosquitto_pub", &pki, p)
            .args([
                "-t",
                "k/1",
                "-m",
                "retained",
                "-r",
                "-q",
                "1",
                "-d",
                "--tls-keylog",
            ])
            .arg(&pub_keys),
        T,
    );
    assert_code(&out, 0);
    let lines = keylog(&pub_keys);
    assert!(
        labels(&lines).contains(&"CLIENT_TRAFFIC_SECRET_0"),
        "{lines:?}"
    );
    assert!(
        labels(&lines).contains(&"SERVER_TRAFFIC_SECRET_0"),
        "{lines:?}"
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("sending CONNECT"), "{}", describe(&out));
    for (label, secret) in &lines {
        assert!(
            !printed.contains(secret.as_str()),
            "{label}'s secret printed\n{}",
            describe(&out)
        );
    }

    // sub: takes the retained message and exits; its own handshake is appended to an
    // existing file, whose mode stays 0600.
    let out = run_with_timeout(
        tls_cmd(&sb, "mosquitto_sub", &pki, p)
            .args(["-t", "k/1", "-C", "1", "--tls-keylog"])
            .arg(&pub_keys),
        T,
    );
    assert_code(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "retained\n");
    let both = keylog(&pub_keys);
    assert!(
        both.len() >= 2 * lines.len(),
        "sub appended nothing: {both:?}"
    );
    assert_eq!(
        both[..lines.len()],
        lines[..],
        "the first session's lines stay"
    );
    let secrets: std::collections::HashSet<&String> = both.iter().map(|(_, s)| s).collect();
    assert_eq!(secrets.len(), both.len(), "two sessions, distinct secrets");

    // TLS 1.2 logs the master secret as CLIENT_RANDOM.
    let keys12 = sb.file("tls12.keys");
    let out = run_with_timeout(
        tls_cmd(&sb, "mosquitto_sub", &pki, p)
            .args([
                "-t",
                "k/1",
                "-C",
                "1",
                "--tls-version",
                "tlsv1.2",
                "--tls-keylog",
            ])
            .arg(&keys12),
        T,
    );
    assert_code(&out, 0);
    let lines = keylog(&keys12);
    assert_eq!(labels(&lines), ["CLIENT_RANDOM"], "{lines:?}");
    assert_eq!(lines[0].1.len(), 96, "a 48-byte master secret");
}

#[test]
fn sslkeylogfile_is_used_when_the_flag_is_absent() {
    let pki = Pki::new();
    let b = tls_broker(&pki);
    let sb = Sandbox::new();
    let p = b.port();
    let env_keys = sb.file("env.keys");

    let out = run_with_timeout(
        tls_cmd(&sb, "mosquitto_pub", &pki, p)
            .args(["-t", "e", "-m", "x"])
            .env("SSLKEYLOGFILE", &env_keys),
        T,
    );
    assert_code(&out, 0);
    assert!(labels(&keylog(&env_keys)).contains(&"CLIENT_TRAFFIC_SECRET_0"));

    // The flag wins: its file gets the lines, the variable's is left alone.
    let flag_keys = sb.file("flag.keys");
    let before = std::fs::read(&env_keys).unwrap();
    let out = run_with_timeout(
        tls_cmd(&sb, "mosquitto_pub", &pki, p)
            .args(["-t", "e", "-m", "x", "--tls-keylog"])
            .arg(&flag_keys)
            .env("SSLKEYLOGFILE", &env_keys),
        T,
    );
    assert_code(&out, 0);
    assert!(labels(&keylog(&flag_keys)).contains(&"CLIENT_TRAFFIC_SECRET_0"));
    assert_eq!(std::fs::read(&env_keys).unwrap(), before);

    // Without TLS there is nothing to log: the variable is ignored, no file made.
    let plain = TestBroker::start();
    let unused = sb.file("plain.keys");
    let out = run_with_timeout(
        sb.command(sb.multicall("mosquitto_pub"))
            .args(["-p", &plain.port().to_string(), "-t", "e", "-m", "x"])
            .env("SSLKEYLOGFILE", &unused),
        T,
    );
    assert_code(&out, 0);
    assert!(!unused.exists());
}

#[test]
fn tls_keylog_errors() {
    let pki = Pki::new();
    let b = tls_broker(&pki);
    let sb = Sandbox::new();
    let usage = "\nUse 'mosquitto_pub --help' to see usage.\n";

    // No file named: mosquitto 2.1's words.
    let out = run_with_timeout(
        sb.command(sb.multicall("mosquitto_pub"))
            .args(["-t", "a", "-m", "b", "--tls-keylog"]),
        T,
    );
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("Error: --tls-keylog argument given but no file specified.\n\n{usage}")
    );

    // Without TLS the flag cannot work (mosquitto 2.1 fails at connect time).
    let keys = sb.file("never.keys");
    let out = run_with_timeout(
        sb.command(sb.multicall("mosquitto_pub"))
            .args(["-t", "a", "-m", "b", "--tls-keylog"])
            .arg(&keys),
        T,
    );
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error: --tls-keylog needs a TLS connection (--cafile, --capath, \
             --tls-use-os-certs, port 8883 or an mqtts:// URL).\n{usage}"
        )
    );
    assert!(!keys.exists());

    // A file that cannot be created is an error before connecting, naming it; the
    // same for one named by SSLKEYLOGFILE.
    let bad = sb.file("no/such/dir/keys");
    let out = run_with_timeout(
        tls_cmd(&sb, "mosquitto_pub", &pki, b.port())
            .args(["-t", "a", "-m", "b", "--tls-keylog"])
            .arg(&bad),
        T,
    );
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error: Unable to open TLS key log file \"{}\": No such file or directory.\n",
            bad.display()
        )
    );
    let out = run_with_timeout(
        tls_cmd(&sb, "mosquitto_sub", &pki, b.port())
            .args(["-t", "a"])
            .env("SSLKEYLOGFILE", &bad),
        T,
    );
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error: Unable to open TLS key log file (SSLKEYLOGFILE) \"{}\": No such file or directory.\n",
            bad.display()
        )
    );
}
