//! `mqtk rr` arguments (mosquitto_rr 2.1: request topic, response topic, one message
//! source, subscription and output flags) with the shared `ConnectArgs` flattened in,
//! plus our `--count` and `--correlate`. Checks across flags live in
//! `crate::settings::rr`.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cli::connect::{ConnectArgs, parse_publish_topic, parse_qos, valid_publish_topic};
use crate::cli::payload::{parse_decode, parse_encode};
use crate::cli::sub::{parse_retain_handling, parse_timeout};
use crate::payload::Format;

#[derive(Debug, Clone, Default, clap::Args)]
// mosquitto_rr speaks MQTT v5 unless told otherwise; the shared -V help names pub's
// and sub's default.
#[command(mut_arg("protocol_version", |a| a.help(
    "MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv5"
)))]
pub struct RrArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,

    /// Topic the request is published to.
    #[arg(short = 't', long = "topic", value_name = "TOPIC", value_parser = parse_publish_topic,
          help_heading = "Request")]
    pub topic: Option<String>,
    /// Response topic: subscribed to, and sent with the request.
    #[arg(short = 'e', value_name = "TOPIC", value_parser = parse_response_topic,
          help_heading = "Request")]
    pub response_topic: Option<String>,
    /// Request payload.
    #[arg(
        short = 'm',
        long = "message",
        value_name = "MESSAGE",
        allow_hyphen_values = true,
        help_heading = "Request"
    )]
    pub message: Option<String>,
    /// Send the contents of a file as the request.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        help_heading = "Request"
    )]
    pub file: Option<PathBuf>,
    /// Read the request from stdin (all of it, one message).
    #[arg(short = 's', long = "stdin-file", help_heading = "Request")]
    pub stdin_file: bool,
    /// Send a null (zero length) request.
    #[arg(short = 'n', long = "null-message", help_heading = "Request")]
    pub null_message: bool,
    /// Quality of service for the request and the response subscription. Defaults to 0.
    #[arg(short = 'q', long = "qos", value_name = "QOS", value_parser = parse_qos,
          allow_negative_numbers = true, help_heading = "Request")]
    pub qos: Option<u8>,
    /// Give up after SECONDS: print "Timed out" and exit with status 27.
    #[arg(short = 'W', value_name = "SECONDS", value_parser = parse_timeout,
          allow_negative_numbers = true, help_heading = "Request")]
    pub timeout: Option<u32>,
    /// Wait for N responses instead of one (mqtk).
    #[arg(long = "count", value_name = "N", value_parser = parse_count,
          allow_negative_numbers = true, help_heading = "Request")]
    pub count: Option<u32>,
    /// Print the time from request to (last) response, as mosquitto_rr 2.1 does.
    #[arg(long = "latency", help_heading = "Request")]
    pub latency: bool,
    /// Send random correlation data with the request and print only responses that
    /// carry it back (mqtk; MQTT v5). Without it, as mosquitto_rr, any message on the
    /// response topic is the response.
    #[arg(long = "correlate", help_heading = "Request")]
    pub correlate: bool,
    /// Do not print stale (retained) responses, and in MQTT v5 ask the broker not to
    /// send retained messages at all.
    #[arg(short = 'R', help_heading = "Output")]
    pub no_retain: bool,
    /// Subscribe to the response topic with "retain as published" (MQTT v5).
    #[arg(long = "retain-as-published", help_heading = "Subscription")]
    pub retain_as_published: bool,
    /// When the broker sends retained messages on the response topic (MQTT v5):
    /// always, new or never.
    #[arg(long = "retain-handling", value_name = "WHEN", value_parser = parse_retain_handling,
          help_heading = "Subscription")]
    pub retain_handling: Option<u8>,

    /// Print responses verbosely (topic, then payload).
    #[arg(short = 'v', long = "verbose", help_heading = "Output")]
    pub verbose: bool,
    /// Do not add an end of line character when printing the payload.
    #[arg(short = 'N', help_heading = "Output")]
    pub no_eol: bool,
    /// Output format, as for `mqtk sub -F`.
    #[arg(short = 'F', value_name = "FORMAT", value_parser = clap::builder::OsStringValueParser::new(),
          help_heading = "Output")]
    pub format: Option<OsString>,
    /// Print JSON (%j, %J, and responses --decode shows) indented rather than minimised.
    #[arg(long = "pretty", help_heading = "Output")]
    pub pretty: bool,
    /// Show responses as JSON, decoded from FORMAT, as for `mqtk sub --decode` (mqtk).
    #[arg(long = "decode", value_name = "FORMAT", value_parser = parse_decode,
          help_heading = "Output")]
    pub decode: Option<Format>,
    /// The request is JSON: encode it to FORMAT (sparkplug, proto:FILE.proto:package.Message,
    /// cbor, msgpack or json) before sending it (mqtk).
    #[arg(long = "encode", value_name = "FORMAT", value_parser = parse_encode,
          help_heading = "Request")]
    pub encode: Option<Format>,
    /// Where the imports of a proto: file are also looked for. May be repeated.
    #[arg(long = "proto-path", value_name = "DIR", action = clap::ArgAction::Append,
          help_heading = "Request")]
    pub proto_path: Vec<PathBuf>,
}

fn parse_response_topic(s: &str) -> Result<String, String> {
    if !valid_publish_topic(s) {
        return Err(format!(
            "{}\n",
            crate::topic::invalid_topic_message("response topic", s, crate::topic::NAME_HINT)
        ));
    }
    Ok(s.to_string())
}

fn parse_count(s: &str) -> Result<u32, String> {
    match crate::cli::sub::atoi(s) {
        n if n >= 1 => Ok(n as u32),
        n => Err(format!("Error: Invalid count \"{n}\".\n\n")),
    }
}
