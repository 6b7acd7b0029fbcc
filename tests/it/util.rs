//! Test harness: run the real `mqtk` binary (and mosquitto's tools) with a clean
//! environment in a temp directory, print everything on failure, and decide whether
//! interop tests against Debian's mosquitto run, skip, or fail.
//!
//! Tests wait for readiness, never for a fixed time: a line a child prints
//! (`Spawned`), a broker's log line (`Mosquitto::wait_subacks`), the in-process
//! broker's counters (`TestBroker::wait_subscriptions`), a port that accepts. Every
//! wait has a deadline and then fails naming what did not happen.

use std::ffi::OsStr;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
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
    if !poll(timeout, &mut || {
        child.try_wait().expect("try_wait").is_some()
    }) {
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait");
        panic!("{what} timed out after {timeout:?}\n{}", describe(&out));
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

/// Polls `ready` every few milliseconds until it holds; after `timeout` the test fails,
/// naming what did not happen. For state nothing announces (the in-process broker's
/// counters, a port); a child's output is waited on with `Spawned::wait_until`, which
/// each write wakes instead.
#[track_caller]
pub fn poll_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    if !poll(timeout, &mut ready) {
        panic!("{what}: not within {timeout:?}");
    }
}

/// `poll_until` that returns whether `ready` held in time.
fn poll(timeout: Duration, ready: &mut impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        // The poll interval, not a guess at how long anything takes.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:port.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    poll(timeout, &mut || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
}

/// How many times `needle` occurs in `hay` (a child's output, read as text).
pub fn count(hay: &[u8], needle: &str) -> usize {
    String::from_utf8_lossy(hay).matches(needle).count()
}

/// What a `Spawned` child has printed so far.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Pipes not yet at end of file: 0 once the child has closed both (it exited).
    open: usize,
}

impl Captured {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Whether the child has closed both pipes: nothing more will come.
    pub fn closed(&self) -> bool {
        self.open == 0
    }

    fn describe(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout_text(),
            String::from_utf8_lossy(&self.stderr)
        )
    }
}

/// The output a `Spawned` child's reader threads fill, and the signal they give after
/// every write.
#[derive(Default)]
struct Shared {
    captured: Mutex<Captured>,
    changed: Condvar,
}

/// A running child whose stdout and stderr are collected as they arrive, one thread a
/// pipe, so that a test waits for what the child prints (a line on stdout, a broker's
/// log line) instead of sleeping, and a failure shows all it printed. Killed on drop.
pub struct Spawned {
    child: Option<Child>,
    shared: Arc<Shared>,
    what: String,
}

