//! In-process costs of ledd's core: order parsing, reply formatting, blink
//! timing, and the engine carrying out orders on the simulated backend.
//! Run: `cargo bench --bench core`. The whole-process figures (socket round
//! trips, RSS, wakeups) are measured by `python3 bench/run.py` instead.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use ledd::config::Config;
use ledd::engine::{Caller, Engine, Outcome};
use ledd::led::sim::SimulatedAttributes;
use ledd::protocol::{BlinkTiming, Order, Reply, format_number};

/// Orders as clients send them, one per kind of parse path.
const ORDERS: &[(&str, &str)] = &[
    ("blink", "blink power 2"),
    ("blink_duty", "clignote status 2,5 25"),
    ("off", "eteindre"),
    ("status", "status"),
    (
        "pattern_8",
        "pattern power 0:100 255:100 0:100 255:100 0:100 255:100 0:100 255:100 repeat=3",
    ),
    ("error_unknown", "frobnicate 2"),
];

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (name, line) in ORDERS {
        group.bench_function(*name, |b| b.iter(|| Order::parse(black_box(line))));
    }
    group.finish();
}

fn format(c: &mut Criterion) {
    let mut group = c.benchmark_group("format");
    // The reply of `status` on a blinking LED: the longest usual reply.
    let status = Reply::parse(STATUS_LINE).unwrap();
    group.bench_function("reply_status", |b| {
        b.iter(|| black_box(&status).to_string())
    });
    let err =
        Reply::parse("err unknown-led: no LED named 'nosuch' (configured: power, status)").unwrap();
    group.bench_function("reply_err", |b| b.iter(|| black_box(&err).to_string()));
    group.bench_function("reply_parse", |b| {
        b.iter(|| Reply::parse(black_box(STATUS_LINE)))
    });
    group.bench_function("format_number", |b| {
        b.iter(|| format_number(black_box(2.994)))
    });
    group.finish();
}

const STATUS_LINE: &str = "ok led=status device=ACT exists=yes mode=blink freq=2 duty=50 delay_on=250 delay_off=250 trigger=timer brightness=0 max_brightness=1";

fn timing(c: &mut Criterion) {
    let mut group = c.benchmark_group("blink_timing");
    group.bench_function("from_freq", |b| {
        b.iter(|| BlinkTiming::from_freq(black_box(2.994), black_box(50.0)))
    });
    group.bench_function("from_freq_and_back", |b| {
        b.iter(|| {
            let t = BlinkTiming::from_freq(black_box(3.0), black_box(25.0));
            (t.freq_hz(), t.duty_percent())
        })
    });
    group.finish();
}

fn engine(dir: &Path) -> Engine {
    let config = Config::parse(
        &format!(
            "state_file = \"{}/state.toml\"\n[leds.status]\ndevice = [\"ledd:green:status\", \"ACT\"]\n[leds.power]\ndevice = \"PWR\"\n",
            dir.display()
        ),
        Path::new("bench.toml"),
    )
    .unwrap();
    Engine::new(config, Box::new(SimulatedAttributes::new(["ACT", "PWR"])))
}

fn reply_of(engine: &mut Engine, order: &Order) -> String {
    match engine.execute(order, &Caller::default(), false) {
        Outcome::Done(reply) => reply.to_string(),
        Outcome::RetryLater => unreachable!("the simulation never asks for a retry"),
    }
}

fn execute(c: &mut Criterion) {
    // The state file goes to tmpfs when there is one, so disk noise stays out.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let mut group = c.benchmark_group("engine_execute");
    let status = Order::parse("status").unwrap();
    let list = Order::parse("list").unwrap();
    let same = Order::parse("blink power 2").unwrap();
    let two = Order::parse("blink power 2").unwrap();
    let three = Order::parse("blink power 3").unwrap();

    let mut e = engine(dir.path());
    // Measure the path that succeeds: every order must be answered `ok`.
    for order in [
        &Order::parse("blink 2").unwrap(),
        &status,
        &list,
        &three,
        &same,
    ] {
        let reply = reply_of(&mut e, order);
        assert!(reply.starts_with("ok "), "{order}: {reply}");
    }
    group.bench_function("status", |b| {
        b.iter(|| reply_of(&mut e, black_box(&status)))
    });
    group.bench_function("list", |b| b.iter(|| reply_of(&mut e, black_box(&list))));
    // The same blink again: no kernel write, no state-file save.
    group.bench_function("blink_unchanged", |b| {
        b.iter(|| reply_of(&mut e, black_box(&same)))
    });
    // Alternating frequencies: delay writes and a state-file save each time,
    // which is what the whole-process round-trip benchmark sends.
    let mut flip = false;
    group.bench_function("blink_alternating_saves_state", |b| {
        b.iter(|| {
            flip = !flip;
            reply_of(&mut e, black_box(if flip { &two } else { &three }))
        })
    });
    group.bench_function("parse_execute_format_status", |b| {
        b.iter(|| {
            let order = Order::parse(black_box("status power")).unwrap();
            reply_of(&mut e, &order)
        })
    });
    group.finish();
}

criterion_group!(benches, parse, format, timing, execute);
criterion_main!(benches);
