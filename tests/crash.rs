//! Crash safety: the real ledd is killed with SIGKILL at random moments while
//! a client floods it with orders. After every kill the state file must
//! parse and hold, for each LED, a state some order actually asked for; the
//! restarted ledd must serve.
//!
//! The second test does the same with coalesced saves (`state_delay`,
//! `state_max_delay`): the file must hold a state that was actually ordered
//! and that was current no longer than `state_max_delay` before the kill.
//!
//! LEDD_CRASH_ITERATIONS (default 50 and 6) and LEDD_CRASH_SEED (default: the
//! clock) tune them; the seed is printed so a failure can be replayed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Ledd;
use ledd::led::Target;
use ledd::protocol::{Action, BlinkTiming, Order};
use ledd::state::SavedState;
use ledd_client::Connection;
use nix::sys::signal::Signal;

/// Stops adding iterations past this, so the test stays bounded on a slow machine.
const TIME_BUDGET: Duration = Duration::from_secs(90);

/// xorshift64*: enough randomness for kill moments, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What ledd saves for an order that changes an LED (the default LED is status).
fn saved_target(order: &Order) -> Option<(String, Target)> {
    let Order::Change(change) = order else {
        return None;
    };
    let led = change.led.as_deref().unwrap_or("status").to_string();
    let target = match &change.action {
        Action::Blink {
            freq_hz,
            duty_percent,
        } => {
            let timing = BlinkTiming::from_freq(*freq_hz, *duty_percent);
            Target::Blink {
                delay_on: timing.delay_on_ms,
                delay_off: timing.delay_off_ms,
            }
        }
        Action::On { brightness } => Target::On {
            brightness: *brightness,
        },
        Action::Off => Target::Off,
        _ => return None,
    };
    Some((led, target))
}

/// An order that changes an LED on the fake tree (blink, on and off always
/// succeed there), drawn so that most orders change the saved state.
fn random_order(rng: &mut Rng) -> String {
    let led = ["power", "status", ""][rng.below(3) as usize];
    match rng.below(5) {
        0 | 1 => format!("blink {led} {}", 1 + rng.below(400)),
        2 => format!("blink {led} {} {}", 1 + rng.below(50), 1 + rng.below(99)),
        3 => format!("on {led} {}", 1 + rng.below(255)),
        _ => format!("off {led}"),
    }
}

/// Sends orders until the connection breaks (ledd was killed); every order is
/// recorded before it is written, so the set holds everything ledd could have seen.
fn flood(
    socket: std::path::PathBuf,
    seed: u64,
    sent: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
) -> usize {
    let mut rng = Rng(seed | 1);
    let mut answered = 0;
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut connection) = Connection::connect(&socket, Duration::from_secs(10)) else {
            return answered;
        };
        // Pipelined batches: many orders in ledd's buffer when the kill comes.
        loop {
            let batch = 1 + rng.below(32) as usize;
            let orders: Vec<String> = (0..batch).map(|_| random_order(&mut rng)).collect();
            sent.lock().unwrap().extend(orders.iter().cloned());
            if connection.send_lines(&orders).is_err() {
                return answered;
            }
            for order in &orders {
                match connection.receive_line() {
                    Ok(reply) => {
                        assert!(reply.starts_with("ok "), "{order}: {reply}");
                        answered += 1;
                    }
                    Err(_) => return answered,
                }
            }
            if stop.load(Ordering::Relaxed) || rng.below(8) == 0 {
                break; // a new connection now and then
            }
        }
    }
    answered
}

