//! `mqtk sub` arguments (mosquitto_sub 2.1's subscription and output flags), with the
//! shared `ConnectArgs` flattened in. Values are checked here, in mosquitto's words;
//! checks across flags (`-R` with `--retained-only`, a topic or `-U` required, the
//! `-F` format) live in `crate::settings::sub`.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cli::connect::{ConnectArgs, parse_qos};
use crate::cli::payload::parse_decode;
use crate::payload::Format;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct SubArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,

    /// MQTT topic to subscribe to. May be repeated.
    #[arg(short = 't', long = "topic", value_name = "TOPIC", value_parser = parse_sub_topic,
          action = clap::ArgAction::Append, help_heading = "Subscription")]
    pub topics: Vec<String>,
    /// Topic filter whose messages are not printed. May be repeated.
    #[arg(short = 'T', long = "filter-out", value_name = "FILTER", value_parser = parse_filter_out,
          action = clap::ArgAction::Append, help_heading = "Subscription")]
    pub filter_out: Vec<String>,
    /// Unsubscribe from a topic (after subscribing). May be repeated.
    #[arg(short = 'U', long = "unsubscribe", value_name = "TOPIC", value_parser = parse_unsub_topic,
          action = clap::ArgAction::Append, help_heading = "Subscription")]
    pub unsubscribe: Vec<String>,
    /// Quality of service level to use for the subscriptions. Defaults to 0.
    #[arg(short = 'q', long = "qos", value_name = "QOS", value_parser = parse_qos,
          allow_negative_numbers = true, help_heading = "Subscription")]
    pub qos: Option<u8>,
    /// Disconnect and exit after receiving COUNT messages.
    #[arg(short = 'C', value_name = "COUNT", value_parser = parse_count,
          allow_negative_numbers = true, help_heading = "Subscription")]
    pub count: Option<u32>,
    /// Exit once all subscriptions have been acknowledged by the broker.
    #[arg(short = 'E', help_heading = "Subscription")]
    pub exit_after_sub: bool,
    /// Stop after SECONDS: print "Timed out" and exit with status 27.
    #[arg(short = 'W', value_name = "SECONDS", value_parser = parse_timeout,
          allow_negative_numbers = true, help_heading = "Subscription")]
    pub timeout: Option<u32>,
    /// Do not print stale messages (those with retain set).
    #[arg(short = 'R', help_heading = "Subscription")]
    pub no_retain: bool,
    /// Only handle retained messages; exit at the first message that is not retained.
    #[arg(long = "retained-only", help_heading = "Subscription")]
    pub retained_only: bool,
    /// Clear every retained message received (except those -T filters out). With -C or
    /// --retained-only, exit 0 once the deletions are acknowledged (mosquitto_sub runs on
    /// until -W or a signal).
    #[arg(long = "remove-retained", help_heading = "Subscription")]
    pub remove_retained: bool,
    /// Subscribe with "retain as published" (MQTT v5).
    #[arg(long = "retain-as-published", help_heading = "Subscription")]
    pub retain_as_published: bool,
    /// When the broker sends retained messages (MQTT v5): always, new or never.
    #[arg(long = "retain-handling", value_name = "WHEN", value_parser = parse_retain_handling,
          help_heading = "Subscription")]
    pub retain_handling: Option<u8>,
    /// Only print this percentage of messages (0.1-100.0), chosen at random.
    #[arg(long = "random-filter", value_name = "PERCENT", value_parser = parse_random_filter,
          allow_negative_numbers = true, help_heading = "Subscription")]
    pub random_filter: Option<u32>,

    /// Print published messages verbosely (topic, then payload).
    #[arg(short = 'v', long = "verbose", help_heading = "Output")]
    pub verbose: bool,
    /// Do not add an end of line character when printing the payload.
    #[arg(short = 'N', help_heading = "Output")]
    pub no_eol: bool,
    /// Output format (mosquitto_sub's %-specifiers, @-time and \-escapes).
    #[arg(short = 'F', value_name = "FORMAT", value_parser = clap::builder::OsStringValueParser::new(),
          help_heading = "Output")]
    pub format: Option<OsString>,
    /// Print JSON (%j, %J, and payloads --decode shows) indented rather than minimised.
    #[arg(long = "pretty", help_heading = "Output")]
    pub pretty: bool,
    /// Show payloads as JSON, decoded from FORMAT: sparkplug, proto:FILE.proto:package.Message,
    /// cbor, msgpack, json or auto (mqtk). A payload that does not decode is reported on
    /// stderr and shown as received.
    #[arg(long = "decode", value_name = "FORMAT", value_parser = parse_decode,
          help_heading = "Output")]
    pub decode: Option<Format>,
    /// Where the imports of a --decode proto: file are also looked for (after the
    /// file's own directory). May be repeated.
    #[arg(long = "proto-path", value_name = "DIR", action = clap::ArgAction::Append,
          help_heading = "Output")]
    pub proto_path: Vec<PathBuf>,
    /// Redraw one screen line per topic.
    #[arg(short = 'w', long = "watch", help_heading = "Output")]
    pub watch: bool,
    /// Flush the output after every message (by default it is flushed when no more
    /// messages are waiting, or at once on a terminal).
    #[arg(long = "line-buffered", help_heading = "Output")]
    pub line_buffered: bool,
    /// Instead of the messages, print how many arrived in each second ("N msgs/s").
    /// The options that choose which messages to print and how (-C, -R, -T, -v, -F,
    /// …) have no effect then, as in mosquitto 2.1.
    #[arg(long = "message-rate", help_heading = "Output")]
    pub message_rate: bool,
}

