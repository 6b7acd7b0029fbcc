//! The load: lean client loops on one thread (a current-thread runtime and a
//! `LocalSet`), sharing one `Stats` without locks. An idle connection is a small task
//! (the connect handshake runs boxed, so its state is freed once connected) with a
//! read buffer that grows only when data comes, so tens of thousands fit in a few
//! KiB each. Publishers write pre-encoded PUBLISH packets in batches; subscribers
//! decode with the shared codec and time each read once.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::cmd::bench::stats::{Clock, HEADER_LEN, Header, Schedule, SeqTracker, new_histogram};
use crate::cmd::bench::template::{self, Vars};
use crate::cmd::bench::{BenchSettings, Mode};
use crate::codec::{
    self, Connect, Disconnect, Packet, PropertyId, ProtocolVersion, PubAck, PubComp, PubRec,
    PubRel, Publish, QoS, ReasonCode, Subscribe, SubscribeFilter, SubscriptionOptions,
};
use crate::transport::{BoxedStream, ConnectError};

/// Connection handshakes in progress at once, so that a ramp without `--connect-rate`
/// does not overflow the broker's listen backlog (dropped SYNs come back after a
/// second and would show up as connect latency that is ours, not the broker's).
const MAX_CONCURRENT_CONNECTS: usize = 256;
/// Bytes of PUBLISH packets a publisher writes at once when it is behind or unpaced.
const BATCH_BYTES: usize = 64 * 1024;
/// The largest packet we accept (MQTT's own limit).
const MAX_PACKET: usize = codec::MAX_REMAINING_LENGTH + 5;

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
    /// QoS 1/2 messages sent and not yet acknowledged, over all publishers.
    pub inflight: u64,
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
            inflight: 0,
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
        let (pubs, subs) = match s.mode {
            Mode::PubSub => (s.clients, s.subscribers),
            Mode::Pub => (s.clients, 0),
            Mode::Sub => (0, s.clients),
            Mode::Conn => (0, 0),
        };
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
                .map_err(|_| crate::topic::invalid_publish_topic_message(&topic))?;
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
            crate::topic::validate_filter(&filter)
                .map_err(|_| crate::topic::invalid_subscription_topic_message(&filter))?;
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

/// A connected, accepted client.
struct Conn {
    stream: BoxedStream,
    rbuf: BytesMut,
    version: ProtocolVersion,
    /// v5 CONNACK's receive maximum (3.3.4 flow control), else 65,535.
    receive_max: u16,
}

