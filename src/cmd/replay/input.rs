//! The record files' items in order, the same way in both of replay's passes: lines
//! come parsed from `lines` (threads that read and parse ahead); here each file's
//! first line is checked to be a header (a future version is refused outright), and
//! every message is placed on the timeline (`crate::record::Timeline`), matched
//! against `--from`/`--to` and given its replay topic. What is wrong with a line
//! comes back as `Item::Bad` with its line number, so that the validation pass can
//! report every one and the sending pass can skip them.

use std::sync::Arc;

use super::lines::{Batch, End, Lines, Parsed};
use crate::record::{HeaderError, Message, Timeline};
use crate::settings::replay::{ReplaySettings, TopicRewrite, Window};

/// What the files hold, line by line.
#[derive(Debug)]
pub enum Item {
    /// A message to play: its place on the timeline (µs) and what to publish.
    Message { position: u64, msg: Message },
    /// A line that is not a record line, or a file that cannot be read on from here.
    Bad(Problem),
}

/// Something wrong at a line of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: u64,
    pub why: String,
    /// The file could not be read on from here (damaged or cut compressed data).
    pub broken: bool,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: line {}: {}", self.file, self.line, self.why)
    }
}

/// What stops replay whatever `--skip-bad` says: a file that cannot be opened, is
/// not a record, or is of a newer format version.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    #[error("{file}: {why}")]
    Open { file: String, why: String },
    #[error("{0}")]
    Header(Problem),
}

/// The files' items in order, as both passes see them.
pub struct Reader<'a> {
    lines: Lines,
    /// The batch being taken apart, its next line's number, and how it ends.
    file: Arc<str>,
    parsed: std::vec::IntoIter<Parsed>,
    line: u64,
    end: Option<End>,
    timeline: Timeline,
    window: Window,
    rewrite: &'a TopicRewrite,
}

