//! The state file: the last ordered state of each LED, saved atomically so
//! that a crash at any moment leaves either the old file or the new one.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::led::Target;

/// The LEDs' last ordered states (their base), by logical name, and the
/// `for=` claims alive when it was written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedState {
    /// The boot the claims belong to (`/proc/sys/kernel/random/boot_id`):
    /// a restart of ledd keeps them, a reboot does not. Only with claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    #[serde(default)]
    pub leds: BTreeMap<String, Target>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<SavedClaim>,
}

/// A `for=` claim in the state file; its deadline is wall-clock time,
/// since monotonic instants do not survive the process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedClaim {
    pub id: u64,
    pub led: String,
    pub priority: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// The order as the client gave it, for `claims`.
    pub order: String,
    /// Milliseconds since the Unix epoch.
    pub until_ms: u64,
    pub target: Target,
}

/// This boot's id, which changes at every boot (None: not Linux, or /proc
/// not mounted: then no claim survives a restart).
pub fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
}

#[derive(Debug)]
pub struct StateError {
    pub path: PathBuf,
    pub action: &'static str,
    pub error: String,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} state file {}: {}",
            self.action,
            self.path.display(),
            self.error
        )
    }
}

impl std::error::Error for StateError {}

impl SavedState {
    /// Reads the state file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<SavedState, StateError> {
        let error = |action, error: String| StateError {
            path: path.to_path_buf(),
            action,
            error,
        };
        match fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| error("parse", e.message().to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(SavedState::default()),
            Err(e) => Err(error("read", e.to_string())),
        }
    }

    /// Writes the state to a temporary file beside `path`, syncs it, renames
    /// it over `path` and syncs the directory: readers see old or new, never half.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let error = |action, error: io::Error| StateError {
            path: path.to_path_buf(),
            action,
            error: error.to_string(),
        };
        let text = toml::to_string(self).map_err(|e| StateError {
            path: path.to_path_buf(),
            action: "encode",
            error: e.to_string(),
        })?;
        let directory = path.parent().unwrap_or(Path::new("/"));
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let temporary = directory.join(format!(".{file_name}.tmp"));
        let written = (|| {
            // Without systemd's StateDirectory= nothing may have made it yet.
            if !directory.exists() {
                fs::create_dir_all(directory)?;
            }
            // A temporary left by a crash is replaced, never followed: a link
            // planted there must not make ledd overwrite another file.
            match fs::remove_file(&temporary) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
                .open(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temporary);
            return Err(error("write", e));
        }
        fs::rename(&temporary, path).map_err(|e| {
            let _ = fs::remove_file(&temporary);
            error("replace", e)
        })?;
        File::open(directory)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| StateError {
                path: path.to_path_buf(),
                action: "sync the directory of",
                error: format!("{e}; the new state is in place but may be lost on power failure"),
            })
    }
}

/// When to write the state file: the coalescing rule of `state_delay` and
/// `state_max_delay` (ledd.toml(5)), as pure logic over instants, so it is
/// tested without sleeping. The engine tells it about changes, saves and
/// failed saves; the event loop asks it when to wake up.
#[derive(Debug, Clone)]
pub struct SavePlan {
    delay: Duration,
    max_delay: Duration,
    /// Changes that are not on disk yet, if any.
    pending: Option<Pending>,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    /// The first change since the file was last written: bounds what a crash loses.
    first: Instant,
    /// The latest change: the quiet period counts from it.
    last: Instant,
    /// After a failed save, no new attempt before this: a broken disk is
    /// retried at the pace of `state_max_delay`, not in a busy loop.
    retry_at: Option<Instant>,
}

impl SavePlan {
    pub fn new(delay: Duration, max_delay: Duration) -> SavePlan {
        SavePlan {
            delay,
            max_delay,
            pending: None,
        }
    }

    /// New delays (after a reload); pending changes keep their times.
    pub fn set_delays(&mut self, delay: Duration, max_delay: Duration) {
        self.delay = delay;
        self.max_delay = max_delay;
    }

