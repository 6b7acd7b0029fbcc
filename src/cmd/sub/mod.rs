//! `mqtk sub`: mosquitto_sub on the client core. Connect (the first failure is final),
//! subscribe, print every message by mosquitto_sub's rules (`handle`), stop on `-C`,
//! `-E`, `--retained-only`, `-W` or a signal, and reconnect once a second after a
//! loss, as `mosquitto_loop_forever` does, subscribing again each time.
//!
//! Performance: one current-thread runtime; the core decodes from a 64 KiB read
//! buffer and payloads share it (no copy); messages are formatted straight into a
//! 64 KiB buffer over fd 1, flushed only when nothing more is ready. Writing to a full
//! pipe blocks the thread, so the socket is not read and TCP pushes back on the
//! broker: memory stays flat under a flood.

mod handle;
mod rate;

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::cli::sub::SubArgs;
use crate::client::drive::{Backoff, Client, ConnectFailure, Lost, Next};
use crate::client::{Event, Options};
use crate::cmd::client::stdout::{Out, Signals, diag, out_err, sleep_until_opt, timed_out};
use crate::cmd::client::{self, Debug, words};
use crate::codec::{
    Connect, PropertyContext, ProtocolVersion, Publish, QoS, ReasonCode, SubscribeFilter,
    SubscriptionOptions,
};
use crate::exit::{self, Error};
use crate::output::Formatter;
use crate::settings::props::check_all;
use crate::settings::sub::{SubSettings, resolve_sub};
use crate::transport::Prepared;
use rate::Rate;

/// Read this much from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// A batch this large between two waits means a flood: see `COALESCE`.
const FLOOD_BATCH: usize = 4;
/// How long to let a flood accumulate before waiting for the socket again.
const COALESCE: Duration = Duration::from_micros(500);
/// libmosquitto's reconnect delay (`mosquitto_loop_forever`), tried forever.
const RECONNECT: Backoff = Backoff {
    attempts: None,
    first: Duration::from_secs(1),
    max: Duration::from_secs(1),
};
/// How long the last DISCONNECT may take to go out.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

pub fn run(args: SubArgs) -> Result<u8, Error> {
    let tool = super::client_tool("sub");
    if args.conn.version {
        super::print_client_version(&tool, "3.1/3.1.1/5.0");
        return Ok(crate::exit::help_exit_code(&tool));
    }
    let settings = resolve_sub(&args, &tool)?;
    super::block_on(subscribe(&settings))
}

/// Runs `mqtk sub` and returns the exit status.
pub async fn subscribe(s: &SubSettings) -> Result<u8, Error> {
    let deadline = s.timeout.map(|d| Instant::now() + d);
    if !s.message_rate {
        return run_session(s, None, deadline).await;
    }
    let rate = Rate::new(deadline);
    tokio::select! {
        r = run_session(s, Some(&rate), deadline) => {
            let last = rate.finish();
            let code = r?;
            last.map_err(out_err)?;
            Ok(code)
        }
        e = rate.report() => Err(out_err(e)),
    }
}

/// Why the subscriber stops.
enum Stop {
    /// `-C`, `--retained-only`, `-E`, all subscriptions denied: DISCONNECT, exit 0.
    Done,
    /// SIGINT/SIGTERM: DISCONNECT (v5: with will, as mosquitto), exit 0.
    Signal,
    /// `-W`: DISCONNECT (v5: with will), "Timed out", exit 27.
    Timeout,
}

/// How one connection ended.
enum PumpEnd {
    Stop(Stop),
    /// The connection broke: reconnect.
    Lost,
}

/// The subscriber's state across reconnections.
struct Subscriber<'a> {
    s: &'a SubSettings,
    fmt: Formatter,
    out: Out,
    diag: Box<dyn Write>,
    /// `--random-filter`'s dice (statistics, not secrets).
    rng: fastrand::Rng,
    /// Messages counted towards `-C`.
    received: u32,
    /// False once mosquitto would stop handling messages (`-C` reached, …).
    processing: bool,
    /// `--remove-retained` PUBLISHes not yet acknowledged: we wait for them before
    /// disconnecting, as mosquitto_sub does with `last_mid`.
    removals: HashSet<u16>,
    stop: Option<Stop>,
    /// `--message-rate`: messages are counted here instead of printed.
    rate: Option<&'a Rate>,
    signals: Signals,
    deadline: Option<Instant>,
}

