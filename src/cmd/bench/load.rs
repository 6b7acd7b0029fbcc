//! The load: every bench connection is a `client::drive::Client` on the sans-I/O
//! client core, all of them on one thread (a current-thread runtime and a
//! `LocalSet`), sharing one `Stats` without locks. The core owns the handshake, packet
//! ids, the in-flight window (`--inflight`, capped by the broker's Receive Maximum),
//! acknowledgements both ways and keepalive; this file only decides what to send and
//! what to count.
//!
//! Memory: an idle connection is a small task (the handshake and the goodbye run
//! boxed, so their state is not kept in the task) whose read buffer starts at 64
//! bytes and, should a burst grow it, is freed once it empties
//! (`Options::shrink_when_idle`), so tens of thousands fit in a few KiB each.
//!
//! Speed: publishers queue messages written from one shared `PublishTemplate` until
//! `BATCH_BYTES` wait, and refill when the driver reports the buffer drained;
//! subscribers take every event already read under one look at the clock.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use tokio::sync::Notify;

use crate::client::connection::{self, Connection, Delivered, Event, Options, PublishError};
use crate::client::drive::{Client, ConnectFailure, Lost, Next};
use crate::client::{Outgoing, Qos2Delivery};
use crate::cmd::bench::stats::{Clock, HEADER_LEN, Header, Schedule, SeqTracker, new_histogram};
use crate::cmd::bench::template::{self, Vars};
use crate::cmd::bench::{BenchSettings, Mode};
use crate::codec::{
    self, Connect, Properties, ProtocolVersion, Publish, PublishTemplate, QoS, ReasonCode, SubAck,
    SubscribeFilter, SubscriptionOptions,
};
use crate::settings::ClientSettings;
use crate::transport::ConnectError;

/// Connection handshakes in progress at once, so that a ramp without `--connect-rate`
/// does not overflow the broker's listen backlog (dropped SYNs come back after a
/// second and would show up as connect latency that is ours, not the broker's).
const MAX_CONCURRENT_CONNECTS: usize = 256;
/// Bytes of PUBLISH packets a publisher queues before it lets the driver write them
/// (and the low-water mark below which the driver asks for more).
const BATCH_BYTES: usize = 64 * 1024;
/// The largest packet we accept (MQTT's own limit).
const MAX_PACKET: usize = codec::MAX_REMAINING_LENGTH + 5;
/// How long a client may take to say goodbye (DISCONNECT) at the end of the run.
const GOODBYE_LIMIT: Duration = Duration::from_millis(500);

/// Counters and histograms, shared by every task on the thread.
#[derive(Debug)]
pub struct Stats {
    /// Connections open now.
    pub connected: u64,
    pub connects_ok: u64,
    /// Connection errors by kind ("ECONNREFUSED", "timeout", "CONNACK 0x87 …").
    pub errors: BTreeMap<String, u64>,
    /// Connections lost after they were up (closed by the broker, reset).
    pub disconnects: u64,
    pub subscribed: u64,
    pub sent: u64,
    pub acked: u64,
    pub received: u64,
    /// Counted after the warm-up (rates use these).
    pub sent_measured: u64,
    pub acked_measured: u64,
    pub received_measured: u64,
    /// Payloads without our header (another publisher's, or clocks far apart).
    pub unparsed: u64,
    /// Publish errors (a refused QoS 1/2 ack reason code).
    pub publish_errors: u64,
    /// Messages sent by each publisher (index from 0), for the expected deliveries.
    pub sent_by_pub: Vec<u64>,
    pub pubs_done: u64,
    /// Handshakes in progress.
    pub connecting: u32,
    pub first_recv_ns: u64,
    pub last_recv_ns: u64,
    /// When the last message was sent (ns).
    pub last_sent_ns: u64,
    pub connected_max: u64,
    pub connect_hist: hdrhistogram::Histogram<u64>,
    pub ack_hist: hdrhistogram::Histogram<u64>,
    pub e2e_hist: hdrhistogram::Histogram<u64>,
    /// Sequence tracking per (subscriber index << 32 | publisher id).
    pub trackers: HashMap<u64, SeqTracker>,
    /// Latency samples and "measured" counters start at this time (ns); u64::MAX before
    /// the run starts.
    pub measure_from_ns: u64,
}

