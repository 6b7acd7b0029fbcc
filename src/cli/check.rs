//! `mqtk check` arguments: the shared `ConnectArgs` (every transport, TLS, proxy and
//! authentication flag of `pub`), the probe selection and the report's form, and the
//! catalogue of probes (`PROBES`: name, group, what it does), which `--list`, the
//! `--only`/`--skip` parser and the man page all read. Checks across flags live in
//! `crate::cmd::check::resolve`.

use std::path::PathBuf;

use crate::cli::connect::ConnectArgs;

/// One probe of `mqtk check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeId {
    Mqtt31,
    Mqtt311,
    Mqtt5,
    Qos0,
    Qos1,
    Qos2,
    Retain,
    WildcardPlus,
    WildcardHash,
    SharedSubscription,
    NoLocal,
    RetainAsPublished,
    TopicAlias,
    SubscriptionIdentifier,
    Will,
    SessionResume,
    SysTopics,
    MessageExpiry,
    MaxTopicLength,
    MaxTopicLevels,
    MaxClientIdLength,
    MaxPayload,
    Keepalive,
}

/// What a probe is, for `--list` and the man page.
pub struct ProbeInfo {
    pub id: ProbeId,
    pub name: &'static str,
    /// "protocol", "behaviour" or "limit".
    pub group: &'static str,
    pub about: &'static str,
}

