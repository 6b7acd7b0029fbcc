//! What the broker benchmarks share: Debian's mosquitto found on the usual paths, and
//! a broker process (`mqtk broker` or `mosquitto`) on a free loopback port with a
//! temporary config, killed when dropped.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Broker {
    pub name: &'static str,
    pub port: u16,
    pub child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn mosquitto_path() -> Option<PathBuf> {
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(name: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{name}: no broker on port {port}");
}

/// Starts `program ARGS… -c CONF` with a loopback listener on a free port, anonymous
/// clients allowed, and `conf_extra` appended to the config.
pub fn start(name: &'static str, program: &str, args: &[&str], conf_extra: &str) -> Broker {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("broker.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n{conf_extra}"),
    )
    .unwrap();
    let child = Command::new(program)
        .args(args)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    wait_for(name, port);
    Broker {
        name,
        port,
        child,
        _dir: dir,
    }
}
