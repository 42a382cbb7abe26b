//! The real ledd binary on a temporary sysfs tree and socket, driven by raw
//! socket clients: every order, every error path, and the daemon's bounds.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use common::{Connection, Ledd};
use nix::sys::signal::Signal;

#[test]
fn seed_orders_work_with_the_default_led() {
    let ledd = Ledd::start("");
    assert_eq!(
        ledd.order("clignote 2"),
        "ok led=status device=ACT mode=blink freq=2 duty=50 delay_on=250 delay_off=250"
    );
    assert_eq!(ledd.active_trigger("ACT"), "timer");
    assert_eq!(ledd.read("ACT", "delay_on"), "250");
    assert_eq!(ledd.read("ACT", "delay_off"), "250");
    assert!(
        ledd.order("clignote 10")
            .starts_with("ok led=status device=ACT mode=blink freq=10")
    );
    assert_eq!(ledd.read("ACT", "delay_on"), "50");
    assert_eq!(ledd.order("eteindre"), "ok led=status device=ACT mode=off");
    assert_eq!(ledd.active_trigger("ACT"), "none");
    assert!(!ledd.sysfs.join("ACT/delay_on").exists());
    assert_eq!(
        ledd.order("allume"),
        "ok led=status device=ACT mode=on brightness=1"
    );
    assert_eq!(ledd.read("ACT", "brightness"), "1");
    assert_eq!(ledd.order("eteind"), "ok led=status device=ACT mode=off");
    assert_eq!(ledd.read("ACT", "brightness"), "0");
}

#[test]
fn a_new_blink_while_blinking_writes_only_the_delays() {
    let ledd = Ledd::start("");
    ledd.order("blink 5");
    // The fake kernel replaces a file it writes (new inode): an unchanged
    // inode shows `trigger` was not written again.
    let inode = |file: &str| {
        fs::metadata(ledd.sysfs.join("ACT").join(file))
            .unwrap()
            .ino()
    };
    let (trigger, delay_on) = (inode("trigger"), inode("delay_on"));
    assert!(
        ledd.order("blink 2")
            .starts_with("ok led=status device=ACT mode=blink freq=2")
    );
    assert_eq!(inode("trigger"), trigger, "timer was written again");
    assert_ne!(inode("delay_on"), delay_on, "delay_on was not written");
    assert_eq!(ledd.read("ACT", "delay_on"), "250");
    assert_eq!(ledd.read("ACT", "delay_off"), "250");
    // The same rate again writes nothing at all (the phase is kept).
    let before = fs::metadata(ledd.sysfs.join("ACT/delay_on"))
        .unwrap()
        .mtime_nsec();
    std::thread::sleep(Duration::from_millis(20));
    ledd.order("blink 2");
    let after = fs::metadata(ledd.sysfs.join("ACT/delay_on"))
        .unwrap()
        .mtime_nsec();
    assert_eq!(before, after);
}

