//! `mqtk broker` arguments, as mosquitto's: `-p PORT`, `-c FILE`, `-v`.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct BrokerArgs {
    /// Listen on this port (default 1883), on loopback only, when no config file
    /// defines listeners. Ignored when the config file defines listeners, as in mosquitto.
    #[arg(short, long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Read a mosquitto.conf-style configuration file.
    #[arg(short, long, value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Verbose: log every kind of message (log_type all), overriding the config file.
    #[arg(short, long)]
    pub verbose: bool,
}
