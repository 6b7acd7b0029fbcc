//! The `mqtk` binary: argv[0] dispatch, run, and the error → message → exit code edge.

use std::process::ExitCode;

use clap::Parser;
use mqtk::cli::{Cli, multicall_args};

fn main() -> ExitCode {
    let raw: Vec<_> = std::env::args_os().collect();
    let tool = mqtk::cli::connect::client_tool_name(&raw);
    // Client commands read their options file (mosquitto's ~/.config/mosquitto_pub)
    // first: its options come before argv's, so argv wins.
    let args = match mqtk::settings::with_options_file(multicall_args(raw), tool.as_deref()) {
        Ok(args) => args,
        Err(e) => return fail(e),
    };
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // Client commands speak mosquitto's words for usage errors (scripts match them).
            if let Some(text) = tool
                .as_deref()
                .and_then(|t| mqtk::cli::connect::mosquitto_parse_error(&e, t, &args))
            {
                mqtk::cmd::print_err(&text);
                return ExitCode::from(mqtk::exit::FAILURE);
            }
            // bench's errors are one line, as its other errors are.
            if args.get(1).is_some_and(|a| a == "bench")
                && let Some(line) = mqtk::cli::bench::parse_error_line(&e)
            {
                mqtk::cmd::print_err(&line);
                return ExitCode::from(mqtk::exit::FAILURE);
            }
            let _ = e.print();
            return ExitCode::from(match tool.as_deref() {
                _ if e.use_stderr() => mqtk::exit::FAILURE,
                Some(t) => mqtk::exit::help_exit_code(t),
                None => mqtk::exit::OK,
            });
        }
    };
    match mqtk::cmd::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(e),
    }
}

fn fail(e: mqtk::exit::Error) -> ExitCode {
    if e.is_broken_pipe() {
        return ExitCode::from(mqtk::exit::OK);
    }
    mqtk::cmd::print_err(&e.message());
    ExitCode::from(e.exit_code())
}
