//! The tokio loop around `session::State`: stream ⇄ codec ⇄ state. Connecting
//! (CONNECT/CONNACK in mosquitto's words), the publisher loop of `mqtk pub`
//! (streaming sources, pipelined and batched writes, QoS 1/2 handshakes, reconnect and
//! resend), and the `-d` debug lines in mosquitto's exact format.
//!
//! Performance notes: one current-thread runtime; PUBLISH headers are encoded straight
//! into one write buffer from pre-encoded topic and property blocks (no per-message
//! allocation for QoS 0); stdin is read in large chunks and split here; a large `-f`
//! file is copied to the socket in chunks, never loaded whole.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::time::Instant;

use crate::codec::reason::connack_v3_description;
use crate::codec::wire;
use crate::codec::{
    self, ConnAck, Connect, Disconnect, Packet, Properties, PropertyContext, PropertyId,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, QoS, ReasonCode,
};
use crate::exit::{self, Error};
use crate::session::state::{PubRecOutcome, Resend, State, Tick};
use crate::settings::props::{PropertyProblem, check_all};
use crate::settings::{ClientSettings, MessageSource, PubSettings};
use crate::transport::{BoxedStream, ConnectError, Prepared};

/// Largest remaining length (5.0 §1.5.5).
const MAX_REMAINING: usize = codec::MAX_REMAINING_LENGTH;
/// Stop encoding more messages once this much is waiting to be written.
const HIGH_WATER: usize = 64 * 1024;
/// How much stdin or file data to read at once.
const CHUNK: usize = 64 * 1024;
/// Files up to this size are read whole (one read, no re-reading on resend).
const SMALL_FILE: u64 = 1024 * 1024;
/// Reconnection attempts after a lost connection, and their backoff.
const RECONNECT_ATTEMPTS: u32 = 10;
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Window when neither `-M` nor a v5 Receive Maximum says otherwise. MQTT 3.1/3.1.1
/// have no flow control, so the packet-id space is the limit; `INFLIGHT_BYTES` keeps
/// memory bounded. A wide window lets each write carry many messages and each read
/// many acks, which is what makes QoS 1 cheap (mosquitto_pub's 20 costs a TCP segment
/// per few messages).
const DEFAULT_WINDOW: u16 = u16::MAX;
/// Windows at least this wide refill at half (see `pump`).
const HYSTERESIS_MIN_WINDOW: u16 = 256;
/// Payload bytes that may be unacknowledged at once, whatever the window.
const INFLIGHT_BYTES: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------
// Debug lines (-d)

/// mosquitto's `-d` lines on stdout: "Client <id> sending CONNECT". The id is
/// "(null)" until known, as libmosquitto prints it. Passwords are never printed.
pub struct Debug {
    on: bool,
    id: String,
}

impl Debug {
    pub fn new(on: bool, client_id: &str) -> Debug {
        Debug {
            on,
            id: if client_id.is_empty() {
                "(null)".into()
            } else {
                client_id.into()
            },
        }
    }

    pub fn enabled(&self) -> bool {
        self.on
    }

    pub fn set_id(&mut self, id: &str) {
        self.id = id.to_string();
    }

    /// Prints "Client <id> <what>" when debugging is on.
    pub fn log(&self, what: std::fmt::Arguments<'_>) {
        if self.on {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "Client {} {}", self.id, what);
        }
    }
}

/// mosquitto's summary of a PUBLISH in `-d` lines, after "sending"/"received PUBLISH":
/// "(d0, q1, r0, m3, 'a/b', ... (5 bytes))". The one place that format lives.
pub struct PublishSummary<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// The packet id; for QoS 0, libmosquitto's own message number.
    pub mid: u16,
    pub topic: &'a str,
    pub len: usize,
}

impl<'a> PublishSummary<'a> {
    pub fn of(p: &'a codec::Publish) -> PublishSummary<'a> {
        PublishSummary {
            dup: p.dup,
            qos: p.qos,
            retain: p.retain,
            mid: p.packet_id,
            topic: &p.topic,
            len: p.payload.len(),
        }
    }
}

impl std::fmt::Display for PublishSummary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            u8::from(self.dup),
            self.qos as u8,
            u8::from(self.retain),
            self.mid,
            self.topic,
            self.len
        )
    }
}

// ---------------------------------------------------------------------------------
// Connecting

/// `-q`: the error keeps its exit status but loses its words.
pub fn quieted(quiet: bool, e: Error) -> Error {
    if quiet {
        Error::Silent(e.exit_code())
    } else {
        e
    }
}

/// mosquitto's words for a connection that could not be made (exit status 1).
pub fn connect_error(e: &ConnectError, quiet: bool) -> Error {
    quieted(
        quiet,
        Error::Verbatim {
            text: format!("{}\n", e.stderr_line()),
            code: exit::FAILURE,
        },
    )
}

/// Checks the endpoint and loads what it needs (certificates) once, before connecting,
/// and the `-D will`/`-D connect` properties where mosquitto 2.1 checks them: the will
/// as it is set (before TLS), the CONNECT ones as it starts to connect.
pub fn prepare(s: &ClientSettings) -> Result<Prepared, Error> {
    let v5 = s.version == ProtocolVersion::V5;
    let failed = |text: String| quieted(s.quiet, crate::settings::plain(text));
    if let Some(w) = &s.will
        && check_all(PropertyContext::Will, &w.properties, v5).is_err()
    {
        return Err(failed("Error: Problem setting will.\n".into()));
    }
    let prepared =
        crate::transport::prepare(&s.endpoint).map_err(|e| connect_error(&e, s.quiet))?;
    if let Err(p) = check_all(PropertyContext::Connect, &s.connect_properties, v5) {
        return Err(failed(format!("Unable to connect ({}).\n", p.strerror())));
    }
    Ok(prepared)
}

