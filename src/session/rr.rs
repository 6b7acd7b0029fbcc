//! The request/response loop of `mqtk rr` (mosquitto_rr 2.1): subscribe to the
//! response topic, publish the request (in v5 with a Response Topic, 5.0 §4.10; below
//! v5 without properties, as mosquitto_rr's `my_publish`), print the first message on
//! the response topic, and report the round-trip time with `--latency`. With our
//! `--correlate` the request also carries random Correlation Data and only responses
//! that echo it count.

use std::io::{Read, Write};
use std::time::SystemTime;

use bytes::Bytes;
use tokio::time::Instant;

use crate::codec::{
    Packet, Properties, PropertyId, PropertyValue, ProtocolVersion, Publish, QoS, ReasonCode,
    Subscribe, SubscribeFilter, SubscriptionOptions,
};
use crate::exit::{self, Error};
use crate::output::{Formatter, Message};
use crate::session::engine::{
    Debug, EstablishError, LinkError, PublishSummary, prepare, quieted, sleep_until_opt,
};
use crate::session::subscriber::{
    Event, Link, Out, Signals, connect_link, diag, out_err, timed_out,
};
use crate::settings::MessageSource;
use crate::settings::rr::RrSettings;

/// Bytes of random correlation data per request.
const CORRELATION_LEN: usize = 16;

/// Loads the request body as mosquitto_rr does before connecting, in its words.
fn load_payload(r: &RrSettings) -> Result<Bytes, Error> {
    let quiet = |e: Error| quieted(r.client.quiet, e);
    Ok(match &r.source {
        MessageSource::Message(b) => b.clone(),
        MessageSource::Null => Bytes::new(),
        MessageSource::StdinAll | MessageSource::StdinLines => {
            let mut all = Vec::new();
            if std::io::stdin().lock().read_to_end(&mut all).is_err() {
                return Err(quiet(crate::settings::plain(
                    "Error loading input from stdin.\n",
                )));
            }
            Bytes::from(all)
        }
        MessageSource::File(path) => {
            let quiet = r.client.quiet;
            crate::session::engine::InputFile::open(path, quiet)?.read_all(quiet)?
        }
    })
}

/// 2.1's `report_latency`: seconds with nanoseconds from 1 s up, else ns, µs or ms.
pub fn latency_line(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let ns = d.subsec_nanos();
    if s > 0 {
        format!("Latency: {s}.{ns:09}\n")
    } else if ns < 1000 {
        format!("Latency: {ns}ns\n")
    } else if ns < 1_000_000 {
        format!("Latency: {:.6}µs\n", f64::from(ns) / 1000.0)
    } else {
        format!("Latency: {:.6}ms\n", f64::from(ns) / 1_000_000.0)
    }
}

/// Subscribes to the response topic with `-q`, `--retain-as-published` and
/// `--retain-handling` (the last two v5 only, as libmosquitto drops them below v5);
/// returns the SUBSCRIBE's packet id.
fn subscribe(link: &mut Link, r: &RrSettings) -> Result<u16, LinkError> {
    let options = SubscriptionOptions {
        qos: r.qos,
        no_local: false,
        retain_as_published: r.retain_as_published,
        retain_handling: r.retain_handling,
    };
    let v5 = link.version == ProtocolVersion::V5;
    let pid = link.next_pid();
    link.dbg.log(format_args!(
        "sending SUBSCRIBE (Mid: {pid}, Topic: {}, QoS: {}, Options: 0x{:02x})",
        r.response_topic,
        r.qos as u8,
        options.to_byte(link.version) & 0xFC
    ));
    let sub = Subscribe {
        packet_id: pid,
        properties: if v5 {
            r.client.subscribe_properties.clone()
        } else {
            Properties::new()
        },
        filters: vec![SubscribeFilter {
            filter: r.response_topic.clone(),
            options,
        }],
    };
    link.queue(&Packet::Subscribe(sub))?;
    Ok(pid)
}

/// Queues the request as mosquitto_rr's `my_publish` sends it: in v5 the `-D publish`
/// properties plus the Response Topic (and, with `--correlate`, our Correlation Data);
/// below v5 no properties at all.
fn publish_request(
    link: &mut Link,
    r: &RrSettings,
    payload: &Bytes,
    correlation: Option<&Bytes>,
) -> Result<(), LinkError> {
    let mut props = Properties::new();
    if link.version == ProtocolVersion::V5 {
        props = r.client.publish_properties.clone();
        props.set(
            PropertyId::ResponseTopic,
            PropertyValue::String(r.response_topic.clone()),
        );
        if let Some(c) = correlation {
            props.set(
                PropertyId::CorrelationData,
                PropertyValue::Binary(c.clone()),
            );
        }
    }
    // libmosquitto numbers QoS 0 messages too; only its -d line shows the number.
    let mid = link.next_pid();
    let request = Publish {
        dup: false,
        qos: r.qos,
        retain: false,
        topic: r.topic.clone(),
        packet_id: if r.qos == QoS::AtMostOnce { 0 } else { mid },
        properties: props,
        payload: payload.clone(),
    };
    let summary = PublishSummary {
        mid,
        ..PublishSummary::of(&request)
    };
    link.dbg.log(format_args!("sending {summary}"));
    link.queue(&Packet::Publish(request))
}

