//! Which LEDs still wait to be put back in their saved state, and when to
//! try again. Pure bookkeeping: the engine does the writes and the logging.
//!
//! At boot ledd may restore a blink before udev has handed the trigger's
//! freshly created files (`delay_on`, ...) to group `leds`, or before an
//! LED's device exists at all (an overlay or USB LED that appears later). A
//! restore that meets the first waits on a bounded backoff, as a client's
//! order does but longer, because udev is busy with the boot's coldplug; one
//! that meets the second waits, with no timer, until the device appears.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::led::Target;
use crate::protocol::ErrorKind;

/// Waits between attempts while udev has not handed over a trigger's files.
const BACKOFF_MS: [u64; 9] = [5, 10, 20, 40, 80, 160, 320, 640, 1000];

/// How long a restore waits for udev before giving up. Boot on a slow board
/// (a Pi Zero's coldplug) can keep udev busy for several seconds.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Where one LED's restore stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Not tried yet, or to be tried again at once (device appeared, reload).
    Due,
    /// The LED has no device yet: tried again when one appears.
    NoDevice,
    /// udev has not handed over the trigger's files: tried again at `next`.
    Permission {
        since: Instant,
        next: Instant,
        attempts: usize,
    },
    /// Given up; the kind of the last error, shown by `status`.
    Failed(ErrorKind),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub target: Target,
    pub stage: Stage,
    /// The LED's state before the first write of the restore, to put back
    /// if the restore fails half-way.
    pub before: Option<Target>,
}

/// What became of a permission wait: try again, or the patience ran out.
#[derive(Debug, PartialEq, Eq)]
pub enum Patience {
    Retry,
    GaveUp { waited: Duration },
}

#[derive(Debug, Default)]
pub struct Restores {
    pending: BTreeMap<String, Pending>,
}

impl Restores {
    /// Plans a restore of each (LED, saved state).
    pub fn plan(&mut self, saved: impl IntoIterator<Item = (String, Target)>) {
        for (led, target) in saved {
            self.pending.insert(
                led,
                Pending {
                    target,
                    stage: Stage::Due,
                    before: None,
                },
            );
        }
    }

    /// The LEDs to try now, with their saved state.
    pub fn due(&self, now: Instant) -> Vec<(String, Target)> {
        self.pending
            .iter()
            .filter(|(_, pending)| match pending.stage {
                Stage::Due => true,
                Stage::Permission { next, .. } => next <= now,
                Stage::NoDevice | Stage::Failed(_) => false,
            })
            .map(|(led, pending)| (led.clone(), pending.target.clone()))
            .collect()
    }

    pub fn get(&self, led: &str) -> Option<&Pending> {
        self.pending.get(led)
    }

    /// Keeps the LED's state before the restore's first write (only once).
    pub fn remember_before(&mut self, led: &str, before: Option<Target>) {
        if let Some(pending) = self.pending.get_mut(led).filter(|p| p.before.is_none()) {
            pending.before = before;
        }
    }

    /// The restore is done, or a newer order made it moot.
    pub fn finish(&mut self, led: &str) -> Option<Pending> {
        self.pending.remove(led)
    }

    /// Returns whether this is news (the LED was not already waiting for its device).
    pub fn wait_for_device(&mut self, led: &str) -> bool {
        self.set_stage(led, Stage::NoDevice) != Some(Stage::NoDevice)
    }

    pub fn fail(&mut self, led: &str, kind: ErrorKind) {
        self.set_stage(led, Stage::Failed(kind));
    }

    /// Schedules the next attempt after a permission error, or gives up once
    /// [`PATIENCE`] has passed since the first one.
    pub fn wait_for_permission(&mut self, led: &str, now: Instant) -> Patience {
        let Some(pending) = self.pending.get_mut(led) else {
            return Patience::GaveUp {
                waited: Duration::ZERO,
            };
        };
        let (since, attempts) = match pending.stage {
            Stage::Permission {
                since, attempts, ..
            } => (since, attempts + 1),
            _ => (now, 1),
        };
        let waited = now.saturating_duration_since(since);
        if waited >= PATIENCE {
            pending.stage = Stage::Failed(ErrorKind::Permission);
            return Patience::GaveUp { waited };
        }
        let step = BACKOFF_MS[(attempts - 1).min(BACKOFF_MS.len() - 1)];
        let next = (now + Duration::from_millis(step)).min(since + PATIENCE);
        pending.stage = Stage::Permission {
            since,
            next,
            attempts,
        };
        Patience::Retry
    }

    /// A device appeared: the LEDs that may use it and wait for a device, or
    /// gave up, are due again. `may_use(led)` says whether LED `led` lists it.
    pub fn device_appeared(&mut self, may_use: impl Fn(&str) -> bool) -> bool {
        let mut any = false;
        for (led, pending) in &mut self.pending {
            if matches!(pending.stage, Stage::NoDevice | Stage::Failed(_)) && may_use(led) {
                pending.stage = Stage::Due;
                any = true;
            }
        }
        any
    }