/// TCP (or TLS, WebSocket, …) connect, CONNECT, CONNACK; bounded by the connect
/// timeout. Boxed by the caller so its state does not stay in the task.
async fn handshake(sh: &Shared, slot: u32, client_id: String) -> Result<Conn, String> {
    let s = &sh.s;
    let prepared = &s.prepared[slot as usize % s.prepared.len()];
    let c = &s.client;
    let work = async {
        let mut stream = crate::transport::open(prepared)
            .await
            .map_err(|e| error_kind(&e))?;
        let mut buf = BytesMut::with_capacity(64);
        let connect = Packet::Connect(Connect {
            version: c.version,
            clean_start: c.clean_start,
            keep_alive: c.keep_alive,
            properties: c.connect_properties.clone(),
            client_id,
            will: c.will.clone(),
            username: c.username.clone(),
            password: c.password.clone(),
        });
        codec::encode(&connect, c.version, &mut buf).map_err(|e| format!("CONNECT: {e}"))?;
        stream.write_all(&buf).await.map_err(|e| io_kind(&e))?;
        buf.clear();
        loop {
            match codec::decode(&mut buf, c.version, MAX_PACKET) {
                Ok(Some(Packet::ConnAck(ack))) => {
                    if ack.code != 0 {
                        return Err(refused(c.version, ack.code));
                    }
                    let receive_max = ack
                        .properties
                        .get_int(PropertyId::ReceiveMaximum)
                        .map(|v| v.clamp(1, 65535) as u16)
                        .unwrap_or(65535);
                    buf.clear();
                    return Ok(Conn {
                        stream,
                        rbuf: BytesMut::new(),
                        version: c.version,
                        receive_max,
                    });
                }
                Ok(Some(other)) => return Err(format!("unexpected {other:?} before CONNACK")),
                Ok(None) => {}
                Err(e) => return Err(format!("bad CONNACK: {e}")),
            }
            buf.reserve(64);
            match stream.read_buf(&mut buf).await {
                Ok(0) => return Err("closed before CONNACK".into()),
                Ok(_) => {}
                Err(e) => return Err(io_kind(&e)),
            }
        }
    };
    match tokio::time::timeout(s.connect_timeout, work).await {
        Ok(r) => r,
        Err(_) => Err("timeout".into()),
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
async fn connect_counted(sh: &Shared, slot: u32, client_id: String) -> Option<Conn> {
    // Waiting clients queue here in order, without polling.
    let Ok(_slot) = sh.connect_slots.acquire().await else {
        return None;
    };
    if sh.stop_all.get() {
        return None;
    }
    sh.stats.borrow_mut().connecting += 1;
    let t0 = Instant::now();
    let r = Box::pin(handshake(sh, slot, client_id)).await;
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

/// A connection that was up went down.
fn lost(sh: &Shared) {
    let mut st = sh.stats.borrow_mut();
    st.connected -= 1;
    if !sh.stop_all.get() {
        st.disconnects += 1;
    }
}

/// Closes cleanly (DISCONNECT) after the run; best effort, bounded.
async fn goodbye<W: AsyncWrite + Unpin>(w: &mut W, version: ProtocolVersion) {
    let mut buf = BytesMut::with_capacity(8);
    let d = Packet::Disconnect(Disconnect {
        reason: ReasonCode::SUCCESS,
        properties: Default::default(),
    });
    if codec::encode(&d, version, &mut buf).is_ok() {
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            let _ = w.write_all(&buf).await;
            let _ = w.shutdown().await;
        })
        .await;
    }
}

fn ping(buf: &mut BytesMut, version: ProtocolVersion) {
    let _ = codec::encode(&Packet::PingReq, version, buf);
}

/// Sleeps until `at`, or forever for `None`.
async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

fn keepalive_timer(keep_alive: u16) -> Option<tokio::time::Interval> {
    (keep_alive > 0).then(|| {
        let every = Duration::from_secs(u64::from(keep_alive));
        tokio::time::interval_at(tokio::time::Instant::now() + every, every)
    })
}

async fn tick(t: &mut Option<tokio::time::Interval>) {
    match t {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Reads more into `buf`, growing it only as traffic needs: an idle connection keeps
/// a tiny buffer, a busy one reads up to 64 KiB at a time.
async fn read_more<R: AsyncRead + Unpin>(r: &mut R, buf: &mut BytesMut, want: &mut usize) -> bool {
    if buf.capacity() - buf.len() < *want / 2 {
        buf.reserve(*want);
    }
    let room = buf.capacity() - buf.len();
    match r.read_buf(buf).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            if n >= room && *want < 64 * 1024 {
                *want *= 2;
            }
            true
        }
    }
}

/// An idle connection for `bench conn`: pings at the keep-alive interval until the end.
pub async fn idle_conn(sh: Rc<Shared>, k: u32) {
    let Ok(id) = client_id(&sh.s, k, Role::Conn) else {
        return;
    };
    let Some(mut conn) = connect_counted(&sh, k, id).await else {
        return;
    };
    let mut ka = keepalive_timer(sh.s.client.keep_alive);
    let mut want = 64;
    loop {
        if sh.stop_all.get() {
            goodbye(&mut conn.stream, conn.version).await;
            sh.stats.borrow_mut().connected -= 1;
            return;
        }
        let wake = sh.wake.notified();
        tokio::select! {
            ok = read_more(&mut conn.stream, &mut conn.rbuf, &mut want) => {
                if !ok {
                    lost(&sh);
                    return;
                }
                // PINGRESP and anything else: consumed and dropped.
                while let Ok(Some(_)) = codec::decode(&mut conn.rbuf, conn.version, MAX_PACKET) {}
                if conn.rbuf.is_empty() && conn.rbuf.capacity() > 4096 {
                    conn.rbuf = BytesMut::new();
                }
            }
            _ = tick(&mut ka) => {
                let mut b = BytesMut::with_capacity(2);
                ping(&mut b, conn.version);
                if conn.stream.write_all(&b).await.is_err() {
                    lost(&sh);
                    return;
                }
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
    let Some(mut conn) = connect_counted(&sh, k, id).await else {
        return;
    };
    let version = conn.version;
    let mut wbuf = BytesMut::new();
    let sub = Packet::Subscribe(Subscribe {
        packet_id: 1,
        properties: sh.s.client.subscribe_properties.clone(),
        filters: vec![SubscribeFilter {
            filter: sh.sub_filters[k as usize].clone(),
            options: SubscriptionOptions {
                qos: sh.s.qos,
                ..Default::default()
            },
        }],
    });
    if let Err(e) = codec::encode(&sub, version, &mut wbuf) {
        sh.stats.borrow_mut().error(format!("SUBSCRIBE: {e}"));
        lost(&sh);
        return;
    }
    if conn.stream.write_all(&wbuf).await.is_err() {
        lost(&sh);
        return;
    }
    wbuf.clear();
    let mut subscribed = false;
    let mut ka = keepalive_timer(sh.s.client.keep_alive);
    let mut want = 256;
    let key_base = u64::from(k) << 32;
    loop {
        if sh.stop_all.get() {
            goodbye(&mut conn.stream, version).await;
            sh.stats.borrow_mut().connected -= 1;
            return;
        }
        let wake = sh.wake.notified();
        tokio::select! {
            biased;
            ok = read_more(&mut conn.stream, &mut conn.rbuf, &mut want) => {
                if !ok {
                    lost(&sh);
                    return;
                }
                let now = sh.clock.now_ns();
                let mut st = sh.stats.borrow_mut();
                loop {
                    let p = match codec::decode(&mut conn.rbuf, version, MAX_PACKET) {
                        Ok(Some(p)) => p,
                        Ok(None) => break,
                        Err(e) => {
                            st.error(format!("bad packet from broker: {e}"));
                            drop(st);
                            lost(&sh);
                            return;
                        }
                    };
                    match p {
                        // A retained message sent because we subscribed (RETAIN set,
                        // 3.1.1 §3.3.1.3) is an earlier run's: acknowledged, not counted.
                        Packet::Publish(p) if p.retain => {
                            if let Some(a) = ack_for(&p) {
                                let _ = codec::encode(&a, version, &mut wbuf);
                            }
                        }
                        Packet::Publish(p) => {
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
                            let ack = ack_for(&p);
                            if let Some(a) = ack {
                                let _ = codec::encode(&a, version, &mut wbuf);
                            }
                        }
                        Packet::PubRel(r) => {
                            let c = Packet::PubComp(PubComp {
                                packet_id: r.packet_id,
                                reason: ReasonCode::SUCCESS,
                                properties: Default::default(),
                            });
                            let _ = codec::encode(&c, version, &mut wbuf);
                        }
                        Packet::SubAck(a) if !subscribed => {
                            subscribed = true;
                            match a.reasons.first() {
                                Some(r) if r.0 < 0x80 => st.subscribed += 1,
                                Some(r) => {
                                    let text = if version == ProtocolVersion::V5 {
                                        r.description().to_string()
                                    } else {
                                        "failure".to_string()
                                    };
                                    st.error(format!("SUBACK refused 0x{:02x} ({text})", r.0));
                                    drop(st);
                                    lost(&sh);
                                    sh.wake.notify_waiters();
                                    return;
                                }
                                None => st.subscribed += 1,
                            }
                            drop(st);
                            sh.wake.notify_waiters();
                            st = sh.stats.borrow_mut();
                        }
                        Packet::Disconnect(d) => {
                            st.error(format!("DISCONNECT from broker 0x{:02x}", d.reason.0));
                            drop(st);
                            lost(&sh);
                            return;
                        }
                        _ => {}
                    }
                }
            }
            _ = tick(&mut ka) => ping(&mut wbuf, version),
            _ = wake => {}
        }
        if !wbuf.is_empty() {
            if conn.stream.write_all(&wbuf).await.is_err() {
                lost(&sh);
                return;
            }
            wbuf.clear();
        }
    }
}

/// The subscriber's answer to a QoS 1/2 PUBLISH (3.1.1 §4.3).
fn ack_for(p: &Publish) -> Option<Packet> {
    match p.qos {
        QoS::AtMostOnce => None,
        QoS::AtLeastOnce => Some(Packet::PubAck(PubAck {
            packet_id: p.packet_id,
            reason: ReasonCode::SUCCESS,
            properties: Default::default(),
        })),
        QoS::ExactlyOnce => Some(Packet::PubRec(PubRec {
            packet_id: p.packet_id,
            reason: ReasonCode::SUCCESS,
            properties: Default::default(),
        })),
    }
}

/// A PUBLISH packet encoded once, with the offsets to patch per message.
struct PublishTemplate {
    bytes: Vec<u8>,
    /// Where the payload starts.
    payload_off: usize,
    /// Where the packet id is (QoS 1/2).
    pid_off: Option<usize>,
}

fn publish_template(
    sh: &Shared,
    k: u32,
    version: ProtocolVersion,
) -> Result<PublishTemplate, String> {
    let s = &sh.s;
    let topic = &sh.pub_topics[k as usize];
    let p = Packet::Publish(Publish {
        dup: false,
        qos: s.qos,
        retain: s.retain,
        topic: topic.clone(),
        packet_id: if s.qos == QoS::AtMostOnce { 0 } else { 1 },
        properties: s.client.publish_properties.clone(),
        payload: vec![0u8; s.size].into(),
    });
    let mut buf = BytesMut::new();
    codec::encode(&p, version, &mut buf).map_err(|e| format!("PUBLISH: {e}"))?;
    let bytes = buf.to_vec();
    // After the fixed header (3.1.1 §2.2), the variable header starts with the topic
    // (2-byte length + bytes), then the packet id for QoS > 0 (3.1.1 §3.3.2).
    let Ok(Some((_, _, header_len))) = codec::wire::parse_fixed_header(&bytes) else {
        return Err("PUBLISH template: bad fixed header".into());
    };
    let pid_off = (s.qos != QoS::AtMostOnce).then_some(header_len + 2 + topic.len());
    if let Some(off) = pid_off
        && bytes.get(off..off + 2) != Some(&[0, 1][..])
    {
        return Err("PUBLISH template: packet id not where expected".into());
    }
    Ok(PublishTemplate {
        payload_off: bytes.len() - s.size,
        bytes,
        pid_off,
    })
}

/// Publisher k: waits for the start, then sends on its schedule (or as fast as the
/// connection takes), tracking QoS 1/2 acks in a window of `--inflight`.
pub async fn publisher(sh: Rc<Shared>, k: u32, quota: Option<u64>) {
    let done = |sh: &Shared| {
        sh.stats.borrow_mut().pubs_done += 1;
        sh.wake.notify_waiters();
    };
    let Ok(id) = client_id(&sh.s, k, Role::Pub) else {
        done(&sh);
        return;
    };
    let Some(conn) = connect_counted(&sh, k, id).await else {
        done(&sh);
        return;
    };
    let version = conn.version;
    let tpl = match publish_template(&sh, k, version) {
        Ok(t) => t,
        Err(e) => {
            sh.stats.borrow_mut().error(e);
            lost(&sh);
            done(&sh);
            return;
        }
    };
    // Wait for the start (every client connected).
    let go_ns = loop {
        let wake = sh.wake.notified();
        if let Some(t) = sh.go_ns.get() {
            break t;
        }
        if sh.stop_all.get() {
            lost(&sh);
            done(&sh);
            return;
        }
        wake.await;
    };
    let (mut rd, mut wr) = tokio::io::split(conn.stream);
    let mut rbuf = conn.rbuf;
    let mut want = 64;
    let qos = sh.s.qos;
    let window = if qos == QoS::AtMostOnce {
        usize::MAX
    } else {
        usize::from(sh.s.inflight.min(conn.receive_max).max(1))
    };
    let mut inflight: HashMap<u16, u64> = HashMap::new();
    let mut next_pid: u16 = 0;
    let pubs = sh.pub_topics.len() as u64;
    let mut schedule = sh.s.interval_ns.map(|iv| Schedule {
        // Publishers are spread evenly over one interval.
        start_ns: go_ns + iv * u64::from(k) / pubs.max(1),
        interval_ns: iv,
        next: 0,
    });
    let per_batch = (BATCH_BYTES / tpl.bytes.len()).max(1) as u64;
    let mut sent: u64 = 0;
    let mut seq: u32 = 0;
    let mut wbuf = BytesMut::new();
    let mut ka = keepalive_timer(sh.s.client.keep_alive);
    let mut failed = false;
    loop {
        if sh.stop_all.get() {
            break;
        }
        let publishing = !sh.stop_publishing.get() && quota.is_none_or(|q| sent < q);
        if !publishing && inflight.is_empty() {
            break;
        }
        let now = sh.clock.now_ns();
        if publishing {
            let mut n = per_batch.min(quota.map_or(u64::MAX, |q| q - sent));
            n = n.min(window.saturating_sub(inflight.len()) as u64);
            if let Some(s) = &schedule {
                n = n.min(s.due_count(now));
            }
            if n > 0 {
                let mut st = sh.stats.borrow_mut();
                let measure_from = st.measure_from_ns;
                let mut measured = 0;
                wbuf.reserve(tpl.bytes.len() * n as usize);
                for _ in 0..n {
                    let due = match &mut schedule {
                        Some(s) => Schedule::stamp(s.take(), now),
                        None => now,
                    };
                    let start = wbuf.len();
                    wbuf.extend_from_slice(&tpl.bytes);
                    Header {
                        publisher: sh.s.start_number.wrapping_add(k),
                        seq,
                        sent_ns: due,
                    }
                    .write(
                        &mut wbuf[start + tpl.payload_off..start + tpl.payload_off + HEADER_LEN],
                    );
                    if let Some(off) = tpl.pid_off {
                        loop {
                            next_pid = next_pid.wrapping_add(1).max(1);
                            if !inflight.contains_key(&next_pid) {
                                break;
                            }
                        }
                        wbuf[start + off..start + off + 2].copy_from_slice(&next_pid.to_be_bytes());
                        inflight.insert(next_pid, due);
                    }
                    seq = seq.wrapping_add(1);
                    if due >= measure_from {
                        measured += 1;
                    }
                }
                sent += n;
                st.last_sent_ns = now;
                st.sent += n;
                st.sent_measured += measured;
                st.sent_by_pub[k as usize] += n;
                if qos != QoS::AtMostOnce {
                    st.inflight += n;
                }
            }
        }
        if !wbuf.is_empty() {
            if wr.write_all(&wbuf).await.is_err() {
                failed = true;
                break;
            }
            wbuf.clear();
            if wbuf.capacity() > 4 * BATCH_BYTES {
                wbuf = BytesMut::new();
            }
        }
        // What to wait for: the next due message, or nothing while the window is full
        // or publishing is over (then only acks, pings and the stop).
        let more = !sh.stop_publishing.get() && quota.is_none_or(|q| sent < q);
        if !more && inflight.is_empty() {
            break;
        }
        let can_send = more && inflight.len() < window;
        let next_at = if !can_send {
            None
        } else {
            match &schedule {
                Some(s) => Some(sh.clock.instant_at(s.next_due())),
                None => Some(Instant::now()),
            }
        };
        let wake = sh.wake.notified();
        tokio::select! {
            biased;
            ok = read_more(&mut rd, &mut rbuf, &mut want) => {
                if !ok {
                    failed = true;
                    break;
                }
                let now = sh.clock.now_ns();
                let mut st = sh.stats.borrow_mut();
                loop {
                    let p = match codec::decode(&mut rbuf, version, MAX_PACKET) {
                        Ok(Some(p)) => p,
                        Ok(None) => break,
                        Err(e) => {
                            st.error(format!("bad packet from broker: {e}"));
                            failed = true;
                            break;
                        }
                    };
                    let finished = match p {
                        Packet::PubAck(a) if qos == QoS::AtLeastOnce => Some((a.packet_id, a.reason)),
                        Packet::PubComp(c) if qos == QoS::ExactlyOnce => Some((c.packet_id, c.reason)),
                        Packet::PubRec(r) if qos == QoS::ExactlyOnce => {
                            if r.reason.0 >= 0x80 {
                                Some((r.packet_id, r.reason))
                            } else {
                                let rel = Packet::PubRel(PubRel {
                                    packet_id: r.packet_id,
                                    reason: ReasonCode::SUCCESS,
                                    properties: Default::default(),
                                });
                                let _ = codec::encode(&rel, version, &mut wbuf);
                                None
                            }
                        }
                        Packet::Disconnect(d) => {
                            st.error(format!("DISCONNECT from broker 0x{:02x}", d.reason.0));
                            failed = true;
                            None
                        }
                        _ => None,
                    };
                    if let Some((pid, reason)) = finished
                        && let Some(due) = inflight.remove(&pid)
                    {
                        st.inflight -= 1;
                        if reason.0 >= 0x80 {
                            st.publish_errors += 1;
                        } else {
                            st.acked += 1;
                            if due >= st.measure_from_ns {
                                st.acked_measured += 1;
                                st.ack_hist.saturating_record(now.saturating_sub(due));
                            }
                        }
                    }
                }
                if failed {
                    break;
                }
            }
            _ = sleep_opt(next_at) => {}
            _ = tick(&mut ka) => ping(&mut wbuf, version),
            _ = wake => {}
        }
    }
    if !inflight.is_empty() {
        sh.stats.borrow_mut().inflight -= inflight.len() as u64;
    }
    if failed {
        lost(&sh);
    } else {
        let _ = wr.write_all(&wbuf).await;
        goodbye(&mut wr, version).await;
        sh.stats.borrow_mut().connected -= 1;
    }
    done(&sh);
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
}
