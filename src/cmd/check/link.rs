//! One probe connection of `mqtk check`: a `client::drive::Client` on the client core,
//! with every wait bounded by the step timeout (`--timeout`) and the events a probe
//! is not waiting for kept in order (messages in `inbox`, acks by packet id) rather
//! than dropped. `Net` is what every connection of a run shares: the prepared
//! endpoint, credentials, `-D connect` properties, the pacing of new connections, and
//! the `Recorder` (a `client::Trace`) that notes the reason code of every packet the
//! broker sends for the report, and logs every packet on stderr with `-d`.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::client::drive::{Client, ConnectFailure, Lost, Next};
use crate::client::{Connection, Dir, Event, Options, PublishError, PublishInfo, Trace};
use crate::cmd::client::debug::PublishSummary;
use crate::codec::reason::connack_v3_description;
use crate::codec::{
    self, ConnAck, Connect, Packet, Properties, PropertyId, PropertyValue, ProtocolVersion,
    Publish, QoS, ReasonCode, SubAck, SubscribeFilter, SubscriptionOptions, Will,
};
use crate::transport::{ConnectError, Prepared};

/// The least time between two new connections: at most 50 a second, so a run never
/// floods a broker (or trips a connection-rate limit) however fast it answers.
pub const PACE: Duration = Duration::from_millis(20);

/// What every connection of a run shares.
pub struct Net {
    pub prepared: Prepared,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    /// `-D connect …`, sent in every v5 CONNECT.
    pub connect_properties: Properties,
    /// `-k`.
    pub keep_alive: u16,
    /// `--timeout`: the bound on each wait.
    pub step: Duration,
    pub debug: bool,
    /// When the last connection was opened (for `PACE`).
    last_open: Cell<Option<Instant>>,
    /// The reason codes the current probe has seen.
    pub codes: Rc<RefCell<Codes>>,
    /// The probe running now, for `-d` lines.
    pub probe: Rc<Cell<&'static str>>,
}

impl Net {
    pub fn new(prepared: Prepared, step: Duration, debug: bool) -> Net {
        Net {
            prepared,
            username: None,
            password: None,
            connect_properties: Properties::new(),
            keep_alive: 60,
            step,
            debug,
            last_open: Cell::new(None),
            codes: Rc::new(RefCell::new(Codes::default())),
            probe: Rc::new(Cell::new("connect")),
        }
    }

    /// Waits until `PACE` has passed since the last connection was opened.
    async fn pace(&self) {
        if let Some(last) = self.last_open.get() {
            tokio::time::sleep_until(last + PACE).await;
        }
        self.last_open.set(Some(Instant::now()));
    }
}

/// How one connection connects.
#[derive(Clone, Debug)]
pub struct Opts {
    pub version: ProtocolVersion,
    pub client_id: String,
    pub clean_start: bool,
    /// v5 Session Expiry Interval (0: the session ends with the connection).
    pub session_expiry: u32,
    pub keep_alive: Option<u16>,
    pub will: Option<Will>,
}

impl Opts {
    /// A clean session that ends with the connection.
    pub fn clean(version: ProtocolVersion, client_id: String) -> Opts {
        Opts {
            version,
            client_id,
            clean_start: true,
            session_expiry: 0,
            keep_alive: None,
            will: None,
        }
    }
}

/// Why a step of a probe did not get what it waited for.
#[derive(Debug)]
pub enum Fail {
    /// Nothing came within the step timeout: what was awaited, and how long.
    Timeout(String),
    /// The transport could not be opened (TCP, proxy, TLS, WebSocket).
    Unreachable(ConnectError),
    /// CONNACK refused the connection.
    Refused(ConnAck, ProtocolVersion),
    /// The connection ended (a DISCONNECT, a close, a malformed packet).
    Lost(Lost),
    /// What we wanted to send cannot be encoded.
    Encode(codec::Error),
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fail::Timeout(what) => write!(f, "no {what}"),
            Fail::Unreachable(e) => write!(f, "{}", e.stderr_line()),
            Fail::Refused(ack, v) => write!(f, "{}", connack_text(ack, *v)),
            Fail::Lost(Lost::Connection(crate::client::Error::Disconnected(d))) => {
                write!(f, "DISCONNECT 0x{:02X} {}", d.reason.0, d.reason)
            }
            Fail::Lost(Lost::Closed) => write!(f, "the broker closed the connection"),
            Fail::Lost(Lost::Io(e)) => write!(f, "{}", crate::exit::strerror(e)),
            Fail::Lost(Lost::Connection(e)) => write!(f, "{e}"),
            Fail::Encode(e) => write!(f, "cannot encode: {e}"),
        }
    }
}

/// "SUBACK within 5 s": what did not come, and how long it was awaited.
pub fn within(what: &str, step: Duration) -> String {
    format!("{what} within {} s", step.as_secs_f64())
}

