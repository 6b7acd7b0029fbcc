//! The behaviour probes that publish and receive on live subscriptions: QoS 0/1/2,
//! retained messages, `+` and `#`, shared subscriptions, No Local, Retain As
//! Published, topic aliases, subscription identifiers and `$SYS`. Where the answer is
//! "nothing arrived", the probe does not wait out a timeout: it publishes a marker
//! after the messages under test, on a topic the same client subscribes to, and
//! decides when the marker arrives (a broker delivers one client's messages to one
//! subscriber in order).

use bytes::Bytes;
use serde_json::Value;

use crate::cmd::check::link::{Fail, Link};
use crate::cmd::check::probe::{
    Ctx, Probe, Step, Verdict, accepted, granted, message, retained_at, settle, with_property,
};
use crate::codec::{Properties, PropertyId, PropertyValue, Publish, QoS, SubscriptionOptions};

/// The messages `link` receives before the next one on `marker`.
pub async fn until_marker(link: &mut Link, marker: &str) -> Probe<Vec<Publish>> {
    let mut got = Vec::new();
    loop {
        let p = link.next_message("marker message").await.setup()?;
        if p.topic == marker {
            return Ok(got);
        }
        got.push(p);
    }
}

/// Publishes the marker on `marker` at QoS 1.
async fn mark(link: &mut Link, marker: &str) -> Probe<()> {
    let rc = link
        .publish(message(marker, QoS::AtLeastOnce, false, "marker"))
        .await
        .setup()?;
    granted(rc, "PUBACK")?;
    Ok(())
}

/// `qos-0`, `qos-1`, `qos-2`: subscribe and publish at `qos` on one connection.
pub async fn qos(ctx: &Ctx, qos: QoS) -> Probe {
    let n = qos as u8;
    let available = ctx
        .announced_int(PropertyId::MaximumQos)
        .map(|max| u32::from(n) <= max);
    let verdict = settle(qos_steps(ctx, qos).await)?;
    let announced = ctx.announced_int(PropertyId::MaximumQos).map(Value::from);
    Ok(ctx.compare(verdict.announced(announced), available))
}

async fn qos_steps(ctx: &Ctx, qos: QoS) -> Probe {
    let n = qos as u8;
    let topic = ctx.topic(&format!("qos-{n}"));
    let mut link = ctx.link().await?;
    let granted_qos = accepted(link.sub(&topic, qos).await.feature()?, "SUBACK")?;
    let rc = link
        .publish(message(&topic, qos, false, format!("qos-{n}")))
        .await
        .feature()?;
    let acks = if qos == QoS::ExactlyOnce {
        "PUBREC/PUBCOMP"
    } else {
        "PUBACK"
    };
    accepted(rc, acks)?;
    let got = link
        .message("message", |p| p.topic == topic)
        .await
        .feature()?;
    link.disconnect().await;
    let arrived = got.qos as u8;
    let v = if granted_qos.0 == n && arrived == n {
        let acked = if n > 0 { ", acknowledged" } else { "" };
        Verdict::supported(format!("published{acked} and received at QoS {n}"))
    } else {
        Verdict::unsupported(format!(
            "SUBACK granted QoS {}; the message arrived at QoS {arrived}",
            granted_qos.0
        ))
    };
    Ok(v.value(arrived))
}

/// `retain`: set, received by a new subscription, cleared, and checked cleared.
pub async fn retain(ctx: &Ctx) -> Probe {
    let available = ctx.announced_flag(PropertyId::RetainAvailable);
    let verdict = settle(retain_steps(ctx).await)?;
    Ok(ctx.compare(verdict.announced(available.map(Value::from)), available))
}

async fn retain_steps(ctx: &Ctx) -> Probe {
    let topic = ctx.topic("retain");
    let mut setter = ctx.link().await?;
    ctx.note_retained(&topic);
    let rc = setter
        .publish(message(&topic, QoS::AtLeastOnce, true, "retained"))
        .await
        .feature()?;
    accepted(rc, "PUBACK")?;
    let mut reader = ctx.link().await?;
    let got = retained_at(&mut reader, &topic).await.setup()?;
    reader.disconnect().await;
    let Some(got) = got else {
        return Ok(Verdict::unsupported(
            "a new subscription did not receive the retained message",
        ));
    };
    if &got.payload[..] != b"retained" {
        return Ok(Verdict::unsupported(
            "a new subscription received another retained message",
        ));
    }
    let rc = setter
        .publish(message(&topic, QoS::AtLeastOnce, true, Bytes::new()))
        .await
        .feature()?;
    accepted(rc, "PUBACK")?;
    setter.disconnect().await;
    let mut checker = ctx.link().await?;
    let left = retained_at(&mut checker, &topic).await.setup()?;
    checker.disconnect().await;
    if left.is_some() {
        return Ok(Verdict::unsupported(
            "an empty retained message did not clear the retained message",
        ));
    }
    ctx.cleanup.borrow_mut().retained.remove(&topic);
    Ok(Verdict::supported(
        "set, received by a new subscription with the retain flag, and cleared",
    ))
}