impl Stats {
    fn new(pubs: usize) -> Stats {
        Stats {
            connected: 0,
            connects_ok: 0,
            errors: BTreeMap::new(),
            disconnects: 0,
            subscribed: 0,
            sent: 0,
            acked: 0,
            received: 0,
            sent_measured: 0,
            acked_measured: 0,
            received_measured: 0,
            unparsed: 0,
            publish_errors: 0,
            sent_by_pub: vec![0; pubs],
            pubs_done: 0,
            connecting: 0,
            first_recv_ns: 0,
            last_recv_ns: 0,
            last_sent_ns: 0,
            connected_max: 0,
            connect_hist: new_histogram(),
            ack_hist: new_histogram(),
            e2e_hist: new_histogram(),
            trackers: HashMap::new(),
            measure_from_ns: u64::MAX,
        }
    }

    fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_insert(0) += 1;
    }

    pub fn failed_connects(&self) -> u64 {
        self.errors.values().sum()
    }

    /// (unique deliveries, gaps, duplicates, out of order) over all trackers.
    pub fn sequence_totals(&self) -> (u64, u64, u64, u64) {
        self.trackers.values().fold((0, 0, 0, 0), |acc, t| {
            (
                acc.0 + t.unique(),
                acc.1 + t.gaps(),
                acc.2 + t.duplicates,
                acc.3 + t.out_of_order,
            )
        })
    }
}

/// What every task shares.
pub struct Shared {
    pub s: BenchSettings,
    pub clock: Clock,
    pub stats: RefCell<Stats>,
    /// Publishers stop sending new messages (they still wait for acks).
    pub stop_publishing: Cell<bool>,
    /// Every client disconnects.
    pub stop_all: Cell<bool>,
    /// Wakes tasks when a flag above changes, or `go` is given.
    pub wake: Notify,
    /// Publishing starts (all clients connected); its time in ns.
    pub go_ns: Cell<Option<u64>>,
    /// Publisher topics, by publisher index (known before any client connects).
    pub pub_topics: Vec<String>,
    /// Subscriber filters, by subscriber index.
    pub sub_filters: Vec<String>,
    /// How many subscriber filters match each publisher's topic.
    pub fan_out: Vec<u64>,
    /// Permits for handshakes in progress (`MAX_CONCURRENT_CONNECTS`).
    pub connect_slots: tokio::sync::Semaphore,
}

impl Shared {
    pub fn new(s: BenchSettings) -> Result<Shared, String> {
        let (pubs, subs) = s.roles();
        let username = s.client.username.clone().unwrap_or_default();
        let mut pub_topics = Vec::with_capacity(pubs as usize);
        for k in 0..pubs {
            let index = u64::from(s.start_number) + u64::from(k);
            let id = client_id(&s, k, Role::Pub)?;
            let topic = template::expand(
                &s.topic,
                &Vars {
                    index,
                    client_id: &id,
                    username: &username,
                },
            )?;
            crate::topic::validate_name(&topic)
                .map_err(|_| without_prefix(crate::topic::invalid_publish_topic_message(&topic)))?;
            pub_topics.push(topic);
        }
        let mut sub_filters = Vec::with_capacity(subs as usize);
        for k in 0..subs {
            let filter = if s.mode == Mode::PubSub {
                // Subscriber k listens to publisher k's topic (k mod publishers).
                pub_topics[(k % pubs.max(1)) as usize].clone()
            } else {
                let index = u64::from(s.start_number) + u64::from(k);
                let id = client_id(&s, k, Role::Sub)?;
                template::expand(
                    &s.topic,
                    &Vars {
                        index,
                        client_id: &id,
                        username: &username,
                    },
                )?
            };
            crate::topic::validate_filter(&filter).map_err(|_| {
                without_prefix(crate::topic::invalid_subscription_topic_message(&filter))
            })?;
            sub_filters.push(filter);
        }
        let fan_out = pub_topics
            .iter()
            .map(|t| {
                sub_filters
                    .iter()
                    .filter(|f| crate::topic::matches(f, t))
                    .count() as u64
            })
            .collect();
        Ok(Shared {
            fan_out,
            connect_slots: tokio::sync::Semaphore::new(MAX_CONCURRENT_CONNECTS),
            clock: Clock::new(),
            stats: RefCell::new(Stats::new(pubs as usize)),
            stop_publishing: Cell::new(false),
            stop_all: Cell::new(false),
            wake: Notify::new(),
            go_ns: Cell::new(None),
            pub_topics,
            sub_filters,
            s,
        })
    }

    pub fn stop_publishing(&self) {
        self.stop_publishing.set(true);
        self.wake.notify_waiters();
    }

    pub fn stop_all(&self) {
        self.stop_publishing.set(true);
        self.stop_all.set(true);
        self.wake.notify_waiters();
    }

    pub fn go(&self) {
        let now = self.clock.now_ns();
        self.go_ns.set(Some(now));
        self.stats.borrow_mut().measure_from_ns = now + self.s.warmup.as_nanos() as u64;
        self.wake.notify_waiters();
    }