#[test]
fn every_order_and_alias() {
    let ledd = Ledd::start("");
    let cases = [
        (
            "blink power 4 25",
            "ok led=power device=PWR mode=blink freq=3.984 duty=25.1 delay_on=63 delay_off=188",
        ),
        (
            "clignote power 3",
            "ok led=power device=PWR mode=blink freq=2.994 duty=50 delay_on=167 delay_off=167",
        ),
        ("on power", "ok led=power device=PWR mode=on brightness=255"),
        (
            "allume power 300",
            "ok led=power device=PWR mode=on requested=300 brightness=255 clamped=yes",
        ),
        (
            "on power 7",
            "ok led=power device=PWR mode=on requested=7 brightness=7",
        ),
        ("off power", "ok led=power device=PWR mode=off"),
        ("heartbeat power", "ok led=power device=PWR mode=heartbeat"),
        (
            "pattern power 255:100 0:100 repeat=3",
            "ok led=power device=PWR mode=pattern steps=2 repeat=3",
        ),
        (
            "trigger power oneshot",
            "ok led=power device=PWR mode=trigger trigger=oneshot",
        ),
        (
            "list",
            "ok leds=ghost,power,status default=status backend=sysfs state_file=pending",
        ),
        (
            "version",
            &format!("ok version={} protocol=1", env!("CARGO_PKG_VERSION")),
        ),
    ];
    for (order, reply) in cases {
        assert_eq!(ledd.order(order), reply, "{order}");
    }
    ledd.order("pattern power 255:100 0:50");
    assert_eq!(ledd.read("PWR", "pattern"), "255 100 255 0 0 50 0 0");
    assert_eq!(ledd.read("PWR", "repeat"), "-1");
    // status reads the kernel's files, not ledd's memory.
    ledd.kernel_write("PWR", "trigger", "timer");
    ledd.kernel_write("PWR", "delay_on", "100");
    ledd.kernel_write("PWR", "delay_off", "300");
    assert_eq!(
        ledd.order("status power"),
        "ok led=power device=PWR exists=yes mode=blink freq=2.5 duty=25 delay_on=100 delay_off=300 trigger=timer brightness=0 max_brightness=255 claims=0 shown=base"
    );
}

#[test]
fn every_error_path_gives_a_clear_err_and_changes_nothing() {
    let ledd = Ledd::start("");
    ledd.order("blink 2");
    let snapshot = |ledd: &Ledd| {
        ["trigger", "brightness", "delay_on", "delay_off"].map(|f| ledd.read("ACT", f))
    };
    let before = snapshot(&ledd);
    let cases = [
        (
            "blink 0",
            "err range: frequency 0 Hz is out of range (0.001 to 500)",
        ),
        (
            "blink -1",
            "err range: frequency -1 Hz is out of range (0.001 to 500)",
        ),
        (
            "blink inf",
            "err range: frequency 'inf' is not a finite number",
        ),
        (
            "blink NaN",
            "err range: frequency 'NaN' is not a finite number",
        ),
        (
            "blink 1e308",
            "err range: frequency 1e308 Hz is out of range (0.001 to 500)",
        ),
        (
            "blink 2 100",
            "err range: duty 100 % is out of range (1 to 99)",
        ),
        (
            "blink abc",
            "err usage: blink needs a frequency in Hz; usage: blink [LED] FREQ_HZ [DUTY_PERCENT]",
        ),
        (
            "blink nosuch 2",
            "err unknown-led: no LED named 'nosuch' (configured: ghost, power, status)",
        ),
        (
            "blink ../ACT 2",
            "err unknown-led: no LED named '../ACT' (configured: ghost, power, status)",
        ),
        (
            "off /etc",
            "err unknown-led: no LED named '/etc' (configured: ghost, power, status)",
        ),
        (
            "on 0",
            "err range: brightness 0 would turn the LED off; use 'off'",
        ),
        (
            "pattern 1:100",
            "err usage: a pattern needs at least 2 steps; usage: pattern [LED] BRIGHTNESS:MS BRIGHTNESS:MS ... [repeat=N]",
        ),
        (
            "pattern 2:100 0:100",
            "err range: LED status: pattern brightness 2 is above the device's max_brightness 1",
        ),
        (
            "dance",
            "err usage: unknown order 'dance'; orders: blink, on, off, heartbeat, pattern, trigger, identify, morse, sos, breathe, status, list, version, claims, release, watch",
        ),
        (
            "",
            "err usage: empty order; try: blink 2, off, status, list",
        ),
        (
            "trigger mmc0",
            "err no-trigger: LED status (device ACT) does not offer the trigger 'mmc0'; the kernel or the driver providing it does not offer it to this LED; available: none timer heartbeat pattern oneshot",
        ),
    ];
    for (order, reply) in cases {
        assert_eq!(ledd.order(order), reply, "{order}");
    }
    let reply = ledd.order("blink ghost 2");
    assert!(
        reply.starts_with("err no-device: LED ghost has no device: none of nowhere exists under "),
        "{reply}"
    );
    assert_eq!(
        ledd.order("status ghost"),
        "ok led=ghost device=nowhere exists=no mode=unknown claims=0 shown=base"
    );
    // NUL and control characters come back escaped, on one line.
    assert_eq!(
        ledd.order("off a\u{0}b\u{7}"),
        "err unknown-led: no LED named 'a\\0b\\u{7}' (configured: ghost, power, status)"
    );
    let mut connection = ledd.connect();
    connection.stream.write_all(b"blink \xff\xfe 2\n").unwrap();
    assert_eq!(
        connection.receive(),
        "err usage: an order must be UTF-8 text"
    );
    assert_eq!(snapshot(&ledd), before, "bad orders changed the LED");
    assert!(
        ledd.order("status").contains("mode=blink freq=2"),
        "ledd still serves"
    );
    // Nothing was written outside the tree.
    assert!(!ledd.dir.path().join("trigger").exists());
}

