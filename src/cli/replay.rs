//! `mqtk replay` arguments: the shared `ConnectArgs`, the record files, and how to
//! play them (speed, loops, topic rewriting, QoS and retain overrides, a time
//! window). Values are checked here; the files are read by `crate::cmd::replay`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::cli::connect::{ConnectArgs, parse_qos};

#[derive(Debug, Clone, Default, clap::Args)]
#[command(
    mut_arg("options_file", crate::cli::connect::no_options_file),
    mut_arg("protocol_version", |a| a.help(
        "MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv5"
    ))
)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,

    /// Record files (as `mqtk record` writes them, plain or .zst), played one after
    /// another.
    #[arg(value_name = "FILE", help_heading = "Replay")]
    pub files: Vec<PathBuf>,
    /// Playback speed: 0.5 is half speed, 10 ten times faster, `max` as fast as the
    /// broker takes the messages. Defaults to 1.
    #[arg(long = "speed", value_name = "X|max", value_parser = parse_speed, help_heading = "Replay")]
    pub speed: Option<Speed>,
    /// Play the files N times (0: until interrupted). Defaults to 1.
    #[arg(long = "loop", value_name = "N", value_parser = parse_loops, help_heading = "Replay")]
    pub loops: Option<u32>,
    /// Put PREFIX before every topic (after --topic-map).
    #[arg(long = "topic-prefix", value_name = "PREFIX", value_parser = parse_prefix,
          help_heading = "Replay")]
    pub topic_prefix: Option<String>,
    /// Rewrite topics: a topic FROM, or starting with the levels FROM, gets TO in
    /// their place (`--topic-map prod=staging` turns prod/a into staging/a). May be
    /// repeated; the first that matches applies.
    #[arg(long = "topic-map", value_name = "FROM=TO", value_parser = parse_topic_map,
          action = clap::ArgAction::Append, help_heading = "Replay")]
    pub topic_map: Vec<(String, String)>,
    /// Publish every message with this QoS instead of the recorded one.
    #[arg(short = 'q', long = "qos", value_name = "QOS", value_parser = parse_qos,
          allow_negative_numbers = true, help_heading = "Replay")]
    pub qos: Option<u8>,
    /// Publish every message with the retain flag clear.
    #[arg(long = "no-retain", help_heading = "Replay")]
    pub no_retain: bool,
    /// Start at this point of the recording: a duration from its start (90, 1m30s,
    /// 250ms) or a UTC time (2024-05-01T12:00:00Z).
    #[arg(long = "from", value_name = "WHEN", value_parser = parse_bound, help_heading = "Replay")]
    pub from: Option<Bound>,
    /// Stop after this point of the recording (as --from).
    #[arg(long = "to", value_name = "WHEN", value_parser = parse_bound, help_heading = "Replay")]
    pub to: Option<Bound>,
    /// Skip the lines that are not valid record lines (each is reported), instead of
    /// refusing to replay a file that has any.
    #[arg(long = "skip-bad", help_heading = "Replay")]
    pub skip_bad: bool,
}

/// `--speed`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// The recorded gaps divided by this factor.
    Factor(f64),
    /// No gaps: as fast as the window and the socket allow.
    Max,
}

/// One end of `--from`/`--to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// A point on the replay timeline: this long after the first message.
    Position(Duration),
    /// A receive time: messages recorded at or after (`--from`) or up to (`--to`) it.
    Time(SystemTime),
}

fn parse_speed(s: &str) -> Result<Speed, String> {
    if s == "max" {
        return Ok(Speed::Max);
    }
    match s.parse::<f64>() {
        // Bounded so that schedule arithmetic stays finite and exact enough.
        Ok(f) if (0.000_001..=1_000_000.0).contains(&f) => Ok(Speed::Factor(f)),
        _ => Err(format!(
            "Error: Invalid --speed '{s}': give a factor between 0.000001 and 1000000 (0.5, 10) or 'max'.\n"
        )),
    }
}

fn parse_loops(s: &str) -> Result<u32, String> {
    s.trim().parse::<u32>().map_err(|_| {
        format!("Error: Invalid --loop '{s}': give a count (0 plays until interrupted).\n")
    })
}

fn parse_prefix(s: &str) -> Result<String, String> {
    crate::topic::validate_name(s)
        .map_err(|e| format!("Error: Invalid --topic-prefix '{s}': {e}.\n"))?;
    Ok(s.to_string())
}

fn parse_topic_map(s: &str) -> Result<(String, String), String> {
    let Some((from, to)) = s.split_once('=') else {
        return Err(format!(
            "Error: Invalid --topic-map '{s}': it must be FROM=TO.\n"
        ));
    };
    let bad = |part: &str, e| format!("Error: Invalid --topic-map '{s}': {part}: {e}.\n");
    crate::topic::validate_name(from).map_err(|e| bad("FROM", e))?;
    if !to.is_empty() {
        crate::topic::validate_name(to).map_err(|e| bad("TO", e))?;
    }
    Ok((from.to_string(), to.to_string()))
}

/// A duration (plain seconds, or humantime's `1m30s`, `250ms`) or an RFC 3339 time
/// in UTC (`T` or a space between date and time; `Z` may be left out).
fn parse_bound(s: &str) -> Result<Bound, String> {
    if let Ok(t) = humantime::parse_rfc3339_weak(s.trim_end_matches('Z')) {
        return Ok(Bound::Time(t));
    }
    if let Ok(secs) = s.parse::<f64>() {
        if (0.0..=1.0e12).contains(&secs) {
            return Ok(Bound::Position(Duration::from_secs_f64(secs)));
        }
    } else if let Ok(d) = humantime::parse_duration(s) {
        return Ok(Bound::Position(d));
    }
    Err(format!(
        "Error: Invalid time '{s}': give a duration from the start (90, 1m30s, 250ms) or a UTC time (2024-05-01T12:00:00Z).\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds() {
        assert_eq!(parse_speed("max"), Ok(Speed::Max));
        assert_eq!(parse_speed("0.5"), Ok(Speed::Factor(0.5)));
        for bad in ["0", "-1", "inf", "NaN", "fast", "1e9"] {
            assert!(parse_speed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bounds() {
        assert_eq!(
            parse_bound("90"),
            Ok(Bound::Position(Duration::from_secs(90)))
        );
        assert_eq!(
            parse_bound("1.5"),
            Ok(Bound::Position(Duration::from_millis(1500)))
        );
        assert_eq!(
            parse_bound("1m 30s"),
            Ok(Bound::Position(Duration::from_secs(90)))
        );
        assert_eq!(
            parse_bound("250ms"),
            Ok(Bound::Position(Duration::from_millis(250)))
        );
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_714_564_800);
        assert_eq!(parse_bound("2024-05-01T12:00:00Z"), Ok(Bound::Time(t)));
        assert_eq!(parse_bound("2024-05-01 12:00:00"), Ok(Bound::Time(t)));
        assert!(parse_bound("-1").is_err());
        assert!(parse_bound("soon").is_err());
    }

    #[test]
    fn topic_maps() {
        assert_eq!(
            parse_topic_map("a/b=c"),
            Ok(("a/b".to_string(), "c".to_string()))
        );
        assert_eq!(parse_topic_map("a="), Ok(("a".to_string(), String::new())));
        assert!(parse_topic_map("a").is_err());
        assert!(parse_topic_map("=b").is_err());
        assert!(parse_topic_map("a/#=b").is_err());
        assert!(parse_topic_map("a=b/+").is_err());
        assert!(parse_prefix("x/+").is_err());
        assert_eq!(parse_prefix("staging/"), Ok("staging/".to_string()));
    }
}
