//! `mqtk pub`: mosquitto_pub on the client core. It queues messages from its source
//! while the in-flight window has room, lets the driver write and read, and finishes
//! when everything is sent and (QoS 1/2) acknowledged. A lost connection is
//! reconnected (10 attempts, backoff) and the core resends what was unacknowledged,
//! so it exits 0 only when every message was confirmed.
//!
//! Performance: one current-thread runtime; messages share one pre-encoded
//! `PublishTemplate` (no allocation per QoS 0 message); the write buffer is filled to
//! `HIGH_WATER` before each wait and refilled when the driver reports it drained;
//! stdin is read in large chunks.
//!
//! `--encode` (mqtk): each message is JSON, encoded before it is queued. A bad `-m`,
//! `-f` or `-s` message is an error before connecting; a bad `-l` line is reported,
//! skipped, and makes the exit status 1 once the good lines are published.

mod source;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::cli::r#pub::PubArgs;
use crate::client::drive::{Backoff, Client, ConnectFailure, Next};
use crate::client::{Event, Options, PublishError, Templated};
use crate::cmd::client::stdout::sleep_until_opt;
use crate::cmd::client::{self, Debug, quieted, words};
use crate::codec::{
    self, ConnAck, Connect, PropertyContext, PropertyId, ProtocolVersion, PublishTemplate, QoS,
    ReasonCode,
};
use crate::exit::{self, Error};
use crate::payload::Encoder;
use crate::settings::props::{PropertyProblem, check_all};
use crate::settings::{self, BOTH_TOPIC_AND_MESSAGE, ClientSettings, PubSettings};
use crate::transport::Prepared;
use source::{Next as Input, Source};

/// Largest remaining length (5.0 §1.5.5).
const MAX_REMAINING: usize = codec::MAX_REMAINING_LENGTH;
/// Stop queueing messages once this much is waiting to be written.
const HIGH_WATER: usize = 64 * 1024;
/// Reconnection after a lost connection: attempts and backoff.
const RECONNECT: Backoff = Backoff {
    attempts: Some(10),
    first: Duration::from_millis(100),
    max: Duration::from_secs(2),
};
/// Window when neither `-M` nor a v5 Receive Maximum says otherwise. MQTT 3.1/3.1.1
/// have no flow control, so the packet-id space is the limit; `INFLIGHT_BYTES` keeps
/// memory bounded. A wide window lets each write carry many messages and each read
/// many acks, which is what makes QoS 1 cheap (mosquitto_pub's 20 costs a TCP segment
/// per few messages).
const DEFAULT_WINDOW: u16 = u16::MAX;
/// Windows at least this wide refill at half (see `fill`).
const HYSTERESIS_MIN_WINDOW: u16 = 256;
/// Payload bytes that may be unacknowledged at once, whatever the window.
const INFLIGHT_BYTES: usize = 1024 * 1024;
/// How long to let acks accumulate while a wide window is full (see `pump`).
const ACK_COALESCE: Duration = Duration::from_micros(1000);
/// How long a closing connection may take to write its DISCONNECT.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

pub fn run(args: PubArgs) -> Result<u8, Error> {
    let tool = super::client_tool("pub");
    if args.conn.version {
        super::print_client_version(&tool, "3.1/3.1.1/5.0");
        return Ok(crate::exit::help_exit_code(&tool));
    }
    let settings = match settings::resolve_pub(&args, &tool) {
        Ok(s) => s,
        Err(e) if e.message() == BOTH_TOPIC_AND_MESSAGE => return Err(nothing_to_send(&tool)),
        Err(e) => return Err(e),
    };
    super::block_on(publish(&settings))
}

/// No topic or no message. As `mosquitto_pub`, 2.1's stderr line and then the usage
/// on stdout (ours: what `--help` prints), exit 1; as `mqtk pub`, the line and a
/// pointer to `--help`, as for any other usage error.
fn nothing_to_send(tool: &str) -> Error {
    if !tool.starts_with("mosquitto_") {
        return settings::usage(BOTH_TOPIC_AND_MESSAGE, tool);
    }
    super::print_err(BOTH_TOPIC_AND_MESSAGE);
    use clap::Parser;
    if let Err(help) = crate::cli::Cli::try_parse_from(["mqtk", "pub", "--help"]) {
        super::print_out(&help.render().to_string());
    }
    Error::Silent(exit::FAILURE)
}

