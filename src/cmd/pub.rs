//! `mqtk pub`: mosquitto_pub. Settings in, exit code out; the work is in
//! `session::engine::run_publisher`.

use crate::cli::r#pub::PubArgs;
use crate::exit::Error;
use crate::settings::{self, BOTH_TOPIC_AND_MESSAGE};

pub fn run(args: PubArgs) -> Result<u8, Error> {
    let argv: Vec<_> = std::env::args_os().collect();
    let tool = crate::cli::connect::client_tool_name(&argv).unwrap_or_else(|| "mqtk pub".into());
    if args.conn.version {
        println!(
            "{} version {} (mqtk, MQTT 3.1/3.1.1/5.0).",
            tool,
            env!("CARGO_PKG_VERSION")
        );
        return Ok(crate::exit::OK);
    }
    let settings = match settings::resolve_pub(&args, &tool) {
        Ok(s) => s,
        Err(e) => {
            // mosquitto prints its usage on stdout after this one.
            if e.message() == BOTH_TOPIC_AND_MESSAGE {
                print_usage();
            }
            return Err(e);
        }
    };
    // One thread is plenty for one connection, and starts fastest.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the runtime", e))?;
    rt.block_on(crate::session::engine::run_publisher(&settings))
}

fn print_usage() {
    use clap::CommandFactory;
    let mut cmd = crate::cli::Cli::command();
    if let Some(sub) = cmd.find_subcommand_mut("pub") {
        println!("{}", sub.render_help());
    }
}