impl Spawned {
    /// Spawns `cmd` with stdout and stderr piped to the collector.
    pub fn spawn(cmd: &mut Command) -> Spawned {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let shared = Arc::new(Shared::default());
        shared.captured.lock().unwrap().open = 2;
        collect(child.stdout.take().unwrap(), &shared, |c| &mut c.stdout);
        collect(child.stderr.take().unwrap(), &shared, |c| &mut c.stderr);
        Spawned {
            child: Some(child),
            shared,
            what,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends signal `sig` (TERM, INT, KILL…) to the child. It is not reaped before
    /// `finish`, so the pid is still its own.
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(st.success(), "kill -{sig} {}", self.what);
    }

    pub fn captured(&self) -> Captured {
        self.shared.captured.lock().unwrap().clone()
    }

    /// Waits until `ready` holds for the output so far, woken by every write: `Ok` with
    /// the output then, or `Err` with it once `timeout` has passed, or the child has
    /// closed its output, without `ready` holding.
    pub fn wait(
        &self,
        timeout: Duration,
        mut ready: impl FnMut(&Captured) -> bool,
    ) -> Result<Captured, Captured> {
        let deadline = Instant::now() + timeout;
        let mut c = self.shared.captured.lock().unwrap();
        loop {
            if ready(&c) {
                return Ok(c.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if c.closed() || left.is_zero() {
                return Err(c.clone());
            }
            c = self.shared.changed.wait_timeout(c, left).unwrap().0;
        }
    }

    /// `wait`, failing the test with everything the child printed when `what` (what the
    /// test waits for) does not happen within `timeout`.
    #[track_caller]
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        ready: impl FnMut(&Captured) -> bool,
    ) -> Captured {
        self.wait(timeout, ready).unwrap_or_else(|c| {
            let why = if c.closed() {
                "it closed its output first"
            } else {
                "timed out"
            };
            panic!(
                "{} never printed {what} ({why}, {timeout:?})\n{}",
                self.what,
                c.describe()
            )
        })
    }

    /// Waits (up to 10 s) until stdout holds `needle` at least `times` times.
    #[track_caller]
    pub fn wait_stdout(&self, needle: &str, times: usize) -> Captured {
        let what = format!("{needle:?} ×{times} on stdout");
        self.wait_until(&what, Duration::from_secs(10), |c| {
            count(&c.stdout, needle) >= times
        })
    }

    /// Waits (up to 10 s) until stderr holds `needle` at least `times` times.
    #[track_caller]
    pub fn wait_stderr(&self, needle: &str, times: usize) -> Captured {
        let what = format!("{needle:?} ×{times} on stderr");
        self.wait_until(&what, Duration::from_secs(10), |c| {
            count(&c.stderr, needle) >= times
        })
    }

    /// Waits for the child to exit (killing it and failing the test after `timeout`)
    /// and returns its status with everything it printed.
    #[track_caller]
    pub fn finish(mut self, timeout: Duration) -> Output {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + timeout;
        // Both pipes closed: the child has exited, or is about to; then reap it.
        let closed = self.wait(timeout, Captured::closed).is_ok();
        let left = deadline.saturating_duration_since(Instant::now());
        if !(closed && poll(left, &mut || matches!(child.try_wait(), Ok(Some(_))))) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} did not exit within {timeout:?}\n{}",
                self.what,
                self.captured().describe()
            );
        }
        let c = self.captured();
        Output {
            status: child.wait().expect("wait"),
            stdout: c.stdout,
            stderr: c.stderr,
        }
    }

    /// Kills the child and returns everything it printed.
    pub fn kill(mut self) -> Output {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
        }
        self.finish(Duration::from_secs(10))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Copies `pipe` into the part of the shared output that `part` picks, waking the
/// waiters after every read and at end of file.
fn collect(
    mut pipe: impl Read + Send + 'static,
    shared: &Arc<Shared>,
    part: fn(&mut Captured) -> &mut Vec<u8>,
) {
    let shared = Arc::clone(shared);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = pipe.read(&mut buf).unwrap_or(0);
            let mut c = shared.captured.lock().unwrap();
            if n == 0 {
                c.open -= 1;
            } else {
                part(&mut c).extend_from_slice(&buf[..n]);
            }
            drop(c);
            shared.changed.notify_all();
            if n == 0 {
                return;
            }
        }
    });
}

/// Debian's `mosquitto` broker, on loopback, killed on drop. It logs everything
/// (`log_type all`) to stderr, which is collected: tests wait for its log lines (the
/// listener is up, a SUBACK went out, a client connected) rather than sleep.
pub struct Mosquitto {
    pub port: u16,
    proc: Spawned,
    pub sandbox: Sandbox,
}

impl Mosquitto {
    /// Starts mosquitto with `extra` config lines after a loopback listener on a free
    /// port. `None` when mosquitto is missing and not required.
    pub fn start(extra: &str) -> Option<Mosquitto> {
        if !have_mosquitto_tool("mosquitto") {
            return None;
        }
        let mut failed = Vec::new();
        // Another process may take the port between free_port and mosquitto's bind.
        for _ in 0..5 {
            match Mosquitto::start_on(free_port(), extra) {
                Ok(m) => return Some(m),
                Err(out) => failed.push(describe(&out)),
            }
        }
        panic!("mosquitto did not start listening:\n{}", failed.join("\n"));
    }

