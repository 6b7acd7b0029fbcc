//! `mqtk rr`: mosquitto_rr. Settings in, exit code out; the work is in
//! `session::rr::run_rr`.

use crate::cli::rr::RrArgs;
use crate::exit::Error;
use crate::settings::rr::resolve_rr;

pub fn run(args: RrArgs) -> Result<u8, Error> {
    let tool = super::client_tool("rr");
    if args.conn.version {
        super::print_client_version(&tool, "3.1/3.1.1/5.0");
        return Ok(crate::exit::help_exit_code(&tool));
    }
    let settings = resolve_rr(&args, &tool)?;
    super::block_on(crate::session::rr::run_rr(&settings))
}
