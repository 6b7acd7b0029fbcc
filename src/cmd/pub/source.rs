//! Where `mqtk pub`'s messages come from, read lazily: one payload sent `-r`+1 times
//! `--repeat-delay` apart, or the lines of stdin (`-l`), split here as they arrive.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use crate::cmd::client::input;
use crate::exit::Error;
use crate::settings::PubSettings;

/// How much stdin to read at once.
const CHUNK: usize = 64 * 1024;

pub enum Source {
    /// `-m`, `-n`, `-f`, `-s`: one payload, `left` more times, `delay` apart.
    Fixed {
        payload: Bytes,
        left: u32,
        delay: Duration,
        next_at: Option<Instant>,
    },
    /// `-l`: lines of `reader`.
    Lines {
        reader: Box<dyn AsyncRead + Unpin + Send>,
        buf: BytesMut,
        /// Bytes at the front of `buf` already searched for a newline, so a long line
        /// arriving in many reads is scanned once, not once per read.
        scanned: usize,
        eof: bool,
    },
}

/// What a source has for the publisher right now.
pub enum Next {
    Message(Bytes),
    /// Nothing buffered: read more input.
    NeedInput,
    /// The next repetition is due then.
    WaitUntil(Instant),
    Exhausted,
}

impl Source {
    /// Builds the source, reading what mosquitto reads before connecting (`-s`, `-f`),
    /// and failing with its words when it cannot.
    pub fn open(p: &PubSettings) -> Result<Source, Error> {
        Ok(match input::load(&p.source, p.client.quiet)? {
            Some(payload) => Source::Fixed {
                payload,
                left: p.repeat,
                delay: p.repeat_delay,
                next_at: None,
            },
            None => Source::lines(Box::new(tokio::io::stdin())),
        })
    }

    fn lines(reader: Box<dyn AsyncRead + Unpin + Send>) -> Source {
        Source::Lines {
            reader,
            buf: BytesMut::with_capacity(CHUNK),
            scanned: 0,
            eof: false,
        }
    }

    pub fn next(&mut self, now: Instant) -> Next {
        match self {
            Source::Fixed {
                payload,
                left,
                delay,
                next_at,
            } => {
                if *left == 0 {
                    return Next::Exhausted;
                }
                if let Some(at) = next_at
                    && now < *at
                {
                    return Next::WaitUntil(*at);
                }
                *left -= 1;
                *next_at = (!delay.is_zero()).then(|| now + *delay);
                Next::Message(payload.clone())
            }
            Source::Lines {
                buf, scanned, eof, ..
            } => next_line(buf, scanned, *eof),
        }
    }

    pub fn exhausted(&self) -> bool {
        match self {
            Source::Fixed { left, .. } => *left == 0,
            Source::Lines { buf, eof, .. } => *eof && buf.is_empty(),
        }
    }

    /// The one message of a fixed source (`-m`, `-f`, `-s`, `-n`).
    pub fn fixed_payload(&self) -> Option<&Bytes> {
        match self {
            Source::Fixed { payload, .. } => Some(payload),
            Source::Lines { .. } => None,
        }
    }

    pub fn is_lines(&self) -> bool {
        matches!(self, Source::Lines { .. })
    }

    /// Reads one chunk of line input (nothing for a fixed source).
    pub async fn read_chunk(&mut self) -> std::io::Result<()> {
        if let Source::Lines {
            reader, buf, eof, ..
        } = self
        {
            if buf.capacity() - buf.len() < CHUNK / 2 {
                buf.reserve(CHUNK);
            }
            if reader.read_buf(buf).await? == 0 {
                *eof = true;
            }
        }
        Ok(())
    }

    /// `-l`: waits for the first line. `None`: the input ended without one;
    /// `Some(true)`: a line ending in a newline; `Some(false)`: a last line without
    /// one. A failed read ends the input, as it ends mosquitto's `fgets` loop.
    pub async fn first_line(&mut self) -> Option<bool> {
        loop {
            let Source::Lines { buf, eof, .. } = self else {
                return None;
            };
            if memchr::memchr(b'\n', buf).is_some() {
                return Some(true);
            }
            if *eof {
                return (!buf.is_empty()).then_some(false);
            }
            if self.read_chunk().await.is_err()
                && let Source::Lines { eof, .. } = self
            {
                *eof = true;
            }
        }
    }
}

fn next_line(buf: &mut BytesMut, scanned: &mut usize, eof: bool) -> Next {
    if let Some(i) = memchr::memchr(b'\n', &buf[*scanned..]) {
        let i = *scanned + i;
        *scanned = 0;
        let line = buf.split_to(i + 1).freeze().slice(..i);
        return Next::Message(line);
    }
    *scanned = buf.len();
    if eof {
        if buf.is_empty() {
            return Next::Exhausted;
        }
        // A last line without a newline is still a message (as mosquitto).
        *scanned = 0;
        return Next::Message(buf.split().freeze());
    }
    Next::NeedInput
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(src: &mut Source, bytes: &[u8]) {
        if let Source::Lines { buf, .. } = src {
            buf.extend_from_slice(bytes);
        }
    }

    fn next_line(src: &mut Source) -> Option<Bytes> {
        match src.next(Instant::now()) {
            Next::Message(b) => Some(b),
            _ => None,
        }
    }

    #[test]
    fn lines_arriving_in_pieces_are_split_at_each_newline() {
        let mut src = Source::lines(Box::new(tokio::io::empty()));
        push(&mut src, b"ab");
        assert!(matches!(src.next(Instant::now()), Next::NeedInput));
        push(&mut src, b"c\nde");
        assert_eq!(next_line(&mut src).as_deref(), Some(&b"abc"[..]));
        assert!(matches!(src.next(Instant::now()), Next::NeedInput));
        push(&mut src, b"\n\nf");
        assert_eq!(next_line(&mut src).as_deref(), Some(&b"de"[..]));
        assert_eq!(next_line(&mut src).as_deref(), Some(&b""[..]));
        assert!(matches!(src.next(Instant::now()), Next::NeedInput));
        if let Source::Lines { eof, .. } = &mut src {
            *eof = true;
        }
        // A last line without a newline is still a message.
        assert_eq!(next_line(&mut src).as_deref(), Some(&b"f"[..]));
        assert!(matches!(src.next(Instant::now()), Next::Exhausted));
    }

    #[test]
    fn a_fixed_payload_repeats_with_its_delay() {
        let t0 = Instant::now();
        let mut src = Source::Fixed {
            payload: Bytes::from_static(b"x"),
            left: 2,
            delay: Duration::from_secs(1),
            next_at: None,
        };
        assert!(matches!(src.next(t0), Next::Message(_)));
        assert!(matches!(src.next(t0), Next::WaitUntil(t) if t == t0 + Duration::from_secs(1)));
        assert!(matches!(
            src.next(t0 + Duration::from_secs(1)),
            Next::Message(_)
        ));
        assert!(src.exhausted());
    }
}
