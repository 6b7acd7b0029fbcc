//! Replay's second pass: the files are read again (`input::Reader`, which agrees with
//! the first pass line by line) and each message is published on the client core when
//! its schedule says (`schedule`), or at once at `--speed max`, while the window has
//! room, as `mqtk pub` does: a lost connection is reconnected (10 attempts, backoff)
//! and the core resends what was unacknowledged. A first SIGINT/SIGTERM stops sending
//! and waits (up to `DRAIN_LIMIT`) for the acknowledgements of what was sent; a second
//! one ends at once.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::input::{Item, Reader};
use super::scan::{Cache, Plan};
use super::schedule::Schedule;
use crate::client::drive::{Backoff, Client, ConnectFailure, Next};
use crate::client::{Event, PublishError};
use crate::cmd::client::stdout::{Signals, sleep_until_opt};
use crate::cmd::client::{self, words};
use crate::codec::{self, Connect, PropertyId, ProtocolVersion, Publish, QoS};
use crate::exit::Error;
use crate::record::Message;
use crate::settings::replay::ReplaySettings;
use crate::transport::Prepared;

/// Stop queueing once this much is waiting to be written.
const HIGH_WATER: usize = 64 * 1024;
/// pub's reconnection after a lost connection.
const RECONNECT: Backoff = Backoff {
    attempts: Some(10),
    first: Duration::from_millis(100),
    max: Duration::from_secs(2),
};
/// After a signal: how long to wait for the acknowledgements of what was sent.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// How long the last DISCONNECT may take to go out.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);
/// How often the progress bar's words change.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// How the replay went, for the summary and the exit status.
#[derive(Debug, Default)]
pub struct Outcome {
    pub sent: u64,
    /// From the first message sent to the end (everything written and acknowledged).
    pub duration: Duration,
    /// From the first message sent to the last (timed replays: the schedule as kept;
    /// it exceeds the schedule by the last message's lag, never by the sum of lags).
    pub spread: Duration,
    pub max_lag: Duration,
    /// QoS 1/2 messages the broker refused (reason code ≥ 0x80).
    pub refused: u64,
    /// QoS 1/2 messages sent but never acknowledged (the connection was lost for good,
    /// or a signal ended the wait).
    pub unconfirmed: u64,
    /// QoS 1/2 messages never sent because the connection could not be re-established.
    pub unsent: u64,
    /// A signal ended the replay early.
    pub interrupted: bool,
    /// Why the connection could not be re-established.
    pub lost: Option<String>,
}

/// Where the second pass takes the messages from.
enum Feed<'a> {
    /// What the first pass kept; `next` is the place in the current loop.
    Memory { cache: Cache, next: usize },
    /// The files, read again.
    Files(Reader<'a>),
}

impl<'a> Feed<'a> {
    /// The next item of the current loop; in the `last` loop kept messages are
    /// handed over rather than copied.
    fn next(&mut self, last: bool) -> Result<Option<Item>, Error> {
        let entry = match self {
            Feed::Files(r) => return r.next().map_err(|f| Error::Failed(f.to_string())),
            Feed::Memory { cache, .. } if last => cache.pop_front(),
            Feed::Memory { cache, next } => {
                *next += 1;
                cache.get(*next - 1).cloned()
            }
        };
        Ok(entry.map(|(position, msg)| Item::Message { position, msg }))
    }

    /// Back to the start, for the next loop.
    fn rewind(&mut self, s: &'a ReplaySettings) {
        match self {
            Feed::Memory { next, .. } => *next = 0,
            Feed::Files(r) => *r = Reader::new(s),
        }
    }
}

/// A message read and ready to queue.
struct Pending {
    /// Its place on the schedule (µs since the first message of the first loop).
    at: u64,
    /// Its place in the recording (µs since the window's first message).
    into: u64,
    msg: Publish,
}

