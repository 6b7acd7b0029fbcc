//! The limit probes: the longest topic, the most topic levels, the longest client id,
//! the largest payload, the keepalive granted. Each is a bisection with a bounded
//! number of attempts (`bisect`): the ceiling is tried first (a broker without a limit
//! costs one attempt), then the floor, then halves, one attempt at a time. An attempt
//! that the broker refuses by disconnecting costs a new connection, paced like all.

use bytes::Bytes;
use serde_json::Value;

use crate::cmd::check::link::{Fail, Link, Opts};
use crate::cmd::check::probe::{Ctx, Probe, Step, Verdict, granted, message};
use crate::codec::{self, Packet, PropertyId, ProtocolVersion, QoS};

/// MQTT's longest string (topic, client id): 65,535 bytes (5.0 §1.5.4).
const MAX_STRING: u64 = 65_535;
/// The most attempts a search makes (2 + log2 of the largest range, with room).
const MAX_ATTEMPTS: u32 = 40;
/// The most topic levels `max-topic-levels` tries. 65,535 bytes hold 32,000 levels,
/// but real topics have a handful, and brokers that walk a topic level by level may
/// recurse per level (this one once did not survive 8,192): politeness first.
/// mosquitto and the embedded broker stop at 201 (200 '/').
const LEVELS_CEILING: u64 = 1024;
/// The smallest client id length every broker must take (3.1.1 §3.1.3.1).
const MIN_CLIENT_ID: u64 = 23;

/// A limit found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub value: u64,
    /// The ceiling itself got through: the real limit may be higher.
    pub ceiling: bool,
}

