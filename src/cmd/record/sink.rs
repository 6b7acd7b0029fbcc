//! Where the record goes: a file (zstd-compressed as it is written when its name ends
//! in `.zst`) or standard output, through a 64 KiB buffer. Plain output is flushed
//! whenever the socket has nothing more ready (so `tail -f` and a crash see what was
//! received); zstd output at most once a second, since each flush ends a compressed
//! block. A zstd frame carries a content checksum. `finish` writes what is buffered,
//! ends the zstd frame and fsyncs the file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::time::{Duration, Instant};

use crate::exit::Error;
use crate::settings::record::Output;

const BUF: usize = 64 * 1024;
/// zstd's default level: fast enough to keep up with a flood, a good ratio on JSON.
const ZSTD_LEVEL: i32 = 3;
/// How long compressed output may stay in the buffers.
const ZSTD_FLUSH: Duration = Duration::from_secs(1);

/// The record's output.
pub struct Sink {
    w: BufWriter<Inner>,
    zstd: bool,
    /// Written to since the last flush.
    dirty: bool,
    last_flush: Instant,
    /// For messages: the file's name, or "standard output".
    name: String,
}

enum Inner {
    Plain(Counted),
    Zstd(zstd::stream::write::Encoder<'static, Counted>),
}

/// The file (or a duplicate of fd 1) and the bytes written to it.
struct Counted {
    file: File,
    bytes: u64,
    stdout: bool,
}

impl Sink {
    /// Creates (or truncates) the file now, so that an unusable path fails before
    /// anything connects.
    pub fn open(output: &Output) -> Result<Sink, Error> {
        let (counted, zstd, name) = match output {
            Output::Stdout => {
                let file = stdout_file().map_err(|e| Error::io("opening standard output", e))?;
                (
                    Counted::new(file, true),
                    false,
                    "standard output".to_string(),
                )
            }
            Output::File { path, zstd } => {
                let file = File::create(path)
                    .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
                (Counted::new(file, false), *zstd, path.display().to_string())
            }
        };
        let inner = if zstd {
            let mut enc = zstd::stream::write::Encoder::new(counted, ZSTD_LEVEL)
                .map_err(|e| Error::io("starting zstd", e))?;
            // A content checksum, so that replay's validation pass finds damage that
            // still decompresses (zstd's own default has none).
            enc.include_checksum(true)
                .map_err(|e| Error::io("starting zstd", e))?;
            Inner::Zstd(enc)
        } else {
            Inner::Plain(counted)
        };
        Ok(Sink {
            w: BufWriter::with_capacity(BUF, inner),
            zstd,
            dirty: false,
            last_flush: Instant::now(),
            name,
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.dirty = true;
        self.w.write_all(bytes).map_err(|e| self.err(e))
    }

    /// Bytes that reached the file (compressed ones for `.zst`).
    pub fn bytes_out(&self) -> u64 {
        match self.w.get_ref() {
            Inner::Plain(c) => c.bytes,
            Inner::Zstd(e) => e.get_ref().bytes,
        }
    }

    /// Nothing more is ready to record: flush, by the rules in the module doc.
    pub fn idle(&mut self) -> Result<(), Error> {
        if self.dirty && (!self.zstd || self.last_flush.elapsed() >= ZSTD_FLUSH) {
            self.flush()?;
        }
        Ok(())
    }

    /// When `idle` left compressed output waiting: flush then.
    pub fn flush_due(&self) -> Option<tokio::time::Instant> {
        (self.dirty && self.zstd).then(|| (self.last_flush + ZSTD_FLUSH).into())
    }

    pub fn flush(&mut self) -> Result<(), Error> {
        self.dirty = false;
        self.last_flush = Instant::now();
        self.w.flush().map_err(|e| self.err(e))
    }

    /// Writes everything, ends the zstd frame, and fsyncs a file (standard output too
    /// when it is redirected to a file; a pipe cannot be synced).
    pub fn finish(self) -> Result<(), Error> {
        let name = self.name;
        let err = |e| Error::io(format!("writing {name}"), e);
        let inner = self.w.into_inner().map_err(|e| err(e.into_error()))?;
        let mut counted = match inner {
            Inner::Plain(c) => c,
            Inner::Zstd(enc) => enc.finish().map_err(err)?,
        };
        counted.file.flush().map_err(err)?;
        let regular = counted.file.metadata().is_ok_and(|m| m.is_file());
        if !counted.stdout || regular {
            counted.file.sync_all().map_err(err)?;
        }
        Ok(())
    }

    fn err(&self, e: io::Error) -> Error {
        Error::io(format!("writing {}", self.name), e)
    }

    /// The file's name, for the progress line.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Counted {
    fn new(file: File, stdout: bool) -> Counted {
        Counted {
            file,
            bytes: 0,
            stdout,
        }
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Write for Inner {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Inner::Plain(c) => c.write(buf),
            Inner::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Inner::Plain(c) => c.flush(),
            Inner::Zstd(e) => e.flush(),
        }
    }
}

/// A duplicate of fd 1 as a `File`: written without std's line buffering, and
/// syncable when it is a file.
#[cfg(unix)]
fn stdout_file() -> io::Result<File> {
    use std::os::fd::AsFd;
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

#[cfg(windows)]
fn stdout_file() -> io::Result<File> {
    use std::os::windows::io::AsHandle;
    Ok(File::from(io::stdout().as_handle().try_clone_to_owned()?))
}
