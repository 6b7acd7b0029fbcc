//! `mqtk rr`: mosquitto_rr 2.1 on the client core. Subscribe to the response topic,
//! publish the request (in v5 with a Response Topic, 5.0 §4.10; below v5 without
//! properties, as mosquitto_rr's `my_publish`), print the first message on the
//! response topic, and report the round-trip time with `--latency`. With our
//! `--correlate` the request also carries random Correlation Data and only responses
//! that echo it count.

use std::io::Write;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::time::Instant;

use crate::cli::rr::RrArgs;
use crate::client::drive::{Client, ConnectFailure, Next};
use crate::client::{Event, Options};
use crate::cmd::client::stdout::{Out, Signals, diag, out_err, sleep_until_opt, timed_out};
use crate::cmd::client::{self, Debug, input, quieted, words};
use crate::codec::{
    Properties, PropertyId, PropertyValue, ProtocolVersion, Publish, ReasonCode, SubscribeFilter,
    SubscriptionOptions,
};
use crate::exit::{self, Error};
use crate::output::{Formatter, Message};
use crate::settings::plain;
use crate::settings::rr::{RrSettings, resolve_rr};

/// Bytes of random correlation data per request.
const CORRELATION_LEN: usize = 16;
/// How long the last packets may take to go out.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

pub fn run(args: RrArgs) -> Result<u8, Error> {
    let tool = super::client_tool("rr");
    if args.conn.version {
        super::print_client_version(&tool, "3.1/3.1.1/5.0");
        return Ok(crate::exit::help_exit_code(&tool));
    }
    let settings = resolve_rr(&args, &tool)?;
    super::block_on(request(&settings))
}

/// 2.1's `report_latency`: seconds with nanoseconds from 1 s up, else ns, µs or ms.
pub fn latency_line(d: Duration) -> String {
    let s = d.as_secs();
    let ns = d.subsec_nanos();
    if s > 0 {
        format!("Latency: {s}.{ns:09}\n")
    } else if ns < 1000 {
        format!("Latency: {ns}ns\n")
    } else if ns < 1_000_000 {
        format!("Latency: {:.6}µs\n", f64::from(ns) / 1000.0)
    } else {
        format!("Latency: {:.6}ms\n", f64::from(ns) / 1_000_000.0)
    }
}

/// One request and its responses.
struct Requester<'a> {
    r: &'a RrSettings,
    payload: Bytes,
    correlation: Option<Bytes>,
    cl: Client<Publish>,
    dbg: Debug,
    fmt: Formatter,
    out: Out,
    diag: Box<dyn Write>,
    /// The SUBACK to wait for before publishing.
    sub_pid: u16,
    /// When the request went out (after the SUBACK).
    sent_at: Option<Instant>,
    replies: u32,
    /// Set when the run is over; `Some(Err)`: it failed.
    done: Option<Result<(), Error>>,
}

/// Runs `mqtk rr` and returns the exit status.
pub async fn request(r: &RrSettings) -> Result<u8, Error> {
    let c = &r.client;
    let payload = encode(r, input::load(&r.source, c.quiet)?.unwrap_or_default())?;
    let fmt = Formatter::new(&r.output)
        .map_err(|e| Error::Failed(e.to_string()))?
        .with_decoder(r.decode.clone());
    let mut out = Out::stdout(false, c.debug);
    let mut signals = Signals::new()?;
    let deadline = r.timeout.map(|d| Instant::now() + d);
    let prepared = client::prepare(c)?;
    let dbg = Debug::new(c.debug, &c.client_id);
    let mut cl: Client<Publish> = client::new_client(Options::new(c.version), &dbg);
    let connect = client::connect_packet(c, c.clean_start);
    let connected = tokio::select! {
        res = cl.connect(&prepared, &connect) => res,
        _ = signals.recv() => return Ok(exit::OK),
        _ = sleep_until_opt(deadline) => return timed_out(&mut out, c.quiet),
    };
    match connected {
        Ok(_) => {}
        // mosquitto_rr 2.1 words a refusal alone: "Connection error: <reason>".
        Err(ConnectFailure::Refused(ack)) => {
            return Err(quieted(
                c.quiet,
                Error::Refused {
                    text: format!("Connection error: {}\n", ReasonCode(ack.code)),
                    code: ack.code,
                },
            ));
        }
        Err(e) => return Err(words::connect_failure(&e, c.version, c.quiet)),
    }
    let mut q = Requester {
        r,
        payload,
        correlation: correlation(r)?,
        sub_pid: 0,
        cl,
        dbg,
        fmt,
        out,
        diag: diag(c.quiet),
        sent_at: None,
        replies: 0,
        done: None,
    };
    q.subscribe();
    let code = q.run(&mut signals, deadline).await;
    q.report_undecoded();
    code
}

