//! Bench measurements: HDR latency histograms (nanoseconds, 3 significant digits),
//! per-publisher sequence tracking (loss, duplicates, out-of-order), the payload
//! header, the clock, and the fixed-rate schedule that corrects for coordinated
//! omission. No I/O here, so all of it is tested with fake clocks and sequences.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

/// The largest latency a histogram holds; larger values are clamped to it. One hour
/// is far beyond any timeout, and keeps a histogram at a few tens of KiB.
pub const HIST_MAX_NS: u64 = 3_600_000_000_000;

/// A latency histogram in nanoseconds, 1 ns to one hour, 3 significant digits
/// (0.1% resolution at any magnitude).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("constant bounds are valid")
}

/// Payload header, little-endian: publisher id (u32), sequence (u32), and the time
/// the message was *due* to be sent (u64 ns since the Unix epoch, on the sender's
/// clock). 16 bytes, so 16-byte payloads carry it with nothing else.
pub const HEADER_LEN: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub publisher: u32,
    pub seq: u32,
    pub sent_ns: u64,
}

impl Header {
    pub fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.publisher.to_le_bytes());
        out[4..8].copy_from_slice(&self.seq.to_le_bytes());
        out[8..16].copy_from_slice(&self.sent_ns.to_le_bytes());
    }

    /// `None` for a payload that is too short or whose timestamp is not within an hour
    /// before or a minute after `now_ns`: not one of ours (or clocks far apart).
    pub fn read(payload: &[u8], now_ns: u64) -> Option<Header> {
        let p: &[u8; 16] = payload.get(..HEADER_LEN)?.try_into().ok()?;
        let h = Header {
            publisher: u32::from_le_bytes([p[0], p[1], p[2], p[3]]),
            seq: u32::from_le_bytes([p[4], p[5], p[6], p[7]]),
            sent_ns: u64::from_le_bytes([p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]]),
        };
        let plausible = h.sent_ns <= now_ns.saturating_add(60_000_000_000)
            && h.sent_ns >= now_ns.saturating_sub(HIST_MAX_NS);
        plausible.then_some(h)
    }
}

/// Wall-clock nanoseconds since the Unix epoch that never jump: the wall time at
/// start plus monotonic time since. Publishers stamp with it and subscribers compare
/// against it, in the same process or in another one on a synchronised clock.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base: Instant,
    base_ns: u64,
}

