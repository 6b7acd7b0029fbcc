//! Test harness: run the real `mqtk` binary (and mosquitto's tools) with a clean
//! environment in a temp directory, print everything on failure, and decide whether
//! interop tests against Debian's mosquitto run, skip, or fail.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A temp directory with HOME and XDG_CONFIG_HOME inside it, so no user's
/// `~/.config/mosquitto_pub` leaks into a test.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("create temp dir");
        std::fs::create_dir_all(dir.path().join("home/.config")).unwrap();
        Sandbox { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A command with a clean environment: only PATH, and HOME/XDG_CONFIG_HOME in the sandbox.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path().join("home"))
            .env("XDG_CONFIG_HOME", self.path().join("home/.config"))
            .current_dir(self.path())
            .stdin(Stdio::null());
        cmd
    }

    /// The real `mqtk` binary.
    pub fn mqtk(&self) -> Command {
        self.command(mqtk_bin())
    }

    /// A `tool` symlink (e.g. `mosquitto_pub`) to our binary in the sandbox, for
    /// multi-call; made once.
    #[cfg(unix)]
    pub fn multicall(&self, tool: &str) -> PathBuf {
        let link = self.file(tool);
        if !link.exists() {
            std::os::unix::fs::symlink(mqtk_bin(), &link).unwrap();
        }
        link
    }
}

pub fn mqtk_bin() -> &'static str {
    env!("CARGO_BIN_EXE_mqtk")
}

/// Runs a command to completion (killing it after `timeout`) and returns its output.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    wait_with_timeout(child, timeout, &format!("{cmd:?}"))
}

/// Waits for a spawned child, killing it if it outlives `timeout`.
pub fn wait_with_timeout(mut child: Child, timeout: Duration, what: &str) -> Output {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => break,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("wait");
                panic!("{what} timed out after {timeout:?}\n{}", describe(&out));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    child.wait_with_output().expect("wait_with_output")
}

/// Command output as text for failure messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts the exit code, printing the command's output when it differs.
#[track_caller]
pub fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "unexpected exit code\n{}",
        describe(out)
    );
}

/// Whether interop tests against Debian's mosquitto should run. Returns false (after
/// printing why) when `tool` is missing, unless MQTK_REQUIRE_MOSQUITTO=1, which turns a
/// missing tool into a failure.
pub fn have_mosquitto_tool(tool: &str) -> bool {
    let found = which(tool).is_some();
    if !found {
        if std::env::var("MQTK_REQUIRE_MOSQUITTO").as_deref() == Ok("1") {
            panic!("{tool} is not installed, and MQTK_REQUIRE_MOSQUITTO=1 requires it");
        }
        eprintln!(
            "skipping: {tool} is not installed (apt-get install mosquitto mosquitto-clients)"
        );
    }
    found
}

/// Looks a program up on PATH, and in /usr/sbin where Debian puts `mosquitto`.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// A free loopback port, for programs (like mosquitto) that cannot report the port
/// they bound. Tests of our own broker bind port 0 instead.
///
/// Tests run in parallel threads, and the kernel may hand the same just-released port
/// to two of them; a port is therefore never handed out twice in one test process.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind 127.0.0.1:0");
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no fresh loopback port after 100 tries");
}

/// Waits until something accepts TCP connections on 127.0.0.1:port.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Debian's `mosquitto` broker, on loopback, killed on drop.
pub struct Mosquitto {
    pub port: u16,
    child: Child,
    pub sandbox: Sandbox,
}

