//! Listener tests on loopback: TCP (IPv4, IPv6), unix socket, TLS (with and without
//! client certificates) and WebSocket over TCP and TLS, each behind a tiny echo loop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mqtk::broker::config::{ListenerConfig, SocketDomain, TlsConfig};
use mqtk::broker::listener::{BoundAddr, Listener};
use mqtk::transport::TlsSettings;
use mqtk::transport::tls_client;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Bytes, Message};

const T: Duration = Duration::from_secs(5);

/// A throwaway CA with a server certificate for localhost/127.0.0.1/::1 and a client
/// certificate, written as PEM files in a temp dir.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        use crate::util::certs;
        let dir = tempfile::tempdir().unwrap();
        let ca = certs::ca("mqtk test CA");
        let (server_cert, server_key) = certs::server(&["localhost", "127.0.0.1", "::1"], &ca);
        let (client_cert, client_key) = certs::client("mqtk-client", &ca);
        let write = |name: &str, text: &str| certs::write(dir.path(), name, text);
        Pki {
            ca: write("ca.pem", &ca.pem()),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
            dir,
        }
    }

    pub fn server_tls(&self, require_certificate: bool) -> TlsConfig {
        TlsConfig {
            certfile: self.server_cert.clone(),
            keyfile: self.server_key.clone(),
            cafile: Some(self.ca.clone()),
            require_certificate,
            tls13_only: false,
        }
    }
}

fn tcp(port: u16, addr: Option<&str>) -> ListenerConfig {
    ListenerConfig {
        port,
        bind_address: addr.map(str::to_string),
        socket_domain: None,
        unix_socket: None,
        websockets: false,
        tls: None,
    }
}

/// An echo server: accepts connections and echoes every byte back. Dropping it stops
/// accepting and drops the listener.
struct Echo {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn echo(listener: Listener) -> Echo {
    let l = Arc::new(listener);
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _peer)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    let _ = stream.flush().await;
                }
            });
        }
    });
    Echo { task }
}

fn tcp_addr(l: &Listener) -> SocketAddr {
    match l.local_addr().unwrap() {
        BoundAddr::Tcp(a) => a,
        other => panic!("not TCP: {other:?}"),
    }
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

#[tokio::test]
async fn tcp_without_address_accepts_ipv4_and_ipv6_on_one_port() {
    let l = Listener::bind(&tcp(0, None)).await.unwrap();
    let addrs = l.local_addrs().to_vec();
    let port = addrs[0].port();
    assert_ne!(port, 0);
    assert_eq!(
        addrs[0],
        BoundAddr::Tcp(SocketAddr::from(([0, 0, 0, 0], port)))
    );
    if crate::util::have_ipv6() {
        assert_eq!(addrs.len(), 2, "{addrs:?}");
        assert_eq!(
            addrs[1],
            BoundAddr::Tcp(SocketAddr::from(([0u16; 8], port)))
        );
    }
    let _l = echo(l);
    let mut v4 = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    round_trip(&mut v4, b"\x10\x00 over IPv4").await;
    if crate::util::have_ipv6() {
        let mut v6 = TcpStream::connect(("::1", port)).await.unwrap();
        round_trip(&mut v6, b"\x10\x00 over IPv6").await;
    }
}

#[tokio::test]
async fn socket_domain_and_address_restrict_the_families() {
    let only4 = Listener::bind(&ListenerConfig {
        socket_domain: Some(SocketDomain::Ipv4),
        ..tcp(0, None)
    })
    .await
    .unwrap();
    assert_eq!(only4.local_addrs().len(), 1);
    assert!(matches!(only4.local_addrs()[0], BoundAddr::Tcp(a) if a.is_ipv4()));

    let lo = Listener::bind(&tcp(0, Some("127.0.0.1"))).await.unwrap();
    assert_eq!(lo.local_addrs().len(), 1);
    assert_eq!(tcp_addr(&lo).ip().to_string(), "127.0.0.1");

    // An IPv4 address with socket_domain ipv6 leaves nothing to bind.
    let err = Listener::bind(&ListenerConfig {
        socket_domain: Some(SocketDomain::Ipv6),
        ..tcp(0, Some("127.0.0.1"))
    })
    .await
    .expect_err("nothing to bind");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");

    if crate::util::have_ipv6() {
        let only6 = Listener::bind(&tcp(0, Some("::1"))).await.unwrap();
        let port = tcp_addr(&only6).port();
        let _l = echo(only6);
        let mut s = TcpStream::connect(("::1", port)).await.unwrap();
        round_trip(&mut s, b"v6 only").await;
        // Nothing listens on the IPv4 side of that port.
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }
}

#[tokio::test]
async fn a_host_name_binds_every_address_it_resolves_to_on_one_port() {
    let l = Listener::bind(&tcp(0, Some("localhost"))).await.unwrap();
    let addrs = l.local_addrs().to_vec();
    let port = addrs[0].port();
    assert!(addrs.iter().all(|a| a.port() == port), "{addrs:?}");
    assert!(
        addrs.contains(&BoundAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], port)))),
        "{addrs:?}"
    );
    let _l = echo(l);
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    round_trip(&mut s, b"via localhost").await;
}

