//! What every probe shares: `Ctx` (the run's connections, the unique topic prefix and
//! client ids, what the broker announced, and the record of what must be cleaned up),
//! the `Verdict` a probe reaches, `Stop` for a probe that ends early (with a verdict,
//! a timeout or an error), and `run_one`, which runs one probe within its time budget
//! and then removes whatever it left (retained messages, sessions), even when the
//! probe was cut off.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::cli::check::{ProbeId, info};
use crate::cmd::check::link::{Fail, Link, Net, Opts};
use crate::cmd::check::{delivery, limits, protocol, session};
use crate::codec::{
    Properties, PropertyId, PropertyValue, ProtocolVersion, Publish, QoS, ReasonCode,
};

/// A probe's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Supported,
    Unsupported,
    NotApplicable,
    Timeout,
    Error,
}

/// What a probe found.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub status: Status,
    /// What it measured, if it measures something.
    pub value: Option<Value>,
    /// What the broker announced about it (v5 CONNACK), if anything.
    pub announced: Option<Value>,
    /// The reason code or message that decided it.
    pub reason: String,
    /// A limit search stopped at its upper bound: the real limit may be higher.
    pub ceiling: bool,
    /// How the announced and the measured value disagree, when they do.
    pub disagreement: Option<String>,
    /// max-payload: the size of the largest PUBLISH packet that got through.
    pub packet_size: Option<u64>,
}

impl Verdict {
    fn new(status: Status, reason: impl Into<String>) -> Verdict {
        Verdict {
            status,
            value: None,
            announced: None,
            reason: reason.into(),
            ceiling: false,
            disagreement: None,
            packet_size: None,
        }
    }

    pub fn supported(reason: impl Into<String>) -> Verdict {
        Verdict::new(Status::Supported, reason)
    }

    pub fn unsupported(reason: impl Into<String>) -> Verdict {
        Verdict::new(Status::Unsupported, reason)
    }

    pub fn not_applicable(reason: impl Into<String>) -> Verdict {
        Verdict::new(Status::NotApplicable, reason)
    }

    pub fn value(mut self, v: impl Into<Value>) -> Verdict {
        self.value = Some(v.into());
        self
    }

    pub fn announced(mut self, v: Option<Value>) -> Verdict {
        self.announced = v;
        self
    }

    /// For a feature the broker can announce as unavailable (5.0 §3.2.2.3): flags a
    /// disagreement between `available` (what the CONNACK said, `None` when it said
    /// nothing, which means available) and the verdict.
    pub fn against(mut self, available: Option<bool>) -> Verdict {
        let measured = match self.status {
            Status::Supported => true,
            Status::Unsupported => false,
            _ => return self,
        };
        let said = available.unwrap_or(true);
        if said != measured {
            let said = if said {
                "announced as available"
            } else {
                "announced as unavailable"
            };
            let found = if measured { "works" } else { "does not work" };
            self.disagreement = Some(format!("{said}, but it {found}"));
        }
        self
    }
}

/// A verdict reached early is a verdict all the same.
pub fn settle(p: Probe) -> Probe {
    match p {
        Err(Stop::Verdict(v)) => Ok(*v),
        other => other,
    }
}

/// Why a probe ended before its last step.
#[derive(Debug)]
pub enum Stop {
    /// The probe reached its verdict early (usually: the broker refused the feature).
    Verdict(Box<Verdict>),
    /// The broker did not answer in time.
    Timeout(String),
    /// The probe could not run (a setup step failed).
    Error(String),
}

impl From<Verdict> for Stop {
    fn from(v: Verdict) -> Stop {
        Stop::Verdict(Box::new(v))
    }
}

pub type Probe<T = Verdict> = Result<T, Stop>;

/// How a failed step ends a probe.
pub trait Step<T> {
    /// A step that sets the probe up (connecting, subscribing to plain topics): a
    /// failure means the probe could not run.
    fn setup(self) -> Probe<T>;
    /// A step that uses the feature under test: a refusal or a disconnection by the
    /// broker means the feature is unsupported.
    fn feature(self) -> Probe<T>;
}

impl<T> Step<T> for Result<T, Fail> {
    fn setup(self) -> Probe<T> {
        self.map_err(|f| match f {
            Fail::Timeout(_) => Stop::Timeout(f.to_string()),
            _ => Stop::Error(f.to_string()),
        })
    }

    fn feature(self) -> Probe<T> {
        self.map_err(|f| match f {
            Fail::Timeout(_) => Stop::Timeout(f.to_string()),
            Fail::Refused(..) | Fail::Lost(_) => Verdict::unsupported(f.to_string()).into(),
            Fail::Unreachable(_) | Fail::Encode(_) => Stop::Error(f.to_string()),
        })
    }
}

