//! The probes about what outlives a connection: the will, a persistent session that
//! resumes, and message expiry in a session that is offline. Every session they create
//! is noted before its CONNECT goes out, so the run removes it afterwards (in v5 it
//! would expire by itself after `SESSION_EXPIRY` anyway).

use std::time::Duration;

use bytes::Bytes;

use crate::cmd::check::link::{Fail, Link, Opts};
use crate::cmd::check::probe::{
    Ctx, Probe, Step, Verdict, accepted, granted, message, with_property,
};
use crate::codec::{Properties, PropertyId, PropertyValue, Publish, QoS, Will};

/// The Session Expiry Interval of the sessions the probes create (v5): short, so a
/// session that the cleanup could not remove goes away by itself.
pub const SESSION_EXPIRY: u32 = 60;

/// How long `message-expiry` leaves its session offline: past the 1-second expiry of
/// its short-lived message, with a margin for brokers that count whole seconds.
pub const EXPIRY_WAIT: Duration = Duration::from_millis(2200);

/// `will`: a client with a will drops its connection; an observer gets the will.
pub async fn will(ctx: &Ctx) -> Probe {
    let topic = ctx.topic("will");
    let mut observer = ctx.link().await?;
    granted(
        observer.sub(&topic, QoS::AtLeastOnce).await.setup()?,
        "SUBACK",
    )?;
    let mut o = ctx.opts();
    o.will = Some(Will {
        topic: topic.clone(),
        payload: Bytes::from_static(b"will"),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Properties::new(),
    });
    let (client, _) = Link::open(&ctx.net, &o).await.feature()?;
    client.drop_abruptly().await;
    // Nothing to mark the end of "no will" with: waiting out the timeout is the answer.
    let got = observer.message("will message", |p| p.topic == topic).await;
    observer.disconnect().await;
    match got {
        Ok(_) => Ok(Verdict::supported(
            "published when its client dropped the connection without DISCONNECT",
        )),
        Err(f @ Fail::Timeout(_)) => Ok(Verdict::unsupported(f.to_string())),
        Err(f) => Err::<Verdict, _>(f).setup(),
    }
}

/// A persistent session's options: v5 clean start with `SESSION_EXPIRY`, 3.x clean
/// session 0 (the id is new, so there is nothing to resume yet either way).
fn persistent(ctx: &Ctx) -> Opts {
    let mut o = ctx.opts();
    // 3.x keeps a session only with clean session 0; v5 keeps it by its expiry.
    o.clean_start = ctx.v5();
    o.session_expiry = SESSION_EXPIRY;
    o
}

/// `session-resume`: a message published while the session is offline is delivered
/// when it reconnects, with Session Present set.
pub async fn resume(ctx: &Ctx) -> Probe {
    let topic = ctx.topic("session");
    let mut o = persistent(ctx);
    ctx.note_session(&o.client_id);
    let (mut s, _) = Link::open(&ctx.net, &o).await.feature()?;
    granted(s.sub(&topic, QoS::AtLeastOnce).await.setup()?, "SUBACK")?;
    s.disconnect().await;
    let mut p = ctx.link().await?;
    let rc = p
        .publish(message(&topic, QoS::AtLeastOnce, false, "queued"))
        .await
        .setup()?;
    granted(rc, "PUBACK")?;
    p.disconnect().await;
    o.clean_start = false;
    let (mut s, ack) = Link::open(&ctx.net, &o).await.feature()?;
    if !ack.session_present {
        s.disconnect().await;
        return Ok(Verdict::unsupported(
            "CONNACK Session Present 0: the session was not kept",
        ));
    }
    // The session's own subscription carries our marker after the queued message.
    let rc = s
        .publish(message(&topic, QoS::AtLeastOnce, false, "marker"))
        .await
        .setup()?;
    granted(rc, "PUBACK")?;
    let mut queued = false;
    loop {
        let m = s
            .message("marker message", |m| m.topic == topic)
            .await
            .setup()?;
        if m.payload == "marker" {
            break;
        }
        queued |= m.payload == "queued";
    }
    s.disconnect().await;
    if !queued {
        return Ok(Verdict::unsupported(
            "Session Present 1, but the message published while offline was not delivered",
        ));
    }
    Ok(Verdict::supported(
        "Session Present 1, and the message published while offline was delivered",
    ))
}

/// `message-expiry` (v5): of two messages queued for an offline session, the one
/// with a 1-second expiry is gone after `EXPIRY_WAIT`, the 60-second one arrives.
pub async fn message_expiry(ctx: &Ctx) -> Probe {
    ctx.needs_v5()?;
    let topic = ctx.topic("message-expiry");
    let mut o = persistent(ctx);
    ctx.note_session(&o.client_id);
    let (mut s, _) = Link::open(&ctx.net, &o).await.setup()?;
    granted(s.sub(&topic, QoS::AtLeastOnce).await.setup()?, "SUBACK")?;
    s.disconnect().await;
    let mut p = ctx.link().await?;
    for (payload, expiry) in [("short", 1), ("long", 60)] {
        let m = with_property(
            message(&topic, QoS::AtLeastOnce, false, payload),
            PropertyId::MessageExpiryInterval,
            PropertyValue::FourByte(expiry),
        );
        accepted(p.publish(m).await.feature()?, "PUBACK")?;
    }
    p.disconnect().await;
    tokio::time::sleep(EXPIRY_WAIT).await;
    o.clean_start = false;
    let (mut s, ack) = Link::open(&ctx.net, &o).await.setup()?;
    if !ack.session_present {
        s.disconnect().await;
        return Ok(Verdict::not_applicable(
            "the broker kept no session to queue the messages in (see session-resume)",
        ));
    }
    let (before, long) = until_long(&mut s, &topic).await?;
    s.disconnect().await;
    if before.iter().any(|m| m.payload == "short") {
        return Ok(Verdict::unsupported(format!(
            "the message with a 1 s expiry was still delivered after {} s",
            EXPIRY_WAIT.as_secs_f64()
        )));
    }
    let left = long.properties.get_int(PropertyId::MessageExpiryInterval);
    let v = Verdict::supported(format!(
        "the 1 s message expired offline; the 60 s one arrived with {} s left",
        left.map_or("no expiry interval".into(), |l| l.to_string())
    ));
    Ok(match left {
        Some(l) => v.value(l),
        None => v,
    })
}

/// The messages on `topic` before the "long" one, and the "long" one.
async fn until_long(s: &mut Link, topic: &str) -> Probe<(Vec<Publish>, Publish)> {
    let mut before = Vec::new();
    loop {
        let m = s
            .message("the 60 s message", |m| m.topic == topic)
            .await
            .feature()?;
        if m.payload == "long" {
            return Ok((before, m));
        }
        before.push(m);
    }
}
