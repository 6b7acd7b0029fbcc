//! `mosquitto_sub --message-rate` (mosquitto 2.1): instead of the messages, one line a
//! second with the number received in that second, `N msgs/s`.
//!
//! As in mosquitto's sub_client.c, the counting runs beside the session rather than
//! inside it: the subscriber only counts (every message the broker delivers, before
//! any of the output rules, as mosquitto's message callback does), and `report`
//! prints the count on a one-second clock that keeps going while the session
//! reconnects. When the run ends (signal, `-W`, …) the last, partial second is
//! printed too, as mosquitto prints it when the signal cuts its sleep short.

use std::cell::Cell;
use std::io::{self, Write};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

const INTERVAL: Duration = Duration::from_secs(1);

/// The count of the current interval and the clock of the intervals. Single-threaded
/// (the client's runtime is), hence `Cell`s.
pub struct Rate {
    count: Cell<u64>,
    /// When the first connection was made: the intervals start then (mosquitto starts
    /// them once connected, so a failed first connection prints no count).
    started: Cell<Option<Instant>>,
    start: Notify,
    /// The last line has been printed.
    finished: Cell<bool>,
    /// `-W`'s deadline: no interval ends at or after it (see `report`).
    deadline: Option<Instant>,
}

impl Rate {
    pub fn new(deadline: Option<Instant>) -> Rate {
        Rate {
            count: Cell::new(0),
            started: Cell::new(None),
            start: Notify::new(),
            finished: Cell::new(false),
            deadline,
        }
    }

    /// One message received.
    pub fn count(&self) {
        self.count.set(self.count.get().saturating_add(1));
    }

    /// The session is connected: the first interval starts now (later calls, after
    /// reconnections, change nothing).
    pub fn start(&self) {
        if self.started.get().is_none() {
            self.started.set(Some(Instant::now()));
            self.start.notify_one();
        }
    }

    /// Prints a line at the end of every interval. Returns only if stdout fails.
    pub async fn report(&self) -> io::Error {
        let mut next = loop {
            if let Some(t) = self.started.get() {
                break t + INTERVAL;
            }
            self.start.notified().await;
        };
        loop {
            // `-W N` ends the run at its deadline, which prints the last interval; a
            // tick falling at the same moment would add an empty line. mosquitto's
            // alarm always comes first (it is set before its first sleep starts), so
            // `-W N` prints exactly N lines.
            if self.deadline.is_some_and(|d| next >= d) {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep_until(next).await;
            if let Err(e) = self.print() {
                return e;
            }
            next = next_tick(next, Instant::now());
        }
    }

    /// The last, partial interval, printed once when the run ends; nothing if it never
    /// started.
    pub fn finish(&self) -> io::Result<()> {
        if self.started.get().is_none() || self.finished.replace(true) {
            return Ok(());
        }
        self.print()
    }

    fn print(&self) -> io::Result<()> {
        let n = self.count.replace(0);
        let mut out = io::stdout().lock();
        out.write_all(line(n).as_bytes())?;
        out.flush()
    }
}

/// mosquitto's line: `printf("%d msgs/s\n", count)`.
fn line(n: u64) -> String {
    format!("{n} msgs/s\n")
}

/// When the interval after the one that ended at `due` ends. Intervals keep to a
/// fixed clock; one that ended late (stdout blocked) makes the next a whole second
/// from now rather than a burst of lines.
fn next_tick(due: Instant, now: Instant) -> Instant {
    let next = due + INTERVAL;
    if next <= now { now + INTERVAL } else { next }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_is_mosquittos() {
        assert_eq!(line(0), "0 msgs/s\n");
        assert_eq!(line(12345), "12345 msgs/s\n");
    }

    #[test]
    fn ticks_keep_a_fixed_clock_and_never_burst() {
        let t = Instant::now();
        // On time (or a little late): one second after the previous end.
        assert_eq!(next_tick(t, t + Duration::from_millis(3)), t + INTERVAL);
        // Late by more than a second: a whole second from now.
        let now = t + Duration::from_millis(2500);
        assert_eq!(next_tick(t, now), now + INTERVAL);
    }

    #[test]
    fn finish_prints_nothing_before_the_start_and_only_once() {
        let r = Rate::new(None);
        r.count();
        assert!(r.finish().is_ok());
        assert!(
            !r.finished.get(),
            "not started: nothing printed, not finished"
        );
        r.start();
        let first = r.started.get();
        r.start();
        assert_eq!(
            r.started.get(),
            first,
            "a reconnection does not restart the clock"
        );
    }
}
