//! The client connection layer (`mqtk::transport::{prepare, open}`) against small
//! loopback servers made in the test: TCP (with `-A`), IPv6, unix socket, TLS (CA file,
//! CA directory, `--insecure`, client certificates, versions, ciphers, ALPN),
//! WebSocket over TCP and TLS, SOCKS5 and HTTP CONNECT proxies, and the errors.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mqtk::broker::config::TlsConfig;
use mqtk::transport::{
    self, BoxedStream, ConnectError, Endpoint, Prepared, Proxy, ProxyKind, TlsSettings, TlsVersion,
    tls, ws,
};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

const T: Duration = Duration::from_secs(5);

/// Two throwaway CAs. The first signs a server certificate for localhost, 127.0.0.1
/// and ::1, one for another name only, and a client certificate; the second (which
/// the client never trusts) signs a server certificate for localhost.
struct Pki {
    dir: tempfile::TempDir,
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    other_name_cert: PathBuf,
    other_name_key: PathBuf,
    untrusted_cert: PathBuf,
    untrusted_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };
        let dir = tempfile::tempdir().unwrap();
        let make_ca = |name: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(DnType::CommonName, name);
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
        };
        let ca = make_ca("mqtk connect test CA");
        let other_ca = make_ca("mqtk untrusted CA");
        let server = |names: &[&str], issuer: &CertifiedIssuer<'_, KeyPair>| {
            let mut p =
                CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                    .unwrap();
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            let key = KeyPair::generate().unwrap();
            let cert = p.signed_by(&key, issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = server(&["localhost", "127.0.0.1", "::1"], &ca);
        let (other_cert, other_key) = server(&["broker.example"], &ca);
        let (untrusted_cert, untrusted_key) = server(&["localhost", "127.0.0.1"], &other_ca);
        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client
            .distinguished_name
            .push(DnType::CommonName, "mqtk-client");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate().unwrap();
        let client_cert = client.signed_by(&client_key, &ca).unwrap();

        let write = |name: &str, text: String| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        Pki {
            ca: write("ca.pem", ca.pem()),
            server_cert: write("server.pem", server_cert),
            server_key: write("server.key", server_key),
            other_name_cert: write("other.pem", other_cert),
            other_name_key: write("other.key", other_key),
            untrusted_cert: write("untrusted.pem", untrusted_cert),
            untrusted_key: write("untrusted.key", untrusted_key),
            client_cert: write("client.pem", client_cert.pem()),
            client_key: write("client.key", client_key.serialize_pem()),
            dir,
        }
    }

    fn server_config(&self, cert: &Path, key: &Path, require_certificate: bool) -> ServerConfig {
        let cfg = tls::server_config(&TlsConfig {
            certfile: cert.to_path_buf(),
            keyfile: key.to_path_buf(),
            cafile: Some(self.ca.clone()),
            require_certificate,
            tls13_only: false,
        })
        .unwrap();
        (*cfg).clone()
    }

    /// A loopback TLS server (WebSocket inside with `websocket`) presenting the
    /// localhost certificate.
    async fn server(&self, require_certificate: bool, websocket: bool) -> Server {
        let cfg = self.server_config(&self.server_cert, &self.server_key, require_certificate);
        server("127.0.0.1:0", Some(cfg), websocket).await
    }

    fn trusting_ca(&self) -> TlsSettings {
        TlsSettings {
            cafile: Some(self.ca.clone()),
            ..TlsSettings::default()
        }
    }
}

fn endpoint(host: &str, port: u16) -> Endpoint {
    Endpoint {
        host: host.to_string(),
        port,
        unix_socket: None,
        bind_address: None,
        nodelay: false,
        websocket_path: None,
        tls: None,
        proxy: None,
    }
}

fn have_ipv6() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

/// Writes `msg` and expects it echoed back.
async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, msg: &[u8]) {
    stream.write_all(msg).await.unwrap();
    stream.flush().await.unwrap();
    let mut got = vec![0u8; msg.len()];
    timeout(T, stream.read_exact(&mut got))
        .await
        .expect("echo timed out")
        .unwrap();
    assert_eq!(got, msg);
}

async fn echo_loop<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 || s.write_all(&buf[..n]).await.is_err() || s.flush().await.is_err() {
            break;
        }
    }
}

/// What a test server learnt about a client that connected.
#[derive(Debug, Default)]
struct Seen {
    peer: Option<SocketAddr>,
    alpn: Option<Vec<u8>>,
    client_certs: usize,
    version: Option<rustls::ProtocolVersion>,
    suite: Option<rustls::CipherSuite>,
}

/// A loopback server: TCP, then optionally TLS, then optionally WebSocket, then echo.
/// Every accepted (fully handshaken) client is reported on the channel. The task is
/// aborted when the returned guard drops.
struct Server {
    addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn server(bind: &str, tls: Option<ServerConfig>, websocket: bool) -> Server {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, seen) = mpsc::unbounded_channel();
    let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
    let task = tokio::spawn(async move {
        while let Ok((tcp, peer)) = listener.accept().await {
            let tx = tx.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut seen = Seen {
                    peer: Some(peer),
                    ..Seen::default()
                };
                let stream: BoxedStream = match acceptor {
                    Some(a) => {
                        let Ok(s) = a.accept(tcp).await else { return };
                        let (_, conn) = s.get_ref();
                        seen.alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
                        seen.client_certs = conn.peer_certificates().map_or(0, <[_]>::len);
                        seen.version = conn.protocol_version();
                        seen.suite = conn.negotiated_cipher_suite().map(|s| s.suite());
                        Box::new(s)
                    }
                    None => Box::new(tcp),
                };
                let stream: BoxedStream = if websocket {
                    let Ok(s) = ws::accept(stream).await else {
                        return;
                    };
                    Box::new(s)
                } else {
                    stream
                };
                let _ = tx.send(seen);
                echo_loop(stream).await;
            });
        }
    });
    Server { addr, seen, task }
}

