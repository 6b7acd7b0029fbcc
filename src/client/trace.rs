//! The packet log hook of the client core: every packet the core writes or reads is
//! shown to an optional `Trace` as it happens, so a command can print mosquitto's
//! `-d` lines (`cmd::client::debug`) without the core knowing about stdout or
//! formats.

use crate::codec::{Packet, QoS};

/// Which way a packet went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Sent,
    Received,
}

/// An outgoing PUBLISH written from a caller's message (the core builds no `Packet`
/// for those, to keep the hot path free of copies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishInfo<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// For QoS 0 (no id on the wire), libmosquitto's message number, which only the
    /// log shows.
    pub packet_id: u16,
    /// The topic as sent: empty when a topic alias stands for it.
    pub topic: &'a str,
    pub payload_len: usize,
}

/// Receives every packet the core sends or receives.
pub trait Trace {
    /// A packet other than an outgoing PUBLISH.
    fn packet(&mut self, dir: Dir, packet: &Packet);
    /// An outgoing PUBLISH.
    fn publish(&mut self, info: &PublishInfo<'_>);
}