/// The subscriber's run, from the first connection to the exit status.
async fn run_session(
    s: &SubSettings,
    rate: Option<&Rate>,
    deadline: Option<Instant>,
) -> Result<u8, Error> {
    let c = &s.client;
    let mut sub = Subscriber {
        s,
        fmt: Formatter::new(&s.output)
            .map_err(|e| Error::Failed(e.to_string()))?
            .with_decoder(s.decode.clone()),
        out: Out::stdout(s.line_buffered, c.debug),
        diag: diag(c.quiet),
        rng: fastrand::Rng::new(),
        received: 0,
        processing: true,
        removals: HashSet::new(),
        stop: None,
        rate,
        signals: Signals::new()?,
        deadline,
    };
    sub.write_header()?;
    // TLS files and the like are checked once, before the first connection.
    let prepared = client::prepare(c)?;
    let dbg = Debug::new(c.debug, &c.client_id);
    let mut opts = Options::new(c.version);
    opts.read_min = READ_CHUNK;
    opts.read_max = READ_CHUNK;
    let mut cl: Client<Publish> = client::new_client(opts, &dbg);
    let connect = client::connect_packet(c, c.clean_start);
    tokio::select! {
        r = client::connect(&mut cl, c, &prepared, &connect) => { r?; }
        _ = sub.signals.recv() => return Ok(exit::OK),
        _ = sleep_until_opt(deadline) => return sub.timed_out(),
    }
    let code = sub.run(&mut cl, &prepared, &connect).await;
    sub.report_undecoded();
    code
}

impl Subscriber<'_> {
    fn write_header(&mut self) -> Result<(), Error> {
        let ep = &self.s.client.endpoint;
        let host = match &ep.unix_socket {
            Some(p) => p.display().to_string(),
            None => ep.host.clone(),
        };
        self.fmt
            .write_header(&host, &mut self.out.w)
            .map_err(out_err)?;
        self.out.flush()
    }

    /// `--decode`: how many payloads were shown as received because they did not
    /// decode (each was reported as it came; the exit status does not change).
    fn report_undecoded(&mut self) {
        let n = self.fmt.undecoded();
        if let (true, Some(codec)) = (n > 0, &self.s.decode) {
            let _ = writeln!(
                self.diag,
                "Warning: {n} payload(s) did not decode (--decode {}) and were shown as received.",
                codec.name()
            );
        }
    }

    fn timed_out(&mut self) -> Result<u8, Error> {
        // The last count comes before "Timed out", as in mosquitto; failing to print
        // it must not hide the time-out.
        if let Some(r) = self.rate {
            let _ = r.finish();
        }
        timed_out(&mut self.out, self.s.client.quiet)
    }

    /// Connected: subscribe, pump, and on a loss reconnect, until the end.
    async fn run(
        &mut self,
        cl: &mut Client<Publish>,
        prepared: &Prepared,
        connect: &Connect,
    ) -> Result<u8, Error> {
        let c = &self.s.client;
        loop {
            if let Some(r) = self.rate {
                r.start();
            }
            self.subscribe(cl);
            match self.pump(cl).await {
                Ok(PumpEnd::Stop(stop)) => return self.stop(cl, stop).await,
                Ok(PumpEnd::Lost) => {
                    self.out.flush()?;
                    // Already done (waiting only for --remove-retained acks): the
                    // connection's end is the end, as mosquitto_sub exits 0 then.
                    if self.stop.is_some() {
                        return Ok(exit::OK);
                    }
                    self.removals.clear();
                }
                Err(e) => {
                    // stdout failed (a closed pipe, usually): leave the broker politely.
                    let properties = c.disconnect_properties.clone();
                    let _ = cl
                        .connection()
                        .disconnect(ReasonCode::NORMAL_DISCONNECTION, properties);
                    cl.close(CLOSE_LIMIT).await;
                    return Err(e);
                }
            }
            tokio::select! {
                r = cl.reconnect(prepared, connect, &RECONNECT) => match r {
                    Ok(_) => {}
                    Err(ConnectFailure::Refused(ack)) => {
                        return Err(words::refusal(c.version, ack.code, c.quiet));
                    }
                    // Retried forever: only a refusal or an unusable CONNECT ends it.
                    Err(e) => return Err(words::connect_failure(&e, c.version, c.quiet)),
                },
                _ = self.signals.recv() => return Ok(exit::OK),
                _ = sleep_until_opt(self.deadline) => return self.timed_out(),
            }
        }
    }

    /// Leaves the broker as mosquitto_sub does, and returns the exit status.
    async fn stop(&mut self, cl: &mut Client<Publish>, stop: Stop) -> Result<u8, Error> {
        let reason = match stop {
            Stop::Done => ReasonCode::NORMAL_DISCONNECTION,
            // mosquitto_sub's signal handler asks for the will to be sent.
            Stop::Signal | Stop::Timeout => ReasonCode::DISCONNECT_WITH_WILL_MESSAGE,
        };
        let flushed = self.out.flush();
        let properties = self.s.client.disconnect_properties.clone();
        let _ = cl.connection().disconnect(reason, properties);
        cl.close(CLOSE_LIMIT).await;
        flushed?;
        match stop {
            Stop::Timeout => self.timed_out(),
            _ => Ok(exit::OK),
        }
    }

    /// Subscribes as mosquitto_sub does (`send_subscriptions`).
    fn subscribe(&mut self, cl: &mut Client<Publish>) {
        send_subscriptions(cl, self.s);
    }

    /// Runs one connection until it stops or is lost. `Err`: stdout failed.
    async fn pump(&mut self, cl: &mut Client<Publish>) -> Result<PumpEnd, Error> {
        // -W's timer lives across iterations: re-arming it for every read would cost
        // more than the read.
        let far = Instant::now() + Duration::from_secs(86400 * 365);
        let w_sleep = tokio::time::sleep_until(self.deadline.unwrap_or(far));
        tokio::pin!(w_sleep);
        loop {
            let first = tokio::select! {
                r = cl.next() => r,
                _ = self.signals.recv() => return Ok(PumpEnd::Stop(Stop::Signal)),
                _ = &mut w_sleep, if self.deadline.is_some() => {
                    return Ok(PumpEnd::Stop(Stop::Timeout));
                }
            };
            let batch = match self.batch(cl, first)? {
                Ok(n) => n,
                Err(_lost) => return Ok(PumpEnd::Lost),
            };
            if let Some(stop) = self.stop.take_if(|_| self.removals.is_empty()) {
                return Ok(PumpEnd::Stop(stop));
            }
            self.out.flush()?;
            // Under a flood of QoS 0 messages, let a few more arrive before waiting:
            // one wakeup per COALESCE instead of one per handful of messages halves
            // the CPU per message. Never when output is interactive (a terminal,
            // --line-buffered, -d), and never while acks flow (holding them would
            // throttle the broker's in-flight window).
            let acks_flow = !cl.connection().pending().is_empty();
            if batch >= FLOOD_BATCH && !acks_flow && !self.out.every {
                std::thread::sleep(COALESCE);
            }
        }
    }

    /// Handles `first` and every event ready without waiting after it, keeping the
    /// output buffered meanwhile; returns how many messages came.
    fn batch(
        &mut self,
        cl: &mut Client<Publish>,
        first: Result<Next<Publish>, Lost>,
    ) -> Result<Result<usize, Lost>, Error> {
        let mut now = SystemTime::now();
        let mut next = Some(first);
        let mut messages = 0;
        while let Some(r) = next {
            match r {
                Ok(Next::Event(Event::Message(p))) => {
                    messages += 1;
                    self.on_message(cl, &p, now)?;
                }
                Ok(Next::Event(ev)) => self.on_event(ev),
                Ok(Next::Drained) => {}
                Err(lost) => {
                    self.out.flush()?;
                    return Ok(Err(lost));
                }
            }
            if self.stop.is_some() && self.removals.is_empty() {
                break;
            }
            // What the last read brought first (same timestamp), then a new read if
            // bytes are ready at once.
            next = cl.next_buffered().or_else(|| {
                now = SystemTime::now();
                cl.try_next()
            });
        }
        Ok(Ok(messages))
    }

    fn on_event(&mut self, ev: Event<Publish>) {
        match ev {
            Event::SubAck(a) => self.on_suback(&a),
            Event::Delivered(d) => {
                self.removals.remove(&d.packet_id);
            }
            Event::Connected(_) | Event::UnsubAck(_) | Event::Message(_) => {}
        }
    }

    fn finish(&mut self) {
        self.processing = false;
        if self.stop.is_none() {
            self.stop = Some(Stop::Done);
        }
    }

    /// `--remove-retained`: clears a retained message with an empty retained PUBLISH
    /// at QoS 1, whose ack the subscriber waits for before it leaves.
    fn remove_retained(&mut self, cl: &mut Client<Publish>, topic: &str) {
        let clear = Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: topic.to_string(),
            packet_id: 0,
            properties: Default::default(),
            payload: Default::default(),
        };
        if let Ok(pid) = cl.connection().publish(clear) {
            self.removals.insert(pid);
        }
    }
}