/// `--encode` (mqtk): the request is JSON, encoded before connecting.
fn encode(r: &RrSettings, json: Bytes) -> Result<Bytes, Error> {
    let Some(codec) = &r.encode else {
        return Ok(json);
    };
    let mut enc = crate::payload::Encoder::new(codec.clone()).map_err(Error::Failed)?;
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    match enc.encode(&json, now_ms) {
        Ok(b) => Ok(Bytes::from(b)),
        Err(why) => Err(quieted(
            r.client.quiet,
            Error::Failed(format!(
                "cannot encode the request as {}: {why}",
                enc.name()
            )),
        )),
    }
}

/// `--correlate`: random bytes the response must echo.
fn correlation(r: &RrSettings) -> Result<Option<Bytes>, Error> {
    if !r.correlate {
        return Ok(None);
    }
    let mut bytes = [0u8; CORRELATION_LEN];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Failed(format!("no random correlation data: {e}")))?;
    Ok(Some(Bytes::copy_from_slice(&bytes)))
}

impl Requester<'_> {
    fn quiet(&self) -> bool {
        self.r.client.quiet
    }

    /// `--decode`: how many responses were shown as received because they did not
    /// decode (each was reported as it came; the exit status does not change).
    fn report_undecoded(&mut self) {
        let n = self.fmt.undecoded();
        if let (true, Some(codec)) = (n > 0, &self.r.decode) {
            let _ = writeln!(
                self.diag,
                "Warning: {n} payload(s) did not decode (--decode {}) and were shown as received.",
                codec.name()
            );
        }
    }

    async fn run(&mut self, signals: &mut Signals, deadline: Option<Instant>) -> Result<u8, Error> {
        loop {
            let next = tokio::select! {
                n = self.cl.next() => n,
                _ = signals.recv() => return self.leave(Ok(exit::OK)).await,
                _ = sleep_until_opt(deadline) => {
                    let quiet = self.quiet();
                    let code = timed_out(&mut self.out, quiet);
                    return self.leave(code).await;
                }
            };
            match next {
                Ok(Next::Event(ev)) => self.on_event(ev)?,
                Ok(Next::Drained) => {}
                Err(e) => return Err(words::lost(&e, self.quiet())),
            }
            if let Some(done) = self.done.take() {
                self.out.flush()?;
                return self.finish(done).await;
            }
        }
    }

    /// Signal or `-W`: DISCONNECT (v5: with will, as mosquitto's handlers ask).
    async fn leave(&mut self, code: Result<u8, Error>) -> Result<u8, Error> {
        let properties = self.r.client.disconnect_properties.clone();
        let _ = self
            .cl
            .connection()
            .disconnect(ReasonCode::DISCONNECT_WITH_WILL_MESSAGE, properties);
        self.cl.close(CLOSE_LIMIT).await;
        code
    }

    async fn finish(&mut self, done: Result<(), Error>) -> Result<u8, Error> {
        match done {
            Err(e) => {
                let properties = self.r.client.disconnect_properties.clone();
                let _ = self
                    .cl
                    .connection()
                    .disconnect(ReasonCode::NORMAL_DISCONNECTION, properties);
                self.cl.close(CLOSE_LIMIT).await;
                Err(e)
            }
            Ok(()) => {
                // mosquitto_rr 2.1 leaves its loop at the response and destroys the
                // client: the socket closes with no DISCONNECT (so a will, if set, is
                // published). Same packets on the wire, same -d lines.
                self.cl.close(CLOSE_LIMIT).await;
                Ok(exit::OK)
            }
        }
    }

    /// Subscribes to the response topic with `-q`, `--retain-as-published` and
    /// `--retain-handling` (the last two v5 only, as libmosquitto drops them below v5).
    fn subscribe(&mut self) {
        let r = self.r;
        let options = SubscriptionOptions {
            qos: r.qos,
            no_local: false,
            retain_as_published: r.retain_as_published,
            retain_handling: r.retain_handling,
        };
        let filters = vec![SubscribeFilter {
            filter: r.response_topic.clone(),
            options,
        }];
        let props = r.client.subscribe_properties.clone();
        // The topic and properties were checked by the settings: this encodes.
        self.sub_pid = self.cl.connection().subscribe(filters, props).unwrap_or(0);
    }

    fn on_event(&mut self, ev: Event<Publish>) -> Result<(), Error> {
        match ev {
            Event::SubAck(a) if a.packet_id == self.sub_pid && self.sent_at.is_none() => {
                let rc = a.reasons.first().copied().unwrap_or(ReasonCode(0x80));
                if rc.0 >= 0x80 {
                    // mosquitto_rr prints the reason and exits 0; a refused
                    // subscription means no response can come, so we exit 1.
                    self.done = Some(Err(quieted(self.quiet(), plain(format!("{rc}\n")))));
                    return Ok(());
                }
                // Subscribed: now the request cannot miss its response.
                self.publish_request();
                self.sent_at = Some(Instant::now());
            }
            Event::Message(p) => self.on_message(&p)?,
            Event::Delivered(d) if !d.succeeded() => {
                let text = format!(
                    "Error: The request (mid {}) was refused: {}.\n",
                    d.packet_id, d.reason
                );
                self.done = Some(Err(quieted(self.quiet(), plain(text))));
            }
            _ => {}
        }
        Ok(())
    }

    /// Queues the request as mosquitto_rr's `my_publish` sends it: in v5 the `-D
    /// publish` properties plus the Response Topic (and, with `--correlate`, our
    /// Correlation Data); below v5 no properties at all.
    fn publish_request(&mut self) {
        let r = self.r;
        let mut properties = Properties::new();
        if r.client.version == ProtocolVersion::V5 {
            properties = r.client.publish_properties.clone();
            properties.set(
                PropertyId::ResponseTopic,
                PropertyValue::String(r.response_topic.clone()),
            );
            if let Some(c) = &self.correlation {
                properties.set(
                    PropertyId::CorrelationData,
                    PropertyValue::Binary(c.clone()),
                );
            }
        }
        let request = Publish {
            dup: false,
            qos: r.qos,
            retain: false,
            topic: r.topic.clone(),
            packet_id: 0,
            properties,
            payload: self.payload.clone(),
        };
        // Checked by the settings; the window is empty.
        let _ = self.cl.connection().publish(request);
    }

    fn on_message(&mut self, p: &Publish) -> Result<(), Error> {
        let r = self.r;
        if self.done.is_some() || self.sent_at.is_none() || (p.retain && r.no_retain) {
            return Ok(());
        }
        // --correlate: only the response to our request (5.0 §4.10.2).
        if let Some(ours) = &self.correlation
            && p.properties.get_binary(PropertyId::CorrelationData) != Some(ours)
        {
            self.dbg.log(format_args!(
                "ignoring a message without our correlation data on '{}'",
                p.topic
            ));
            return Ok(());
        }
        let rtt = self.sent_at.map(|t| t.elapsed()).unwrap_or_default();
        let msg = Message::from_publish(p, &p.topic, SystemTime::now());
        self.fmt
            .write(&msg, &mut self.out.w, &mut self.diag)
            .map_err(out_err)?;
        if r.latency {
            self.out
                .w
                .write_all(latency_line(rtt).as_bytes())
                .map_err(out_err)?;
        }
        self.out.flush()?;
        self.replies += 1;
        if self.replies >= r.count {
            self.done = Some(Ok(()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_as_mosquitto_rr_prints_it() {
        assert_eq!(latency_line(Duration::new(2, 5)), "Latency: 2.000000005\n");
        assert_eq!(latency_line(Duration::from_nanos(999)), "Latency: 999ns\n");
        assert_eq!(
            latency_line(Duration::from_nanos(1500)),
            "Latency: 1.500000µs\n"
        );
        assert_eq!(
            latency_line(Duration::from_micros(2500)),
            "Latency: 2.500000ms\n"
        );
    }
}
