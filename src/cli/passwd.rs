//! `mqtk passwd` arguments, as mosquitto_passwd's.

#[derive(Debug, clap::Args)]
pub struct PasswdArgs {}