/// A reason code that refuses (≥ 0x80) ends the probe: unsupported, in `packet`'s name.
pub fn accepted(rc: ReasonCode, packet: &str) -> Probe<ReasonCode> {
    if rc.is_error() {
        return Err(Verdict::unsupported(format!("{packet} 0x{:02X} {rc}", rc.0)).into());
    }
    Ok(rc)
}

/// The same for a setup step: a refusal there means the probe could not run.
pub fn granted(rc: ReasonCode, packet: &str) -> Probe<ReasonCode> {
    if rc.is_error() {
        return Err(Stop::Error(format!("{packet} 0x{:02X} {rc}", rc.0)));
    }
    Ok(rc)
}

/// What must be removed after a probe: retained messages it may have set, sessions it
/// may have left. Noted before the packet that creates them is sent.
#[derive(Debug, Default)]
pub struct Cleanup {
    pub retained: BTreeSet<String>,
    pub sessions: BTreeSet<String>,
}

/// The run, as the probes see it.
pub struct Ctx {
    pub net: Net,
    /// The version of the behaviour and limit probes.
    pub version: ProtocolVersion,
    /// The v5 CONNACK properties the broker announced (empty below v5).
    pub connack: Properties,
    /// `mqtk-check/<tag>`: every topic a probe publishes to is under it.
    pub prefix: String,
    pub tag: String,
    /// `<ID_PREFIX><tag>-`: client ids are this and a number.
    id_base: String,
    next_id: Cell<u32>,
    pub max_payload: usize,
    /// What is still to be removed.
    pub cleanup: RefCell<Cleanup>,
    /// Everything the run created, removed or not, for the report.
    pub created: RefCell<Cleanup>,
}

impl Ctx {
    pub fn new(net: Net, tag: String, id_prefix: &str, max_payload: usize) -> Ctx {
        Ctx {
            net,
            version: ProtocolVersion::V311,
            connack: Properties::new(),
            prefix: format!("mqtk-check/{tag}"),
            id_base: format!("{id_prefix}{tag}-"),
            tag,
            next_id: Cell::new(0),
            max_payload,
            cleanup: RefCell::default(),
            created: RefCell::default(),
        }
    }

    pub fn v5(&self) -> bool {
        self.version == ProtocolVersion::V5
    }

    /// A topic under the run's prefix.
    pub fn topic(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    /// A topic or filter with the run's prefix left out, for reasons.
    pub fn rel<'t>(&self, topic: &'t str) -> &'t str {
        topic
            .strip_prefix(self.prefix.as_str())
            .and_then(|t| t.strip_prefix('/'))
            .unwrap_or(topic)
    }

    /// A fresh client id.
    pub fn id(&self) -> String {
        let n = self.next_id.get();
        self.next_id.set(n + 1);
        format!("{}{n}", self.id_base)
    }

    /// How many client ids the run has used.
    pub fn ids_used(&self) -> u32 {
        self.next_id.get()
    }

    pub fn id_base(&self) -> &str {
        &self.id_base
    }

    /// Options for a clean connection with a fresh id.
    pub fn opts(&self) -> Opts {
        Opts::clean(self.version, self.id())
    }

    /// A clean connection with a fresh id, as a setup step.
    pub async fn link(&self) -> Probe<Link> {
        Link::open(&self.net, &self.opts())
            .await
            .map(|(l, _)| l)
            .setup()
    }

    /// An integer property of the broker's CONNACK.
    pub fn announced_int(&self, id: PropertyId) -> Option<u32> {
        self.connack.get_int(id)
    }

    /// An availability property of the broker's CONNACK (0 or 1), if it sent one.
    pub fn announced_flag(&self, id: PropertyId) -> Option<bool> {
        self.announced_int(id).map(|v| v != 0)
    }

    /// `v.against(available)` when the probes speak v5, where a CONNACK can announce
    /// it; below v5 nothing is announced, so nothing can disagree.
    pub fn compare(&self, v: Verdict, available: Option<bool>) -> Verdict {
        if self.v5() { v.against(available) } else { v }
    }

    /// Not applicable below MQTT 5.
    pub fn needs_v5(&self) -> Probe<()> {
        if self.v5() {
            return Ok(());
        }
        Err(Verdict::not_applicable(format!(
            "needs MQTT 5; the probes run on MQTT {}",
            version_name(self.version)
        ))
        .into())
    }

    pub fn note_retained(&self, topic: &str) {
        self.cleanup.borrow_mut().retained.insert(topic.to_string());
        self.created.borrow_mut().retained.insert(topic.to_string());
    }

    pub fn note_session(&self, id: &str) {
        self.cleanup.borrow_mut().sessions.insert(id.to_string());
        self.created.borrow_mut().sessions.insert(id.to_string());
    }

    /// Removes what `cleanup` lists: each retained topic is checked (a retained message
    /// there is cleared with an empty one, and checked again) and each session is
    /// ended by a clean connection with its id. What cannot be removed stays listed.
    pub async fn clean_up(&self) {
        let topics: Vec<String> = self.cleanup.borrow().retained.iter().cloned().collect();
        for topic in topics {
            if matches!(clear_retained(self, &topic).await, Ok(true)) {
                self.cleanup.borrow_mut().retained.remove(&topic);
            }
        }
        let ids: Vec<String> = self.cleanup.borrow().sessions.iter().cloned().collect();
        for id in ids {
            if let Ok((link, _)) =
                Link::open(&self.net, &Opts::clean(self.version, id.clone())).await
            {
                link.disconnect().await;
                self.cleanup.borrow_mut().sessions.remove(&id);
            }
        }
    }
}