enum PumpEnd {
    /// Everything queued is written and acknowledged, and nothing more is to be sent.
    Done,
    Lost,
    /// A second signal, or the wait after the first ran out.
    GiveUp,
}

pub struct Player<'a> {
    s: &'a ReplaySettings,
    plan: &'a Plan,
    client: Client<Publish>,
    prepared: Prepared,
    connect: Connect,
    feed: Feed<'a>,
    round: u64,
    /// The next message, read but not yet queued.
    next: Option<Pending>,
    /// Every loop of every file has been read.
    exhausted: bool,
    schedule: Schedule,
    first_sent: Option<Instant>,
    /// When the latest message was queued (timed replays only).
    last_sent: Option<Instant>,
    sent: u64,
    sent_acknowledged: u64,
    refused: u64,
    signals: Signals,
    /// After a signal: when to stop waiting for acknowledgements.
    stopping: Option<Instant>,
    progress: Progress,
}

impl<'a> Player<'a> {
    pub fn new(
        s: &'a ReplaySettings,
        plan: &'a Plan,
        cache: Option<Cache>,
        prepared: Prepared,
    ) -> Result<Self, Error> {
        let c = &s.client;
        let dbg = client::Debug::new(c.debug, &c.client_id);
        let mut opts = crate::client::Options::new(c.version);
        opts.max_inflight = c.max_inflight.unwrap_or(u16::MAX);
        // As pub: a wide window, with at most 1 MiB of payload unacknowledged.
        opts.max_inflight_bytes = 1024 * 1024;
        let mut cl: Client<Publish> = client::new_client(opts, &dbg);
        cl.set_low_water(Some(HIGH_WATER));
        let speed = match s.speed {
            crate::cli::replay::Speed::Factor(f) => Some(f),
            crate::cli::replay::Speed::Max => None,
        };
        let show = !c.quiet && !c.debug && std::io::IsTerminal::is_terminal(&std::io::stderr());
        Ok(Player {
            s,
            plan,
            client: cl,
            prepared,
            connect: client::connect_packet(c, c.clean_start),
            feed: match cache {
                Some(cache) => Feed::Memory { cache, next: 0 },
                None => Feed::Files(Reader::new(s)),
            },
            round: 0,
            next: None,
            exhausted: plan.messages == 0,
            schedule: Schedule::new(speed, plan.first, plan.span()),
            first_sent: None,
            last_sent: None,
            sent: 0,
            sent_acknowledged: 0,
            refused: 0,
            signals: Signals::new()?,
            stopping: None,
            progress: Progress::new(show, plan, s.loops),
        })
    }

    /// Connects, plays everything, leaves; the outcome says how it went.
    pub async fn run(mut self) -> Result<Outcome, Error> {
        let c = &self.s.client;
        tokio::select! {
            r = client::connect(&mut self.client, c, &self.prepared, &self.connect) => { r?; }
            _ = self.signals.recv() => return Ok(self.outcome(None, true)),
        }
        loop {
            match self.pump().await? {
                PumpEnd::Done => {
                    let end = Instant::now();
                    self.leave().await;
                    let mut o = self.outcome(None, self.stopping.is_some());
                    o.duration = self.first_sent.map_or(Duration::ZERO, |t| end - t);
                    return Ok(o);
                }
                PumpEnd::GiveUp => {
                    self.leave().await;
                    return Ok(self.outcome(None, true));
                }
                PumpEnd::Lost => {
                    let confirmed = self.client.connection().in_flight() == 0;
                    if self.stopping.is_some()
                        || (confirmed && self.exhausted && self.next.is_none())
                    {
                        return Ok(self.outcome(None, self.stopping.is_some()));
                    }
                    if let Err(why) = self.reconnect().await? {
                        return Ok(self.outcome(Some(why), false));
                    }
                }
            }
        }
    }