/// A live MQTT connection: the two halves of the stream and the receive buffer.
pub struct Session {
    rd: ReadHalf<BoxedStream>,
    wr: WriteHalf<BoxedStream>,
    rbuf: BytesMut,
    pub version: ProtocolVersion,
}

impl Session {
    /// The next packet, reading as needed. `Ok(None)`: the broker closed the stream.
    pub async fn read_packet(&mut self) -> Result<Option<Packet>, LinkError> {
        loop {
            if let Some(p) = codec::decode(&mut self.rbuf, self.version, usize::MAX)
                .map_err(|e| LinkError::Protocol(e.to_string()))?
            {
                return Ok(Some(p));
            }
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(CHUNK);
            }
            let n = self
                .rd
                .read_buf(&mut self.rbuf)
                .await
                .map_err(LinkError::Io)?;
            if n == 0 {
                return Ok(None);
            }
        }
    }

    /// Encodes and writes one packet.
    pub async fn send(&mut self, p: &Packet) -> Result<(), LinkError> {
        let mut out = BytesMut::new();
        codec::encode(p, self.version, &mut out).map_err(|e| LinkError::Protocol(e.to_string()))?;
        self.wr.write_all(&out).await.map_err(LinkError::Io)?;
        self.wr.flush().await.map_err(LinkError::Io)
    }

    /// Closes our side cleanly after everything written has been flushed.
    pub async fn close(&mut self) {
        let _ = self.wr.flush().await;
        let _ = self.wr.shutdown().await;
    }
}

/// Why a connection stopped working.
#[derive(Debug)]
pub enum LinkError {
    Io(std::io::Error),
    Closed,
    Protocol(String),
    KeepaliveTimeout,
    /// v5: the broker sent DISCONNECT with this reason.
    ServerDisconnect(ReasonCode),
}

/// Connecting failed: `Refused` is final; `Failed` may be retried when reconnecting.
pub enum EstablishError {
    Refused(Error),
    Failed(Error),
}

impl From<EstablishError> for Error {
    fn from(e: EstablishError) -> Error {
        match e {
            EstablishError::Refused(e) | EstablishError::Failed(e) => e,
        }
    }
}

/// mosquitto's words for a refused CONNACK; the exit status is the code.
pub fn refusal(version: ProtocolVersion, code: u8, quiet: bool) -> Error {
    let text = if version == ProtocolVersion::V5 {
        let rc = ReasonCode(code);
        if rc == ReasonCode::UNSUPPORTED_PROTOCOL_VERSION {
            format!(
                "Connection error: {rc}. Try connecting to an MQTT v5 broker, or use MQTT v3.x mode.\n"
            )
        } else {
            format!(
                "Connection error: {rc}\nError: A network protocol error occurred when communicating with the broker.\n"
            )
        }
    } else {
        format!(
            "Connection error: {}\nError: The connection was refused.\n",
            connack_v3_description(code)
        )
    };
    quieted(quiet, Error::Refused { text, code })
}

/// Connects, sends CONNECT and waits for CONNACK (3.1.1 §3.1, 5.0 §3.1).
pub async fn establish(
    s: &ClientSettings,
    prepared: &Prepared,
    dbg: &mut Debug,
    clean_start: bool,
) -> Result<(Session, ConnAck), EstablishError> {
    let stream = crate::transport::open(prepared)
        .await
        .map_err(|e| EstablishError::Failed(connect_error(&e, s.quiet)))?;
    let (rd, wr) = tokio::io::split(stream);
    let mut session = Session {
        rd,
        wr,
        rbuf: BytesMut::with_capacity(CHUNK),
        version: s.version,
    };
    let mut properties = s.connect_properties.clone();
    // libmosquitto (send_connect.c) always tells a v5 broker its Receive Maximum, 20
    // unless `-D connect receive-maximum` gives one; the same bytes as mosquitto's tools.
    if s.version == ProtocolVersion::V5 && properties.get(PropertyId::ReceiveMaximum).is_none() {
        properties.push(
            PropertyId::ReceiveMaximum,
            codec::PropertyValue::TwoByte(20),
        );
    }
    let connect = Connect {
        version: s.version,
        clean_start,
        keep_alive: s.keep_alive,
        properties,
        client_id: s.client_id.clone(),
        will: s.will.clone(),
        username: s.username.clone(),
        password: s.password.clone(),
    };
    dbg.log(format_args!("sending CONNECT"));
    let lost = |what: String| {
        EstablishError::Failed(quieted(
            s.quiet,
            Error::Verbatim {
                text: format!("Error: {what}\n"),
                code: exit::FAILURE,
            },
        ))
    };
    session
        .send(&Packet::Connect(connect))
        .await
        .map_err(|e| lost(link_text(&e)))?;
    let packet = match session.read_packet().await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(lost("The connection was lost.".into())),
        Err(e) => return Err(lost(link_text(&e))),
    };
    let Packet::ConnAck(ack) = packet else {
        return Err(lost(
            "A network protocol error occurred when communicating with the broker.".into(),
        ));
    };
    if let Some(id) = ack.properties.get_str(PropertyId::AssignedClientIdentifier) {
        dbg.set_id(id);
    }
    dbg.log(format_args!("received CONNACK ({})", ack.code));
    if ack.code != 0 {
        return Err(EstablishError::Refused(refusal(
            s.version, ack.code, s.quiet,
        )));
    }
    Ok((session, ack))
}

