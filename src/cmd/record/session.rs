//! The recorder's connection loop: connect, subscribe as sub does, write each message
//! as it comes, reconnect once a second after a loss, and end on `-C`, `-W`, a signal
//! or a refusal. Filtering (`-R`, `-T`) is sub's. With `--decode`, each payload is
//! also written decoded (`decoded`); one that does not decode is recorded without it,
//! reported and counted, as sub shows it as received.

use std::io::Write;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::Progress;
use super::sink::Sink;
use crate::client::drive::{Backoff, Client, ConnectFailure, Lost, Next};
use crate::client::{Event, Options, Qos2Delivery};
use crate::cmd::client::stdout::{Signals, sleep_until_opt};
use crate::cmd::client::{self, Debug, words};
use crate::cmd::sub::send_subscriptions;
use crate::codec::{ProtocolVersion, Publish, ReasonCode, SubAck};
use crate::exit::{self, Error};
use crate::record::{MessageLine, write_message};
use crate::settings::record::RecordSettings;

/// Read this much from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// sub's reconnection: once a second, forever.
const RECONNECT: Backoff = Backoff {
    attempts: None,
    first: Duration::from_secs(1),
    max: Duration::from_secs(1),
};
/// How long the last DISCONNECT may take to go out.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);
/// As sub: a batch this large between two waits means a flood, and the next wait
/// is put off by `COALESCE` so that more arrive per wakeup.
const FLOOD_BATCH: usize = 4;
const COALESCE: Duration = Duration::from_micros(500);

/// Why recording ends.
enum Stop {
    /// `-C` messages recorded: exit 0.
    Done,
    /// SIGINT/SIGTERM: exit 0.
    Signal,
    /// `-W`: "Timed out", exit 27.
    Timeout,
    /// The broker denied every subscription: nothing can be recorded, exit 1.
    Denied,
}

enum End {
    Stop(Stop),
    Lost,
}

/// One read's clock readings, shared by the messages it brought.
#[derive(Clone, Copy)]
struct Now {
    wall: SystemTime,
    mono: std::time::Instant,
}

impl Now {
    fn read() -> Now {
        Now {
            wall: SystemTime::now(),
            mono: std::time::Instant::now(),
        }
    }
}

pub(super) struct Recorder<'a> {
    s: &'a RecordSettings,
    sink: Sink,
    progress: Progress,
    /// A message's line, reused.
    line: Vec<u8>,
    /// When the first message arrived: offsets count from it.
    origin: Option<std::time::Instant>,
    recorded: u64,
    /// `--decode`: payloads that did not decode (recorded without `decoded`).
    undecoded: u64,
    stop: Option<Stop>,
    signals: Signals,
    deadline: Option<Instant>,
}

