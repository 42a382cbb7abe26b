//! Soak: 32 client threads send mixed valid and invalid orders to the real
//! ledd, connecting and disconnecting in every way a client can, for
//! LEDD_SOAK_SECS seconds (default 30). ledd must not crash, must answer
//! every valid order `ok` and every invalid one `err`, and must end with the
//! resident memory and open descriptors it had after a warm-up (within 10 %,
//! and not one descriptor more).
//!
//! Ignored by default (it takes minutes): run it with tests/soak/run.sh SECONDS.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Ledd;
use ledd_client::Connection;
use nix::sys::signal::Signal;

const CLIENTS: usize = 32;

/// Orders that always succeed on the fake sysfs tree (tests/fakeleds).
const VALID: [&str; 16] = [
    "blink 2",
    "clignote 3",
    "blink power 5 25",
    "blink status 0.5",
    "on",
    "allume power 200",
    "on power 7",
    "off",
    "eteindre",
    "off power",
    "status",
    "status power",
    "status ghost",
    "list",
    "version",
    "CLIGNOTE power 10",
];

/// Orders ledd must refuse with `err KIND: ...`.
const INVALID: [(&str, &str); 12] = [
    ("blink 0", "range"),
    ("blink 2 100", "range"),
    ("blink inf", "range"),
    ("on 0", "range"),
    ("dance", "usage"),
    ("", "usage"),
    ("blink", "usage"),
    ("pattern 1:100", "usage"),
    ("blink nosuch 2", "unknown-led"),
    ("off /etc/passwd", "unknown-led"),
    ("blink ghost 2", "no-device"),
    ("trigger power mmc0", "no-trigger"),
];

#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    refused: AtomicU64,
    connections: AtomicU64,
    failures: Mutex<Vec<String>>,
}