impl Server {
    async fn next_seen(&mut self) -> Seen {
        timeout(T, self.seen.recv())
            .await
            .expect("the server saw no client")
            .unwrap()
    }
}

async fn open(ep: &Endpoint) -> Result<BoxedStream, ConnectError> {
    let prepared = transport::prepare(ep)?;
    timeout(T, transport::open(&prepared))
        .await
        .expect("open hung")
}

async fn open_ok(ep: &Endpoint) -> BoxedStream {
    match open(ep).await {
        Ok(s) => s,
        Err(e) => panic!("{}: {e}", transport::describe(ep)),
    }
}

async fn open_err(ep: &Endpoint) -> ConnectError {
    match open(ep).await {
        Ok(mut s) => {
            // A TLS 1.3 client learns of a refused certificate on its first read.
            s.write_all(b"x").await.ok();
            let mut b = [0u8; 1];
            match timeout(T, s.read(&mut b)).await.expect("read hung") {
                Ok(0) => ConnectError::Tls("closed".into()),
                Ok(_) => panic!("{} connected", transport::describe(ep)),
                Err(e) => ConnectError::Io { source: e },
            }
        }
        Err(e) => e,
    }
}

// ---------------------------------------------------------------- TCP and unix

#[tokio::test]
async fn tcp_reaches_an_echo_server_and_binds_the_local_address() {
    let mut srv = server("127.0.0.1:0", None, false).await;
    let mut ep = endpoint("127.0.0.1", srv.addr.port());
    ep.nodelay = true;
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"\x10\x02ab").await;
    srv.next_seen().await;

    // -A: the server sees the connection come from the bound address. Linux routes all
    // of 127/8 through lo, so 127.0.0.2 is a second local address.
    for local in ["127.0.0.1", "127.0.0.2"] {
        ep.bind_address = Some(local.to_string());
        let mut s = open_ok(&ep).await;
        round_trip(&mut s, b"bound").await;
        let peer = srv.next_seen().await.peer.unwrap();
        assert_eq!(peer.ip(), local.parse::<IpAddr>().unwrap(), "-A {local}");
    }
}

#[tokio::test]
async fn a_name_resolves_and_ipv6_works() {
    let srv = server("127.0.0.1:0", None, false).await;
    // localhost comes from /etc/hosts; every address is tried in turn, so an IPv6
    // ::1 first (where nothing listens on this port) falls through to 127.0.0.1.
    let mut s = open_ok(&endpoint("localhost", srv.addr.port())).await;
    round_trip(&mut s, b"by name").await;

    if !have_ipv6() {
        eprintln!("skipping the ::1 part: no IPv6 loopback here");
        return;
    }
    let mut srv6 = server("[::1]:0", None, false).await;
    for host in ["::1", "[::1]"] {
        let mut s = open_ok(&endpoint(host, srv6.addr.port())).await;
        round_trip(&mut s, b"six").await;
        assert!(srv6.next_seen().await.peer.unwrap().is_ipv6());
    }
    let mut ep = endpoint("::1", srv6.addr.port());
    ep.bind_address = Some("::1".into());
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"bound six").await;
    assert_eq!(
        srv6.next_seen().await.peer.unwrap().ip(),
        "::1".parse::<IpAddr>().unwrap()
    );
    // An IPv4 bind address cannot serve an IPv6 connection.
    ep.bind_address = Some("127.0.0.1".into());
    let e = open_err(&ep).await;
    assert!(e.to_string().contains("family"), "{e}");
}

#[tokio::test]
async fn unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broker.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let task = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        echo_loop(s).await;
    });
    let mut ep = endpoint("localhost", 1883);
    ep.unix_socket = Some(path);
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"over unix").await;
    task.abort();

    ep.unix_socket = Some(dir.path().join("missing.sock"));
    let e = open_err(&ep).await;
    assert_eq!(e.to_string(), "No such file or directory");
}

/// mosquitto_pub prints `Error: Connection refused` and exits 1.
#[tokio::test]
async fn connection_refused_reads_like_mosquitto() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = open_err(&endpoint("127.0.0.1", port)).await;
    assert!(
        matches!(&e, ConnectError::Io { source } if source.kind() == std::io::ErrorKind::ConnectionRefused),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "Connection refused");
    assert_eq!(e.stderr_line(), "Error: Connection refused");
    assert!(e.is_transient());
    let exit = mqtk::cmd::client::words::connect_error(&e, false);
    assert_eq!(exit.exit_code(), 1);
    assert_eq!(exit.message(), "Error: Connection refused\n");
}

#[tokio::test]
async fn a_bind_address_that_is_not_local_is_refused() {
    let srv = server("127.0.0.1:0", None, false).await;
    let mut ep = endpoint("127.0.0.1", srv.addr.port());
    // TEST-NET-1 (RFC 5737): never an address of this machine; bind fails locally.
    ep.bind_address = Some("192.0.2.1".into());
    let e = open_err(&ep).await;
    assert_eq!(e.to_string(), "Cannot assign requested address");
}

/// A server that accepts TCP and then says nothing: the whole `open` is bounded.
#[tokio::test]
async fn open_is_bounded_by_the_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let pki = Pki::new();
    let mut ep = endpoint("localhost", port);
    ep.tls = Some(pki.trusting_ca());
    let mut prepared: Prepared = transport::prepare(&ep).unwrap();
    prepared.connect_timeout = Duration::from_millis(200);
    let e = timeout(T, transport::open(&prepared))
        .await
        .expect("the timeout did not fire")
        .err()
        .expect("connected to a silent server");
    assert!(matches!(e, ConnectError::Timeout(_)), "{e:?}");
    assert!(e.to_string().starts_with("Connection timed out"), "{e}");
    hold.abort();
}

// ---------------------------------------------------------------- TLS

