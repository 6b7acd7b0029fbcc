//! `mqtk rr` resolved: mosquitto_rr 2.1's checks (one message source; topic, message
//! and response topic all given; no response topic of `-D`'s own) in its words, MQTT
//! v5 by default, 3.1 and 3.1.1 on request; `--correlate` (ours) needs v5.

use std::time::Duration;

use crate::cli::rr::RrArgs;
use crate::codec::{PropertyId, ProtocolVersion, QoS, RetainHandling};
use crate::exit::Error;
use crate::output::{Formatter, OutputOptions};
use crate::payload::Codec;
use crate::settings::payload::codec;
use crate::settings::sub::retain_handling;
use crate::settings::{
    ClientSettings, MessageSource, Tool, os_bytes, plain, resolve_client, usage,
};

#[derive(Clone, Debug)]
pub struct RrSettings {
    pub client: ClientSettings,
    /// Where the request goes.
    pub topic: String,
    /// Subscribed to before the request is sent, and named in it in v5 (5.0 §4.10).
    pub response_topic: String,
    pub source: MessageSource,
    pub qos: QoS,
    pub timeout: Option<Duration>,
    /// `--count`: responses to wait for (1 as in mosquitto_rr).
    pub count: u32,
    pub latency: bool,
    /// `--correlate`: send correlation data, print only responses carrying it (v5).
    pub correlate: bool,
    /// `-R`: skip retained responses (and, in v5, ask the broker not to send them).
    pub no_retain: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
    pub output: OutputOptions,
    /// `--decode`: responses shown as JSON through this.
    pub decode: Option<Codec>,
    /// `--encode`: the request is JSON, encoded with this.
    pub encode: Option<Codec>,
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
    if args.correlate && client.version != ProtocolVersion::V5 {
        // Below v5 a request carries no properties (mosquitto_rr's my_publish), so
        // there is nothing a responder could echo.
        return Err(usage(
            "Error: --correlate needs MQTT v5 (-V 5): correlation data is an MQTT v5 property.\n",
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
    // mosquitto_rr adds its own Response Topic to the -D publish properties and then
    // checks them (whatever the protocol version).
    if client
        .publish_properties
        .get(PropertyId::ResponseTopic)
        .is_some()
    {
        // err_printf: --quiet silences it.
        return Err(if client.quiet {
            Error::Silent(crate::exit::FAILURE)
        } else {
            plain("Error in PUBLISH properties: Duplicate response topic.\n")
        });
    }
    if args.correlate
        && client
            .publish_properties
            .get(PropertyId::CorrelationData)
            .is_some()
    {
        return Err(usage(
            "Error: --correlate makes its own correlation data; do not give it with -D publish correlation-data.\n",
            t,
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
        correlate: args.correlate,
        no_retain: args.no_retain,
        retain_as_published: args.retain_as_published,
        retain_handling: retain_handling(args.retain_handling, args.no_retain),
        output,
        decode: match &args.decode {
            Some(f) => Some(codec(f, &args.proto_path)?),
            None => None,
        },
        encode: match &args.encode {
            Some(f) => Some(codec(f, &args.proto_path)?),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolve(args: &[&str]) -> Result<RrSettings, Error> {
        let mut argv: Vec<std::ffi::OsString> = vec!["mqtk".into(), "rr".into()];
        argv.extend(args.iter().map(Into::into));
        // Through the same word reading as argv in `main` (`-D` groups kept whole).
        match crate::cli::Cli::try_parse_from(crate::settings::mosquitto_words(&argv, &[]))
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
        assert!(!s.correlate);
        assert_eq!(s.retain_handling, RetainHandling::SendAtSubscribe);
    }

    #[test]
    fn v3_works_but_correlate_needs_v5() {
        for v in ["31", "311"] {
            let s = resolve(&["-t", "a", "-e", "b", "-m", "x", "-V", v]).unwrap();
            assert_ne!(s.client.version, ProtocolVersion::V5);
            assert!(
                resolve(&["-t", "a", "-e", "b", "-m", "x", "-V", v, "--correlate"])
                    .unwrap_err()
                    .message()
                    .starts_with("Error: --correlate needs MQTT v5")
            );
        }
        assert!(
            resolve(&["-t", "a", "-e", "b", "-m", "x", "--correlate"])
                .unwrap()
                .correlate
        );
    }

    #[test]
    fn retain_handling_and_duplicate_response_topic() {
        let base = ["-t", "a", "-e", "b", "-m", "x"];
        let with = |extra: &[&str]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            resolve(&v)
        };
        assert_eq!(
            with(&["-R"]).unwrap().retain_handling,
            RetainHandling::DoNotSend
        );
        assert_eq!(
            with(&["--retain-handling", "new"]).unwrap().retain_handling,
            RetainHandling::SendIfNewSubscription
        );
        assert!(
            with(&["--retain-as-published"])
                .unwrap()
                .retain_as_published
        );
        assert_eq!(
            with(&["-D", "publish", "response-topic", "c"])
                .unwrap_err()
                .message(),
            "Error in PUBLISH properties: Duplicate response topic.\n"
        );
        assert_eq!(
            with(&["-D", "publish", "response-topic", "c", "--quiet"])
                .unwrap_err()
                .message(),
            ""
        );
    }
}