/// `wildcard-plus`: `…/+/x` gets `…/a/x`, not `…/a/y`.
pub async fn wildcard_plus(ctx: &Ctx) -> Probe {
    let base = ctx.topic("wildcard-plus");
    let filter = format!("{base}/+/x");
    let matching = [format!("{base}/a/x")];
    let other = format!("{base}/a/y");
    wildcard(ctx, &base, &filter, &matching, &other).await
}

/// `wildcard-hash`: `…/#` gets its parent level and `…/a/b`, not a sibling.
pub async fn wildcard_hash(ctx: &Ctx) -> Probe {
    let base = ctx.topic("wildcard-hash");
    let filter = format!("{base}/#");
    let matching = [base.clone(), format!("{base}/a/b")];
    let other = format!("{base}-sibling/a");
    wildcard(ctx, &base, &filter, &matching, &other).await
}

async fn wildcard(ctx: &Ctx, base: &str, filter: &str, matching: &[String], other: &str) -> Probe {
    let available = ctx.announced_flag(PropertyId::WildcardSubscriptionAvailable);
    let verdict = settle(wildcard_steps(ctx, base, filter, matching, other).await)?;
    Ok(ctx.compare(verdict.announced(available.map(Value::from)), available))
}

async fn wildcard_steps(
    ctx: &Ctx,
    base: &str,
    filter: &str,
    matching: &[String],
    other: &str,
) -> Probe {
    let marker = format!("{base}-marker");
    let mut link = ctx.link().await?;
    granted(link.sub(&marker, QoS::AtLeastOnce).await.setup()?, "SUBACK")?;
    accepted(
        link.sub(filter, QoS::AtLeastOnce).await.feature()?,
        "SUBACK",
    )?;
    for t in std::iter::once(other).chain(matching.iter().map(String::as_str)) {
        let rc = link
            .publish(message(t, QoS::AtLeastOnce, false, "w"))
            .await
            .setup()?;
        granted(rc, "PUBACK")?;
    }
    mark(&mut link, &marker).await?;
    let got = until_marker(&mut link, &marker).await?;
    link.disconnect().await;
    let (f, o) = (ctx.rel(filter), ctx.rel(other));
    if got.iter().any(|p| p.topic == other) {
        return Ok(Verdict::unsupported(format!("{f} also received {o}")));
    }
    if let Some(missed) = matching
        .iter()
        .find(|t| !got.iter().any(|p| p.topic == **t))
    {
        let m = ctx.rel(missed);
        return Ok(Verdict::unsupported(format!("{f} did not receive {m}")));
    }
    let m: Vec<&str> = matching.iter().map(|t| ctx.rel(t)).collect();
    Ok(Verdict::supported(format!(
        "{f} received {} and not {o}",
        m.join(" and ")
    )))
}

/// How many shared messages each subscriber of `shared` gets.
const SHARED_MESSAGES: usize = 4;

/// `shared-subscription`: two clients in one `$share` group; each message reaches
/// exactly one of them.
pub async fn shared(ctx: &Ctx) -> Probe {
    let available = ctx.announced_flag(PropertyId::SharedSubscriptionAvailable);
    let verdict = settle(shared_steps(ctx).await)?;
    Ok(ctx.compare(verdict.announced(available.map(Value::from)), available))
}

async fn shared_steps(ctx: &Ctx) -> Probe {
    let topic = ctx.topic("shared");
    let marker = ctx.topic("shared-marker");
    let filter = format!("$share/{}/{topic}", ctx.tag);
    let mut a = ctx.link().await?;
    let mut b = ctx.link().await?;
    for l in [&mut a, &mut b] {
        granted(l.sub(&marker, QoS::AtLeastOnce).await.setup()?, "SUBACK")?;
        accepted(l.sub(&filter, QoS::AtLeastOnce).await.feature()?, "SUBACK")?;
    }
    for i in 0..SHARED_MESSAGES {
        let m = message(&topic, QoS::AtLeastOnce, false, i.to_string());
        accepted(a.publish(m).await.feature()?, "PUBACK")?;
    }
    // Both subscribe to the marker: once both have it, both have every shared
    // message the broker sent them before it.
    mark(&mut a, &marker).await?;
    let got_a = until_marker(&mut a, &marker).await?;
    let got_b = until_marker(&mut b, &marker).await?;
    a.disconnect().await;
    b.disconnect().await;
    let count = |got: &[Publish], i: usize| {
        got.iter()
            .filter(|p| p.topic == topic && p.payload == i.to_string().as_bytes())
            .count()
    };
    let per_message: Vec<usize> = (0..SHARED_MESSAGES)
        .map(|i| count(&got_a, i) + count(&got_b, i))
        .collect();
    let (na, nb) = (got_a.len(), got_b.len());
    if per_message.iter().all(|&n| n == 0) {
        return Ok(Verdict::unsupported(format!(
            "no message arrived through $share/{}/{}",
            ctx.tag,
            ctx.rel(&topic)
        )));
    }
    if let Some(i) = per_message.iter().position(|&n| n > 1) {
        return Ok(Verdict::unsupported(format!(
            "message {i} reached {} subscribers",
            per_message[i]
        )));
    }
    if let Some(i) = per_message.iter().position(|&n| n == 0) {
        return Ok(Verdict::unsupported(format!(
            "message {i} reached no subscriber"
        )));
    }
    Ok(Verdict::supported(format!(
        "each of {SHARED_MESSAGES} messages reached one subscriber ({na} and {nb})"
    ))
    .value(vec![na, nb]))
}

