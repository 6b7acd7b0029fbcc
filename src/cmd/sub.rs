//! `mqtk sub`: mosquitto_sub. Settings in, exit code out; the work is in
//! `session::subscriber::run_subscriber`.

use crate::cli::sub::SubArgs;
use crate::exit::Error;
use crate::settings::sub::resolve_sub;

pub fn run(args: SubArgs) -> Result<u8, Error> {
    let tool = super::client_tool("sub");
    if args.conn.version {
        super::print_client_version(&tool, "3.1/3.1.1/5.0");
        return Ok(crate::exit::help_exit_code(&tool));
    }
    let settings = resolve_sub(&args, &tool)?;
    super::block_on(crate::session::subscriber::run_subscriber(&settings))
}
