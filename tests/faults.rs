//! Fault injection through the backend seam and on the state file: every
//! failure the kernel or the file system can give becomes a clear `err`
//! reply naming the file, nothing is left half-done, and the next good
//! order works.
//!
//! The LED faults use a wrapper around the simulated backend that makes
//! chosen writes fail with a real errno. The state-file faults are made to
//! really happen (tests run as root in CI, where chmod denies nothing):
//! EACCES with a per-thread filesystem uid (setfsuid), ENOSPC with /dev/full
//! and a full tmpfs, EROFS with a read-only tmpfs, ENOTDIR/EISDIR with files
//! and directories in the way.

mod common;

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledd::access::Peer;
use ledd::config::Config;
use ledd::engine::{Caller, Engine, Outcome};
use ledd::led::sim::SimulatedAttributes;
use ledd::led::{Attributes, Target};
use ledd::protocol::{ErrorKind, Order, Reply};
use ledd::state::SavedState;

/// One armed fault: the next `count` writes (or reads) of `attribute` fail with `errno`.
#[derive(Debug, Clone)]
struct Fault {
    attribute: &'static str,
    errno: i32,
    on_read: bool,
    count: usize,
}

/// The simulated backend with faults the test arms while the engine owns it.
struct Faulty {
    inner: SimulatedAttributes,
    faults: Arc<Mutex<Vec<Fault>>>,
    /// Every write that reached the simulated LED, for "nothing half-done" checks.
    writes: Arc<Mutex<Vec<String>>>,
    /// The device is gone (not plugged in yet, or its driver not bound).
    unplugged: Arc<AtomicBool>,
}

impl Faulty {
    fn fire(&self, attribute: &str, on_read: bool) -> io::Result<()> {
        let mut faults = self.faults.lock().unwrap();
        if let Some(fault) = faults
            .iter_mut()
            .find(|f| f.attribute == attribute && f.on_read == on_read && f.count > 0)
        {
            fault.count -= 1;
            return Err(io::Error::from_raw_os_error(fault.errno));
        }
        Ok(())
    }
}

impl Attributes for Faulty {
    fn device_exists(&self, device: &str) -> bool {
        !self.unplugged.load(Ordering::SeqCst) && self.inner.device_exists(device)
    }

    fn read(&self, device: &str, attribute: &str) -> io::Result<String> {
        self.fire(attribute, true)?;
        self.inner.read(device, attribute)
    }

    fn write(&mut self, device: &str, attribute: &str, value: &str) -> io::Result<()> {
        self.fire(attribute, false)?;
        self.writes
            .lock()
            .unwrap()
            .push(format!("{device}/{attribute}={value}"));
        self.inner.write(device, attribute, value)
    }

    fn location(&self, device: &str, attribute: &str) -> String {
        self.inner.location(device, attribute)
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}

struct Rig {
    engine: Engine,
    faults: Arc<Mutex<Vec<Fault>>>,
    writes: Arc<Mutex<Vec<String>>>,
    unplugged: Arc<AtomicBool>,
    state_file: PathBuf,
}

impl Rig {
    /// An engine on one simulated LED `status` (device ACT), saving to
    /// `state_file` with every change (`state_delay = 0`), so that a failed
    /// save is the order's own error.
    fn new(state_file: &Path) -> Rig {
        Rig::with(state_file, "state_delay = 0")
    }

    /// The same with coalesced saves: `state_delay = 1`, `state_max_delay = 30`.
    fn deferred(state_file: &Path) -> Rig {
        Rig::with(state_file, "state_delay = 1\nstate_max_delay = 30")
    }

    fn with(state_file: &Path, extra: &str) -> Rig {
        let config = Config::parse(
            &format!(
                "{extra}\nstate_file = \"{}\"\n[leds.status]\ndevice = \"ACT\"\n",
                state_file.display()
            ),
            Path::new("faults.toml"),
        )
        .unwrap();
        let faults = Arc::new(Mutex::new(Vec::new()));
        let writes = Arc::new(Mutex::new(Vec::new()));
        let unplugged = Arc::new(AtomicBool::new(false));
        let attrs = Faulty {
            inner: SimulatedAttributes::new(["ACT"]),
            faults: Arc::clone(&faults),
            writes: Arc::clone(&writes),
            unplugged: Arc::clone(&unplugged),
        };
        Rig {
            engine: Engine::new(config, Box::new(attrs)),
            faults,
            writes,
            unplugged,
            state_file: state_file.to_path_buf(),
        }
    }