    /// Reconnects with backoff. `Ok(Err(why))`: given up (a signal, or the attempts
    /// ran out); a refusal is final, as in pub.
    async fn reconnect(&mut self) -> Result<Result<(), String>, Error> {
        let c = &self.s.client;
        let r = tokio::select! {
            r = self.client.reconnect(&self.prepared, &self.connect, &RECONNECT) => r,
            _ = self.signals.recv() => return Ok(Err("interrupted".into())),
        };
        match r {
            Ok(_) => Ok(Ok(())),
            Err(ConnectFailure::Refused(ack)) => Err(words::refusal(c.version, ack.code, c.quiet)),
            Err(e) => {
                let text = words::connect_failure(&e, c.version, false).message();
                Ok(Err(text
                    .trim_end()
                    .trim_start_matches("Error: ")
                    .to_string()))
            }
        }
    }

    async fn leave(&mut self) {
        let c = &self.s.client;
        let v5 = c.version == ProtocolVersion::V5;
        let props = &c.disconnect_properties;
        if crate::settings::props::check_all(codec::PropertyContext::Disconnect, props, v5).is_ok()
        {
            let _ = self
                .client
                .connection()
                .disconnect(codec::ReasonCode::NORMAL_DISCONNECTION, props.clone());
        }
        self.client.close(CLOSE_LIMIT).await;
        self.progress.finish();
    }

    fn outcome(&mut self, lost: Option<String>, interrupted: bool) -> Outcome {
        self.progress.finish();
        let unconfirmed = self.client.connection().in_flight() as u64;
        let planned = self.s.loops.map(|n| self.plan.acknowledged * u64::from(n));
        let unsent = match (&lost, planned) {
            (Some(_), Some(p)) => p.saturating_sub(self.sent_acknowledged),
            _ => 0,
        };
        Outcome {
            sent: self.sent,
            duration: self.first_sent.map_or(Duration::ZERO, |t| t.elapsed()),
            spread: match (self.first_sent, self.last_sent) {
                (Some(a), Some(b)) => b - a,
                _ => Duration::ZERO,
            },
            max_lag: self.schedule.max_lag(),
            refused: self.refused,
            unconfirmed,
            unsent,
            interrupted,
            lost,
        }
    }

    /// Runs one connection until everything is done, it is lost, or a signal ends it.
    async fn pump(&mut self) -> Result<PumpEnd, Error> {
        loop {
            let wake = self.fill()?;
            let conn = self.client.connection();
            let nothing_left = self.stopping.is_some() || (self.exhausted && self.next.is_none());
            if nothing_left && conn.pending().is_empty() && conn.in_flight() == 0 {
                return Ok(PumpEnd::Done);
            }
            tokio::select! {
                r = self.client.next() => match r {
                    Ok(Next::Event(ev)) => self.on_event(ev),
                    Ok(Next::Drained) => {}
                    Err(_) => return Ok(PumpEnd::Lost),
                },
                _ = sleep_until_opt(wake.map(Into::into)) => {}
                _ = self.signals.recv() => {
                    if self.stopping.is_some() {
                        return Ok(PumpEnd::GiveUp);
                    }
                    self.stopping = Some(Instant::now() + DRAIN_LIMIT);
                }
                _ = sleep_until_opt(self.stopping.map(Into::into)) => return Ok(PumpEnd::GiveUp),
            }
            // Acks come many per read: take the ones already buffered before refilling.
            while let Some(r) = self.client.next_buffered() {
                match r {
                    Ok(Next::Event(ev)) => self.on_event(ev),
                    Ok(Next::Drained) => {}
                    Err(_) => return Ok(PumpEnd::Lost),
                }
            }
            self.progress.update(self.sent);
        }
    }

    fn on_event(&mut self, ev: Event<Publish>) {
        if let Event::Delivered(d) = ev
            && !d.succeeded()
        {
            self.refused += 1;
            if !self.s.client.quiet {
                eprintln_safe(&format!(
                    "Warning: Publish {} to '{}' failed: {}.",
                    d.packet_id, d.msg.topic, d.reason
                ));
            }
        }
    }

