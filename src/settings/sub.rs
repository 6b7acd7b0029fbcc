//! `mqtk sub` resolved: the shared client settings plus what mosquitto_sub checks
//! across its own flags (client/client_shared.c `client_config_load`, sub_client.c
//! `main`), in mosquitto 2.1's words.

use std::time::Duration;

use crate::cli::sub::SubArgs;
use crate::codec::{PropertyId, PropertyValue, ProtocolVersion, QoS, RetainHandling};
use crate::exit::Error;
use crate::output::{Formatter, OutputOptions};
use crate::settings::{ClientSettings, Tool, os_bytes, plain, resolve_client, usage};

/// Everything `mqtk sub` needs, resolved.
#[derive(Clone, Debug)]
pub struct SubSettings {
    pub client: ClientSettings,
    /// `-t` (and the `-L` URL's topic), in order; sent in one SUBSCRIBE.
    pub topics: Vec<String>,
    /// `-T`: messages on topics matching these are neither printed nor counted.
    pub filter_out: Vec<String>,
    /// `-U`: one UNSUBSCRIBE each, after the SUBSCRIBE.
    pub unsubscribe: Vec<String>,
    pub qos: QoS,
    /// `-C`: stop after this many messages.
    pub count: Option<u32>,
    /// `-E`: stop once the SUBACK arrives.
    pub exit_after_sub: bool,
    /// `-W`.
    pub timeout: Option<Duration>,
    /// `-R`: skip retained messages (and, in v5, ask the broker not to send them).
    pub no_retain: bool,
    pub retained_only: bool,
    pub remove_retained: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
    /// `--random-filter` in hundredths of a percent (10000: print everything).
    pub random_filter: u32,
    pub output: OutputOptions,
    /// Flush after every message (`--line-buffered`).
    pub line_buffered: bool,
    /// `--message-rate`: print a count each second instead of the messages.
    pub message_rate: bool,
    /// `--decode`: payloads shown as JSON through this.
    pub decode: Option<crate::payload::Codec>,
}

pub fn resolve_sub(args: &SubArgs, tool_name: &str) -> Result<SubSettings, Error> {
    let t = tool_name;
    let format = args.format.as_ref().map(|f| os_bytes(f));
    let output = OutputOptions {
        verbose: args.verbose,
        pretty: args.pretty,
        eol: !args.no_eol,
        format,
        // mosquitto turns --watch off under --message-rate (no screen to redraw).
        watch: args.watch && !args.message_rate,
    };
    // mosquitto checks -F while reading the arguments.
    if let Err(e) = Formatter::new(&output) {
        return Err(usage(format!("{e}\n"), t));
    }
    let mut client = resolve_client(&args.conn, Tool::Sub, t)?;
    let mut topics = Vec::new();
    if let Some(u) = &client.url_topic {
        topics.push(crate::cli::sub::parse_sub_topic(u).map_err(|e| usage(e, t))?);
    }
    topics.extend(args.topics.iter().cloned());
    if topics.is_empty() && args.unsubscribe.is_empty() {
        // mosquitto 2.1's words (2.0 ends after "subscribe to").
        return Err(usage(
            "Error: You must specify a topic to subscribe to (-t) or unsubscribe from (-U).\n",
            t,
        ));
    }
    if args.no_retain && args.retained_only {
        return Err(plain(
            "\nError: Combining '-R' and '--retained-only' makes no sense.\n",
        ));
    }
    // mosquitto lowers its receive maximum to -C below 20, so that no more than -C
    // messages are in flight towards it when it stops (5.0 §3.1.2.11.3).
    if let Some(n) = args.count
        && n < 20
        && client.version == ProtocolVersion::V5
        && client
            .connect_properties
            .get(PropertyId::ReceiveMaximum)
            .is_none()
    {
        client
            .connect_properties
            .set(PropertyId::ReceiveMaximum, PropertyValue::TwoByte(n as u16));
    }
    let retain_handling = retain_handling(args.retain_handling, args.no_retain);
    Ok(SubSettings {
        client,
        topics,
        filter_out: args.filter_out.clone(),
        unsubscribe: args.unsubscribe.clone(),
        qos: QoS::from_u8(args.qos.unwrap_or(0)).unwrap_or_default(),
        count: args.count,
        exit_after_sub: args.exit_after_sub,
        timeout: args.timeout.map(|s| Duration::from_secs(u64::from(s))),
        no_retain: args.no_retain,
        retained_only: args.retained_only,
        remove_retained: args.remove_retained,
        retain_as_published: args.retain_as_published,
        retain_handling,
        random_filter: args.random_filter.unwrap_or(10000),
        output,
        line_buffered: args.line_buffered,
        message_rate: args.message_rate,
        decode: match &args.decode {
            Some(f) => Some(crate::settings::payload::codec(f, &args.proto_path)?),
            None => None,
        },
    })
}

