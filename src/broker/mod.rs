//! The embedded MQTT broker: `run(listeners, config, shutdown)`.

pub mod config;
pub mod listener;
