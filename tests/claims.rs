//! Claims against the real ledd on the fake LED tree: they end by
//! themselves with minimal writes, with their connection, survive a
//! SIGKILL and restart, and `ledctl hold` runs a command under one.

mod common;

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use common::Ledd;
use nix::sys::signal::Signal;

/// Waits (at most 5 s) until `check` holds.
fn eventually(what: &str, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(5), "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The fake kernel replaces a file it writes (new inode): an unchanged
/// `trigger` inode shows the timer trigger was not written again.
fn trigger_inode(ledd: &Ledd) -> u64 {
    std::fs::metadata(ledd.sysfs.join("ACT/trigger"))
        .unwrap()
        .ino()
}

#[test]
fn a_for_claim_ends_by_itself_and_only_the_delays_are_written() {
    let ledd = Ledd::start("");
    assert!(ledd.order("blink 2").starts_with("ok"));
    let inode = trigger_inode(&ledd);
    let reply = ledd.order("blink 5 for=300ms");
    assert!(reply.ends_with("claim=1 priority=5 for=300ms"), "{reply}");
    assert_eq!(ledd.read("ACT", "delay_on"), "100");
    eventually("back to the base", || ledd.read("ACT", "delay_on") == "250");
    assert_eq!(
        trigger_inode(&ledd),
        inode,
        "the timer trigger was written again"
    );
    assert!(ledd.order("status").ends_with("claims=0 shown=base"));
    assert!(ledd.log_text().contains("claim 1 on LED status expired"));
}

#[test]
fn a_hold_claim_ends_with_its_connection_and_is_not_idle() {
    let ledd = Ledd::start("idle_timeout = 1");
    ledd.order("off");
    let mut holder = ledd.connect();
    assert!(holder.send("blink 5 hold").contains("hold=yes"));
    assert_eq!(ledd.active_trigger("ACT"), "timer");
    // Silent past idle_timeout: the claim stays.
    std::thread::sleep(Duration::from_millis(1600));
    assert!(ledd.order("status").contains("claims=1 shown=claim"));
    drop(holder);
    eventually("off again", || ledd.active_trigger("ACT") == "none");
}

#[test]
fn a_hold_from_a_client_that_closes_at_once_is_refused() {
    let ledd = Ledd::start("");
    let mut client = ledd.connect();
    client.send_lines(&["blink 5 hold"]);
    client.stream.shutdown(std::net::Shutdown::Write).unwrap();
    let rest = client.rest_or_reset();
    // The order may be read before or with the end of the stream: either
    // it is refused, or it ends at once; the LED never stays claimed.
    assert!(
        rest.starts_with("err usage: hold lasts while") || rest.contains("hold=yes"),
        "{rest}"
    );
    eventually("no claim left", || {
        ledd.order("status").contains("claims=0")
    });
}

#[test]
fn a_for_claim_survives_a_sigkill_and_restart() {
    let mut ledd = Ledd::start("state_delay = 0");
    ledd.order("blink 2");
    assert!(ledd.order("blink 5 for=1h priority=7").contains("claim=1"));
    ledd.signal(Signal::SIGKILL);
    ledd.wait_exit();
    ledd.spawn(&[]);
    let status = ledd.order("status");
    assert!(status.contains("claims=1 shown=claim claim=1"), "{status}");
    assert_eq!(ledd.read("ACT", "delay_on"), "100");
    let claims = ledd.order("claims");
    assert!(
        claims.starts_with("ok count=1 live=1:status:7:"),
        "{claims}"
    );
    assert_eq!(ledd.order("release 1"), "ok released=1 remaining=0");
    assert_eq!(ledd.read("ACT", "delay_on"), "250");
}

#[test]
fn ledctl_hold_runs_a_command_under_a_claim() {
    let ledd = Ledd::start("");
    ledd.order("blink 2");
    let output = ledd.ledctl(&[
        "hold",
        "blink",
        "5",
        "--",
        "sh",
        "-c",
        "\"$1\" --socket \"$0\" status | grep -q 'shown: claim' && exit 3",
        ledd.socket.to_str().unwrap(),
        common::LEDCTL,
    ]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eventually("back to the base", || ledd.read("ACT", "delay_on") == "250");
    // A command killed by a signal: 128 + its number, as a shell says it.
    let output = ledd.ledctl(&["hold", "blink", "5", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(output.status.code(), Some(128 + 15));
    // A refused order runs nothing.
    let witness = ledd.dir.path().join("ran");
    let output = ledd.ledctl(&[
        "hold",
        "blink",
        "nosuch",
        "5",
        "--",
        "touch",
        witness.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(!witness.exists(), "the command ran");
    let output = ledd.ledctl(&["--for", "10s", "--priority", "8", "identify"]);
    assert!(output.status.success());
    let claims = String::from_utf8_lossy(&ledd.ledctl(&["claims"]).stdout).into_owned();
    assert!(
        claims.contains("on status: blink 5 for=10s priority=8 (priority 8,"),
        "{claims}"
    );
    let json = ledd.ledctl(&["--json", "claims"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["count"], 1);
    assert!(
        value["live"][0]
            .as_str()
            .unwrap_or("")
            .contains(":status:8:"),
        "{value}"
    );
    let output = ledd.ledctl(&["--priority", "8", "blink", "2"]);
    assert_eq!(output.status.code(), Some(2), "priority without a claim");
}

#[test]
fn morse_is_played_by_the_pattern_trigger() {
    let ledd = Ledd::start("");
    let reply = ledd.order("sos power for=10s");
    assert!(
        reply.contains("mode=pattern morse=SOS wpm=20 steps=18 repeat=-1"),
        "{reply}"
    );
    assert_eq!(ledd.active_trigger("PWR"), "pattern");
    // S: three 60 ms dots at full brightness, each held (a zero-length copy).
    assert!(
        ledd.read("PWR", "pattern").starts_with(
            "255 60 255 0 0 60 0 0 255 60 255 0 0 60 0 0 255 60 255 0 0 180 0 0 255 180"
        ),
        "{}",
        ledd.read("PWR", "pattern")
    );
    assert!(
        ledd.order("morse power a#b")
            .starts_with("err range: '#' has no Morse code")
    );
    let long = format!("morse power {}", "0".repeat(60));
    assert!(
        ledd.order(&long)
            .starts_with("err too-long: this text has 300 dots and dashes")
    );
    let output = ledd.ledctl(&["morse", "power", "hi", "there", "--wpm", "12"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "power: Morse code HI THERE at 12 wpm (repeat -1)\n"
    );
}

#[test]
fn breathe_fades_where_the_led_can_dim() {
    let ledd = Ledd::start("");
    let reply = ledd.order("breathe power 3s");
    assert_eq!(reply, "ok led=power device=PWR mode=breathe period=3s");
    assert_eq!(ledd.read("PWR", "pattern"), "0 1500 255 1500");
    assert_eq!(ledd.read("PWR", "repeat"), "-1");
    // The same breath again writes nothing.
    let pattern = std::fs::metadata(ledd.sysfs.join("PWR/pattern"))
        .unwrap()
        .ino();
    assert!(ledd.order("breathe power 3s").starts_with("ok"));
    assert_eq!(
        std::fs::metadata(ledd.sysfs.join("PWR/pattern"))
            .unwrap()
            .ino(),
        pattern
    );
    let reply = ledd.order("breathe");
    assert!(
        reply.starts_with("err range: LED status: device ACT has max_brightness 1"),
        "{reply}"
    );
}

#[test]
fn ledctl_hold_places_its_claim_again_when_ledd_restarts() {
    let mut ledd = Ledd::start("");
    ledd.order("blink 2");
    let mut hold = std::process::Command::new(common::LEDCTL)
        .arg("--socket")
        .arg(&ledd.socket)
        .args(["hold", "blink", "5", "--", "sleep", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // ledctl has the reply (it prints it) before ledd is killed: a kill
    // between the kernel write and the reply would be another story (the
    // claim refused for want of an answer, as ledctl then says).
    let mut placed = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(hold.stdout.take().unwrap()),
        &mut placed,
    )
    .unwrap();
    assert!(placed.contains("blinking at 5 Hz"), "{placed}");
    assert_eq!(ledd.read("ACT", "delay_on"), "100");
    ledd.signal(Signal::SIGKILL);
    ledd.wait_exit();
    // The kernel keeps blinking the claim; a new ledd knows nothing of it
    // (hold claims die with ledd) until ledctl places it again.
    ledd.kernel_write("ACT", "delay_on", "250");
    ledd.spawn(&[]);
    eventually("the claim placed again", || {
        ledd.order("status").contains("claims=1 shown=claim")
    });
    assert_eq!(ledd.read("ACT", "delay_on"), "100");
    hold.kill().unwrap();
    hold.wait().unwrap();
    eventually("the base again", || ledd.read("ACT", "delay_on") == "250");
}

/// Voluntary and involuntary context switches of every thread of `pid`.
fn context_switches(pid: i32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|task| std::fs::read_to_string(task.unwrap().path().join("status")).unwrap())
        .flat_map(|status| {
            status
                .lines()
                .filter(|line| line.contains("ctxt_switches:"))
                .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

#[test]
fn a_pending_claim_wakes_ledd_at_its_deadline_only() {
    let ledd = Ledd::start("state_delay = 0");
    ledd.order("blink 2");
    assert!(ledd.order("blink 5 for=1h").contains("claim=1"));
    assert!(ledd.order("blink power 5 for=3s").contains("claim=2"));
    // The memory trim 1 s after the last client leaves goes first.
    std::thread::sleep(Duration::from_millis(1500));
    let before = context_switches(ledd.pid());
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        context_switches(ledd.pid()),
        before,
        "woken with claims pending"
    );
    eventually("the 3 s claim ended", || {
        ledd.order("status power").contains("claims=0")
    });
}