/// Every probe, in the order they run.
pub const PROBES: &[ProbeInfo] = &[
    ProbeInfo {
        id: ProbeId::Mqtt31,
        name: "mqtt-3.1",
        group: "protocol",
        about: "Connects with MQTT 3.1 (protocol name MQIsdp).",
    },
    ProbeInfo {
        id: ProbeId::Mqtt311,
        name: "mqtt-3.1.1",
        group: "protocol",
        about: "Connects with MQTT 3.1.1.",
    },
    ProbeInfo {
        id: ProbeId::Mqtt5,
        name: "mqtt-5",
        group: "protocol",
        about: "Connects with MQTT 5 and an empty client id; announced: every CONNACK \
                property (Maximum QoS, Retain Available, Maximum Packet Size, Topic Alias \
                Maximum, Receive Maximum, Wildcard, Subscription Identifier and Shared \
                Subscription Available, Server Keep Alive, Assigned Client Identifier).",
    },
    ProbeInfo {
        id: ProbeId::Qos0,
        name: "qos-0",
        group: "behaviour",
        about: "Subscribes at QoS 0, publishes at QoS 0 and receives the message; value: \
                the QoS it arrived with.",
    },
    ProbeInfo {
        id: ProbeId::Qos1,
        name: "qos-1",
        group: "behaviour",
        about: "The same at QoS 1 (PUBACK); announced: Maximum QoS.",
    },
    ProbeInfo {
        id: ProbeId::Qos2,
        name: "qos-2",
        group: "behaviour",
        about: "The same at QoS 2 (PUBREC, PUBREL, PUBCOMP); announced: Maximum QoS.",
    },
    ProbeInfo {
        id: ProbeId::Retain,
        name: "retain",
        group: "behaviour",
        about: "Sets a retained message, receives it on a new subscription with the retain \
                flag, clears it with an empty retained message and checks that a further \
                subscription gets nothing; announced: Retain Available.",
    },
    ProbeInfo {
        id: ProbeId::WildcardPlus,
        name: "wildcard-plus",
        group: "behaviour",
        about: "A filter with + receives a matching message and not a non-matching one; \
                announced: Wildcard Subscription Available.",
    },
    ProbeInfo {
        id: ProbeId::WildcardHash,
        name: "wildcard-hash",
        group: "behaviour",
        about: "A filter ending in /# receives its parent level and a deeper topic, and \
                not a sibling; announced: Wildcard Subscription Available.",
    },
    ProbeInfo {
        id: ProbeId::SharedSubscription,
        name: "shared-subscription",
        group: "behaviour",
        about: "Two clients share $share/GROUP/TOPIC: each of 4 messages reaches exactly \
                one of them; value: how many each received; announced: Shared \
                Subscription Available.",
    },
    ProbeInfo {
        id: ProbeId::NoLocal,
        name: "no-local",
        group: "behaviour",
        about: "MQTT 5: a No Local subscription does not receive the client's own message \
                and does receive another client's.",
    },
    ProbeInfo {
        id: ProbeId::RetainAsPublished,
        name: "retain-as-published",
        group: "behaviour",
        about: "MQTT 5: a retained message published to a live Retain As Published \
                subscription arrives with the retain flag (and without it on a plain \
                subscription); the retained message is cleared afterwards.",
    },
    ProbeInfo {
        id: ProbeId::TopicAlias,
        name: "topic-alias",
        group: "behaviour",
        about: "MQTT 5: a message sent with a topic alias, then one with the alias alone, \
                are both delivered; announced: Topic Alias Maximum.",
    },
    ProbeInfo {
        id: ProbeId::SubscriptionIdentifier,
        name: "subscription-identifier",
        group: "behaviour",
        about: "MQTT 5: a message arrives carrying its subscription's identifier; \
                announced: Subscription Identifier Available.",
    },
    ProbeInfo {
        id: ProbeId::Will,
        name: "will",
        group: "behaviour",
        about: "A client with a will drops its connection without DISCONNECT; another \
                client receives the will.",
    },
    ProbeInfo {
        id: ProbeId::SessionResume,
        name: "session-resume",
        group: "behaviour",
        about: "A persistent session (MQTT 5: Session Expiry Interval 60) subscribes and \
                disconnects; a message published meanwhile is delivered when it \
                reconnects, with Session Present set. The session is removed afterwards.",
    },
    ProbeInfo {
        id: ProbeId::SysTopics,
        name: "sys-topics",
        group: "behaviour",
        about: "A $SYS/# subscription receives the broker's status topics; value: \
                $SYS/broker/version.",
    },
    ProbeInfo {
        id: ProbeId::MessageExpiry,
        name: "message-expiry",
        group: "behaviour",
        about: "MQTT 5: of two messages queued for an offline session, the one with a \
                1-second Message Expiry Interval is dropped after 2 seconds and the one \
                with 60 seconds is delivered; value: the interval it arrived with.",
    },
    ProbeInfo {
        id: ProbeId::MaxTopicLength,
        name: "max-topic-length",
        group: "limit",
        about: "The longest topic (bytes) the broker subscribes, accepts and delivers, by \
                bisection up to MQTT's 65,535.",
    },
    ProbeInfo {
        id: ProbeId::MaxTopicLevels,
        name: "max-topic-levels",
        group: "limit",
        about: "The most topic levels the broker subscribes, accepts and delivers, by \
                bisection up to 1,024 (real topics have a handful; some brokers handle \
                each level recursively).",
    },
    ProbeInfo {
        id: ProbeId::MaxClientIdLength,
        name: "max-client-id-length",
        group: "limit",
        about: "The longest client id (bytes) the broker accepts, by bisection up to \
                65,535.",
    },
    ProbeInfo {
        id: ProbeId::MaxPayload,
        name: "max-payload",
        group: "limit",
        about: "The largest payload the broker accepts and delivers, by bisection up to \
                --max-payload; also the size of that PUBLISH packet, compared with the \
                announced Maximum Packet Size.",
    },
    ProbeInfo {
        id: ProbeId::Keepalive,
        name: "keepalive",
        group: "limit",
        about: "The keepalive the broker grants to a client asking for 65,535 seconds \
                (MQTT 5: its Server Keep Alive; 3.x: the largest it accepts, by \
                bisection); announced: Server Keep Alive.",
    },
];

/// The catalogue entry of `id`.
pub fn info(id: ProbeId) -> &'static ProbeInfo {
    PROBES
        .iter()
        .find(|p| p.id == id)
        .expect("every ProbeId is in PROBES")
}

