//! The commands: each takes its parsed arguments and returns an exit code.

pub mod bench;
pub mod broker;
pub mod generate;
pub mod passwd;
pub mod r#pub;
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
        Command::Bench(args) => bench::run(*args),
        Command::Generate { dir } => generate::run(&dir),
    }
}