    fn arm(&self, attribute: &'static str, errno: i32, on_read: bool) {
        self.arm_times(attribute, errno, on_read, 1);
    }

    fn arm_times(&self, attribute: &'static str, errno: i32, on_read: bool, count: usize) {
        self.faults.lock().unwrap().push(Fault {
            attribute,
            errno,
            on_read,
            count,
        });
    }

    fn disarm(&self) {
        self.faults.lock().unwrap().clear();
    }

    fn outcome(&mut self, line: &str, may_retry: bool) -> Option<Reply> {
        let order = Order::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        // The peer is this process, as SO_PEERCRED would give it.
        let peer = Peer::new(
            std::process::id() as i32,
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        let caller = Caller {
            peer: Some(&peer),
            ..Caller::default()
        };
        match self.engine.execute(&order, &caller, may_retry) {
            Outcome::Done(reply) => Some(reply),
            Outcome::RetryLater => None,
        }
    }

    /// Carries out an order as the daemon's last attempt does (no retry).
    fn run(&mut self, line: &str) -> Reply {
        self.outcome(line, false)
            .expect("no retry without may_retry")
    }

    fn ok(&mut self, line: &str) -> Reply {
        let reply = self.run(line);
        assert!(matches!(reply, Reply::Ok(_)), "{line}: {reply}");
        reply
    }

    fn err(&mut self, line: &str) -> (ErrorKind, String) {
        match self.run(line) {
            Reply::Err(error) => (error.kind, error.message),
            reply => panic!("{line}: expected an error, got {reply}"),
        }
    }

    fn saved(&self) -> SavedState {
        SavedState::load(&self.state_file).unwrap()
    }
}

const ERRNOS: [(i32, &str, ErrorKind); 5] = [
    (
        libc_errno::EACCES,
        "Permission denied",
        ErrorKind::Permission,
    ),
    (libc_errno::EBUSY, "busy", ErrorKind::Kernel),
    (libc_errno::EINVAL, "Invalid argument", ErrorKind::Kernel),
    (libc_errno::EIO, "Input/output error", ErrorKind::Kernel),
    (
        libc_errno::ENOENT,
        "No such file or directory",
        ErrorKind::NoDevice,
    ),
];

/// The errno values, without a direct libc dependency (nix re-exports them).
mod libc_errno {
    use nix::errno::Errno;
    pub const EACCES: i32 = Errno::EACCES as i32;
    pub const EBUSY: i32 = Errno::EBUSY as i32;
    pub const EINVAL: i32 = Errno::EINVAL as i32;
    pub const EIO: i32 = Errno::EIO as i32;
    pub const ENOENT: i32 = Errno::ENOENT as i32;
}

/// Orders that make the engine write `attribute`, and a state to start from
/// (`setup`) so that it must.
const WRITES: [(&str, &str, &str); 5] = [
    ("trigger", "off", "blink 2"),
    ("brightness", "off", "on"),
    ("delay_on", "blink 2", "blink 3"),
    ("pattern", "off", "pattern 1:100 0:100"),
    ("repeat", "off", "pattern 1:50 0:50 repeat=3"),
];

#[test]
fn every_refused_write_is_a_clear_error_of_its_kind_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(&dir.path().join("state.toml"));
    for (attribute, setup, order) in WRITES {
        for (errno, text, kind) in ERRNOS {
            rig.disarm();
            rig.ok(setup);
            let before = rig.saved();
            rig.arm(attribute, errno, false);
            let (got, message) = rig.err(order);
            let case = format!("{order} with {attribute} failing with errno {errno}");
            // EINVAL on `trigger` whose kernel list offers it is a kernel
            // error too (no-trigger is for triggers the LED does not list).
            assert_eq!(got, kind, "{case}: {message}");
            assert!(
                message.contains(&format!("simulated:/ACT/{attribute}")),
                "{case}: the message names the file: {message}"
            );
            assert!(
                message.to_lowercase().contains(&text.to_lowercase()),
                "{case}: the message gives the system's reason: {message}"
            );
            if kind == ErrorKind::Permission {
                assert!(message.contains("group"), "{case}: a hint: {message}");
            }
            assert_eq!(rig.saved(), before, "{case}: a failed order was saved");
            // The fault is gone: the same order now works and is saved.
            let reply = rig.ok(order);
            assert_eq!(reply.field("led"), Some("status"), "{case}");
            assert!(rig.saved().leds.contains_key("status"), "{case}");
            let status = rig.ok("status");
            let mode = order.split(' ').next().unwrap();
            assert_eq!(status.field("mode"), Some(mode), "{case}: {status}");
        }
    }
}

#[test]
fn a_refused_read_is_a_clear_error_and_status_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(&dir.path().join("state.toml"));
    rig.ok("blink 2");
    for (attribute, order) in [
        ("trigger", "status"),
        ("delay_on", "status"),
        ("brightness", "off"),
    ] {
        for (errno, _, kind) in ERRNOS {
            rig.arm(attribute, errno, true);
            let (got, message) = rig.err(order);
            assert_eq!(got, kind, "{order} reading {attribute}: {message}");
            assert!(
                message.contains(&format!("cannot read simulated:/ACT/{attribute}")),
                "{message}"
            );
            rig.disarm();
            rig.ok(order);
            rig.ok("blink 2");
        }
    }
}

