//! `mqtk replay` resolved: the connection as `mqtk pub` resolves it (MQTT v5 by
//! default, so that recorded properties go out), the files, and how to play them:
//! speed, loops, the topic rewrite, overrides and the time window.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::cli::replay::{Bound, ReplayArgs, Speed};
use crate::codec::{ProtocolVersion, QoS};
use crate::exit::Error;
use crate::settings::record::refuse_options_file;
use crate::settings::{ClientSettings, Tool, resolve_client, usage};

/// Everything `mqtk replay` needs, resolved.
#[derive(Clone, Debug)]
pub struct ReplaySettings {
    pub client: ClientSettings,
    pub files: Vec<PathBuf>,
    pub speed: Speed,
    /// How many times to play the files; `None`: until interrupted.
    pub loops: Option<u32>,
    pub rewrite: TopicRewrite,
    /// `--qos`: every message at this QoS.
    pub qos: Option<QoS>,
    /// `--no-retain`: every message with retain clear.
    pub no_retain: bool,
    pub window: Window,
    pub skip_bad: bool,
}

/// `--topic-map FROM=TO` (in order; the first that matches applies), then
/// `--topic-prefix`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicRewrite {
    pub maps: Vec<(String, String)>,
    pub prefix: Option<String>,
}

impl TopicRewrite {
    pub fn is_identity(&self) -> bool {
        self.maps.is_empty() && self.prefix.is_none()
    }

    /// The topic to publish a message recorded on `topic` to. FROM matches whole
    /// levels: `a` maps `a` and `a/x` but not `ab`; a FROM ending in `/` matches what
    /// starts with it.
    pub fn apply(&self, topic: &str) -> String {
        let mapped = self.maps.iter().find_map(|(from, to)| {
            let rest = topic.strip_prefix(from.as_str())?;
            let whole_levels = rest.is_empty() || rest.starts_with('/') || from.ends_with('/');
            whole_levels.then(|| format!("{to}{rest}"))
        });
        let topic = mapped.unwrap_or_else(|| topic.to_string());
        match &self.prefix {
            Some(p) => format!("{p}{topic}"),
            None => topic,
        }
    }
}

/// `--from`/`--to`: which messages are played.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<Bound>,
    pub to: Option<Bound>,
}

impl Window {
    /// Whether a message at `position` (µs on the replay timeline) received at `time`
    /// is played.
    pub fn contains(&self, position: u64, time: SystemTime) -> bool {
        let after = |b: &Bound| match b {
            Bound::Position(d) => u128::from(position) >= d.as_micros(),
            Bound::Time(t) => time >= *t,
        };
        let before = |b: &Bound| match b {
            Bound::Position(d) => u128::from(position) <= d.as_micros(),
            Bound::Time(t) => time <= *t,
        };
        self.from.as_ref().is_none_or(after) && self.to.as_ref().is_none_or(before)
    }
}

pub fn resolve_replay(args: &ReplayArgs, tool: &str) -> Result<ReplaySettings, Error> {
    refuse_options_file(&args.conn, tool)?;
    if args.files.is_empty() {
        return Err(usage("Error: Give the record files to replay.\n", tool));
    }
    let window = Window {
        from: args.from,
        to: args.to,
    };
    check_window(&window, tool)?;
    let mut conn = args.conn.clone();
    // v5 unless asked otherwise: MQTT 3 cannot carry recorded properties.
    conn.protocol_version.get_or_insert(ProtocolVersion::V5);
    let client = resolve_client(&conn, Tool::Pub, tool)?;
    if client.url_topic.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(usage(
            "Error: replay publishes to the recorded topics: give -L without a topic (mqtt://host/).\n",
            tool,
        ));
    }
    if !client.publish_properties.is_empty() {
        return Err(usage(
            "Error: replay sends the recorded properties of each message; -D publish is not supported.\n",
            tool,
        ));
    }
    Ok(ReplaySettings {
        client,
        files: args.files.clone(),
        speed: args.speed.unwrap_or(Speed::Factor(1.0)),
        loops: match args.loops {
            Some(0) => None,
            n => Some(n.unwrap_or(1)),
        },
        rewrite: TopicRewrite {
            maps: args.topic_map.clone(),
            prefix: args.topic_prefix.clone(),
        },
        qos: args.qos.and_then(QoS::from_u8),
        no_retain: args.no_retain,
        window,
        skip_bad: args.skip_bad,
    })
}

