//! Pacing by the time-stamp counter: how many packets a constant-rate stream owes at `now`.
//!
//! The schedule is absolute (packet k is due at start + k/pps), so a late loop iteration does
//! not lower the rate: what is due goes out at the next chance. A sender that falls far behind
//! (descheduled, ring full) does not make up for it in one rush either: what is owed beyond
//! `max_backlog` packets is skipped and counted, and the offered rate shows the shortfall.

/// A constant-rate schedule.
#[derive(Clone, Debug)]
pub struct Pacer {
    start: u64,
    hz: u64,
    pps: u64,
    /// Packets released (sent or skipped) so far.
    released: u64,
    max_backlog: u64,
    skipped: u64,
}

impl Pacer {
    /// A schedule of `pps` packets per second starting at TSC `start`, for a TSC of `hz`.
    /// `pps` and `hz` must be non-zero (the caller validates the rate).
    pub fn new(start: u64, hz: u64, pps: u64, max_backlog: u64) -> Pacer {
        Pacer {
            start,
            hz: hz.max(1),
            pps,
            released: 0,
            max_backlog: max_backlog.max(1),
            skipped: 0,
        }
    }

    /// Packets due since the start, released or not.
    #[inline]
    fn due_total(&self, now: u64) -> u64 {
        let elapsed = u128::from(now.saturating_sub(self.start));
        (elapsed * u128::from(self.pps) / u128::from(self.hz)) as u64
    }

    /// Packets due now and not yet released, at most `max_backlog` (the excess is skipped).
    #[inline]
    pub fn backlog(&mut self, now: u64) -> u64 {
        let owed = self.due_total(now).saturating_sub(self.released);
        if owed > self.max_backlog {
            let skip = owed - self.max_backlog;
            self.skipped += skip;
            self.released += skip;
            return self.max_backlog;
        }
        owed
    }

    /// Marks `n` packets as sent.
    #[inline]
    pub fn release(&mut self, n: u64) {
        self.released += n;
    }

    /// Packets the schedule skipped because the sender was more than `max_backlog` behind.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_on_schedule() {
        // 1000 pps on a 1 MHz clock: one packet every 1000 ticks.
        let mut p = Pacer::new(5_000, 1_000_000, 1000, 64);
        assert_eq!(p.backlog(5_000), 0);
        assert_eq!(p.backlog(5_999), 0);
        assert_eq!(p.backlog(6_000), 1);
        p.release(1);
        assert_eq!(p.backlog(6_999), 0);
        assert_eq!(p.backlog(15_000), 9);
        p.release(4);
        assert_eq!(p.backlog(15_000), 5);
        p.release(5);
        assert_eq!(p.backlog(15_500), 0);
        // before the start (another core's TSC a little behind): nothing due
        assert_eq!(p.backlog(0), 0);
        assert_eq!(p.skipped(), 0);
    }

    #[test]
    fn rate_is_exact_over_time() {
        // 3 packets per 7 ticks: after 7 million ticks exactly 3 million are due.
        let mut p = Pacer::new(0, 7, 3, u64::MAX);
        let mut sent = 0;
        for now in (0..=7_000_000).step_by(13) {
            let b = p.backlog(now);
            p.release(b);
            sent += b;
        }
        // The last step is at 6_999_993 (a multiple of 13): ⌊6_999_993 · 3 / 7⌋ released.
        assert_eq!(sent, 2_999_997);
        assert_eq!(sent + p.backlog(7_000_000), 3_000_000);
    }

    #[test]
    fn a_late_sender_skips_beyond_the_backlog() {
        let mut p = Pacer::new(0, 1_000_000, 1_000_000, 32); // 1 per tick
        assert_eq!(p.backlog(10), 10);
        p.release(10);
        assert_eq!(p.backlog(1_010), 32); // 1000 owed: 968 skipped
        assert_eq!(p.skipped(), 968);
        p.release(32);
        assert_eq!(p.backlog(1_010), 0);
        assert_eq!(p.backlog(1_011), 1);
    }
}
