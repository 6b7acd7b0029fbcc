//! mosquitto's `-d` lines ("Client <id> sending CONNECT"), on stdout: a
//! `client::Trace` that prints every packet the core sends or receives in
//! libmosquitto's words, and a handle the commands print their own lines with.
//! Passwords are never printed (CONNECT is shown by name only).

use std::io::Write;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::client::{Dir, PublishInfo, Trace};
use crate::codec::{Packet, PropertyId, ProtocolVersion, QoS};

/// The `-d` log: off, or on with the client id lines start with. Clones share the id,
/// which the broker may assign in CONNACK (5.0 §3.2.2.3.7).
#[derive(Clone)]
pub struct Debug {
    on: bool,
    id: Arc<Mutex<String>>,
}

impl Debug {
    /// The id is "(null)" until known, as libmosquitto prints it.
    pub fn new(on: bool, client_id: &str) -> Debug {
        let id = if client_id.is_empty() {
            "(null)".to_string()
        } else {
            client_id.to_string()
        };
        Debug {
            on,
            id: Arc::new(Mutex::new(id)),
        }
    }

    pub fn enabled(&self) -> bool {
        self.on
    }

    /// Prints "Client <id> <what>" when debugging is on.
    pub fn log(&self, what: std::fmt::Arguments<'_>) {
        if self.on {
            let id = self.id.lock();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "Client {id} {what}");
        }
    }

    /// The packet log for the core, printing through this handle (for `-d` only).
    pub fn trace(&self, version: ProtocolVersion) -> Option<Box<dyn Trace>> {
        self.on.then(|| {
            Box::new(PacketLog {
                log: self.clone(),
                version,
            }) as Box<dyn Trace>
        })
    }
}

/// mosquitto's summary of a PUBLISH, after "sending"/"received PUBLISH":
/// "(d0, q1, r0, m3, 'a/b', ... (5 bytes))". The one place that format lives.
pub struct PublishSummary<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub mid: u16,
    pub topic: &'a str,
    pub len: usize,
}

impl std::fmt::Display for PublishSummary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            u8::from(self.dup),
            self.qos as u8,
            u8::from(self.retain),
            self.mid,
            self.topic,
            self.len
        )
    }
}

struct PacketLog {
    log: Debug,
    version: ProtocolVersion,
}

impl Trace for PacketLog {
    fn packet(&mut self, dir: Dir, p: &Packet) {
        match dir {
            Dir::Sent => self.sent(p),
            Dir::Received => self.received(p),
        }
    }

    fn publish(&mut self, i: &PublishInfo<'_>) {
        let s = PublishSummary {
            dup: i.dup,
            qos: i.qos,
            retain: i.retain,
            mid: i.packet_id,
            topic: i.topic,
            len: i.payload_len,
        };
        self.log.log(format_args!("sending {s}"));
    }
}

impl PacketLog {
    fn sent(&self, p: &Packet) {
        let log = |a: std::fmt::Arguments<'_>| self.log.log(a);
        match p {
            Packet::PubAck(a) => log(format_args!(
                "sending PUBACK (m{}, rc{})",
                a.packet_id, a.reason.0
            )),
            Packet::PubRec(a) => log(format_args!(
                "sending PUBREC (m{}, rc{})",
                a.packet_id, a.reason.0
            )),
            Packet::PubRel(a) => log(format_args!("sending PUBREL (m{})", a.packet_id)),
            Packet::PubComp(a) => log(format_args!("sending PUBCOMP (m{})", a.packet_id)),
            Packet::Subscribe(s) => {
                for f in &s.filters {
                    log(format_args!(
                        "sending SUBSCRIBE (Mid: {}, Topic: {}, QoS: {}, Options: 0x{:02x})",
                        s.packet_id,
                        f.filter,
                        f.options.qos as u8,
                        f.options.to_byte(self.version) & 0xFC
                    ));
                }
            }
            Packet::Unsubscribe(u) => {
                for f in &u.filters {
                    log(format_args!(
                        "sending UNSUBSCRIBE (Mid: {}, Topic: {f})",
                        u.packet_id
                    ));
                }
            }
            other => log(format_args!("sending {}", other.name())),
        }
    }

    fn received(&self, p: &Packet) {
        let log = |a: std::fmt::Arguments<'_>| self.log.log(a);
        match p {
            Packet::ConnAck(a) => {
                if let Some(id) = a.properties.get_str(PropertyId::AssignedClientIdentifier) {
                    *self.log.id.lock() = id.to_string();
                }
                log(format_args!("received CONNACK ({})", a.code));
            }
            Packet::Publish(p) => {
                let s = PublishSummary {
                    dup: p.dup,
                    qos: p.qos,
                    retain: p.retain,
                    mid: p.packet_id,
                    topic: &p.topic,
                    len: p.payload.len(),
                };
                log(format_args!("received {s}"));
            }
            Packet::PubAck(a) => log(format_args!(
                "received PUBACK (Mid: {}, RC:{})",
                a.packet_id, a.reason.0
            )),
            Packet::PubRec(a) => log(format_args!("received PUBREC (Mid: {})", a.packet_id)),
            Packet::PubRel(a) => log(format_args!("received PUBREL (Mid: {})", a.packet_id)),
            Packet::PubComp(a) => log(format_args!(
                "received PUBCOMP (Mid: {}, RC:{})",
                a.packet_id, a.reason.0
            )),
            Packet::Disconnect(d) => log(format_args!("received DISCONNECT ({})", d.reason.0)),
            other => log(format_args!("received {}", other.name())),
        }
    }
}
