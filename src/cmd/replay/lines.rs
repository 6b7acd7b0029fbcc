//! The files' lines, read and parsed off the main thread: one thread reads the files
//! in order (zstd recognised by its magic number, whatever the name) in chunks of
//! whole lines, a few workers parse the chunks' lines (`crate::record`), and the
//! consumer takes the results back in file order (chunk k goes to worker k mod n, and
//! is taken from it in the same turn). Channels are bounded: memory stays flat
//! however large the files. Payloads are slices of the chunks, not copies.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use bytes::Bytes;

use crate::record::{Header, HeaderError, Message, read_message_shared};

/// The first four bytes of a zstd frame (RFC 8878 §3.1.1).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// About this much of a file per chunk.
const CHUNK: usize = 256 * 1024;
/// Chunks waiting in each channel.
const QUEUE: usize = 2;
/// Parsing threads at most.
const MAX_WORKERS: usize = 4;

/// One line, parsed.
#[derive(Debug)]
pub enum Parsed {
    Blank,
    Message(Message),
    /// A header line: the first line of a file, or a new section further on.
    Header(Result<(), HeaderError>),
    /// Not a record line: why.
    Bad(String),
}

/// How a file goes on after a batch.
#[derive(Debug)]
pub enum End {
    /// More batches of the same file follow.
    More,
    /// The file ends here.
    File,
    /// A read failed after these lines (damaged or cut compressed data): why.
    Broken(String),
    /// The file could not be opened: why. Nothing follows.
    Open(String),
}

/// Consecutive lines of one file.
#[derive(Debug)]
pub struct Batch {
    pub file: Arc<str>,
    /// The number of the first line (1 for the start of the file).
    pub first_line: u64,
    pub lines: Vec<Parsed>,
    pub end: End,
}

/// A chunk on its way to a worker.
struct Chunk {
    file: Arc<str>,
    first_line: u64,
    data: Bytes,
    end: End,
}

/// The batches of `files`, in order.
pub struct Lines {
    outs: Vec<Receiver<Batch>>,
    turn: usize,
}

impl Lines {
    pub fn spawn(files: Vec<PathBuf>) -> Lines {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_WORKERS);
        let mut ins = Vec::new();
        let mut outs = Vec::new();
        for _ in 0..workers {
            let (in_tx, in_rx) = sync_channel::<Chunk>(QUEUE);
            let (out_tx, out_rx) = sync_channel::<Batch>(QUEUE);
            std::thread::spawn(move || parse_chunks(in_rx, out_tx));
            ins.push(in_tx);
            outs.push(out_rx);
        }
        std::thread::spawn(move || read_files(&files, &ins));
        Lines { outs, turn: 0 }
    }

    /// The next batch; `None` after the last.
    pub fn next(&mut self) -> Option<Batch> {
        let batch = self.outs[self.turn % self.outs.len()].recv().ok();
        self.turn += 1;
        batch
    }
}

fn parse_chunks(rx: Receiver<Chunk>, tx: SyncSender<Batch>) {
    for chunk in rx {
        if tx.send(parse(chunk)).is_err() {
            return;
        }
    }
}

/// Splits a chunk into lines (without their `\n` or `\r\n`) and parses each.
fn parse(chunk: Chunk) -> Batch {
    let data = &chunk.data;
    let mut lines = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let mut stop = end;
        while stop > start && data[stop - 1] == b'\r' {
            stop -= 1;
        }
        let first = chunk.first_line == 1 && lines.is_empty();
        lines.push(parse_line(&data[start..stop], data, first));
        start = end + 1;
    }
    Batch {
        file: chunk.file,
        first_line: chunk.first_line,
        lines,
        end: chunk.end,
    }
}

/// A line of `chunk`; the first line of a file is read as a header, whatever it holds.
fn parse_line(line: &[u8], chunk: &Bytes, first: bool) -> Parsed {
    if first {
        return Parsed::Header(Header::parse(line).map(|_| ()));
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return Parsed::Blank;
    }
    match read_message_shared(line, chunk) {
        Ok(m) => Parsed::Message(m),
        Err(_) if Header::is_header(line) => Parsed::Header(Header::parse(line).map(|_| ())),
        Err(e) => Parsed::Bad(e.to_string()),
    }
}

/// Reads every file into chunks, handed to the workers in turn. Stops when the
/// consumer is gone, or after a file that cannot be opened.
fn read_files(files: &[PathBuf], ins: &[SyncSender<Chunk>]) {
    let mut turn = 0;
    let mut send = |chunk: Chunk| {
        let sent = ins[turn % ins.len()].send(chunk).is_ok();
        turn += 1;
        sent
    };
    for path in files {
        let file: Arc<str> = path.display().to_string().into();
        let reader = match open(path) {
            Ok(r) => r,
            Err(e) => {
                let why = crate::exit::strerror(&e);
                send(chunk(&file, 1, Vec::new(), End::Open(why)));
                return;
            }
        };
        if !read_file(reader, &file, &mut send) {
            return;
        }
    }
}

fn chunk(file: &Arc<str>, first_line: u64, data: Vec<u8>, end: End) -> Chunk {
    Chunk {
        file: file.clone(),
        first_line,
        data: Bytes::from(data),
        end,
    }
}

/// One file's chunks; `false` when the consumer is gone.
fn read_file(
    mut reader: Box<dyn Read>,
    file: &Arc<str>,
    send: &mut impl FnMut(Chunk) -> bool,
) -> bool {
    let mut line = 1u64;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut data = std::mem::take(&mut carry);
        // Room for the whole chunk at once: growing by doubling would copy it.
        data.reserve(CHUNK);
        let read = (&mut reader).take(CHUNK as u64).read_to_end(&mut data);
        let end = match read {
            Ok(0) => End::File,
            Ok(_) => {
                match memchr::memrchr(b'\n', &data) {
                    Some(i) => carry = data.split_off(i + 1),
                    // A line longer than a chunk: read on.
                    None => {
                        carry = data;
                        continue;
                    }
                }
                End::More
            }
            Err(e) => {
                // The cut line is not a line: the damage is reported after the last
                // whole one.
                let whole = memchr::memrchr(b'\n', &data).map_or(0, |i| i + 1);
                data.truncate(whole);
                End::Broken(read_error(&e))
            }
        };
        let count = memchr::memchr_iter(b'\n', &data).count() as u64
            + u64::from(data.last().is_some_and(|&b| b != b'\n'));
        let last = !matches!(end, End::More);
        if !send(chunk(file, line, data, end)) {
            return false;
        }
        line += count;
        if last {
            return true;
        }
    }
}

/// The file's bytes: decompressed when it starts with zstd's magic number. A plain
/// file is read straight into the chunks (no buffer in between: chunks are large).
fn open(path: &Path) -> io::Result<Box<dyn Read>> {
    let mut file = File::open(path)?;
    let mut magic = Vec::with_capacity(4);
    (&mut file).take(4).read_to_end(&mut magic)?;
    file.seek(io::SeekFrom::Start(0))?;
    if magic == ZSTD_MAGIC {
        let buffered = BufReader::with_capacity(CHUNK, file);
        return Ok(Box::new(zstd::stream::read::Decoder::with_buffer(
            buffered,
        )?));
    }
    Ok(Box::new(file))
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