#[tokio::test]
async fn bind_error_names_the_address_and_reason() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = Listener::bind(&tcp(port, Some("127.0.0.1")))
        .await
        .expect_err("port is taken");
    let text = err.to_string();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.to_lowercase().contains("in use"), "{text}");
}

#[tokio::test]
async fn unix_socket_accepts_and_replaces_only_stale_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mqtk.sock");
    // A stale socket file, as a crashed broker leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let cfg = ListenerConfig {
        unix_socket: Some(path.clone()),
        ..tcp(0, None)
    };
    let l = Listener::bind(&cfg).await.unwrap();
    assert_eq!(l.local_addr().unwrap(), BoundAddr::Unix(path.clone()));
    // While it listens, a second broker must not steal the path.
    let err = Listener::bind(&cfg).await.expect_err("path is live");
    assert!(err.to_string().contains("mqtk.sock"), "{err}");

    let l = echo(l);
    let mut s = tokio::net::UnixStream::connect(&path).await.unwrap();
    round_trip(&mut s, b"over a unix socket").await;
    drop(s);
    drop(l);
    // Dropping the listener removes its socket file once the echo task lets go of it:
    // polled (nothing announces it) for up to 2 s, yielding to that task between looks.
    for _ in 0..200 {
        if !path.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!path.exists(), "socket file left behind");

    // A regular file at the path is never removed.
    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, "keep me").unwrap();
    let err = Listener::bind(&ListenerConfig {
        unix_socket: Some(file.clone()),
        ..tcp(0, None)
    })
    .await
    .expect_err("regular file");
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

