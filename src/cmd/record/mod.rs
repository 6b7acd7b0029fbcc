//! `mqtk record`: subscribes as `mqtk sub` does (the same settings, the same
//! SUBSCRIBE, a reconnection once a second after a loss) and writes every message to
//! a record (`crate::record`): a header line, then one line per message with its
//! receive time and offset, flags, payload and properties. `-o FILE.zst` compresses
//! as it writes (`sink`). `--decode` adds each payload decoded (`decoded`), as sub
//! shows it. Ctrl-C, SIGTERM, `-C` and `-W` end it cleanly: everything
//! received is written, the zstd frame ended and the file fsynced before exit.
//!
//! Performance: as sub's (one thread, 64 KiB reads, payloads not copied), and each
//! read's messages share one clock reading; lines go through a reused buffer into a
//! 64 KiB output buffer.

mod session;
mod sink;

use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::record::RecordArgs;
use crate::codec::ProtocolVersion;
use crate::exit::Error;
use crate::record::Header;
use crate::settings::record::{RecordSettings, resolve_record};
use crate::settings::sub::SubSettings;
use crate::transport::Endpoint;
use session::Recorder;
use sink::Sink;

pub fn run(args: RecordArgs) -> Result<u8, Error> {
    let tool = super::client_tool("record");
    if args.conn.version {
        super::print_client_version(&tool, "3.1/3.1.1/5.0");
        return Ok(crate::exit::help_exit_code(&tool));
    }
    let settings = resolve_record(&args, &tool)?;
    super::block_on(record(&settings))
}

/// Records until the end `s` sets, and returns the exit status. Whatever ends it, the
/// record is finished (flushed, zstd frame ended, fsynced) before the status.
pub async fn record(s: &RecordSettings) -> Result<u8, Error> {
    let mut sink = Sink::open(&s.output)?;
    sink.write(&header(&s.sub, SystemTime::now()).to_line())?;
    // The header reaches the file at once: a record is valid before any message.
    sink.flush()?;
    let c = &s.sub.client;
    let show = !c.quiet && !c.debug && std::io::stderr().is_terminal();
    let progress = Progress::new(show, sink.name());
    let mut rec = Recorder::new(s, sink, progress)?;
    let result = rec.session().await;
    let (sink, progress, recorded, undecoded) = rec.into_parts();
    progress.finish(recorded, sink.bytes_out());
    if let (true, Some(codec), false) = (undecoded > 0, &s.sub.decode, c.quiet) {
        super::print_err(&format!(
            "Warning: {undecoded} payload(s) did not decode (--decode {}) and were recorded as received.\n",
            codec.name()
        ));
    }
    let finished = sink.finish();
    let code = result?;
    finished?;
    Ok(code)
}

/// The header: now, the broker, this machine, the subscription.
fn header(sub: &SubSettings, started: SystemTime) -> Header {
    let c = &sub.client;
    let mut h = Header::new(started, broker_url(&c.endpoint), protocol_name(c.version));
    h.hostname = hostname();
    h.filters = sub.topics.clone();
    h.filter_out = sub.filter_out.clone();
    h.qos = sub.qos as u8;
    h
}

/// The broker as a URL without credentials.
fn broker_url(ep: &Endpoint) -> String {
    if let Some(path) = &ep.unix_socket {
        return format!("unix:{}", path.display());
    }
    let hp = crate::transport::addr::host_port(&ep.host, ep.port);
    match (&ep.websocket_path, ep.tls.is_some()) {
        (Some(path), tls) => format!("{}://{hp}{path}", if tls { "wss" } else { "ws" }),
        (None, true) => format!("mqtts://{hp}"),
        (None, false) => format!("mqtt://{hp}"),
    }
}

fn protocol_name(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V31 => "mqttv31",
        ProtocolVersion::V311 => "mqttv311",
        ProtocolVersion::V5 => "mqttv5",
    }
}

/// This machine's name, when it has a UTF-8 one.
#[cfg(unix)]
fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for writes of its length, which is what we pass.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..end].to_vec())
        .ok()
        .filter(|s| !s.is_empty())
}

#[cfg(not(unix))]
fn hostname() -> Option<String> {
    std::env::var("COMPUTERNAME").ok()
}

/// The progress line on a terminal: messages and bytes recorded, time running.
struct Progress {
    bar: Option<ProgressBar>,
    last: std::time::Instant,
}

/// How often the progress line's counts change.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

impl Progress {
    fn new(show: bool, name: &str) -> Progress {
        let bar = show.then(|| {
            let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            pb.set_style(
                ProgressStyle::with_template("{spinner} recording to {prefix} [{elapsed}]: {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.set_prefix(name.to_string());
            pb.set_message("0 messages");
            pb.enable_steady_tick(Duration::from_millis(250));
            pb
        });
        Progress {
            bar,
            last: std::time::Instant::now(),
        }
    }

    fn update(&mut self, messages: u64, bytes: u64) {
        if let Some(bar) = &self.bar
            && self.last.elapsed() >= PROGRESS_EVERY
        {
            bar.set_message(counts(messages, bytes));
            self.last = std::time::Instant::now();
        }
    }

    /// Prints a line on stderr, above the progress line when there is one.
    fn warn(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| super::print_err(text)),
            None => super::print_err(text),
        }
    }

    /// Leaves the last counts on the screen.
    fn finish(&self, messages: u64, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(counts(messages, bytes));
            bar.finish();
        }
    }
}

fn counts(messages: u64, bytes: u64) -> String {
    let s = if messages == 1 { "" } else { "s" };
    format!("{messages} message{s}, {}", HumanBytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_carry_no_credentials() {
        let mut ep = Endpoint {
            host: "::1".into(),
            port: 1883,
            unix_socket: None,
            bind_address: None,
            nodelay: true,
            websocket_path: None,
            tls: None,
            proxy: None,
        };
        assert_eq!(broker_url(&ep), "mqtt://[::1]:1883");
        ep.websocket_path = Some("/mqtt".into());
        assert_eq!(broker_url(&ep), "ws://[::1]:1883/mqtt");
        ep.unix_socket = Some("/run/m.sock".into());
        assert_eq!(broker_url(&ep), "unix:/run/m.sock");
        assert_eq!(counts(1, 2048), "1 message, 2.00 KiB");
    }
}