impl Counters {
    fn fail(&self, message: String) {
        let mut failures = self.failures.lock().unwrap();
        if failures.len() < 20 {
            failures.push(message);
        }
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// An order and what its reply must start with.
fn pick(rng: &mut Rng) -> (String, String) {
    if rng.below(3) == 0 {
        let (order, kind) = INVALID[rng.below(INVALID.len() as u64) as usize];
        (order.to_string(), format!("err {kind}: "))
    } else {
        let order = VALID[rng.below(VALID.len() as u64) as usize];
        (order.to_string(), "ok ".to_string())
    }
}

fn connect(socket: &std::path::Path) -> Option<Connection> {
    Connection::connect(socket, Duration::from_secs(20)).ok()
}

/// Sends `orders` (pipelined) and checks each reply.
fn exchange(stream: &mut Connection, orders: &[(String, String)], counters: &Counters) -> bool {
    let lines: Vec<&str> = orders.iter().map(|(o, _)| o.as_str()).collect();
    if let Err(error) = stream.send_lines(&lines) {
        counters.fail(format!("write failed: {error}"));
        return false;
    }
    for (order, expected) in orders {
        let reply = match stream.receive_line() {
            Ok(reply) => reply,
            Err(error) => {
                counters.fail(format!("{order:?}: no reply ({error})"));
                return false;
            }
        };
        if reply.starts_with(expected.as_str()) {
            if expected == "ok " {
                counters.ok.fetch_add(1, Ordering::Relaxed);
            } else {
                counters.refused.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            counters.fail(format!(
                "{order:?}: expected {expected:?}..., got {reply:?}"
            ));
        }
    }
    true
}

/// One client thread: a random way of using a connection, again and again.
fn client(socket: std::path::PathBuf, seed: u64, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    let mut rng = Rng(seed | 1);
    while !stop.load(Ordering::Relaxed) {
        let Some(mut stream) = connect(&socket) else {
            counters.fail("cannot connect".into());
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        counters.connections.fetch_add(1, Ordering::Relaxed);
        match rng.below(10) {
            // One order per connection, like ledctl.
            0..=2 => {
                exchange(&mut stream, &[pick(&mut rng)], &counters);
            }
            // A session: orders one at a time.
            3 | 4 => {
                for _ in 0..1 + rng.below(50) {
                    if !exchange(&mut stream, &[pick(&mut rng)], &counters) {
                        break;
                    }
                }
            }
            // Pipelined: a batch written before any reply is read.
            5 => {
                let batch: Vec<_> = (0..1 + rng.below(200)).map(|_| pick(&mut rng)).collect();
                exchange(&mut stream, &batch, &counters);
            }
            // Connect and hang up at once.
            6 => {}
            // An order, then gone without reading the reply; or a burst of
            // changes past the rate limit, then gone while ledd holds them.
            7 => {
                let text = if rng.below(2) == 0 {
                    format!("{}\n", pick(&mut rng).0)
                } else {
                    (0..300)
                        .map(|i| format!("blink power {}\n", 1 + i % 50))
                        .collect()
                };
                let _ = stream.get_mut().write_all(text.as_bytes());
            }
            // Half an order, then gone; or invalid UTF-8.
            8 => {
                let junk: &[u8] = if rng.below(2) == 0 {
                    b"blink po"
                } else {
                    b"blink \xff\xfe 2\n"
                };
                let _ = stream.get_mut().write_all(junk);
                if junk.ends_with(b"\n") {
                    let reply = stream.receive_line().unwrap_or_default().to_string();
                    if reply.starts_with("err usage: ") {
                        counters.refused.fetch_add(1, Ordering::Relaxed);
                    } else {
                        counters.fail(format!("invalid UTF-8: got {reply:?}"));
                    }
                }
            }
            // Orders then end-of-file: every reply comes, then ledd closes;
            // or a line past the limit: too-long, then ledd closes.
            _ => {
                if rng.below(4) == 0 {
                    let _ = stream.get_mut().write_all(&[b'x'; 5000]);
                    let rest = stream.read_rest().unwrap_or_default();
                    if rest.starts_with("err too-long: ") {
                        counters.refused.fetch_add(1, Ordering::Relaxed);
                    } else {
                        counters.fail(format!("overlong line: got {rest:?}"));
                    }
                } else {
                    let (order, expected) = pick(&mut rng);
                    let _ = stream
                        .get_mut()
                        .write_all(format!("version\n{order}").as_bytes());
                    let _ = stream.get_ref().shutdown(std::net::Shutdown::Write);
                    let rest = stream.read_rest().unwrap_or_default();
                    let lines: Vec<&str> = rest.lines().collect();
                    if lines.len() == 2
                        && lines[0].starts_with("ok version=")
                        && format!("{}\n", lines[1]).starts_with(&expected)
                    {
                        counters.ok.fetch_add(1, Ordering::Relaxed);
                        if expected == "ok " {
                            counters.ok.fetch_add(1, Ordering::Relaxed);
                        } else {
                            counters.refused.fetch_add(1, Ordering::Relaxed);
                        }
                    } else if !(order.is_empty() && lines.len() == 1) {
                        // (An empty last line after EOF is no order at all.)
                        counters.fail(format!("half-close with {order:?}: got {rest:?}"));
                    }
                }
            }
        }
    }
}

/// ledd's resident memory in kB and its open descriptors.
fn usage(pid: i32) -> (u64, usize) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    (rss, fds)
}

/// Waits until ledd has closed every client: its descriptor count stays put.
fn settle(pid: i32) -> (u64, usize) {
    let start = Instant::now();
    let mut last = usage(pid).1;
    let mut stable_since = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
        let now = usage(pid).1;
        if now != last {
            last = now;
            stable_since = Instant::now();
        } else if stable_since.elapsed() > Duration::from_millis(500) {
            break;
        }
    }
    usage(pid)
}

/// Runs the clients for `duration`, sampling ledd's usage; returns the peaks.
fn load(ledd: &Ledd, duration: Duration, seed: u64, counters: &Arc<Counters>) -> (u64, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (socket, stop, counters) =
                (ledd.socket.clone(), Arc::clone(&stop), Arc::clone(counters));
            let seed = seed
                .wrapping_add(i as u64)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
            std::thread::spawn(move || client(socket, seed, stop, counters))
        })
        .collect();
    let start = Instant::now();
    let (mut peak_rss, mut peak_fds) = (0, 0);
    while start.elapsed() < duration {
        std::thread::sleep(Duration::from_millis(250));
        let (rss, fds) = usage(ledd.pid());
        peak_rss = peak_rss.max(rss);
        peak_fds = peak_fds.max(fds);
    }
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().expect("a client thread panicked");
    }
    (peak_rss, peak_fds)
}