#[test]
fn missing_trigger_names_the_module() {
    let ledd = Ledd::start("");
    fs::write(ledd.sysfs.join("ACT/trigger"), "[none] timer\n").unwrap();
    let reply = ledd.order("pattern 1:100 0:100");
    assert!(reply.starts_with("err no-trigger: LED status (device ACT) does not offer the trigger 'pattern'; is the kernel module ledtrig-pattern loaded?"), "{reply}");
    assert!(ledd.order("heartbeat").contains("ledtrig-heartbeat"));
}

#[test]
fn hot_unplug_gives_an_error_not_a_crash() {
    let ledd = Ledd::start("");
    assert!(ledd.order("blink 2").starts_with("ok"));
    fs::remove_dir_all(ledd.sysfs.join("ACT")).unwrap();
    let reply = ledd.order("blink 3");
    assert!(
        reply.starts_with(
            "err no-device: LED status has no device: none of ledd:green:status, ACT exists"
        ),
        "{reply}"
    );
    assert_eq!(
        ledd.order("status"),
        "ok led=status device=ledd:green:status,ACT exists=no mode=unknown claims=0 shown=base"
    );
    // The preferred device appears: ledd uses it at once.
    common::add_fake_led(&ledd.sysfs, "ledd:green:status", 1);
    assert!(
        ledd.order("blink 3")
            .starts_with("ok led=status device=ledd:green:status")
    );
    assert!(ledd.order("version").starts_with("ok"));
}

#[test]
fn state_is_saved_and_restored_without_disturbing_a_matching_led() {
    // Saved with each change, as before coalescing: the kill comes at once.
    let mut ledd = Ledd::start("state_delay = 0");
    ledd.order("blink 4");
    ledd.order("on power 9");
    let state = fs::read_to_string(ledd.dir.path().join("state.toml")).unwrap();
    assert!(
        state.contains("[leds.status]\nmode = \"blink\"\ndelay_on = 125\ndelay_off = 125"),
        "{state}"
    );
    ledd.signal(Signal::SIGKILL);
    ledd.wait_exit();
    // The kernel still blinks status; power was turned off behind ledd's back.
    let trigger_file = ledd.sysfs.join("ACT/trigger");
    let inode = || fs::metadata(&trigger_file).unwrap().ino();
    let trigger = inode();
    ledd.kernel_write("PWR", "brightness", "0");
    ledd.spawn(&[]);
    assert_eq!(inode(), trigger, "restore re-wrote a matching blink");
    assert_eq!(
        ledd.read("PWR", "brightness"),
        "9",
        "restore re-applied power"
    );
    assert!(
        ledd.log_text()
            .contains("LED status already blinking 125/125 ms: left as it is")
    );
    assert!(
        ledd.log_text().contains("stale socket"),
        "the killed ledd's socket was replaced"
    );
}