impl<'a> Reader<'a> {
    pub fn new(s: &'a ReplaySettings) -> Reader<'a> {
        Reader {
            lines: Lines::spawn(s.files.clone()),
            file: Arc::from(""),
            parsed: Vec::new().into_iter(),
            line: 0,
            end: None,
            timeline: Timeline::new(),
            window: s.window,
            rewrite: &s.rewrite,
        }
    }

    /// The next message in the window or bad line; `None` after the last file.
    pub fn next(&mut self) -> Result<Option<Item>, Fatal> {
        loop {
            if let Some(parsed) = self.parsed.next() {
                let line = self.line;
                self.line += 1;
                if let Some(item) = self.item(parsed, line)? {
                    return Ok(Some(item));
                }
                continue;
            }
            if let Some(End::Broken(why)) = self.end.take() {
                return Ok(Some(Item::Bad(self.problem(self.line, why, true))));
            }
            let Some(batch) = self.lines.next() else {
                return Ok(None);
            };
            self.start(batch)?;
        }
    }

    /// Takes up a batch; a file that cannot be opened, or is empty, stops here.
    fn start(&mut self, batch: Batch) -> Result<(), Fatal> {
        let Batch {
            file,
            first_line,
            lines,
            end,
        } = batch;
        self.file = file;
        self.line = first_line;
        if first_line == 1 {
            if let End::Open(why) = end {
                let file = self.file.to_string();
                return Err(Fatal::Open { file, why });
            }
            if lines.is_empty() {
                let why = match end {
                    End::Broken(why) => why,
                    _ => "the file is empty, not an mqtk record".to_string(),
                };
                return Err(Fatal::Header(self.problem(1, why, false)));
            }
        }
        self.parsed = lines.into_iter();
        self.end = Some(end);
        Ok(())
    }

    fn problem(&self, line: u64, why: String, broken: bool) -> Problem {
        Problem {
            file: self.file.to_string(),
            line,
            why,
            broken,
        }
    }

    /// What a parsed line means: `None` for a blank line, a header (a new section) or
    /// a message outside the window.
    fn item(&mut self, parsed: Parsed, line: u64) -> Result<Option<Item>, Fatal> {
        let bad = |r: &Self, why: String| Ok(Some(Item::Bad(r.problem(line, why, false))));
        let mut msg = match parsed {
            Parsed::Blank => return Ok(None),
            Parsed::Bad(why) => return bad(self, why),
            Parsed::Header(Ok(())) => {
                self.timeline.section();
                return Ok(None);
            }
            // The first line must be a header; a newer version stops everything.
            Parsed::Header(Err(e)) if line == 1 || matches!(e, HeaderError::Future(_)) => {
                return Err(Fatal::Header(self.problem(line, e.to_string(), false)));
            }
            Parsed::Header(Err(e)) => return bad(self, e.to_string()),
            Parsed::Message(m) => m,
        };
        let position = match self.timeline.position(msg.offset_us) {
            Ok(p) => p,
            Err(e) => return bad(self, e.to_string()),
        };
        if !self.rewrite.is_identity() {
            let topic = self.rewrite.apply(&msg.topic);
            if let Err(e) = crate::topic::validate_name(&topic) {
                let why = format!("topic \"{}\" becomes \"{topic}\": {e}", msg.topic);
                return bad(self, why);
            }
            msg.topic = topic;
        }
        if !self.window.contains(position, msg.time) {
            return Ok(None);
        }
        Ok(Some(Item::Message { position, msg }))
    }
}

/// Reads everything from `r` (for the tests: a whole file's lines).
#[cfg(test)]
fn drain(mut r: Reader<'_>) -> Result<Vec<Item>, Fatal> {
    let mut out = Vec::new();
    while let Some(i) = r.next()? {
        out.push(i);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::replay::{Bound, Speed};
    use std::path::Path;
    use std::time::Duration;

    const HEADER: &str = r##"{"format":"mqtk-record","version":1,"started":"2024-01-01T00:00:00Z","broker":"b","protocol":"mqttv5","filters":["#"],"qos":0,"mqtk":"0"}"##;

    fn msg(offset: u64, topic: &str) -> String {
        format!(
            r#"{{"time":"2024-01-01T00:00:{:02}Z","offset_us":{offset},"topic":"{topic}","qos":0,"retain":false,"payload":"p"}}"#,
            offset / 1_000_000
        )
    }

    fn settings(dir: &Path, files: &[(&str, Vec<u8>)]) -> ReplaySettings {
        let mut paths = Vec::new();
        for (name, bytes) in files {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            paths.push(p);
        }
        ReplaySettings {
            client: crate::settings::resolve_client(
                &Default::default(),
                crate::settings::Tool::Pub,
                "t",
            )
            .unwrap(),
            files: paths,
            speed: Speed::Max,
            loops: Some(1),
            rewrite: TopicRewrite::default(),
            qos: None,
            no_retain: false,
            window: Window::default(),
            skip_bad: false,
        }
    }

    fn positions(items: &[Item]) -> Vec<(u64, String)> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Message { position, msg } => Some((*position, msg.topic.clone())),
                Item::Bad(_) => None,
            })
            .collect()
    }

    #[test]
    fn files_and_sections_follow_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let a = format!(
            "{HEADER}\n{}\n\n{}\n{HEADER}\n{}\n",
            msg(0, "a"),
            msg(2_000_000, "b"),
            msg(5, "c")
        );
        let b = format!("{HEADER}\r\n{}\r\n{}", msg(10, "d"), msg(1_000_010, "e"));
        let mut s = settings(dir.path(), &[("a", a.into_bytes()), ("b", b.into_bytes())]);
        let got = positions(&drain(Reader::new(&s)).unwrap());
        assert_eq!(
            got,
            [
                (0, "a".into()),
                (2_000_000, "b".into()),
                (2_000_000, "c".into()),
                (2_000_000, "d".into()),
                (3_000_000, "e".into())
            ]
        );
        s.window = Window {
            from: Some(Bound::Position(Duration::from_secs(1))),
            to: Some(Bound::Position(Duration::from_secs(2))),
        };
        s.rewrite.prefix = Some("x/".into());
        let got = positions(&drain(Reader::new(&s)).unwrap());
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].1, "x/b");
    }

    #[test]
    fn bad_lines_have_numbers_and_fatal_problems_stop() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{HEADER}\n{}\nnot json\n{}\n{}\n",
            msg(5, "a"),
            msg(1, "b"),
            msg(9, "+")
        );
        let s = settings(dir.path(), &[("f", text.into_bytes())]);
        let bad: Vec<String> = drain(Reader::new(&s))
            .unwrap()
            .into_iter()
            .filter_map(|i| match i {
                Item::Bad(p) => Some(p.to_string()),
                Item::Message { .. } => None,
            })
            .collect();
        let f = dir.path().join("f").display().to_string();
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(
            bad[0].starts_with(&format!("{f}: line 3: not valid JSON")),
            "{bad:?}"
        );
        assert!(
            bad[1].starts_with(&format!("{f}: line 4: offset_us 1 is before")),
            "{bad:?}"
        );
        assert!(
            bad[2].starts_with(&format!("{f}: line 5: topic \"+\"")),
            "{bad:?}"
        );

        let future = format!(
            "{HEADER}\n{}\n",
            HEADER.replace("\"version\":1", "\"version\":7")
        );
        let s = settings(dir.path(), &[("g", future.into_bytes())]);
        let e = drain(Reader::new(&s)).unwrap_err().to_string();
        assert!(e.ends_with("line 2: record format version 7 is newer than this mqtk reads (version 1); replay it with a newer mqtk"), "{e}");
        let s = settings(dir.path(), &[("h", b"".to_vec())]);
        assert!(
            drain(Reader::new(&s))
                .unwrap_err()
                .to_string()
                .ends_with("h: line 1: the file is empty, not an mqtk record")
        );
    }

    #[test]
    fn zstd_files_are_read_and_truncation_is_a_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        use std::io::Write;
        // Two blocks, as record's flushes make them: the cut loses only the second.
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        write!(enc, "{HEADER}\n{}\n", msg(0, "a")).unwrap();
        enc.flush().unwrap();
        writeln!(enc, "{}", msg(1, "b")).unwrap();
        let z = enc.finish().unwrap();
        let cut = z[..z.len() - 6].to_vec();
        let s = settings(dir.path(), &[("plain-name", z)]);
        assert_eq!(positions(&drain(Reader::new(&s)).unwrap()).len(), 2);
        let s = settings(dir.path(), &[("cut.zst", cut)]);
        let items = drain(Reader::new(&s)).unwrap();
        assert_eq!(positions(&items).len(), 1, "{items:?}");
        let Some(Item::Bad(p)) = items.last() else {
            panic!("{items:?}")
        };
        assert!(p.why.starts_with("the zstd data is truncated"), "{p}");
    }
}
