//! `mqtk check`: what a broker supports and where its limits are. `run` is the
//! command (settings in, report out, exit status 0 when every probe could run and
//! nothing was left behind, else 1); `resolve` turns the flags into `CheckSettings`
//! through the shared `settings::resolve_client`, as pub does. The modules: `link` is
//! one probe connection on the client core (`client::drive::Client`), `probe` what
//! the probes share (the run's context, verdicts, the cleanup), `protocol`,
//! `delivery`, `session` and `limits` the probes, `report` the JSON and the table.
//!
//! Politeness: every topic is under `mqtk-check/<random>/`, every client id starts
//! with `mqtk-check-<random>-`; retained messages and sessions a probe creates are
//! removed after it (even when it was cut off); new connections are paced
//! (`link::PACE`) and messages go one at a time.

pub mod delivery;
pub mod limits;
pub mod link;
pub mod probe;
pub mod protocol;
pub mod report;
pub mod session;

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::check::{CheckArgs, PROBES, ProbeId};
use crate::cmd::client::stdout::Signals;
use crate::cmd::client::{self, quieted};
use crate::codec::{PropertyId, ProtocolVersion};
use crate::exit::{self, Error};
use crate::settings::{ClientSettings, Tool, resolve_client};
use link::Net;
use probe::{Ctx, version_name};
use report::{ProbeJson, Report, Things};

/// The name usage errors use.
pub const TOOL: &str = "mqtk check";

/// Where `--json` writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonDest {
    /// `--json -`: on stdout, instead of the table.
    Stdout,
    File(PathBuf),
}

/// `mqtk check`, resolved.
#[derive(Clone, Debug)]
pub struct CheckSettings {
    pub client: ClientSettings,
    /// `-V` (or `-D`, which implies v5): the version of the behaviour and limit
    /// probes; `None`: the newest the broker accepts.
    pub explicit_version: Option<ProtocolVersion>,
    /// The probes to run, in catalogue order.
    pub probes: Vec<ProbeId>,
    pub json: Option<JsonDest>,
    /// `--timeout`: the bound on each wait.
    pub step: Duration,
    pub max_payload: usize,
    /// `-I`, or `mqtk-check-`.
    pub id_prefix: String,
}

/// `mqtk check`: lists the probes, or runs them and reports.
pub fn run(args: CheckArgs) -> Result<u8, Error> {
    if args.conn.version {
        crate::cmd::print_out(&format!(
            "mqtk check version {}\n",
            env!("CARGO_PKG_VERSION")
        ));
        return Ok(exit::OK);
    }
    if args.list {
        crate::cmd::print_out(&list());
        return Ok(exit::OK);
    }
    let settings = resolve(&args)?;
    super::block_on(check(&settings))
}

/// `--list`: each probe's name, group and what it does.
pub fn list() -> String {
    let width = PROBES.iter().map(|p| p.name.len()).max().unwrap_or(0);
    PROBES
        .iter()
        .map(|p| format!("{:width$}  {:9}  {}\n", p.name, p.group, p.about))
        .collect()
}

fn usage(text: &str) -> Error {
    Error::Usage(format!("{text} (see 'mqtk check --help')"))
}

/// Resolves the flags; the connection flags through the shared client settings.
pub fn resolve(args: &CheckArgs) -> Result<CheckSettings, Error> {
    refuse_session_flags(args)?;
    let c = &args.conn;
    let client = resolve_client(c, Tool::Pub, TOOL)?;
    if client.url_topic.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(usage(
            "-L: check publishes only under its own prefix; give the URL without a topic",
        ));
    }
    let others = [
        &client.publish_properties,
        &client.subscribe_properties,
        &client.unsubscribe_properties,
        &client.disconnect_properties,
    ];
    if others.iter().any(|p| !p.is_empty()) {
        return Err(usage(
            "-D: check takes CONNECT properties only (-D connect …)",
        ));
    }
    if client
        .connect_properties
        .get(PropertyId::SessionExpiryInterval)
        .is_some()
    {
        return Err(usage(
            "-D connect session-expiry-interval: check sets the session expiry of its own sessions",
        ));
    }
    let probes: Vec<ProbeId> = PROBES
        .iter()
        .map(|p| p.id)
        .filter(|id| args.only.is_empty() || args.only.contains(id))
        .filter(|id| !args.skip.contains(id))
        .collect();
    if probes.is_empty() {
        return Err(usage("--only and --skip leave no probe to run"));
    }
    let explicit = c.protocol_version.is_some() || !c.property.is_empty();
    Ok(CheckSettings {
        explicit_version: explicit.then_some(client.version),
        probes,
        json: args.json.as_ref().map(|p| match p.to_str() {
            Some("-") => JsonDest::Stdout,
            _ => JsonDest::File(p.clone()),
        }),
        step: Duration::from_secs_f64(args.timeout),
        max_payload: args.max_payload as usize,
        id_prefix: c
            .id_prefix
            .clone()
            .unwrap_or_else(|| "mqtk-check-".to_string()),
        client,
    })
}