/// Runs `mqtk rr` and returns the exit status.
pub async fn run_rr(r: &RrSettings) -> Result<u8, Error> {
    let payload = load_payload(r)?;
    let c = &r.client;
    let mut fmt = Formatter::new(&r.output).map_err(|e| Error::Failed(e.to_string()))?;
    let mut out = Out::stdout(false, c.debug);
    let mut diag = diag(c.quiet);
    let mut signals = Signals::new()?;
    let deadline = r.timeout.map(|d| Instant::now() + d);

    let prepared = prepare(c)?;
    let dbg = Debug::new(c.debug, &c.client_id);
    let connected = tokio::select! {
        res = connect_link(c, &prepared, dbg, c.clean_start) => res,
        _ = signals.recv() => return Ok(exit::OK),
        _ = sleep_until_opt(deadline) => return timed_out(&mut out, c.quiet),
    };
    let mut link = match connected {
        Ok((link, _)) => link,
        // mosquitto_rr 2.1 words a refusal alone: "Connection error: <reason>".
        Err((EstablishError::Refused(Error::Refused { code, .. }), _)) => {
            return Err(Error::Refused {
                text: format!("Connection error: {}\n", ReasonCode(code)),
                code,
            });
        }
        Err((e, _)) => return Err(e.into()),
    };
    let correlation = if r.correlate {
        let mut bytes = [0u8; CORRELATION_LEN];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Failed(format!("no random correlation data: {e}")))?;
        Some(Bytes::copy_from_slice(&bytes))
    } else {
        None
    };
    let link_err = |e: LinkError| Error::Failed(format!("{e:?}"));
    let sub_pid = subscribe(&mut link, r).map_err(link_err)?;

    let mut sent_at: Option<Instant> = None;
    let mut replies = 0u32;
    let mut failure: Option<Error> = None;
    let mut done = false;
    let lost = |e: LinkError| {
        quieted(
            c.quiet,
            crate::settings::plain(format!("Error: The connection was lost ({e:?}).\n")),
        )
    };
    loop {
        let now = SystemTime::now();
        while let Some(ev) = link.next_event().map_err(lost)? {
            match ev {
                Event::SubAck(a) if a.packet_id == sub_pid && sent_at.is_none() => {
                    let rc = a.reasons.first().copied().unwrap_or(ReasonCode(0x80));
                    if rc.0 >= 0x80 {
                        // mosquitto_rr prints the reason and exits 0; a refused
                        // subscription means no response can come, so we exit 1.
                        failure = Some(quieted(c.quiet, crate::settings::plain(format!("{rc}\n"))));
                        done = true;
                        continue;
                    }
                    // Subscribed: now the request cannot miss its response.
                    publish_request(&mut link, r, &payload, correlation.as_ref())
                        .map_err(link_err)?;
                    sent_at = Some(Instant::now());
                }
                Event::Message(p) => {
                    if done || sent_at.is_none() || (p.retain && r.no_retain) {
                        continue;
                    }
                    // --correlate: only the response to our request (5.0 §4.10.2).
                    if let Some(ours) = &correlation
                        && p.properties.get_binary(PropertyId::CorrelationData) != Some(ours)
                    {
                        link.dbg.log(format_args!(
                            "ignoring a message without our correlation data on '{}'",
                            p.topic
                        ));
                        continue;
                    }
                    let rtt = sent_at.map(|t| t.elapsed()).unwrap_or_default();
                    let msg = Message::from_publish(&p, &p.topic, now);
                    fmt.write(&msg, &mut out.w, &mut diag).map_err(out_err)?;
                    if r.latency {
                        out.w
                            .write_all(latency_line(rtt).as_bytes())
                            .map_err(out_err)?;
                    }
                    out.flush()?;
                    replies += 1;
                    if replies >= r.count {
                        done = true;
                    }
                }
                Event::Published(pid, rc) if rc.0 >= 0x80 => {
                    failure = Some(quieted(
                        c.quiet,
                        crate::settings::plain(format!(
                            "Error: The request (mid {pid}) was refused: {rc}.\n"
                        )),
                    ));
                    done = true;
                }
                Event::Disconnect(rc) => {
                    return Err(lost(LinkError::ServerDisconnect(rc)));
                }
                _ => {}
            }
        }
        link.write_pending().await.map_err(lost)?;
        if done {
            out.flush()?;
            return match failure {
                Some(e) => {
                    link.disconnect(ReasonCode::NORMAL_DISCONNECTION, &c.disconnect_properties)
                        .await;
                    Err(e)
                }
                None => {
                    // mosquitto_rr 2.1 leaves its loop at the response and destroys the
                    // client: the socket closes with no DISCONNECT (so a will, if set,
                    // is published). Same packets on the wire, same -d lines.
                    link.close().await;
                    Ok(exit::OK)
                }
            };
        }
        let ka = link.keepalive_deadline();
        tokio::select! {
            res = link.read_more() => match res {
                Ok(true) => {}
                Ok(false) => return Err(lost(LinkError::Closed)),
                Err(e) => return Err(lost(e)),
            },
            _ = signals.recv() => {
                link.disconnect(ReasonCode::DISCONNECT_WITH_WILL_MESSAGE, &c.disconnect_properties).await;
                return Ok(exit::OK);
            }
            _ = sleep_until_opt(deadline) => {
                link.disconnect(ReasonCode::DISCONNECT_WITH_WILL_MESSAGE, &c.disconnect_properties).await;
                return timed_out(&mut out, c.quiet);
            }
            _ = sleep_until_opt(ka) => link.on_keepalive_timer().map_err(lost)?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn latency_as_mosquitto_rr_prints_it() {
        assert_eq!(latency_line(Duration::new(2, 5)), "Latency: 2.000000005\n");
        assert_eq!(latency_line(Duration::from_nanos(999)), "Latency: 999ns\n");
        assert_eq!(
            latency_line(Duration::from_nanos(1500)),
            "Latency: 1.500000µs\n"
        );
        assert_eq!(
            latency_line(Duration::from_micros(2500)),
            "Latency: 2.500000ms\n"
        );
    }
}
