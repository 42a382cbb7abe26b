//! Claims: orders that last `for=` a while or `hold` while their connection
//! is open, on top of each LED's base state. Pure bookkeeping over instants
//! (no sysfs, no clock reads), so the rule "the highest priority live claim
//! is shown, the newest among equals, else the base" is tested on its own.

use std::time::{Duration, Instant};

use crate::led::Target;
use crate::state::SavedClaim;

/// When a `for=` claim ends: the instant the event loop waits for, and the
/// same moment in wall-clock milliseconds for the state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub at: Instant,
    pub wall_ms: u64,
}

/// One live claim.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub id: u64,
    pub led: String,
    pub target: Target,
    /// The order as placed, for `claims`.
    pub order: String,
    pub priority: u8,
    pub uid: Option<u32>,
    pub pid: Option<i32>,
    /// `for=`: when it ends.
    pub until: Option<Deadline>,
    /// `hold`: the connection whose end ends it.
    pub connection: Option<u64>,
}

impl Claim {
    /// Whether `self` is shown rather than `other`: higher priority, or
    /// equal and newer (ids only grow).
    fn outranks(&self, other: &Claim) -> bool {
        (self.priority, self.id) > (other.priority, other.id)
    }

    /// `for=` claims survive a restart of ledd; `hold` ones die with their
    /// connection, which a restart closes.
    fn is_saved(&self) -> bool {
        self.until.is_some() && self.connection.is_none()
    }

    /// Time left, for `claims`; None for a claim with no deadline.
    pub fn left(&self, now: Instant) -> Option<Duration> {
        self.until
            .map(|until| until.at.saturating_duration_since(now))
    }
}

/// Every live claim, in the order placed.
#[derive(Debug, Default)]
pub struct Claims {
    live: Vec<Claim>,
    next_id: u64,
}

impl Claims {
    /// The claims of the state file still alive at `wall_ms` (`now` being
    /// the same moment), when they belong to this boot.
    pub fn restore(saved: &[SavedClaim], same_boot: bool, now: Instant, wall_ms: u64) -> Claims {
        let mut claims = Claims::default();
        if same_boot {
            for claim in saved.iter().filter(|c| c.until_ms > wall_ms) {
                claims.live.push(Claim {
                    id: claim.id,
                    led: claim.led.clone(),
                    target: claim.target.clone(),
                    order: claim.order.clone(),
                    priority: claim.priority,
                    uid: claim.uid,
                    pid: claim.pid,
                    until: Some(Deadline {
                        at: now + Duration::from_millis(claim.until_ms - wall_ms),
                        wall_ms: claim.until_ms,
                    }),
                    connection: None,
                });
            }
        }
        claims.live.sort_by_key(|claim| claim.id);
        claims.next_id = claims.live.last().map_or(0, |claim| claim.id);
        claims
    }

    /// The `for=` claims, as the state file keeps them.
    pub fn saved(&self) -> Vec<SavedClaim> {
        self.live
            .iter()
            .filter(|claim| claim.is_saved())
            .filter_map(|claim| {
                Some(SavedClaim {
                    id: claim.id,
                    led: claim.led.clone(),
                    priority: claim.priority,
                    uid: claim.uid,
                    pid: claim.pid,
                    order: claim.order.clone(),
                    until_ms: claim.until?.wall_ms,
                    target: claim.target.clone(),
                })
            })
            .collect()
    }