fn link_text(e: &LinkError) -> String {
    match e {
        LinkError::Io(e) => crate::exit::strerror(e),
        LinkError::Closed => "The connection was lost.".into(),
        LinkError::Protocol(_) => {
            "A network protocol error occurred when communicating with the broker.".into()
        }
        LinkError::KeepaliveTimeout => "The connection was lost (keepalive timeout).".into(),
        LinkError::ServerDisconnect(rc) => format!("The broker disconnected: {rc}."),
    }
}

// ---------------------------------------------------------------------------------
// The publisher

/// A message body: in memory, or a file to stream (and re-read on resend).
#[derive(Clone, Debug)]
pub enum Payload {
    Bytes(Bytes),
    File(Arc<FileBody>),
}

#[derive(Debug)]
pub struct FileBody {
    pub path: PathBuf,
    pub len: u64,
}

impl Payload {
    fn len(&self) -> usize {
        match self {
            Payload::Bytes(b) => b.len(),
            // Checked against MAX_REMAINING when the file was opened.
            Payload::File(f) => f.len as usize,
        }
    }
}

/// Where the publisher's messages come from, read lazily.
pub enum Source {
    /// `-m`, `-n`, `-f`, `-s`: one payload, `left` more times, `delay` apart.
    Fixed {
        payload: Payload,
        left: u32,
        delay: Duration,
        next_at: Option<Instant>,
    },
    /// `-l`: lines of `reader`, split here.
    Lines {
        reader: Box<dyn AsyncRead + Unpin + Send>,
        buf: BytesMut,
        /// Bytes at the front of `buf` already searched for a newline, so a long line
        /// arriving in many reads is scanned once, not once per read.
        scanned: usize,
        eof: bool,
    },
}

/// `-f FILE`, opened and checked as mosquitto 2.1's `load_file` (pub_shared.c, shared
/// by mosquitto_pub and mosquitto_rr) does before connecting, failing in its words:
/// the OS's reason, or libmosquitto's for a read that comes up short.
pub struct InputFile {
    file: std::fs::File,
    path: PathBuf,
    pub len: u64,
}

impl InputFile {
    pub fn open(path: &std::path::Path, quiet: bool) -> Result<InputFile, Error> {
        let fail = |head: String| input_file_error(path, head, quiet);
        let unable = |e: std::io::Error| {
            fail(format!(
                "Error: Unable to read file \"{}\": {}.\n",
                path.display(),
                crate::exit::strerror(&e)
            ))
        };
        let file = std::fs::File::open(path).map_err(unable)?;
        let meta = file.metadata().map_err(unable)?;
        if !meta.is_file() {
            // mosquitto 2.1 prints "Error: PATH is not a file." without a line end,
            // then its "Unable to read" line with a stale errno; mqtk ends the line
            // and leaves the stale reason out.
            return Err(fail(format!("Error: {} is not a file.\n", path.display())));
        }
        if meta.len() > MAX_REMAINING as u64 {
            return Err(fail(format!(
                "Error: File must be less than {MAX_REMAINING} bytes.\n\n"
            )));
        }
        Ok(InputFile {
            file,
            path: path.to_path_buf(),
            len: meta.len(),
        })
    }

    /// The whole file, in memory.
    pub fn read_all(mut self, quiet: bool) -> Result<Bytes, Error> {
        let mut v = Vec::with_capacity(self.len as usize);
        match self.file.read_to_end(&mut v) {
            Ok(_) => Ok(Bytes::from(v)),
            Err(_) => Err(input_file_error(
                &self.path,
                format!(
                    "Error: Unable to read file \"{}\": Invalid input.\n",
                    self.path.display()
                ),
                quiet,
            )),
        }
    }
}

/// `head`, then the line mosquitto's clients add after any `-f` failure.
fn input_file_error(path: &std::path::Path, head: String, quiet: bool) -> Error {
    quieted(
        quiet,
        crate::settings::plain(format!(
            "{head}Error loading input file \"{}\".\n",
            path.display()
        )),
    )
}

/// What a source has for the publisher right now.
enum Next {
    Message(Payload),
    /// Nothing buffered: read more input (Lines) or wait until this instant (Fixed).
    NeedInput,
    WaitUntil(Instant),
    Exhausted,
}

impl Source {
    /// Builds the source, reading what mosquitto reads before connecting (`-s`, `-f`),
    /// and failing with its words when it cannot.
    pub fn open(p: &PubSettings) -> Result<Source, Error> {
        let fixed = |payload| Source::Fixed {
            payload,
            left: p.repeat,
            delay: p.repeat_delay,
            next_at: None,
        };
        let quiet = |e: Error| quieted(p.client.quiet, e);
        Ok(match &p.source {
            MessageSource::Message(b) => fixed(Payload::Bytes(b.clone())),
            MessageSource::Null => fixed(Payload::Bytes(Bytes::new())),
            MessageSource::StdinLines => Source::Lines {
                reader: Box::new(tokio::io::stdin()),
                buf: BytesMut::with_capacity(CHUNK),
                scanned: 0,
                eof: false,
            },
            MessageSource::StdinAll => {
                let mut all = Vec::new();
                let limit = MAX_REMAINING as u64 + 1;
                let res = std::io::stdin().lock().take(limit).read_to_end(&mut all);
                if res.is_err() {
                    return Err(quiet(crate::settings::plain(
                        "Error loading input from stdin.\n",
                    )));
                }
                if all.len() > MAX_REMAINING {
                    return Err(quiet(crate::settings::plain(format!(
                        "Error: Message length must be less than {MAX_REMAINING} bytes.\n\nError loading input from stdin.\n"
                    ))));
                }
                fixed(Payload::Bytes(Bytes::from(all)))
            }
            MessageSource::File(path) => {
                let f = InputFile::open(path, p.client.quiet)?;
                if f.len <= SMALL_FILE {
                    fixed(Payload::Bytes(f.read_all(p.client.quiet)?))
                } else {
                    fixed(Payload::File(Arc::new(FileBody {
                        path: path.clone(),
                        len: f.len,
                    })))
                }
            }
        })
    }

