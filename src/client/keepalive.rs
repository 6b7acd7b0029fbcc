//! The client's keepalive clock (3.1.1 §3.1.2.10, 5.0 §3.1.2.10), free of I/O: when
//! nothing was sent for a keepalive interval, send PINGREQ; when that PINGREQ stays
//! unanswered for another interval, the connection is dead. Time comes in as
//! `Instant`s, so tests need no sleeping.

use std::time::{Duration, Instant};

/// What the clock asks for at a given instant.
#[derive(Debug, PartialEq, Eq)]
pub enum Tick {
    Nothing,
    /// Send PINGREQ.
    Ping,
    /// The PINGREQ went unanswered: close the network connection.
    TimedOut,
}

#[derive(Debug)]
pub struct Keepalive {
    interval: Option<Duration>,
    last_sent: Instant,
    ping_sent: Option<Instant>,
}

impl Keepalive {
    /// `secs` 0 turns keepalive off.
    pub fn new(secs: u16, now: Instant) -> Keepalive {
        Keepalive {
            interval: interval(secs),
            last_sent: now,
            ping_sent: None,
        }
    }

    /// A new interval (ours at CONNECT, or the broker's Server Keep Alive, 5.0
    /// §3.2.2.3.14, which overrides ours), counted from `now`.
    pub fn reset(&mut self, secs: u16, now: Instant) {
        *self = Keepalive::new(secs, now);
    }

    /// Anything was written: the next ping is due an interval later.
    pub fn on_sent(&mut self, now: Instant) {
        self.last_sent = now;
    }

    pub fn on_ping_sent(&mut self, now: Instant) {
        self.ping_sent = Some(now);
        self.last_sent = now;
    }

    pub fn on_pingresp(&mut self) {
        self.ping_sent = None;
    }

    /// When `tick` next has something to say, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        let ka = self.interval?;
        Some(self.ping_sent.unwrap_or(self.last_sent) + ka)
    }

    pub fn tick(&self, now: Instant) -> Tick {
        match self.deadline() {
            Some(d) if now >= d && self.ping_sent.is_some() => Tick::TimedOut,
            Some(d) if now >= d => Tick::Ping,
            _ => Tick::Nothing,
        }
    }
}

fn interval(secs: u16) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(u64::from(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_then_times_out() {
        let t0 = Instant::now();
        let mut k = Keepalive::new(10, t0);
        assert_eq!(k.tick(t0 + Duration::from_secs(9)), Tick::Nothing);
        let t10 = t0 + Duration::from_secs(10);
        assert_eq!(k.tick(t10), Tick::Ping);
        k.on_ping_sent(t10);
        assert_eq!(k.tick(t10 + Duration::from_secs(5)), Tick::Nothing);
        assert_eq!(k.tick(t10 + Duration::from_secs(10)), Tick::TimedOut);
        k.on_pingresp();
        assert_eq!(k.tick(t10 + Duration::from_secs(10)), Tick::Ping);
        // Sending anything postpones the next ping.
        k.on_sent(t10 + Duration::from_secs(10));
        assert_eq!(k.deadline(), Some(t10 + Duration::from_secs(20)));
    }

    #[test]
    fn zero_never_fires_and_reset_applies_a_server_keep_alive() {
        let now = Instant::now();
        let mut k = Keepalive::new(0, now);
        assert_eq!(k.deadline(), None);
        assert_eq!(k.tick(now + Duration::from_secs(100_000)), Tick::Nothing);
        k.reset(5, now);
        assert_eq!(k.deadline(), Some(now + Duration::from_secs(5)));
    }
}
