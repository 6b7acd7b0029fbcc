//! The embedded MQTT broker: `run(listeners, config, shutdown)`.

pub mod auth;
pub mod config;
pub mod listener;
