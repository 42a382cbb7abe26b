//! Configuration and state files: no panic, located errors, saved states
//! load back (the properties are in ../checks.rs).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::config_text(data));