async fn tls_client(
    pki: &Pki,
    port: u16,
    host: &str,
    with_cert: bool,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    // The client side is mqtk's own (`--cafile`, `--cert`, `--key`).
    let config = tls_client::client_config(&TlsSettings {
        cafile: Some(pki.ca.clone()),
        certfile: with_cert.then(|| pki.client_cert.clone()),
        keyfile: with_cert.then(|| pki.client_key.clone()),
        ..TlsSettings::default()
    })
    .map_err(std::io::Error::other)?;
    let name = tls_client::server_name(host).map_err(std::io::Error::other)?;
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

#[tokio::test]
async fn tls_listener_is_verified_by_name_and_ip() {
    let pki = Pki::new();
    let l = Listener::bind(&ListenerConfig {
        tls: Some(TlsConfig {
            cafile: None,
            ..pki.server_tls(false)
        }),
        ..tcp(0, Some("127.0.0.1"))
    })
    .await
    .unwrap();
    assert!(l.is_tls());
    let port = tcp_addr(&l).port();
    let _l = echo(l);
    for host in ["localhost", "127.0.0.1"] {
        let mut s = tls_client(&pki, port, host, false).await.unwrap();
        round_trip(&mut s, format!("TLS to {host}").as_bytes()).await;
    }
    // A name the certificate does not carry is refused by the client.
    let err = tls_client(&pki, port, "example.com", false)
        .await
        .expect_err("wrong name must fail");
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[tokio::test]
async fn require_certificate_refuses_clients_without_one() {
    let pki = Pki::new();
    let l = Listener::bind(&ListenerConfig {
        tls: Some(pki.server_tls(true)),
        ..tcp(0, Some("127.0.0.1"))
    })
    .await
    .unwrap();
    let port = tcp_addr(&l).port();
    let _l = echo(l);

    let mut with = tls_client(&pki, port, "localhost", true).await.unwrap();
    round_trip(&mut with, b"with a client certificate").await;

    // In TLS 1.3 the client learns of the refusal on its first read.
    let refused = async {
        let mut s = tls_client(&pki, port, "localhost", false).await?;
        s.write_all(b"no certificate").await?;
        s.flush().await?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).await?;
        Ok::<usize, std::io::Error>(n)
    };
    match timeout(T, refused).await.expect("refusal timed out") {
        Ok(0) => {}
        Ok(n) => panic!("a client without a certificate got {n} bytes back"),
        Err(e) => assert!(e.to_string().to_lowercase().contains("certificate"), "{e}"),
    }
}

#[tokio::test]
async fn without_require_certificate_no_client_certificate_is_needed() {
    let pki = Pki::new();
    let l = Listener::bind(&ListenerConfig {
        tls: Some(pki.server_tls(false)),
        ..tcp(0, Some("127.0.0.1"))
    })
    .await
    .unwrap();
    let port = tcp_addr(&l).port();
    let _l = echo(l);
    let mut s = tls_client(&pki, port, "localhost", false).await.unwrap();
    round_trip(&mut s, b"anonymous TLS").await;
}

#[tokio::test]
async fn tls_file_errors_name_the_file() {
    let pki = Pki::new();
    let bind = |tls: TlsConfig| async move {
        Listener::bind(&ListenerConfig {
            tls: Some(tls),
            ..tcp(0, Some("127.0.0.1"))
        })
        .await
        .expect_err("must fail")
        .to_string()
    };
    let missing = pki.dir.path().join("missing.pem");
    let e = bind(TlsConfig {
        certfile: missing.clone(),
        ..pki.server_tls(false)
    })
    .await;
    assert!(
        e.contains("server certificate") && e.contains(&*missing.to_string_lossy()),
        "{e}"
    );

    let empty = pki.dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let e = bind(TlsConfig {
        keyfile: empty.clone(),
        ..pki.server_tls(false)
    })
    .await;
    assert!(
        e.contains("key file")
            && e.contains(&*empty.to_string_lossy())
            && e.contains("no private key"),
        "{e}"
    );

    let e = bind(TlsConfig {
        cafile: Some(empty.clone()),
        ..pki.server_tls(true)
    })
    .await;
    assert!(
        e.contains("CA certificates") && e.contains("empty.pem"),
        "{e}"
    );

    // A key that does not belong to the certificate.
    let e = bind(TlsConfig {
        keyfile: pki.client_key.clone(),
        ..pki.server_tls(false)
    })
    .await;
    assert!(e.contains("server.pem") && e.contains("client.key"), "{e}");
}

#[tokio::test]
async fn stalled_tls_handshake_does_not_block_other_clients() {
    let pki = Pki::new();
    let l = Listener::bind(&ListenerConfig {
        tls: Some(pki.server_tls(false)),
        ..tcp(0, Some("127.0.0.1"))
    })
    .await
    .unwrap();
    let port = tcp_addr(&l).port();
    let _l = echo(l);
    // Connects and says nothing, and another that sends half a ClientHello.
    let _silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut half = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    let mut s = timeout(
        Duration::from_secs(2),
        tls_client(&pki, port, "localhost", false),
    )
    .await
    .expect("a stalled handshake blocked accept")
    .unwrap();
    round_trip(&mut s, b"not blocked").await;
}

/// A WebSocket client offering `protocols`, over any stream.
async fn ws_client<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
    protocols: &str,
) -> Result<
    (
        tokio_tungstenite::WebSocketStream<S>,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    tokio_tungstenite::tungstenite::Error,
> {
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(protocols).unwrap(),
    );
    tokio_tungstenite::client_async(request, stream).await
}

/// Reads binary messages until `want` bytes have come back.
async fn ws_read<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
    want: usize,
) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < want {
        match timeout(T, ws.next()).await.expect("ws read timed out") {
            Some(Ok(Message::Binary(b))) => got.extend_from_slice(&b),
            other => panic!("unexpected {other:?}"),
        }
    }
    got
}