#[tokio::test]
async fn tls_verifies_with_a_ca_file_and_a_ca_directory() {
    let pki = Pki::new();
    let mut srv = pki.server(false, false).await;
    // By name and by address (the certificate has both).
    for host in ["localhost", "127.0.0.1"] {
        let mut ep = endpoint(host, srv.addr.port());
        ep.tls = Some(pki.trusting_ca());
        let mut s = open_ok(&ep).await;
        round_trip(&mut s, b"secret").await;
        assert_eq!(srv.next_seen().await.client_certs, 0);
    }

    // --capath: a directory with the CA among files that are not certificates.
    let capath = pki.dir.path().join("certs");
    std::fs::create_dir(&capath).unwrap();
    std::fs::copy(&pki.ca, capath.join("5d4e3f2a.0")).unwrap();
    std::fs::write(capath.join("README"), "not a certificate\n").unwrap();
    let mut ep = endpoint("localhost", srv.addr.port());
    ep.tls = Some(TlsSettings {
        capath: Some(capath.clone()),
        ..TlsSettings::default()
    });
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"capath").await;

    // A directory without any certificate is an error naming it.
    let empty = pki.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    ep.tls = Some(TlsSettings {
        capath: Some(empty.clone()),
        ..TlsSettings::default()
    });
    let e = transport::prepare(&ep).unwrap_err().to_string();
    assert!(
        e.starts_with("Unable to load CA certificates, check capath")
            && e.contains(&empty.display().to_string()),
        "{e}"
    );
}

#[tokio::test]
async fn tls_refuses_a_server_from_another_ca() {
    let pki = Pki::new();
    let srv = server(
        "127.0.0.1:0",
        Some(pki.server_config(&pki.untrusted_cert, &pki.untrusted_key, false)),
        false,
    )
    .await;
    let mut ep = endpoint("localhost", srv.addr.port());
    ep.tls = Some(pki.trusting_ca());
    let e = open_err(&ep).await;
    assert!(matches!(e, ConnectError::Tls(_)), "{e:?}");
    assert!(!e.is_transient());
    assert_eq!(
        e.to_string(),
        "Unable to connect (A TLS error occurred: invalid peer certificate: UnknownIssuer)."
    );
    assert_eq!(e.stderr_line(), e.to_string());
    // --insecure forgives only the name: an untrusted chain still fails.
    ep.tls.as_mut().unwrap().insecure = true;
    let e = open_err(&ep).await;
    assert!(matches!(e, ConnectError::Tls(_)), "{e:?}");
    assert!(e.to_string().contains("invalid peer certificate"), "{e}");
}

#[tokio::test]
async fn insecure_skips_only_the_hostname_check() {
    let pki = Pki::new();
    let srv = server(
        "127.0.0.1:0",
        Some(pki.server_config(&pki.other_name_cert, &pki.other_name_key, false)),
        false,
    )
    .await;
    let mut ep = endpoint("localhost", srv.addr.port());
    ep.tls = Some(pki.trusting_ca());
    let e = open_err(&ep).await;
    assert!(
        e.to_string().contains("certificate not valid for name"),
        "{e}"
    );
    ep.tls.as_mut().unwrap().insecure = true;
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"insecure").await;
}

#[tokio::test]
async fn client_certificate_is_presented() {
    let pki = Pki::new();
    let mut srv = pki.server(true, false).await;
    let mut ep = endpoint("localhost", srv.addr.port());
    ep.tls = Some(TlsSettings {
        certfile: Some(pki.client_cert.clone()),
        keyfile: Some(pki.client_key.clone()),
        ..pki.trusting_ca()
    });
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"it's me").await;
    assert_eq!(srv.next_seen().await.client_certs, 1);

    // Without one, the server refuses.
    ep.tls = Some(pki.trusting_ca());
    let e = open_err(&ep).await;
    assert!(e.to_string().contains("CertificateRequired"), "{e}");

    // --cert without --key: mosquitto's words, before any connection.
    ep.tls = Some(TlsSettings {
        certfile: Some(pki.client_cert.clone()),
        ..pki.trusting_ca()
    });
    assert_eq!(
        transport::prepare(&ep).unwrap_err().to_string(),
        "Both certfile and keyfile must be provided if one of them is set."
    );
    // A key that does not belong to the certificate.
    ep.tls = Some(TlsSettings {
        certfile: Some(pki.client_cert.clone()),
        keyfile: Some(pki.server_key.clone()),
        ..pki.trusting_ca()
    });
    let e = transport::prepare(&ep).unwrap_err().to_string();
    assert!(
        e.starts_with("Client certificate/key are inconsistent"),
        "{e}"
    );
}

#[tokio::test]
async fn tls_files_that_are_missing_or_wrong_are_named() {
    let pki = Pki::new();
    let mut ep = endpoint("localhost", 8883);
    let missing = pki.dir.path().join("missing.pem");
    let cases: Vec<(TlsSettings, String)> = vec![
        (
            TlsSettings {
                cafile: Some(missing.clone()),
                ..TlsSettings::default()
            },
            format!(
                "Problem setting TLS options: File not found (--cafile \"{}\").",
                missing.display()
            ),
        ),
        (
            TlsSettings {
                capath: Some(missing.clone()),
                ..TlsSettings::default()
            },
            format!(
                "Problem setting TLS options: File not found (--capath \"{}\").",
                missing.display()
            ),
        ),
        (
            TlsSettings {
                certfile: Some(pki.client_cert.clone()),
                keyfile: Some(missing.clone()),
                ..pki.trusting_ca()
            },
            format!(
                "Problem setting TLS options: File not found (--key \"{}\").",
                missing.display()
            ),
        ),
        (
            TlsSettings {
                // A key is not a certificate.
                cafile: Some(pki.client_key.clone()),
                ..TlsSettings::default()
            },
            format!(
                "Unable to load CA certificates, check cafile \"{}\": no certificates in it.",
                pki.client_key.display()
            ),
        ),
        (
            TlsSettings {
                certfile: Some(pki.client_cert.clone()),
                keyfile: Some(pki.client_cert.clone()),
                ..pki.trusting_ca()
            },
            format!(
                "Unable to load client key file \"{}\": no unencrypted private key in it.",
                pki.client_cert.display()
            ),
        ),
    ];
    for (settings, want) in cases {
        ep.tls = Some(settings);
        let e = transport::prepare(&ep).unwrap_err();
        assert!(!e.is_transient());
        assert_eq!(e.to_string(), want);
        let exit = mqtk::cmd::client::words::connect_error(&e, false);
        assert_eq!(exit.exit_code(), 1);
    }
}