    /// Deliveries the subscribers should get for what was sent: each publisher's count
    /// times the subscriptions that match its topic.
    pub fn expected_deliveries(&self) -> u64 {
        let st = self.stats.borrow();
        self.fan_out
            .iter()
            .zip(&st.sent_by_pub)
            .map(|(n, sent)| n * sent)
            .sum()
    }
}

/// mosquitto's line without its "Error: ", which `main` adds to bench's errors.
fn without_prefix(line: String) -> String {
    line.strip_prefix("Error: ")
        .map(str::to_string)
        .unwrap_or(line)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Pub,
    Sub,
    Conn,
}

/// Client k's id: the template with %i = start + k; in the default mode publishers and
/// subscribers get `-pub`/`-sub` so their ids never collide.
pub fn client_id(s: &BenchSettings, k: u32, role: Role) -> Result<String, String> {
    let username = s.client.username.clone().unwrap_or_default();
    let mut id = template::expand(
        &s.client.client_id,
        &Vars {
            index: u64::from(s.start_number) + u64::from(k),
            client_id: "",
            username: &username,
        },
    )?;
    if s.mode == Mode::PubSub {
        id.push_str(if role == Role::Pub { "-pub" } else { "-sub" });
    }
    Ok(id)
}

/// A connection error's kind, for the error table: the errno name where there is one
/// (EADDRNOTAVAIL says the port range is exhausted, EMFILE the fd limit).
pub fn error_kind(e: &ConnectError) -> String {
    match e {
        ConnectError::Io { source } => os_error_kind(source),
        ConnectError::Timeout(_) => "timeout".into(),
        ConnectError::Tls(_) => "TLS".into(),
        ConnectError::Lookup { .. } => "lookup".into(),
        ConnectError::Proxy(_) => "proxy".into(),
        ConnectError::WebSocket(_) => "WebSocket".into(),
        other => other.to_string(),
    }
}

/// An I/O error's kind: its errno name for the ones worth a name, else "I/O: " and the
/// OS's text.
fn os_error_kind(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => "ECONNREFUSED".into(),
        Some(libc::EADDRNOTAVAIL) => "EADDRNOTAVAIL (no free local port)".into(),
        Some(libc::EMFILE) => "EMFILE (fd limit)".into(),
        Some(libc::ENFILE) => "ENFILE (system fd limit)".into(),
        Some(libc::ETIMEDOUT) => "ETIMEDOUT".into(),
        Some(libc::ECONNRESET) => "ECONNRESET".into(),
        Some(libc::EADDRINUSE) => "EADDRINUSE".into(),
        Some(libc::ENETUNREACH) => "ENETUNREACH".into(),
        _ => format!("I/O: {}", crate::exit::strerror(e)),
    }
}

/// An I/O error after the connection was made: as `os_error_kind` when the OS gave an
/// errno, else the error's own text.
fn io_kind(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(_) => os_error_kind(e),
        None => e.to_string(),
    }
}

// ---------------------------------------------------------------------------------
// What a publisher sends

/// A bench PUBLISH: topic and properties from the publisher's shared template, then
/// the payload, which is the bench header (`stats::Header`) and zero padding to
/// `--size`. Every byte comes from the codec's `PublishTemplate::encode_header` but the
/// payload's; kept by the core until acknowledged (QoS 1/2), so it must be small.
#[derive(Clone, Debug)]
pub struct BenchMessage {
    pub template: Rc<PublishTemplate>,
    pub header: Header,
    /// Payload bytes (at least `HEADER_LEN`; the flags check it).
    pub size: usize,
}

impl Outgoing for BenchMessage {
    fn qos(&self) -> QoS {
        self.template.qos()
    }

    fn retain(&self) -> bool {
        self.template.retain()
    }

    fn topic(&self) -> &str {
        self.template.topic()
    }

    fn payload_len(&self) -> usize {
        self.size
    }

    fn encode(
        &self,
        dup: bool,
        packet_id: u16,
        omit_topic: bool,
        _version: ProtocolVersion,
        out: &mut BytesMut,
    ) -> Result<(), codec::Error> {
        self.template
            .encode_header(dup, packet_id, omit_topic, self.size, out)?;
        let mut header = [0u8; HEADER_LEN];
        self.header.write(&mut header);
        // Fixed-size copies compile to a few moves: this runs once per message.
        if self.size >= HEADER_LEN {
            out.put_slice(&header);
            if self.size > HEADER_LEN {
                out.put_bytes(0, self.size - HEADER_LEN);
            }
        } else {
            out.put_slice(&header[..self.size]);
        }
        Ok(())
    }
}