impl Mosquitto {
    /// Starts mosquitto with `extra` config lines after a loopback listener on a free
    /// port. `None` when mosquitto is missing and not required.
    pub fn start(extra: &str) -> Option<Mosquitto> {
        if !have_mosquitto_tool("mosquitto") {
            return None;
        }
        for _ in 0..5 {
            let sandbox = Sandbox::new();
            let port = free_port();
            let conf = sandbox.file("mosquitto.conf");
            std::fs::write(
                &conf,
                format!("listener {port} 127.0.0.1\nallow_anonymous true\n{extra}\n"),
            )
            .unwrap();
            let child = sandbox
                .command(which("mosquitto").unwrap())
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn mosquitto");
            let mut m = Mosquitto {
                port,
                child,
                sandbox,
            };
            // Something answering on the port is ours only if our mosquitto is still
            // running: one that failed to bind exits at once.
            if wait_for_port(port, Duration::from_secs(5)) {
                std::thread::sleep(Duration::from_millis(30));
                if matches!(m.child.try_wait(), Ok(None)) {
                    return Some(m);
                }
            }
            drop(m);
        }
        panic!("mosquitto did not start listening");
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our broker, in-process on a background tokio runtime, on loopback port 0; shut down
/// (and its thread joined) on drop. Logging is off unless MQTK_TEST_BROKER_LOG=1.
pub struct TestBroker {
    addrs: Vec<mqtk::broker::listener::BoundAddr>,
    stats: std::sync::Arc<mqtk::broker::Stats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestBroker {
    /// Default config with one TCP listener on 127.0.0.1, port 0.
    pub fn start() -> TestBroker {
        TestBroker::start_with(TestBroker::config())
    }

    /// The config `start` uses, to adjust before `start_with`.
    pub fn config() -> mqtk::broker::config::Config {
        use mqtk::broker::config::{Config, ListenerConfig, LogDest};
        let mut c = Config {
            listeners: vec![ListenerConfig {
                port: 0,
                bind_address: Some("127.0.0.1".into()),
                socket_domain: None,
                unix_socket: None,
                websockets: false,
                tls: None,
            }],
            ..Config::default()
        };
        if std::env::var("MQTK_TEST_BROKER_LOG").as_deref() == Ok("1") {
            c.log.dest = LogDest::Stderr;
            c.log.types = vec!["all".into()];
        } else {
            c.log.dest = LogDest::None;
        }
        c
    }

    /// Binds every `config.listeners` entry and runs the broker on them.
    pub fn start_with(config: mqtk::broker::config::Config) -> TestBroker {
        use mqtk::broker::listener::Listener;
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let stats = std::sync::Arc::new(mqtk::broker::Stats::default());
        let st = std::sync::Arc::clone(&stats);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let mut listeners = Vec::new();
                let mut addrs = Vec::new();
                for l in &config.listeners {
                    let bound = Listener::bind(l).await.expect("bind test listener");
                    addrs.extend(bound.local_addrs().iter().cloned());
                    listeners.push(bound);
                }
                addr_tx.send(addrs).unwrap();
                let stop = async {
                    let _ = stop_rx.await;
                };
                mqtk::broker::run_with_stats(listeners, std::sync::Arc::new(config), stop, st)
                    .await
                    .expect("broker run");
            });
            rt.shutdown_timeout(Duration::from_secs(1));
        });
        let addrs = addr_rx.recv().expect("broker thread started");
        TestBroker {
            addrs,
            stats,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Every bound address of every listener, in config order.
    pub fn addrs(&self) -> Vec<mqtk::broker::listener::BoundAddr> {
        self.addrs.clone()
    }

    /// The port of the first TCP listener.
    pub fn port(&self) -> u16 {
        self.addrs
            .iter()
            .find_map(|a| match a {
                mqtk::broker::listener::BoundAddr::Tcp(s) => Some(s.port()),
                _ => None,
            })
            .expect("a TCP listener")
    }

    pub fn stats(&self) -> &mqtk::broker::Stats {
        &self.stats
    }

    /// Waits (up to 10 s, then fails the test) until the broker holds at least `n`
    /// subscriptions: a subscriber started as a process is ready to receive.
    pub fn wait_subscriptions(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self
            .stats
            .subscriptions
            .load(std::sync::atomic::Ordering::SeqCst)
            < n
        {
            assert!(Instant::now() < deadline, "no subscription after 10 s");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Throwaway certificates for TLS tests (rcgen), as PEM text.
pub mod certs {
    use std::path::{Path, PathBuf};

    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };

    /// The issuer type `ca` returns, for signing leaf certificates.
    pub type Ca = CertifiedIssuer<'static, KeyPair>;

    /// A self-signed CA with common name `name`.
    pub fn ca(name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
    }

    /// A server certificate for `names` (DNS names or IP addresses) signed by `issuer`:
    /// (certificate PEM, key PEM).
    pub fn server(names: &[&str], issuer: &Ca) -> (String, String) {
        let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A client certificate with common name `name` signed by `issuer`:
    /// (certificate PEM, key PEM).
    pub fn client(name: &str, issuer: &Ca) -> (String, String) {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Writes `text` to `dir/name`; the file's path.
    pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// Whether this machine can bind IPv6 loopback (some CI containers have no `::1`).
pub fn have_ipv6() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}