    /// `state_delay = 0`: every change is saved at once, in the order's reply.
    pub fn is_immediate(&self) -> bool {
        self.delay.is_zero()
    }

    /// How long orders must stop for the stream to count as over. A quarter
    /// more than `state_delay`, so that an automation changing an LED exactly
    /// every `state_delay` (once a second, with the default) is one steady
    /// stream, saved every `state_max_delay`, and not a coin toss between its
    /// order and ledd's timer at each period.
    pub fn quiet_period(&self) -> Duration {
        self.delay + self.delay / 4
    }

    /// The ordered state changed at `now` and differs from the file.
    pub fn changed(&mut self, now: Instant) {
        match &mut self.pending {
            Some(pending) => pending.last = pending.last.max(now),
            None => {
                self.pending = Some(Pending {
                    first: now,
                    last: now,
                    retry_at: None,
                })
            }
        }
    }

    /// The file holds the ordered state (it was written, or the LEDs went
    /// back to what it holds): nothing to do, no timer needed.
    pub fn clean(&mut self) {
        self.pending = None;
    }

    /// A save failed at `now`: the changes stay pending, tried again
    /// `state_max_delay` later (or a second, when that is shorter).
    pub fn failed(&mut self, now: Instant) {
        let retry_at = now + self.max_delay.max(Duration::from_secs(1));
        let pending = self.pending.get_or_insert(Pending {
            first: now,
            last: now,
            retry_at: None,
        });
        pending.retry_at = Some(retry_at);
    }

    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// When the pending changes must be written: once orders have been
    /// quiet for [`Self::quiet_period`], at the latest `state_max_delay` after
    /// the first of them, never before a failed save's retry time. None when
    /// nothing is pending: then no timer runs.
    pub fn due_at(&self) -> Option<Instant> {
        let pending = self.pending?;
        let due = (pending.last + self.quiet_period()).min(pending.first + self.max_delay);
        Some(pending.retry_at.map_or(due, |retry| retry.max(due)))
    }

