//! Where sub and rr print: stdout through a 64 KiB buffer with mosquitto's flush
//! rules, the formatter's complaints on stderr, `-W`'s "Timed out", and SIGINT /
//! SIGTERM (mosquitto's clients disconnect and exit 0 on either).

use std::io::{self, BufWriter, IsTerminal, Write};

use crate::exit::{self, Error};

/// Output buffer size.
const OUT_BUF: usize = 64 * 1024;

/// stdout through a 64 KiB buffer, flushed after every message on a terminal, with
/// `--line-buffered`, or with `-d` (whose lines go through std's stdout and must stay
/// in order); otherwise when the socket has nothing more ready.
pub struct Out {
    pub w: BufWriter<Box<dyn Write>>,
    pub every: bool,
}

impl Out {
    pub fn stdout(line_buffered: bool, debug: bool) -> Out {
        let every = line_buffered || debug || io::stdout().is_terminal();
        Out {
            w: BufWriter::with_capacity(OUT_BUF, raw_stdout()),
            every,
        }
    }

    pub fn after_message(&mut self) -> Result<(), Error> {
        if self.every {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), Error> {
        self.w.flush().map_err(out_err)
    }
}

/// File descriptor 1 itself (a duplicate), so writes skip std's line buffering.
#[cfg(unix)]
fn raw_stdout() -> Box<dyn Write> {
    use std::os::fd::AsFd;
    match io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(_) => Box::new(io::stdout()),
    }
}

#[cfg(not(unix))]
fn raw_stdout() -> Box<dyn Write> {
    Box::new(io::stdout())
}

/// `-W` ran out: what is printed stays printed, then "Timed out" and exit 27.
pub fn timed_out(out: &mut Out, quiet: bool) -> Result<u8, Error> {
    let _ = out.flush();
    if !quiet {
        let _ = writeln!(io::stderr(), "Timed out");
    }
    Ok(exit::TIMEOUT)
}

/// A failed write to stdout. A closed pipe keeps its kind, so `main` exits quietly.
pub fn out_err(e: io::Error) -> Error {
    Error::io("writing to stdout", e)
}

/// Where the formatter's complaints go: stderr, or nowhere with `--quiet`.
pub fn diag(quiet: bool) -> Box<dyn Write> {
    if quiet {
        Box::new(io::sink())
    } else {
        Box::new(io::stderr())
    }
}

/// SIGINT and SIGTERM (Ctrl-C and `kill`).
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn new() -> Result<Signals, Error> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let err = |e| Error::io("installing signal handlers", e);
            Ok(Signals {
                int: signal(SignalKind::interrupt()).map_err(err)?,
                term: signal(SignalKind::terminate()).map_err(err)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => {}
                _ = self.term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Sleeps until `t`, or forever without one (a `select!` arm that may be off).
pub async fn sleep_until_opt(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