/// The subscription's Retain Handling (5.0 §3.8.3.1) from `--retain-handling` (0, 1,
/// 2 as its parser gives them) and `-R`, which in 2.1 also asks a v5 broker not to send
/// retained messages at all. Shared with rr, which subscribes the same way.
pub(crate) fn retain_handling(flag: Option<u8>, no_retain: bool) -> RetainHandling {
    match (flag, no_retain) {
        (Some(1), _) => RetainHandling::SendIfNewSubscription,
        (Some(2), _) | (None, true) => RetainHandling::DoNotSend,
        _ => RetainHandling::SendAtSubscribe,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolve(args: &[&str]) -> Result<SubSettings, Error> {
        let mut argv = vec!["mqtk", "sub"];
        argv.extend_from_slice(args);
        match crate::cli::Cli::try_parse_from(argv)
            .expect("parses")
            .command
        {
            crate::cli::Command::Sub(a) => resolve_sub(&a, "mqtk sub"),
            _ => unreachable!("sub parses as sub"),
        }
    }

    #[test]
    fn defaults_and_topics() {
        let s = resolve(&["-t", "a/#", "-t", "b", "-T", "a/x"]).unwrap();
        assert_eq!(s.topics, ["a/#", "b"]);
        assert_eq!(s.filter_out, ["a/x"]);
        assert_eq!(s.qos, QoS::AtMostOnce);
        assert_eq!(s.random_filter, 10000);
        assert!(s.output.eol);
        let s = resolve(&["-L", "mqtt://h/x/+", "-t", "y"]).unwrap();
        assert_eq!(s.topics, ["x/+", "y"]);
    }

    #[test]
    fn cross_flag_errors() {
        let u = "\nUse 'mqtk sub --help' to see usage.\n";
        assert_eq!(
            resolve(&["-p", "1"]).unwrap_err().message(),
            format!(
                "Error: You must specify a topic to subscribe to (-t) or unsubscribe from (-U).\n{u}"
            )
        );
        assert_eq!(
            resolve(&["-t", "a", "-R", "--retained-only"])
                .unwrap_err()
                .message(),
            "\nError: Combining '-R' and '--retained-only' makes no sense.\n"
        );
        assert_eq!(
            resolve(&["-t", "a", "-F", "%z"]).unwrap_err().message(),
            format!("Error: Invalid format specifier 'z'.\n{u}")
        );
        assert!(resolve(&["-U", "a"]).is_ok());
    }

    #[test]
    fn count_lowers_v5_receive_maximum() {
        let s = resolve(&["-t", "a", "-C", "3", "-V", "5"]).unwrap();
        assert_eq!(
            s.client
                .connect_properties
                .get_int(PropertyId::ReceiveMaximum),
            Some(3)
        );
        let s = resolve(&["-t", "a", "-C", "3"]).unwrap();
        assert!(s.client.connect_properties.is_empty());
        let s = resolve(&["-t", "a", "-R", "-V", "5"]).unwrap();
        assert_eq!(s.retain_handling, RetainHandling::DoNotSend);
    }
}