impl Clock {
    pub fn new() -> Clock {
        let base_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Clock {
            base: Instant::now(),
            base_ns,
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.base_ns + self.base.elapsed().as_nanos() as u64
    }

    /// The `Instant` at which `now_ns` reads `ns`.
    pub fn instant_at(&self, ns: u64) -> Instant {
        self.base + std::time::Duration::from_nanos(ns.saturating_sub(self.base_ns))
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

/// The resolution of the runtime's timer.
pub const TIMER_SLACK_NS: u64 = 1_000_000;

/// A publisher's fixed schedule (wrk2's coordinated-omission correction): message k is
/// due at `start + k × interval`. When the sender falls behind (a stalled socket, a
/// slow broker), the messages it owes are all due now and keep their *due* times as
/// timestamps, so the stall shows up in the latency instead of being hidden by a
/// sender that simply waited.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub start_ns: u64,
    pub interval_ns: u64,
    /// The index of the next message to send.
    pub next: u64,
}

impl Schedule {
    pub fn due_time(&self, k: u64) -> u64 {
        self.start_ns
            .saturating_add(k.saturating_mul(self.interval_ns))
    }

    /// How many messages are due at `now_ns` and not yet sent.
    pub fn due_count(&self, now_ns: u64) -> u64 {
        if now_ns < self.start_ns {
            return 0;
        }
        let due = (now_ns - self.start_ns) / self.interval_ns.max(1) + 1;
        due.saturating_sub(self.next)
    }

    /// Takes the next message: its due time.
    pub fn take(&mut self) -> u64 {
        let t = self.due_time(self.next);
        self.next += 1;
        t
    }

    /// The send time to stamp on a message due at `due` and sent at `now`: the due
    /// time, except that lateness within the timer's resolution (tokio wakes tasks on
    /// a 1 ms wheel, rounding deadlines up) is the timer's, not the system under test's,
    /// and is not counted. A real stall still counts in full, less that millisecond.
    pub fn stamp(due: u64, now: u64) -> u64 {
        now.min(due.saturating_add(TIMER_SLACK_NS)).max(due)
    }

    /// When the next message is due.
    pub fn next_due(&self) -> u64 {
        self.due_time(self.next)
    }
}

/// Sequence numbers seen from one publisher by one subscriber: in order, duplicate, or
/// late (out of order). Gaps are kept as ranges so memory grows with the number of
/// gaps, not with the number of messages.
#[derive(Clone, Debug, Default)]
pub struct SeqTracker {
    /// One past the highest sequence seen.
    next: u64,
    /// Missing ranges below `next`, start → end (exclusive).
    missing: BTreeMap<u64, u64>,
    pub duplicates: u64,
    pub out_of_order: u64,
}

impl SeqTracker {
    pub fn observe(&mut self, seq: u32) {
        let seq = u64::from(seq);
        if seq == self.next {
            self.next += 1;
        } else if seq > self.next {
            self.missing.insert(self.next, seq);
            self.next = seq + 1;
        } else {
            let gap = self
                .missing
                .range(..=seq)
                .next_back()
                .map(|(&s, &e)| (s, e));
            match gap {
                Some((s, e)) if seq < e => {
                    self.missing.remove(&s);
                    if s < seq {
                        self.missing.insert(s, seq);
                    }
                    if seq + 1 < e {
                        self.missing.insert(seq + 1, e);
                    }
                    self.out_of_order += 1;
                }
                _ => self.duplicates += 1,
            }
        }
    }

    /// Messages below the highest sequence seen that never arrived.
    pub fn gaps(&self) -> u64 {
        self.missing.iter().map(|(s, e)| e - s).sum()
    }

    /// Distinct messages received.
    pub fn unique(&self) -> u64 {
        self.next - self.gaps()
    }
}

/// Adds `b` into `a` (same bounds, so it cannot fail; a clamped value is kept).
pub fn merge_into(a: &mut Histogram<u64>, b: &Histogram<u64>) {
    if a.add(b).is_err() {
        for v in b.iter_recorded() {
            a.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_foreign_payloads() {
        let now = 1_700_000_000_000_000_000;
        let h = Header {
            publisher: 7,
            seq: 42,
            sent_ns: now - 5_000,
        };
        let mut buf = [0u8; 20];
        h.write(&mut buf);
        assert_eq!(Header::read(&buf, now), Some(h));
        assert_eq!(Header::read(&buf[..15], now), None);
        assert_eq!(Header::read(b"hello world, 16b", now), None);
    }

    #[test]
    fn sequences_in_order_have_no_loss() {
        let mut t = SeqTracker::default();
        for s in 0..1000 {
            t.observe(s);
        }
        assert_eq!(
            (t.unique(), t.gaps(), t.duplicates, t.out_of_order),
            (1000, 0, 0, 0)
        );
    }

    #[test]
    fn sequences_with_loss_duplicates_and_reordering() {
        let mut t = SeqTracker::default();
        for s in [0, 1, 3, 2, 2, 6, 9, 7, 0] {
            t.observe(s);
        }
        // Seen: 0 1 2 3 6 7 9; lost: 4 5 8; 2 and 7 came late; the second 2 and 0 are dups.
        assert_eq!(t.unique(), 7);
        assert_eq!(t.gaps(), 3);
        assert_eq!(t.out_of_order, 2);
        assert_eq!(t.duplicates, 2);
    }

    #[test]
    fn schedule_keeps_due_times_when_the_sender_stalls() {
        // 1 ms interval; the sender sends 0 at t=0, then stalls until t=10.5 ms.
        let mut s = Schedule {
            start_ns: 1_000_000_000,
            interval_ns: 1_000_000,
            next: 0,
        };
        assert_eq!(s.due_count(999_999_999), 0);
        assert_eq!(s.due_count(1_000_000_000), 1);
        assert_eq!(s.take(), 1_000_000_000);
        let now = 1_010_500_000;
        assert_eq!(s.due_count(now), 10);
        // The owed messages carry their due times: latency measured from them is
        // 9.5 ms for the first one, not ~0 as a sender timing itself would claim.
        let due: Vec<u64> = (0..10).map(|_| s.take()).collect();
        assert_eq!(due[0], 1_001_000_000);
        assert_eq!(now - due[0], 9_500_000);
        assert_eq!(due[9], 1_010_000_000);
        assert_eq!(s.due_count(now), 0);
        assert_eq!(s.next_due(), 1_011_000_000);
        // On time within the timer's resolution: stamped with the send time; later:
        // stamped so that only the millisecond of timer slack is excused.
        assert_eq!(Schedule::stamp(1_000, 1_000_500), 1_000_500);
        assert_eq!(Schedule::stamp(5_000_000, 5_400_000), 5_400_000);
        assert_eq!(Schedule::stamp(5_000_000, 15_000_000), 6_000_000);
        assert_eq!(Schedule::stamp(5_000_000, 4_000_000), 5_000_000);
    }

    #[test]
    fn histograms_merge_exactly() {
        let mut a = new_histogram();
        let mut b = new_histogram();
        for v in 1..=1000u64 {
            a.record(v * 1000).unwrap();
            b.record(v * 2000).unwrap();
        }
        b.saturating_record(u64::MAX);
        merge_into(&mut a, &b);
        assert_eq!(a.len(), 2001);
        assert!(a.max() >= HIST_MAX_NS);
    }
}