/// "CONNACK 0x87 Not authorized" (v5) or "CONNACK 5 Connection Refused: not
/// authorised." (3.x).
pub fn connack_text(ack: &ConnAck, v: ProtocolVersion) -> String {
    if v == ProtocolVersion::V5 {
        format!("CONNACK 0x{:02X} {}", ack.code, ReasonCode(ack.code))
    } else {
        format!("CONNACK {} {}", ack.code, connack_v3_description(ack.code))
    }
}

/// A probe's connection.
pub struct Link {
    cl: Client<Publish>,
    pub id: String,
    pub version: ProtocolVersion,
    step: Duration,
    inbox: VecDeque<Publish>,
    acks: HashMap<u16, ReasonCode>,
    subacks: HashMap<u16, SubAck>,
    unsubacks: HashMap<u16, ()>,
}

impl Link {
    /// Opens a connection (paced) and waits for CONNACK.
    pub async fn open(net: &Net, o: &Opts) -> Result<(Link, ConnAck), Fail> {
        net.pace().await;
        let now = Instant::now().into_std();
        let mut conn = Connection::new(Options::new(o.version), now);
        conn.set_trace(Box::new(Recorder {
            codes: Rc::clone(&net.codes),
            probe: net.debug.then(|| Rc::clone(&net.probe)),
            id: o.client_id.clone(),
            version: o.version,
        }));
        let mut link = Link {
            cl: Client::new(conn),
            id: o.client_id.clone(),
            version: o.version,
            step: net.step,
            inbox: VecDeque::new(),
            acks: HashMap::new(),
            subacks: HashMap::new(),
            unsubacks: HashMap::new(),
        };
        let connect = connect_packet(net, o);
        let mut prepared = net.prepared.clone();
        prepared.connect_timeout = net.step;
        let connected = tokio::time::timeout(net.step, link.cl.connect(&prepared, &connect)).await;
        match connected {
            Err(_) => Err(Fail::Timeout(within("CONNACK", net.step))),
            Ok(Ok(ack)) => Ok((link, ack)),
            Ok(Err(ConnectFailure::Transport(ConnectError::Timeout(_)))) => {
                Err(Fail::Timeout(within("connection", net.step)))
            }
            Ok(Err(ConnectFailure::Transport(e))) => Err(Fail::Unreachable(e)),
            Ok(Err(ConnectFailure::Refused(ack))) => Err(Fail::Refused(ack, o.version)),
            Ok(Err(ConnectFailure::Lost(e))) => Err(Fail::Lost(e)),
            Ok(Err(ConnectFailure::Encode(e))) => Err(Fail::Encode(e)),
        }
    }

    /// Takes the next event into the buffers, waiting until `deadline` at most.
    async fn pump(&mut self, what: &str, deadline: Instant) -> Result<(), Fail> {
        let next = tokio::time::timeout_at(deadline, self.cl.next())
            .await
            .map_err(|_| Fail::Timeout(within(what, self.step)))?;
        match next.map_err(Fail::Lost)? {
            Next::Event(Event::Message(p)) => self.inbox.push_back(p),
            Next::Event(Event::Delivered(d)) => {
                self.acks.insert(d.packet_id, d.reason);
            }
            Next::Event(Event::SubAck(a)) => {
                self.subacks.insert(a.packet_id, a);
            }
            Next::Event(Event::UnsubAck(a)) => {
                self.unsubacks.insert(a.packet_id, ());
            }
            Next::Event(Event::Connected(_)) | Next::Drained => {}
        }
        Ok(())
    }

    /// Pumps until `take` finds what it wants, for one step timeout at most.
    async fn until<T>(
        &mut self,
        what: &str,
        mut take: impl FnMut(&mut Link) -> Option<T>,
    ) -> Result<T, Fail> {
        let deadline = Instant::now() + self.step;
        loop {
            if let Some(t) = take(self) {
                return Ok(t);
            }
            self.pump(what, deadline).await?;
        }
    }

    /// Subscribes to one filter; the SUBACK's reason code (granted QoS or failure).
    pub async fn subscribe(
        &mut self,
        filter: &str,
        options: SubscriptionOptions,
        properties: Properties,
    ) -> Result<ReasonCode, Fail> {
        let filters = vec![SubscribeFilter {
            filter: filter.to_string(),
            options,
        }];
        let pid = self
            .cl
            .connection()
            .subscribe(filters, properties)
            .map_err(Fail::Encode)?;
        let ack = self.until("SUBACK", |l| l.subacks.remove(&pid)).await?;
        Ok(ack.reasons.first().copied().unwrap_or(ReasonCode(0x80)))
    }