    fn next(&mut self, now: Instant) -> Next {
        match self {
            Source::Fixed {
                payload,
                left,
                delay,
                next_at,
            } => {
                if *left == 0 {
                    return Next::Exhausted;
                }
                if let Some(at) = next_at
                    && now < *at
                {
                    return Next::WaitUntil(*at);
                }
                *left -= 1;
                *next_at = (!delay.is_zero()).then(|| now + *delay);
                Next::Message(payload.clone())
            }
            Source::Lines {
                buf, scanned, eof, ..
            } => {
                if let Some(i) = memchr::memchr(b'\n', &buf[*scanned..]) {
                    let i = *scanned + i;
                    *scanned = 0;
                    let line = buf.split_to(i + 1).freeze().slice(..i);
                    return Next::Message(Payload::Bytes(line));
                }
                *scanned = buf.len();
                if *eof {
                    if buf.is_empty() {
                        return Next::Exhausted;
                    }
                    // A last line without a newline is still a message (as mosquitto).
                    *scanned = 0;
                    return Next::Message(Payload::Bytes(buf.split().freeze()));
                }
                Next::NeedInput
            }
        }
    }

    fn exhausted(&self) -> bool {
        match self {
            Source::Fixed { left, .. } => *left == 0,
            Source::Lines { buf, eof, .. } => *eof && buf.is_empty(),
        }
    }
}

/// Topic and property blocks, encoded once per run.
struct Blocks {
    /// 2-byte length + topic.
    topic: Vec<u8>,
    /// v5 property block (length + properties); empty for 3.x.
    props: Vec<u8>,
    /// `-D publish topic-alias N`: after the first PUBLISH on a connection, send an
    /// empty topic (5.0 §3.3.2.3.4), as mosquitto_pub does.
    alias: bool,
}

/// Tallies for the final report.
#[derive(Default)]
struct Tally {
    failed: u64,
}

/// A file body still being copied to the write buffer.
struct FileCopy {
    file: std::fs::File,
    left: u64,
    path: PathBuf,
}

/// The publisher: everything that lives across reconnections.
struct Publisher<'a> {
    p: &'a PubSettings,
    prepared: Prepared,
    dbg: Debug,
    state: State<Payload>,
    source: Source,
    blocks: Blocks,
    tally: Tally,
    /// mosquitto numbers QoS 0 messages too (the `m` in debug lines).
    qos0_mid: u16,
    /// Payload bytes of the messages in `state`, for the `INFLIGHT_BYTES` budget.
    inflight_bytes: usize,
}

/// How a connection's pump ended.
enum PumpEnd {
    /// Everything sent and acknowledged.
    Done,
    Lost(LinkError),
}

/// Publishes as `mqtk pub` does and returns the exit status.
pub async fn run_publisher(p: &PubSettings) -> Result<u8, Error> {
    let source = Source::open(p)?;
    let c = &p.client;
    let prepared = prepare(c)?;
    let v5 = c.version == ProtocolVersion::V5;
    let mut topic = Vec::with_capacity(p.topic.len() + 2);
    topic.extend_from_slice(&(p.topic.len() as u16).to_be_bytes());
    topic.extend_from_slice(p.topic.as_bytes());
    if let Err(problem) = check_all(PropertyContext::Publish, &c.publish_properties, v5) {
        return refuse_publish(p, source, &prepared, problem).await;
    }
    let mut props = BytesMut::new();
    if v5 {
        codec::properties::encode(&c.publish_properties, PropertyContext::Publish, &mut props)
            .map_err(|e| Error::Failed(format!("invalid publish properties: {e}")))?;
    }
    let alias = v5 && c.publish_properties.get(PropertyId::TopicAlias).is_some();
    let mut pubr = Publisher {
        p,
        prepared,
        dbg: Debug::new(c.debug, &c.client_id),
        state: State::new(
            c.max_inflight.unwrap_or(DEFAULT_WINDOW),
            c.keep_alive,
            Instant::now().into_std(),
        ),
        source,
        blocks: Blocks {
            topic,
            props: props.to_vec(),
            alias,
        },
        tally: Tally::default(),
        qos0_mid: 0,
        inflight_bytes: 0,
    };
    pubr.run().await
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
    let mut dbg = Debug::new(c.debug, &c.client_id);
    let (mut session, _) = establish(c, prepared, &mut dbg, c.clean_start).await?;
    let (text, code) = if matches!(source, Source::Lines { .. }) {
        match first_line(&mut source).await {
            None => {
                send_disconnect(&mut session, c, &dbg).await;
                return Ok(exit::OK);
            }
            Some(terminated) => {
                // mosquitto_pub ignores a failed QoS 0 publish of a last, unterminated
                // line and disconnects before it returns the error.
                if !terminated && p.qos == QoS::AtMostOnce {
                    send_disconnect(&mut session, c, &dbg).await;
                }
                (format!("Error: {}\n", problem.strerror()), problem.code())
            }
        }
    } else {
        send_disconnect(&mut session, c, &dbg).await;
        let head = match problem {
            PropertyProblem::Protocol => "Error: Protocol error when communicating with broker.\n",
            _ => "",
        };
        (
            format!("{head}Error: The connection was lost\n"),
            exit::MOSQ_ERR_CONN_LOST,
        )
    };
    session.close().await;
    Err(quieted(c.quiet, Error::Verbatim { text, code }))
}