/// "3.1", "3.1.1" or "5".
pub fn version_name(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V31 => "3.1",
        ProtocolVersion::V311 => "3.1.1",
        ProtocolVersion::V5 => "5",
    }
}

/// A message of the run.
pub fn message(topic: &str, qos: QoS, retain: bool, payload: impl Into<Bytes>) -> Publish {
    Publish {
        dup: false,
        qos,
        retain,
        topic: topic.to_string(),
        packet_id: 0,
        properties: Properties::new(),
        payload: payload.into(),
    }
}

/// A message with one v5 property.
pub fn with_property(mut p: Publish, id: PropertyId, v: PropertyValue) -> Publish {
    p.properties.push(id, v);
    p
}

/// Whether `topic` holds a retained message, seen by a new subscription: a retained
/// message arrives before a marker the subscriber publishes (not retained) on the same
/// topic after its SUBACK, so no waiting for silence is needed. Returns the retained
/// message, if any.
pub async fn retained_at(link: &mut Link, topic: &str) -> Result<Option<Publish>, Fail> {
    link.sub(topic, QoS::AtLeastOnce).await?;
    link.publish(message(topic, QoS::AtLeastOnce, false, "marker"))
        .await?;
    let first = link
        .message("the marker message", |p| p.topic == topic)
        .await?;
    if !first.retain {
        return Ok(None);
    }
    // Take the marker too, so the link is clean for the caller.
    link.message("the marker message", |p| p.topic == topic && !p.retain)
        .await?;
    Ok(Some(first))
}

/// Makes sure `topic` holds no retained message: `Ok(true)` when it holds none (any
/// found was cleared and checked again).
async fn clear_retained(ctx: &Ctx, topic: &str) -> Result<bool, Fail> {
    let (mut link, _) = Link::open(&ctx.net, &ctx.opts()).await?;
    let mut clean = retained_at(&mut link, topic).await?.is_none();
    if !clean {
        link.publish(message(topic, QoS::AtLeastOnce, true, Bytes::new()))
            .await?;
        // Whatever was delivered before the UNSUBACK is in by then: forget it all.
        link.unsubscribe(topic).await?;
        link.forget_messages();
        clean = retained_at(&mut link, topic).await?.is_none();
    }
    link.disconnect().await;
    Ok(clean)
}

/// One probe's outcome, as the report shows it.
#[derive(Debug)]
pub struct Outcome {
    pub id: ProbeId,
    pub verdict: Verdict,
    pub ms: u64,
    /// The reason codes of the broker's packets during the probe.
    pub codes: Vec<String>,
}

/// How long a probe may take as a whole, in step timeouts: enough for every step it
/// takes to be slow, not for a broker that never finishes.
fn budget(id: ProbeId, step: Duration) -> Duration {
    let steps = match id {
        ProbeId::MaxTopicLength
        | ProbeId::MaxTopicLevels
        | ProbeId::MaxClientIdLength
        | ProbeId::MaxPayload
        | ProbeId::Keepalive => 60,
        _ => 12,
    };
    step * steps + session::EXPIRY_WAIT
}

/// Runs one probe within its budget, then cleans up after it.
pub async fn run_one(ctx: &Ctx, id: ProbeId) -> Outcome {
    ctx.net.probe.set(info(id).name);
    ctx.net.codes.borrow_mut().take();
    let started = Instant::now();
    let limit = budget(id, ctx.net.step);
    let verdict = match tokio::time::timeout(limit, dispatch(ctx, id)).await {
        Ok(Ok(v)) => v,
        Ok(Err(Stop::Verdict(v))) => *v,
        Ok(Err(Stop::Timeout(r))) => Verdict::new(Status::Timeout, r),
        Ok(Err(Stop::Error(r))) => Verdict::new(Status::Error, r),
        Err(_) => Verdict::new(
            Status::Timeout,
            format!("the probe did not finish within {} s", limit.as_secs()),
        ),
    };
    let ms = started.elapsed().as_millis() as u64;
    let codes = ctx.net.codes.borrow_mut().take();
    ctx.clean_up().await;
    Outcome {
        id,
        verdict,
        ms,
        codes,
    }
}

