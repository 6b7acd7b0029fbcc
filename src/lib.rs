//! mqtk: an MQTT toolkit. One codec, one topic module and one connection layer,
//! shared by the commands (`pub`, `sub`, `rr`, `passwd`, `bench`, `broker`).
//!
//! Module map:
//! - `cli`: clap definitions (validation only, no I/O).
//! - `cmd`: the commands; settings in, exit code out.
//! - `codec`: MQTT 3.1/3.1.1/5.0 packets, encode and decode.
//! - `topic`: topic name/filter validation and matching.
//! - `transport`: byte streams (TCP, unix, TLS, WebSocket, proxies); `transport::open`
//!   connects a client, the broker's listeners use its server side.
//! - `broker`: the embedded broker (`broker::run`).
//! - `passwd`: password hashing and password files.
//! - `exit`: the one exit-code table.
//! - `doc`: man pages and completions rendered from `cli` (`mqtk generate`).

pub mod broker;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod codec;
pub mod doc;
pub mod exit;
pub mod output;
pub mod passwd;
pub mod settings;
pub mod topic;
pub mod transport;