    /// Queues the messages that are due while the write buffer and the window have
    /// room; returns when the next one is due, if it is not yet.
    fn fill(&mut self) -> Result<Option<Instant>, Error> {
        loop {
            if self.stopping.is_some() || self.client.connection().pending().len() >= HIGH_WATER {
                return Ok(None);
            }
            self.load_next()?;
            let Some(next) = &self.next else {
                return Ok(None);
            };
            // At --speed max no clock is read per message.
            let now = self.schedule.is_timed().then(Instant::now);
            let due = now.and_then(|now| self.schedule.due(next.at, now));
            if let (Some(due), Some(now)) = (due, now)
                && due > now
            {
                return Ok(Some(due));
            }
            let Some(Pending { at, into, msg }) = self.next.take() else {
                return Ok(None);
            };
            let qos = msg.qos;
            match self.client.connection().publish(msg) {
                Ok(_) => {}
                // The window is full or the connection is down: an ack or the
                // reconnection comes first.
                Err(PublishError::Full(msg) | PublishError::NotConnected(msg)) => {
                    self.next = Some(Pending { at, into, msg });
                    return Ok(None);
                }
                Err(PublishError::Encode(e, m)) => return Err(too_large(e, &m)),
            }
            let now = now.unwrap_or_else(|| *self.first_sent.get_or_insert_with(Instant::now));
            self.first_sent.get_or_insert(now);
            if self.schedule.is_timed() {
                self.last_sent = Some(now);
            }
            self.schedule.sent(due, now);
            self.sent += 1;
            self.progress.into = into;
            if qos != QoS::AtMostOnce {
                self.sent_acknowledged += 1;
            }
        }
    }

    /// Reads the next message to send into `next`, starting the files over for the
    /// next loop.
    fn load_next(&mut self) -> Result<(), Error> {
        while self.next.is_none() && !self.exhausted {
            let last = self.s.loops.is_some_and(|n| self.round + 1 >= u64::from(n));
            match self.feed.next(last)? {
                Some(Item::Message { position, msg }) => {
                    self.next = Some(Pending {
                        at: self.schedule.at(self.round, position),
                        into: position - self.plan.first,
                        msg: self.publish(msg),
                    });
                }
                // Reported by the first pass; it passed, so --skip-bad is on.
                Some(Item::Bad(_)) if self.s.skip_bad => {}
                Some(Item::Bad(p)) => {
                    return Err(Error::Failed(format!(
                        "{p} (the file changed after it was checked)"
                    )));
                }
                None => {
                    self.round += 1;
                    if self.s.loops.is_some_and(|n| self.round >= u64::from(n)) {
                        self.exhausted = true;
                    } else {
                        self.feed.rewind(self.s);
                    }
                }
            }
        }
        Ok(())
    }

    /// The PUBLISH for a recorded message: `--qos`, `--no-retain`; no subscription
    /// identifiers (a client must not send them, 5.0 §3.3.4), and no properties at all
    /// below v5.
    fn publish(&self, m: Message) -> Publish {
        let mut properties = m.properties;
        if self.s.client.version == ProtocolVersion::V5 {
            properties.remove(PropertyId::SubscriptionIdentifier);
        } else {
            properties.0.clear();
        }
        Publish {
            dup: false,
            qos: self.s.qos.unwrap_or(m.qos),
            retain: m.retain && !self.s.no_retain,
            topic: m.topic,
            packet_id: 0,
            properties,
            payload: m.payload,
        }
    }
}

fn too_large(e: codec::Error, m: &Publish) -> Error {
    match e {
        codec::Error::PacketTooLarge { .. } => Error::Failed(format!(
            "a message to '{}' is too large for MQTT: {} payload bytes",
            m.topic,
            m.payload.len()
        )),
        e => Error::Failed(format!("PUBLISH to '{}': {e}", m.topic)),
    }
}