    /// `subscribe` at `qos` with default options and no properties.
    pub async fn sub(&mut self, filter: &str, qos: QoS) -> Result<ReasonCode, Fail> {
        let options = SubscriptionOptions {
            qos,
            ..SubscriptionOptions::default()
        };
        self.subscribe(filter, options, Properties::new()).await
    }

    pub async fn unsubscribe(&mut self, filter: &str) -> Result<(), Fail> {
        let pid = self
            .cl
            .connection()
            .unsubscribe(vec![filter.to_string()], Properties::new())
            .map_err(Fail::Encode)?;
        self.until("UNSUBACK", |l| l.unsubacks.remove(&pid)).await
    }

    /// Publishes and, at QoS 1 and 2, waits for the end of the handshake: its reason
    /// code (at QoS 0, success once queued).
    pub async fn publish(&mut self, p: Publish) -> Result<ReasonCode, Fail> {
        let qos = p.qos;
        let what = match qos {
            QoS::AtMostOnce => "",
            QoS::AtLeastOnce => "PUBACK",
            QoS::ExactlyOnce => "PUBCOMP",
        };
        let pid = match self.cl.connection().publish(p) {
            Ok(pid) => pid,
            Err(PublishError::Encode(e, _)) => return Err(Fail::Encode(e)),
            Err(PublishError::NotConnected(_)) => return Err(Fail::Lost(Lost::Closed)),
            // Probes publish one message at a time; a window of one always has room.
            Err(PublishError::Full(_)) => {
                return Err(Fail::Lost(Lost::Connection(
                    crate::client::Error::Protocol("the in-flight window is full".into()),
                )));
            }
        };
        if qos == QoS::AtMostOnce {
            return Ok(ReasonCode::SUCCESS);
        }
        self.until(what, |l| l.acks.remove(&pid)).await
    }

    /// The first message (in arrival order) that `pred` accepts, leaving the others.
    pub async fn message(
        &mut self,
        what: &str,
        pred: impl Fn(&Publish) -> bool,
    ) -> Result<Publish, Fail> {
        self.until(what, |l| {
            let i = l.inbox.iter().position(&pred)?;
            l.inbox.remove(i)
        })
        .await
    }

    /// The next message, whatever it is.
    pub async fn next_message(&mut self, what: &str) -> Result<Publish, Fail> {
        self.message(what, |_| true).await
    }

    /// Drops the messages received and not yet taken.
    pub fn forget_messages(&mut self) {
        self.inbox.clear();
    }

    /// Ends the connection with DISCONNECT (in v5 with `properties`).
    pub async fn disconnect_with(mut self, properties: Properties) {
        let _ = self
            .cl
            .connection()
            .disconnect(ReasonCode::NORMAL_DISCONNECTION, properties);
        self.cl.close(self.step).await;
    }

    /// Ends the connection with a plain DISCONNECT.
    pub async fn disconnect(self) {
        self.disconnect_with(Properties::new()).await;
    }

    /// Closes the socket without DISCONNECT, as a crashed client would (the broker
    /// publishes the will).
    pub async fn drop_abruptly(mut self) {
        self.cl.close(self.step).await;
    }
}

/// The CONNECT for `o`: the run's credentials and `-D connect` properties (v5), and
/// the session expiry `o` asks for.
fn connect_packet(net: &Net, o: &Opts) -> Connect {
    let mut properties = Properties::new();
    if o.version == ProtocolVersion::V5 {
        properties = net.connect_properties.clone();
        if o.session_expiry > 0 {
            properties.set(
                PropertyId::SessionExpiryInterval,
                PropertyValue::FourByte(o.session_expiry),
            );
        }
    }
    let mut will = o.will.clone();
    if o.version != ProtocolVersion::V5
        && let Some(w) = &mut will
    {
        w.properties = Properties::new();
    }
    Connect {
        version: o.version,
        clean_start: o.clean_start,
        keep_alive: o.keep_alive.unwrap_or(net.keep_alive),
        properties,
        client_id: o.client_id.clone(),
        will,
        username: net.username.clone(),
        password: net.password.clone(),
    }
}

/// The reason codes a probe saw, in order of first appearance, with their counts.
#[derive(Debug, Default)]
pub struct Codes(Vec<(String, u32)>);

impl Codes {
    fn add(&mut self, code: String) {
        match self.0.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => self.0.push((code, 1)),
        }
    }

    /// Takes them out: "SUBACK 0x01", or "PUBACK 0x00 ×16" when repeated.
    pub fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.0)
            .into_iter()
            .map(|(c, n)| if n == 1 { c } else { format!("{c} ×{n}") })
            .collect()
    }
}

/// The `client::Trace` of every probe connection: notes the reason codes of the
/// broker's packets and, with `-d`, logs each packet on stderr (CONNECT by name only:
/// never a password).
struct Recorder {
    codes: Rc<RefCell<Codes>>,
    /// The probe's name, when `-d` logs.
    probe: Option<Rc<Cell<&'static str>>>,
    id: String,
    version: ProtocolVersion,
}

