//! Simulated time: the controllers' delays (image pulls, readiness, crash-loop back-off,
//! progress deadlines) run on this clock, `scale` times faster than real time, and can be moved
//! forward at once so that a loaded state "catches up" or a test needs no sleeping.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A point of simulated time: how long after [`EPOCH`] before the clock started.
pub type SimTime = Duration;

/// Simulated time starts here rather than at zero, so that objects written before this process
/// started (a loaded `--state`) have a simulated origin too: their age is the real time since their
/// timestamp, scaled. Thirty days covers any back-off or deadline the controllers know.
pub const EPOCH: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why a time scale is refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "time scale `{0}`: expected a number greater than 0 (1 is real time, 10 is ten times faster)"
)]
pub struct TimeScaleError(pub String);

/// Parse a `--time-scale` value.
pub fn parse_scale(text: &str) -> Result<f64, TimeScaleError> {
    match text.trim().parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(scale),
        _ => Err(TimeScaleError(text.to_owned())),
    }
}

#[derive(Debug)]
struct Inner {
    /// Real time, or `None` for a clock that only moves when told to.
    started: Option<Instant>,
    scale: f64,
    /// Simulated time added by [`Clock::advance`].
    skipped: Duration,
    /// The wall-clock time the simulation started at, for timestamps written into objects.
    wall_start: DateTime<Utc>,
}

/// The shared simulated clock; clones share one time.
#[derive(Debug, Clone)]
pub struct Clock {
    inner: Arc<Mutex<Inner>>,
}

impl Clock {
    /// A clock running `scale` times faster than real time.
    pub fn real(scale: f64) -> Self {
        Self::with(Some(Instant::now()), scale)
    }

    /// A clock that stands still until [`Clock::advance`] moves it: deterministic tests.
    pub fn manual() -> Self {
        Self::with(None, 1.0)
    }

    fn with(started: Option<Instant>, scale: f64) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                started,
                scale,
                skipped: Duration::ZERO,
                wall_start: Utc::now(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How much faster than real time the clock runs.
    pub fn scale(&self) -> f64 {
        self.lock().scale
    }

    /// Does the clock move by itself?
    pub fn is_real(&self) -> bool {
        self.lock().started.is_some()
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        let inner = self.lock();
        let running = inner
            .started
            .map(|started| started.elapsed().mul_f64(inner.scale))
            .unwrap_or_default();
        EPOCH + running + inner.skipped
    }

    /// Move simulated time forward by `by` at once.
    pub fn advance(&self, by: Duration) {
        self.lock().skipped += by;
    }

    /// The real time to wait until simulated time `at` (zero if it has passed; `None` on a
    /// manual clock, where waiting does not help).
    pub fn real_until(&self, at: SimTime) -> Option<Duration> {
        let now = self.now();
        let inner = self.lock();
        inner.started?;
        Some(at.saturating_sub(now).div_f64(inner.scale))
    }

    /// The wall-clock time of simulated time `at`, for timestamps in objects: the real time at
    /// which it happens (simulated time since the start, divided by the scale), so timestamps agree
    /// with `creationTimestamp`s, which the store takes from the real clock.
    pub fn wall(&self, at: SimTime) -> DateTime<Utc> {
        let inner = self.lock();
        let offset =
            |d: Duration| chrono::Duration::from_std(d.div_f64(inner.scale)).unwrap_or_default();
        if at >= EPOCH {
            inner.wall_start + offset(at - EPOCH)
        } else {
            inner.wall_start - offset(EPOCH - at)
        }
    }

    /// The simulated time of a wall-clock timestamp (an object's `startTime`, perhaps from a
    /// loaded state written before this process started).
    pub fn sim_of_wall(&self, wall: DateTime<Utc>) -> SimTime {
        let inner = self.lock();
        let delta = wall - inner.wall_start;
        match delta.to_std() {
            Ok(after) => EPOCH + after.mul_f64(inner.scale),
            Err(_) => {
                let before = (-delta).to_std().unwrap_or_default().mul_f64(inner.scale);
                EPOCH.saturating_sub(before)
            }
        }
    }
}

/// An RFC 3339 timestamp with seconds, as the API server writes `metav1.Time`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Parse an RFC 3339 timestamp from an object.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual();
        assert_eq!(clock.now(), EPOCH);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now(), EPOCH + Duration::from_secs(5));
        assert_eq!(clock.real_until(EPOCH + Duration::from_secs(9)), None);
        let wall = clock.wall(EPOCH + Duration::from_secs(5));
        assert_eq!(clock.sim_of_wall(wall), EPOCH + Duration::from_secs(5));
        // A timestamp from before the process started maps to a time before the start.
        let earlier = clock.wall(EPOCH) - chrono::Duration::seconds(60);
        assert_eq!(clock.sim_of_wall(earlier), EPOCH - Duration::from_secs(60));
    }

    #[test]
    fn a_scaled_clock_runs_faster_than_real_time() {
        let clock = Clock::real(100.0);
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            clock.now() >= EPOCH + Duration::from_secs(2),
            "{:?}",
            clock.now()
        );
        let wait = clock
            .real_until(clock.now() + Duration::from_secs(10))
            .unwrap();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
    }

    #[test]
    fn time_scales_must_be_positive_numbers() {
        assert_eq!(parse_scale("10").unwrap(), 10.0);
        assert_eq!(parse_scale("0.5").unwrap(), 0.5);
        assert_eq!(
            parse_scale("0").unwrap_err().to_string(),
            "time scale `0`: expected a number greater than 0 (1 is real time, 10 is ten times faster)"
        );
        assert!(parse_scale("fast").is_err());
    }
}
