//! Client load for bench/run.py. Prints one JSON object per run on stdout.
//!
//! ADDR is `unix:PATH` (ledd) or `tcp:HOST:PORT` (the baseline). Orders
//! alternate between ORDER_A and ORDER_B so every order changes something.
//! With `--eof` a reply is read until the server closes (the baseline's
//! one-order-per-connection protocol); otherwise until the newline, by
//! ledd's client library (ledd-client), as every client of ledd does.
//!
//!   loadgen persistent ADDR N ORDER_A ORDER_B
//!   loadgen newconn    ADDR N ORDER_A ORDER_B [--eof]
//!   loadgen throughput ADDR CLIENTS SECS persistent|newconn ORDER_A ORDER_B [--eof]
//!   loadgen hold       ADDR N ORDER [--eof]
//!   loadgen watch      ADDR N LED ORDER_A ORDER_B
//!       one connection watches LED; another sends N orders to it; each
//!       time runs from the order's sending to the watcher's event line
//!   loadgen exec       N PROGRAM ARGS...

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio, exit};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ledd_client::{ClientError, Connection};

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

#[derive(Clone)]
struct Target {
    addr: String,
    eof: bool,
}

impl Target {
    fn connect(&self) -> std::io::Result<Box<dyn Stream>> {
        let timeout = Some(Duration::from_secs(30));
        if let Some(path) = self.addr.strip_prefix("unix:") {
            let s = UnixStream::connect(path)?;
            s.set_read_timeout(timeout)?;
            Ok(Box::new(s))
        } else if let Some(hostport) = self.addr.strip_prefix("tcp:") {
            let s = TcpStream::connect(hostport)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(timeout)?;
            Ok(Box::new(s))
        } else {
            eprintln!("loadgen: bad address {}", self.addr);
            exit(2)
        }
    }
}

/// One persistent connection: order out, one reply line in (ledd-client).
struct Conn(Connection<Box<dyn Stream>>);

impl Conn {
    fn new(target: &Target) -> std::io::Result<Conn> {
        Ok(Conn(Connection::from_stream(
            target.connect()?,
            target.addr.clone(),
        )))
    }

    /// Sends an order (without its newline) and returns whether the reply was `ok`.
    fn order(&mut self, order: &str) -> std::io::Result<bool> {
        let reply = self.0.round_trip_line(order).map_err(io_error)?;
        Ok(reply.starts_with("ok"))
    }
}

fn io_error(error: ClientError) -> std::io::Error {
    std::io::Error::other(error.message)
}

/// One order on a new connection, as ledctl does. Returns whether the reply was `ok`.
fn one_shot(target: &Target, order: &str) -> std::io::Result<bool> {
    let mut stream = target.connect()?;
    if target.eof {
        // The baseline's protocol: the reply ends when the server closes.
        stream.write_all(format!("{order}\n").as_bytes())?;
        let mut reply = Vec::with_capacity(256);
        stream.read_to_end(&mut reply)?;
        return Ok(reply.starts_with(b"ok"));
    }
    Conn(Connection::from_stream(stream, target.addr.clone())).order(order)
}

/// `warmup`: orders sent before the measured ones (same orders, not timed), so
/// that a caller counting the server's work over the whole run (run.py's
/// system-call count) knows how many orders it saw.
fn summary(kind: &str, mut ns: Vec<u64>, errors: u64, elapsed: Duration, warmup: usize) -> String {
    ns.sort_unstable();
    let n = ns.len();
    let pct = |p: f64| -> f64 {
        if n == 0 {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        ns[rank.clamp(1, n) - 1] as f64 / 1000.0
    };
    let mean = ns.iter().sum::<u64>() as f64 / n.max(1) as f64 / 1000.0;
    format!(
        "{{\"kind\":\"{kind}\",\"count\":{n},\"errors\":{errors},\"median_us\":{:.2},\"p99_us\":{:.2},\"p999_us\":{:.2},\"mean_us\":{mean:.2},\"max_us\":{:.2},\"elapsed_s\":{:.4},\"warmup\":{warmup}}}",
        pct(50.0),
        pct(99.0),
        pct(99.9),
        pct(100.0),
        elapsed.as_secs_f64()
    )
}

/// Runs `one` for 0..n, timing each call: (nanoseconds each, calls that
/// returned false, the whole run's time).
fn timed(n: usize, mut one: impl FnMut(usize) -> bool) -> (Vec<u64>, u64, Duration) {
    let mut ns = Vec::with_capacity(n);
    let mut errors = 0;
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        let ok = one(i);
        ns.push(t.elapsed().as_nanos() as u64);
        errors += u64::from(!ok);
    }
    (ns, errors, start.elapsed())
}