impl Recorder {
    fn log(&self, line: fmt::Arguments<'_>) {
        if let Some(p) = &self.probe {
            crate::cmd::print_err(&format!("{} {}: {line}\n", p.get(), self.id));
        }
    }
}

impl Trace for Recorder {
    fn packet(&mut self, dir: Dir, p: &Packet) {
        if dir == Dir::Received {
            for code in reason_codes(p, self.version) {
                self.codes.borrow_mut().add(code);
            }
        }
        let verb = match dir {
            Dir::Sent => "sent",
            Dir::Received => "received",
        };
        match p {
            Packet::Publish(m) => {
                let s = PublishSummary {
                    dup: m.dup,
                    qos: m.qos,
                    retain: m.retain,
                    mid: m.packet_id,
                    topic: &m.topic,
                    len: m.payload.len(),
                };
                self.log(format_args!("{verb} {s}"));
            }
            other => self.log(format_args!("{verb} {}", other.name())),
        }
    }

    fn publish(&mut self, i: &PublishInfo<'_>) {
        let s = PublishSummary {
            dup: i.dup,
            qos: i.qos,
            retain: i.retain,
            mid: i.packet_id,
            topic: i.topic,
            len: i.payload_len,
        };
        self.log(format_args!("sent {s}"));
    }
}

/// The reason codes a packet from the broker carries, as the report shows them.
fn reason_codes(p: &Packet, v: ProtocolVersion) -> Vec<String> {
    let hex = |name: &str, rc: ReasonCode| format!("{name} 0x{:02X}", rc.0);
    match p {
        Packet::ConnAck(a) if v == ProtocolVersion::V5 => vec![hex("CONNACK", ReasonCode(a.code))],
        Packet::ConnAck(a) => vec![format!("CONNACK {}", a.code)],
        Packet::SubAck(a) => a.reasons.iter().map(|r| hex("SUBACK", *r)).collect(),
        Packet::UnsubAck(a) if v == ProtocolVersion::V5 => {
            a.reasons.iter().map(|r| hex("UNSUBACK", *r)).collect()
        }
        Packet::PubAck(a) => vec![hex("PUBACK", a.reason)],
        Packet::PubRec(a) => vec![hex("PUBREC", a.reason)],
        Packet::PubComp(a) => vec![hex("PUBCOMP", a.reason)],
        Packet::Disconnect(d) => vec![hex("DISCONNECT", d.reason)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Disconnect, PubAck};

    #[test]
    fn codes_are_counted_in_order_of_first_appearance() {
        let mut c = Codes::default();
        for code in [
            "CONNACK 0x00",
            "PUBACK 0x00",
            "CONNACK 0x00",
            "CONNACK 0x00",
        ] {
            c.add(code.into());
        }
        assert_eq!(c.take(), ["CONNACK 0x00 ×3", "PUBACK 0x00"]);
        assert!(c.take().is_empty());
    }

    #[test]
    fn reason_codes_by_version() {
        let ack = Packet::ConnAck(ConnAck {
            session_present: false,
            code: 5,
            properties: Properties::new(),
        });
        assert_eq!(reason_codes(&ack, ProtocolVersion::V311), ["CONNACK 5"]);
        assert_eq!(reason_codes(&ack, ProtocolVersion::V5), ["CONNACK 0x05"]);
        let d = Packet::Disconnect(Disconnect {
            reason: ReasonCode::QOS_NOT_SUPPORTED,
            properties: Properties::new(),
        });
        assert_eq!(reason_codes(&d, ProtocolVersion::V5), ["DISCONNECT 0x9B"]);
        let a = Packet::PubAck(PubAck {
            packet_id: 1,
            reason: ReasonCode::NO_MATCHING_SUBSCRIBERS,
            properties: Properties::new(),
        });
        assert_eq!(reason_codes(&a, ProtocolVersion::V5), ["PUBACK 0x10"]);
        assert!(reason_codes(&Packet::PingResp, ProtocolVersion::V5).is_empty());
    }

    #[test]
    fn failures_read_as_reasons() {
        let ack = ConnAck {
            session_present: false,
            code: 0x87,
            properties: Properties::new(),
        };
        assert_eq!(
            Fail::Refused(ack, ProtocolVersion::V5).to_string(),
            "CONNACK 0x87 Not authorized"
        );
        assert_eq!(
            Fail::Timeout(within("SUBACK", Duration::from_millis(500))).to_string(),
            "no SUBACK within 0.5 s"
        );
        assert_eq!(
            Fail::Lost(Lost::Closed).to_string(),
            "the broker closed the connection"
        );
    }
}
