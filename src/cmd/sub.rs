//! `mqtk sub`: mosquitto_sub. Settings in, exit code out; the work is in
//! `session::subscriber::run_subscriber`.

use crate::cli::sub::SubArgs;
use crate::exit::Error;
use crate::settings::sub::resolve_sub;

pub fn run(args: SubArgs) -> Result<u8, Error> {
    let argv: Vec<_> = std::env::args_os().collect();
    let tool = crate::cli::connect::client_tool_name(&argv).unwrap_or_else(|| "mqtk sub".into());
    if args.conn.version {
        println!(
            "{} version {} (mqtk, MQTT 3.1/3.1.1/5.0).",
            tool,
            env!("CARGO_PKG_VERSION")
        );
        return Ok(crate::exit::OK);
    }
    let settings = resolve_sub(&args, &tool)?;
    // One thread is plenty for one connection, and starts fastest.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the runtime", e))?;
    rt.block_on(crate::session::subscriber::run_subscriber(&settings))
}