#[test]
fn soak() {
    let seconds: u64 = std::env::var("LEDD_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    // All 32 clients are one user, and they reconnect faster than ledd reaps
    // the connections they closed: the per-user cap (64 by default, tested by
    // tests/fairness.rs and tests/daemon.rs) is lifted to the global limit here.
    let mut ledd = Ledd::prepare("max_connections_per_user = 1024\n");
    // ledd logs every LED change: count the lines instead of keeping them.
    let mut child = ledd
        .command(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    ledd.child = Some(child);
    let log_lines = Arc::new(AtomicU64::new(0));
    let bad_log = Arc::new(Mutex::new(Vec::<String>::new()));
    let logger = {
        let (log_lines, bad_log) = (Arc::clone(&log_lines), Arc::clone(&bad_log));
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                log_lines.fetch_add(1, Ordering::Relaxed);
                let bad = line.contains("panicked") || line.contains("error:");
                let mut kept = bad_log.lock().unwrap();
                if bad && kept.len() < 20 {
                    kept.push(line);
                }
            }
        })
    };
    ledd.wait_ready();
    let pid = ledd.pid();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;

    // Warm-up: allocator pools, client table and buffers reach their working size.
    let warm_up = Duration::from_secs((seconds / 10).clamp(3, 30));
    let warm_counters = Arc::new(Counters::default());
    load(&ledd, warm_up, seed, &warm_counters);
    let (rss_start, fds_start) = settle(pid);

    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let (peak_rss, peak_fds) = load(
        &ledd,
        Duration::from_secs(seconds),
        seed ^ 0x5eed,
        &counters,
    );
    let elapsed = started.elapsed().as_secs_f64();
    let (rss_end, fds_end) = settle(pid);

    let alive = ledd.child.as_mut().unwrap().try_wait().unwrap().is_none();
    let ok = counters.ok.load(Ordering::Relaxed);
    let refused = counters.refused.load(Ordering::Relaxed);
    let connections = counters.connections.load(Ordering::Relaxed);
    println!("soak: {seconds} s, {CLIENTS} clients, seed {seed}");
    println!(
        "soak: {} orders served ({ok} ok, {refused} err as expected), {:.0} orders/s, {connections} connections",
        ok + refused,
        (ok + refused) as f64 / elapsed
    );
    println!(
        "soak: VmRSS {rss_start} kB after warm-up, {rss_end} kB at the end, peak {peak_rss} kB under load"
    );
    println!(
        "soak: open fds {fds_start} after warm-up, {fds_end} at the end, peak {peak_fds} under load"
    );
    println!("soak: {} log lines", log_lines.load(Ordering::Relaxed));

    assert!(alive, "ledd died during the soak");
    let failures = counters.failures.lock().unwrap().clone();
    let warm_failures = warm_counters.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty() && warm_failures.is_empty(),
        "wrong or missing replies: {failures:#?} {warm_failures:#?}"
    );
    assert!(ok > 0 && refused > 0);
    assert!(
        fds_end <= fds_start,
        "descriptor leak: {fds_start} -> {fds_end}"
    );
    let within = |start: u64, end: u64| end.abs_diff(start) * 10 <= start;
    assert!(
        within(fds_start as u64, fds_end as u64),
        "fds {fds_start} -> {fds_end}"
    );
    assert!(
        within(rss_start, rss_end),
        "VmRSS {rss_start} kB -> {rss_end} kB: more than 10 %"
    );

    ledd.signal(Signal::SIGTERM);
    assert_eq!(
        ledd.wait_exit(),
        0,
        "ledd did not stop cleanly after the soak"
    );
    logger.join().unwrap();
    let bad = bad_log.lock().unwrap().clone();
    assert!(bad.is_empty(), "ledd logged errors: {bad:#?}");
    println!("soak: PASS");
}