/// A bench connection.
pub type BenchClient = Client<BenchMessage>;

// ---------------------------------------------------------------------------------
// Connecting

/// The core's options for a client in `role`: `--inflight` as its window (the core
/// caps it by the broker's Receive Maximum), QoS 2 delivered on PUBLISH (bench
/// measures at arrival), and read buffers as small as the role allows.
fn options(s: &BenchSettings, role: Role) -> Options {
    let mut o = Options::new(s.client.version);
    o.max_inflight = s.inflight;
    o.qos2_delivery = Qos2Delivery::OnPublish;
    o.max_packet = MAX_PACKET;
    // Acks and pings are tiny; a subscriber's reads grow to 64 KiB as traffic comes.
    o.read_min = if role == Role::Sub { 256 } else { 64 };
    o.read_max = 64 * 1024;
    // Tens of thousands of idle connections: a read buffer a burst grew is freed as
    // soon as it empties.
    o.shrink_when_idle = role == Role::Conn;
    o
}

/// The CONNECT bench sends: the shared settings with this client's id.
fn connect_packet(c: &ClientSettings, client_id: String) -> Connect {
    Connect {
        version: c.version,
        clean_start: c.clean_start,
        keep_alive: c.keep_alive,
        properties: c.connect_properties.clone(),
        client_id,
        will: c.will.clone(),
        username: c.username.clone(),
        password: c.password.clone(),
    }
}

/// TCP (or TLS, WebSocket, …) connect, CONNECT, CONNACK; bounded by the connect
/// timeout. Boxed by the caller so its state does not stay in the task.
async fn handshake(
    sh: &Shared,
    slot: u32,
    client_id: String,
    role: Role,
) -> Result<BenchClient, String> {
    let s = &sh.s;
    let prepared = &s.prepared[slot as usize % s.prepared.len()];
    let now = tokio::time::Instant::now().into_std();
    let mut client = Client::new(Connection::new(options(s, role), now));
    let connect = connect_packet(&s.client, client_id);
    match tokio::time::timeout(s.connect_timeout, client.connect(prepared, &connect)).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(f)) => Err(connect_failure_kind(s.client.version, f)),
        Err(_) => Err("timeout".into()),
    }
}

/// A failed handshake's kind, for the error table.
fn connect_failure_kind(version: ProtocolVersion, f: ConnectFailure) -> String {
    match f {
        ConnectFailure::Transport(e) => error_kind(&e),
        ConnectFailure::Refused(ack) => refused(version, ack.code),
        ConnectFailure::Lost(Lost::Io(e)) => io_kind(&e),
        ConnectFailure::Lost(Lost::Closed) => "closed before CONNACK".into(),
        ConnectFailure::Lost(Lost::Connection(connection::Error::Malformed(e))) => {
            format!("bad CONNACK: {e}")
        }
        ConnectFailure::Lost(Lost::Connection(e)) => e.to_string(),
        ConnectFailure::Encode(e) => format!("CONNECT: {e}"),
    }
}

fn refused(version: ProtocolVersion, code: u8) -> String {
    let text = if version == ProtocolVersion::V5 {
        ReasonCode(code).description().to_string()
    } else {
        codec::reason::connack_v3_description(code).to_string()
    };
    format!("CONNACK refused 0x{code:02x} ({text})")
}

/// Connects client k, counting the outcome; waits its turn under
/// `MAX_CONCURRENT_CONNECTS`.
async fn connect_counted(
    sh: &Shared,
    slot: u32,
    client_id: String,
    role: Role,
) -> Option<BenchClient> {
    // Waiting clients queue here in order, without polling.
    let Ok(_slot) = sh.connect_slots.acquire().await else {
        return None;
    };
    if sh.stop_all.get() {
        return None;
    }
    sh.stats.borrow_mut().connecting += 1;
    let t0 = Instant::now();
    let r = Box::pin(handshake(sh, slot, client_id, role)).await;
    let mut st = sh.stats.borrow_mut();
    st.connecting -= 1;
    match r {
        Ok(c) => {
            st.connect_hist
                .saturating_record(t0.elapsed().as_nanos() as u64);
            st.connects_ok += 1;
            st.connected += 1;
            st.connected_max = st.connected_max.max(st.connected);
            Some(c)
        }
        Err(kind) => {
            st.error(kind);
            None
        }
    }
}

// ---------------------------------------------------------------------------------
// The end of a connection

/// Why a connection ended before the run did: the error kind to count, if any (a
/// stream closed or reset is counted as a disconnect only).
#[derive(Debug)]
pub struct Gone(Option<String>);

