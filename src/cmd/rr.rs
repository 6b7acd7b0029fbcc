//! `mqtk rr`: mosquitto_rr. Settings in, exit code out; the work is in
//! `session::rr::run_rr`.

use crate::cli::rr::RrArgs;
use crate::exit::Error;
use crate::settings::rr::resolve_rr;

pub fn run(args: RrArgs) -> Result<u8, Error> {
    let argv: Vec<_> = std::env::args_os().collect();
    let tool = crate::cli::connect::client_tool_name(&argv).unwrap_or_else(|| "mqtk rr".into());
    if args.conn.version {
        println!(
            "{} version {} (mqtk, MQTT 5.0).",
            tool,
            env!("CARGO_PKG_VERSION")
        );
        return Ok(crate::exit::OK);
    }
    let settings = resolve_rr(&args, &tool)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the runtime", e))?;
    rt.block_on(crate::session::rr::run_rr(&settings))
}