/// The largest `n` in `lo..=hi` for which `ok(n)` holds, trying `hi` first, then `lo`
/// (`None` when even `lo` fails), then `hint` and `hint + 1` (a limit the broker
/// announced) and, if those hold, steps of 1, 2, 4… above, then halves. At most
/// `MAX_ATTEMPTS` attempts.
pub async fn bisect(
    lo: u64,
    hi: u64,
    hint: Option<u64>,
    mut ok: impl AsyncFnMut(u64) -> Probe<bool>,
) -> Probe<Option<Found>> {
    if ok(hi).await? {
        return Ok(Some(Found {
            value: hi,
            ceiling: true,
        }));
    }
    if lo >= hi || !ok(lo).await? {
        return Ok(None);
    }
    let (mut good, mut bad) = (lo, hi);
    let mut attempts = 2;
    for h in hint.into_iter().flat_map(|h| [h, h + 1]) {
        if h > good && h < bad {
            attempts += 1;
            if ok(h).await? {
                good = h;
            } else {
                bad = h;
            }
        }
    }
    // A hint that held: the limit is likely just above it, so step up from there,
    // doubling, before halving what is left.
    if hint.is_some_and(|h| good >= h) {
        let mut step = 1;
        while good + step < bad && attempts < MAX_ATTEMPTS {
            attempts += 1;
            if !ok(good + step).await? {
                bad = good + step;
                break;
            }
            good += step;
            step *= 2;
        }
    }
    while bad - good > 1 && attempts < MAX_ATTEMPTS {
        attempts += 1;
        let mid = good + (bad - good) / 2;
        if ok(mid).await? {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Ok(Some(Found {
        value: good,
        ceiling: false,
    }))
}

/// The verdict for a search in `unit`s: what got through, and what did not.
fn limit_verdict(found: Option<Found>, lo: u64, unit: &str, ceiling_is: &str) -> Verdict {
    match found {
        None => Verdict::unsupported(format!("even {lo} {unit} did not get through")),
        Some(f) if f.ceiling => {
            let mut v =
                Verdict::supported(format!("{} {unit} ({ceiling_is}) got through", f.value))
                    .value(f.value);
            v.ceiling = true;
            v
        }
        Some(f) => Verdict::supported(format!(
            "{} {unit} got through, {} did not",
            f.value,
            f.value + 1
        ))
        .value(f.value),
    }
}

/// One connection kept across the attempts of a search (replaced when the broker
/// drops it), subscribed to a marker topic and to `subs`.
struct Prober<'a> {
    ctx: &'a Ctx,
    link: Option<Link>,
    marker: String,
    subs: Vec<String>,
}

impl<'a> Prober<'a> {
    fn new(ctx: &'a Ctx, name: &str, subs: Vec<String>) -> Prober<'a> {
        Prober {
            ctx,
            link: None,
            marker: ctx.topic(&format!("{name}-marker")),
            subs,
        }
    }

    async fn link(&mut self) -> Probe<&mut Link> {
        if self.link.is_none() {
            let mut l = self.ctx.link().await?;
            for t in std::iter::once(&self.marker).chain(&self.subs) {
                granted(l.sub(t, QoS::AtLeastOnce).await.setup()?, "SUBACK")?;
            }
            self.link = Some(l);
        }
        Ok(self.link.as_mut().expect("set above"))
    }

    /// Whether a message on `topic` (subscribed to for the attempt when `subscribe`)
    /// gets through: accepted and delivered before the marker. A refusal or a
    /// disconnection is a "no"; the next attempt gets a new connection.
    async fn delivers(&mut self, topic: &str, payload: Bytes, subscribe: bool) -> Probe<bool> {
        let marker = self.marker.clone();
        let link = self.link().await?;
        match attempt(link, topic, payload, &marker, subscribe).await {
            Ok(ok) => Ok(ok),
            Err(Fail::Refused(..) | Fail::Lost(_)) => {
                self.link = None;
                Ok(false)
            }
            Err(f) => Err(f).setup(),
        }
    }

    async fn close(self) {
        if let Some(l) = self.link {
            l.disconnect().await;
        }
    }
}

async fn attempt(
    link: &mut Link,
    topic: &str,
    payload: Bytes,
    marker: &str,
    subscribe: bool,
) -> Result<bool, Fail> {
    if subscribe && link.sub(topic, QoS::AtLeastOnce).await?.is_error() {
        return Ok(false);
    }
    let len = payload.len();
    let rc = link
        .publish(message(topic, QoS::AtLeastOnce, false, payload))
        .await?;
    let mut ok = !rc.is_error();
    if ok {
        link.publish(message(marker, QoS::AtLeastOnce, false, "marker"))
            .await?;
        ok = false;
        loop {
            let p = link.next_message("marker message").await?;
            if p.topic == marker {
                break;
            }
            ok |= p.topic == topic && p.payload.len() == len;
        }
    }
    if subscribe {
        link.unsubscribe(topic).await?;
        link.forget_messages();
    }
    Ok(ok)
}

/// `max-topic-length`: topics `<prefix>/topic-length/xxx…` of every length.
pub async fn topic_length(ctx: &Ctx) -> Probe {
    let base = ctx.topic("topic-length/");
    let lo = base.len() as u64 + 1;
    let mut p = Prober::new(ctx, "topic-length", Vec::new());
    let found = bisect(lo, MAX_STRING, None, async |n| {
        let topic = format!("{base}{}", "x".repeat(n as usize - base.len()));
        p.delivers(&topic, Bytes::from_static(b"t"), true).await
    })
    .await?;
    p.close().await;
    Ok(limit_verdict(found, lo, "bytes", "MQTT's maximum"))
}

/// `max-topic-levels`: topics `<prefix>/topic-levels/l/l/…`, counted in levels.
pub async fn topic_levels(ctx: &Ctx) -> Probe {
    let base = ctx.topic("topic-levels");
    let base_levels = base.split('/').count() as u64;
    let lo = base_levels + 1;
    // Each further level is "/l" (65,535 bytes hold more than the ceiling).
    let hi = LEVELS_CEILING.min(base_levels + (MAX_STRING - base.len() as u64) / 2);
    let mut p = Prober::new(ctx, "topic-levels", Vec::new());
    let found = bisect(lo, hi, None, async |n| {
        let topic = format!("{base}{}", "/l".repeat((n - base_levels) as usize));
        p.delivers(&topic, Bytes::from_static(b"t"), true).await
    })
    .await?;
    p.close().await;
    Ok(limit_verdict(found, lo, "levels", "the probe's ceiling"))
}

/// `max-client-id-length`: connections with ids padded to every length.
pub async fn client_id_length(ctx: &Ctx) -> Probe {
    // Room for the run's ids and their numbers.
    let lo = MIN_CLIENT_ID.max(ctx.id_base().len() as u64 + 6);
    let found = bisect(lo, MAX_STRING, None, async |n| {
        let mut id = ctx.id();
        id.push_str(&"x".repeat((n as usize).saturating_sub(id.len())));
        match Link::open(&ctx.net, &Opts::clean(ctx.version, id)).await {
            Ok((l, _)) => {
                l.disconnect().await;
                Ok(true)
            }
            Err(Fail::Refused(..) | Fail::Lost(_)) => Ok(false),
            Err(f) => Err(f).setup(),
        }
    })
    .await?;
    Ok(limit_verdict(found, lo, "bytes", "MQTT's maximum"))
}

/// The size of the PUBLISH `payload` sends with `len` payload bytes: the encoded
/// header, and the remaining length's own bytes as they grow.
fn publish_size(topic: &str, len: u64, version: ProtocolVersion) -> u64 {
    let mut p = message(topic, QoS::AtLeastOnce, false, Bytes::new());
    p.packet_id = 1;
    let mut buf = bytes::BytesMut::new();
    // A topic of ours always encodes.
    let _ = codec::encode(&Packet::Publish(p), version, &mut buf);
    let empty = buf.len() as u64;
    let rest = empty - 1 - varint_len(empty - 2);
    let remaining = rest + len;
    1 + varint_len(remaining) + remaining
}

/// Bytes of a variable byte integer (5.0 §1.5.5). `empty - 2` above stays in the
/// one-byte range for our topics, so its length is exact.
fn varint_len(n: u64) -> u64 {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// The largest payload whose PUBLISH is at most `max` bytes.
fn payload_for(topic: &str, max: u64, version: ProtocolVersion) -> u64 {
    let mut n = max.saturating_sub(publish_size(topic, 0, version));
    while n > 0 && publish_size(topic, n, version) > max {
        n -= 1;
    }
    n
}

/// `max-payload`: payloads of every size up to `--max-payload`, on one subscribed
/// topic; compared with the announced Maximum Packet Size by the PUBLISH's size.
pub async fn payload(ctx: &Ctx) -> Probe {
    let topic = ctx.topic("payload");
    let announced = ctx.announced_int(PropertyId::MaximumPacketSize);
    let hint = announced.map(|m| payload_for(&topic, u64::from(m), ctx.version));
    let mut p = Prober::new(ctx, "payload", vec![topic.clone()]);
    let found = bisect(0, ctx.max_payload as u64, hint, async |n| {
        p.delivers(&topic, Bytes::from(vec![0u8; n as usize]), false)
            .await
    })
    .await?;
    p.close().await;
    let mut v = limit_verdict(found, 0, "bytes", "--max-payload");
    v.announced = announced.map(Value::from);
    if let Some(f) = found {
        let size = publish_size(&topic, f.value, ctx.version);
        v.packet_size = Some(size);
        v.disagreement = match announced.map(u64::from) {
            Some(m) if size < m && !f.ceiling => Some(format!(
                "announced packets up to {m} bytes, but {} bytes did not get through",
                size + 1
            )),
            Some(m) if size > m => Some(format!(
                "announced packets up to {m} bytes, but it took {size}"
            )),
            _ => None,
        };
    }
    Ok(v)
}

/// `keepalive`: what the broker grants a client asking for 65,535 s. v5: the Server
/// Keep Alive (none: granted as asked); 3.x: the largest it accepts.
pub async fn keepalive(ctx: &Ctx) -> Probe {
    let asked = u16::MAX;
    if ctx.v5() {
        let mut o = ctx.opts();
        o.keep_alive = Some(asked);
        let (l, ack) = Link::open(&ctx.net, &o).await.setup()?;
        l.disconnect().await;
        let server = ack.properties.get_int(PropertyId::ServerKeepAlive);
        let v = match server {
            Some(s) => {
                Verdict::supported(format!("asked for {asked} s; Server Keep Alive {s} s")).value(s)
            }
            None => {
                let mut v = Verdict::supported(format!(
                    "asked for {asked} s (MQTT's maximum); no Server Keep Alive, so granted"
                ))
                .value(asked);
                v.ceiling = true;
                v
            }
        };
        return Ok(v.announced(server.map(Value::from)));
    }
    let found = bisect(1, u64::from(asked), None, async |n| {
        let mut o = ctx.opts();
        o.keep_alive = Some(n as u16);
        match Link::open(&ctx.net, &o).await {
            Ok((l, _)) => {
                l.disconnect().await;
                Ok(true)
            }
            Err(Fail::Refused(..) | Fail::Lost(_)) => Ok(false),
            Err(f) => Err::<bool, _>(f).setup(),
        }
    })
    .await?;
    Ok(limit_verdict(found, 1, "seconds", "MQTT's maximum"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(limit: u64, lo: u64, hi: u64, hint: Option<u64>) -> (Option<Found>, Vec<u64>) {
        let mut tried = Vec::new();
        let found = futures_util::FutureExt::now_or_never(bisect(lo, hi, hint, async |n| {
            tried.push(n);
            Ok(n <= limit)
        }))
        .expect("no waiting")
        .expect("no stop");
        (found, tried)
    }

    #[test]
    fn bisection_finds_the_exact_limit_in_bounded_attempts() {
        let (found, tried) = search(10_002, 0, 1_048_576, None);
        assert_eq!(
            found,
            Some(Found {
                value: 10_002,
                ceiling: false
            })
        );
        assert!(tried.len() <= 22, "{tried:?}");
        assert_eq!(tried[..2], [1_048_576, 0]);
    }

    #[test]
    fn the_ceiling_first_and_a_hint_next() {
        let (found, tried) = search(u64::MAX, 0, 1000, None);
        assert_eq!(
            found,
            Some(Found {
                value: 1000,
                ceiling: true
            })
        );
        assert_eq!(tried, [1000]);
        let (found, tried) = search(500, 0, 1000, Some(500));
        assert_eq!(
            found,
            Some(Found {
                value: 500,
                ceiling: false
            })
        );
        assert_eq!(tried, [1000, 0, 500, 501]);
        // A hint that is wrong costs two attempts and still finds the limit.
        let (found, _) = search(300, 0, 1000, Some(500));
        assert_eq!(
            found,
            Some(Found {
                value: 300,
                ceiling: false
            })
        );
    }

    #[test]
    fn a_floor_that_fails_is_no_limit_at_all() {
        let (found, tried) = search(5, 23, 65_535, None);
        assert_eq!(found, None);
        assert_eq!(tried, [65_535, 23]);
    }

    #[test]
    fn publish_sizes_follow_the_remaining_length() {
        // "t": 1 header byte, 1 length byte, 2+1 topic, 2 packet id = 7 bytes at 3.1.1.
        assert_eq!(publish_size("t", 0, ProtocolVersion::V311), 7);
        assert_eq!(publish_size("t", 121, ProtocolVersion::V311), 128);
        // Remaining length 128 takes two bytes.
        assert_eq!(publish_size("t", 123, ProtocolVersion::V311), 131);
        // v5 adds the property length byte.
        assert_eq!(publish_size("t", 0, ProtocolVersion::V5), 8);
        // 131 bytes would need payload 123; 122 makes 129 (the length byte shrinks).
        assert_eq!(payload_for("t", 130, ProtocolVersion::V311), 122);
        assert_eq!(publish_size("t", 122, ProtocolVersion::V311), 129);
    }
}
