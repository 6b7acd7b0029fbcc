//! `mqtk pub`: mosquitto_pub. Settings in, exit code out; the work is in
//! `session::engine::run_publisher`.

use crate::cli::r#pub::PubArgs;
use crate::exit::Error;
use crate::settings::{self, BOTH_TOPIC_AND_MESSAGE};

pub fn run(args: PubArgs) -> Result<u8, Error> {
    let tool = super::client_tool("pub");
    if args.conn.version {
        super::print_client_version(&tool, "3.1/3.1.1/5.0");
        return Ok(crate::exit::help_exit_code(&tool));
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
    super::block_on(crate::session::engine::run_publisher(&settings))
}

fn print_usage() {
    use clap::CommandFactory;
    let mut cmd = crate::cli::Cli::command();
    if let Some(sub) = cmd.find_subcommand_mut("pub") {
        println!("{}", sub.render_help());
    }
}