    pub fn is_due(&self, now: Instant) -> bool {
        self.due_at().is_some_and(|due| due <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: f64) -> Duration {
        Duration::from_secs_f64(n)
    }

    #[test]
    fn nothing_pending_means_no_deadline() {
        let plan = SavePlan::new(secs(1.0), secs(30.0));
        assert_eq!(plan.due_at(), None);
        assert!(!plan.is_due(Instant::now() + secs(1e6)));
    }

    #[test]
    fn a_burst_is_saved_once_it_is_quiet() {
        let t0 = Instant::now();
        let mut plan = SavePlan::new(secs(1.0), secs(30.0));
        // 100 orders 5 ms apart: the deadline follows the last one.
        for i in 0..100 {
            plan.changed(t0 + secs(0.005 * i as f64));
            assert!(!plan.is_due(t0 + secs(0.005 * i as f64)));
        }
        let last = t0 + secs(0.495);
        assert_eq!(plan.due_at(), Some(last + secs(1.25)));
        assert!(!plan.is_due(last + secs(1.2)));
        assert!(plan.is_due(last + secs(1.25)));
        plan.clean();
        assert_eq!(plan.due_at(), None);
    }

    #[test]
    fn a_steady_stream_is_saved_every_max_delay() {
        // One change per second, with the defaults: never quiet long enough,
        // so the saves come from the 30 s bound only; jitter of up to a
        // quarter second does not make a gap look quiet.
        let t0 = Instant::now();
        let mut plan = SavePlan::new(secs(1.0), secs(30.0));
        let mut saves = Vec::new();
        let mut now = t0;
        for i in 0..3600 {
            let at = t0 + secs(i as f64 + if i % 2 == 0 { 0.2 } else { 0.0 });
            // Every save the loop would make before this order arrives.
            while let Some(due) = plan.due_at().filter(|due| *due <= at) {
                now = now.max(due);
                saves.push(now.duration_since(t0).as_secs_f64());
                plan.clean();
            }
            plan.changed(at);
        }
        assert_eq!(saves.len(), 119, "{saves:?}");
        assert!(
            saves
                .windows(2)
                .all(|w| w[1] - w[0] >= 29.0 && w[1] - w[0] <= 31.0),
            "{saves:?}"
        );
        assert!(saves[0] <= 30.5, "{saves:?}");
    }

    #[test]
    fn the_bound_counts_from_the_first_unsaved_change() {
        let t0 = Instant::now();
        let mut plan = SavePlan::new(secs(2.0), secs(5.0));
        plan.changed(t0);
        plan.changed(t0 + secs(2.0));
        plan.changed(t0 + secs(4.0));
        assert_eq!(plan.due_at(), Some(t0 + secs(5.0)));
        // After the save, the next change opens a new window.
        plan.clean();
        plan.changed(t0 + secs(6.0));
        assert_eq!(plan.due_at(), Some(t0 + secs(6.0) + secs(2.5)));
    }

    #[test]
    fn a_failed_save_is_retried_later_not_at_once() {
        let t0 = Instant::now();
        let mut plan = SavePlan::new(secs(1.0), secs(30.0));
        plan.changed(t0);
        let failed_at = t0 + secs(1.25);
        plan.failed(failed_at);
        assert!(plan.is_pending());
        assert_eq!(plan.due_at(), Some(failed_at + secs(30.0)));
        // New changes do not bring the retry forward.
        plan.changed(failed_at + secs(1.0));
        assert!(!plan.is_due(failed_at + secs(29.0)));
        assert!(plan.is_due(failed_at + secs(30.0)));
        // A tiny max delay still waits a second between attempts.
        let mut fast = SavePlan::new(Duration::ZERO, Duration::ZERO);
        fast.failed(t0);
        assert_eq!(fast.due_at(), Some(t0 + secs(1.0)));
    }

    #[test]
    fn immediate_mode_and_new_delays() {
        let mut plan = SavePlan::new(Duration::ZERO, secs(30.0));
        assert!(plan.is_immediate());
        let t0 = Instant::now();
        plan.set_delays(secs(10.0), secs(60.0));
        assert!(!plan.is_immediate());
        plan.changed(t0);
        assert_eq!(plan.due_at(), Some(t0 + secs(12.5)));
        // A reload that shortens the delays brings the deadline forward.
        plan.set_delays(secs(1.0), secs(2.0));
        assert_eq!(plan.due_at(), Some(t0 + secs(1.25)));
    }

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.toml");
        assert_eq!(SavedState::load(&path).unwrap(), SavedState::default());
        let mut state = SavedState::default();
        state.leds.insert(
            "status".into(),
            Target::Blink {
                delay_on: 250,
                delay_off: 250,
            },
        );
        state
            .leds
            .insert("power".into(), Target::On { brightness: None });
        state.save(&path).unwrap();
        assert_eq!(SavedState::load(&path).unwrap(), state);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("mode = \"blink\""), "{text}");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn a_failed_save_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.toml");
        SavedState::default().save(&path).unwrap();
        // A directory where the temporary file must go makes the write fail.
        fs::create_dir(dir.path().join(".state.toml.tmp")).unwrap();
        let mut state = SavedState::default();
        state.leds.insert("status".into(), Target::Off);
        let error = state.save(&path).unwrap_err();
        assert_eq!(error.action, "write");
        assert_eq!(SavedState::load(&path).unwrap(), SavedState::default());
    }

    #[test]
    fn a_link_at_the_temporary_path_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.toml");
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(".state.toml.tmp")).unwrap();
        SavedState::default().save(&path).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(SavedState::load(&path).unwrap(), SavedState::default());
    }

    #[test]
    fn a_missing_directory_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("var/lib/ledd/state.toml");
        SavedState::default().save(&path).unwrap();
        assert!(path.exists());
    }

    #[test]
    fn a_truncated_file_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.toml");
        fs::write(&path, "[leds.status]\nmode = \"bl").unwrap();
        assert_eq!(SavedState::load(&path).unwrap_err().action, "parse");
    }
}
