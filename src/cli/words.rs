//! mosquitto's own walk over a client command line (`client_config_line_proc` in
//! client_shared.c), for the two places where it and clap would read the words
//! differently:
//!
//! - `-D COMMAND NAME VALUE`: mosquitto takes the next three words (four when NAME is
//!   `user-property`) whatever they look like, so `-D publish message-expiry-interval
//!   -1` has the value `-1` (which it then refuses in its own words). `-D` takes
//!   hyphen values in clap, and [`PROPERTY_END`] after each group of fewer than four
//!   words tells clap where the group ends.
//! - The protocol version: mosquitto goes by argv order, and every `-D` or `-x` sets
//!   MQTT v5, so the last of `-V`, `-D` and `-x` decides. `-V` words that a later
//!   `-D`/`-x` overrides are dropped here, so that the settings can let `-V` win.
//! - `--help` and `--version`: mosquitto stops reading there (what came before may
//!   still fail; what follows is never looked at), so the words after them go.

use std::ffi::{OsStr, OsString};

/// Ends a `-D` group (clap's value terminator). It holds a NUL, which no word from the
/// command line can (argv strings end at the first NUL).
pub const PROPERTY_END: &str = "\0";

/// What one word is, as far as this walk cares.
enum Word {
    /// `-D`/`--property`.
    Property,
    /// `-V`/`--protocol-version`.
    Version,
    /// `-x` (session expiry: implies v5).
    SessionExpiry,
    /// `--help`, `--version`: the last word mosquitto reads.
    Stop,
    /// Another option taking this many following words.
    Takes(usize),
    /// A flag, or anything this walk does not know (clap judges it).
    Other,
}

/// Rewrites a client command's words: `file` are the options file's (mosquitto reads
/// them first, line by line, so a `-D` group never continues into argv) and `argv`
/// the command line's, both without `mqtk SUB`. `sub` is the subcommand's clap
/// definition, which says which options take a value.
pub fn mosquitto_order(sub: &clap::Command, file: &[OsString], argv: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::with_capacity(file.len() + argv.len() + 4);
    let mut versions: Vec<usize> = Vec::new();
    let mut versions_valid = true;
    let mut last_v5: Option<usize> = None;
    for segment in [file, argv] {
        let mut i = 0;
        while i < segment.len() {
            let at = out.len();
            out.push(segment[i].clone());
            i += 1;
            let rest = &segment[i..];
            match classify(sub, &segment[i - 1]) {
                Word::Property => {
                    let n = property_group_len(rest);
                    out.extend_from_slice(&rest[..n]);
                    if n < 4 {
                        out.push(OsString::from(PROPERTY_END));
                    }
                    i += n;
                    last_v5 = Some(at);
                }
                Word::Version => {
                    let value = rest.first();
                    versions_valid &= value.is_some_and(|v| valid_version(v));
                    versions.push(at);
                    out.extend(value.cloned());
                    i += usize::from(value.is_some());
                }
                Word::SessionExpiry => {
                    out.extend(rest.first().cloned());
                    i += usize::from(!rest.is_empty());
                    last_v5 = Some(at);
                }
                Word::Stop => return out,
                Word::Takes(n) => {
                    let n = n.min(rest.len());
                    out.extend_from_slice(&rest[..n]);
                    i += n;
                }
                Word::Other => {}
            }
        }
    }
    // A bad -V is mosquitto's error wherever it stands: keep it for clap to report.
    if versions_valid && versions.last().is_some_and(|&v| last_v5 > Some(v)) {
        for &at in versions.iter().rev() {
            out.drain(at..at + 2);
        }
    }
    out
}

/// How many words after `-D` belong to it: three, or four for `user-property` (by
/// name, case-insensitively, as mosquitto compares), fewer at the end.
fn property_group_len(rest: &[OsString]) -> usize {
    let pair = rest
        .get(1)
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.eq_ignore_ascii_case("user-property"));
    rest.len().min(if pair { 4 } else { 3 })
}

fn valid_version(v: &OsStr) -> bool {
    matches!(
        v.to_str(),
        Some("mqttv31" | "31" | "mqttv311" | "311" | "mqttv5" | "5")
    )
}

