//! `mqtk broker` arguments, as mosquitto's: `-p PORT`, `-c FILE`, `-v`.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct BrokerArgs {
    /// Listen on this port (default 1883) when no config file sets listeners.
    #[arg(short, long)]
    pub port: Option<u16>,
    /// Read a mosquitto.conf-style configuration file.
    #[arg(short, long, value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Log everything (log_type all) to stderr.
    #[arg(short, long)]
    pub verbose: bool,
}