/// `-l`: waits for the first line. `None`: the input ended without one; `Some(true)`:
/// a line ending in a newline; `Some(false)`: a last line without one. A failed read
/// ends the input, as it ends mosquitto's `fgets` loop.
async fn first_line(source: &mut Source) -> Option<bool> {
    loop {
        let Source::Lines { buf, eof, .. } = source else {
            return None;
        };
        if memchr::memchr(b'\n', buf).is_some() {
            return Some(true);
        }
        if *eof {
            return (!buf.is_empty()).then_some(false);
        }
        if read_input_chunk(source).await.is_err()
            && let Source::Lines { eof, .. } = source
        {
            *eof = true;
        }
    }
}

/// DISCONNECT with the `-D disconnect` properties, unless libmosquitto would refuse
/// them (then nothing is sent, as mosquitto_disconnect_v5 sends nothing).
async fn send_disconnect(session: &mut Session, c: &ClientSettings, dbg: &Debug) {
    let v5 = c.version == ProtocolVersion::V5;
    if check_all(PropertyContext::Disconnect, &c.disconnect_properties, v5).is_err() {
        return;
    }
    let d = Disconnect {
        reason: ReasonCode::NORMAL_DISCONNECTION,
        properties: c.disconnect_properties.clone(),
    };
    dbg.log(format_args!("sending DISCONNECT"));
    let _ = session.send(&Packet::Disconnect(d)).await;
}