impl From<Lost> for Gone {
    fn from(l: Lost) -> Gone {
        Gone(match l {
            Lost::Io(_) | Lost::Closed => None,
            Lost::Connection(connection::Error::Disconnected(d)) => {
                Some(format!("DISCONNECT from broker 0x{:02x}", d.reason.0))
            }
            Lost::Connection(connection::Error::Malformed(e)) => {
                Some(format!("bad packet from broker: {e}"))
            }
            Lost::Connection(e) => Some(e.to_string()),
        })
    }
}

/// Ends a client's connection: DISCONNECT after a run that ended normally, or counts
/// what went wrong.
async fn finish(sh: &Shared, client: &mut BenchClient, end: Result<(), Gone>) {
    match end {
        Ok(()) => {
            Box::pin(goodbye(client, &sh.s.client.disconnect_properties)).await;
            sh.stats.borrow_mut().connected -= 1;
        }
        Err(Gone(kind)) => lost(sh, kind),
    }
}

/// A connection that was up went down.
fn lost(sh: &Shared, kind: Option<String>) {
    let mut st = sh.stats.borrow_mut();
    if let Some(k) = kind {
        st.error(k);
    }
    st.connected -= 1;
    if !sh.stop_all.get() {
        st.disconnects += 1;
    }
}

/// Closes cleanly (what is queued, then DISCONNECT with the `-D disconnect`
/// properties) after the run; best effort, bounded.
async fn goodbye(client: &mut BenchClient, properties: &Properties) {
    let _ = client
        .connection()
        .disconnect(ReasonCode::SUCCESS, properties.clone());
    client.close(GOODBYE_LIMIT).await;
}

/// Sleeps until `at`, or forever for `None`.
async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

// ---------------------------------------------------------------------------------
// The clients

/// An idle connection for `bench conn`: the core answers pings and keeps it alive
/// until the end.
pub async fn idle_conn(sh: Rc<Shared>, k: u32) {
    let Ok(id) = client_id(&sh.s, k, Role::Conn) else {
        return;
    };
    let Some(mut client) = connect_counted(&sh, k, id, Role::Conn).await else {
        return;
    };
    let end = hold(&sh, &mut client).await;
    finish(&sh, &mut client, end).await;
}

/// Keeps a connection until the run stops; whatever the broker sends is dropped.
async fn hold(sh: &Shared, client: &mut BenchClient) -> Result<(), Gone> {
    loop {
        if sh.stop_all.get() {
            return Ok(());
        }
        let wake = sh.wake.notified();
        tokio::select! {
            r = client.next() => {
                r?;
            }
            _ = wake => {}
        }
    }
}

/// Subscriber k: SUBSCRIBE, then count, time and sequence-check every message.
pub async fn subscriber(sh: Rc<Shared>, k: u32) {
    let Ok(id) = client_id(&sh.s, k, Role::Sub) else {
        return;
    };
    let Some(mut client) = connect_counted(&sh, k, id, Role::Sub).await else {
        return;
    };
    let filter = SubscribeFilter {
        filter: sh.sub_filters[k as usize].clone(),
        options: SubscriptionOptions {
            qos: sh.s.qos,
            ..Default::default()
        },
    };
    let props = sh.s.client.subscribe_properties.clone();
    let end = match client.connection().subscribe(vec![filter], props) {
        Ok(_) => listen(&sh, &mut client, u64::from(k) << 32).await,
        Err(e) => Err(Gone(Some(format!("SUBSCRIBE: {e}")))),
    };
    finish(&sh, &mut client, end).await;
}

/// A subscriber's life after SUBSCRIBE: every event already read is taken under one
/// look at the clock. `key_base` is this subscriber's part of the tracker keys.
async fn listen(sh: &Shared, client: &mut BenchClient, key_base: u64) -> Result<(), Gone> {
    loop {
        if sh.stop_all.get() {
            return Ok(());
        }
        let wake = sh.wake.notified();
        let first = tokio::select! {
            biased;
            r = client.next() => r?,
            _ = wake => continue,
        };
        let now = sh.clock.now_ns();
        let mut st = sh.stats.borrow_mut();
        let mut next = Some(Ok(first));
        while let Some(r) = next {
            match r? {
                Next::Event(Event::Message(p)) => received(&mut st, &p, now, key_base),
                Next::Event(Event::SubAck(a)) => {
                    suback(&mut st, &a, sh.s.client.version)?;
                    sh.wake.notify_waiters();
                }
                _ => {}
            }
            next = client.next_buffered();
        }
    }
}