/// Publishes as mosquitto_pub does and returns the exit status.
pub async fn publish(p: &PubSettings) -> Result<u8, Error> {
    let source = Source::open(p)?;
    let encoder = encoder(p, &source)?;
    let c = &p.client;
    let prepared = client::prepare(c)?;
    let v5 = c.version == ProtocolVersion::V5;
    if let Err(problem) = check_all(PropertyContext::Publish, &c.publish_properties, v5) {
        return refuse_publish(p, source, &prepared, problem).await;
    }
    let template =
        PublishTemplate::new(&p.topic, p.qos, p.retain, &c.publish_properties, c.version)
            .map_err(|e| Error::Failed(format!("invalid publish properties: {e}")))?;
    let alias = c
        .publish_properties
        .get_int(PropertyId::TopicAlias)
        .filter(|_| v5)
        .map(|a| a as u16);
    let dbg = Debug::new(c.debug, &c.client_id);
    let mut opts = Options::new(c.version);
    opts.max_inflight = c.max_inflight.unwrap_or(DEFAULT_WINDOW);
    opts.max_inflight_bytes = INFLIGHT_BYTES;
    let mut publisher = Publisher {
        p,
        prepared,
        connect: client::connect_packet(c, c.clean_start),
        client: client::new_client(opts, &dbg),
        template: Arc::new(template),
        alias,
        source,
        failed: 0,
        refill_at_half: false,
        encoder,
        lines: 0,
        bad_lines: 0,
    };
    publisher.client.set_low_water(Some(HIGH_WATER));
    publisher.run().await
}

/// The publisher: everything that lives across reconnections.
struct Publisher<'a> {
    p: &'a PubSettings,
    prepared: Prepared,
    connect: Connect,
    client: Client<Templated>,
    template: Arc<PublishTemplate>,
    /// `-D publish topic-alias N` (v5).
    alias: Option<u16>,
    source: Source,
    /// QoS 1/2 messages the broker refused (reason ≥ 0x80).
    failed: u64,
    /// A wide window filled up: wait until half of it is free before refilling.
    refill_at_half: bool,
    /// `--encode`.
    encoder: Option<Encoder>,
    /// `-l` lines read so far, to name a bad one.
    lines: u64,
    /// `-l` lines `--encode` refused (reported, not published).
    bad_lines: u64,
}

/// How a connection's pump ended.
enum PumpEnd {
    /// Everything sent and acknowledged.
    Done,
    /// The connection broke: reconnect (or stop, if nothing is left to confirm).
    Lost,
}

/// What `fill` stopped at.
struct Stop {
    need_input: bool,
    wait_until: Option<Instant>,
}