/// The connection flags that would fight the probes: refused, with the reason.
fn refuse_session_flags(args: &CheckArgs) -> Result<(), Error> {
    let c = &args.conn;
    let refusals = [
        (c.options_file.is_some(), "-o: check reads no options file"),
        (
            c.id.is_some(),
            "-i: check opens many connections, each with its own client id; -I sets how they start",
        ),
        (
            c.disable_clean_session || c.session_expiry.is_some(),
            "-c, -x: check makes and removes its own sessions",
        ),
        (
            c.max_inflight.is_some(),
            "-M: check has one message in flight at a time",
        ),
        (
            c.will_topic.is_some()
                || c.will_payload.is_some()
                || c.will_qos.is_some()
                || c.will_retain,
            "--will-*: the will probe sets its own will",
        ),
    ];
    match refusals.iter().find(|(given, _)| *given) {
        Some((_, why)) => Err(usage(why)),
        None => Ok(()),
    }
}

/// Six random lower-case letters and digits: the run's tag in topics and client ids.
fn random_tag() -> Result<String, Error> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|e| Error::Failed(format!("no random tag: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// Runs the probes and reports; the exit status.
async fn check(s: &CheckSettings) -> Result<u8, Error> {
    let c = &s.client;
    let prepared = client::prepare(c)?;
    let mut net = Net::new(prepared, s.step, c.debug);
    net.username = c.username.clone();
    net.password = c.password.clone();
    net.connect_properties = c.connect_properties.clone();
    net.keep_alive = c.keep_alive;
    let mut ctx = Ctx::new(net, random_tag()?, &s.id_prefix, s.max_payload);
    let broker = crate::transport::describe(&c.endpoint);
    let first_id = ctx.id();
    let (version, ack) = protocol::discover(&ctx.net, s.explicit_version, &first_id)
        .await
        .map_err(|why| {
            quieted(
                c.quiet,
                Error::Failed(format!("cannot check {broker}: {why}")),
            )
        })?;
    ctx.version = version;
    if version == ProtocolVersion::V5 {
        ctx.connack = ack.properties;
    }
    let mut signals = Signals::new()?;
    let mut outcomes = Vec::new();
    let interrupted = tokio::select! {
        () = async {
            for id in &s.probes {
                outcomes.push(probe::run_one(&ctx, *id).await);
            }
        } => false,
        () = signals.recv() => true,
    };
    // After an interruption too: whatever the cut-off probe created goes.
    ctx.clean_up().await;
    if interrupted {
        return Err(quieted(
            c.quiet,
            Error::Failed("interrupted; what the probes created was removed.".into()),
        ));
    }
    let report = build_report(&ctx, broker, outcomes);
    output(s, &report)?;
    if report.ok {
        return Ok(exit::OK);
    }
    Err(quieted(c.quiet, Error::Failed(failure_summary(&report))))
}

fn build_report(ctx: &Ctx, broker: String, outcomes: Vec<probe::Outcome>) -> Report {
    let probes: Vec<ProbeJson> = outcomes.into_iter().map(ProbeJson::from).collect();
    let things = |c: &probe::Cleanup| Things {
        retained: c.retained.iter().cloned().collect(),
        sessions: c.sessions.iter().cloned().collect(),
    };
    let left_behind = things(&ctx.cleanup.borrow());
    Report {
        mqtk: env!("CARGO_PKG_VERSION"),
        broker,
        protocol: version_name(ctx.version),
        prefix: ctx.prefix.clone(),
        client_id_prefix: ctx.id_base().to_string(),
        connack: protocol::properties_json(&ctx.connack),
        ok: Report::succeeded(&probes, &left_behind),
        probes,
        created: things(&ctx.created.borrow()),
        left_behind,
    }
}

/// The table on stdout, or the JSON where `--json` says (on stdout instead of the
/// table for `-`).
fn output(s: &CheckSettings, report: &Report) -> Result<(), Error> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let text = match &s.json {
        Some(JsonDest::Stdout) => report.json(),
        Some(JsonDest::File(path)) => {
            std::fs::write(path, report.json())
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            report.table()
        }
        None => report.table(),
    };
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("writing the report", e))
}