    /// The next claim's id.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn add(&mut self, claim: Claim) {
        self.live.push(claim);
    }

    /// The claim an LED shows, if any.
    pub fn shown(&self, led: &str) -> Option<&Claim> {
        self.live
            .iter()
            .filter(|claim| claim.led == led)
            .reduce(|best, claim| if claim.outranks(best) { claim } else { best })
    }

    /// Whether a new claim of `priority` on `led` would be shown.
    pub fn would_show(&self, led: &str, priority: u8) -> bool {
        self.shown(led)
            .is_none_or(|shown| priority >= shown.priority)
    }

    /// The claims on one LED, or on all (`None`).
    pub fn on<'a>(&'a self, led: Option<&'a str>) -> impl Iterator<Item = &'a Claim> + 'a {
        self.live
            .iter()
            .filter(move |claim| led.is_none_or(|led| claim.led == led))
    }

    pub fn get(&self, id: u64) -> Option<&Claim> {
        self.live.iter().find(|claim| claim.id == id)
    }

    pub fn count_of_user(&self, uid: Option<u32>) -> usize {
        self.live.iter().filter(|claim| claim.uid == uid).count()
    }

    /// Ends the claims `ends` picks; returns them.
    pub fn end(&mut self, ends: impl Fn(&Claim) -> bool) -> Vec<Claim> {
        let (ended, kept) = std::mem::take(&mut self.live).into_iter().partition(ends);
        self.live = kept;
        ended
    }

    /// Ends the claims whose deadline is at or before `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<Claim> {
        self.end(|claim| claim.until.is_some_and(|until| until.at <= now))
    }

    /// Ends the `hold` claims of a connection that closed.
    pub fn connection_closed(&mut self, connection: u64) -> Vec<Claim> {
        self.end(|claim| claim.connection == Some(connection))
    }

    pub fn holds(&self, connection: u64) -> bool {
        self.live
            .iter()
            .any(|claim| claim.connection == Some(connection))
    }

    /// The nearest deadline: the one moment ledd must wake for claims.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.live
            .iter()
            .filter_map(|claim| claim.until.map(|until| until.at))
            .min()
    }

    /// Forgets the claims on LEDs no longer configured (after a reload).
    pub fn retain_leds(&mut self, is_configured: impl Fn(&str) -> bool) -> Vec<Claim> {
        self.end(|claim| !is_configured(&claim.led))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claim(claims: &mut Claims, led: &str, priority: u8, t0: Instant, ms: Option<u64>) -> u64 {
        let id = claims.next_id();
        claims.add(Claim {
            id,
            led: led.into(),
            target: Target::Blink {
                delay_on: id,
                delay_off: id,
            },
            order: format!("blink {id}"),
            priority,
            uid: Some(1000),
            pid: Some(1),
            until: ms.map(|ms| Deadline {
                at: t0 + Duration::from_millis(ms),
                wall_ms: 1_000_000 + ms,
            }),
            connection: ms.is_none().then_some(7),
        });
        id
    }

    #[test]
    fn highest_priority_then_newest_is_shown() {
        let t0 = Instant::now();
        let mut claims = Claims::default();
        assert!(claims.shown("status").is_none());
        let low = claim(&mut claims, "status", 3, t0, Some(1000));
        let high = claim(&mut claims, "status", 7, t0, Some(500));
        let equal = claim(&mut claims, "status", 7, t0, None);
        claim(&mut claims, "power", 9, t0, None);
        assert_eq!(claims.shown("status").map(|c| c.id), Some(equal));
        assert!(claims.would_show("status", 7) && !claims.would_show("status", 6));
        assert_eq!(
            claims.next_deadline(),
            Some(t0 + Duration::from_millis(500))
        );
        claims.connection_closed(7);
        assert_eq!(claims.shown("status").map(|c| c.id), Some(high));
        claims.expire(t0 + Duration::from_millis(500));
        assert_eq!(claims.shown("status").map(|c| c.id), Some(low));
        assert_eq!(claims.shown("power"), None);
    }

    #[test]
    fn for_claims_are_saved_and_restored_in_the_same_boot_only() {
        let t0 = Instant::now();
        let mut claims = Claims::default();
        let kept = claim(&mut claims, "status", 5, t0, Some(60_000));
        claim(&mut claims, "status", 5, t0, None);
        claim(&mut claims, "status", 5, t0, Some(1000));
        let saved = claims.saved();
        assert_eq!(saved.len(), 2, "hold claims are not saved");
        // Restarted 2 s later: the 1 s claim is over, the minute one is not.
        let later = Instant::now();
        let restored = Claims::restore(&saved, true, later, 1_002_000);
        let ids: Vec<u64> = restored.on(None).map(|c| c.id).collect();
        assert_eq!(ids, [kept]);
        assert_eq!(
            restored.next_deadline(),
            Some(later + Duration::from_millis(58_000))
        );
        let mut restored = restored;
        assert_eq!(restored.next_id(), kept + 1, "ids do not come back");
        assert_eq!(
            Claims::restore(&saved, false, later, 1_002_000).next_deadline(),
            None,
            "a reboot ends them"
        );
    }

    /// What may happen to the claims of one LED.
    #[derive(Debug, Clone)]
    enum Step {
        Place { priority: u8, ms: Option<u64> },
        Release(usize),
        Wait(u64),
        Disconnect,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..=9, proptest::option::of(1u64..5000))
                .prop_map(|(priority, ms)| Step::Place { priority, ms }),
            (0usize..16).prop_map(Step::Release),
            (1u64..3000).prop_map(Step::Wait),
            Just(Step::Disconnect),
        ]
    }

    proptest! {
        /// Whatever happens, the LED shows the highest-priority live claim
        /// (newest among equals), or the base when none is left; and the
        /// only deadline ledd waits for is the nearest live one.
        #[test]
        fn shown_is_always_the_best_live_claim(steps in proptest::collection::vec(step(), 0..60)) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut claims = Claims::default();
            // The model: (id, priority, deadline or None for hold).
            let mut model: Vec<(u64, u8, Option<Instant>)> = Vec::new();
            for step in steps {
                match step {
                    Step::Place { priority, ms } => {
                        let offset = now.duration_since(t0).as_millis() as u64;
                        let id = claim(&mut claims, "status", priority, t0, ms.map(|ms| ms + offset));
                        model.push((id, priority, ms.map(|ms| now + Duration::from_millis(ms))));
                    }
                    Step::Release(index) => {
                        if let Some((id, _, _)) = model.get(index).copied() {
                            model.retain(|c| c.0 != id);
                            claims.end(|c| c.id == id);
                        }
                    }
                    Step::Wait(ms) => {
                        now += Duration::from_millis(ms);
                        model.retain(|c| c.2.is_none_or(|at| at > now));
                        claims.expire(now);
                    }
                    Step::Disconnect => {
                        model.retain(|c| c.2.is_some());
                        claims.connection_closed(7);
                    }
                }
                let best = model.iter().max_by_key(|c| (c.1, c.0)).map(|c| c.0);
                prop_assert_eq!(claims.shown("status").map(|c| c.id), best);
                prop_assert_eq!(claims.next_deadline(), model.iter().filter_map(|c| c.2).min());
            }
        }
    }
}