impl Publisher<'_> {
    fn client_settings(&self) -> &ClientSettings {
        &self.p.client
    }

    fn quiet(&self) -> bool {
        self.p.client.quiet
    }

    async fn run(&mut self) -> Result<u8, Error> {
        client::connect(
            &mut self.client,
            &self.p.client,
            &self.prepared,
            &self.connect,
        )
        .await?;
        loop {
            match self.pump().await? {
                PumpEnd::Done => {
                    self.disconnect().await;
                    return self.finish();
                }
                PumpEnd::Lost => {
                    let conn = self.client.connection();
                    if conn.in_flight() == 0 && self.source.exhausted() {
                        // Everything was handed to the socket; QoS 0 promises no more.
                        return self.finish();
                    }
                    self.reconnect().await?;
                }
            }
        }
    }

    async fn disconnect(&mut self) {
        queue_disconnect(&mut self.client, &self.p.client);
        self.client.close(CLOSE_LIMIT).await;
    }

    /// Reconnects with backoff after a lost connection; gives up after the attempts,
    /// reporting what was not confirmed.
    async fn reconnect(&mut self) -> Result<ConnAck, Error> {
        let c = self.client_settings();
        let version = c.version;
        let quiet = c.quiet;
        let failure = match self
            .client
            .reconnect(&self.prepared, &self.connect, &RECONNECT)
            .await
        {
            Ok(ack) => return Ok(ack),
            Err(ConnectFailure::Refused(ack)) => {
                return Err(words::refusal(version, ack.code, quiet));
            }
            Err(e) => e,
        };
        // mosquitto_pub 2.1 ends on the loss itself (exit 7, its words first); mqtk
        // tried again, and says how that went.
        if quiet {
            return Err(Error::Silent(exit::MOSQ_ERR_CONN_LOST));
        }
        let last = words::connect_failure(&failure, version, false).message();
        let last: Vec<&str> = last
            .lines()
            .map(|l| l.trim_start_matches("Error: ").trim_end_matches('.'))
            .collect();
        let mut text = format!(
            "Error: The connection was lost\nError: It could not be re-established ({}).\n",
            last.join(": ")
        );
        let unconfirmed = self.client.connection().in_flight();
        if unconfirmed > 0 {
            text.push_str(&format!(
                "Error: {unconfirmed} message(s) were not confirmed by the broker.\n"
            ));
        }
        Err(Error::Verbatim {
            text,
            code: exit::MOSQ_ERR_CONN_LOST,
        })
    }

    fn finish(&self) -> Result<u8, Error> {
        if self.failed == 0 && self.bad_lines == 0 {
            return Ok(exit::OK);
        }
        if self.quiet() {
            return Err(Error::Silent(exit::FAILURE));
        }
        let mut text = String::new();
        if self.bad_lines > 0 {
            let name = self.encoder.as_ref().map_or("", |e| e.name());
            text.push_str(&format!(
                "Error: {} line(s) could not be encoded as {name} and were not published.\n",
                self.bad_lines
            ));
        }
        if self.failed > 0 {
            text.push_str(&format!(
                "Error: {} message(s) were refused by the broker.\n",
                self.failed
            ));
        }
        Err(Error::Verbatim {
            text,
            code: exit::FAILURE,
        })
    }

    /// `--encode`s a message; `None` for a `-l` line it refused (reported here).
    fn encode(&mut self, json: bytes::Bytes) -> Option<bytes::Bytes> {
        let Some(enc) = &mut self.encoder else {
            return Some(json);
        };
        let is_line = self.source.is_lines();
        self.lines += u64::from(is_line);
        match enc.encode(&json, now_ms()) {
            Ok(b) => Some(b.into()),
            Err(why) => {
                // Only lines get here: a fixed message was checked before connecting.
                self.bad_lines += 1;
                if !self.p.client.quiet {
                    crate::cmd::print_err(&format!(
                        "Error: line {}: cannot encode as {}: {why}\n",
                        self.lines,
                        enc.name()
                    ));
                }
                None
            }
        }
    }

    /// Runs one connection until everything is done or the connection is lost.
    async fn pump(&mut self) -> Result<PumpEnd, Error> {
        loop {
            let stop = self.fill()?;
            let conn = self.client.connection();
            if conn.pending().is_empty() && conn.in_flight() == 0 && self.source.exhausted() {
                return Ok(PumpEnd::Done);
            }
            let read_input = stop.need_input && conn.pending().len() < HIGH_WATER;
            tokio::select! {
                r = self.client.next() => match r {
                    Ok(Next::Event(ev)) => self.on_event(ev),
                    Ok(Next::Drained) => {}
                    Err(_) => return Ok(PumpEnd::Lost),
                },
                r = self.source.read_chunk(), if read_input => {
                    if let Err(e) = r {
                        let text = format!("Error: Unable to read from stdin: {}.\n", exit::strerror(&e));
                        return Err(quieted(self.quiet(), settings::plain(text)));
                    }
                }
                _ = sleep_until_opt(stop.wait_until) => {}
            }
            // Acks come many per read: take the ones already buffered before refilling.
            while let Some(r) = self.client.next_buffered() {
                match r {
                    Ok(Next::Event(ev)) => self.on_event(ev),
                    Ok(Next::Drained) => {}
                    Err(_) => return Ok(PumpEnd::Lost),
                }
            }
            // A full wide window keeps the broker busy for a while: let its acks pile
            // up before the next wakeup instead of taking them a dozen at a time (each
            // wakeup costs a few syscalls, which were most of the CPU per message).
            if self.refill_at_half {
                std::thread::sleep(ACK_COALESCE);
            }
        }
    }

    fn on_event(&mut self, ev: Event<Templated>) {
        // Messages a persistent session holds for us were acknowledged by the core;
        // we never subscribe, so there is nothing to print.
        if let Event::Delivered(d) = ev
            && !d.succeeded()
        {
            self.failed += 1;
            if !self.quiet() {
                let mut text = format!("Warning: Publish {} failed: {}.\n", d.packet_id, d.reason);
                if let Some(s) = d.properties.get_str(PropertyId::ReasonString) {
                    text.push_str(s);
                    text.push('\n');
                }
                super::print_err(&text);
            }
        }
    }

    /// Queues messages until the write buffer is full, the window is, or the source
    /// has nothing right now.
    fn fill(&mut self) -> Result<Stop, Error> {
        let mut stop = Stop {
            need_input: false,
            wait_until: None,
        };
        loop {
            if self.client.connection().pending().len() >= HIGH_WATER || !self.window_open() {
                return Ok(stop);
            }
            match self.source.next(Instant::now()) {
                Input::Message(payload) => {
                    if let Some(payload) = self.encode(payload) {
                        self.queue(payload)?;
                    }
                }
                Input::NeedInput => {
                    stop.need_input = true;
                    return Ok(stop);
                }
                Input::WaitUntil(t) => {
                    stop.wait_until = Some(t);
                    return Ok(stop);
                }
                Input::Exhausted => return Ok(stop),
            }
        }
    }

    /// Whether a QoS 1/2 message may be queued now. Once a wide window filled up, wait
    /// until half of it is free: each write then carries many messages and each
    /// wakeup reads many acks, instead of a TCP segment per ack. (Not for narrow
    /// windows: there the broker's Nagle would hold its last acks until our delayed
    /// TCP ACK, 40 ms later.)
    fn window_open(&mut self) -> bool {
        if self.p.qos == QoS::AtMostOnce {
            return true;
        }
        let conn = self.client.connection();
        if !conn.has_room() {
            self.refill_at_half = conn.window() >= HYSTERESIS_MIN_WINDOW;
            return false;
        }
        if self.refill_at_half {
            if conn.in_flight() > usize::from(conn.window() / 2)
                || conn.in_flight_bytes() > INFLIGHT_BYTES / 2
            {
                return false;
            }
            self.refill_at_half = false;
        }
        true
    }

    fn queue(&mut self, payload: bytes::Bytes) -> Result<(), Error> {
        let msg = Templated {
            template: self.template.clone(),
            alias: self.alias,
            payload,
        };
        match self.client.connection().publish(msg) {
            Ok(_) => Ok(()),
            Err(PublishError::Encode(codec::Error::PacketTooLarge { .. }, m)) => {
                Err(Error::Verbatim {
                    text: format!(
                        "Error: Message payload is too large: {} bytes with this topic exceed the MQTT limit of {MAX_REMAINING} bytes per packet.\n",
                        m.payload.len()
                    ),
                    code: exit::FAILURE,
                })
            }
            Err(PublishError::Encode(e, _)) => Err(Error::Failed(format!("PUBLISH: {e}"))),
            // The window was checked, and a connection is up while pumping.
            Err(PublishError::Full(_) | PublishError::NotConnected(_)) => Ok(()),
        }
    }
}