impl Publisher<'_> {
    fn quiet(&self) -> bool {
        self.p.client.quiet
    }

    async fn run(&mut self) -> Result<u8, Error> {
        let c = &self.p.client;
        let (mut session, mut ack) =
            establish(c, &self.prepared, &mut self.dbg, c.clean_start).await?;
        let mut first = true;
        loop {
            self.apply_connack(&ack);
            let resend = if first {
                Vec::new()
            } else {
                self.state
                    .reconnected(ack.session_present, Instant::now().into_std())
            };
            first = false;
            match self.pump(&mut session, resend).await? {
                PumpEnd::Done => {
                    send_disconnect(&mut session, c, &self.dbg).await;
                    session.close().await;
                    return self.finish();
                }
                PumpEnd::Lost(why) => {
                    session.close().await;
                    if self.state.in_flight() == 0 && self.source.exhausted() {
                        // Everything was handed to the socket; QoS 0 promises no more.
                        return self.finish();
                    }
                    (session, ack) = self.reconnect(why).await?;
                }
            }
        }
    }

    fn apply_connack(&mut self, ack: &ConnAck) {
        let c = &self.p.client;
        // 5.0 §3.2.2.3.3: absent Receive Maximum means 65,535.
        let broker_max = (c.version == ProtocolVersion::V5).then(|| {
            ack.properties
                .get_int(PropertyId::ReceiveMaximum)
                .map_or(u16::MAX, |v| v.clamp(1, 65535) as u16)
        });
        let window = match (c.max_inflight, broker_max) {
            (Some(m), Some(b)) => m.min(b),
            (Some(m), None) => m,
            (None, Some(b)) => b,
            (None, None) => DEFAULT_WINDOW,
        };
        self.state.set_window(window);
        if let Some(ka) = ack.properties.get_int(PropertyId::ServerKeepAlive) {
            self.state.set_keep_alive(ka.min(65535) as u16);
        }
    }

    /// Reconnects with backoff after a lost connection; gives up after
    /// RECONNECT_ATTEMPTS, reporting what was not confirmed.
    async fn reconnect(&mut self, why: LinkError) -> Result<(Session, ConnAck), Error> {
        let c = &self.p.client;
        let mut delay = BACKOFF_START;
        let mut last = link_text(&why);
        for _ in 0..RECONNECT_ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(BACKOFF_MAX);
            match establish(c, &self.prepared, &mut self.dbg, c.clean_start).await {
                Ok(ok) => return Ok(ok),
                Err(EstablishError::Refused(e)) => return Err(e),
                Err(EstablishError::Failed(e)) => last = e.message(),
            }
        }
        let unconfirmed = self.state.in_flight();
        if self.quiet() {
            return Err(Error::Silent(exit::FAILURE));
        }
        let mut text = format!(
            "Error: The connection was lost and could not be re-established ({}).\n",
            last.trim_end().trim_start_matches("Error: ")
        );
        if unconfirmed > 0 {
            text.push_str(&format!(
                "Error: {unconfirmed} message(s) were not confirmed by the broker.\n"
            ));
        }
        Err(Error::Verbatim {
            text,
            code: exit::FAILURE,
        })
    }

    fn finish(&self) -> Result<u8, Error> {
        if self.tally.failed > 0 {
            if self.quiet() {
                return Err(Error::Silent(exit::FAILURE));
            }
            return Err(Error::Verbatim {
                text: format!(
                    "Error: {} message(s) were refused by the broker.\n",
                    self.tally.failed
                ),
                code: exit::FAILURE,
            });
        }
        Ok(exit::OK)
    }

    /// Encodes a PUBLISH header (everything but the payload) into `out`.
    fn encode_header(
        &self,
        out: &mut BytesMut,
        dup: bool,
        packet_id: u16,
        payload_len: usize,
        full_topic: bool,
    ) -> Result<(), Error> {
        let qos = self.p.qos;
        let topic: &[u8] = if full_topic {
            &self.blocks.topic
        } else {
            &[0, 0]
        };
        let remaining = topic.len()
            + if qos == QoS::AtMostOnce { 0 } else { 2 }
            + self.blocks.props.len()
            + payload_len;
        if remaining > MAX_REMAINING {
            return Err(Error::Verbatim {
                text: format!(
                    "Error: Message payload is too large: {payload_len} bytes with this topic exceed the MQTT limit of {MAX_REMAINING} bytes per packet.\n"
                ),
                code: exit::FAILURE,
            });
        }
        let byte1 = 0x30 | (u8::from(dup) << 3) | ((qos as u8) << 1) | u8::from(self.p.retain);
        out.reserve(5 + remaining.min(HIGH_WATER * 2));
        out.put_u8(byte1);
        wire::write_varint(out, remaining, "PUBLISH").map_err(|e| Error::Failed(e.to_string()))?;
        out.put_slice(topic);
        if qos != QoS::AtMostOnce {
            out.put_u16(packet_id);
        }
        out.put_slice(&self.blocks.props);
        Ok(())
    }

    /// Encodes one PUBLISH (header + in-memory payload, or header and a file copy).
    fn encode_publish(
        &mut self,
        out: &mut BytesMut,
        copy: &mut Option<FileCopy>,
        payload: &Payload,
        dup: bool,
        packet_id: u16,
        alias_sent: &mut bool,
    ) -> Result<(), Error> {
        let full_topic = !(self.blocks.alias && *alias_sent);
        *alias_sent = true;
        self.encode_header(out, dup, packet_id, payload.len(), full_topic)?;
        if self.dbg.enabled() {
            let mid = if self.p.qos == QoS::AtMostOnce {
                self.qos0_mid = self.qos0_mid.wrapping_add(1).max(1);
                self.qos0_mid
            } else {
                packet_id
            };
            let topic = if full_topic {
                self.p.topic.as_str()
            } else {
                ""
            };
            let summary = PublishSummary {
                dup,
                qos: self.p.qos,
                retain: self.p.retain,
                mid,
                topic,
                len: payload.len(),
            };
            self.dbg.log(format_args!("sending {summary}"));
        }
        match payload {
            Payload::Bytes(b) => out.put_slice(b),
            Payload::File(f) => {
                let file = std::fs::File::open(&f.path).map_err(|_| {
                    crate::settings::plain(format!(
                        "Error: Unable to open file \"{}\".\n",
                        f.path.display()
                    ))
                })?;
                *copy = Some(FileCopy {
                    file,
                    left: f.len,
                    path: f.path.clone(),
                });
            }
        }
        Ok(())
    }

    /// Moves file data into `out` until the high-water mark or the end of the body.
    fn copy_file(out: &mut BytesMut, copy: &mut Option<FileCopy>) -> Result<(), Error> {
        while let Some(c) = copy {
            if out.len() >= HIGH_WATER {
                return Ok(());
            }
            let want = (c.left as usize).min(CHUNK);
            let start = out.len();
            out.resize(start + want, 0);
            let n = c.file.read(&mut out[start..]).unwrap_or(0);
            out.truncate(start + n);
            if n == 0 {
                // The file shrank after its length went into the header: the packet
                // cannot be completed, so the connection must not continue.
                return Err(crate::settings::plain(format!(
                    "Error: File \"{}\" changed while it was being sent.\n",
                    c.path.display()
                )));
            }
            c.left -= n as u64;
            if c.left == 0 {
                *copy = None;
            }
        }
        Ok(())
    }

    /// Runs one connection until done or lost.
    async fn pump(&mut self, session: &mut Session, resend: Vec<Resend>) -> Result<PumpEnd, Error> {
        let qos = self.p.qos;
        let mut out = BytesMut::with_capacity(HIGH_WATER * 2);
        let mut copy: Option<FileCopy> = None;
        let mut resend = std::collections::VecDeque::from(resend);
        let mut alias_sent = false;
        let mut refill_at_half = false;
        loop {
            // 1. Fill the write buffer: resends first, then new messages.
            let mut need_input = false;
            let mut wait_until: Option<Instant> = None;
            Self::copy_file(&mut out, &mut copy)?;
            while out.len() < HIGH_WATER && copy.is_none() {
                if let Some(r) = resend.pop_front() {
                    match r {
                        Resend::Publish(pid) => {
                            let payload = match self.state.get(pid) {
                                Some(o) => o.msg.clone(),
                                None => continue,
                            };
                            self.encode_publish(
                                &mut out,
                                &mut copy,
                                &payload,
                                true,
                                pid,
                                &mut alias_sent,
                            )?;
                        }
                        Resend::PubRel(pid) => self.encode_pubrel(&mut out, pid),
                    }
                    Self::copy_file(&mut out, &mut copy)?;
                    continue;
                }
                if qos != QoS::AtMostOnce {
                    if !self.state.has_room() || self.inflight_bytes >= INFLIGHT_BYTES {
                        refill_at_half = self.state.window() >= HYSTERESIS_MIN_WINDOW;
                        break;
                    }
                    // Once a wide window filled up, wait until half of it is free: each
                    // write then carries many messages and each wakeup reads many acks,
                    // instead of a TCP segment per ack. (Not for narrow windows: there
                    // the broker's Nagle would hold its last acks until our delayed
                    // TCP ACK, 40 ms later.)
                    if refill_at_half {
                        if self.state.in_flight() > usize::from(self.state.window() / 2)
                            || self.inflight_bytes > INFLIGHT_BYTES / 2
                        {
                            break;
                        }
                        refill_at_half = false;
                    }
                }
                match self.source.next(Instant::now()) {
                    Next::Message(payload) => {
                        let pid = if qos == QoS::AtMostOnce {
                            0
                        } else {
                            self.inflight_bytes += payload.len();
                            self.state
                                .start_publish(qos, payload.clone())
                                .expect("room checked above")
                        };
                        self.encode_publish(
                            &mut out,
                            &mut copy,
                            &payload,
                            false,
                            pid,
                            &mut alias_sent,
                        )?;
                        Self::copy_file(&mut out, &mut copy)?;
                    }
                    Next::NeedInput => {
                        need_input = true;
                        break;
                    }
                    Next::WaitUntil(t) => {
                        wait_until = Some(t);
                        break;
                    }
                    Next::Exhausted => break,
                }
            }
            // 2. Done?
            if out.is_empty()
                && copy.is_none()
                && resend.is_empty()
                && self.source.exhausted()
                && self.state.in_flight() == 0
            {
                return Ok(PumpEnd::Done);
            }
            // 3. Wait for the first of: socket readable, socket writable, input, timers.
            let keepalive = self.state.next_deadline().map(Instant::from_std);
            let Session { rd, wr, rbuf, .. } = session;
            if rbuf.capacity() - rbuf.len() < 4096 {
                rbuf.reserve(CHUNK);
            }
            let read_input = need_input && out.len() < HIGH_WATER;
            tokio::select! {
                r = rd.read_buf(rbuf) => {
                    match r {
                        Ok(0) => return Ok(PumpEnd::Lost(LinkError::Closed)),
                        Ok(_) => {
                            if let Err(e) = self.handle_incoming(session, &mut out) {
                                return Ok(PumpEnd::Lost(e));
                            }
                        }
                        Err(e) => return Ok(PumpEnd::Lost(LinkError::Io(e))),
                    }
                }
                w = wr.write(&out), if !out.is_empty() => {
                    match w {
                        Ok(0) => return Ok(PumpEnd::Lost(LinkError::Closed)),
                        Ok(n) => {
                            out.advance(n);
                            self.state.on_sent(Instant::now().into_std());
                        }
                        Err(e) => return Ok(PumpEnd::Lost(LinkError::Io(e))),
                    }
                }
                r = read_input_chunk(&mut self.source), if read_input => {
                    if let Err(e) = r {
                        let text = format!("Error: Unable to read from stdin: {}.\n", crate::exit::strerror(&e));
                        return Err(quieted(self.quiet(), crate::settings::plain(text)));
                    }
                }
                _ = sleep_until_opt(wait_until) => {}
                _ = sleep_until_opt(keepalive) => {
                    match self.state.tick(Instant::now().into_std()) {
                        Tick::Nothing => {}
                        Tick::SendPing => {
                            self.dbg.log(format_args!("sending PINGREQ"));
                            out.put_slice(&[0xC0, 0x00]);
                            self.state.on_ping_sent(Instant::now().into_std());
                        }
                        Tick::TimedOut => return Ok(PumpEnd::Lost(LinkError::KeepaliveTimeout)),
                    }
                }
            }
        }
    }

    fn encode_pubrel(&self, out: &mut BytesMut, pid: u16) {
        self.dbg.log(format_args!("sending PUBREL (m{pid})"));
        let rel = PubRel {
            packet_id: pid,
            reason: ReasonCode::SUCCESS,
            properties: Properties::new(),
        };
        // A PUBREL with an id and no properties always encodes.
        let _ = codec::encode(&Packet::PubRel(rel), self.p.client.version, out);
    }

    fn warn_failed(&mut self, pid: u16, reason: ReasonCode, props: &Properties) {
        self.tally.failed += 1;
        if !self.quiet() {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "Warning: Publish {pid} failed: {reason}.");
            if let Some(s) = props.get_str(PropertyId::ReasonString) {
                let _ = writeln!(err, "{s}");
            }
        }
    }

    fn on_puback(&mut self, packet_id: u16, reason: ReasonCode, properties: &Properties) {
        self.dbg.log(format_args!(
            "received PUBACK (Mid: {packet_id}, RC:{})",
            reason.0
        ));
        // An ack for an id we do not have in flight is ignored, as libmosquitto does.
        if let Ok(done) = self.state.on_puback(packet_id, reason) {
            self.inflight_bytes -= done.msg.len();
            if !done.succeeded() {
                self.warn_failed(packet_id, reason, properties);
            }
        }
    }

    /// Decodes and handles every complete packet in the receive buffer.
    fn handle_incoming(
        &mut self,
        session: &mut Session,
        out: &mut BytesMut,
    ) -> Result<(), LinkError> {
        let version = session.version;
        loop {
            // Fast path for the bulk of QoS 1 traffic: a PUBACK with only a packet id
            // (3.1.1 §3.4; 5.0 §3.4.2.1, remaining length 2 = success, no
            // properties), read in place without building a packet.
            while let [0x40, 0x02, hi, lo, ..] = session.rbuf[..] {
                let packet_id = u16::from_be_bytes([hi, lo]);
                session.rbuf.advance(4);
                self.on_puback(packet_id, ReasonCode::SUCCESS, &Properties::new());
            }
            let packet = match codec::decode(&mut session.rbuf, version, usize::MAX) {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(()),
                Err(e) => return Err(LinkError::Protocol(e.to_string())),
            };
            match packet {
                Packet::PubAck(PubAck {
                    packet_id,
                    reason,
                    properties,
                }) => self.on_puback(packet_id, reason, &properties),
                Packet::PubRec(PubRec {
                    packet_id,
                    reason,
                    properties,
                }) => {
                    self.dbg
                        .log(format_args!("received PUBREC (Mid: {packet_id})"));
                    match self.state.on_pubrec(packet_id, reason) {
                        Ok(PubRecOutcome::Release(pid)) => self.encode_pubrel(out, pid),
                        Ok(PubRecOutcome::Refused(done)) => {
                            self.inflight_bytes -= done.msg.len();
                            self.warn_failed(packet_id, reason, &properties)
                        }
                        // 5.0 §4.3.3: answer a PUBREC we have no record of with PUBREL
                        // so the broker can finish its side.
                        Err(_) => self.encode_pubrel(out, packet_id),
                    }
                }
                Packet::PubComp(PubComp {
                    packet_id,
                    reason,
                    properties,
                }) => {
                    self.dbg.log(format_args!(
                        "received PUBCOMP (Mid: {packet_id}, RC:{})",
                        reason.0
                    ));
                    if let Ok(done) = self.state.on_pubcomp(packet_id, reason) {
                        self.inflight_bytes -= done.msg.len();
                        if !done.succeeded() {
                            self.warn_failed(packet_id, reason, &properties);
                        }
                    }
                }
                Packet::PingResp => {
                    self.dbg.log(format_args!("received PINGRESP"));
                    self.state.on_pingresp();
                }
                Packet::Disconnect(d) => {
                    self.dbg
                        .log(format_args!("received DISCONNECT ({})", d.reason.0));
                    return Err(LinkError::ServerDisconnect(d.reason));
                }
                // A persistent session may hold messages for us: acknowledge them so
                // the broker's session does not stall (we never subscribe, so there
                // is nothing to print).
                Packet::Publish(p) => {
                    self.dbg
                        .log(format_args!("received {}", PublishSummary::of(&p)));
                    let ack = match p.qos {
                        QoS::AtMostOnce => None,
                        QoS::AtLeastOnce => Some(Packet::PubAck(PubAck {
                            packet_id: p.packet_id,
                            reason: ReasonCode::SUCCESS,
                            properties: Properties::new(),
                        })),
                        QoS::ExactlyOnce => Some(Packet::PubRec(PubRec {
                            packet_id: p.packet_id,
                            reason: ReasonCode::SUCCESS,
                            properties: Properties::new(),
                        })),
                    };
                    if let Some(a) = ack {
                        let _ = codec::encode(&a, version, out);
                    }
                }
                Packet::PubRel(r) => {
                    let comp = Packet::PubComp(PubComp {
                        packet_id: r.packet_id,
                        reason: ReasonCode::SUCCESS,
                        properties: Properties::new(),
                    });
                    let _ = codec::encode(&comp, version, out);
                }
                other => {
                    return Err(LinkError::Protocol(format!(
                        "unexpected {} from the broker",
                        other.name()
                    )));
                }
            }
        }
    }
}