/// Why the exit status is 1, in one line.
fn failure_summary(r: &Report) -> String {
    let broke: Vec<&str> = r
        .probes
        .iter()
        .filter(|p| matches!(p.status, probe::Status::Timeout | probe::Status::Error))
        .map(|p| p.name)
        .collect();
    let mut parts = Vec::new();
    if !broke.is_empty() {
        parts.push(format!(
            "probes that could not finish: {}",
            broke.join(", ")
        ));
    }
    if !r.left_behind.is_empty() {
        parts.push(format!(
            "left behind: retained messages {:?}, sessions {:?}",
            r.left_behind.retained, r.left_behind.sessions
        ));
    }
    format!("{}.", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> CheckArgs {
        let mut argv: Vec<std::ffi::OsString> = vec!["mqtk".into(), "check".into()];
        argv.extend(args.iter().map(Into::into));
        let words = crate::settings::mosquitto_words(&argv, &[]);
        match crate::cli::Cli::try_parse_from(words)
            .expect("parses")
            .command
        {
            crate::cli::Command::Check(a) => *a,
            _ => unreachable!("check parses as check"),
        }
    }

    #[test]
    fn only_and_skip_choose_probes_in_catalogue_order() {
        let s = resolve(&parse(&["--only", "retain,qos-1", "--skip", "retain"])).unwrap();
        assert_eq!(s.probes, [ProbeId::Qos1]);
        let s = resolve(&parse(&["--skip", "mqtt-3.1"])).unwrap();
        assert_eq!(s.probes.len(), PROBES.len() - 1);
        assert_eq!(s.probes[0], ProbeId::Mqtt311);
        let e = resolve(&parse(&["--only", "will", "--skip", "will"])).unwrap_err();
        assert!(e.to_string().contains("no probe"), "{e}");
    }

    #[test]
    fn flags_that_fight_the_probes_are_refused_with_a_reason() {
        for (flags, word) in [
            (&["-i", "me"][..], "-i:"),
            (&["-c"][..], "-c, -x:"),
            (&["-M", "5"][..], "-M:"),
            (&["--will-topic", "a"][..], "--will-*"),
            (
                &["-D", "publish", "message-expiry-interval", "3"][..],
                "-D:",
            ),
            (&["-L", "mqtt://localhost/some/topic"][..], "-L:"),
        ] {
            let e = resolve(&parse(flags)).unwrap_err();
            assert!(e.to_string().starts_with(word), "{flags:?}: {e}");
        }
    }

    #[test]
    fn version_json_and_defaults() {
        let s = resolve(&parse(&[])).unwrap();
        assert_eq!(s.explicit_version, None);
        assert_eq!(s.json, None);
        assert_eq!(s.step, Duration::from_secs(5));
        assert_eq!(s.max_payload, 1 << 20);
        assert_eq!(s.id_prefix, "mqtk-check-");
        let s = resolve(&parse(&["-V", "311", "--json", "-", "-I", "me-"])).unwrap();
        assert_eq!(s.explicit_version, Some(ProtocolVersion::V311));
        assert_eq!(s.json, Some(JsonDest::Stdout));
        assert_eq!(s.id_prefix, "me-");
        let s = resolve(&parse(&["-D", "connect", "user-property", "a", "b"])).unwrap();
        assert_eq!(s.explicit_version, Some(ProtocolVersion::V5));
    }

    #[test]
    fn tags_are_six_letters_or_digits() {
        let t = random_tag().unwrap();
        assert_eq!(t.len(), 6);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }

    #[test]
    fn the_list_names_every_probe() {
        let l = list();
        for p in PROBES {
            assert!(l.contains(p.name), "{l}");
        }
    }
}
