//! `mqtk replay FILE…`: publishes recorded messages again, in their order and with
//! their gaps. Two passes over the files: `scan` reads and checks every line first
//! (so a bad file sends nothing unless `--skip-bad`), then `play` reads them again
//! and publishes on the client core, on a fixed `schedule` (or as fast as the broker
//! takes them at `--speed max`), with pub's reconnect-and-resend. The summary on
//! stderr gives the count, the duration and the largest lag behind the schedule; the
//! exit status is 0 only when every QoS 1/2 message was acknowledged.
//!
//! Performance: the files are read and parsed ahead on other threads (`lines`),
//! payloads are slices of what was read, and the first pass keeps the messages for
//! the second when they fit in 256 MiB (otherwise the files are streamed again, and
//! memory stays flat however long the recording). The write buffer is filled to
//! 64 KiB before each wait, as in pub, and no clock is read per message at --speed
//! max.

mod input;
mod lines;
mod play;
mod scan;
mod schedule;

use std::io::Write;

use crate::cli::replay::{ReplayArgs, Speed};
use crate::exit::{self, Error};
use crate::settings::replay::{ReplaySettings, resolve_replay};
use play::{Outcome, Player};
use scan::Plan;

pub fn run(args: ReplayArgs) -> Result<u8, Error> {
    let tool = super::client_tool("replay");
    if args.conn.version {
        super::print_client_version(&tool, "3.1/3.1.1/5.0");
        return Ok(exit::help_exit_code(&tool));
    }
    let s = resolve_replay(&args, &tool)?;
    let (plan, cache) = scan::scan(&s).map_err(|f| Error::Failed(f.to_string()))?;
    scan::report(&plan, &s)?;
    if plan.messages == 0 {
        say(
            &s,
            "Nothing to replay: no messages (in the --from/--to window).",
        );
        return Ok(exit::OK);
    }
    let prepared = super::client::prepare(&s.client)?;
    super::block_on(async {
        let player = Player::new(&s, &plan, cache, prepared)?;
        let outcome = player.run().await?;
        Ok(finish(&s, &plan, &outcome))
    })
}

/// Prints the summary and decides the exit status.
fn finish(s: &ReplaySettings, plan: &Plan, o: &Outcome) -> u8 {
    say(s, &summary(s, plan, o));
    let not_acked = o.refused + o.unconfirmed + o.unsent;
    if let Some(why) = &o.lost {
        say(
            s,
            &format!("Error: The connection was lost and could not be re-established ({why})."),
        );
    }
    if not_acked == 0 && o.lost.is_none() {
        return exit::OK;
    }
    if not_acked > 0 {
        say(s, &not_acknowledged(o, not_acked));
    }
    exit::FAILURE
}

/// "Error: N QoS 1/2 message(s) were not acknowledged (…)", the parts named.
fn not_acknowledged(o: &Outcome, n: u64) -> String {
    let parts: Vec<String> = [
        (o.refused, "refused by the broker"),
        (o.unconfirmed, "sent but not confirmed"),
        (o.unsent, "never sent"),
    ]
    .iter()
    .filter(|(k, _)| *k > 0)
    .map(|(k, what)| format!("{k} {what}"))
    .collect();
    format!(
        "Error: {n} QoS 1/2 message(s) were not acknowledged ({}).",
        parts.join(", ")
    )
}

/// One line: what was replayed, how long it took, and how late it ran.
fn summary(s: &ReplaySettings, plan: &Plan, o: &Outcome) -> String {
    let total = s.loops.map(|n| plan.messages * u64::from(n));
    let head = match (o.interrupted, total) {
        (true, Some(t)) => format!("Interrupted: replayed {} of {t} messages", o.sent),
        (true, None) => format!("Interrupted: replayed {} messages", o.sent),
        (false, _) => format!("Replayed {} messages", o.sent),
    };
    let loops = match s.loops {
        Some(1) => String::new(),
        Some(n) => format!(" ({n} loops)"),
        None => " (looping)".to_string(),
    };
    let secs = o.duration.as_secs_f64();
    let timing = match s.speed {
        Speed::Max => {
            let rate = if secs > 0.0 {
                o.sent as f64 / secs
            } else {
                0.0
            };
            format!(" (speed max, {rate:.0} messages/s)")
        }
        Speed::Factor(x) => {
            let schedule = match total {
                Some(_) if !o.interrupted => {
                    let loops = f64::from(s.loops.unwrap_or(1));
                    format!(" schedule {:.3} s,", plan.span() as f64 / 1e6 * loops / x)
                }
                _ => String::new(),
            };
            format!(
                " (speed {x}:{schedule} sent over {:.3} s, largest lag behind schedule {:.1} ms)",
                o.spread.as_secs_f64(),
                o.max_lag.as_secs_f64() * 1e3
            )
        }
    };
    let skipped = match plan.bad_count {
        0 => String::new(),
        n => format!("; skipped {n} bad line(s)"),
    };
    format!("{head}{loops} in {secs:.3} s{timing}{skipped}.")
}

/// A line on stderr unless `--quiet`; a closed stderr is not an error here.
fn say(s: &ReplaySettings, text: &str) {
    if !s.client.quiet {
        let _ = writeln!(std::io::stderr(), "{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings(args: &[&str]) -> ReplaySettings {
        use clap::Parser;
        let mut argv = vec!["mqtk", "replay", "f"];
        argv.extend_from_slice(args);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Replay(a) => resolve_replay(&a, "mqtk replay").unwrap(),
            _ => unreachable!("replay parses as replay"),
        }
    }

    #[test]
    fn summaries() {
        let plan = Plan {
            messages: 10,
            first: 500,
            last: 1_500_500,
            ..Plan::default()
        };
        let o = Outcome {
            sent: 10,
            duration: Duration::from_millis(1502),
            spread: Duration::from_micros(1_501_250),
            max_lag: Duration::from_micros(1250),
            ..Outcome::default()
        };
        assert_eq!(
            summary(&settings(&[]), &plan, &o),
            "Replayed 10 messages in 1.502 s (speed 1: schedule 1.500 s, sent over 1.501 s, largest lag behind schedule 1.2 ms)."
        );
        assert_eq!(
            summary(&settings(&["--speed", "10", "--loop", "2"]), &plan, &o),
            "Replayed 10 messages (2 loops) in 1.502 s (speed 10: schedule 0.300 s, sent over 1.501 s, largest lag behind schedule 1.2 ms)."
        );
        let o = Outcome {
            interrupted: true,
            ..o
        };
        let plan = Plan {
            bad_count: 2,
            ..plan
        };
        assert_eq!(
            summary(&settings(&["--speed", "max"]), &plan, &o),
            "Interrupted: replayed 10 of 10 messages in 1.502 s (speed max, 7 messages/s); skipped 2 bad line(s)."
        );
    }

    #[test]
    fn exit_status_counts_what_was_not_acknowledged() {
        let s = settings(&["--quiet"]);
        let plan = Plan::default();
        assert_eq!(finish(&s, &plan, &Outcome::default()), exit::OK);
        let o = Outcome {
            refused: 1,
            unsent: 2,
            ..Outcome::default()
        };
        assert_eq!(finish(&s, &plan, &o), exit::FAILURE);
        assert_eq!(
            not_acknowledged(&o, 3),
            "Error: 3 QoS 1/2 message(s) were not acknowledged (1 refused by the broker, 2 never sent)."
        );
        let lost = Outcome {
            lost: Some("Connection refused".into()),
            ..Outcome::default()
        };
        assert_eq!(finish(&s, &plan, &lost), exit::FAILURE);
    }
}