/// `mqtk check [connection options]`. The connection flags that make no sense for
/// many connections of check's own making (`-i`, `-c`, `-x`, `-M`, the will, `-o`)
/// are hidden here and refused with a reason if given.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(
    mut_arg("id", |a| a.hide(true)),
    mut_arg("disable_clean_session", |a| a.hide(true)),
    mut_arg("session_expiry", |a| a.hide(true)),
    mut_arg("max_inflight", |a| a.hide(true)),
    mut_arg("will_topic", |a| a.hide(true)),
    mut_arg("will_payload", |a| a.hide(true)),
    mut_arg("will_qos", |a| a.hide(true)),
    mut_arg("will_retain", |a| a.hide(true)),
    mut_arg("options_file", |a| a.hide(true)),
    mut_arg("id_prefix", |a| a.help("Client ids start with ID_PREFIX (default mqtk-check-), followed by a random tag and a number per connection")),
    mut_arg("keepalive", |a| a.help("Keep alive in seconds of the probes' connections. Defaults to 60")),
    mut_arg("protocol_version", |a| a.help("Run the behaviour and limit probes with this MQTT version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to the newest the broker accepts")),
    mut_arg("property", |a| a.help("MQTT v5 CONNECT property for every connection: connect NAME VALUE (or connect user-property KEY VALUE). Implies -V 5")),
    mut_arg("url", |a| a.help("Host, port, user and password as a URL: mqtt(s)://[username[:password]@]host[:port] or ws(s)://… (without a topic: check publishes under its own prefix)")),
    mut_arg("debug", |a| a.help("Log every packet of every probe on stderr")),
    mut_arg("quiet", |a| a.help("Don't print error messages (the report is still printed)"))
)]
pub struct CheckArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,

    /// Write the report as JSON to FILE, or to standard output with `-` (then no table
    /// is printed).
    #[arg(long = "json", value_name = "FILE", help_heading = "Check")]
    pub json: Option<PathBuf>,
    /// Run only these probes (see --list).
    #[arg(long = "only", value_name = "NAME,…", value_delimiter = ',',
          value_parser = parse_probe, help_heading = "Check")]
    pub only: Vec<ProbeId>,
    /// Run every probe but these.
    #[arg(long = "skip", value_name = "NAME,…", value_delimiter = ',',
          value_parser = parse_probe, help_heading = "Check")]
    pub skip: Vec<ProbeId>,
    /// List the probes and what each does, then exit.
    #[arg(long = "list", help_heading = "Check")]
    pub list: bool,
    /// How long to wait for each answer of the broker (CONNACK, SUBACK, an ack, a
    /// message), in seconds; a probe kept waiting longer is reported as timed out.
    #[arg(long = "timeout", value_name = "SECONDS", default_value_t = 5.0,
          value_parser = parse_timeout, allow_negative_numbers = true, help_heading = "Check")]
    pub timeout: f64,
    /// The largest payload max-payload tries, in bytes (a polite ceiling).
    #[arg(long = "max-payload", value_name = "BYTES", default_value_t = 1_048_576,
          value_parser = clap::value_parser!(u32).range(1..=268_435_000), help_heading = "Check")]
    pub max_payload: u32,
}

fn parse_probe(s: &str) -> Result<ProbeId, String> {
    PROBES
        .iter()
        .find(|p| p.name == s.trim())
        .map(|p| p.id)
        .ok_or_else(|| format!("no probe named '{s}' (mqtk check --list lists them)"))
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!(
            "must be a number of seconds above 0 and at most 3600, not '{s}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_probe_is_in_the_catalogue_once() {
        let mut names: Vec<&str> = PROBES.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PROBES.len());
        assert_eq!(info(ProbeId::MaxPayload).name, "max-payload");
        assert_eq!(parse_probe("qos-2"), Ok(ProbeId::Qos2));
        assert!(parse_probe("qos-3").unwrap_err().contains("--list"));
    }

    #[test]
    fn timeouts_are_positive_and_bounded() {
        assert_eq!(parse_timeout("0.5"), Ok(0.5));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("x").is_err());
    }
}