#[tokio::test]
async fn tls_version_restricts_to_exactly_that_version() {
    let pki = Pki::new();
    let certs = tls::load_certs(&pki.server_cert, "server certificate").unwrap();
    let key = tls::load_private_key(&pki.server_key).unwrap();
    let tls12_only = ServerConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let mut old = server("127.0.0.1:0", Some(tls12_only), false).await;
    let mut ep = endpoint("localhost", old.addr.port());
    ep.tls = Some(TlsSettings {
        version: Some(TlsVersion::Tls13),
        ..pki.trusting_ca()
    });
    let e = open_err(&ep).await;
    assert!(matches!(e, ConnectError::Tls(_)), "{e:?}");
    ep.tls.as_mut().unwrap().version = Some(TlsVersion::Tls12);
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"1.2").await;
    assert_eq!(
        old.next_seen().await.version,
        Some(rustls::ProtocolVersion::TLSv1_2)
    );

    // Against a server that has both, tlsv1.2 still gets 1.2.
    let mut both = pki.server(false, false).await;
    ep.port = both.addr.port();
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"1.2 again").await;
    assert_eq!(
        both.next_seen().await.version,
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

#[tokio::test]
async fn ciphers_are_mapped_or_refused_by_name() {
    let pki = Pki::new();
    let mut srv = pki.server(false, false).await;
    let mut ep = endpoint("localhost", srv.addr.port());
    // rcgen's keys are ECDSA P-256, so an ECDSA suite is the one that can work.
    ep.tls = Some(TlsSettings {
        version: Some(TlsVersion::Tls12),
        ciphers: Some("ECDHE-ECDSA-AES256-GCM-SHA384".into()),
        ..pki.trusting_ca()
    });
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"suite").await;
    assert_eq!(
        srv.next_seen().await.suite,
        Some(rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)
    );
    ep.tls = Some(TlsSettings {
        ciphers: Some("TLS_CHACHA20_POLY1305_SHA256".into()),
        ..pki.trusting_ca()
    });
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"suite 1.3").await;
    assert_eq!(
        srv.next_seen().await.suite,
        Some(rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256)
    );

    // Only RSA suites against an ECDSA certificate: no common suite.
    ep.tls = Some(TlsSettings {
        version: Some(TlsVersion::Tls12),
        ciphers: Some("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305".into()),
        ..pki.trusting_ca()
    });
    assert!(matches!(open_err(&ep).await, ConnectError::Tls(_)));

    // Names we cannot map, and a version no named suite has.
    for (ciphers, version, needle) in [
        ("DHE-RSA-AES256-SHA", None, "\"DHE-RSA-AES256-SHA\""),
        ("ECDHE-RSA-AES128-GCM-SHA256:HIGH", None, "\"HIGH\""),
        (
            "TLS_AES_128_GCM_SHA256",
            Some(TlsVersion::Tls12),
            "--ciphers",
        ),
    ] {
        ep.tls = Some(TlsSettings {
            version,
            ciphers: Some(ciphers.into()),
            ..pki.trusting_ca()
        });
        let e = transport::prepare(&ep).unwrap_err().to_string();
        assert!(
            e.contains("--ciphers") && e.contains(needle),
            "{ciphers}: {e}"
        );
    }
}

#[tokio::test]
async fn alpn_is_offered() {
    let pki = Pki::new();
    let mut cfg = pki.server_config(&pki.server_cert, &pki.server_key, false);
    cfg.alpn_protocols = vec![b"mqtt".to_vec(), b"x-other".to_vec()];
    let mut srv = server("127.0.0.1:0", Some(cfg), false).await;
    let mut ep = endpoint("localhost", srv.addr.port());
    ep.tls = Some(TlsSettings {
        alpn: Some("mqtt".into()),
        ..pki.trusting_ca()
    });
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"alpn").await;
    assert_eq!(srv.next_seen().await.alpn.as_deref(), Some(&b"mqtt"[..]));
}

// ---------------------------------------------------------------- WebSocket

#[tokio::test]
async fn websocket_over_tcp_and_tls() {
    let mut plain = server("127.0.0.1:0", None, true).await;
    let mut ep = endpoint("127.0.0.1", plain.addr.port());
    ep.websocket_path = Some(String::new());
    let prepared = transport::prepare(&ep).unwrap();
    assert_eq!(
        prepared.websocket_url(),
        Some(format!("ws://127.0.0.1:{}/mqtt", plain.addr.port()).as_str())
    );
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00").await;
    round_trip(&mut s, &[7u8; 70_000]).await;
    plain.next_seen().await;

    let pki = Pki::new();
    let mut secure = pki.server(false, true).await;
    let mut ep = endpoint("localhost", secure.addr.port());
    ep.websocket_path = Some("/custom".into());
    ep.tls = Some(pki.trusting_ca());
    assert_eq!(
        transport::prepare(&ep).unwrap().websocket_url(),
        Some(format!("wss://localhost:{}/custom", secure.addr.port()).as_str())
    );
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"wss bytes").await;
    secure.next_seen().await;

    // A server that is not a WebSocket server.
    let not_ws = server("127.0.0.1:0", None, false).await;
    let mut ep = endpoint("127.0.0.1", not_ws.addr.port());
    ep.websocket_path = Some("/mqtt".into());
    let e = open_err(&ep).await;
    assert!(
        matches!(e, ConnectError::WebSocket(_) | ConnectError::Io { .. }),
        "{e:?}"
    );
}

