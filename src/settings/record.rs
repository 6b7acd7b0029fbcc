//! `mqtk record` resolved: the subscription exactly as `mqtk sub` resolves it
//! (`crate::settings::sub`), MQTT v5 by default (so that every property is recorded),
//! and where the record goes.

use std::path::PathBuf;

use crate::cli::record::RecordArgs;
use crate::cli::sub::SubArgs;
use crate::codec::ProtocolVersion;
use crate::exit::Error;
use crate::settings::sub::{SubSettings, resolve_sub};
use crate::settings::usage;

/// Everything `mqtk record` needs, resolved.
#[derive(Clone, Debug)]
pub struct RecordSettings {
    /// The connection and the subscription (`-t`, `-T`, `-q`, `-C`, `-W`, `-R`, …).
    pub sub: SubSettings,
    pub output: Output,
}

/// Where the record goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// `-o -`.
    Stdout,
    /// `-o FILE`; `zstd` when FILE ends in `.zst`.
    File { path: PathBuf, zstd: bool },
}

pub fn resolve_record(args: &RecordArgs, tool: &str) -> Result<RecordSettings, Error> {
    refuse_options_file(&args.conn, tool)?;
    let output = match args.output.as_deref() {
        None => {
            return Err(usage(
                "Error: Give the file to record to with -o FILE (or -o - for standard output).\n",
                tool,
            ));
        }
        Some(p) if p.as_os_str() == "-" => Output::Stdout,
        Some(p) => Output::File {
            path: p.to_path_buf(),
            zstd: p.extension().is_some_and(|e| e == "zst"),
        },
    };
    if args.topics.is_empty() {
        return Err(usage(
            "Error: You must specify a topic to record (-t).\n",
            tool,
        ));
    }
    let mut conn = args.conn.clone();
    // v5 unless asked otherwise: MQTT 3 carries no properties to record.
    conn.protocol_version.get_or_insert(ProtocolVersion::V5);
    if conn.debug && output == Output::Stdout {
        return Err(usage(
            "Error: -d prints on standard output, where -o - writes the record.\n",
            tool,
        ));
    }
    let sub = SubArgs {
        conn,
        topics: args.topics.clone(),
        filter_out: args.filter_out.clone(),
        qos: args.qos,
        count: args.count,
        timeout: args.timeout,
        no_retain: args.no_retain,
        retain_as_published: args.retain_as_published,
        retain_handling: args.retain_handling,
        decode: args.decode.clone(),
        proto_path: args.proto_path.clone(),
        ..SubArgs::default()
    };
    Ok(RecordSettings {
        sub: resolve_sub(&sub, tool)?,
        output,
    })
}

/// record and replay read no options file; the hidden `--options-file` (the
/// connection flags' `-o`, renamed) is refused rather than ignored.
pub(crate) fn refuse_options_file(
    conn: &crate::cli::connect::ConnectArgs,
    tool: &str,
) -> Result<(), Error> {
    if conn.options_file.is_some() {
        return Err(usage(
            format!("Error: {tool} reads no options file.\n"),
            tool,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolve(args: &[&str]) -> Result<RecordSettings, Error> {
        let mut argv = vec!["mqtk", "record"];
        argv.extend_from_slice(args);
        match crate::cli::Cli::try_parse_from(argv)
            .expect("parses")
            .command
        {
            crate::cli::Command::Record(a) => resolve_record(&a, "mqtk record"),
            _ => unreachable!("record parses as record"),
        }
    }

    #[test]
    fn outputs_and_defaults() {
        let s = resolve(&["-t", "a/#", "-o", "x.ndjson.zst"]).unwrap();
        assert_eq!(
            s.output,
            Output::File {
                path: "x.ndjson.zst".into(),
                zstd: true
            }
        );
        assert_eq!(s.sub.client.version, ProtocolVersion::V5);
        assert_eq!(s.sub.topics, ["a/#"]);
        let s = resolve(&["-t", "a", "-o", "-", "-V", "311", "-C", "3"]).unwrap();
        assert_eq!(s.output, Output::Stdout);
        assert_eq!(s.sub.client.version, ProtocolVersion::V311);
        assert_eq!(s.sub.count, Some(3));
        assert!(s.sub.decode.is_none());
        let s = resolve(&["-t", "a", "-o", "-", "--decode", "sparkplug"]).unwrap();
        assert_eq!(s.sub.decode.map(|c| c.name()), Some("sparkplug"));
        // A .proto is compiled at start-up, as for sub.
        let e = resolve(&[
            "-t",
            "a",
            "-o",
            "-",
            "--decode",
            "proto:/nonexistent/x.proto:a.B",
        ]);
        assert!(e.unwrap_err().message().contains("x.proto"));
    }

    #[test]
    fn errors() {
        let u = "\nUse 'mqtk record --help' to see usage.\n";
        let e = |a: &[&str]| resolve(a).unwrap_err().message();
        assert_eq!(
            e(&["-t", "a"]),
            format!(
                "Error: Give the file to record to with -o FILE (or -o - for standard output).\n{u}"
            )
        );
        assert_eq!(
            e(&["-o", "f"]),
            format!("Error: You must specify a topic to record (-t).\n{u}")
        );
        assert_eq!(
            e(&["-t", "a", "-o", "-", "-d"]),
            format!("Error: -d prints on standard output, where -o - writes the record.\n{u}")
        );
        assert_eq!(
            e(&["-t", "a", "-o", "f", "--options-file", "x"]),
            format!("Error: mqtk record reads no options file.\n{u}")
        );
    }
}