#[test]
fn a_permission_error_on_a_trigger_file_is_retried_then_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(&dir.path().join("state.toml"));
    rig.ok("blink 2");
    // delay_on appears with the timer trigger: udev may not have fixed its
    // group yet, so the daemon asks to try again...
    rig.arm("delay_on", libc_errno::EACCES, false);
    assert!(
        rig.outcome("blink 3", true).is_none(),
        "a transient EACCES asks for a retry"
    );
    // ...and the retry works once the file is writable.
    let reply = rig.outcome("blink 3", true).expect("done");
    assert!(matches!(reply, Reply::Ok(_)), "{reply}");
    // The trigger file itself is not transient: no retry, a permission error.
    rig.ok("off");
    rig.arm("trigger", libc_errno::EACCES, false);
    match rig.outcome("blink 2", true) {
        Some(Reply::Err(error)) => assert_eq!(error.kind, ErrorKind::Permission),
        other => panic!("expected a permission error, got {other:?}"),
    }
    // Other errors on trigger files are never retried.
    rig.arm("delay_on", libc_errno::EIO, false);
    match rig.outcome("blink 2", true) {
        Some(Reply::Err(error)) => assert_eq!(error.kind, ErrorKind::Kernel),
        other => panic!("expected a kernel error, got {other:?}"),
    }
    rig.disarm();
    rig.ok("blink 2");
}

/// A new engine (ledd starting again) on the state file that `ordered` left.
fn restarted_after(ordered: &str) -> (tempfile::TempDir, Rig) {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.toml");
    Rig::new(&state_file).ok(ordered);
    let rig = Rig::new(&state_file);
    (dir, rig)
}

/// Runs the restore as the daemon's timer does, at each deadline it asks
/// for, and returns the waits between attempts.
fn restore_until_settled(rig: &mut Rig, start: Instant) -> Vec<Duration> {
    let mut now = start;
    let mut waits = Vec::new();
    while let Some(next) = rig.engine.restore_due(now) {
        assert!(next > now, "the next attempt is in the future");
        waits.push(next - now);
        now = next;
        assert!(waits.len() < 100, "the restore never settles");
    }
    waits
}

/// `restore` and `restore_error` of the LED's `status`.
fn restore_shown(rig: &mut Rig) -> (Option<String>, Option<String>) {
    let status = rig.ok("status");
    (field(&status, "restore"), field(&status, "restore_error"))
}

fn restore(stage: &str, error: &str) -> (Option<String>, Option<String>) {
    (Some(stage.to_string()), Some(error.to_string()))
}

fn field(reply: &Reply, key: &str) -> Option<String> {
    match reply {
        Reply::Ok(fields) => fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone()),
        Reply::Err(error) => panic!("expected ok, got {error}"),
    }
}

#[test]
fn a_restore_waits_for_udev_and_then_completes() {
    let (_dir, mut rig) = restarted_after("blink 2");
    rig.engine.plan_restore();
    // udev hands delay_on over after three refused attempts.
    rig.arm_times("delay_on", libc_errno::EACCES, false, 3);
    let start = Instant::now();
    let next = rig.engine.restore_due(start).expect("a retry is scheduled");
    assert_eq!(restore_shown(&mut rig), restore("waiting", "permission"));
    let mut waits = vec![next - start];
    waits.extend(restore_until_settled(&mut rig, next));
    assert_eq!(
        waits,
        [5, 10, 20].map(Duration::from_millis),
        "backs off, and stops once restored"
    );
    let status = rig.ok("status");
    assert_eq!(field(&status, "mode").as_deref(), Some("blink"), "{status}");
    assert_eq!(field(&status, "delay_on").as_deref(), Some("250"));
    assert_eq!(field(&status, "restore"), None, "restored: {status}");
}

