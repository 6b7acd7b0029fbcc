//! The `mqtk` binary: argv[0] dispatch, run, and the error → message → exit code edge.

use std::process::ExitCode;

use clap::Parser;
use mqtk::cli::{Cli, multicall_args};

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(multicall_args(std::env::args_os())) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                mqtk::exit::FAILURE
            } else {
                0
            });
        }
    };
    match mqtk::cmd::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.is_broken_pipe() => ExitCode::from(mqtk::exit::OK),
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
