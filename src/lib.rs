//! mqtk: an MQTT toolkit. One codec, one topic module, one transport layer and one
//! client connection core, shared by the commands (`pub`, `sub`, `rr`, `passwd`,
//! `bench`, `check`, `broker`). ARCHITECTURE.md at the repository root has the map; in short:
//! - `cli`: clap definitions (validation only, no I/O); `settings`: flags resolved
//!   into plain settings (options files, URLs, `-D`, defaults, cross-flag checks).
//! - `cmd`: the commands; settings in, exit code out.
//! - `client`: the sans-I/O client connection core and the one driver around it.
//! - `codec`: MQTT 3.1/3.1.1/5.0 packets, encode and decode; `topic`: names, filters.
//! - `transport`: byte streams (TCP, unix, TLS, WebSocket, proxies).
//! - `output`: what sub and rr print, byte for byte as mosquitto_sub.
//! - `payload`: device payload codecs (Sparkplug B, protobuf, CBOR, MessagePack,
//!   JSON) for `--decode` and `--encode`; bytes in, JSON out, no I/O.
//! - `broker`: the embedded broker (`broker::run`) and its sans-I/O server session.
//! - `record`: the record format of `record` and `replay` (NDJSON lines in and out).
//! - `passwd`: password hashing and files; `exit`: the one exit-code table; `doc`: man
//!   pages and completions rendered from `cli` (`mqtk generate`).

pub mod broker;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod codec;
pub mod doc;
pub mod exit;
pub mod output;
pub mod passwd;
pub mod payload;
pub mod record;
pub mod settings;
pub mod topic;
pub mod transport;
