//! The properties the fuzz targets check, shared with tests/fuzz_regressions.rs
//! so that the committed corpus and every crash found are replayed by the
//! ordinary test run on stable Rust.
#![allow(dead_code)] // each fuzz target uses one of the checks

use std::path::Path;

use ledd::config::{Config, is_valid_device_name};
use ledd::protocol::{Order, Reply, is_valid_led_name};
use ledd::state::SavedState;

fn assert_one_line(reply: &str) {
    assert!(
        !reply.contains(['\n', '\r']),
        "reply spans lines: {reply:?}"
    );
}

/// Any byte string, read as a client's order line, must never make the
/// parser panic; an order it accepts must print in a canonical form that
/// parses back to the same order; and no reply ever spans more than one line.
pub fn order_line(data: &[u8]) {
    // The daemon refuses invalid UTF-8 before parsing; lossy decoding lets
    // the fuzzer reach the parser with every byte string anyway.
    let line = String::from_utf8_lossy(data);
    match Order::parse(&line) {
        Ok(order) => {
            let canonical = order.to_string();
            assert!(
                !canonical.contains('\n'),
                "{order:?} prints as {canonical:?}"
            );
            let again = Order::parse(&canonical).unwrap_or_else(|error| {
                panic!("{line:?} parsed as {order:?}, printed as {canonical:?}, which does not parse: {error}")
            });
            assert_eq!(again, order, "{line:?} printed as {canonical:?}");
            // Printing is stable: the canonical form is a fixed point.
            assert_eq!(again.to_string(), canonical);
        }
        Err(error) => {
            let kind = error.kind;
            let reply = Reply::Err(error).to_string();
            assert_one_line(&reply);
            // ledctl must be able to read every error reply the daemon writes.
            match Reply::parse(&reply) {
                Ok(Reply::Err(parsed)) => assert_eq!(parsed.kind, kind, "{reply:?}"),
                other => panic!("error reply {reply:?} reads back as {other:?}"),
            }
        }
    }
    // Reply values come from configuration and kernel files: whatever they
    // hold, an `ok` reply stays one line that ledctl can read.
    let reply = Reply::Ok(vec![
        ("led".to_string(), line.to_string()),
        ("device".to_string(), line.chars().rev().collect()),
    ])
    .to_string();
    assert_one_line(&reply);
    assert!(
        Reply::parse(&reply).is_ok(),
        "ok reply {reply:?} does not read back"
    );
}

/// Any configuration text must give a configuration or a located error,
/// never a panic; any state file must load or fail cleanly, and a state that
/// loads must save and load back unchanged (ledd saves what it restored).
pub fn config_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match Config::parse(&text, Path::new("fuzz.toml")) {
        Ok(config) => {
            // What validation promises the rest of ledd.
            assert!(!config.leds.is_empty());
            if let Some(default) = &config.default_led {
                assert!(
                    config.leds.contains_key(default),
                    "default {default} not configured"
                );
            }
            for (name, led) in &config.leds {
                assert!(is_valid_led_name(name), "{name:?}");
                assert!(!led.devices.is_empty());
                assert!(
                    led.devices.iter().all(|d| is_valid_device_name(d)),
                    "{:?}",
                    led.devices
                );
            }
            assert!(config.socket.is_absolute() && config.state_file.is_absolute());
            assert!(config.sysfs_root.is_absolute());
            assert!(config.socket_mode <= 0o777);
        }
        Err(error) => {
            // The line an error points at exists.
            if let Some(line) = error.line {
                assert!(
                    line >= 1 && line <= text.lines().count().max(1) + 1,
                    "{error}"
                );
            }
            let _ = error.to_string();
        }
    }
    if let Ok(state) = toml::from_str::<SavedState>(&text) {
        let saved = toml::to_string(&state).expect("a loaded state encodes");
        let loaded: SavedState = toml::from_str(&saved)
            .unwrap_or_else(|error| panic!("saved state {saved:?} does not load: {error}"));
        assert_eq!(loaded, state, "saved as {saved:?}");
    }
}
