//! The `log` facade's backend: one line per record on stderr. When stderr
//! is the journal (systemd sets `JOURNAL_STREAM` to the device and inode of
//! the stream it connected, and fd 2 still is that stream), each line starts
//! with the `<N>` priority journald reads; on a terminal or a file, lines
//! read `PROGRAM: level: message` (ledd and ledd-mqtt share this logger).

use std::io::Write;
use std::str::FromStr;
use std::sync::OnceLock;

pub use ::log::LevelFilter;
use ::log::{Level, Log, Metadata, Record};

/// The levels `--log-level` and `log_level` accept.
pub const LEVELS: [&str; 4] = ["error", "warn", "info", "debug"];

/// Parses `error`, `warn`, `info` or `debug`.
pub fn parse_level(text: &str) -> Option<LevelFilter> {
    LEVELS
        .contains(&text)
        .then(|| LevelFilter::from_str(text).ok())
        .flatten()
}

/// clap's parser for `--log-level` (ledd's and ledd-mqtt's).
pub fn parse_level_arg(text: &str) -> Result<LevelFilter, String> {
    parse_level(text).ok_or_else(|| format!("use one of {}", LEVELS.join(", ")))
}

struct Logger {
    program: &'static str,
    journal: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Installs the logger for `program` (once; later calls only change the level).
pub fn init(program: &'static str, level: LevelFilter) {
    let logger = LOGGER.get_or_init(|| Logger {
        program,
        journal: stderr_is_journal(std::env::var("JOURNAL_STREAM").ok().as_deref()),
    });
    let _ = ::log::set_logger(logger);
    set_level(level);
}

/// Changes the level (after a reload).
pub fn set_level(level: LevelFilter) {
    ::log::set_max_level(level);
}

/// Whether fd 2 is the stream `JOURNAL_STREAM` ("device:inode") names,
/// as systemd.exec(5) says to check it.
fn stderr_is_journal(journal_stream: Option<&str>) -> bool {
    let Some((device, inode)) = journal_stream.and_then(|value| value.split_once(':')) else {
        return false;
    };
    // The stat field types: ino_t is 32 bits on 32-bit ARM (armhf package).
    use nix::libc::{dev_t, ino_t};
    let (Ok(device), Ok(inode)) = (device.parse::<dev_t>(), inode.parse::<ino_t>()) else {
        return false;
    };
    nix::sys::stat::fstat(std::io::stderr())
        .is_ok_and(|stat| stat.st_dev == device && stat.st_ino == inode)
}

/// One record as a line: `<N>message` for the journal, `PROGRAM: level: message` otherwise.
fn format_line(
    program: &str,
    journal: bool,
    level: Level,
    message: &std::fmt::Arguments<'_>,
) -> String {
    let (priority, word) = match level {
        Level::Error => (3, "error"),
        Level::Warn => (4, "warning"),
        Level::Info => (6, "info"),
        Level::Debug | Level::Trace => (7, "debug"),
    };
    if journal {
        format!("<{priority}>{message}\n")
    } else {
        format!("{program}: {word}: {message}\n")
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // Libraries (rumqttc, rustls) speak up only for warnings and errors:
        // their debug lines describe packets, not what the program does.
        let ours = metadata.target().starts_with("ledd");
        metadata.level() <= ::log::max_level() && (ours || metadata.level() <= Level::Warn)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(self.program, self.journal, record.level(), record.args());
        // A log line that cannot be written is not worth stopping for.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn levels_parse() {
        assert_eq!(parse_level("debug"), Some(LevelFilter::Debug));
        assert_eq!(parse_level("warn"), Some(LevelFilter::Warn));
        assert_eq!(parse_level("trace"), None);
        assert_eq!(parse_level("INFO"), None);
    }

    #[test]
    fn lines_carry_a_priority_for_the_journal_and_a_word_otherwise() {
        let line = |journal, level| format_line("ledd", journal, level, &format_args!("hi"));
        assert_eq!(line(true, Level::Warn), "<4>hi\n");
        assert_eq!(line(true, Level::Debug), "<7>hi\n");
        assert_eq!(line(false, Level::Error), "ledd: error: hi\n");
        assert_eq!(line(false, Level::Info), "ledd: info: hi\n");
        assert_eq!(
            format_line("ledd-mqtt", false, Level::Warn, &format_args!("hi")),
            "ledd-mqtt: warning: hi\n"
        );
    }

    #[test]
    fn the_journal_is_recognised_by_device_and_inode_only() {
        assert!(!stderr_is_journal(None));
        assert!(!stderr_is_journal(Some("junk")));
        assert!(!stderr_is_journal(Some("1:2")));
        let stderr = std::fs::metadata("/proc/self/fd/2").unwrap();
        let real = format!("{}:{}", stderr.dev(), stderr.ino());
        assert!(stderr_is_journal(Some(&real)));
    }
}
