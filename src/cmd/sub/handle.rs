//! mosquitto_sub's callbacks: what a SUBACK means (`my_subscribe_callback`) and how a
//! message is filtered, counted and printed (`my_message_callback`).

use std::io::{self, Write};
use std::time::SystemTime;

use super::Subscriber;
use crate::client::drive::Client;
use crate::cmd::client::stdout::out_err;
use crate::codec::{ProtocolVersion, Publish, SubAck};
use crate::exit::Error;
use crate::output::Message;

impl Subscriber<'_> {
    /// mosquitto_sub's `my_subscribe_callback`.
    pub(super) fn on_suback(&mut self, a: &SubAck) {
        let s = self.s;
        let quiet = s.client.quiet;
        if s.client.debug && !quiet {
            let codes: Vec<String> = a.reasons.iter().map(|r| r.0.to_string()).collect();
            // Printed in line with the -d lines (both go to stdout).
            let _ = self.out.flush();
            let _ = writeln!(
                io::stdout().lock(),
                "Subscribed (mid: {}): {}",
                a.packet_id,
                codes.join(", ")
            );
        }
        if !a.reasons.iter().any(|r| r.0 < 0x80) {
            if !quiet {
                let _ = writeln!(io::stderr(), "All subscription requests were denied.");
            }
            self.finish();
        } else if !quiet {
            self.warn_denied(a);
        }
        if s.exit_after_sub {
            self.finish();
        }
    }

    /// Some subscriptions denied: say which, and why (v5 reason codes carry the why).
    fn warn_denied(&self, a: &SubAck) {
        let v5 = self.s.client.version == ProtocolVersion::V5;
        for (t, r) in self.s.topics.iter().zip(&a.reasons) {
            if r.0 < 0x80 {
                continue;
            }
            let _ = if v5 {
                writeln!(
                    io::stderr(),
                    "Warning: Subscription to '{t}' was denied: {r}."
                )
            } else {
                writeln!(io::stderr(), "Warning: Subscription to '{t}' was denied.")
            };
        }
    }

    /// mosquitto_sub's `my_message_callback`.
    pub(super) fn on_message(
        &mut self,
        cl: &mut Client<Publish>,
        p: &Publish,
        now: SystemTime,
    ) -> Result<(), Error> {
        let s = self.s;
        // --message-rate counts every message and handles none (mosquitto counts
        // before its `process_messages` check, which the option turns off).
        if let Some(r) = self.rate {
            r.count();
            return Ok(());
        }
        if !self.processing {
            return Ok(());
        }
        if s.retained_only && !p.retain {
            self.finish();
            return Ok(());
        }
        if (p.retain && s.no_retain)
            || s.filter_out
                .iter()
                .any(|f| crate::topic::matches(f, &p.topic))
        {
            return Ok(());
        }
        if s.remove_retained && p.retain {
            self.remove_retained(cl, &p.topic);
        }
        self.print(p, now)?;
        if let Some(n) = s.count {
            self.received += 1;
            if self.received >= n {
                self.finish();
            }
        }
        Ok(())
    }

    /// Prints the message, or lets `--random-filter` skip it.
    fn print(&mut self, p: &Publish, now: SystemTime) -> Result<(), Error> {
        let msg = Message::from_publish(p, &p.topic, now);
        let s = self.s;
        if s.random_filter < 10000 && self.rng.u32(..10000) >= s.random_filter {
            return self.fmt.skip(&msg, &mut self.out.w).map_err(out_err);
        }
        self.fmt
            .write(&msg, &mut self.out.w, &mut self.diag)
            .map_err(out_err)?;
        self.out.after_message()
    }
}