#[test]
fn a_restore_that_never_gets_permission_gives_up_visibly_and_puts_the_led_back() {
    let (_dir, mut rig) = restarted_after("blink 2");
    rig.engine.plan_restore();
    rig.arm_times("delay_on", libc_errno::EACCES, false, usize::MAX);
    let start = Instant::now();
    let waits = restore_until_settled(&mut rig, start);
    let waited: Duration = waits.iter().sum();
    assert_eq!(waited, ledd::restore::PATIENCE, "bounded by the patience");
    assert!(waits.len() <= 40, "{} attempts", waits.len());
    assert_eq!(restore_shown(&mut rig), restore("failed", "permission"));
    // Put back as it was before the restore, not left at the kernel's 500/500.
    let status = rig.ok("status");
    assert_eq!(field(&status, "mode").as_deref(), Some("off"), "{status}");
    // A new order supersedes the saved state, and status says so.
    rig.disarm();
    rig.ok("blink 3");
    assert_eq!(field(&rig.ok("status"), "restore"), None);
}

#[test]
fn a_restore_for_a_missing_device_waits_for_it_without_a_timer() {
    let (_dir, mut rig) = restarted_after("blink 2");
    rig.unplugged.store(true, Ordering::SeqCst);
    rig.engine.plan_restore();
    let now = Instant::now();
    assert_eq!(
        rig.engine.restore_due(now),
        None,
        "no timer while the device is missing"
    );
    assert_eq!(field(&rig.ok("status"), "exists").as_deref(), Some("no"));
    assert_eq!(restore_shown(&mut rig), restore("waiting", "no-device"));
    // Another device appearing changes nothing.
    rig.unplugged.store(false, Ordering::SeqCst);
    assert_eq!(rig.engine.device_appeared(Some("PWR"), now), None);
    assert_eq!(field(&rig.ok("status"), "mode").as_deref(), Some("off"));
    // Its own device appearing restores it.
    assert_eq!(rig.engine.device_appeared(Some("ACT"), now), None);
    let status = rig.ok("status");
    assert_eq!(field(&status, "mode").as_deref(), Some("blink"), "{status}");
    assert_eq!(field(&status, "restore"), None);
}

#[test]
fn a_restore_refused_for_good_is_shown_and_a_reload_tries_again() {
    let (_dir, mut rig) = restarted_after("blink 2");
    rig.engine.plan_restore();
    rig.arm("trigger", libc_errno::EIO, false);
    let now = Instant::now();
    assert_eq!(rig.engine.restore_due(now), None, "not retried on a timer");
    assert_eq!(restore_shown(&mut rig), restore("failed", "kernel"));
    assert_eq!(rig.engine.retry_restores(now), None);
    let status = rig.ok("status");
    assert_eq!(field(&status, "mode").as_deref(), Some("blink"), "{status}");
    assert_eq!(field(&status, "restore"), None);
}

#[test]
fn a_fault_halfway_through_is_repaired_by_the_next_order() {
    // The pattern is written, then repeat fails: the next order starts from
    // the kernel's state and finishes the job.
    let dir = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(&dir.path().join("state.toml"));
    rig.arm("repeat", libc_errno::EIO, false);
    rig.err("pattern 1:100 0:100 repeat=2");
    rig.disarm();
    rig.writes.lock().unwrap().clear();
    rig.ok("pattern 1:100 0:100 repeat=2");
    let writes = rig.writes.lock().unwrap().clone();
    assert!(writes.contains(&"ACT/repeat=2".to_string()), "{writes:?}");
    let status = rig.ok("status");
    assert_eq!(status.field("repeat"), Some("2"), "{status}");
    assert_eq!(
        rig.saved().leds["status"],
        Target::Pattern {
            steps: vec![
                ledd::protocol::PatternStep {
                    brightness: 1,
                    duration_ms: 100
                },
                ledd::protocol::PatternStep {
                    brightness: 0,
                    duration_ms: 100
                },
            ],
            repeat: 2
        }
    );
}

// ---------------------------------------------------------------------------
// State file faults.