#[test]
fn restore_false_leaves_leds_alone() {
    let mut ledd = Ledd::start("restore = false");
    ledd.order("on power 9");
    ledd.signal(Signal::SIGTERM);
    assert_eq!(ledd.wait_exit(), 0);
    ledd.kernel_write("PWR", "brightness", "0");
    ledd.spawn(&[]);
    assert_eq!(ledd.read("PWR", "brightness"), "0");
}

#[test]
fn sigterm_removes_the_socket_and_on_exit_off_darkens_the_leds() {
    let mut ledd = Ledd::start("on_exit = \"off\"");
    ledd.order("on power 5");
    ledd.signal(Signal::SIGTERM);
    assert_eq!(ledd.wait_exit(), 0);
    assert!(!ledd.socket.exists(), "socket left behind");
    assert_eq!(ledd.read("PWR", "brightness"), "0");

    let mut keep = Ledd::start("");
    keep.order("on power 5");
    keep.signal(Signal::SIGINT);
    assert_eq!(keep.wait_exit(), 0);
    assert!(!keep.socket.exists());
    assert_eq!(
        keep.read("PWR", "brightness"),
        "5",
        "on_exit = keep must keep"
    );
}

#[test]
fn a_second_ledd_is_refused_and_a_stale_socket_replaced() {
    let ledd = Ledd::start("");
    let second = ledd.command(&[]).output().unwrap();
    assert_eq!(second.status.code(), Some(3));
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(
        message.contains("another ledd is already running on"),
        "{message}"
    );
    assert!(
        ledd.order("version").starts_with("ok"),
        "the first one still serves"
    );

    // A file that is not a socket is never removed.
    let mut other = Ledd::prepare("");
    fs::write(&other.socket, "precious").unwrap();
    let refused = other.command(&[]).output().unwrap();
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("exists and is not a socket"));
    assert_eq!(fs::read_to_string(&other.socket).unwrap(), "precious");

    // A socket nobody listens on is stale: replaced.
    fs::remove_file(&other.socket).unwrap();
    drop(UnixListener::bind(&other.socket).unwrap());
    other.spawn(&[]);
    assert!(other.order("version").starts_with("ok"));
}

#[test]
#[ignore = "needs root (run as root: cargo test -- --include-ignored; tests/run-all.sh does)"]
fn socket_mode_and_group_are_applied() {
    common::require_root();
    let ledd = Ledd::start("socket_mode = \"0600\"\nsocket_group = \"root\"");
    let metadata = fs::metadata(&ledd.socket).unwrap();
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    assert_eq!(metadata.gid(), 0);
    let default = Ledd::start("");
    assert_eq!(
        fs::metadata(&default.socket).unwrap().permissions().mode() & 0o777,
        0o660
    );

    let bad = Ledd::prepare("socket_group = \"no-such-group-here\"");
    let output = bad.command(&[]).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("socket_group 'no-such-group-here' does not exist")
    );
}

#[test]
fn sighup_reloads_a_good_config_and_keeps_the_old_one_on_a_broken_one() {
    let mut ledd = Ledd::start("");
    let text = fs::read_to_string(&ledd.config).unwrap();
    fs::write(
        &ledd.config,
        text.replace(
            "[leds.ghost]\ndevice = \"nowhere\"\n",
            "[leds.extra]\ndevice = \"PWR\"\n",
        ),
    )
    .unwrap();
    ledd.signal(Signal::SIGHUP);
    wait_for(|| ledd.order("list").contains("leds=extra,power,status"));
    fs::write(&ledd.config, "this is = = not toml").unwrap();
    ledd.signal(Signal::SIGHUP);
    wait_for(|| {
        ledd.log_text()
            .contains("reload failed, keeping the running configuration")
    });
    assert!(ledd.order("list").contains("leds=extra,power,status"));
    assert!(
        ledd.order("blink extra 2")
            .starts_with("ok led=extra device=PWR")
    );
    let log = ledd.log_text();
    assert!(
        log.contains("ledd.toml:1"),
        "the error names the file and line: {log}"
    );
    ledd.signal(Signal::SIGTERM);
    assert_eq!(ledd.wait_exit(), 0);
}