/// A line on stderr; a closed stderr is no reason to stop replaying.
fn eprintln_safe(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The progress bar on a terminal: messages sent of all, and where the replay is in
/// the recording.
struct Progress {
    bar: Option<ProgressBar>,
    last: Instant,
    /// The latest message's place in the recording.
    into: u64,
    span: u64,
    /// Messages per loop.
    per_loop: u64,
    loops: Option<u32>,
}

impl Progress {
    fn new(show: bool, plan: &Plan, loops: Option<u32>) -> Progress {
        let bar = show.then(|| {
            let len = loops.map(|n| plan.messages * u64::from(n));
            let pb = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
            pb.set_style(
                ProgressStyle::with_template(
                    "[{elapsed}] {wide_bar} {human_pos}/{human_len} messages, {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            pb
        });
        Progress {
            bar,
            last: Instant::now(),
            into: 0,
            span: plan.span(),
            per_loop: plan.messages,
            loops,
        }
    }

    fn update(&mut self, sent: u64) {
        let Some(bar) = &self.bar else { return };
        if self.last.elapsed() < PROGRESS_EVERY {
            return;
        }
        self.last = Instant::now();
        let round = sent.saturating_sub(1) / self.per_loop.max(1) + 1;
        let round = match self.loops {
            Some(1) => String::new(),
            Some(n) => format!(", loop {round}/{n}"),
            None => format!(", loop {round}"),
        };
        // The words first: setting the position draws the bar.
        bar.set_message(format!(
            "at {} of {}{round}",
            clock(self.into),
            clock(self.span)
        ));
        bar.set_position(sent);
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Microseconds of recording as `m:ss.s`.
fn clock(us: u64) -> String {
    let tenths = us / 100_000;
    format!("{}:{:02}.{}", tenths / 600, tenths / 10 % 60, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: Option<Item>) -> Option<(u64, Message)> {
        match i? {
            Item::Message { position, msg } => Some((position, msg)),
            Item::Bad(p) => panic!("{p}"),
        }
    }

    /// The sending pass plays the same messages whether the first pass kept them or
    /// the files are read again, loop after loop.
    #[test]
    fn kept_and_reread_messages_are_the_same() {
        use clap::Parser;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.ndjson");
        let mut text = String::from(
            r##"{"format":"mqtk-record","version":1,"started":"2024-01-01T00:00:00Z","broker":"b","protocol":"mqttv5","filters":["#"],"qos":0,"mqtk":"0"}"##,
        );
        for i in 0..5000 {
            text.push_str(&format!(
                "\n{{\"time\":\"2024-01-01T00:00:00Z\",\"offset_us\":{i},\"topic\":\"t/{i}\",\"qos\":1,\"retain\":false,\"payload\":\"p\\n{i}\"}}"
            ));
        }
        std::fs::write(&path, text).unwrap();
        let argv = ["mqtk", "replay", path.to_str().unwrap(), "--loop", "2"];
        let crate::cli::Command::Replay(args) =
            crate::cli::Cli::try_parse_from(argv).unwrap().command
        else {
            unreachable!("replay parses as replay")
        };
        let s = crate::settings::replay::resolve_replay(&args, "t").unwrap();
        let (plan, cache) = super::super::scan::scan(&s).unwrap();
        assert_eq!(plan.messages, 5000);
        let mut kept = Feed::Memory {
            cache: cache.unwrap(),
            next: 0,
        };
        let mut files = Feed::Files(Reader::new(&s));
        for last in [false, true] {
            let mut n = 0;
            loop {
                let a = entry(kept.next(last).unwrap());
                let b = entry(files.next(last).unwrap());
                assert_eq!(a, b);
                if a.is_none() {
                    break;
                }
                n += 1;
            }
            assert_eq!(n, 5000);
            kept.rewind(&s);
            files.rewind(&s);
        }
    }

    #[test]
    fn clock() {
        assert_eq!(super::clock(0), "0:00.0");
        assert_eq!(super::clock(61_250_000), "1:01.2");
    }
}
