//! `watch`: the real ledd on the fake LED tree, watchers that read and one
//! that does not, and what a watcher at rest costs (nothing).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::Ledd;

/// A watcher: the raw socket, read line by line with a deadline.
struct Watcher {
    lines: BufReader<UnixStream>,
}

impl Watcher {
    fn new(ledd: &Ledd, order: &str) -> (Watcher, String) {
        let stream = UnixStream::connect(&ledd.socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (&stream)
            .write_all(format!("{order}\n").as_bytes())
            .unwrap();
        let mut watcher = Watcher {
            lines: BufReader::new(stream),
        };
        let reply = watcher.next();
        (watcher, reply)
    }

    fn next(&mut self) -> String {
        let mut line = String::new();
        self.lines
            .read_line(&mut line)
            .unwrap_or_else(|error| panic!("no line from ledd: {error}"));
        line.trim_end().to_string()
    }

    /// Nothing arrives within `wait`.
    fn quiet_for(&mut self, wait: Duration) -> bool {
        let stream = self.lines.get_ref();
        stream.set_read_timeout(Some(wait)).unwrap();
        let mut line = String::new();
        let quiet = match self.lines.read_line(&mut line) {
            Err(error) => matches!(
                error.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            Ok(_) => false,
        };
        self.lines
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(quiet, "unexpected line: {line}");
        quiet
    }
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn a_watcher_sees_the_state_then_each_change_once() {
    let ledd = Ledd::start("");
    let (mut watcher, reply) = Watcher::new(&ledd, "watch power");
    assert_eq!(reply, "ok watching=power");
    let first = watcher.next();
    assert!(first.starts_with("event led=power "), "{first}");
    assert_eq!(field(&first, "mode"), Some("off"));

    // Another client's order, twice: one event (the second changes nothing).
    assert!(ledd.order("blink power 2").starts_with("ok"));
    let event = watcher.next();
    assert_eq!(field(&event, "mode"), Some("blink"), "{event}");
    assert_eq!(field(&event, "delay_on"), Some("250"));
    // While the timer drives the LED its brightness flips: not an event.
    assert_eq!(field(&event, "brightness"), None, "{event}");
    assert!(ledd.order("blink power 2").starts_with("ok"));
    // An order to another LED: not this watcher's business.
    assert!(ledd.order("on status").starts_with("ok"));
    watcher.quiet_for(Duration::from_millis(300));

    // A claim starts, then ends by itself: two events, the base comes back.
    assert!(ledd.order("blink power 5 for=500ms").starts_with("ok"));
    let claimed = watcher.next();
    assert_eq!(field(&claimed, "freq"), Some("5"), "{claimed}");
    assert_eq!(field(&claimed, "shown"), Some("claim"));
    let back = watcher.next();
    assert_eq!(field(&back, "freq"), Some("2"), "{back}");
    assert_eq!(field(&back, "shown"), Some("base"));

    // A hold claim ends the moment its client goes.
    let mut holder = ledd.connect();
    assert!(holder.send("on power hold").starts_with("ok"));
    assert_eq!(field(&watcher.next(), "mode"), Some("on"));
    holder.close();
    assert_eq!(field(&watcher.next(), "mode"), Some("blink"));

    // The device goes away: a hot-unplug is an event too (at the next
    // order here; on a real kernel, its uevent: tests/kernel).
    std::fs::remove_dir_all(ledd.sysfs.join("PWR")).unwrap();
    assert!(ledd.order("off power").starts_with("err no-device"));
    let gone = watcher.next();
    assert_eq!(field(&gone, "exists"), Some("no"), "{gone}");
}

#[test]
fn watch_every_led_and_refuse_orders_on_the_stream() {
    let ledd = Ledd::start("");
    let (mut watcher, reply) = Watcher::new(&ledd, "watch");
    assert_eq!(reply, "ok watching=ghost,power,status");
    let mut leds: Vec<String> = (0..3)
        .map(|_| field(&watcher.next(), "led").unwrap().to_string())
        .collect();
    leds.sort();
    assert_eq!(leds, ["ghost", "power", "status"]);
    // The LED with no device is watched too, as unknown.
    (watcher.lines.get_ref()).write_all(b"blink 2\n").unwrap();
    let refused = watcher.next();
    assert!(
        refused.starts_with("err usage: this connection is watching"),
        "{refused}"
    );
    assert_eq!(
        ledd.order("watch nosuch"),
        "err unknown-led: no LED named 'nosuch' (configured: ghost, power, status)"
    );
    assert!(ledd.order("watch ../x").starts_with("err usage"));
}

#[test]
fn a_watcher_that_does_not_read_is_cut_off_and_nobody_waits_for_it() {
    // Each event of a blinking LED is a few hundred bytes: many changes fill
    // the watcher's socket buffer, then ledd's 64 KiB bound.
    let ledd = Ledd::start("rate_limit = 1000000");
    let stream = UnixStream::connect(&ledd.socket).unwrap();
    (&stream).write_all(b"watch power\n").unwrap();
    let mut client = ledd.connect();
    let started = Instant::now();
    let mut orders = 0;
    // (The log grows by a line per order: read it every 100 orders.)
    while orders % 100 != 0 || !ledd.log_text().contains("does not read its events") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still connected after {orders} changes"
        );
        let freq = 1 + orders % 400;
        let reply = client.send(&format!("blink power {freq}"));
        assert!(reply.starts_with("ok"), "{reply}");
        orders += 1;
        // Every order is answered at once, watcher or not.
    }
    println!("the watcher was cut off after {orders} changes");
    assert!(
        client.send("version").starts_with("ok"),
        "ledd serves on after cutting the watcher off"
    );
    // The watcher's end: what it had, then the close.
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = (&stream).read_to_end(&mut rest);
    assert!(rest.starts_with(b"ok watching=power\nevent "));
}

#[test]
fn a_watcher_at_rest_costs_no_wakeup_and_events_come_fast() {
    let ledd = Ledd::start("");
    assert!(ledd.order("blink power 2").starts_with("ok"));
    let (mut watcher, _) = Watcher::new(&ledd, "watch power");
    watcher.next();
    let switches = || {
        std::fs::read_to_string(format!("/proc/{}/status", ledd.pid()))
            .unwrap()
            .lines()
            .filter(|line| line.contains("ctxt_switches"))
            .map(|line| {
                line.split_whitespace()
                    .nth(1)
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum::<u64>()
    };
    // The state file's coalesced save and the memory trim after the first
    // client left are due within ~1.5 s: then nothing is.
    std::thread::sleep(Duration::from_secs(3));
    let before = switches();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(switches(), before, "ledd woke up with a watcher at rest");

    // From an order's reply to the watcher's event line.
    let mut client = ledd.connect();
    let mut latencies: Vec<Duration> = (0..200)
        .map(|i| {
            let sent = Instant::now();
            assert!(
                client
                    .send(&format!("blink power {}", 3 + i % 2))
                    .starts_with("ok")
            );
            watcher.next();
            sent.elapsed()
        })
        .collect();
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    println!("order to event (reply and event, one client): median {median:?}, p99 {p99:?}");
    assert!(median < Duration::from_millis(20), "median {median:?}");
}

#[test]
fn a_reload_that_moves_an_led_is_an_event() {
    let ledd = Ledd::start("");
    let (mut watcher, _) = Watcher::new(&ledd, "watch power");
    assert_eq!(field(&watcher.next(), "device"), Some("PWR"));
    // power now names the other device.
    let config = std::fs::read_to_string(&ledd.config).unwrap();
    std::fs::write(
        &ledd.config,
        config.replace("device = \"PWR\"", "device = \"ACT\""),
    )
    .unwrap();
    ledd.signal(nix::sys::signal::Signal::SIGHUP);
    let moved = watcher.next();
    assert_eq!(field(&moved, "device"), Some("ACT"), "{moved}");
}

#[test]
fn a_watch_of_every_led_follows_a_reload_that_adds_and_removes_leds() {
    let ledd = Ledd::start("");
    let (mut all, reply) = Watcher::new(&ledd, "watch");
    assert_eq!(reply, "ok watching=ghost,power,status");
    let (mut named, _) = Watcher::new(&ledd, "watch ghost");
    let first: Vec<String> = (0..3).map(|_| all.next()).collect();
    assert!(
        first.iter().all(|line| line.starts_with("event led=")),
        "{first:?}"
    );
    named.next();
    // The reload removes ghost and adds disk, a device plugged in meanwhile.
    common::add_fake_led(&ledd.sysfs, "DISK", 1);
    let config = std::fs::read_to_string(&ledd.config).unwrap();
    let config = config.replace(
        "[leds.ghost]\ndevice = \"nowhere\"\n",
        "[leds.disk]\ndevice = \"DISK\"\n",
    );
    std::fs::write(&ledd.config, config).unwrap();
    ledd.signal(nix::sys::signal::Signal::SIGHUP);

    let removed = all.next();
    assert_eq!(field(&removed, "led"), Some("ghost"), "{removed}");
    assert_eq!(field(&removed, "error"), Some("unknown-led"), "{removed}");
    let added = all.next();
    assert_eq!(field(&added, "led"), Some("disk"), "{added}");
    assert_eq!(field(&added, "exists"), Some("yes"), "{added}");
    assert_eq!(
        named.next(),
        removed,
        "the watcher that named ghost hears the same"
    );
    // disk is watched from now on; ghost is not, by the watch of every LED.
    let mut client = ledd.connect();
    assert!(client.send("on disk").starts_with("ok"));
    let changed = all.next();
    assert_eq!(field(&changed, "led"), Some("disk"), "{changed}");
    assert_eq!(field(&changed, "mode"), Some("on"), "{changed}");

    // ghost comes back: the watcher that named it hears of it, and the
    // watch of every LED gets it as a new LED.
    let config = std::fs::read_to_string(&ledd.config).unwrap();
    std::fs::write(
        &ledd.config,
        format!("{config}[leds.ghost]\ndevice = \"nowhere\"\n"),
    )
    .unwrap();
    ledd.signal(nix::sys::signal::Signal::SIGHUP);
    let back = all.next();
    assert_eq!(field(&back, "led"), Some("ghost"), "{back}");
    assert_eq!(field(&back, "error"), None, "{back}");
    assert_eq!(named.next(), back);
    all.quiet_for(Duration::from_millis(300));
}