#[test]
fn the_log_level_is_switched_by_the_key_on_reload_and_by_the_option() {
    // debug: every order is logged, queries and refused orders too.
    let mut ledd = Ledd::start("log_level = \"debug\"");
    assert!(ledd.order("version").starts_with("ok version="));
    assert!(ledd.order("frobnicate").starts_with("err usage"));
    let log = ledd.log_text();
    for order in ["version", "frobnicate"] {
        let line = format!("ledd: debug: order '{order}' from uid=");
        assert!(log.contains(&line), "{line} in {log}");
    }
    // warn, after a reload: neither queries nor changes are logged.
    let text = fs::read_to_string(&ledd.config).unwrap();
    let text = text.replace("debug", "warn").replace(
        "[leds.ghost]\ndevice = \"nowhere\"\n",
        "[leds.extra]\ndevice = \"PWR\"\n",
    );
    fs::write(&ledd.config, text).unwrap();
    ledd.signal(Signal::SIGHUP);
    wait_for(|| ledd.order("list").contains("leds=extra,power,status"));
    let before = ledd.log_text().len();
    assert!(ledd.order("blink 2").starts_with("ok led=status"));
    ledd.signal(Signal::SIGTERM);
    assert_eq!(ledd.wait_exit(), 0);
    assert_eq!(&ledd.log_text()[before..], "", "nothing below warn");

    // --log-level overrides the key.
    let mut ledd = Ledd::prepare("log_level = \"debug\"");
    ledd.spawn(&["--log-level", "warn"]);
    assert!(ledd.order("version").starts_with("ok version="));
    assert!(ledd.order("blink 2").starts_with("ok led=status"));
    let log = ledd.log_text();
    let quiet = !log.contains(": info: ") && !log.contains(": debug: ");
    assert!(quiet && log.contains("ledd: warning: LED ghost"), "{log}");
    let refused = ledd.command(&["--log-level", "loud"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
}

/// Context switches of a process so far: each one is a wakeup.
fn wakeups(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("ctxt_switches"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

#[test]
fn coalesced_saves_come_when_orders_stop_and_at_stop_then_ledd_sleeps() {
    let mut ledd = Ledd::start("");
    let state_file = ledd.dir.path().join("state.toml");
    let ordered = Instant::now();
    for order in ["blink 4", "on", "blink 4"] {
        assert!(ledd.order(order).starts_with("ok"), "{order}");
    }
    assert!(!state_file.exists(), "written before the orders stopped");
    assert!(ledd.order("list").ends_with("state_file=pending"));
    wait_for(|| state_file.exists());
    let quiet = ordered.elapsed();
    assert!(
        quiet >= Duration::from_millis(1200),
        "saved {quiet:?} after the orders, before the quiet period"
    );
    let state = fs::read_to_string(&state_file).unwrap();
    assert!(
        state.contains("[leds.status]\nmode = \"blink\"\ndelay_on = 125"),
        "{state}"
    );
    assert!(ledd.order("list").ends_with("state_file=saved"));
    // Nothing unsaved: no save timer. After the memory trim that follows the
    // last client (1 s), ledd does not wake up at all.
    std::thread::sleep(Duration::from_millis(1500));
    let before = wakeups(ledd.pid());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(wakeups(ledd.pid()), before, "ledd woke up at rest");

    // A change still pending at SIGTERM is written before ledd goes.
    ledd.order("on power 7");
    ledd.signal(Signal::SIGTERM);
    assert_eq!(ledd.wait_exit(), 0);
    let state = fs::read_to_string(&state_file).unwrap();
    assert!(
        state.contains("[leds.power]\nmode = \"on\"\nbrightness = 7"),
        "{state}"
    );

    // on_exit = "off": the LEDs turned off at stop are what the file holds.
    let mut off = Ledd::start("on_exit = \"off\"");
    off.order("blink power 2");
    off.order("on 1");
    off.signal(Signal::SIGTERM);
    assert_eq!(off.wait_exit(), 0);
    let saved = ledd::state::SavedState::load(&off.dir.path().join("state.toml")).unwrap();
    assert_eq!(saved.leds.get("power"), Some(&ledd::led::Target::Off));
    assert_eq!(saved.leds.get("status"), Some(&ledd::led::Target::Off));
}

#[test]
fn a_reload_writes_pending_changes_before_taking_the_new_configuration() {
    // A quiet period of a minute: only the reload can write the file now.
    let ledd = Ledd::start("state_delay = 60\nstate_max_delay = 600");
    let state_file = ledd.dir.path().join("state.toml");
    assert!(ledd.order("on power 4").starts_with("ok"));
    assert!(ledd.order("list").ends_with("state_file=pending"));
    ledd.signal(Signal::SIGHUP);
    wait_for(|| ledd.log_text().contains("configuration reloaded"));
    let state = fs::read_to_string(&state_file).unwrap();
    assert!(state.contains("brightness = 4"), "{state}");
    assert!(ledd.order("list").ends_with("state_file=saved"));
}

#[test]
fn a_failed_coalesced_save_is_logged_shown_in_list_and_retried() {
    let mut ledd = Ledd::start("state_max_delay = 2");
    let state_file = ledd.dir.path().join("state.toml");
    // A directory where the temporary file goes: the write fails with EISDIR.
    let obstacle = ledd.dir.path().join(".state.toml.tmp");
    fs::create_dir(&obstacle).unwrap();
    assert!(ledd.order("blink 4").starts_with("ok"), "answered at once");
    wait_for(|| ledd.order("list").ends_with("state_file=failing"));
    let log = ledd.log_text();
    assert!(
        log.contains(&format!(
            "cannot write state file {}: Is a directory (os error 21); the LEDs' states are kept in memory and the save is retried every 2 s",
            state_file.display()
        )),
        "{log}"
    );
    assert!(!state_file.exists());
    // Orders keep working meanwhile; once the fault is gone, the retry saves.
    assert!(ledd.order("on power 3").starts_with("ok"));
    fs::remove_dir(&obstacle).unwrap();
    wait_for(|| ledd.order("list").ends_with("state_file=saved"));
    let state = fs::read_to_string(&state_file).unwrap();
    assert!(
        state.contains("delay_on = 125") && state.contains("brightness = 3"),
        "{state}"
    );
    assert!(ledd.log_text().contains("saved again"));
    assert_eq!(
        ledd.log_text().matches("cannot write state file").count(),
        1,
        "the same failure is logged once, not at every retry"
    );
    ledd.signal(Signal::SIGTERM);
    assert_eq!(ledd.wait_exit(), 0);
}

fn wait_for(mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "condition never became true"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn many_orders_per_connection_and_pipelining_without_reading() {
    let ledd = Ledd::start("");
    let mut connection = ledd.connect();
    for rate in 1..=20 {
        assert!(
            connection
                .send(&format!("blink power {rate}"))
                .starts_with("ok")
        );
    }
    // 20,000 orders written before reading a single reply: every reply comes, in order.
    let count = 20_000;
    let writer_stream = connection.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut stream = writer_stream;
        for i in 0..count {
            let order = if i % 2 == 0 {
                "version\n"
            } else {
                "status power\n"
            };
            stream.write_all(order.as_bytes()).unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    // Meanwhile other clients are served.
    assert!(ledd.order("list").starts_with("ok"));
    for i in 0..count {
        let reply = connection.receive();
        let expected = if i % 2 == 0 {
            "ok version="
        } else {
            "ok led=power"
        };
        assert!(reply.starts_with(expected), "reply {i}: {reply}");
    }
    writer.join().unwrap();
}

#[test]
fn a_pipelined_burst_is_answered_whole_across_turns() {
    // More orders in one write than one turn handles (64), and replies too
    // small to fill the socket: nothing but ledd's own turns moves them on.
    let ledd = Ledd::start("");
    let mut connection = ledd.connect();
    let burst = "version\n".repeat(64 * 5 + 7);
    connection.stream.write_all(burst.as_bytes()).unwrap();
    for i in 0..64 * 5 + 7 {
        let reply = connection.receive();
        assert!(reply.starts_with("ok version="), "reply {i}: {reply}");
    }
    connection.close();
}

#[test]
fn an_endless_line_is_refused_and_others_are_served() {
    let ledd = Ledd::start("");
    let mut connection = ledd.connect();
    let stream = connection.stream.try_clone().unwrap();
    let flood = std::thread::spawn(move || {
        let mut stream = stream;
        let chunk = [b'x'; 8192];
        let mut sent = 0usize;
        // Keeps writing until ledd closes the connection.
        while sent < 64 << 20 && stream.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        sent
    });
    let reply = connection.receive();
    assert_eq!(
        reply,
        "err too-long: an order is at most 4096 bytes; closing the connection"
    );
    assert_eq!(connection.rest_or_reset(), "");
    let sent = flood.join().unwrap();
    assert!(sent < 64 << 20, "ledd kept reading an endless line");
    assert!(ledd.order("version").starts_with("ok"));
}

#[test]
fn a_silent_client_is_closed_after_the_idle_timeout() {
    let ledd = Ledd::start("idle_timeout = 1");
    let mut silent = ledd.connect();
    let start = Instant::now();
    assert!(
        ledd.order("version").starts_with("ok"),
        "others are served meanwhile"
    );
    assert_eq!(silent.rest(), "");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[test]
fn five_hundred_concurrent_clients() {
    // All from this test's uid: past the per-user cap's default of 64.
    let ledd = Ledd::start("max_connections_per_user = 500");
    let connections: Vec<Connection> = (0..500).map(|_| ledd.connect()).collect();
    let threads: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(i, mut connection)| {
            std::thread::spawn(move || {
                let reply = connection.send(&format!("blink power {}", 1 + i % 50));
                assert!(reply.starts_with("ok led=power"), "{reply}");
                assert!(connection.send("status power").starts_with("ok led=power"));
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(ledd.order("version").starts_with("ok"));
}

#[test]
fn a_user_reconnecting_at_once_is_never_refused_for_connections_it_closed() {
    // 16 clients of one user, one connection per order, with a cap of 16:
    // each has at most one connection open, so any refusal counts
    // connections the user already closed that ledd had not noticed yet.
    let ledd = Ledd::start("max_connections_per_user = 16\nrate_limit = 100000");
    let socket = ledd.socket.clone();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                for n in 0..150 {
                    let mut connection = Connection::new(&socket);
                    let reply = connection.send(&format!("blink power {}", 1 + (i + n) % 50));
                    assert!(
                        reply.starts_with("ok led=power"),
                        "client {i}, order {n}: {reply}"
                    );
                    // Gone at once, as ledctl or the web page goes: no wait for ledd.
                    drop(connection);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(
        !ledd.log_text().contains("max_connections_per_user"),
        "{}",
        ledd.log_text()
    );
}

/// `count` connections, each proved accepted by one round trip.
fn hold(ledd: &Ledd, count: usize) -> Vec<Connection> {
    let mut held: Vec<Connection> = (0..count).map(|_| ledd.connect()).collect();
    for connection in &mut held {
        assert!(connection.send("version").starts_with("ok version="));
    }
    held
}

#[test]
fn at_the_limit_the_longest_idle_connection_makes_room() {
    // The start-up probe has read to the end (see common::probe): only the
    // connections below count. One round trip on each proves ledd accepted
    // it, and orders them from the longest idle to the most recent.
    let ledd = Ledd::start("max_connections = 3");
    let mut held = hold(&ledd, 3);
    // The newcomer is served; the first connection, silent the longest, is
    // told why and closed.
    let mut newcomer = ledd.connect();
    assert!(newcomer.send("version").starts_with("ok version="));
    let mut oldest = held.remove(0);
    assert_eq!(
        oldest.rest(),
        "err busy: closing this connection, the longest idle, to admit a new one (max_connections = 3)\n"
    );
    // Activity keeps a connection: the next one out is the one silent since.
    assert!(held[0].send("status").starts_with("ok led=status"));
    let mut another = ledd.connect();
    assert!(another.send("version").starts_with("ok version="));
    assert!(
        held.remove(1)
            .rest()
            .starts_with("err busy: closing this connection")
    );
    for connection in held.into_iter().chain([newcomer, another]) {
        connection.close();
    }
    assert!(ledd.order("version").starts_with("ok version="));
}

#[test]
fn a_users_connections_past_its_cap_are_refused() {
    let ledd = Ledd::start("max_connections_per_user = 2");
    let mut held = hold(&ledd, 2);
    let uid = nix::unistd::getuid();
    assert_eq!(
        ledd.connect().rest(),
        format!(
            "err busy: too many connections for uid {uid} (max_connections_per_user = 2); close some and try again\n"
        )
    );
    held.pop().unwrap().close();
    let mut again = ledd.connect();
    assert!(again.send("version").starts_with("ok version="));
    for connection in held.into_iter().chain([again]) {
        connection.close();
    }
}

#[test]
fn last_line_without_newline_and_crlf_are_answered() {
    let ledd = Ledd::start("");
    let mut stream = UnixStream::connect(&ledd.socket).unwrap();
    stream.write_all(b"version\r\nstatus power").unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut replies = String::new();
    stream.read_to_string(&mut replies).unwrap();
    let lines: Vec<&str> = replies.lines().collect();
    assert_eq!(lines.len(), 2, "{replies}");
    assert!(lines[0].starts_with("ok version=") && lines[1].starts_with("ok led=power"));
}

#[test]
fn random_garbage_never_stops_the_daemon() {
    use proptest::prelude::*;
    let ledd = Ledd::start("");
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(300));
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..300), |bytes| {
            let mut stream = UnixStream::connect(&ledd.socket).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            stream.write_all(&bytes).unwrap();
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            // ledd answers and then closes: a timeout here is a failure.
            let mut replies = Vec::new();
            let read = stream.read_to_end(&mut replies);
            prop_assert!(read.is_ok(), "no end of reply: {:?}", read);
            // Anything but blank lines is an order (or garbage) and gets a reply.
            let blank = bytes.iter().all(|b| b" \t\r\n".contains(b));
            prop_assert!(blank || !replies.is_empty(), "no reply to {:?}", bytes);
            for line in String::from_utf8_lossy(&replies).lines() {
                prop_assert!(
                    line.starts_with("ok") || line.starts_with("err "),
                    "{}",
                    line
                );
            }
            Ok(())
        })
        .unwrap();
    assert!(ledd.order("version").starts_with("ok"));
    let log = ledd.log_text();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn simulated_backend_follows_kernel_semantics_over_the_socket() {
    let ledd = Ledd::start_simulated("");
    assert_eq!(
        ledd.order("list"),
        "ok leds=ghost,power,status default=status backend=simulated state_file=saved"
    );
    assert!(ledd.log_text().contains("SIMULATED LEDs"));
    ledd.order("blink 10");
    // Sampling the simulated LED shows it toggling on its own.
    let mut levels = std::collections::BTreeSet::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(500) && levels.len() < 2 {
        let status = ledd.order("status");
        levels.insert(status.contains(" brightness=1 "));
        std::thread::sleep(Duration::from_millis(7));
    }
    assert_eq!(levels.len(), 2, "the simulated LED did not blink");
    assert!(
        ledd.order("status")
            .contains("mode=blink freq=10 duty=50 delay_on=50 delay_off=50 trigger=timer")
    );
    assert!(ledd.order("trigger mmc0").starts_with("err no-trigger"));
}
