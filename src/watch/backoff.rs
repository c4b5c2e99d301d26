//! `Backoff`: capped exponential delays with jitter between retries of a failing git fetch or
//! API call, so a daemon fleet does not hammer a recovering server in lockstep.

use std::time::Duration;

/// The delays of one failing streak: `base · 2^n`, capped, then scaled by a random factor in
/// `[0.5, 1.0)` ("equal jitter": never zero, never above the cap).
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    /// A streak starting at `base`, never waiting longer than `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
            failures: 0,
        }
    }

    /// Count one more failure and return how long to wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        delay.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }

    /// The un-jittered delay of the next failure.
    fn ceiling(&self) -> Duration {
        // 2^20 · base is beyond any sensible cap: stop doubling there (no overflow).
        let factor = 1u32 << self.failures.min(20);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The streak ended: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let mut ceilings = Vec::new();
        for _ in 0..8 {
            let ceiling = b.ceiling();
            let d = b.next_delay();
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{d:?} outside [{:?}, {ceiling:?}]",
                ceiling / 2
            );
            ceilings.push(ceiling.as_secs());
        }
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(b.failures, 8);
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_secs(1));
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(300));
        for _ in 0..200 {
            assert!(b.next_delay() <= Duration::from_secs(300));
        }
    }
}
