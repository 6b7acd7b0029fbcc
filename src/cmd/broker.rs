//! `mqtk broker`: loads the configuration and runs `broker::run` until Ctrl-C.

use crate::cli::broker::BrokerArgs;
use crate::exit::Error;

pub fn run(args: BrokerArgs) -> Result<u8, Error> {
    let _ = args;
    Err(Error::Failed("the broker is not built yet".into()))
}