// ---------------------------------------------------------------- proxies

/// What a test proxy was asked for.
#[derive(Debug, PartialEq)]
enum Asked {
    Socks {
        atyp: u8,
        host: Vec<u8>,
        port: u16,
        credentials: Option<(String, String)>,
    },
    Http {
        header: String,
    },
}

/// How the test SOCKS5 proxy behaves.
#[derive(Clone, Copy)]
enum SocksMode {
    /// No authentication.
    Open,
    /// Username/password "user"/"pass" required.
    Auth,
    /// Answers every CONNECT with REP 5 (connection refused).
    Refuse,
}

async fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    s.read_exact(&mut b).await.unwrap();
    b
}

/// A SOCKS5 proxy for one client at a time that forwards every CONNECT to `upstream`
/// whatever was asked, and reports what was asked.
async fn socks5_proxy(
    mode: SocksMode,
    upstream: SocketAddr,
) -> (
    SocketAddr,
    mpsc::UnboundedReceiver<Asked>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let head = read_n(&mut c, 2).await;
            assert_eq!(head[0], 5);
            let methods = read_n(&mut c, head[1] as usize).await;
            let mut credentials = None;
            match mode {
                SocksMode::Auth if methods.contains(&2) => {
                    c.write_all(&[5, 2]).await.unwrap();
                    let v = read_n(&mut c, 2).await;
                    assert_eq!(v[0], 1);
                    let user = String::from_utf8(read_n(&mut c, v[1] as usize).await).unwrap();
                    let plen = read_n(&mut c, 1).await[0] as usize;
                    let pass = String::from_utf8(read_n(&mut c, plen).await).unwrap();
                    let ok = user == "user" && pass == "pass";
                    c.write_all(&[1, if ok { 0 } else { 1 }]).await.unwrap();
                    if !ok {
                        continue;
                    }
                    credentials = Some((user, pass));
                }
                SocksMode::Auth => {
                    c.write_all(&[5, 0xff]).await.unwrap();
                    continue;
                }
                SocksMode::Open | SocksMode::Refuse => c.write_all(&[5, 0]).await.unwrap(),
            }
            let req = read_n(&mut c, 4).await;
            assert_eq!(&req[..3], &[5, 1, 0]);
            let host = match req[3] {
                1 => read_n(&mut c, 4).await,
                4 => read_n(&mut c, 16).await,
                3 => {
                    let n = read_n(&mut c, 1).await[0] as usize;
                    read_n(&mut c, n).await
                }
                other => panic!("ATYP {other}"),
            };
            let port = u16::from_be_bytes(read_n(&mut c, 2).await.try_into().unwrap());
            let _ = tx.send(Asked::Socks {
                atyp: req[3],
                host,
                port,
                credentials,
            });
            if matches!(mode, SocksMode::Refuse) {
                c.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await.unwrap();
                continue;
            }
            let mut up = TcpStream::connect(upstream).await.unwrap();
            // BND.ADDR as a domain name, to exercise the client's variable-length read.
            c.write_all(&[5, 0, 0, 3, 5, b'p', b'r', b'o', b'x', b'y', 0x04, 0x38])
                .await
                .unwrap();
            tokio::spawn(async move {
                let _ = tokio::io::copy_bidirectional(&mut c, &mut up).await;
            });
        }
    });
    (addr, rx, task)
}

fn socks(addr: SocketAddr, credentials: Option<(&str, &str)>) -> Proxy {
    Proxy {
        kind: ProxyKind::Socks5h,
        host: addr.ip().to_string(),
        port: addr.port(),
        username: credentials.map(|c| c.0.to_string()),
        password: credentials.map(|c| c.1.to_string()),
    }
}

#[tokio::test]
async fn socks5_sends_the_name_for_the_proxy_to_resolve() {
    let mut upstream = server("127.0.0.1:0", None, false).await;
    let (proxy, mut asked, task) = socks5_proxy(SocksMode::Open, upstream.addr).await;
    let mut ep = endpoint("localhost", 1883);
    ep.proxy = Some(socks(proxy, None));
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"through socks").await;
    upstream.next_seen().await;
    assert_eq!(
        asked.recv().await.unwrap(),
        Asked::Socks {
            atyp: 3,
            host: b"localhost".to_vec(),
            port: 1883,
            credentials: None
        }
    );
    // An address literal goes as an address, as mosquitto sends it.
    let mut ep = endpoint("127.0.0.1", 8883);
    ep.proxy = Some(socks(proxy, None));
    open_ok(&ep).await;
    assert_eq!(
        asked.recv().await.unwrap(),
        Asked::Socks {
            atyp: 1,
            host: vec![127, 0, 0, 1],
            port: 8883,
            credentials: None
        }
    );
    task.abort();
}

#[tokio::test]
async fn socks5_with_username_and_password() {
    let upstream = server("127.0.0.1:0", None, false).await;
    let (proxy, mut asked, task) = socks5_proxy(SocksMode::Auth, upstream.addr).await;
    let mut ep = endpoint("broker.example", 1883);
    ep.proxy = Some(socks(proxy, Some(("user", "pass"))));
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"authenticated").await;
    assert_eq!(
        asked.recv().await.unwrap(),
        Asked::Socks {
            atyp: 3,
            host: b"broker.example".to_vec(),
            port: 1883,
            credentials: Some(("user".into(), "pass".into()))
        }
    );

    ep.proxy = Some(socks(proxy, Some(("user", "wrong"))));
    let e = open_err(&ep).await;
    assert_eq!(
        e.to_string(),
        "Proxy error: the SOCKS5 proxy rejected the username and password."
    );
    ep.proxy = Some(socks(proxy, None));
    let e = open_err(&ep).await;
    assert!(e.to_string().contains("requires authentication"), "{e}");
    // The password never shows in debug output.
    ep.proxy = Some(socks(proxy, Some(("user", "hunter2"))));
    assert!(!format!("{ep:?}").contains("hunter2"));
    assert!(!transport::describe(&ep).contains("hunter2"));
    task.abort();
}

