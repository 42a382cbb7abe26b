//! One line per event on stderr, with a level prefix. Under systemd (stderr
//! connected to the journal) the prefix is the `<N>` priority journald reads.

use std::io::Write;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy)]
pub enum Level {
    Error,
    Warning,
    Info,
}

fn to_journal() -> bool {
    static JOURNAL: OnceLock<bool> = OnceLock::new();
    *JOURNAL.get_or_init(|| std::env::var_os("JOURNAL_STREAM").is_some())
}

pub fn log(level: Level, message: std::fmt::Arguments<'_>) {
    let (priority, word) = match level {
        Level::Error => (3, "error"),
        Level::Warning => (4, "warning"),
        Level::Info => (6, "info"),
    };
    let line = if to_journal() {
        format!("<{priority}>{message}\n")
    } else {
        format!("ledd: {word}: {message}\n")
    };
    // A log line that cannot be written is not worth stopping for.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Info, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Warning, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Error, format_args!($($arg)*)) };
}
