//! The embedded MQTT broker: `run(listeners, config, shutdown)`.