#[tokio::test]
async fn socks5_refusal_is_a_clear_error() {
    let upstream = server("127.0.0.1:0", None, false).await;
    let (proxy, _asked, task) = socks5_proxy(SocksMode::Refuse, upstream.addr).await;
    let mut ep = endpoint("broker.example", 1883);
    ep.proxy = Some(socks(proxy, None));
    let e = open_err(&ep).await;
    assert_eq!(
        e.to_string(),
        "Proxy error: the SOCKS5 proxy could not connect to broker.example:1883: connection refused."
    );
    task.abort();
    let _ = task.await; // the listener is closed once the task is gone

    // No proxy listening at all: the OS's words, as mosquitto prints them.
    let e = open_err(&ep).await;
    assert_eq!(e.to_string(), "Connection refused");
}

/// An HTTP CONNECT proxy that wants `Proxy-Authorization: Basic dXNlcjpwYXNz`
/// (user:pass) when `auth`, answers 407 otherwise, and tunnels to `upstream`.
async fn http_proxy(
    auth: bool,
    upstream: SocketAddr,
) -> (
    SocketAddr,
    mpsc::UnboundedReceiver<Asked>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let mut header = Vec::new();
            while !header.ends_with(b"\r\n\r\n") {
                header.push(read_n(&mut c, 1).await[0]);
            }
            let header = String::from_utf8(header).unwrap();
            let allowed =
                !auth || header.contains("\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n");
            let _ = tx.send(Asked::Http {
                header: header.clone(),
            });
            if !allowed {
                c.write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                      Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n",
                )
                .await
                .unwrap();
                continue;
            }
            let mut up = TcpStream::connect(upstream).await.unwrap();
            c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .unwrap();
            tokio::spawn(async move {
                let _ = tokio::io::copy_bidirectional(&mut c, &mut up).await;
            });
        }
    });
    (addr, rx, task)
}

fn http(addr: SocketAddr, credentials: Option<(&str, &str)>) -> Proxy {
    Proxy {
        kind: ProxyKind::HttpConnect,
        ..socks(addr, credentials)
    }
}

#[tokio::test]
async fn http_connect_with_basic_auth() {
    let upstream = server("127.0.0.1:0", None, false).await;
    let (proxy, mut asked, task) = http_proxy(true, upstream.addr).await;
    let mut ep = endpoint("broker.example", 1883);
    ep.proxy = Some(http(proxy, Some(("user", "pass"))));
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"tunnelled").await;
    assert_eq!(
        asked.recv().await.unwrap(),
        Asked::Http {
            header: "CONNECT broker.example:1883 HTTP/1.1\r\nHost: broker.example:1883\r\n\
                     Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n"
                .into()
        }
    );

    ep.proxy = Some(http(proxy, None));
    let e = open_err(&ep).await;
    assert_eq!(
        e.to_string(),
        "Proxy error: the HTTP proxy requires authentication \
         (HTTP/1.1 407 Proxy Authentication Required); give user:password in the --proxy URL."
    );
    ep.proxy = Some(http(proxy, Some(("user", "nope"))));
    let e = open_err(&ep).await;
    assert!(
        e.to_string().contains("refused the username and password"),
        "{e}"
    );
    task.abort();
}

#[tokio::test]
async fn tls_and_websocket_through_an_http_proxy() {
    let pki = Pki::new();
    let mut upstream = pki.server(false, true).await;
    let (proxy, mut asked, task) = http_proxy(false, upstream.addr).await;
    // The proxy tunnels to the test server whatever the target, so the TLS name is
    // "localhost" and the certificate matches.
    let mut ep = endpoint("localhost", 8883);
    ep.tls = Some(pki.trusting_ca());
    ep.websocket_path = Some("/mqtt".into());
    ep.proxy = Some(http(proxy, None));
    let mut s = open_ok(&ep).await;
    round_trip(&mut s, b"all layers").await;
    upstream.next_seen().await;
    let Asked::Http { header } = asked.recv().await.unwrap() else {
        unreachable!()
    };
    assert!(
        header.starts_with("CONNECT localhost:8883 HTTP/1.1\r\n"),
        "{header}"
    );
    assert!(!header.contains("Proxy-Authorization"), "{header}");
    task.abort();
}

#[test]
fn settings_that_cannot_work_together_are_refused_before_connecting() {
    let mut ep = endpoint("localhost", 1883);
    ep.unix_socket = Some("/tmp/x.sock".into());
    ep.proxy = Some(socks("127.0.0.1:1080".parse().unwrap(), None));
    assert_eq!(
        transport::prepare(&ep).unwrap_err().to_string(),
        "--proxy cannot be used with --unix."
    );
    let mut ep = endpoint("localhost", 1883);
    ep.proxy = Some(http("127.0.0.1:3128".parse().unwrap(), Some(("a:b", "c"))));
    assert!(transport::prepare(&ep).is_err());
    let mut ep = endpoint(&"h".repeat(300), 1883);
    ep.proxy = Some(socks("127.0.0.1:1080".parse().unwrap(), None));
    assert!(
        transport::prepare(&ep)
            .unwrap_err()
            .to_string()
            .contains("too long")
    );
    let pki = Pki::new();
    let mut ep = endpoint("localhost", 8883);
    ep.tls = Some(TlsSettings {
        alpn: Some(String::new()),
        ..pki.trusting_ca()
    });
    assert!(
        transport::prepare(&ep)
            .unwrap_err()
            .to_string()
            .contains("--tls-alpn")
    );
    ep.tls = Some(pki.trusting_ca());
    ep.websocket_path = Some(String::new());
    ep.proxy = Some(http(
        "127.0.0.1:3128".parse().unwrap(),
        Some(("me", "hunter2")),
    ));
    assert_eq!(
        transport::describe(&ep),
        "localhost:8883 over TLS over WebSocket (/mqtt) via HTTP proxy 127.0.0.1:3128 as me"
    );
    let mut ep = endpoint("bad host!", 8883);
    ep.tls = Some(pki.trusting_ca());
    assert!(
        transport::prepare(&ep)
            .unwrap_err()
            .to_string()
            .contains("TLS server name")
    );
}