/// C's `atoi`: leading blanks, a sign, digits; anything else stops it (so "x" is 0).
pub fn atoi(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for b in body.bytes() {
        if !b.is_ascii_digit() {
            break;
        }
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    // C's int would wrap; clamping keeps huge inputs huge instead of negative.
    let v = v.min(i64::from(i32::MAX));
    if neg { -v } else { v }
}

/// C's `atof`, as far as mosquitto's `--random-filter` needs it: the longest leading
/// number, else 0.
fn atof(s: &str) -> f64 {
    let t = s.trim_start();
    let best = t
        .char_indices()
        .map(|(i, _)| i)
        .chain([t.len()])
        .rev()
        .find_map(|i| t[..i].parse::<f64>().ok())
        .unwrap_or(0.0);
    if best.is_finite() { best } else { 0.0 }
}

pub(crate) fn parse_count(s: &str) -> Result<u32, String> {
    match atoi(s) {
        n if n >= 1 => Ok(n as u32),
        n => Err(format!("Error: Invalid message count \"{n}\".\n\n")),
    }
}

/// `-W` for sub and rr.
pub fn parse_timeout(s: &str) -> Result<u32, String> {
    match atoi(s) {
        n if n >= 1 => Ok(n as u32),
        n => Err(format!("Error: Invalid timeout \"{n}\".\n\n")),
    }
}

/// The chance in hundredths of a percent, 10..=10000 (0.1–100.0 as the message
/// says). mosquitto (2.0 and 2.1) multiplies by 10 instead of 100, so its
/// `--random-filter 100` prints about 10% of messages and it accepts up to 1000;
/// we do what its manual and message promise.
fn parse_random_filter(s: &str) -> Result<u32, String> {
    let v = (100.0 * atof(s)).round() as i64;
    if !(10..=10000).contains(&v) {
        return Err("Error: --random-filter chance must be between 0.1-100.0\n\n".into());
    }
    Ok(v as u32)
}

/// 5.0 §3.8.3.1 Retain Handling: 0 always, 1 only for new subscriptions, 2 never.
pub(crate) fn parse_retain_handling(s: &str) -> Result<u8, String> {
    match s {
        "always" => Ok(0),
        "new" => Ok(1),
        "never" => Ok(2),
        _ => Err(format!(
            "Error: Unknown value '{s}' for --retain-handling.\n\n"
        )),
    }
}

/// mosquitto_sub_topic_check(), with 2.1's limit of 200 '/' as its clients check it.
fn valid_filter(s: &str) -> bool {
    crate::topic::validate_filter(s).is_ok() && crate::topic::check_hierarchy(s).is_ok()
}

/// A subscription filter (`-t`, and the `-L` URL's topic), refused in mosquitto_sub's
/// words.
pub fn parse_sub_topic(s: &str) -> Result<String, String> {
    if !valid_filter(s) {
        return Err(format!(
            "{}\n",
            crate::topic::invalid_subscription_topic_message(s)
        ));
    }
    Ok(s.to_string())
}

pub(crate) fn parse_filter_out(s: &str) -> Result<String, String> {
    if !valid_filter(s) {
        return Err(format!(
            "{}\n",
            crate::topic::invalid_topic_message("filter topic", s, crate::topic::FILTER_HINT)
        ));
    }
    Ok(s.to_string())
}

fn parse_unsub_topic(s: &str) -> Result<String, String> {
    if !valid_filter(s) {
        return Err(format!(
            "{}\n",
            crate::topic::invalid_topic_message("unsubscribe topic", s, crate::topic::FILTER_HINT)
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_number_reading() {
        assert_eq!(atoi("12x"), 12);
        assert_eq!(atoi("x"), 0);
        assert_eq!(atoi(" -3"), -3);
        assert_eq!(atof("50.5abc"), 50.5);
        assert_eq!(atof("abc"), 0.0);
    }

    #[test]
    fn values_in_mosquitto_words() {
        assert_eq!(
            parse_count("0").unwrap_err(),
            "Error: Invalid message count \"0\".\n\n"
        );
        assert_eq!(parse_count("5"), Ok(5));
        assert_eq!(
            parse_timeout("x").unwrap_err(),
            "Error: Invalid timeout \"0\".\n\n"
        );
        assert_eq!(parse_random_filter("100"), Ok(10000));
        assert_eq!(parse_random_filter("0.1"), Ok(10));
        assert_eq!(parse_random_filter("50"), Ok(5000));
        assert!(parse_random_filter("0").is_err());
        assert!(parse_random_filter("100.1").is_err());
        assert_eq!(parse_retain_handling("new"), Ok(1));
        assert!(parse_retain_handling("x").unwrap_err().contains("'x'"));
        assert!(parse_sub_topic("a/#/b").is_err());
        assert!(parse_filter_out("a/+").is_ok());
    }
}
