//! Replies: `ok key=value ...` or `err KIND: message`, and what each field holds.

use std::fmt::{self, Write as _};

use crate::quote;

/// The kinds of `err` reply. Scripts may rely on these words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The order is malformed.
    Usage,
    /// No configured LED has that name (or no default LED is set).
    UnknownLed,
    /// A number is outside its accepted range.
    Range,
    /// The LED's kernel device does not exist (missing or unplugged).
    NoDevice,
    /// The LED does not offer the trigger (kernel module not loaded).
    NoTrigger,
    /// The kernel refused ledd's write for lack of permission.
    Permission,
    /// Any other failure reported by the kernel.
    Kernel,
    /// ledd refuses for now (too many connections, too many orders).
    Busy,
    /// The order line is longer than [`MAX_LINE`](crate::MAX_LINE).
    TooLong,
    /// The LED changed but the state file could not be saved.
    State,
    /// The access policy does not allow this client to change the LED.
    Denied,
    /// No live claim has that id (it ended, or never was).
    UnknownClaim,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::Usage,
        ErrorKind::UnknownLed,
        ErrorKind::Range,
        ErrorKind::NoDevice,
        ErrorKind::NoTrigger,
        ErrorKind::Permission,
        ErrorKind::Kernel,
        ErrorKind::Busy,
        ErrorKind::TooLong,
        ErrorKind::State,
        ErrorKind::Denied,
        ErrorKind::UnknownClaim,
    ];

    /// The word on the wire.
    ///
    /// ```
    /// use ledd_protocol::ErrorKind;
    /// assert_eq!(ErrorKind::UnknownLed.as_str(), "unknown-led");
    /// assert_eq!(ErrorKind::from_word("no-device"), Some(ErrorKind::NoDevice));
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::UnknownLed => "unknown-led",
            ErrorKind::Range => "range",
            ErrorKind::NoDevice => "no-device",
            ErrorKind::NoTrigger => "no-trigger",
            ErrorKind::Permission => "permission",
            ErrorKind::Kernel => "kernel",
            ErrorKind::Busy => "busy",
            ErrorKind::TooLong => "too-long",
            ErrorKind::State => "state",
            ErrorKind::Denied => "denied",
            ErrorKind::UnknownClaim => "unknown-claim",
        }
    }

    pub fn from_word(word: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == word)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: its kind and a message for people.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderError {
    pub kind: ErrorKind,
    pub message: String,
}

impl OrderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> OrderError {
        OrderError {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> OrderError {
        OrderError::new(ErrorKind::Usage, message)
    }

    pub(crate) fn range(message: impl Into<String>) -> OrderError {
        OrderError::new(ErrorKind::Range, message)
    }
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for OrderError {}

/// A reply line.
///
/// ```
/// use ledd_protocol::{ErrorKind, OrderError, Reply};
///
/// let reply = Reply::ok(vec![("led".into(), "status".into()), ("mode".into(), "off".into())]);
/// assert_eq!(reply.to_string(), "ok led=status mode=off");
/// let refusal = Reply::parse("err unknown-led: no LED named 'x'").unwrap();
/// assert_eq!(refusal, Reply::Err(OrderError::new(ErrorKind::UnknownLed, "no LED named 'x'")));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Ok(Vec<(String, String)>),
    Err(OrderError),
}

/// What a reply or event field's value holds, so that clients need not guess
/// (ledctl's `--json` types its values by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A word (`led`, `mode`, `device`, ...).
    Text,
    /// A decimal number (`freq`, `brightness`, ...).
    Number,
    /// `yes` or `no` (`exists`, `clamped`).
    Boolean,
    /// Comma-separated words (`leds`, `live`, `watching`).
    List,
}

/// The type of the value of a reply or event field; fields ledd does not
/// know (a newer ledd's) are [`FieldType::Text`].
///
/// ```
/// use ledd_protocol::{FieldType, field_type};
/// assert_eq!(field_type("freq"), FieldType::Number);
/// assert_eq!(field_type("exists"), FieldType::Boolean);
/// assert_eq!(field_type("leds"), FieldType::List);
/// assert_eq!(field_type("mode"), FieldType::Text);
/// ```
pub fn field_type(key: &str) -> FieldType {
    match key {
        "freq" | "duty" | "delay_on" | "delay_off" | "brightness" | "max_brightness"
        | "requested" | "repeat" | "steps" | "protocol" | "claim" | "claims" | "priority"
        | "masked_by" | "released" | "remaining" | "id" | "uid" | "pid" | "count" | "wpm" => {
            FieldType::Number
        }
        "exists" | "clamped" => FieldType::Boolean,
        "leds" | "live" | "watching" => FieldType::List,
        _ => FieldType::Text,
    }
}