/// Runs `blink 2` (saved), then `fail` around `on` with the state file
/// failing: the reply is `err state`, the old file is intact, the engine goes
/// on serving, and once the fault is gone the next order is saved.
fn state_fault_case(
    name: &str,
    state_file: &Path,
    break_it: impl FnOnce(),
    run_broken: impl FnOnce(&mut Rig) -> Reply,
    repair: impl FnOnce(),
    reason: &str,
) {
    let mut rig = Rig::new(state_file);
    rig.ok("blink 2");
    let old = fs::read(state_file).unwrap();
    break_it();
    let reply = run_broken(&mut rig);
    let Reply::Err(error) = reply else {
        panic!("{name}: the save did not fail: {reply}");
    };
    assert_eq!(error.kind, ErrorKind::State, "{name}: {error}");
    assert!(
        error.message.contains(&state_file.display().to_string()),
        "{name}: names the file: {error}"
    );
    assert!(
        error.message.contains(reason),
        "{name}: gives the reason '{reason}': {error}"
    );
    assert!(
        error.message.contains("LED status was changed"),
        "{name}: says the LED did change: {error}"
    );
    // The LED did change: the kernel blinks no more, it is on.
    assert_eq!(rig.ok("status").field("mode"), Some("on"), "{name}");
    // Still serving, and the old state file is untouched.
    rig.ok("version");
    rig.ok("list");
    assert_eq!(
        fs::read(state_file).unwrap(),
        old,
        "{name}: the old state file changed"
    );
    repair();
    rig.ok("heartbeat");
    assert_eq!(rig.saved().leds["status"], Target::Heartbeat, "{name}");
    let temporaries: Vec<_> = fs::read_dir(state_file.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(
        temporaries.is_empty(),
        "{name}: temporaries left: {temporaries:?}"
    );
}

/// With coalesced saves the order is answered `ok` before the save: a save
/// that fails when its deadline comes keeps the old file, is shown by
/// `list`, is not retried in a busy loop but `state_max_delay` later, and
/// succeeds once the fault is gone. Checked for each kind of fault.
fn deferred_fault_case(
    name: &str,
    state_file: &Path,
    break_it: impl FnOnce(),
    save: impl Fn(&mut Rig, Instant),
    repair: impl FnOnce(),
) {
    let mut rig = Rig::deferred(state_file);
    rig.ok("blink 2");
    rig.engine.flush();
    let old = fs::read(state_file).unwrap();
    break_it();
    rig.ok("on");
    let list = |rig: &mut Rig| rig.ok("list").field("state_file").map(str::to_string);
    assert_eq!(list(&mut rig).as_deref(), Some("pending"), "{name}");
    let due = rig.engine.save_due_at().expect("a save is planned");
    save(&mut rig, due);
    assert_eq!(list(&mut rig).as_deref(), Some("failing"), "{name}");
    assert_eq!(
        fs::read(state_file).unwrap(),
        old,
        "{name}: old file changed"
    );
    let retry = rig.engine.save_due_at().expect("still unsaved");
    assert!(
        retry >= due + Duration::from_secs(30),
        "{name}: retried after {:?}, not state_max_delay",
        retry - due
    );
    // More orders meanwhile do not bring the retry forward.
    rig.ok("heartbeat");
    assert_eq!(rig.engine.save_due_at(), Some(retry), "{name}");
    repair();
    save(&mut rig, retry - Duration::from_millis(1));
    assert_eq!(fs::read(state_file).unwrap(), old, "{name}: retried early");
    save(&mut rig, retry);
    assert_eq!(list(&mut rig).as_deref(), Some("saved"), "{name}");
    assert_eq!(rig.engine.save_due_at(), None, "{name}: timer left");
    assert_eq!(rig.saved().leds["status"], Target::Heartbeat, "{name}");
}

#[test]
fn deferred_save_temporary_is_a_directory_eisdir() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.toml");
    let temporary = dir.path().join(".state.toml.tmp");
    deferred_fault_case(
        "EISDIR",
        &state_file,
        || fs::create_dir(&temporary).unwrap(),
        |rig, at| rig.engine.save_if_due(at),
        || fs::remove_dir(&temporary).unwrap(),
    );
}

#[test]
fn deferred_save_directory_not_writable_eacces() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let state_dir = dir.path().join("state");
    fs::create_dir(&state_dir).unwrap();
    fs::set_permissions(&state_dir, fs::Permissions::from_mode(0o755)).unwrap();
    let state_file = state_dir.join("state.toml");
    let denied = std::cell::Cell::new(false);
    deferred_fault_case(
        "EACCES",
        &state_file,
        || denied.set(true),
        |rig, at| {
            if denied.get() {
                as_nobody(|| rig.engine.save_if_due(at))
            } else {
                rig.engine.save_if_due(at)
            }
        },
        || denied.set(false),
    );
}