/// An MQTT CONNECT (3.1.1, client id "a") sent as two frames, then two PINGREQs in one
/// frame: the adapter must join and split as needed.
async fn ws_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
) {
    let connect: &[u8] = &[
        0x10, 0x0d, // CONNECT, remaining length 13
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x04, 0x02, 0x00, 0x3c, // level 4, clean session, keepalive 60
        0x00, 0x01, b'a', // client id
    ];
    ws.send(Message::Binary(Bytes::copy_from_slice(&connect[..5])))
        .await
        .unwrap();
    ws.send(Message::Binary(Bytes::copy_from_slice(&connect[5..])))
        .await
        .unwrap();
    assert_eq!(ws_read(ws, connect.len()).await, connect);
    let pings: &[u8] = &[0xc0, 0x00, 0xc0, 0x00];
    ws.send(Message::Binary(Bytes::copy_from_slice(pings)))
        .await
        .unwrap();
    assert_eq!(ws_read(ws, pings.len()).await, pings);
}

fn ws_listener(port: u16, tls: Option<TlsConfig>) -> ListenerConfig {
    ListenerConfig {
        websockets: true,
        tls,
        ..tcp(port, Some("127.0.0.1"))
    }
}

#[tokio::test]
async fn websocket_over_tcp_speaks_the_mqtt_subprotocol() {
    let l = Listener::bind(&ws_listener(0, None)).await.unwrap();
    assert!(l.is_websockets());
    let port = tcp_addr(&l).port();
    let _l = echo(l);
    let url = format!("ws://127.0.0.1:{port}/mqtt");

    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut ws, response) = ws_client(tcp, &url, "mqtt").await.unwrap();
    assert_eq!(response.headers()["Sec-WebSocket-Protocol"], "mqtt");
    ws_exchange(&mut ws).await;

    // MQTT 3.1 clients offer mqttv3.1; a list gets the best choice.
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (_ws, response) = ws_client(tcp, &url, "mqttv3.1").await.unwrap();
    assert_eq!(response.headers()["Sec-WebSocket-Protocol"], "mqttv3.1");
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (_ws, response) = ws_client(tcp, &url, "mqttv3.1, mqtt").await.unwrap();
    assert_eq!(response.headers()["Sec-WebSocket-Protocol"], "mqtt");

    // Only foreign subprotocols: refused.
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let err = ws_client(tcp, &url, "chat").await.expect_err("refused");
    assert!(err.to_string().contains("400"), "{err}");

    // MQTT is never carried in text frames (MQTT 5.0 §6): the connection is closed.
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut ws, _) = ws_client(tcp, &url, "mqtt").await.unwrap();
    ws.send(Message::text("hello")).await.unwrap();
    match timeout(T, ws.next()).await.expect("close timed out") {
        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => {}
        other => panic!("text frame was answered: {other:?}"),
    }
}

#[tokio::test]
async fn websocket_over_tls() {
    let pki = Pki::new();
    let l = Listener::bind(&ws_listener(0, Some(pki.server_tls(false))))
        .await
        .unwrap();
    let port = tcp_addr(&l).port();
    let _l = echo(l);
    let tls = tls_client(&pki, port, "localhost", false).await.unwrap();
    let (mut ws, response) = ws_client(tls, &format!("wss://localhost:{port}/mqtt"), "mqtt")
        .await
        .unwrap();
    assert_eq!(response.headers()["Sec-WebSocket-Protocol"], "mqtt");
    ws_exchange(&mut ws).await;
}

#[tokio::test]
async fn ws_adapter_client_side_round_trips() {
    // Our own client adapter against our own server adapter, as `mqtk pub --ws` will use it.
    let l = Listener::bind(&ws_listener(0, None)).await.unwrap();
    let port = tcp_addr(&l).port();
    let _l = echo(l);
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut s = mqtk::transport::ws::connect(tcp, &format!("ws://127.0.0.1:{port}/mqtt"))
        .await
        .unwrap();
    round_trip(&mut s, b"\xc0\x00").await;
    let big: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    round_trip(&mut s, &big).await;
}

#[tokio::test]
async fn stalled_websocket_upgrade_does_not_block_other_clients() {
    let l = Listener::bind(&ws_listener(0, None)).await.unwrap();
    let port = tcp_addr(&l).port();
    let _l = echo(l);
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stalled
        .write_all(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut ws, _) = timeout(
        Duration::from_secs(2),
        ws_client(tcp, &format!("ws://127.0.0.1:{port}/"), "mqtt"),
    )
    .await
    .expect("a stalled upgrade blocked accept")
    .unwrap();
    ws_exchange(&mut ws).await;
}