/// SUBSCRIBE with every `-t` in one packet, then one UNSUBSCRIBE per `-U`
/// (mosquitto_sub's connect callback). `-D subscribe`/`-D unsubscribe` properties
/// libmosquitto refuses mean that packet is not sent, and, as in mosquitto_sub,
/// nothing is said: the client stays connected until -W, -C or a signal. `mqtk
/// record` subscribes the same way.
pub(crate) fn send_subscriptions(cl: &mut Client<Publish>, s: &SubSettings) {
    let c = &s.client;
    let v5 = c.version == ProtocolVersion::V5;
    let sendable = |ctx, props| check_all(ctx, props, v5).is_ok();
    let conn = cl.connection();
    if !s.topics.is_empty() && sendable(PropertyContext::Subscribe, &c.subscribe_properties) {
        let options = SubscriptionOptions {
            qos: s.qos,
            no_local: false,
            retain_as_published: s.retain_as_published,
            retain_handling: s.retain_handling,
        };
        let filters = s
            .topics
            .iter()
            .map(|t| SubscribeFilter {
                filter: t.clone(),
                options,
            })
            .collect();
        // Checked above: filters and properties encode.
        let _ = conn.subscribe(filters, c.subscribe_properties.clone());
    }
    if sendable(PropertyContext::Unsubscribe, &c.unsubscribe_properties) {
        for t in &s.unsubscribe {
            let _ = conn.unsubscribe(vec![t.clone()], c.unsubscribe_properties.clone());
        }
    }
}