#[test]
fn deferred_save_that_fails_at_stop_is_retried_by_flush_and_reported() {
    // A failing save leaves `failing` until a flush (ledd's stop) succeeds.
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.toml");
    let temporary = dir.path().join(".state.toml.tmp");
    let mut rig = Rig::deferred(&state_file);
    fs::create_dir(&temporary).unwrap();
    rig.ok("blink 2");
    rig.engine.flush();
    assert_eq!(rig.ok("list").field("state_file"), Some("failing"));
    assert!(!state_file.exists());
    fs::remove_dir(&temporary).unwrap();
    rig.engine.flush();
    assert_eq!(rig.ok("list").field("state_file"), Some("saved"));
    assert!(matches!(rig.saved().leds["status"], Target::Blink { .. }));
}

/// Runs `body` with this thread's filesystem uid and gid set to nobody:
/// root loses CAP_DAC_OVERRIDE for this thread's file accesses, so modes
/// deny for real (setfsuid(2), capabilities(7)).
fn as_nobody<T>(body: impl FnOnce() -> T) -> T {
    use nix::unistd::{Gid, Uid, setfsgid, setfsuid};
    struct Restore(Uid, Gid);
    impl Drop for Restore {
        fn drop(&mut self) {
            setfsuid(self.0);
            setfsgid(self.1);
        }
    }
    let old_uid = setfsuid(Uid::from_raw(65534));
    let old_gid = setfsgid(Gid::from_raw(65534));
    let _restore = Restore(old_uid, old_gid);
    body()
}

#[test]
#[ignore = "needs root (run as root: cargo test -- --include-ignored; tests/run-all.sh does)"]
fn state_directory_not_writable_eacces() {
    common::require_root();
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    fs::create_dir(&state_dir).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let state_file = state_dir.join("state.toml");
    let writable = || fs::set_permissions(&state_dir, fs::Permissions::from_mode(0o755)).unwrap();
    // Owned by root, 0755: nobody may search it but not create files in it.
    writable();
    // Check the trick works on this machine before relying on it.
    let denied = as_nobody(|| fs::write(state_dir.join("probe"), "x"));
    assert_eq!(
        denied.map_err(|e| e.raw_os_error()),
        Err(Some(libc_errno::EACCES)),
        "setfsuid did not take away root's override"
    );
    state_fault_case(
        "EACCES",
        &state_file,
        || {},
        |rig| as_nobody(|| rig.run("on")),
        || {},
        "Permission denied",
    );
}

#[test]
fn state_directory_cannot_be_synced_after_the_rename() {
    // Mode 0333 (write and search, no read) as nobody: the temporary is
    // written and renamed, but the directory cannot be opened to sync it.
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let state_dir = dir.path().join("state");
    fs::create_dir(&state_dir).unwrap();
    fs::set_permissions(&state_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let state_file = state_dir.join("state.toml");
    let mut rig = Rig::new(&state_file);
    as_nobody(|| rig.ok("blink 2"));
    fs::set_permissions(&state_dir, fs::Permissions::from_mode(0o333)).unwrap();
    let reply = as_nobody(|| rig.run("on"));
    fs::set_permissions(&state_dir, fs::Permissions::from_mode(0o755)).unwrap();
    let Reply::Err(error) = reply else {
        panic!("the directory sync did not fail: {reply}");
    };
    assert_eq!(error.kind, ErrorKind::State, "{error}");
    assert!(
        error
            .message
            .contains("cannot sync the directory of state file"),
        "{error}"
    );
    rig.ok("status");
    // The new state is in place all the same: the file is whole and current.
    assert_eq!(rig.saved().leds["status"], Target::On { brightness: None });
}

#[test]
fn state_file_parent_is_a_file_enotdir() {
    // No old file can exist here: check the reply, the serving and the recovery.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("not-a-dir"), "x").unwrap();
    let state_file = dir.path().join("not-a-dir/state.toml");
    let mut rig = Rig::new(&state_file);
    let (kind, message) = rig.err("blink 2");
    assert_eq!(kind, ErrorKind::State, "{message}");
    assert!(message.contains("Not a directory"), "{message}");
    rig.ok("status");
    let (kind, _) = rig.err("on");
    assert_eq!(kind, ErrorKind::State);
    assert_eq!(
        fs::read_to_string(dir.path().join("not-a-dir")).unwrap(),
        "x"
    );
}

#[test]
fn state_temporary_link_is_replaced_not_followed() {
    // A link planted at the temporary path (here to /dev/full, which would
    // give ENOSPC if followed) is replaced: ledd never writes through it.
    // The real full disk is covered by the tmpfs test.
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.toml");
    let temporary = dir.path().join(".state.toml.tmp");
    let mut rig = Rig::new(&state_file);
    std::os::unix::fs::symlink("/dev/full", &temporary).unwrap();
    rig.ok("on");
    assert!(!temporary.exists(), "the temporary was left behind");
    let saved = ledd::state::SavedState::load(&state_file).unwrap();
    assert!(saved.leds.contains_key("status"), "{saved:?}");
}

#[test]
fn state_temporary_is_a_directory_eisdir() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.toml");
    let temporary = dir.path().join(".state.toml.tmp");
    state_fault_case(
        "EISDIR",
        &state_file,
        || fs::create_dir(&temporary).unwrap(),
        |rig| rig.run("on"),
        || fs::remove_dir(&temporary).unwrap(),
        "Is a directory",
    );
}