/// A message for a subscriber: counted, timed and sequence-checked. A retained
/// message sent because we subscribed (RETAIN set, 3.1.1 §3.3.1.3) is an earlier
/// run's: acknowledged by the core, not counted.
fn received(st: &mut Stats, p: &Publish, now: u64, key_base: u64) {
    if p.retain {
        return;
    }
    st.received += 1;
    if st.first_recv_ns == 0 {
        st.first_recv_ns = now;
    }
    st.last_recv_ns = now;
    match Header::read(&p.payload, now) {
        Some(h) => {
            if h.sent_ns >= st.measure_from_ns {
                st.received_measured += 1;
                st.e2e_hist.saturating_record(now.saturating_sub(h.sent_ns));
            }
            st.trackers
                .entry(key_base | u64::from(h.publisher))
                .or_default()
                .observe(h.seq);
        }
        None => st.unparsed += 1,
    }
}

/// SUBACK: subscribed, or refused (reason ≥ 0x80), which ends the subscriber.
fn suback(st: &mut Stats, a: &SubAck, version: ProtocolVersion) -> Result<(), Gone> {
    match a.reasons.first() {
        Some(r) if r.0 >= 0x80 => {
            let text = if version == ProtocolVersion::V5 {
                r.description().to_string()
            } else {
                "failure".to_string()
            };
            Err(Gone(Some(format!("SUBACK refused 0x{:02x} ({text})", r.0))))
        }
        _ => {
            st.subscribed += 1;
            Ok(())
        }
    }
}

/// Publisher k: waits for the start, then sends on its schedule (or as fast as the
/// connection takes), with QoS 1/2 messages in the core's window.
pub async fn publisher(sh: Rc<Shared>, k: u32, quota: Option<u64>) {
    if let Some(mut p) = Publisher::connect(sh.clone(), k, quota).await {
        let end = p.run().await;
        finish(&sh, &mut p.client, end).await;
    }
    sh.stats.borrow_mut().pubs_done += 1;
    sh.wake.notify_waiters();
}

/// A connected publisher.
struct Publisher {
    sh: Rc<Shared>,
    k: u32,
    /// Messages this publisher sends in all (`-L` shared out), if limited.
    quota: Option<u64>,
    client: BenchClient,
    template: Rc<PublishTemplate>,
    schedule: Option<Schedule>,
    sent: u64,
    seq: u32,
}

impl Publisher {
    async fn connect(sh: Rc<Shared>, k: u32, quota: Option<u64>) -> Option<Publisher> {
        let id = client_id(&sh.s, k, Role::Pub).ok()?;
        let mut client = connect_counted(&sh, k, id, Role::Pub).await?;
        let s = &sh.s;
        let topic = &sh.pub_topics[k as usize];
        let props = &s.client.publish_properties;
        let template = match PublishTemplate::new(topic, s.qos, s.retain, props, s.client.version) {
            Ok(t) => t,
            Err(e) => {
                finish(&sh, &mut client, Err(Gone(Some(format!("PUBLISH: {e}"))))).await;
                return None;
            }
        };
        client.set_low_water(Some(BATCH_BYTES));
        Some(Publisher {
            sh,
            k,
            quota,
            client,
            template: Rc::new(template),
            schedule: None,
            sent: 0,
            seq: 0,
        })
    }

    /// Waits for the start, then publishes until the quota, the duration or a stop,
    /// and until every QoS 1/2 message is acknowledged and every byte written.
    async fn run(&mut self) -> Result<(), Gone> {
        let Some(go_ns) = self.wait_for_go().await? else {
            return Ok(());
        };
        let pubs = self.sh.pub_topics.len() as u64;
        self.schedule = self.sh.s.interval_ns.map(|iv| Schedule {
            // Publishers are spread evenly over one interval.
            start_ns: go_ns + iv * u64::from(self.k) / pubs.max(1),
            interval_ns: iv,
            next: 0,
        });
        let sh = self.sh.clone();
        loop {
            if sh.stop_all.get() {
                return Ok(());
            }
            if self.publishing() {
                self.fill().map_err(|e| Gone(Some(e)))?;
            }
            let publishing = self.publishing();
            let conn = self.client.connection();
            if !publishing && conn.in_flight() == 0 && conn.pending().is_empty() {
                return Ok(());
            }
            let next_at = self.next_at();
            let wake = sh.wake.notified();
            let first = tokio::select! {
                biased;
                r = self.client.next() => r?,
                _ = sleep_opt(next_at) => continue,
                _ = wake => continue,
            };
            self.take_events(first)?;
        }
    }

    /// Until `go` (every client connected): the time publishing starts, or `None`
    /// when the run stopped first. The connection is kept alive meanwhile.
    async fn wait_for_go(&mut self) -> Result<Option<u64>, Gone> {
        loop {
            let wake = self.sh.wake.notified();
            if let Some(t) = self.sh.go_ns.get() {
                return Ok(Some(t));
            }
            if self.sh.stop_all.get() {
                return Ok(None);
            }
            tokio::select! {
                r = self.client.next() => {
                    r?;
                }
                _ = wake => {}
            }
        }
    }