impl<'a> Recorder<'a> {
    pub(super) fn new(
        s: &'a RecordSettings,
        sink: Sink,
        progress: Progress,
    ) -> Result<Recorder<'a>, Error> {
        Ok(Recorder {
            s,
            sink,
            progress,
            line: Vec::with_capacity(1024),
            origin: None,
            recorded: 0,
            undecoded: 0,
            stop: None,
            signals: Signals::new()?,
            deadline: s.sub.timeout.map(|d| Instant::now() + d),
        })
    }

    /// The output, the progress line, how many messages were recorded and how many
    /// of their payloads did not decode.
    pub(super) fn into_parts(self) -> (Sink, Progress, u64, u64) {
        (self.sink, self.progress, self.recorded, self.undecoded)
    }

    /// Connects (the first failure is final, as in sub), then records until the end.
    pub(super) async fn session(&mut self) -> Result<u8, Error> {
        let s = self.s;
        let c = &s.sub.client;
        let prepared = client::prepare(c)?;
        let dbg = Debug::new(c.debug, &c.client_id);
        let mut opts = Options::new(c.version);
        // A QoS 2 message is recorded when it arrives, not at its PUBREL: the record
        // keeps the order the broker sent the messages in (each still once).
        opts.qos2_delivery = Qos2Delivery::OnPublish;
        opts.read_min = READ_CHUNK;
        opts.read_max = READ_CHUNK;
        let mut cl: Client<Publish> = client::new_client(opts, &dbg);
        let connect = client::connect_packet(c, c.clean_start);
        tokio::select! {
            r = client::connect(&mut cl, c, &prepared, &connect) => { r?; }
            _ = self.signals.recv() => return Ok(exit::OK),
            _ = sleep_until_opt(self.deadline) => return Ok(self.timed_out()),
        }
        loop {
            send_subscriptions(&mut cl, &s.sub);
            match self.pump(&mut cl).await? {
                End::Stop(stop) => return self.stop(&mut cl, stop).await,
                End::Lost => self.sink.flush()?,
            }
            tokio::select! {
                r = cl.reconnect(&prepared, &connect, &RECONNECT) => match r {
                    Ok(_) => {}
                    Err(ConnectFailure::Refused(ack)) => {
                        return Err(words::refusal(c.version, ack.code, c.quiet));
                    }
                    Err(e) => return Err(words::connect_failure(&e, c.version, c.quiet)),
                },
                _ = self.signals.recv() => return Ok(exit::OK),
                _ = sleep_until_opt(self.deadline) => return Ok(self.timed_out()),
            }
        }
    }

    fn timed_out(&self) -> u8 {
        if !self.s.sub.client.quiet {
            let _ = writeln!(std::io::stderr(), "Timed out");
        }
        exit::TIMEOUT
    }

    /// Leaves the broker as sub does, and returns the exit status.
    async fn stop(&mut self, cl: &mut Client<Publish>, stop: Stop) -> Result<u8, Error> {
        let c = &self.s.sub.client;
        let reason = match stop {
            Stop::Done | Stop::Denied => ReasonCode::NORMAL_DISCONNECTION,
            Stop::Signal | Stop::Timeout => ReasonCode::DISCONNECT_WITH_WILL_MESSAGE,
        };
        let _ = cl
            .connection()
            .disconnect(reason, c.disconnect_properties.clone());
        cl.close(CLOSE_LIMIT).await;
        match stop {
            Stop::Timeout => Ok(self.timed_out()),
            Stop::Denied => Err(words::quieted(
                c.quiet,
                Error::Failed("All subscription requests were denied.".into()),
            )),
            Stop::Done | Stop::Signal => Ok(exit::OK),
        }
    }

    /// Runs one connection until it stops or is lost.
    async fn pump(&mut self, cl: &mut Client<Publish>) -> Result<End, Error> {
        let far = Instant::now() + Duration::from_secs(86400 * 365);
        let w_sleep = tokio::time::sleep_until(self.deadline.unwrap_or(far));
        tokio::pin!(w_sleep);
        loop {
            let flush_at = self.sink.flush_due();
            let first = tokio::select! {
                r = cl.next() => r,
                _ = self.signals.recv() => return Ok(End::Stop(Stop::Signal)),
                _ = &mut w_sleep, if self.deadline.is_some() => {
                    return Ok(End::Stop(Stop::Timeout));
                }
                _ = sleep_until_opt(flush_at) => {
                    self.sink.flush()?;
                    continue;
                }
            };
            let batch = match self.batch(cl, first)? {
                Ok(n) => n,
                Err(_lost) => return Ok(End::Lost),
            };
            if let Some(stop) = self.stop.take() {
                return Ok(End::Stop(stop));
            }
            self.sink.idle()?;
            self.progress.update(self.recorded, self.sink.bytes_out());
            // As sub does under a flood (never while acks flow: holding them would
            // throttle the broker's window).
            if batch >= FLOOD_BATCH && cl.connection().pending().is_empty() {
                std::thread::sleep(COALESCE);
            }
        }
    }

    /// Handles `first` and every event ready without waiting after it; returns how
    /// many messages came.
    fn batch(
        &mut self,
        cl: &mut Client<Publish>,
        first: Result<Next<Publish>, Lost>,
    ) -> Result<Result<usize, Lost>, Error> {
        let mut now = Now::read();
        let mut next = Some(first);
        let mut messages = 0;
        while let Some(r) = next {
            match r {
                Ok(Next::Event(Event::Message(p))) => {
                    messages += 1;
                    self.on_message(&p, now)?;
                }
                Ok(Next::Event(Event::SubAck(a))) => self.on_suback(&a),
                Ok(_) => {}
                Err(lost) => return Ok(Err(lost)),
            }
            if self.stop.is_some() {
                break;
            }
            next = cl.next_buffered().or_else(|| {
                now = Now::read();
                cl.try_next()
            });
        }
        Ok(Ok(messages))
    }

    fn on_message(&mut self, p: &Publish, now: Now) -> Result<(), Error> {
        let sub = &self.s.sub;
        if (p.retain && sub.no_retain)
            || sub
                .filter_out
                .iter()
                .any(|f| crate::topic::matches(f, &p.topic))
        {
            return Ok(());
        }
        let origin = *self.origin.get_or_insert(now.mono);
        let offset_us = now.mono.saturating_duration_since(origin).as_micros();
        let decoded = self.decode(p);
        self.line.clear();
        write_message(
            &mut self.line,
            &MessageLine {
                time: now.wall,
                offset_us: u64::try_from(offset_us).unwrap_or(u64::MAX),
                publish: p,
                decoded: decoded.as_deref(),
            },
        );
        self.sink.write(&self.line)?;
        self.recorded += 1;
        if sub.count.is_some_and(|n| self.recorded >= u64::from(n)) {
            self.stop = Some(Stop::Done);
        }
        Ok(())
    }

    /// `--decode`: the payload as compact JSON text; `None` without a decoder, for an
    /// empty payload (as sub), when `auto` finds no format, or when it does not decode
    /// (reported and counted; the payload is recorded all the same).
    fn decode(&mut self, p: &Publish) -> Option<Vec<u8>> {
        let codec = self.s.sub.decode.as_ref()?;
        if p.payload.is_empty() {
            return None;
        }
        let json = codec.decode(&p.topic, &p.payload).and_then(|d| {
            d.map(|d| {
                let mut text = Vec::new();
                d.write_json(crate::payload::Style::Compact, &mut text)
                    .map(|()| text)
            })
            .transpose()
        });
        match json {
            Ok(v) => v,
            Err(e) => {
                self.undecoded += 1;
                if !self.s.sub.client.quiet {
                    let why = e.to_string().replace('\n', " ");
                    self.progress.warn(&format!(
                        "Warning: the payload on topic '{}' is {why}; recorded as received.\n",
                        p.topic
                    ));
                }
                None
            }
        }
    }

    /// mosquitto_sub's judgement of a SUBACK: every filter denied ends the recording
    /// (an error here: nothing could ever be recorded); some denied are warned about.
    fn on_suback(&mut self, a: &SubAck) {
        if !a.reasons.iter().any(|r| r.0 < 0x80) {
            self.stop = Some(Stop::Denied);
            return;
        }
        let c = &self.s.sub.client;
        if c.quiet {
            return;
        }
        let v5 = c.version == ProtocolVersion::V5;
        for (t, r) in self.s.sub.topics.iter().zip(&a.reasons) {
            if r.0 >= 0x80 {
                let why = if v5 { format!(": {r}") } else { String::new() };
                let _ = writeln!(
                    std::io::stderr(),
                    "Warning: Subscription to '{t}' was denied{why}."
                );
            }
        }
    }
}
