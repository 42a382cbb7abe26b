//! Replays the fuzzers' inputs on stable Rust in the ordinary test run: the
//! committed corpus (fuzz/corpus/TARGET/) and every input that once broke a
//! check, through the very checks the fuzz targets run (fuzz/checks.rs).

#[path = "../fuzz/checks.rs"]
mod checks;

use std::fs;
use std::path::Path;

/// Feeds every file of fuzz/corpus/`target` to `check`; returns how many.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{} breaks a check", path.display());
        count += 1;
    }
    count
}

#[test]
fn order_parser_corpus() {
    assert!(replay("order_parser", checks::order_line) >= 20);
}

#[test]
fn config_parser_corpus() {
    assert!(replay("config_parser", checks::config_text) >= 5);
}

/// Inputs that once broke a check, and edge cases worth keeping in sight.
#[test]
fn order_parser_regressions() {
    for line in [
        &b""[..],
        b"\xff\xfe",
        b"blink \xff 2",
        b"blink 1e-3",
        b"clignote 2,5 33,3",
        b"trigger a b",
        b"pattern 0:0 4294967295:4294967295 repeat=2147483647",
        b"on status 4294967295",
        b"off \xc2\x85",
        b"status \xe2\x80\xa8",
        // Deduplicated, `hold` became the last word: a modifier, not an LED.
        b"watch a hold a",
        b"watch all",
        b"status hold",
    ] {
        checks::order_line(line);
    }
}

#[test]
fn config_parser_regressions() {
    for text in [
        &b""[..],
        b"[leds.\"\"]\nmode = \"off\"\n",
        b"max_connections = 9223372036854775807\n",
        b"[leds.status]\ndevice = \"ACT\"\n[leds.status]\n",
        b"[leds.a]\nmode = \"pattern\"\nrepeat = -1\nsteps = []\n",
        b"[leds.hold]\ndevice = \"ACT\"\n",
    ] {
        checks::config_text(text);
    }
}
