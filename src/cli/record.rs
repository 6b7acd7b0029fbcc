//! `mqtk record` arguments: the shared `ConnectArgs`, sub's subscription flags that
//! make sense for a recording (`-t`, `-T`, `-q`, `-C`, `-W`, `-R`, retain handling),
//! `-o`, where the record goes, and `--decode` (a decoded copy of each payload). `-o`
//! names the output here, so the connection flags' options file is not offered (see
//! `crate::cli::Command::Record`).

use std::path::PathBuf;

use crate::cli::connect::{ConnectArgs, parse_qos};
use crate::cli::sub::{
    parse_count, parse_filter_out, parse_retain_handling, parse_sub_topic, parse_timeout,
};
use crate::payload::Format;

#[derive(Debug, Clone, Default, clap::Args)]
#[command(
    mut_arg("options_file", crate::cli::connect::no_options_file),
    mut_arg("protocol_version", |a| a.help(
        "MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv5"
    ))
)]
pub struct RecordArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,

    /// Write the record to FILE, or to standard output with `-o -`. A FILE ending in
    /// .zst is compressed with zstd as it is written. An existing FILE is replaced.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        help_heading = "Recording"
    )]
    pub output: Option<PathBuf>,
    /// MQTT topic filter to record. May be repeated.
    #[arg(short = 't', long = "topic", value_name = "TOPIC", value_parser = parse_sub_topic,
          action = clap::ArgAction::Append, help_heading = "Recording")]
    pub topics: Vec<String>,
    /// Topic filter whose messages are not recorded. May be repeated.
    #[arg(short = 'T', long = "filter-out", value_name = "FILTER", value_parser = parse_filter_out,
          action = clap::ArgAction::Append, help_heading = "Recording")]
    pub filter_out: Vec<String>,
    /// Quality of service level to subscribe with. Defaults to 0.
    #[arg(short = 'q', long = "qos", value_name = "QOS", value_parser = parse_qos,
          allow_negative_numbers = true, help_heading = "Recording")]
    pub qos: Option<u8>,
    /// Stop after recording COUNT messages.
    #[arg(short = 'C', value_name = "COUNT", value_parser = parse_count,
          allow_negative_numbers = true, help_heading = "Recording")]
    pub count: Option<u32>,
    /// Stop after SECONDS: the record is complete, "Timed out" is printed and the exit
    /// status is 27, as with `mqtk sub -W`.
    #[arg(short = 'W', value_name = "SECONDS", value_parser = parse_timeout,
          allow_negative_numbers = true, help_heading = "Recording")]
    pub timeout: Option<u32>,
    /// Do not record stale messages (those with retain set).
    #[arg(short = 'R', help_heading = "Recording")]
    pub no_retain: bool,
    /// Subscribe with "retain as published" (MQTT v5), so that the retain flag of
    /// messages published while recording is recorded as their publisher set it.
    #[arg(long = "retain-as-published", help_heading = "Recording")]
    pub retain_as_published: bool,
    /// When the broker sends retained messages (MQTT v5): always, new or never.
    #[arg(long = "retain-handling", value_name = "WHEN", value_parser = parse_retain_handling,
          help_heading = "Recording")]
    pub retain_handling: Option<u8>,
    /// Also record each payload decoded from FORMAT, as JSON in the line's "decoded"
    /// field (the payload itself is kept, so replay sends the same bytes): sparkplug,
    /// proto:FILE.proto:package.Message, cbor, msgpack, json or auto. A payload that
    /// does not decode is reported on stderr and recorded without "decoded".
    #[arg(long = "decode", value_name = "FORMAT", value_parser = crate::cli::payload::parse_decode,
          help_heading = "Recording")]
    pub decode: Option<Format>,
    /// Where the imports of a --decode proto: file are also looked for (after the
    /// file's own directory). May be repeated.
    #[arg(long = "proto-path", value_name = "DIR", action = clap::ArgAction::Append,
          help_heading = "Recording")]
    pub proto_path: Vec<PathBuf>,
}