// ---------------------------------------------------------------- interop

/// MQTT 3.1.1 CONNECT (§3.1): protocol name "MQTT", level 4, clean session,
/// keepalive 60, client id "x".
const CONNECT_311: &[u8] = &[
    0x10, 0x0d, // CONNECT, remaining length 13
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
    0x04, // protocol level 4 (3.1.1)
    0x02, // clean session
    0x00, 0x3c, // keepalive 60 s
    0x00, 0x01, b'x', // client id
];

/// Sends CONNECT and expects CONNACK "accepted" (§3.2: 20 02 00 00).
async fn mqtt_connect(stream: &mut BoxedStream) -> std::io::Result<[u8; 4]> {
    stream.write_all(CONNECT_311).await?;
    stream.flush().await?;
    let mut connack = [0u8; 4];
    timeout(T, stream.read_exact(&mut connack))
        .await
        .map_err(|_| std::io::Error::other("no CONNACK"))??;
    Ok(connack)
}

/// Our TLS client against Debian's mosquitto (OpenSSL): server verification by name,
/// a client certificate the broker requires, both TLS versions, and an untrusted CA.
#[tokio::test]
async fn tls_interop_with_mosquitto() {
    let pki = Pki::new();
    let tls_port = crate::util::free_port();
    // `user root` keeps a broker started as root from dropping to the mosquitto user,
    // who could not read the keys in the test's private temp dir.
    let extra = format!(
        "user root\nlistener {tls_port} 127.0.0.1\ncertfile {}\nkeyfile {}\ncafile {}\n\
         require_certificate true\n",
        pki.server_cert.display(),
        pki.server_key.display(),
        pki.ca.display()
    );
    let Some(_broker) = crate::util::Mosquitto::start(&extra) else {
        return;
    };
    assert!(
        crate::util::wait_for_port(tls_port, Duration::from_secs(5)),
        "mosquitto's TLS listener did not open"
    );
    let mut ep = endpoint("localhost", tls_port);
    for version in [None, Some(TlsVersion::Tls12), Some(TlsVersion::Tls13)] {
        ep.tls = Some(TlsSettings {
            certfile: Some(pki.client_cert.clone()),
            keyfile: Some(pki.client_key.clone()),
            version,
            ..pki.trusting_ca()
        });
        let mut s = open_ok(&ep).await;
        assert_eq!(
            mqtt_connect(&mut s).await.unwrap(),
            [0x20, 0x02, 0x00, 0x00],
            "{version:?}"
        );
    }
    // Without a client certificate mosquitto ends the handshake.
    ep.tls = Some(pki.trusting_ca());
    let refused = match open(&ep).await {
        Err(_) => true,
        Ok(mut s) => mqtt_connect(&mut s).await.is_err(),
    };
    assert!(refused, "mosquitto accepted a client without a certificate");
    // A CA that did not sign mosquitto's certificate. It has the same name as the
    // real one, which mosquitto sends along: the signature check is what fails.
    let other = Pki::new();
    ep.tls = Some(TlsSettings {
        certfile: Some(pki.client_cert.clone()),
        keyfile: Some(pki.client_key.clone()),
        ..other.trusting_ca()
    });
    let e = open_err(&ep).await;
    assert!(matches!(e, ConnectError::Tls(_)), "{e:?}");
    assert!(e.to_string().contains("invalid peer certificate"), "{e}");
}

/// Every transport, end to end against our own broker (in-process, port 0): the
/// broker answers our CONNECT with CONNACK "accepted" over TCP, a unix socket, TLS
/// with a client certificate, WebSocket, WebSocket over TLS, and TLS through each proxy.
#[tokio::test]
async fn every_transport_reaches_our_broker() {
    use mqtk::broker::config::ListenerConfig;
    use mqtk::broker::listener::BoundAddr;
    let pki = Pki::new();
    let sock = pki.dir.path().join("broker.sock");
    let listener = |websockets: bool, tls: bool| ListenerConfig {
        port: 0,
        bind_address: Some("127.0.0.1".into()),
        socket_domain: None,
        unix_socket: None,
        websockets,
        tls: tls.then(|| TlsConfig {
            certfile: pki.server_cert.clone(),
            keyfile: pki.server_key.clone(),
            cafile: Some(pki.ca.clone()),
            require_certificate: true,
            tls13_only: false,
        }),
    };
    let mut config = crate::util::TestBroker::config();
    config.listeners = vec![
        listener(false, false),
        listener(false, true),
        listener(true, false),
        listener(true, true),
        ListenerConfig {
            unix_socket: Some(sock.clone()),
            ..listener(false, false)
        },
    ];
    let broker = crate::util::TestBroker::start_with(config);
    let ports: Vec<u16> = broker
        .addrs()
        .iter()
        .filter_map(|a| match a {
            BoundAddr::Tcp(s) => Some(s.port()),
            BoundAddr::Unix(_) => None,
        })
        .collect();
    let [tcp, tls_port, ws_port, wss_port] = ports[..] else {
        panic!("listeners: {:?}", broker.addrs())
    };
    let with_cert = TlsSettings {
        certfile: Some(pki.client_cert.clone()),
        keyfile: Some(pki.client_key.clone()),
        ..pki.trusting_ca()
    };
    let upstream = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let (socks_addr, _asked, socks_task) = socks5_proxy(SocksMode::Open, upstream(tls_port)).await;
    let (http_addr, _asked2, http_task) = http_proxy(false, upstream(tls_port)).await;

    let mut cases: Vec<(&str, Endpoint)> = Vec::new();
    cases.push(("tcp", endpoint("127.0.0.1", tcp)));
    let mut ep = endpoint("localhost", 0);
    ep.unix_socket = Some(sock.clone());
    cases.push(("unix", ep));
    let mut ep = endpoint("localhost", tls_port);
    ep.tls = Some(with_cert.clone());
    cases.push(("tls", ep.clone()));
    ep.proxy = Some(socks(socks_addr, None));
    cases.push(("tls via socks5", ep.clone()));
    ep.proxy = Some(http(http_addr, None));
    cases.push(("tls via http", ep));
    let mut ep = endpoint("127.0.0.1", ws_port);
    ep.websocket_path = Some("/mqtt".into());
    cases.push(("ws", ep));
    let mut ep = endpoint("localhost", wss_port);
    ep.websocket_path = Some("/mqtt".into());
    ep.tls = Some(with_cert);
    cases.push(("wss", ep));

    for (what, ep) in cases {
        let mut s = open_ok(&ep).await;
        assert_eq!(
            mqtt_connect(&mut s).await.unwrap(),
            [0x20, 0x02, 0x00, 0x00],
            "{what}"
        );
    }
    socks_task.abort();
    http_task.abort();
}