/// `no-local` (v5): the subscriber does not get its own message, and does get
/// another client's.
pub async fn no_local(ctx: &Ctx) -> Probe {
    ctx.needs_v5()?;
    let topic = ctx.topic("no-local");
    let marker = ctx.topic("no-local-marker");
    let mut me = ctx.link().await?;
    let mut other = ctx.link().await?;
    granted(me.sub(&marker, QoS::AtLeastOnce).await.setup()?, "SUBACK")?;
    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        ..SubscriptionOptions::default()
    };
    let rc = me
        .subscribe(&topic, options, Properties::new())
        .await
        .feature()?;
    accepted(rc, "SUBACK")?;
    for (l, payload) in [(&mut me, "own"), (&mut other, "other")] {
        let rc = l
            .publish(message(&topic, QoS::AtLeastOnce, false, payload))
            .await
            .setup()?;
        granted(rc, "PUBACK")?;
    }
    mark(&mut me, &marker).await?;
    let got = until_marker(&mut me, &marker).await?;
    other.disconnect().await;
    if got.iter().any(|p| p.payload == "own") {
        me.disconnect().await;
        return Ok(Verdict::unsupported(
            "the subscriber received its own message",
        ));
    }
    // Another client's message may be routed after our marker: wait for it.
    if !got.iter().any(|p| p.payload == "other") {
        me.message("message from another client", |p| p.payload == "other")
            .await
            .feature()?;
    }
    me.disconnect().await;
    Ok(Verdict::supported(
        "its own message was not delivered back; another client's was",
    ))
}

/// `retain-as-published` (v5): a retained message published to live subscriptions
/// keeps its retain flag on the one with the option.
pub async fn retain_as_published(ctx: &Ctx) -> Probe {
    ctx.needs_v5()?;
    let topic = ctx.topic("retain-as-published");
    let mut rap = ctx.link().await?;
    let mut plain = ctx.link().await?;
    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        retain_as_published: true,
        ..SubscriptionOptions::default()
    };
    let rc = rap
        .subscribe(&topic, options, Properties::new())
        .await
        .feature()?;
    accepted(rc, "SUBACK")?;
    granted(plain.sub(&topic, QoS::AtLeastOnce).await.setup()?, "SUBACK")?;
    ctx.note_retained(&topic);
    match rap
        .publish(message(&topic, QoS::AtLeastOnce, true, "rap"))
        .await
    {
        Ok(rc) if !rc.is_error() => {}
        Ok(rc) => {
            return Ok(Verdict::not_applicable(format!(
                "needs retained messages: PUBACK 0x{:02X} {rc}",
                rc.0
            )));
        }
        Err(f @ (Fail::Lost(_) | Fail::Refused(..))) => {
            return Ok(Verdict::not_applicable(format!(
                "needs retained messages: {f}"
            )));
        }
        Err(f) => return Err::<Verdict, _>(f).setup(),
    }
    let mine = rap
        .message("message", |p| p.topic == topic)
        .await
        .feature()?;
    let theirs = plain
        .message("message", |p| p.topic == topic)
        .await
        .setup()?;
    // The run's cleanup checks that the empty message cleared it.
    let rc = rap
        .publish(message(&topic, QoS::AtLeastOnce, true, Bytes::new()))
        .await
        .setup()?;
    granted(rc, "PUBACK")?;
    rap.disconnect().await;
    plain.disconnect().await;
    if !mine.retain {
        return Ok(Verdict::unsupported(
            "the message arrived without the retain flag",
        ));
    }
    let also = if theirs.retain {
        " (a plain subscription got the flag too)"
    } else {
        ", and without it on a plain subscription"
    };
    Ok(Verdict::supported(format!(
        "the message arrived with the retain flag{also}"
    )))
}