/// LEDD_CRASH_ITERATIONS (or `default`) and LEDD_CRASH_SEED (or the clock),
/// the seed printed so that a failure can be replayed.
fn crash_settings(default: usize, test: &str) -> (usize, u64) {
    let iterations = std::env::var("LEDD_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    let seed = std::env::var("LEDD_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("{test}: LEDD_CRASH_SEED={seed}");
    (iterations, seed)
}

#[test]
fn sigkill_at_random_moments_never_breaks_the_state_file() {
    let (iterations, seed) = crash_settings(50, "crash test");
    let mut rng = Rng(seed | 1);

    // Saved with every change: a kill a few milliseconds into the flood
    // finds new files (the coalesced saves have their own test below).
    let mut ledd = Ledd::start("state_delay = 0");
    let state_file = ledd.dir.path().join("state.toml");
    // Every state ever ordered, per LED: the state file may hold any of them.
    let mut ordered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let started = Instant::now();
    let (mut done, mut total_sent, mut total_answered, mut saves_seen, mut temporaries) =
        (0, 0, 0, 0, 0);
    let mut last_state = SavedState::default();

    while done < iterations && started.elapsed() < TIME_BUDGET {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let flooder = {
            let (socket, sent, stop) = (ledd.socket.clone(), Arc::clone(&sent), Arc::clone(&stop));
            let seed = rng.next();
            std::thread::spawn(move || flood(socket, seed, sent, stop))
        };
        // Kill anywhere from at once to well into the flood.
        std::thread::sleep(Duration::from_micros(rng.below(150_000)));
        ledd.signal(Signal::SIGKILL);
        ledd.wait_exit();
        stop.store(true, Ordering::Relaxed);
        total_answered += flooder.join().expect("the flooding client failed");

        let sent = sent.lock().unwrap().clone();
        total_sent += sent.len();
        for line in &sent {
            let order = Order::parse(line).unwrap();
            if let Some((led, target)) = saved_target(&order) {
                ordered
                    .entry(led)
                    .or_default()
                    .insert(format!("{target:?}"));
            }
        }
        let state = SavedState::load(&state_file).unwrap_or_else(|error| {
            panic!(
                "iteration {done} (LEDD_CRASH_SEED={seed}): the state file does not parse after SIGKILL: {error}\n{}",
                std::fs::read_to_string(&state_file).unwrap_or_default()
            )
        });
        for (led, target) in &state.leds {
            let target = format!("{target:?}");
            assert!(
                ordered.get(led).is_some_and(|set| set.contains(&target)),
                "iteration {done} (LEDD_CRASH_SEED={seed}): LED {led} saved as {target}, which no order asked for"
            );
        }
        if state != last_state {
            saves_seen += 1;
            last_state = state;
        }
        if ledd.dir.path().join(".state.toml.tmp").exists() {
            temporaries += 1;
        }

        // The fake kernel replaces attribute files whole, as sysfs takes a
        // write whole: no torn file to mend. A new ledd takes over the stale socket, restores and serves.
        ledd.spawn(&[]);
        assert!(
            ledd.order("version").starts_with("ok version="),
            "iteration {done}"
        );
        assert!(
            ledd.order("status power").starts_with("ok led=power"),
            "iteration {done}"
        );
        done += 1;
    }
    let log = ledd.log_text();
    assert!(!log.contains("panicked"), "{log}");
    eprintln!(
        "crash test: {done} kills in {:.1} s, {total_sent} orders sent, {total_answered} answered, \
         {saves_seen} kills found a new state file, {temporaries} left a temporary file; \
         state file always parsed",
        started.elapsed().as_secs_f64()
    );
    assert!(
        done >= iterations.min(10),
        "only {done} iterations fit in the time budget"
    );
    assert!(
        saves_seen > 0,
        "no kill ever came after a save: the test proves nothing"
    );
}

/// The coalesced test's delays, in seconds (small, so that it is quick).
const STATE_DELAY: u64 = 1;
const STATE_MAX_DELAY: u64 = 2;
/// Timer lateness and the write itself, on a machine shared with other jobs.
const SLACK: Duration = Duration::from_secs(1);

/// One order as the client saw it: the line, and when its reply came (or
/// the kill, for an order written but never answered: ledd may have
/// carried it out all the same).
struct Sent {
    line: String,
    done_at: Instant,
}

/// A client like an automation: orders a few hundred milliseconds apart,
/// now and then a pause long enough for the quiet-period save, until the
/// connection breaks.
fn automation(
    socket: std::path::PathBuf,
    seed: u64,
    sent: Arc<Mutex<Vec<Sent>>>,
    stop: Arc<AtomicBool>,
) {
    let mut rng = Rng(seed | 1);
    let Ok(mut connection) = Connection::connect(&socket, Duration::from_secs(10)) else {
        return;
    };
    while !stop.load(Ordering::Relaxed) {
        let led = ["power", "status"][rng.below(2) as usize];
        let line = match rng.below(4) {
            0 => format!("on {led} {}", 1 + rng.below(255)),
            1 => format!("off {led}"),
            _ => format!("blink {led} {}", 1 + rng.below(400)),
        };
        // Recorded before it is written: a kill may come before the reply.
        let index = {
            let mut sent = sent.lock().unwrap();
            sent.push(Sent {
                line: line.clone(),
                done_at: Instant::now() + Duration::from_secs(3600),
            });
            sent.len() - 1
        };
        match connection.round_trip_line(&line) {
            Ok(reply) => {
                assert!(reply.starts_with("ok "), "{line}: {reply}");
                sent.lock().unwrap()[index].done_at = Instant::now();
            }
            Err(_) => return,
        }
        let pause = if rng.below(60) == 0 {
            1500 + rng.below(1000)
        } else {
            rng.below(250)
        };
        std::thread::sleep(Duration::from_millis(pause));
    }
}

#[test]
fn after_sigkill_a_coalesced_state_file_is_ordered_and_within_state_max_delay() {
    let (iterations, seed) = crash_settings(6, "coalesced crash test");
    let mut rng = Rng(seed | 1);
    let max_delay = Duration::from_secs(STATE_MAX_DELAY);

    let mut ledd = Ledd::start(&format!(
        "state_delay = {STATE_DELAY}\nstate_max_delay = {STATE_MAX_DELAY}"
    ));
    let state_file = ledd.dir.path().join("state.toml");
    // What the file held when this ledd started: it restored it, so it is
    // the ordered state before the iteration's first order.
    let mut on_disk = SavedState::default();
    let started = Instant::now();
    let (mut done, mut saves_seen, mut stale_possible) = (0, 0, 0);
    let mut oldest = Duration::ZERO;

    while done < iterations && started.elapsed() < TIME_BUDGET / 2 {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let client = {
            let (socket, sent, stop) = (ledd.socket.clone(), Arc::clone(&sent), Arc::clone(&stop));
            let seed = rng.next();
            std::thread::spawn(move || automation(socket, seed, sent, stop))
        };
        // Past state_max_delay most of the time, so the bound is what is tested.
        std::thread::sleep(Duration::from_millis(2000 + rng.below(5000)));
        let killed_at = Instant::now();
        ledd.signal(Signal::SIGKILL);
        ledd.wait_exit();
        stop.store(true, Ordering::Relaxed);
        client.join().expect("the client failed");

        let sent = std::mem::take(&mut *sent.lock().unwrap());
        let state = SavedState::load(&state_file).unwrap_or_else(|error| {
            panic!(
                "iteration {done} (LEDD_CRASH_SEED={seed}): the state file does not parse: {error}"
            )
        });
        // The ordered state after each prefix of the orders; the file must be
        // one of them (the latest that matches is the most favourable).
        let mut ordered = on_disk.clone();
        let mut matched = (state == ordered).then_some(0);
        for (k, order) in sent.iter().enumerate() {
            let order = Order::parse(&order.line).unwrap();
            if let Some((led, target)) = saved_target(&order) {
                ordered.leds.insert(led, target);
            }
            if state == ordered {
                matched = Some(k + 1);
            }
        }
        let Some(included) = matched else {
            panic!(
                "iteration {done} (LEDD_CRASH_SEED={seed}): the file holds a state no sequence of orders gave: {state:?}"
            );
        };
        // The first order the file does not include was carried out after
        // the save: the save came no earlier than that order's reply.
        if let Some(first_missing) = sent.get(included) {
            let done_at = first_missing.done_at.min(killed_at);
            let age = killed_at.duration_since(done_at);
            oldest = oldest.max(age);
            assert!(
                age <= max_delay + SLACK,
                "iteration {done} (LEDD_CRASH_SEED={seed}): the file misses '{}', carried out {age:?} before the kill: older than state_max_delay ({max_delay:?}) + {SLACK:?}",
                first_missing.line
            );
            if killed_at.duration_since(sent[0].done_at.min(killed_at)) > max_delay + SLACK {
                stale_possible += 1;
            }
        }
        if state != on_disk {
            saves_seen += 1;
        }
        on_disk = state;

        // The fake kernel replaces attribute files whole: nothing torn to mend.
        ledd.spawn(&[]);
        assert!(
            ledd.order("version").starts_with("ok version="),
            "iteration {done}"
        );
        done += 1;
    }
    let log = ledd.log_text();
    assert!(!log.contains("panicked"), "{log}");
    eprintln!(
        "coalesced crash test: {done} kills in {:.1} s, {saves_seen} found a new state file, \
         {stale_possible} ran past state_max_delay + slack, oldest missing order {oldest:?} before the kill",
        started.elapsed().as_secs_f64()
    );
    assert!(
        done >= iterations.min(4),
        "only {done} iterations fit in the time budget"
    );
    assert!(
        saves_seen > 0,
        "no save before any kill: the test proves nothing"
    );
    assert!(
        stale_possible > 0,
        "no iteration ran long enough for a stale file to be caught: the test proves nothing"
    );
}
