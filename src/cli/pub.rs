//! `mqtk pub` arguments (mosquitto_pub's message flags), with the shared `ConnectArgs`
//! flattened in. Values are checked here; "only one message source" and the other
//! checks across flags live in `crate::settings`.

use std::path::PathBuf;

use crate::cli::connect::{ConnectArgs, parse_publish_topic, parse_qos};
use crate::cli::payload::parse_encode;
use crate::payload::Format;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct PubArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,

    /// MQTT topic to publish to.
    #[arg(short = 't', long = "topic", value_name = "TOPIC", value_parser = parse_publish_topic,
          help_heading = "Message")]
    pub topic: Option<String>,
    /// Message payload to send.
    #[arg(
        short = 'm',
        long = "message",
        value_name = "MESSAGE",
        help_heading = "Message",
        allow_hyphen_values = true
    )]
    pub message: Option<String>,
    /// Send the contents of a file as the message (streamed from disk).
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        help_heading = "Message"
    )]
    pub file: Option<PathBuf>,
    /// Read the message from stdin, sending the entire input as one message.
    #[arg(short = 's', long = "stdin-file", help_heading = "Message")]
    pub stdin_file: bool,
    /// Read messages from stdin, sending a separate message for each line.
    #[arg(short = 'l', long = "stdin-line", help_heading = "Message")]
    pub stdin_line: bool,
    /// Send a null (zero length) message.
    #[arg(short = 'n', long = "null-message", help_heading = "Message")]
    pub null_message: bool,
    /// Quality of service level to use for all messages. Defaults to 0.
    #[arg(short = 'q', long = "qos", value_name = "QOS", value_parser = parse_qos,
          allow_negative_numbers = true, help_heading = "Message")]
    pub qos: Option<u8>,
    /// The message should be retained.
    #[arg(short = 'r', long = "retain", help_heading = "Message")]
    pub retain: bool,
    /// With -m, -f, -s or -n: publish the message N times.
    #[arg(long = "repeat", value_name = "N", value_parser = parse_repeat,
          allow_negative_numbers = true, help_heading = "Message")]
    pub repeat: Option<u32>,
    /// With --repeat: wait SECONDS (fractions allowed) between publishes. Defaults to 0.
    #[arg(long = "repeat-delay", value_name = "SECONDS", value_parser = parse_repeat_delay,
          allow_negative_numbers = true, help_heading = "Message")]
    pub repeat_delay: Option<f64>,
    /// The message (each line, with -l) is JSON: encode it to FORMAT before publishing:
    /// sparkplug, proto:FILE.proto:package.Message, cbor, msgpack or json (mqtk).
    #[arg(long = "encode", value_name = "FORMAT", value_parser = parse_encode,
          help_heading = "Message")]
    pub encode: Option<Format>,
    /// Where the imports of an --encode proto: file are also looked for (after the
    /// file's own directory). May be repeated.
    #[arg(long = "proto-path", value_name = "DIR", action = clap::ArgAction::Append,
          help_heading = "Message")]
    pub proto_path: Vec<PathBuf>,
}

fn parse_repeat(s: &str) -> Result<u32, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n.min(i64::from(u32::MAX)) as u32),
        _ => Err("Error: --repeat argument must be >0.\n\n".into()),
    }
}

fn parse_repeat_delay(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        // Bounded so Duration::from_secs_f64 cannot panic.
        Ok(f) if (0.0..=1.0e9).contains(&f) => Ok(f),
        _ => Err("Error: --repeat-delay argument must be >=0.0.\n\n".into()),
    }
}