/// Formats a number for a reply: at most 4 significant decimals, no trailing zeros.
///
/// ```
/// assert_eq!(ledd_protocol::format_number(2.0), "2");
/// assert_eq!(ledd_protocol::format_number(0.0015), "0.0015");
/// ```
pub fn format_number(value: f64) -> String {
    let text = if value.abs() >= 1.0 {
        format!("{value:.3}")
    } else {
        format!("{value:.6}")
    };
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    trimmed.to_string()
}

/// Parses the `key=value` words after `ok` or `event`.
pub(crate) fn parse_fields(rest: &str) -> Result<Vec<(String, String)>, String> {
    rest.split(' ')
        .filter(|word| !word.is_empty())
        .map(|word| match word.split_once('=') {
            Some((key, value)) => Ok((key.to_string(), value.to_string())),
            None => Err(format!("field '{}' has no '='", quote(word))),
        })
        .collect()
}

/// Writes ` key=value` for each field; values never hold spaces or line
/// breaks: they are replaced so one reply stays one line.
pub(crate) fn write_fields(f: &mut fmt::Formatter<'_>, fields: &[(String, String)]) -> fmt::Result {
    for (key, value) in fields {
        // Pieces, not `write!`: this runs for every field of every reply.
        f.write_char(' ')?;
        f.write_str(key)?;
        f.write_char('=')?;
        write_replacing(f, value, |c| c.is_whitespace() || c.is_control(), '_')?;
    }
    Ok(())
}

/// Writes `text` with every character that `bad` picks replaced by
/// `replacement`: the line framing and the key=value split stay whole. Runs
/// of good characters go out as slices, not one at a time.
fn write_replacing(
    f: &mut fmt::Formatter<'_>,
    text: &str,
    bad: impl Fn(char) -> bool,
    replacement: char,
) -> fmt::Result {
    let mut rest = text;
    while let Some((at, c)) = rest.char_indices().find(|&(_, c)| bad(c)) {
        f.write_str(&rest[..at])?;
        f.write_char(replacement)?;
        rest = &rest[at + c.len_utf8()..];
    }
    f.write_str(rest)
}

impl Reply {
    pub fn ok(fields: Vec<(String, String)>) -> Reply {
        Reply::Ok(fields)
    }

    /// Parses a reply line (without its newline).
    pub fn parse(line: &str) -> Result<Reply, String> {
        if line == "ok" {
            return Ok(Reply::Ok(Vec::new()));
        }
        if let Some(rest) = line.strip_prefix("ok ") {
            let fields = parse_fields(rest).map_err(|e| format!("reply {e}"))?;
            return Ok(Reply::Ok(fields));
        }
        if let Some(rest) = line.strip_prefix("err ") {
            let (kind, message) = rest
                .split_once(": ")
                .ok_or_else(|| format!("error reply without 'KIND: ': {}", quote(line)))?;
            let kind = ErrorKind::from_word(kind)
                .ok_or_else(|| format!("unknown error kind '{}'", quote(kind)))?;
            return Ok(Reply::Err(OrderError::new(kind, message)));
        }
        Err(format!("not a ledd reply: {}", quote(line)))
    }

    /// The value of a field of an `ok` reply.
    pub fn field(&self, key: &str) -> Option<&str> {
        match self {
            Reply::Ok(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str()),
            Reply::Err(_) => None,
        }
    }
}

/// Formats a reply as one line, without its newline. Values never hold
/// spaces or line breaks: they are replaced so one reply stays one line.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Ok(fields) => {
                f.write_str("ok")?;
                write_fields(f, fields)
            }
            Reply::Err(error) => {
                write!(f, "err {}: ", error.kind)?;
                write_replacing(f, &error.message, char::is_control, ' ')
            }
        }
    }
}