/// `--from` after `--to` (of the same kind) would play nothing: say so.
fn check_window(w: &Window, tool: &str) -> Result<(), Error> {
    let empty = match (w.from, w.to) {
        (Some(Bound::Position(a)), Some(Bound::Position(b))) => a > b,
        (Some(Bound::Time(a)), Some(Bound::Time(b))) => a > b,
        _ => false,
    };
    if empty {
        return Err(usage("Error: --from is after --to.\n", tool));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    fn resolve(args: &[&str]) -> Result<ReplaySettings, Error> {
        let mut argv = vec!["mqtk", "replay"];
        argv.extend_from_slice(args);
        match crate::cli::Cli::try_parse_from(argv)
            .expect("parses")
            .command
        {
            crate::cli::Command::Replay(a) => resolve_replay(&a, "mqtk replay"),
            _ => unreachable!("replay parses as replay"),
        }
    }

    #[test]
    fn defaults() {
        let s = resolve(&["a.ndjson", "b.ndjson.zst"]).unwrap();
        assert_eq!(s.files.len(), 2);
        assert_eq!(s.speed, Speed::Factor(1.0));
        assert_eq!(s.loops, Some(1));
        assert_eq!(s.client.version, ProtocolVersion::V5);
        assert!(s.rewrite.is_identity());
        let s = resolve(&["f", "--loop", "0", "--speed", "max", "-q", "2"]).unwrap();
        assert_eq!(
            (s.loops, s.speed, s.qos),
            (None, Speed::Max, Some(QoS::ExactlyOnce))
        );
    }

    #[test]
    fn errors() {
        let u = "\nUse 'mqtk replay --help' to see usage.\n";
        let e = |a: &[&str]| resolve(a).unwrap_err().message();
        assert_eq!(
            e(&[]),
            format!("Error: Give the record files to replay.\n{u}")
        );
        assert_eq!(
            e(&["f", "--from", "2", "--to", "1"]),
            format!("Error: --from is after --to.\n{u}")
        );
        assert!(
            e(&["f", "-L", "mqtt://h/t"])
                .starts_with("Error: replay publishes to the recorded topics")
        );
        assert!(resolve(&["f", "-L", "mqtt://h/"]).is_ok());
        assert!(
            e(&["f", "-D", "publish", "content-type", "x"])
                .starts_with("Error: replay sends the recorded properties")
        );
    }

    #[test]
    fn topic_rewrites() {
        let r = TopicRewrite {
            maps: vec![
                ("prod".into(), "staging".into()),
                ("a/".into(), "b/".into()),
                ("x".into(), String::new()),
            ],
            prefix: None,
        };
        assert_eq!(r.apply("prod"), "staging");
        assert_eq!(r.apply("prod/s/1"), "staging/s/1");
        assert_eq!(r.apply("production/s"), "production/s");
        assert_eq!(r.apply("a/c"), "b/c");
        assert_eq!(r.apply("x/y"), "/y");
        let r = TopicRewrite {
            prefix: Some("p/".into()),
            ..r
        };
        assert_eq!(r.apply("prod/1"), "p/staging/1");
        assert_eq!(r.apply("q"), "p/q");
    }

    #[test]
    fn windows() {
        let t0 = std::time::UNIX_EPOCH + Duration::from_secs(100);
        let w = Window {
            from: Some(Bound::Position(Duration::from_millis(1))),
            to: Some(Bound::Time(t0)),
        };
        assert!(!w.contains(999, t0));
        assert!(w.contains(1000, t0));
        assert!(!w.contains(1000, t0 + Duration::from_micros(1)));
        assert!(Window::default().contains(0, t0));
    }
}