/// Untimed orders before the timed ones (first orders fault in pages on both sides).
const PERSISTENT_WARMUP: usize = 100;
const NEWCONN_WARMUP: usize = 20;

fn orders(a: &str, b: &str) -> [String; 2] {
    [a.to_string(), b.to_string()]
}

fn fail(what: &str, error: std::io::Error) -> ! {
    eprintln!("loadgen: {what}: {error}");
    exit(1)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let eof = args.iter().any(|a| a == "--eof");
    let args: Vec<&str> = args
        .iter()
        .filter(|a| *a != "--eof")
        .map(String::as_str)
        .collect();
    let num = |i: usize| -> u64 {
        args.get(i).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            eprintln!("loadgen: argument {i} must be a number");
            exit(2)
        })
    };
    match args.first().copied() {
        Some("persistent") if args.len() == 5 => {
            let target = Target {
                addr: args[1].into(),
                eof,
            };
            let n = num(2) as usize;
            let orders = orders(args[3], args[4]);
            let mut conn = Conn::new(&target).unwrap_or_else(|e| fail("connect", e));
            // Warm-up: first orders fault in pages on both sides.
            for i in 0..PERSISTENT_WARMUP {
                conn.order(&orders[i % 2])
                    .unwrap_or_else(|e| fail("order", e));
            }
            let (ns, errors, elapsed) = timed(n, |i| {
                conn.order(&orders[i % 2])
                    .unwrap_or_else(|e| fail("order", e))
            });
            println!(
                "{}",
                summary("persistent", ns, errors, elapsed, PERSISTENT_WARMUP)
            );
        }
        Some("watch") if args.len() == 6 => {
            let target = Target {
                addr: args[1].into(),
                eof,
            };
            let n = num(2) as usize;
            let orders = orders(args[4], args[5]);
            let mut watcher = Conn::new(&target).unwrap_or_else(|e| fail("connect", e));
            let watching = watcher
                .0
                .round_trip_line(&format!("watch {}", args[3]))
                .map_err(io_error)
                .unwrap_or_else(|e| fail("watch", e))
                .to_string();
            if !watching.starts_with("ok watching=") {
                fail("watch", std::io::Error::other(watching));
            }
            let mut event = || {
                let line = watcher.0.receive_line().map_err(io_error)?;
                Ok::<bool, std::io::Error>(line.starts_with("event "))
            };
            event().unwrap_or_else(|e| fail("first event", e));
            let mut conn = Conn::new(&target).unwrap_or_else(|e| fail("connect", e));
            let (ns, errors, elapsed) = timed(n, |i| {
                let ok = conn
                    .order(&orders[i % 2])
                    .unwrap_or_else(|e| fail("order", e));
                ok && event().unwrap_or_else(|e| fail("event", e))
            });
            println!("{}", summary("watch", ns, errors, elapsed, 0));
        }
        Some("newconn") if args.len() == 5 => {
            let target = Target {
                addr: args[1].into(),
                eof,
            };
            let n = num(2) as usize;
            let orders = orders(args[3], args[4]);
            for i in 0..NEWCONN_WARMUP {
                one_shot(&target, &orders[i % 2]).unwrap_or_else(|e| fail("order", e));
            }
            let (ns, errors, elapsed) = timed(n, |i| {
                one_shot(&target, &orders[i % 2]).unwrap_or_else(|e| fail("order", e))
            });
            println!(
                "{}",
                summary("newconn", ns, errors, elapsed, NEWCONN_WARMUP)
            );
        }
        Some("throughput") if args.len() == 7 => {
            let target = Target {
                addr: args[1].into(),
                eof,
            };
            let clients = num(2) as usize;
            let secs = num(3);
            let persistent = match args[4] {
                "persistent" => true,
                "newconn" => false,
                other => {
                    eprintln!("loadgen: mode {other}?");
                    exit(2)
                }
            };
            let orders = Arc::new(orders(args[5], args[6]));
            let stop = Arc::new(AtomicBool::new(false));
            let done = Arc::new(AtomicU64::new(0));
            let errors = Arc::new(AtomicU64::new(0));
            let go = Arc::new(std::sync::Barrier::new(clients + 1));
            let threads: Vec<_> = (0..clients)
                .map(|c| {
                    let (target, orders, stop, done, errors, go) = (
                        target.clone(),
                        orders.clone(),
                        stop.clone(),
                        done.clone(),
                        errors.clone(),
                        go.clone(),
                    );
                    std::thread::spawn(move || {
                        let mut conn = if persistent {
                            Some(Conn::new(&target).unwrap_or_else(|e| fail("connect", e)))
                        } else {
                            None
                        };
                        go.wait();
                        let mut i = c;
                        while !stop.load(Ordering::Relaxed) {
                            let order = &orders[i % 2];
                            let ok = match conn.as_mut() {
                                Some(conn) => conn.order(order),
                                None => one_shot(&target, order),
                            };
                            match ok {
                                Ok(true) => {
                                    done.fetch_add(1, Ordering::Relaxed);
                                }
                                other => {
                                    // The first failure says why; the count says how often.
                                    if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                        eprintln!("loadgen: first failure: {other:?}");
                                    }
                                }
                            }
                            i += 1;
                        }
                    })
                })
                .collect();
            go.wait();
            let start = Instant::now();
            std::thread::sleep(Duration::from_secs(secs));
            let counted = done.load(Ordering::Relaxed);
            let elapsed = start.elapsed();
            stop.store(true, Ordering::Relaxed);
            for t in threads {
                let _ = t.join();
            }
            println!(
                "{{\"kind\":\"throughput\",\"clients\":{clients},\"orders\":{counted},\"errors\":{},\"elapsed_s\":{:.4},\"orders_per_s\":{:.1}}}",
                errors.load(Ordering::Relaxed),
                elapsed.as_secs_f64(),
                counted as f64 / elapsed.as_secs_f64()
            );
        }
        Some("hold") if args.len() == 4 => {
            // Many clients at once: all connect, all send, all get their reply,
            // and only then do they all close.
            let target = Target {
                addr: args[1].into(),
                eof: false,
            };
            let n = num(2) as usize;
            let order = format!("{}\n", args[3]).into_bytes();
            let start = Instant::now();
            let mut streams: Vec<Box<dyn Stream>> = (0..n)
                .map(|_| target.connect().unwrap_or_else(|e| fail("connect", e)))
                .collect();
            for s in &mut streams {
                s.write_all(&order).unwrap_or_else(|e| fail("send", e));
            }
            let mut ok = 0;
            let mut buf = [0u8; 512];
            for s in &mut streams {
                // Replies are short; one read holds the line (or the EOF).
                let mut reply = Vec::new();
                loop {
                    let got = s.read(&mut buf).unwrap_or_else(|e| fail("receive", e));
                    reply.extend_from_slice(&buf[..got]);
                    if got == 0 || (!eof && reply.ends_with(b"\n")) {
                        break;
                    }
                }
                ok += u64::from(reply.starts_with(b"ok"));
            }
            let elapsed = start.elapsed();
            drop(streams);
            println!(
                "{{\"kind\":\"hold\",\"clients\":{n},\"ok\":{ok},\"elapsed_s\":{:.4}}}",
                elapsed.as_secs_f64()
            );
        }
        Some("exec") if args.len() >= 3 => {
            let n = num(1) as usize;
            let mut ns = Vec::with_capacity(n);
            let mut errors = 0;
            let start = Instant::now();
            for _ in 0..n {
                let t = Instant::now();
                let status = Command::new(args[2])
                    .args(&args[3..])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .status()
                    .unwrap_or_else(|e| fail("exec", e));
                ns.push(t.elapsed().as_nanos() as u64);
                errors += u64::from(!status.success());
            }
            println!("{}", summary("exec", ns, errors, start.elapsed(), 0));
        }
        _ => {
            eprintln!("usage: see the top of bench/loadgen/src/main.rs");
            exit(2)
        }
    }
}
