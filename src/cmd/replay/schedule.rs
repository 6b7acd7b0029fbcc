//! The fixed schedule of a replay at a finite speed: message k is due at the start
//! plus its place on the timeline divided by the speed, whatever happened before it.
//! Lateness is measured against that (as bench's `--rate` measures it) and never
//! carried over: a message sent late does not delay the ones after it. Pure: instants
//! in, instants out.

use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Schedule {
    /// `None`: `--speed max`, no schedule.
    speed: Option<f64>,
    /// Where the window starts on the timeline, and how long one loop lasts (µs).
    first: u64,
    span: u64,
    /// When the first message was due: set when it is first looked at.
    start: Option<Instant>,
    max_lag: Duration,
}

impl Schedule {
    pub fn new(speed: Option<f64>, first: u64, span: u64) -> Schedule {
        Schedule {
            speed,
            first,
            span,
            start: None,
            max_lag: Duration::ZERO,
        }
    }

    /// Whether messages have due times (not `--speed max`).
    pub fn is_timed(&self) -> bool {
        self.speed.is_some()
    }

    /// Where a message at `position` of loop `round` sits on the schedule (µs of
    /// recording time since the first message of the first loop).
    pub fn at(&self, round: u64, position: u64) -> u64 {
        round
            .saturating_mul(self.span)
            .saturating_add(position.saturating_sub(self.first))
    }

    /// When the message at `at` is due (`None` at `--speed max`). The first call
    /// starts the schedule at `now`.
    pub fn due(&mut self, at: u64, now: Instant) -> Option<Instant> {
        let speed = self.speed?;
        let start = *self.start.get_or_insert(now);
        Some(start + Duration::from_secs_f64(at as f64 / 1e6 / speed))
    }

    /// A message due at `due` went out at `now`.
    pub fn sent(&mut self, due: Option<Instant>, now: Instant) {
        if let Some(due) = due {
            self.max_lag = self.max_lag.max(now.saturating_duration_since(due));
        }
    }

    /// The largest lateness of any message so far.
    pub fn max_lag(&self) -> Duration {
        self.max_lag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_does_not_accumulate() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Some(2.0), 1_000, 4_000_000);
        assert_eq!(s.at(0, 1_000), 0);
        assert_eq!(s.at(1, 1_001_000), 5_000_000);
        assert_eq!(s.due(0, t0), Some(t0));
        // 1 s of recording at speed 2 is due 500 ms after the start, however late the
        // call (the start stays where the first message put it).
        let late = t0 + Duration::from_millis(700);
        assert_eq!(
            s.due(1_000_000, late),
            Some(t0 + Duration::from_millis(500))
        );
        s.sent(Some(t0 + Duration::from_millis(500)), late);
        s.sent(Some(t0 + Duration::from_millis(900)), late);
        assert_eq!(s.max_lag(), Duration::from_millis(200));
        assert_eq!(
            s.due(2_000_000, late),
            Some(t0 + Duration::from_millis(1000))
        );
    }

    #[test]
    fn max_speed_has_no_schedule() {
        let mut s = Schedule::new(None, 0, 10);
        assert_eq!(s.due(5, Instant::now()), None);
        s.sent(None, Instant::now());
        assert_eq!(s.max_lag(), Duration::ZERO);
    }
}
