//! Order lines: no panic, canonical form round-trips, replies stay one line
//! (the properties are in ../checks.rs).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::order_line(data));
