//! Replay's first pass: every line of every file is read and checked before anything
//! is sent, and the plan for the second pass comes out of it, with the messages
//! themselves when they fit in memory (`Cache`): how many messages the
//! window holds, how many need an acknowledgement, where the timeline starts and ends,
//! and every bad line (the first `SHOWN` of them kept for the report, and any
//! damaged compressed data).

use std::collections::VecDeque;
use std::io::Write;

use super::input::{Fatal, Item, Problem, Reader};
use crate::codec::QoS;
use crate::exit::Error;
use crate::record::Message;
use crate::settings::replay::ReplaySettings;

/// Bad lines listed one by one; more are counted.
pub const SHOWN: usize = 20;

/// What the validation pass found.
#[derive(Debug, Default)]
pub struct Plan {
    /// Messages in the window, per loop.
    pub messages: u64,
    /// Of those, QoS 1 or 2 as they will be sent (after `--qos`).
    pub acknowledged: u64,
    /// Of those, messages with MQTT v5 properties.
    pub with_properties: u64,
    /// Timeline positions (µs) of the first and last message in the window.
    pub first: u64,
    pub last: u64,
    pub bad: Vec<Problem>,
    pub bad_count: u64,
}

impl Plan {
    /// How long one loop lasts on the recording's clock (µs).
    pub fn span(&self) -> u64 {
        self.last - self.first
    }
}

/// The messages the validation pass keeps for the sending pass (their timeline
/// positions, and the messages with their replay topics), so that they are not read
/// and parsed twice.
pub type Cache = VecDeque<(u64, Message)>;

/// How much memory the kept messages may take; beyond it the sending pass reads the
/// files again. (Payloads share the buffers they were read into, so about the size
/// of the decompressed files.)
const CACHE_BUDGET: usize = 256 * 1024 * 1024;

/// A kept message's share of memory: its topic and payload, its share of the JSON
/// around them, and the entry.
fn footprint(m: &Message) -> usize {
    std::mem::size_of::<(u64, Message)>() + m.topic.len() + m.payload.len() + 128
}

/// Reads every file through once; the messages come back too when they fit.
pub fn scan(s: &ReplaySettings) -> Result<(Plan, Option<Cache>), Fatal> {
    let mut plan = Plan::default();
    let mut cache = Some(Cache::new());
    let mut kept = 0usize;
    let mut reader = Reader::new(s);
    while let Some(item) = reader.next()? {
        match item {
            Item::Message { position, msg } => {
                if plan.messages == 0 {
                    plan.first = position;
                }
                plan.last = position;
                plan.messages += 1;
                if s.qos.unwrap_or(msg.qos) != QoS::AtMostOnce {
                    plan.acknowledged += 1;
                }
                if !msg.properties.is_empty() {
                    plan.with_properties += 1;
                }
                kept += footprint(&msg);
                if kept > CACHE_BUDGET {
                    cache = None;
                }
                if let Some(c) = &mut cache {
                    c.push_back((position, msg));
                }
            }
            Item::Bad(p) => {
                plan.bad_count += 1;
                // A damaged file is always named: it explains the lines before it.
                if plan.bad.len() < SHOWN || p.broken {
                    plan.bad.push(p);
                }
            }
        }
    }
    Ok((plan, cache))
}

/// Tells what the plan means before anything is sent: bad lines refuse the replay
/// (or, with `--skip-bad`, are listed as skipped); properties MQTT 3 cannot carry are
/// warned about.
pub fn report(plan: &Plan, s: &ReplaySettings) -> Result<(), Error> {
    let quiet = s.client.quiet;
    let mut err = std::io::stderr().lock();
    if plan.bad_count > 0 && !quiet {
        let tag = if s.skip_bad { "Skipped" } else { "Error" };
        for p in plan.bad.iter().filter(|p| !p.broken) {
            let _ = writeln!(err, "{tag}: {p}");
        }
        let more = plan.bad_count - plan.bad.len() as u64;
        if more > 0 {
            let _ = writeln!(err, "{tag}: … and {more} more bad line(s)");
        }
        for p in plan.bad.iter().filter(|p| p.broken) {
            let _ = writeln!(err, "{tag}: {p}");
        }
    }
    if plan.bad_count > 0 && !s.skip_bad {
        let text = format!(
            "Error: {} bad line(s): nothing was sent (--skip-bad replays the good ones).\n",
            plan.bad_count
        );
        return Err(crate::cmd::client::quieted(
            quiet,
            Error::Verbatim {
                text,
                code: crate::exit::FAILURE,
            },
        ));
    }
    let v5 = s.client.version == crate::codec::ProtocolVersion::V5;
    if plan.with_properties > 0 && !v5 && !quiet {
        let _ = writeln!(
            err,
            "Warning: {} message(s) carry MQTT v5 properties, which are not sent over MQTT 3 (-V).",
            plan.with_properties
        );
    }
    Ok(())
}