/// Reads one chunk of line input into the source's buffer.
async fn read_input_chunk(source: &mut Source) -> std::io::Result<()> {
    if let Source::Lines {
        reader, buf, eof, ..
    } = source
    {
        if buf.capacity() - buf.len() < CHUNK / 2 {
            buf.reserve(CHUNK);
        }
        let n = reader.read_buf(buf).await?;
        if n == 0 {
            *eof = true;
        }
    }
    Ok(())
}

/// Sleeps until `t`, or forever without one (a `select!` arm that may be off).
pub async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

// ---------------------------------------------------------------------------------
// For loops that drive the socket themselves (session::subscriber)

impl Session {
    /// The stream (its halves rejoined) and the bytes already read past the last
    /// packet: the subscriber reads and writes it directly, without the split's lock.
    pub fn into_parts(self) -> (BoxedStream, BytesMut) {
        (self.rd.unsplit(self.wr), self.rbuf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(src: &mut Source, bytes: &[u8]) {
        if let Source::Lines { buf, .. } = src {
            buf.extend_from_slice(bytes);
        }
    }

    fn next_line(src: &mut Source) -> Option<Bytes> {
        match src.next(Instant::now()) {
            Next::Message(Payload::Bytes(b)) => Some(b),
            _ => None,
        }
    }

    #[test]
    fn lines_arriving_in_pieces_are_split_at_each_newline() {
        let mut src = Source::Lines {
            reader: Box::new(tokio::io::empty()),
            buf: BytesMut::new(),
            scanned: 0,
            eof: false,
        };
        push(&mut src, b"ab");
        assert!(matches!(src.next(Instant::now()), Next::NeedInput));
        push(&mut src, b"c\nde");
        assert_eq!(next_line(&mut src).as_deref(), Some(&b"abc"[..]));
        assert!(matches!(src.next(Instant::now()), Next::NeedInput));
        push(&mut src, b"\n\nf");
        assert_eq!(next_line(&mut src).as_deref(), Some(&b"de"[..]));
        assert_eq!(next_line(&mut src).as_deref(), Some(&b""[..]));
        assert!(matches!(src.next(Instant::now()), Next::NeedInput));
        if let Source::Lines { eof, .. } = &mut src {
            *eof = true;
        }
        // A last line without a newline is still a message.
        assert_eq!(next_line(&mut src).as_deref(), Some(&b"f"[..]));
        assert!(matches!(src.next(Instant::now()), Next::Exhausted));
    }
}