/// Milliseconds since the epoch: Sparkplug's timestamp for a message without one.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The `--encode` encoder, after checking that a fixed message (`-m`, `-f`, `-s`)
/// encodes: mosquitto_pub reports a bad message before connecting, and so do we.
fn encoder(p: &PubSettings, source: &Source) -> Result<Option<Encoder>, Error> {
    let Some(codec) = &p.encode else {
        return Ok(None);
    };
    let enc = Encoder::new(codec.clone()).map_err(Error::Failed)?;
    if let Some(json) = source.fixed_payload() {
        // A trial on a copy, so Sparkplug's first seq stays 0.
        enc.clone().encode(json, now_ms()).map_err(|why| {
            crate::cmd::client::quieted(
                p.client.quiet,
                Error::Failed(format!(
                    "cannot encode the message as {}: {why}",
                    enc.name()
                )),
            )
        })?;
    }
    Ok(Some(enc))
}

/// `-D publish` properties that cannot be sent. mosquitto_pub 2.1 finds out only when
/// it publishes, after CONNACK, and mqtk does what it then does: with `-l`, the first
/// line's publish fails and it leaves with that error (libmosquitto's number as the
/// exit status; input without a line is no error); otherwise it disconnects without
/// publishing and reports the connection lost (exit status 7).
async fn refuse_publish(
    p: &PubSettings,
    mut source: Source,
    prepared: &Prepared,
    problem: PropertyProblem,
) -> Result<u8, Error> {
    let c = &p.client;
    let dbg = Debug::new(c.debug, &c.client_id);
    let mut client: Client<Templated> = client::new_client(Options::new(c.version), &dbg);
    let connect = client::connect_packet(c, c.clean_start);
    client::connect(&mut client, c, prepared, &connect).await?;
    let (text, code) = if source.is_lines() {
        match source.first_line().await {
            None => {
                queue_disconnect(&mut client, c);
                client.close(CLOSE_LIMIT).await;
                return Ok(exit::OK);
            }
            Some(terminated) => {
                // mosquitto_pub ignores a failed QoS 0 publish of a last, unterminated
                // line and disconnects before it returns the error.
                if !terminated && p.qos == QoS::AtMostOnce {
                    queue_disconnect(&mut client, c);
                }
                (format!("Error: {}\n", problem.strerror()), problem.code())
            }
        }
    } else {
        queue_disconnect(&mut client, c);
        let head = match problem {
            PropertyProblem::Protocol => "Error: Protocol error when communicating with broker.\n",
            _ => "",
        };
        (
            format!("{head}Error: The connection was lost\n"),
            exit::MOSQ_ERR_CONN_LOST,
        )
    };
    client.close(CLOSE_LIMIT).await;
    Err(quieted(c.quiet, Error::Verbatim { text, code }))
}

/// Queues DISCONNECT with the `-D disconnect` properties, unless libmosquitto would
/// refuse them (then nothing is sent, as mosquitto_disconnect_v5 sends nothing).
fn queue_disconnect(client: &mut Client<Templated>, c: &ClientSettings) {
    let v5 = c.version == ProtocolVersion::V5;
    if check_all(PropertyContext::Disconnect, &c.disconnect_properties, v5).is_ok() {
        let _ = client.connection().disconnect(
            ReasonCode::NORMAL_DISCONNECTION,
            c.disconnect_properties.clone(),
        );
    }
}