    /// Whether new messages are still to be sent.
    fn publishing(&self) -> bool {
        !self.sh.stop_publishing.get() && self.quota.is_none_or(|q| self.sent < q)
    }

    /// When to wake for the next message: the schedule's next due time while one may
    /// be sent. Unpaced, the driver's `Drained` is the signal.
    fn next_at(&mut self) -> Option<Instant> {
        let qos0 = self.sh.s.qos == QoS::AtMostOnce;
        if !self.publishing() || !(qos0 || self.client.connection().has_room()) {
            return None;
        }
        let s = self.schedule.as_ref()?;
        Some(self.sh.clock.instant_at(s.next_due()))
    }

    /// Queues the messages due now, until `BATCH_BYTES` wait to be written or the
    /// window is full. Counts them as sent.
    fn fill(&mut self) -> Result<(), String> {
        let sh = self.sh.clone();
        let now = sh.clock.now_ns();
        let mut due = self.quota.map_or(u64::MAX, |q| q - self.sent);
        if let Some(s) = &self.schedule {
            due = due.min(s.due_count(now));
        }
        let measure_from = sh.stats.borrow().measure_from_ns;
        let publisher = sh.s.start_number.wrapping_add(self.k);
        let qos0 = sh.s.qos == QoS::AtMostOnce;
        let (mut n, mut measured) = (0u64, 0u64);
        while n < due {
            let conn = self.client.connection();
            if conn.pending().len() >= BATCH_BYTES || !(qos0 || conn.has_room()) {
                break;
            }
            let sent_ns = match &self.schedule {
                Some(s) => Schedule::stamp(s.next_due(), now),
                None => now,
            };
            let msg = BenchMessage {
                template: self.template.clone(),
                header: Header {
                    publisher,
                    seq: self.seq,
                    sent_ns,
                },
                size: sh.s.size,
            };
            match conn.publish(msg) {
                Ok(_) => {}
                Err(PublishError::Encode(e, _)) => return Err(format!("PUBLISH: {e}")),
                // Room was checked and the connection is up while publishing.
                Err(PublishError::Full(_) | PublishError::NotConnected(_)) => break,
            }
            if let Some(s) = &mut self.schedule {
                s.take();
            }
            self.seq = self.seq.wrapping_add(1);
            n += 1;
            measured += u64::from(sent_ns >= measure_from);
        }
        if n > 0 {
            self.sent += n;
            let mut st = sh.stats.borrow_mut();
            st.last_sent_ns = now;
            st.sent += n;
            st.sent_measured += measured;
            st.sent_by_pub[self.k as usize] += n;
        }
        Ok(())
    }

    /// Takes `first` and every event already read, under one look at the clock.
    fn take_events(&mut self, first: Next<BenchMessage>) -> Result<(), Lost> {
        let sh = self.sh.clone();
        let now = sh.clock.now_ns();
        let mut st = sh.stats.borrow_mut();
        let mut next = Some(Ok(first));
        while let Some(r) = next {
            if let Next::Event(Event::Delivered(d)) = r? {
                acked(&mut st, &d, now);
            }
            next = self.client.next_buffered();
        }
        Ok(())
    }
}

/// The end of a QoS 1/2 handshake: acknowledged and timed from the message's due
/// time, or refused.
fn acked(st: &mut Stats, d: &Delivered<BenchMessage>, now: u64) {
    if !d.succeeded() {
        st.publish_errors += 1;
        return;
    }
    st.acked += 1;
    let due = d.msg.header.sent_ns;
    if due >= st.measure_from_ns {
        st.acked_measured += 1;
        st.ack_hist.saturating_record(now.saturating_sub(due));
    }
}