fn classify(sub: &clap::Command, word: &OsStr) -> Word {
    let Some(w) = word.to_str() else {
        return Word::Other;
    };
    let arg = if let Some(long) = w.strip_prefix("--") {
        if long.contains('=') {
            // `--name=value` carries its value (clap's form; mosquitto has none).
            return Word::Other;
        }
        sub.get_arguments().find(|a| {
            a.get_long() == Some(long) || a.get_all_aliases().is_some_and(|v| v.contains(&long))
        })
    } else {
        let mut chars = w.chars();
        match (chars.next(), chars.next(), chars.next()) {
            (Some('-'), Some(c), None) => sub.get_arguments().find(|a| a.get_short() == Some(c)),
            _ => None,
        }
    };
    let Some(arg) = arg else {
        return Word::Other;
    };
    match arg.get_id().as_str() {
        "property" => Word::Property,
        "protocol_version" => Word::Version,
        "session_expiry" => Word::SessionExpiry,
        "help" | "version" => Word::Stop,
        _ if arg.get_action().takes_values() => {
            Word::Takes(arg.get_num_args().map_or(1, |r| r.min_values()).max(1))
        }
        _ => Word::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn walk(file: &[&str], argv: &[&str]) -> Vec<String> {
        let mut root = crate::cli::Cli::command();
        root.build();
        let sub = root.find_subcommand("pub").unwrap();
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        mosquitto_order(sub, &os(file), &os(argv))
            .into_iter()
            .map(|s| s.into_string().unwrap().replace(PROPERTY_END, "|"))
            .collect()
    }

    #[test]
    fn property_groups_take_their_words_whatever_they_look_like() {
        assert_eq!(
            walk(
                &[],
                &["-D", "publish", "message-expiry-interval", "-1", "-t", "a"]
            ),
            [
                "-D",
                "publish",
                "message-expiry-interval",
                "-1",
                "|",
                "-t",
                "a"
            ]
        );
        assert_eq!(
            walk(
                &[],
                &["-D", "connect", "User-Property", "-k", "-v", "-q", "1"]
            ),
            ["-D", "connect", "User-Property", "-k", "-v", "-q", "1"]
        );
        // A -D that is another option's value is not a group.
        assert_eq!(walk(&[], &["-m", "-D", "-t", "a"]), ["-m", "-D", "-t", "a"]);
        // Short groups end where their segment does: an options-file -D never takes
        // words from argv.
        assert_eq!(
            walk(&["-D", "publish content-type x"], &["-t", "a"]),
            ["-D", "publish content-type x", "|", "-t", "a"]
        );
        assert_eq!(
            walk(&[], &["-t", "a", "-D", "publish"]),
            ["-t", "a", "-D", "publish", "|"]
        );
    }

    #[test]
    fn reading_stops_at_help_and_version() {
        assert_eq!(
            walk(&[], &["-q", "5", "--help", "-q", "7"]),
            ["-q", "5", "--help"]
        );
        assert_eq!(walk(&["--version"], &["--bogus"]), ["--version"]);
        // As a value it is only a value.
        assert_eq!(
            walk(&[], &["-m", "--help", "-q", "1"]),
            ["-m", "--help", "-q", "1"]
        );
    }

    #[test]
    fn the_last_of_v_d_and_x_sets_the_protocol() {
        let d = ["-D", "publish", "content-type", "x"];
        let mut argv = vec!["-V", "311", "-t", "a"];
        argv.extend(d);
        assert_eq!(
            walk(&[], &argv),
            ["-t", "a", "-D", "publish", "content-type", "x", "|"]
        );
        let mut argv = d.to_vec();
        argv.extend(["-V", "311"]);
        assert_eq!(
            walk(&[], &argv),
            ["-D", "publish", "content-type", "x", "|", "-V", "311"]
        );
        // From the options file too; -x implies v5 like -D.
        assert_eq!(walk(&["-V", "31"], &["-x", "5"]), ["-x", "5"]);
        // A bad -V stays, for its error.
        assert_eq!(walk(&["-V", "4"], &["-x", "5"]), ["-V", "4", "-x", "5"]);
    }
}