    /// After a reload: every unfinished restore is tried again at once, with
    /// fresh patience; those of LEDs no longer configured are dropped.
    pub fn retry_all(&mut self, is_configured: impl Fn(&str) -> bool) -> Vec<String> {
        let dropped: Vec<String> = self
            .pending
            .keys()
            .filter(|led| !is_configured(led))
            .cloned()
            .collect();
        for led in &dropped {
            self.pending.remove(led);
        }
        for pending in self.pending.values_mut() {
            pending.stage = Stage::Due;
        }
        dropped
    }

    /// When the next timed attempt is due, if any LED waits for udev.
    pub fn next_attempt(&self) -> Option<Instant> {
        self.pending
            .values()
            .filter_map(|pending| match pending.stage {
                Stage::Permission { next, .. } => Some(next),
                _ => None,
            })
            .min()
    }

    /// For `status`: `waiting` or `failed`, and the kind of error met, while
    /// the LED's saved state is not restored.
    pub fn describe(&self, led: &str) -> Option<(&'static str, ErrorKind)> {
        match self.pending.get(led)?.stage {
            Stage::Due => None,
            Stage::NoDevice => Some(("waiting", ErrorKind::NoDevice)),
            Stage::Permission { .. } => Some(("waiting", ErrorKind::Permission)),
            Stage::Failed(kind) => Some(("failed", kind)),
        }
    }

    fn set_stage(&mut self, led: &str, stage: Stage) -> Option<Stage> {
        let pending = self.pending.get_mut(led)?;
        Some(std::mem::replace(&mut pending.stage, stage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blink() -> Target {
        Target::Blink {
            delay_on: 250,
            delay_off: 250,
        }
    }

    fn planned() -> Restores {
        let mut restores = Restores::default();
        restores.plan([
            ("caps".to_string(), blink()),
            ("num".to_string(), Target::Off),
        ]);
        restores
    }

    #[test]
    fn everything_planned_is_due_at_once_and_nothing_is_timed() {
        let restores = planned();
        let due: Vec<String> = restores
            .due(Instant::now())
            .into_iter()
            .map(|(led, _)| led)
            .collect();
        assert_eq!(due, ["caps", "num"]);
        assert_eq!(restores.next_attempt(), None);
        assert_eq!(restores.describe("caps"), None);
    }

    #[test]
    fn permission_waits_back_off_and_give_up_after_the_patience() {
        let mut restores = planned();
        let start = Instant::now();
        assert_eq!(restores.wait_for_permission("caps", start), Patience::Retry);
        assert_eq!(
            restores.next_attempt(),
            Some(start + Duration::from_millis(5))
        );
        assert!(restores.due(start).iter().all(|(led, _)| led != "caps"));
        assert!(
            restores
                .due(start + Duration::from_millis(5))
                .iter()
                .any(|(led, _)| led == "caps")
        );
        assert_eq!(
            restores.describe("caps"),
            Some(("waiting", ErrorKind::Permission))
        );

        // Attempts at each deadline: delays grow, capped at one second, and
        // the last attempt lands exactly when the patience runs out.
        let mut now = start;
        let mut delays = Vec::new();
        while let Some(next) = restores.next_attempt() {
            delays.push(next - now);
            now = next;
            if restores.wait_for_permission("caps", now) != Patience::Retry {
                break;
            }
        }
        assert_eq!(delays[1], Duration::from_millis(10));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(1)));
        assert_eq!(now, start + PATIENCE);
        assert_eq!(
            restores.describe("caps"),
            Some(("failed", ErrorKind::Permission))
        );
        assert_eq!(restores.next_attempt(), None, "no timer once given up");
        // Bounded: about 9 quick tries, then one a second.
        assert!(delays.len() < 9 + PATIENCE.as_secs() as usize + 1);
    }

    #[test]
    fn a_missing_device_waits_without_a_timer_until_it_appears() {
        let mut restores = planned();
        assert!(restores.wait_for_device("caps"));
        assert!(!restores.wait_for_device("caps"), "said once");
        assert_eq!(restores.next_attempt(), None);
        assert_eq!(
            restores.describe("caps"),
            Some(("waiting", ErrorKind::NoDevice))
        );
        assert!(!restores.device_appeared(|led| led == "num"));
        assert!(restores.device_appeared(|led| led == "caps"));
        assert_eq!(restores.describe("caps"), None);
        assert!(
            restores
                .due(Instant::now())
                .iter()
                .any(|(led, _)| led == "caps")
        );
    }

    #[test]
    fn a_failure_is_shown_until_a_device_event_or_reload_retries_it() {
        let mut restores = planned();
        restores.fail("caps", ErrorKind::NoTrigger);
        assert_eq!(
            restores.describe("caps"),
            Some(("failed", ErrorKind::NoTrigger))
        );
        let dropped = restores.retry_all(|led| led == "caps");
        assert_eq!(dropped, ["num"]);
        assert_eq!(restores.describe("caps"), None);
        assert!(restores.get("num").is_none());
    }

    #[test]
    fn the_state_before_is_kept_from_the_first_attempt_only() {
        let mut restores = planned();
        restores.remember_before("caps", Some(Target::Off));
        restores.remember_before("caps", Some(blink()));
        assert_eq!(
            restores.finish("caps").map(|p| p.before),
            Some(Some(Target::Off))
        );
        assert!(restores.get("caps").is_none());
    }
}
