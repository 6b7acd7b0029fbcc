//! The client session: `state` (no I/O: packet ids, in-flight window, handshakes,
//! keepalive) and `engine` (the tokio loop around it, shared by the client commands).

pub mod engine;
pub mod rate;
pub mod rr;
pub mod state;
pub mod subscriber;
