//! The clap root: subcommands, and argv[0] multi-call (`mosquitto_pub` → `mqtk pub`).

pub mod bench;
pub mod broker;
pub mod check;
pub mod connect;
pub mod passwd;
pub mod payload;
pub mod r#pub;
pub mod record;
pub mod replay;
pub mod rr;
pub mod sub;
pub mod words;

use std::ffi::{OsStr, OsString};
use std::path::Path;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mqtk",
    version,
    about = "An MQTT toolkit: clients, a load generator and a broker"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded MQTT broker.
    Broker(broker::BrokerArgs),
    /// Manage password files (mosquitto_passwd).
    Passwd(passwd::PasswdArgs),
    /// Publish messages (mosquitto_pub).
    #[command(
        disable_help_flag = true,
        disable_version_flag = true,
        args_override_self = true
    )]
    Pub(Box<r#pub::PubArgs>),
    /// Subscribe and print messages (mosquitto_sub).
    #[command(
        disable_help_flag = true,
        disable_version_flag = true,
        args_override_self = true
    )]
    Sub(Box<sub::SubArgs>),
    /// Publish a request and wait for the response (mosquitto_rr).
    #[command(
        disable_help_flag = true,
        disable_version_flag = true,
        args_override_self = true
    )]
    Rr(Box<rr::RrArgs>),
    /// Record messages to a file (NDJSON) with their timing, flags and properties.
    #[command(
        disable_help_flag = true,
        disable_version_flag = true,
        args_override_self = true
    )]
    Record(Box<record::RecordArgs>),
    /// Publish recorded messages again, in their order and with their timing.
    #[command(
        disable_help_flag = true,
        disable_version_flag = true,
        args_override_self = true
    )]
    Replay(Box<replay::ReplayArgs>),
    /// Load-test a broker: publishers and subscribers (default), or `pub`, `sub`,
    /// `conn`; `merge` combines reports.
    #[command(
        disable_help_flag = true,
        disable_version_flag = true,
        args_override_self = true
    )]
    Bench(Box<bench::BenchArgs>),
    /// Probe a broker: which MQTT versions and features it supports, and where its
    /// limits are.
    #[command(
        disable_help_flag = true,
        disable_version_flag = true,
        args_override_self = true
    )]
    Check(Box<check::CheckArgs>),
    /// Write man pages (DIR/man) and shell completions (DIR/completions) generated
    /// from these definitions; `cargo run -q -- generate .` refreshes the committed ones.
    #[command(hide = true)]
    Generate {
        /// The directory to write `man/` and `completions/` into.
        dir: std::path::PathBuf,
    },
}

/// The tools a symlink may name, and the subcommand each runs.
pub const MULTICALL: &[(&str, &str)] = &[
    ("mosquitto_pub", "pub"),
    ("mosquitto_sub", "sub"),
    ("mosquitto_rr", "rr"),
    ("mosquitto_passwd", "passwd"),
];

/// The name the binary was invoked by: argv[0]'s basename without `.exe` (`None`
/// when it is not UTF-8).
pub(crate) fn invoked_as(argv0: &OsStr) -> Option<&str> {
    let name = Path::new(argv0).file_name()?.to_str()?;
    Some(name.strip_suffix(".exe").unwrap_or(name))
}

/// Rewrites argv so that `mosquitto_pub ARGS` (by argv[0]'s basename, with or
/// without `.exe`) parses as `mqtk pub ARGS`. Any other name is left alone.
pub fn multicall_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let Some(argv0) = args.first() else {
        return vec![OsString::from("mqtk")];
    };
    let name = invoked_as(argv0);
    if let Some((_, sub)) = MULTICALL.iter().find(|(tool, _)| Some(*tool) == name) {
        args[0] = OsString::from("mqtk");
        args.insert(1, OsString::from(sub));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn symlink_names_map_to_subcommands() {
        assert_eq!(
            multicall_args(os(&["/usr/bin/mosquitto_pub", "-t", "a"])),
            os(&["mqtk", "pub", "-t", "a"])
        );
        assert_eq!(
            multicall_args(os(&["mosquitto_passwd.exe", "-b", "f"])),
            os(&["mqtk", "passwd", "-b", "f"])
        );
    }

    #[test]
    fn other_names_are_left_alone() {
        assert_eq!(
            multicall_args(os(&["mqtk", "broker"])),
            os(&["mqtk", "broker"])
        );
        assert_eq!(
            multicall_args(os(&["mosquitto_pubx", "broker"])),
            os(&["mosquitto_pubx", "broker"])
        );
    }
}