/// Starts `n` clients with `spawn`, at `--connect-rate` when given. Returns when all
/// are spawned (they connect on their own) or the run is stopped.
pub async fn launch<F, Fut>(
    sh: &Rc<Shared>,
    n: u32,
    mut spawn: F,
) -> Vec<tokio::task::JoinHandle<()>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let start = Instant::now();
    let mut handles = Vec::with_capacity(n as usize);
    for k in 0..n {
        if sh.stop_all.get() {
            break;
        }
        if sh.s.connect_rate > 0.0 {
            let at = start + Duration::from_secs_f64(f64::from(k) / sh.s.connect_rate);
            tokio::time::sleep_until(at.into()).await;
        } else if k % 64 == 63 {
            // Let the started clients make progress between bursts.
            tokio::task::yield_now().await;
        }
        handles.push(tokio::task::spawn_local(spawn(k)));
    }
    handles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_are_named_by_kind() {
        let io = |code| ConnectError::Io {
            source: std::io::Error::from_raw_os_error(code),
        };
        assert_eq!(error_kind(&io(libc::ECONNREFUSED)), "ECONNREFUSED");
        assert_eq!(
            error_kind(&io(libc::EADDRNOTAVAIL)),
            "EADDRNOTAVAIL (no free local port)"
        );
        assert_eq!(error_kind(&io(libc::EMFILE)), "EMFILE (fd limit)");
        assert_eq!(
            error_kind(&ConnectError::Timeout(Duration::from_secs(1))),
            "timeout"
        );
        assert_eq!(
            refused(ProtocolVersion::V5, 0x87),
            "CONNACK refused 0x87 (Not authorized)"
        );
    }

    /// A client core past CONNACK, as bench makes them.
    fn connected(version: ProtocolVersion) -> Connection<BenchMessage> {
        let now = Instant::now();
        let mut o = Options::new(version);
        o.max_inflight = 1;
        let mut c = Connection::new(o, now);
        let connect = Connect {
            version,
            clean_start: true,
            keep_alive: 0,
            properties: Properties::new(),
            client_id: "b".into(),
            will: None,
            username: None,
            password: None,
        };
        c.connect(&connect, now).unwrap();
        let n = c.pending().len();
        c.written(n, now);
        let connack: &[u8] = if version == ProtocolVersion::V5 {
            &[0x20, 0x03, 0x00, 0x00, 0x00]
        } else {
            &[0x20, 0x02, 0x00, 0x00]
        };
        c.read_buf().extend_from_slice(connack);
        c.on_read(connack.len());
        assert!(matches!(c.poll_event(now), Ok(Some(Event::Connected(_)))));
        c
    }

    #[test]
    fn a_bench_message_is_the_codec_publish_of_header_and_padding() {
        let mut props = Properties::new();
        props.push(
            codec::PropertyId::MessageExpiryInterval,
            codec::PropertyValue::FourByte(60),
        );
        let header = Header {
            publisher: 3,
            seq: 9,
            sent_ns: 1_700_000_000_000_000_000,
        };
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            for (qos, size) in [(QoS::AtMostOnce, 16), (QoS::AtLeastOnce, 40)] {
                let mut c = connected(version);
                let template = PublishTemplate::new("b/7", qos, true, &props, version).unwrap();
                let msg = BenchMessage {
                    template: Rc::new(template),
                    header,
                    size,
                };
                let pid = c.publish(msg).ok().unwrap();
                let mut payload = vec![0u8; size];
                header.write(&mut payload);
                let want = codec::Packet::Publish(Publish {
                    dup: false,
                    qos,
                    retain: true,
                    topic: "b/7".into(),
                    packet_id: pid,
                    properties: props.clone(),
                    payload: payload.into(),
                });
                let mut bytes = BytesMut::new();
                codec::encode(&want, version, &mut bytes).unwrap();
                assert_eq!(c.pending(), &bytes[..], "{version:?} {qos:?}");
                assert_eq!(
                    Header::read(&bytes[bytes.len() - size..], header.sent_ns),
                    Some(header)
                );
            }
        }
    }

    #[test]
    fn the_window_is_inflight_and_the_ack_gives_back_the_due_time() {
        let mut c = connected(ProtocolVersion::V311);
        let template = PublishTemplate::new(
            "t",
            QoS::AtLeastOnce,
            false,
            &Properties::new(),
            ProtocolVersion::V311,
        )
        .unwrap();
        let msg = |seq| BenchMessage {
            template: Rc::new(template.clone()),
            header: Header {
                publisher: 0,
                seq,
                sent_ns: 1000 + u64::from(seq),
            },
            size: 16,
        };
        assert_eq!(c.publish(msg(0)).ok(), Some(1));
        // `--inflight 1`: the second waits for the first's PUBACK.
        assert!(matches!(c.publish(msg(1)), Err(PublishError::Full(_))));
        c.read_buf().extend_from_slice(&[0x40, 0x02, 0x00, 0x01]);
        c.on_read(4);
        let mut st = Stats::new(1);
        st.measure_from_ns = 0;
        match c.poll_event(Instant::now()) {
            Ok(Some(Event::Delivered(d))) => acked(&mut st, &d, 1500),
            other => panic!("expected the PUBACK, got {other:?}"),
        }
        assert_eq!(
            (st.acked, st.acked_measured, st.ack_hist.max()),
            (1, 1, 500)
        );
        assert!(c.has_room());
    }
}