// ---------------------------------------------------------------- mqtk pub, end to end

/// `mqtk pub -q 1` over WebSocket with TLS and through each kind of proxy (publish.rs
/// covers TCP, unix, ws and TLS): exit 0 means the broker's PUBACK came back that way.
#[test]
fn mqtk_pub_over_wss_and_through_proxies() {
    use crate::util::{Sandbox, TestBroker, assert_code, run_with_timeout};
    use mqtk::broker::config::ListenerConfig;
    use mqtk::broker::listener::BoundAddr;
    let pki = Pki::new();
    let listener = |websockets: bool| ListenerConfig {
        port: 0,
        bind_address: Some("127.0.0.1".into()),
        socket_domain: None,
        unix_socket: None,
        websockets,
        tls: Some(TlsConfig {
            certfile: pki.server_cert.clone(),
            keyfile: pki.server_key.clone(),
            cafile: Some(pki.ca.clone()),
            require_certificate: true,
            tls13_only: false,
        }),
    };
    let mut config = TestBroker::config();
    config.listeners = vec![listener(false), listener(true)];
    let broker = TestBroker::start_with(config);
    let ports: Vec<u16> = broker
        .addrs()
        .iter()
        .filter_map(|a| match a {
            BoundAddr::Tcp(s) => Some(s.port()),
            BoundAddr::Unix(_) => None,
        })
        .collect();
    let [tls_port, wss_port] = ports[..] else {
        panic!("listeners: {:?}", broker.addrs())
    };
    // The proxies run on a runtime of their own while the binary runs.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let upstream = SocketAddr::from(([127, 0, 0, 1], tls_port));
    let (socks_addr, _a1, t1) = rt.block_on(socks5_proxy(SocksMode::Auth, upstream));
    let (http_addr, _a2, t2) = rt.block_on(http_proxy(true, upstream));

    let path = |p: &Path| p.display().to_string();
    let tls = [
        "--cafile".to_string(),
        path(&pki.ca),
        "--cert".into(),
        path(&pki.client_cert),
        "--key".into(),
        path(&pki.client_key),
        "-h".into(),
        "localhost".into(),
    ];
    let cases: [(&str, Vec<String>); 3] = [
        (
            "wss",
            vec!["-p".into(), wss_port.to_string(), "--ws".into()],
        ),
        (
            "tls via socks5h",
            vec![
                "--proxy".into(),
                format!("socks5h://user:pass@127.0.0.1:{}", socks_addr.port()),
            ],
        ),
        (
            "tls via http",
            vec![
                "--proxy".into(),
                format!("http://user:pass@127.0.0.1:{}", http_addr.port()),
            ],
        ),
    ];
    let sb = Sandbox::new();
    for (what, args) in cases {
        let out = run_with_timeout(
            sb.mqtk()
                .args(["pub", "-t", "e2e", "-m", what, "-q", "1"])
                .args(&tls)
                .args(&args),
            T,
        );
        assert_code(&out, 0);
    }
    // A wrong proxy password and an untrusted server reach the user in words.
    let other = Pki::new();
    for (args, want) in [
        (
            vec![
                "--cafile".to_string(),
                path(&pki.ca),
                "--proxy".into(),
                format!("socks5h://user:nope@127.0.0.1:{}", socks_addr.port()),
            ],
            "Error: Proxy error: the SOCKS5 proxy rejected the username and password.\n",
        ),
        (
            vec![
                "--cafile".to_string(),
                path(&other.ca),
                "-p".into(),
                tls_port.to_string(),
            ],
            // (The other CA has the same name, so the signature check is what fails.)
            "Error: A TLS error occurred\nInvalid peer certificate: ",
        ),
    ] {
        let out = run_with_timeout(
            sb.mqtk()
                .args(["pub", "-t", "e2e", "-m", "x", "-h", "localhost"])
                .args(&args),
            T,
        );
        // The proxy failed before the connection to the broker was made (exit 1); TLS
        // failed after (exit 8, MOSQ_ERR_TLS, and mqtk's reason on a second line).
        let (code, lines) = if want.contains("TLS") { (8, 2) } else { (1, 1) };
        assert_code(&out, code);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with(want), "{stderr}");
        assert_eq!(stderr.lines().count(), lines, "{stderr}");
    }
    t1.abort();
    t2.abort();
}