#[test]
fn state_file_replaced_by_a_directory_rename_fails() {
    // The rename over a non-empty directory fails: the "replace" step.
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.toml");
    let mut rig = Rig::new(&state_file);
    rig.ok("blink 2");
    fs::remove_file(&state_file).unwrap();
    fs::create_dir(&state_file).unwrap();
    fs::write(state_file.join("keep"), "x").unwrap();
    let (kind, message) = rig.err("on");
    assert_eq!(kind, ErrorKind::State, "{message}");
    assert!(message.contains("cannot replace state file"), "{message}");
    rig.ok("status");
    assert_eq!(fs::read_to_string(state_file.join("keep")).unwrap(), "x");
    assert!(
        !dir.path().join(".state.toml.tmp").exists(),
        "temporary left behind"
    );
}

/// A small tmpfs mounted for one test, unmounted when dropped. Needs root
/// with CAP_SYS_ADMIN: the tests using it are ignored unless run as root,
/// and as root a mount that fails fails the test.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        common::require_root();
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "ledd-test",
            ])
            .arg(dir.path())
            .status()
            .expect("running mount");
        assert!(
            status.success(),
            "cannot mount a tmpfs (needs CAP_SYS_ADMIN): {status}"
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
#[ignore = "needs root (run as root: cargo test -- --include-ignored; tests/run-all.sh does)"]
fn state_file_system_full_enospc_tmpfs() {
    let tmpfs = Tmpfs::mount("64k");
    let state_file = tmpfs.path().join("state.toml");
    let filler = tmpfs.path().join("filler");
    state_fault_case(
        "ENOSPC (tmpfs)",
        &state_file,
        || {
            // Fill every free block; the old state file keeps its own.
            use std::io::Write;
            let mut file = fs::File::create(&filler).unwrap();
            let block = [0u8; 4096];
            while file.write_all(&block).is_ok() {}
            assert!(file.write_all(b"x").is_err(), "the tmpfs is not full");
        },
        |rig| rig.run("on"),
        || fs::remove_file(&filler).unwrap(),
        "No space left on device",
    );
}

#[test]
#[ignore = "needs root (run as root: cargo test -- --include-ignored; tests/run-all.sh does)"]
fn state_file_system_read_only_erofs() {
    let tmpfs = Tmpfs::mount("1m");
    let state_file = tmpfs.path().join("state.toml");
    state_fault_case(
        "EROFS",
        &state_file,
        || tmpfs.remount("ro"),
        |rig| rig.run("on"),
        || tmpfs.remount("rw"),
        "Read-only file system",
    );
}

#[test]
fn after_a_failed_save_the_same_order_again_saves_it() {
    // The order changed the LED but was not saved: sending it again (what a
    // client does after an error) must save it, not find "nothing changed".
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.toml");
    let temporary = dir.path().join(".state.toml.tmp");
    let mut rig = Rig::new(&state_file);
    rig.ok("blink 2");
    fs::create_dir(&temporary).unwrap();
    assert_eq!(rig.err("on").0, ErrorKind::State);
    fs::remove_dir(&temporary).unwrap();
    rig.ok("on");
    assert_eq!(
        rig.saved().leds["status"],
        Target::On { brightness: None },
        "the state file still holds the order before the failed save"
    );
}

// ---------------------------------------------------------------------------
// A broken state file at start, with the real daemon (saving with every
// change, so that the next order's reply tells whether the save worked).

#[test]
fn a_truncated_or_broken_state_file_at_start_is_logged_and_ledd_serves() {
    let cases: [(&str, &[u8]); 5] = [
        ("truncated", b"[leds.status]\nmode = \"bl"),
        (
            "cut mid-table",
            b"[leds.status]\nmode = \"blink\"\ndelay_on = 12",
        ),
        ("binary", b"\x00\xff\xfe garbage \x01"),
        (
            "wrong type",
            b"[leds.status]\nmode = \"blink\"\ndelay_on = \"fast\"\ndelay_off = 1\n",
        ),
        ("unknown mode", b"[leds.status]\nmode = \"disco\"\n"),
    ];
    for (name, content) in cases {
        let mut ledd = common::Ledd::prepare("state_delay = 0");
        let state_file = ledd.dir.path().join("state.toml");
        fs::write(&state_file, content).unwrap();
        ledd.spawn(&[]);
        // ledd listens before it reads the state file: the first reply
        // proves the state file was read (and the warning written).
        assert!(ledd.order("version").starts_with("ok"), "{name}");
        let log = ledd.log_text();
        assert!(
            log.contains("state file") && log.contains("starting with no saved state"),
            "{name}: the broken state file is logged: {log}"
        );
        assert!(ledd.order("blink power 2").starts_with("ok"), "{name}");
        // The next change replaces the broken file with a good one.
        let saved = SavedState::load(&state_file).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(saved.leds.contains_key("power"), "{name}");
        assert!(!log.contains("panicked"), "{name}: {log}");
    }
}

#[test]
fn a_state_file_that_is_a_directory_or_names_unknown_leds_does_not_stop_ledd() {
    let mut ledd = common::Ledd::prepare("state_delay = 0");
    let state_file = ledd.dir.path().join("state.toml");
    fs::create_dir(&state_file).unwrap();
    ledd.spawn(&[]);
    assert!(ledd.order("version").starts_with("ok"));
    assert!(
        ledd.log_text().contains("cannot read state file"),
        "{}",
        ledd.log_text()
    );
    let reply = ledd.order("on power");
    assert!(
        reply.starts_with("err state: LED power was changed, but cannot "),
        "{reply}"
    );
    assert!(
        ledd.order("status power").contains("mode=on"),
        "the LED changed and ledd serves"
    );
    drop(ledd);

    let mut ledd = common::Ledd::prepare("state_delay = 0");
    let state_file = ledd.dir.path().join("state.toml");
    fs::write(
        &state_file,
        "[leds.gone]\nmode = \"heartbeat\"\n[leds.power]\nmode = \"pattern\"\nrepeat = -1\nsteps = [{ brightness = 999, duration_ms = 1 }, { brightness = 0, duration_ms = 1 }]\n",
    )
    .unwrap();
    ledd.spawn(&[]);
    assert!(ledd.order("version").starts_with("ok"));
    let log = ledd.log_text();
    assert!(
        log.contains("state file names LED gone, which is no longer configured"),
        "{log}"
    );
    assert!(log.contains("cannot restore LED power"), "{log}");
    assert!(ledd.order("blink power 2").starts_with("ok"));
}

#[test]
fn a_claim_that_ends_waits_for_udev_like_a_restore() {
    let dir = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(&dir.path().join("state.toml"));
    rig.ok("blink 2");
    rig.ok("pattern 1:100 0:100 for=1s");
    // Back to the timer trigger: its new delay files are refused until
    // udev hands them over, after two attempts.
    rig.arm_times("delay_on", libc_errno::EACCES, false, 2);
    let start = Instant::now() + Duration::from_secs(1);
    rig.engine.expire_claims(start);
    assert_eq!(restore_shown(&mut rig), restore("waiting", "permission"));
    let next = rig.engine.next_restore().expect("a retry is scheduled");
    let mut waits = vec![next - start];
    waits.extend(restore_until_settled(&mut rig, next));
    assert_eq!(waits, [5, 10].map(Duration::from_millis));
    let status = rig.ok("status");
    assert_eq!(
        field(&status, "delay_on").as_deref(),
        Some("250"),
        "{status}"
    );
    assert_eq!(field(&status, "shown").as_deref(), Some("base"));
    assert_eq!(field(&status, "restore"), None);
}
