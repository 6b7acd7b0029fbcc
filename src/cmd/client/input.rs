//! What pub and rr send, loaded as mosquitto 2.1's `pub_shared.c` loads it before
//! connecting (`-m`, `-n`, `-f`, `-s`), failing in its words.

use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::cmd::client::quieted;
use crate::codec::MAX_REMAINING_LENGTH;
use crate::exit::Error;
use crate::settings::{MessageSource, plain};

/// The whole message of a source that has one (`None` for `-l`, read line by line).
pub fn load(source: &MessageSource, quiet: bool) -> Result<Option<Bytes>, Error> {
    Ok(Some(match source {
        MessageSource::Message(b) => b.clone(),
        MessageSource::Null => Bytes::new(),
        MessageSource::StdinLines => return Ok(None),
        MessageSource::StdinAll => stdin_all(quiet)?,
        MessageSource::File(path) => InputFile::open(path, quiet)?.read_all(quiet)?,
    }))
}

/// `-s`: all of stdin, at most one packet's worth.
fn stdin_all(quiet: bool) -> Result<Bytes, Error> {
    let mut all = Vec::new();
    let limit = MAX_REMAINING_LENGTH as u64 + 1;
    if std::io::stdin()
        .lock()
        .take(limit)
        .read_to_end(&mut all)
        .is_err()
    {
        return Err(quieted(quiet, plain("Error loading input from stdin.\n")));
    }
    if all.len() > MAX_REMAINING_LENGTH {
        return Err(quieted(
            quiet,
            plain(format!(
                "Error: Message length must be less than {MAX_REMAINING_LENGTH} bytes.\n\nError loading input from stdin.\n"
            )),
        ));
    }
    Ok(Bytes::from(all))
}

/// `-f FILE`, opened and checked as mosquitto 2.1's `load_file` does, failing in its
/// words: the OS's reason, or libmosquitto's for a read that comes up short. Read
/// whole, as mosquitto reads it.
pub struct InputFile {
    file: std::fs::File,
    path: PathBuf,
    pub len: u64,
}

impl InputFile {
    pub fn open(path: &Path, quiet: bool) -> Result<InputFile, Error> {
        let fail = |head: String| input_file_error(path, head, quiet);
        let unable = |e: std::io::Error| {
            fail(format!(
                "Error: Unable to read file \"{}\": {}.\n",
                path.display(),
                crate::exit::strerror(&e)
            ))
        };
        let file = std::fs::File::open(path).map_err(unable)?;
        let meta = file.metadata().map_err(unable)?;
        if !meta.is_file() {
            // mosquitto 2.1 prints "Error: PATH is not a file." without a line end,
            // then its "Unable to read" line with a stale errno; mqtk ends the line
            // and leaves the stale reason out.
            return Err(fail(format!("Error: {} is not a file.\n", path.display())));
        }
        if meta.len() > MAX_REMAINING_LENGTH as u64 {
            return Err(fail(format!(
                "Error: File must be less than {MAX_REMAINING_LENGTH} bytes.\n\n"
            )));
        }
        Ok(InputFile {
            file,
            path: path.to_path_buf(),
            len: meta.len(),
        })
    }

    /// The whole file, in memory.
    pub fn read_all(mut self, quiet: bool) -> Result<Bytes, Error> {
        let mut v = Vec::with_capacity(self.len as usize);
        match self.file.read_to_end(&mut v) {
            Ok(_) => Ok(Bytes::from(v)),
            Err(_) => Err(input_file_error(
                &self.path,
                format!(
                    "Error: Unable to read file \"{}\": Invalid input.\n",
                    self.path.display()
                ),
                quiet,
            )),
        }
    }
}

/// `head`, then the line mosquitto's clients add after any `-f` failure.
fn input_file_error(path: &Path, head: String, quiet: bool) -> Error {
    quieted(
        quiet,
        plain(format!(
            "{head}Error loading input file \"{}\".\n",
            path.display()
        )),
    )
}