async fn dispatch(ctx: &Ctx, id: ProbeId) -> Probe {
    use ProbeId as P;
    match id {
        P::Mqtt31 => protocol::version(ctx, ProtocolVersion::V31).await,
        P::Mqtt311 => protocol::version(ctx, ProtocolVersion::V311).await,
        P::Mqtt5 => protocol::version(ctx, ProtocolVersion::V5).await,
        P::Qos0 => delivery::qos(ctx, QoS::AtMostOnce).await,
        P::Qos1 => delivery::qos(ctx, QoS::AtLeastOnce).await,
        P::Qos2 => delivery::qos(ctx, QoS::ExactlyOnce).await,
        P::Retain => delivery::retain(ctx).await,
        P::WildcardPlus => delivery::wildcard_plus(ctx).await,
        P::WildcardHash => delivery::wildcard_hash(ctx).await,
        P::SharedSubscription => delivery::shared(ctx).await,
        P::NoLocal => delivery::no_local(ctx).await,
        P::RetainAsPublished => delivery::retain_as_published(ctx).await,
        P::TopicAlias => delivery::topic_alias(ctx).await,
        P::SubscriptionIdentifier => delivery::subscription_identifier(ctx).await,
        P::Will => session::will(ctx).await,
        P::SessionResume => session::resume(ctx).await,
        P::SysTopics => delivery::sys_topics(ctx).await,
        P::MessageExpiry => session::message_expiry(ctx).await,
        P::MaxTopicLength => limits::topic_length(ctx).await,
        P::MaxTopicLevels => limits::topic_levels(ctx).await,
        P::MaxClientIdLength => limits::client_id_length(ctx).await,
        P::MaxPayload => limits::payload(ctx).await,
        P::Keepalive => limits::keepalive(ctx).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_availability_is_compared_with_the_verdict() {
        let v = Verdict::supported("ok").against(None);
        assert_eq!(v.disagreement, None);
        let v = Verdict::unsupported("SUBACK 0xA2").against(None);
        assert_eq!(
            v.disagreement.as_deref(),
            Some("announced as available, but it does not work")
        );
        let v = Verdict::unsupported("DISCONNECT 0x9A").against(Some(false));
        assert_eq!(v.disagreement, None);
        let v = Verdict::supported("ok").against(Some(false));
        assert_eq!(
            v.disagreement.as_deref(),
            Some("announced as unavailable, but it works")
        );
        let v = Verdict::not_applicable("v5").against(Some(false));
        assert_eq!(v.disagreement, None);
    }

    #[test]
    fn refusing_codes_end_a_probe() {
        assert!(accepted(ReasonCode(0x01), "SUBACK").is_ok());
        match accepted(ReasonCode::QOS_NOT_SUPPORTED, "PUBACK") {
            Err(Stop::Verdict(v)) => {
                assert_eq!(v.status, Status::Unsupported);
                assert_eq!(v.reason, "PUBACK 0x9B QoS not supported");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            granted(ReasonCode(0x80), "SUBACK"),
            Err(Stop::Error(_))
        ));
    }

    #[test]
    fn ids_and_topics_are_under_the_run_prefix() {
        let prepared = crate::transport::prepare(&crate::transport::Endpoint {
            host: "localhost".into(),
            port: 1883,
            unix_socket: None,
            bind_address: None,
            nodelay: false,
            websocket_path: None,
            tls: None,
            proxy: None,
        })
        .unwrap();
        let net = Net::new(prepared, Duration::from_secs(1), false);
        let ctx = Ctx::new(net, "abc123".into(), "mqtk-check-", 10);
        assert_eq!(ctx.topic("qos-1"), "mqtk-check/abc123/qos-1");
        assert_eq!(ctx.rel("mqtk-check/abc123/a/+"), "a/+");
        assert_eq!(ctx.rel("$SYS/#"), "$SYS/#");
        assert_eq!(ctx.id(), "mqtk-check-abc123-0");
        assert_eq!(ctx.id(), "mqtk-check-abc123-1");
        assert_eq!(ctx.ids_used(), 2);
        ctx.note_retained("mqtk-check/abc123/retain");
        assert!(
            ctx.cleanup
                .borrow()
                .retained
                .contains("mqtk-check/abc123/retain")
        );
        assert!(
            ctx.created
                .borrow()
                .retained
                .contains("mqtk-check/abc123/retain")
        );
    }
}
