//! Reading record files, the same way in both of replay's passes: each file is opened
//! (zstd recognised by its magic number, whatever its name), its lines numbered, the
//! header checked (a future version is refused outright), and every message line
//! read, checked, placed on the timeline (`crate::record::Timeline`), matched
//! against `--from`/`--to` and given its replay topic. What is wrong with a line comes
//! back as `Item::Bad` with its line number, so that the validation pass can report
//! every one and the sending pass can skip them.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::record::{Header, HeaderError, Message, Timeline, read_message};
use crate::settings::replay::{ReplaySettings, TopicRewrite, Window};

/// The first four bytes of a zstd frame (RFC 8878 §3.1.1).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
const BUF: usize = 64 * 1024;

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

/// One file's lines, numbered from 1.
struct Lines {
    name: String,
    reader: Box<dyn BufRead>,
    number: u64,
    /// A read failed: the rest of the file cannot be trusted.
    broken: bool,
}

impl Lines {
    fn open(path: &Path) -> Result<Lines, Fatal> {
        let name = path.display().to_string();
        let open_err = |e: io::Error| Fatal::Open {
            file: name.clone(),
            why: crate::exit::strerror(&e),
        };
        let mut file = BufReader::with_capacity(BUF, File::open(path).map_err(open_err)?);
        let zstd = file.fill_buf().map_err(open_err)?.starts_with(&ZSTD_MAGIC);
        let reader: Box<dyn BufRead> = if zstd {
            let dec = zstd::stream::read::Decoder::with_buffer(file).map_err(open_err)?;
            Box::new(BufReader::with_capacity(BUF, dec))
        } else {
            Box::new(file)
        };
        Ok(Lines {
            name,
            reader,
            number: 0,
            broken: false,
        })
    }

    /// The next line without its end-of-line into `buf`; `Ok(false)` at the end.
    fn next(&mut self, buf: &mut Vec<u8>) -> Result<bool, Problem> {
        buf.clear();
        if self.broken {
            return Ok(false);
        }
        self.number += 1;
        match self.reader.read_until(b'\n', buf) {
            Ok(0) => Ok(false),
            Ok(_) => {
                while let Some(b'\n' | b'\r') = buf.last() {
                    buf.pop();
                }
                Ok(true)
            }
            Err(e) => {
                self.broken = true;
                Err(Problem {
                    file: self.name.clone(),
                    line: self.number,
                    why: read_error(&e),
                    broken: true,
                })
            }
        }
    }
}

/// A failed read: of a compressed file, the data is cut or damaged.
fn read_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            format!("the zstd data is truncated ({e}); the rest of the file is lost")
        }
        io::ErrorKind::Other | io::ErrorKind::InvalidData => {
            format!("the zstd data is corrupt ({e}); the rest of the file is lost")
        }
        _ => format!("read failed: {}", crate::exit::strerror(e)),
    }
}

/// The files' items in order, as both passes see them.
pub struct Reader<'a> {
    files: &'a [PathBuf],
    next_file: usize,
    current: Option<Lines>,
    timeline: Timeline,
    window: Window,
    rewrite: &'a TopicRewrite,
    buf: Vec<u8>,
}

impl<'a> Reader<'a> {
    pub fn new(s: &'a ReplaySettings) -> Reader<'a> {
        Reader {
            files: &s.files,
            next_file: 0,
            current: None,
            timeline: Timeline::new(),
            window: s.window,
            rewrite: &s.rewrite,
            buf: Vec::with_capacity(4096),
        }
    }

    /// The next message in the window or bad line; `None` after the last file.
    pub fn next(&mut self) -> Result<Option<Item>, Fatal> {
        loop {
            let Some(lines) = self.current.as_mut() else {
                let Some(path) = self.files.get(self.next_file) else {
                    return Ok(None);
                };
                self.next_file += 1;
                self.current = Some(self.open(path)?);
                continue;
            };
            match lines.next(&mut self.buf) {
                Ok(true) => {}
                Ok(false) => {
                    self.current = None;
                    continue;
                }
                Err(p) => return Ok(Some(Item::Bad(p))),
            }
            let (file, line) = (lines.name.clone(), lines.number);
            if let Some(item) = self.line(file, line)? {
                return Ok(Some(item));
            }
        }
    }

    /// Opens a file and checks its header line: a new section of the timeline.
    fn open(&mut self, path: &Path) -> Result<Lines, Fatal> {
        let mut lines = Lines::open(path)?;
        let header_problem = |lines: &Lines, why: String| {
            Fatal::Header(Problem {
                file: lines.name.clone(),
                line: 1,
                why,
                broken: false,
            })
        };
        match lines.next(&mut self.buf) {
            Ok(true) => {}
            Ok(false) => {
                return Err(header_problem(
                    &lines,
                    "the file is empty, not an mqtk record".into(),
                ));
            }
            Err(p) => return Err(Fatal::Header(p)),
        }
        Header::parse(&self.buf).map_err(|e| header_problem(&lines, e.to_string()))?;
        self.timeline.section();
        Ok(lines)
    }

    /// What the line in `buf` is: `None` for a blank line, a header (a new section of
    /// a concatenated record) or a message outside the window.
    fn line(&mut self, file: String, line: u64) -> Result<Option<Item>, Fatal> {
        if self.buf.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let bad = |file, why: String| {
            let broken = false;
            Ok(Some(Item::Bad(Problem {
                file,
                line,
                why,
                broken,
            })))
        };
        let mut msg = match read_message(&self.buf) {
            Ok(m) => m,
            Err(_) if Header::is_header(&self.buf) => {
                return match Header::parse(&self.buf) {
                    Ok(_) => {
                        self.timeline.section();
                        Ok(None)
                    }
                    Err(HeaderError::Future(v)) => {
                        let why = HeaderError::Future(v).to_string();
                        let broken = false;
                        Err(Fatal::Header(Problem {
                            file,
                            line,
                            why,
                            broken,
                        }))
                    }
                    Err(h) => bad(file, h.to_string()),
                };
            }
            Err(e) => return bad(file, e.to_string()),
        };
        let position = match self.timeline.position(msg.offset_us) {
            Ok(p) => p,
            Err(e) => return bad(file, e.to_string()),
        };
        if !self.rewrite.is_identity() {
            let topic = self.rewrite.apply(&msg.topic);
            if let Err(e) = crate::topic::validate_name(&topic) {
                return bad(
                    file,
                    format!("topic \"{}\" becomes \"{topic}\": {e}", msg.topic),
                );
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