/// `topic-alias` (v5): a message that sets alias 1, then one with the alias alone.
pub async fn topic_alias(ctx: &Ctx) -> Probe {
    ctx.needs_v5()?;
    let max = ctx
        .announced_int(PropertyId::TopicAliasMaximum)
        .unwrap_or(0);
    let announced = Some(Value::from(max));
    if max == 0 {
        return Ok(Verdict::unsupported(
            "Topic Alias Maximum is 0 (or absent): the broker takes no aliases",
        )
        .announced(announced));
    }
    let topic = ctx.topic("topic-alias");
    let mut link = ctx.link().await?;
    granted(link.sub(&topic, QoS::AtLeastOnce).await.setup()?, "SUBACK")?;
    for payload in ["1", "2"] {
        // The core sends the topic with the first and leaves it out of the second.
        let m = with_property(
            message(&topic, QoS::AtLeastOnce, false, payload),
            PropertyId::TopicAlias,
            PropertyValue::TwoByte(1),
        );
        accepted(link.publish(m).await.feature()?, "PUBACK")?;
    }
    for payload in ["1", "2"] {
        link.message("message", |p| p.topic == topic && p.payload == payload)
            .await
            .feature()?;
    }
    link.disconnect().await;
    Ok(Verdict::supported(
        "a message setting alias 1, then one with the alias alone, were both delivered",
    )
    .announced(announced))
}

/// The identifier `subscription_identifier` subscribes with.
const SUBSCRIPTION_ID: u32 = 7;

/// `subscription-identifier` (v5): the message carries its subscription's id.
pub async fn subscription_identifier(ctx: &Ctx) -> Probe {
    ctx.needs_v5()?;
    let available = ctx.announced_flag(PropertyId::SubscriptionIdentifierAvailable);
    let verdict = settle(subscription_identifier_steps(ctx).await)?;
    Ok(ctx.compare(verdict.announced(available.map(Value::from)), available))
}

async fn subscription_identifier_steps(ctx: &Ctx) -> Probe {
    let topic = ctx.topic("subscription-identifier");
    let mut link = ctx.link().await?;
    let mut props = Properties::new();
    props.push(
        PropertyId::SubscriptionIdentifier,
        PropertyValue::VarInt(SUBSCRIPTION_ID),
    );
    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        ..SubscriptionOptions::default()
    };
    let rc = link.subscribe(&topic, options, props).await.feature()?;
    accepted(rc, "SUBACK")?;
    let rc = link
        .publish(message(&topic, QoS::AtLeastOnce, false, "id"))
        .await
        .setup()?;
    granted(rc, "PUBACK")?;
    let got = link
        .message("message", |p| p.topic == topic)
        .await
        .feature()?;
    link.disconnect().await;
    let ids: Vec<u32> = got.properties.subscription_identifiers().collect();
    if ids == [SUBSCRIPTION_ID] {
        return Ok(Verdict::supported(format!(
            "the message carried subscription identifier {SUBSCRIPTION_ID}"
        ))
        .value(SUBSCRIPTION_ID));
    }
    Ok(Verdict::unsupported(format!(
        "the message carried subscription identifiers {ids:?}, not [{SUBSCRIPTION_ID}]"
    )))
}

/// The topic whose payload `sys-topics` reports.
const SYS_VERSION: &str = "$SYS/broker/version";

/// `sys-topics`: a `$SYS/#` subscription receives something; value: the version.
pub async fn sys_topics(ctx: &Ctx) -> Probe {
    let mut link = ctx.link().await?;
    accepted(
        link.sub("$SYS/#", QoS::AtMostOnce).await.feature()?,
        "SUBACK",
    )?;
    // Brokers without $SYS send nothing at all: waiting out the timeout is the answer.
    let first = match link.next_message("$SYS message").await {
        Ok(p) => p,
        Err(f @ Fail::Timeout(_)) => {
            link.disconnect().await;
            return Ok(Verdict::unsupported(f.to_string()));
        }
        Err(f) => return Err::<Verdict, _>(f).feature(),
    };
    let first_topic = first.topic.clone();
    let version = if first.topic == SYS_VERSION {
        Ok(first)
    } else {
        link.message(SYS_VERSION, |p| p.topic == SYS_VERSION).await
    };
    link.disconnect().await;
    match version {
        Ok(p) => {
            let text = String::from_utf8_lossy(&p.payload).into_owned();
            Ok(Verdict::supported(format!("{SYS_VERSION} received")).value(text))
        }
        Err(Fail::Timeout(_)) => Ok(Verdict::supported(format!(
            "$SYS messages arrive ({first_topic} first), but no {SYS_VERSION}"
        ))),
        Err(f) => Err::<Verdict, _>(f).feature(),
    }
}
