//! `mqtk rr` resolved: mosquitto_rr 2.1's checks (one message source; topic, message
//! and response topic all given) in its words, MQTT v5 by default.

use std::time::Duration;

use crate::cli::rr::RrArgs;
use crate::codec::{ProtocolVersion, QoS};
use crate::exit::Error;
use crate::output::{Formatter, OutputOptions};
use crate::settings::{
    ClientSettings, MessageSource, Tool, os_bytes, plain, resolve_client, usage,
};

#[derive(Clone, Debug)]
pub struct RrSettings {
    pub client: ClientSettings,
    /// Where the request goes.
    pub topic: String,
    /// Subscribed to before the request is sent, and named in it (5.0 §4.10).
    pub response_topic: String,
    pub source: MessageSource,
    pub qos: QoS,
    pub timeout: Option<Duration>,
    /// `--count`: responses to wait for (1 as in mosquitto_rr).
    pub count: u32,
    pub latency: bool,
    pub no_retain: bool,
    pub output: OutputOptions,
}

const ALL_OF: &str = "Error: All of topic, message, and response topic must be supplied.\n";

pub fn resolve_rr(args: &RrArgs, tool_name: &str) -> Result<RrSettings, Error> {
    let t = tool_name;
    // mosquitto_rr has no -l.
    let source = MessageSource::from_flags(
        args.message.as_ref(),
        args.file.as_ref(),
        args.stdin_file,
        false,
        args.null_message,
        t,
    )?;
    let output = OutputOptions {
        verbose: args.verbose,
        pretty: args.pretty,
        eol: !args.no_eol,
        format: args.format.as_ref().map(|f| os_bytes(f)),
        watch: false,
    };
    if let Err(e) = Formatter::new(&output) {
        return Err(usage(format!("{e}\n"), t));
    }
    // mosquitto_rr speaks MQTT v5 unless told otherwise.
    let mut conn = args.conn.clone();
    if conn.protocol_version.is_none() {
        conn.protocol_version = Some(ProtocolVersion::V5);
    }
    let client = resolve_client(&conn, Tool::Rr, t)?;
    if client.version != ProtocolVersion::V5 {
        // The response topic and correlation data are v5 properties; without them a
        // responder cannot answer, so waiting would only ever time out.
        return Err(usage(
            "Error: mqtk rr needs MQTT v5 (-V 5): the response topic and correlation data are MQTT v5 properties.\n",
            t,
        ));
    }
    let topic = args.topic.clone().or_else(|| client.url_topic.clone());
    let (Some(topic), Some(source), Some(response_topic)) =
        (topic, source, args.response_topic.clone())
    else {
        return Err(usage(ALL_OF, t));
    };
    crate::settings::props::check_rr_request(
        &client.publish_properties,
        &response_topic,
        client.quiet,
    )?;
    if topic.is_empty() {
        return Err(plain(
            "Error: Invalid input. Does your topic contain '+' or '#'?\n",
        ));
    }
    Ok(RrSettings {
        client,
        topic,
        response_topic,
        source,
        qos: QoS::from_u8(args.qos.unwrap_or(0)).unwrap_or_default(),
        timeout: args.timeout.map(|s| Duration::from_secs(u64::from(s))),
        count: args.count.unwrap_or(1),
        latency: args.latency,
        no_retain: args.no_retain,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolve(args: &[&str]) -> Result<RrSettings, Error> {
        let mut argv = vec!["mqtk", "rr"];
        argv.extend_from_slice(args);
        match crate::cli::Cli::try_parse_from(argv)
            .expect("parses")
            .command
        {
            crate::cli::Command::Rr(a) => resolve_rr(&a, "mqtk rr"),
            _ => unreachable!("rr parses as rr"),
        }
    }

    #[test]
    fn v5_by_default_and_checks() {
        let s = resolve(&["-t", "req", "-e", "resp", "-m", "x"]).unwrap();
        assert_eq!(s.client.version, ProtocolVersion::V5);
        assert_eq!(s.count, 1);
        assert_eq!(
            resolve(&["-t", "req", "-m", "x"]).unwrap_err().message(),
            format!("{ALL_OF}\nUse 'mqtk rr --help' to see usage.\n")
        );
        assert!(
            resolve(&["-t", "a", "-e", "b", "-m", "x", "-n"])
                .unwrap_err()
                .message()
                .starts_with("Error: Only one type of message")
        );
        assert!(
            resolve(&["-t", "a", "-e", "b", "-m", "x", "-V", "311"])
                .unwrap_err()
                .message()
                .contains("needs MQTT v5")
        );
    }
}
