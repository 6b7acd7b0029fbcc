//! `mqtk passwd`: mosquitto_passwd.

use crate::cli::passwd::PasswdArgs;
use crate::exit::Error;

pub fn run(args: PasswdArgs) -> Result<u8, Error> {
    let _ = args;
    Err(Error::Failed("passwd is not built yet".into()))
}