    /// Starts mosquitto on `port` (in a sandbox of its own) and waits until its log says
    /// it is running; `Err` with its output if it does not (the port is taken).
    pub fn start_on(port: u16, extra: &str) -> Result<Mosquitto, Output> {
        let sandbox = Sandbox::new();
        let conf = sandbox.file("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\n\
                 log_dest stderr\nlog_type all\n{extra}\n"
            ),
        )
        .unwrap();
        let mosquitto = which("mosquitto").expect("mosquitto installed");
        let proc = Spawned::spawn(sandbox.command(mosquitto).arg("-c").arg(&conf));
        // "mosquitto version 2.0.11 running", logged once every listener is bound.
        match proc.wait(Duration::from_secs(10), |c| {
            count(&c.stderr, " running\n") > 0
        }) {
            Ok(_) => Ok(Mosquitto {
                port,
                proc,
                sandbox,
            }),
            Err(_) => Err(proc.kill()),
        }
    }

    /// Waits (up to 10 s) until mosquitto's log holds `needle` at least `times` times.
    #[track_caller]
    pub fn wait_log(&self, needle: &str, times: usize) {
        self.proc.wait_stderr(needle, times);
    }

    /// mosquitto's log so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.proc.captured().stderr).into_owned()
    }

    /// How many SUBACKs mosquitto has sent so far.
    pub fn subacks(&self) -> usize {
        count(&self.proc.captured().stderr, SUBACK)
    }

    /// Waits until mosquitto has sent `n` SUBACKs in all. It logs each after adding the
    /// subscriptions, so a subscriber counted here gets what is published next.
    #[track_caller]
    pub fn wait_subacks(&self, n: usize) {
        self.wait_log(SUBACK, n);
    }

    /// Kills mosquitto with SIGKILL (no persistence file written on the way out) and
    /// returns its log.
    pub fn kill(self) -> Output {
        self.proc.kill()
    }

    /// Stops mosquitto with SIGTERM (it saves its persistence file on the way out) and
    /// returns its exit status and log.
    pub fn stop(self) -> Output {
        self.proc.signal("TERM");
        self.proc.finish(Duration::from_secs(10))
    }
}

/// The debug log line mosquitto (and `mqtk broker`) writes for each SUBACK.
pub const SUBACK: &str = "Sending SUBACK to ";

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
            // The runtime `mqtk broker` runs on, so that tests see its scheduling.
            let rt = mqtk::broker::runtime().expect("tokio runtime");
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

    /// Waits (up to 10 s, then fails the test naming `what`) until `ready` holds for
    /// the broker's counters.
    #[track_caller]
    pub fn wait_stats(&self, what: &str, ready: impl Fn(&mqtk::broker::Stats) -> bool) {
        poll_until(what, Duration::from_secs(10), || ready(&self.stats));
    }

    /// Waits until the broker holds at least `n` subscriptions: a subscriber started
    /// as a process is ready to receive.
    #[track_caller]
    pub fn wait_subscriptions(&self, n: usize) {
        self.wait_stats(&format!("{n} subscription(s)"), |s| {
            s.subscriptions.load(Ordering::SeqCst) >= n
        });
    }

    /// Waits until the broker holds at most `n` subscriptions: subscribers that ended
    /// are gone (their clean sessions ended).
    #[track_caller]
    pub fn wait_subscriptions_down_to(&self, n: usize) {
        self.wait_stats(&format!("at most {n} subscription(s)"), |s| {
            s.subscriptions.load(Ordering::SeqCst) <= n
        });
    }

    /// Waits until at most `n` clients are connected: the broker has seen the others go.
    #[track_caller]
    pub fn wait_connected_down_to(&self, n: usize) {
        self.wait_stats(&format!("at most {n} client(s) connected"), |s| {
            s.connected.load(Ordering::SeqCst) <= n
        });
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
