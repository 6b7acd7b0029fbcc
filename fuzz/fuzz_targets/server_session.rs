//! Fuzz target for the broker's server session: sequences of packets from up to three
//! clients, framed by the codec and fed to `broker::server` over the real `Shared` hub
//! (routing, subscriptions, retained messages, sessions, wills), with no sockets and no
//! runtime. Whatever the input, nothing may panic, and every byte the broker would
//! write must decode as MQTT in the client's protocol version.
//!
//! Input layout: byte 0 sets limits (bit 0: max_inflight_messages 2, bit 1:
//! max_queued_messages 3, bit 2: max_keepalive 5, bit 3: max_packet_size 64), then
//! chunks of [client (mod 3), time step in seconds, length, bytes…]. A client's bytes
//! accumulate until they make whole packets; its first packet opens the connection.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run server_session` (see fuzz/README.md).

#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtk::broker::config::{Config, LogDest};
use mqtk::broker::server::{self, End, Opening, Outbound, ServerSession};
use mqtk::broker::shared::Shared;
use mqtk::codec::{self, ProtocolVersion};

/// One client: its unframed input, and once connected its session and writer half.
#[derive(Default)]
struct Client {
    input: BytesMut,
    conn: Option<(ServerSession<Shared>, Outbound<Shared>)>,
    /// The connection closed: later bytes for this slot open a new one.
    closed: bool,
}

fn config(knobs: u8) -> Config {
    let mut c = Config::default();
    c.log.dest = LogDest::None;
    if knobs & 1 != 0 {
        c.max_inflight_messages = 2;
    }
    if knobs & 2 != 0 {
        c.max_queued_messages = 3;
    }
    if knobs & 4 != 0 {
        c.max_keepalive = 5;
    }
    if knobs & 8 != 0 {
        c.max_packet_size = 64;
    }
    c
}

/// Takes what the broker would write to this client and checks it is valid MQTT.
fn written(out: &mut Outbound<Shared>, version: ProtocolVersion, now: Instant, closing: bool) {
    let mut buf = BytesMut::new();
    out.fill(&mut buf, now, closing);
    while !buf.is_empty() {
        match codec::decode(&mut buf, version, usize::MAX) {
            Ok(Some(_)) => {}
            other => panic!("the broker wrote bytes that do not decode: {other:?}"),
        }
    }
}

/// Ends a connection as `conn` does: close, last packets out, detach, timers fired now.
fn end(client: &mut Client, why: End, now: Instant) {
    let Some((mut s, mut out)) = client.conn.take() else {
        return;
    };
    let version = s.version();
    s.close(&why);
    written(&mut out, version, now, true);
    for job in s.detach() {
        job.fire();
    }
    client.closed = true;
}

/// Feeds a client's complete packets to the broker.
fn feed(shared: &Arc<Shared>, client: &mut Client, now: Instant) {
    let max = server::max_packet(&shared.config);
    loop {
        let version = client
            .conn
            .as_ref()
            .map_or(ProtocolVersion::V311, |(s, _)| s.version());
        let packet = match codec::decode(&mut client.input, version, max) {
            Ok(Some(p)) => Ok(p),
            Ok(None) => return,
            Err(e) => Err(e),
        };
        let Some((s, _)) = client.conn.as_mut() else {
            if client.closed {
                client.input.clear();
                return;
            }
            match server::connect::open(shared, packet, "fuzz") {
                Opening::Accepted(s) => {
                    let out = s.outbound();
                    client.conn = Some((s, out));
                }
                Opening::Refused { .. } => {
                    client.closed = true;
                    client.input.clear();
                    return;
                }
            }
            continue;
        };
        let why = match packet {
            Ok(p) => s.handle(p, now),
            Err(e) => Some(End::Malformed(e)),
        };
        if let Some(why) = why {
            end(client, why, now);
            client.input.clear();
            return;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, mut rest)) = data.split_first() else {
        return;
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let shared = Arc::new(Shared::new(
        Arc::new(config(knobs)),
        Arc::new(Default::default()),
        rx,
    ));
    let mut clients: [Client; 3] = Default::default();
    let mut now = Instant::now();
    while let [who, step, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        rest = next;
        now += Duration::from_secs(u64::from(*step % 8));
        let client = &mut clients[usize::from(*who % 3)];
        if client.closed && client.conn.is_none() {
            // A new connection in this slot.
            *client = Client::default();
        }
        client.input.extend_from_slice(bytes);
        feed(&shared, client, now);
        for c in clients.iter_mut() {
            if let Some((s, out)) = c.conn.as_mut() {
                written(out, s.version(), now, false);
            }
        }
    }
    for c in clients.iter_mut() {
        end(c, End::Closed, now);
    }
});
