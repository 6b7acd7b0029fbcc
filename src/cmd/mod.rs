//! The commands: each takes its parsed arguments and returns an exit code.

pub mod bench;
pub mod broker;
pub mod check;
pub mod client;
pub mod generate;
pub mod passwd;
pub mod r#pub;
pub mod record;
pub mod replay;
pub mod rr;
pub mod sub;

use crate::cli::{Cli, Command};
use crate::exit::Error;

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Broker(args) => broker::run(args),
        Command::Passwd(args) => passwd::run(args),
        Command::Pub(args) => r#pub::run(*args),
        Command::Sub(args) => sub::run(*args),
        Command::Rr(args) => rr::run(*args),
        Command::Record(args) => record::run(*args),
        Command::Replay(args) => replay::run(*args),
        Command::Bench(args) => bench::run(*args),
        Command::Check(args) => check::run(*args),
        Command::Generate { dir } => generate::run(&dir),
    }
}

// ---------------------------------------------------------------------------------
// What the client commands (pub, sub, rr) share before their work starts

/// The name a client command answers to: `mosquitto_pub` when called by that name
/// (multi-call), else `mqtk pub`.
fn client_tool(subcommand: &str) -> String {
    let argv: Vec<_> = std::env::args_os().collect();
    crate::cli::connect::client_tool_name(&argv).unwrap_or_else(|| format!("mqtk {subcommand}"))
}

/// `--version` of a client command, on stdout.
fn print_client_version(tool: &str, protocols: &str) {
    print_out(&format!(
        "{tool} version {} (mqtk, MQTT {protocols}).\n",
        env!("CARGO_PKG_VERSION")
    ));
}

// ---------------------------------------------------------------------------------
// Text for the user: `print!`/`eprint!` panic when the stream is closed or full
// (`2>/dev/full`, `| true`), so every user-facing line goes through these.

/// Writes `text` to stdout and flushes it. A failed write is ignored: the command's
/// exit status stays what it would have been, and there is no one left to tell.
pub fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes `text` to stderr; a failed write is ignored, as for [`print_out`].
pub fn print_err(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Runs a client command's session: one thread is plenty for one connection, and
/// starts fastest. The runtime is let go without waiting for its blocking threads: a
/// read of stdin (`pub -l` fed by `tail -f`) may never return, and must not keep the
/// process alive once the command is over.
fn block_on(session: impl std::future::Future<Output = Result<u8, Error>>) -> Result<u8, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the runtime", e))?;
    let result = rt.block_on(session);
    rt.shutdown_background();
    result
}
