//! The client side of MQTT, under pub, sub, rr and bench: `connection`, the sans-I/O
//! core (bytes and instants in, bytes and events out), with its parts `outbound`
//! (packet ids, the in-flight window, resend order), `inbound` (QoS 2 and topic
//! aliases) and `keepalive`; `message` (what the core sends); `trace` (the packet log
//! hook behind `-d`); and `drive`, the one tokio loop between a transport stream,
//! the core, a timer and the command.
//!
//! Nothing here knows about settings, output, the command line or exit codes.

pub mod connection;
pub mod drive;
pub mod inbound;
pub mod keepalive;
pub mod message;
pub mod outbound;
pub mod trace;

pub use connection::{Connection, Delivered, Error, Event, Options, PublishError};
pub use inbound::Qos2Delivery;
pub use message::{Outgoing, Templated};
pub use trace::{Dir, PublishInfo, Trace};
