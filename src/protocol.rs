//! The order protocol (protocol 1): pure parsing and formatting, no I/O.
//!
//! One order per line, one reply per order:
//! `ok key=value ...` or `err KIND: message`. See ledd-protocol(7).

use std::fmt;

/// Version of the line protocol spoken on the socket.
pub const PROTOCOL_VERSION: u32 = 1;
/// Longest order line ledd accepts, newline excluded.
pub const MAX_LINE: usize = 4096;
/// Frequency bounds of `blink`, in hertz.
pub const MIN_FREQ_HZ: f64 = 0.001;
pub const MAX_FREQ_HZ: f64 = 500.0;
/// Duty-cycle bounds of `blink`, in percent.
pub const MIN_DUTY: f64 = 1.0;
pub const MAX_DUTY: f64 = 99.0;
pub const DEFAULT_DUTY: f64 = 50.0;
/// Step-count bounds of `pattern`: the kernel takes 1024 entries, and each
/// step that holds its brightness takes two (see led::kernel_pattern).
pub const MIN_PATTERN_STEPS: usize = 2;
pub const MAX_PATTERN_STEPS: usize = 512;
/// Longest logical LED name.
pub const MAX_LED_NAME: usize = 64;

/// One order, as a client sends it. `led: None` means the default LED.
#[derive(Debug, Clone, PartialEq)]
pub enum Order {
    Blink {
        led: Option<String>,
        freq_hz: f64,
        duty_percent: f64,
    },
    On {
        led: Option<String>,
        brightness: Option<u32>,
    },
    Off {
        led: Option<String>,
    },
    Heartbeat {
        led: Option<String>,
    },
    Pattern {
        led: Option<String>,
        steps: Vec<PatternStep>,
        repeat: i32,
    },
    Trigger {
        led: Option<String>,
        name: String,
    },
    Status {
        led: Option<String>,
    },
    List,
    Version,
}

/// One step of a kernel pattern: hold `brightness` for `duration_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PatternStep {
    pub brightness: u32,
    pub duration_ms: u32,
}

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
    /// The order line is longer than [`MAX_LINE`].
    TooLong,
    /// The LED changed but the state file could not be saved.
    State,
    /// The access policy does not allow this client to change the LED.
    Denied,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 11] = [
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
    ];

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

    fn usage(message: impl Into<String>) -> OrderError {
        OrderError::new(ErrorKind::Usage, message)
    }

    fn range(message: impl Into<String>) -> OrderError {
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
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Ok(Vec<(String, String)>),
    Err(OrderError),
}

/// The order words and their aliases (the seed's French words among them).
const VERBS: &[(&str, &str)] = &[
    ("blink", "blink"),
    ("clignote", "blink"),
    ("on", "on"),
    ("allume", "on"),
    ("off", "off"),
    ("eteindre", "off"),
    ("eteind", "off"),
    ("heartbeat", "heartbeat"),
    ("pattern", "pattern"),
    ("trigger", "trigger"),
    ("status", "status"),
    ("list", "list"),
    ("version", "version"),
];

/// Usage line of each order, used in `usage` errors and by ledctl.
pub fn usage_of(verb: &str) -> &'static str {
    match verb {
        "blink" => "blink [LED] FREQ_HZ [DUTY_PERCENT]",
        "on" => "on [LED] [BRIGHTNESS]",
        "off" => "off [LED]",
        "heartbeat" => "heartbeat [LED]",
        "pattern" => "pattern [LED] BRIGHTNESS:MS BRIGHTNESS:MS ... [repeat=N]",
        "trigger" => "trigger [LED] KERNEL_TRIGGER",
        "status" => "status [LED]",
        "list" => "list",
        _ => "version",
    }
}

/// The canonical order word for a word or alias (`clignote` → `blink`).
pub fn canonical_verb(word: &str) -> Option<&'static str> {
    VERBS
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(word))
        .map(|(_, verb)| *verb)
}

/// Whether `name` is a valid logical LED name: an ASCII letter, then letters,
/// digits, `_` or `-`. Starting with a letter keeps names apart from numbers
/// and pattern steps, so `blink 2` and `blink status 2` cannot be confused.
pub fn is_valid_led_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= MAX_LED_NAME
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Makes any client-supplied text safe to echo inside one reply or log line.
pub fn quote(text: &str) -> String {
    const LIMIT: usize = 64;
    let mut out: String = text
        .chars()
        .take(LIMIT)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > LIMIT {
        out.push('…');
    }
    out
}

impl Order {
    /// Parses one order line (without its newline).
    pub fn parse(line: &str) -> Result<Order, OrderError> {
        let mut words = line.split_ascii_whitespace();
        let Some(first) = words.next() else {
            return Err(OrderError::usage(
                "empty order; try: blink 2, off, status, list",
            ));
        };
        let verb = canonical_verb(first).ok_or_else(|| {
            OrderError::usage(format!(
                "unknown order '{}'; orders: blink, on, off, heartbeat, pattern, trigger, status, list, version",
                quote(first)
            ))
        })?;
        let args: Vec<&str> = words.collect();
        let too_many =
            || OrderError::usage(format!("too many arguments; usage: {}", usage_of(verb)));
        // An optional leading LED name is any word that is not a number or a
        // pattern step; whether it names a configured LED is the daemon's
        // business (valid names start with a letter, see is_valid_led_name).
        let (led, rest) = split_led(verb, &args);
        match verb {
            "blink" => {
                let (freq, duty) = match rest {
                    [freq] => (freq, None),
                    [freq, duty] => (freq, Some(duty)),
                    [] => {
                        return Err(OrderError::usage(format!(
                            "blink needs a frequency in Hz; usage: {}",
                            usage_of(verb)
                        )));
                    }
                    _ => return Err(too_many()),
                };
                let freq_hz = parse_number("frequency", freq)?;
                if !(MIN_FREQ_HZ..=MAX_FREQ_HZ).contains(&freq_hz) {
                    return Err(OrderError::range(format!(
                        "frequency {} Hz is out of range ({MIN_FREQ_HZ} to {MAX_FREQ_HZ})",
                        quote(freq)
                    )));
                }
                let duty_percent = match duty {
                    None => DEFAULT_DUTY,
                    Some(duty) => {
                        let value = parse_number("duty", duty)?;
                        if !(MIN_DUTY..=MAX_DUTY).contains(&value) {
                            return Err(OrderError::range(format!(
                                "duty {} % is out of range ({MIN_DUTY} to {MAX_DUTY})",
                                quote(duty)
                            )));
                        }
                        value
                    }
                };
                Ok(Order::Blink {
                    led,
                    freq_hz,
                    duty_percent,
                })
            }
            "on" => {
                let brightness = match rest {
                    [] => None,
                    [level] => {
                        let value: u32 = level.parse().map_err(|_| {
                            OrderError::usage(format!(
                                "brightness '{}' is not a whole number; usage: {}",
                                quote(level),
                                usage_of(verb)
                            ))
                        })?;
                        if value == 0 {
                            return Err(OrderError::range(
                                "brightness 0 would turn the LED off; use 'off'",
                            ));
                        }
                        Some(value)
                    }
                    _ => return Err(too_many()),
                };
                Ok(Order::On { led, brightness })
            }
            "pattern" => parse_pattern(led, rest),
            "trigger" => match rest {
                [name] if is_valid_trigger_name(name) => Ok(Order::Trigger {
                    led,
                    name: (*name).to_string(),
                }),
                [name] => Err(OrderError::usage(format!(
                    "'{}' is not a kernel trigger name",
                    quote(name)
                ))),
                [] => Err(OrderError::usage(format!(
                    "trigger needs a kernel trigger name; usage: {}",
                    usage_of(verb)
                ))),
                _ => Err(too_many()),
            },
            "list" | "version" if !args.is_empty() => Err(too_many()),
            _ => {
                if !rest.is_empty() {
                    return Err(match (verb, led) {
                        // `off 2`: the word after the verb is not an LED name.
                        (_, None) => OrderError::usage(format!(
                            "'{}' is not an LED name; usage: {}",
                            quote(rest[0]),
                            usage_of(verb)
                        )),
                        _ => too_many(),
                    });
                }
                match verb {
                    "off" => Ok(Order::Off { led }),
                    "heartbeat" => Ok(Order::Heartbeat { led }),
                    "status" => Ok(Order::Status { led }),
                    "list" => Ok(Order::List),
                    _ => Ok(Order::Version),
                }
            }
        }
    }

    /// The LED the order names, if any.
    pub fn led(&self) -> Option<&str> {
        match self {
            Order::Blink { led, .. }
            | Order::On { led, .. }
            | Order::Off { led }
            | Order::Heartbeat { led }
            | Order::Pattern { led, .. }
            | Order::Trigger { led, .. }
            | Order::Status { led } => led.as_deref(),
            Order::List | Order::Version => None,
        }
    }

    /// Whether the order changes an LED (as opposed to only reading).
    pub fn changes_led(&self) -> bool {
        !matches!(self, Order::Status { .. } | Order::List | Order::Version)
    }

    /// The canonical word of this order.
    pub fn verb(&self) -> &'static str {
        match self {
            Order::Blink { .. } => "blink",
            Order::On { .. } => "on",
            Order::Off { .. } => "off",
            Order::Heartbeat { .. } => "heartbeat",
            Order::Pattern { .. } => "pattern",
            Order::Trigger { .. } => "trigger",
            Order::Status { .. } => "status",
            Order::List => "list",
            Order::Version => "version",
        }
    }
}

/// Formats an order in its canonical form, which [`Order::parse`] reads back.
impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb())?;
        if let Some(led) = self.led() {
            write!(f, " {led}")?;
        }
        match self {
            Order::Blink {
                freq_hz,
                duty_percent,
                ..
            } => {
                write!(f, " {freq_hz}")?;
                if *duty_percent != DEFAULT_DUTY {
                    write!(f, " {duty_percent}")?;
                }
            }
            Order::On {
                brightness: Some(level),
                ..
            } => write!(f, " {level}")?,
            Order::Pattern { steps, repeat, .. } => {
                for step in steps {
                    write!(f, " {}:{}", step.brightness, step.duration_ms)?;
                }
                if *repeat != -1 {
                    write!(f, " repeat={repeat}")?;
                }
            }
            Order::Trigger { name, .. } => write!(f, " {name}")?,
            _ => {}
        }
        Ok(())
    }
}

fn split_led<'a>(verb: &str, args: &'a [&'a str]) -> (Option<String>, &'a [&'a str]) {
    let takes_led = !matches!(verb, "list" | "version");
    match args.split_first() {
        Some((first, rest))
            if takes_led
                && as_number(first).is_none()
                && !first.contains(':')
                && !first.starts_with("repeat=")
                // `trigger NAME` alone names a trigger, not an LED.
                && !(verb == "trigger" && rest.is_empty()) =>
        {
            (Some((*first).to_string()), rest)
        }
        _ => (None, args),
    }
}

/// Reads a decimal number; a decimal comma (`2,5`, as French speakers write it) is accepted too.
fn as_number(text: &str) -> Option<f64> {
    text.parse().ok().or_else(|| match text.split_once(',') {
        Some((whole, fraction)) if !fraction.contains(',') => {
            format!("{whole}.{fraction}").parse().ok()
        }
        _ => None,
    })
}

fn parse_number(what: &str, text: &str) -> Result<f64, OrderError> {
    let value = as_number(text)
        .ok_or_else(|| OrderError::usage(format!("{what} '{}' is not a number", quote(text))))?;
    if !value.is_finite() {
        return Err(OrderError::range(format!(
            "{what} '{}' is not a finite number",
            quote(text)
        )));
    }
    Ok(value)
}

fn parse_pattern(led: Option<String>, args: &[&str]) -> Result<Order, OrderError> {
    let mut steps = Vec::new();
    let mut repeat = -1;
    for (index, word) in args.iter().enumerate() {
        if let Some(count) = word.strip_prefix("repeat=") {
            if index + 1 != args.len() {
                return Err(OrderError::usage("repeat=N must come last"));
            }
            repeat = count.parse().map_err(|_| {
                OrderError::usage(format!("repeat '{}' is not a whole number", quote(count)))
            })?;
            if repeat == 0 || repeat < -1 {
                return Err(OrderError::range(
                    "repeat must be -1 (forever) or a positive count",
                ));
            }
            continue;
        }
        let parsed = word.split_once(':').and_then(|(level, ms)| {
            Some(PatternStep {
                brightness: level.parse().ok()?,
                duration_ms: ms.parse().ok()?,
            })
        });
        match parsed {
            Some(step) => steps.push(step),
            None => {
                return Err(OrderError::usage(format!(
                    "pattern step '{}' is not BRIGHTNESS:MS (whole numbers)",
                    quote(word)
                )));
            }
        }
        if steps.len() > MAX_PATTERN_STEPS {
            return Err(OrderError::range(format!(
                "a pattern has at most {MAX_PATTERN_STEPS} steps"
            )));
        }
    }
    if steps.len() < MIN_PATTERN_STEPS {
        return Err(OrderError::usage(format!(
            "a pattern needs at least {MIN_PATTERN_STEPS} steps; usage: {}",
            usage_of("pattern")
        )));
    }
    Ok(Order::Pattern { led, steps, repeat })
}

/// Kernel trigger names are short words (`timer`, `mmc0`, `kbd-capslock`, `phy0tx`).
fn is_valid_trigger_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
}

/// The timer trigger's delays for a frequency and duty, and what they give back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlinkTiming {
    pub delay_on_ms: u64,
    pub delay_off_ms: u64,
}

impl BlinkTiming {
    /// Splits the period `1000 / freq` ms by `duty`, each delay rounded to a
    /// whole millisecond and at least 1 (a 0 delay means something else to the kernel).
    pub fn from_freq(freq_hz: f64, duty_percent: f64) -> BlinkTiming {
        let period_ms = 1000.0 / freq_hz;
        let on = (period_ms * duty_percent / 100.0).round().max(1.0);
        let off = (period_ms * (100.0 - duty_percent) / 100.0)
            .round()
            .max(1.0);
        BlinkTiming {
            delay_on_ms: on as u64,
            delay_off_ms: off as u64,
        }
    }

    /// The frequency these delays really give.
    pub fn freq_hz(&self) -> f64 {
        1000.0 / (self.delay_on_ms + self.delay_off_ms) as f64
    }

    /// The duty these delays really give, in percent.
    pub fn duty_percent(&self) -> f64 {
        100.0 * self.delay_on_ms as f64 / (self.delay_on_ms + self.delay_off_ms) as f64
    }
}

/// Formats a number for a reply: at most 4 significant decimals, no trailing zeros.
pub fn format_number(value: f64) -> String {
    let text = if value.abs() >= 1.0 {
        format!("{value:.3}")
    } else {
        format!("{value:.6}")
    };
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    trimmed.to_string()
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
            let fields = rest
                .split(' ')
                .filter(|word| !word.is_empty())
                .map(|word| match word.split_once('=') {
                    Some((key, value)) => Ok((key.to_string(), value.to_string())),
                    None => Err(format!("reply field '{}' has no '='", quote(word))),
                })
                .collect::<Result<Vec<_>, _>>()?;
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
                for (key, value) in fields {
                    let value: String = value
                        .chars()
                        .map(|c| {
                            if c.is_whitespace() || c.is_control() {
                                '_'
                            } else {
                                c
                            }
                        })
                        .collect();
                    write!(f, " {key}={value}")?;
                }
                Ok(())
            }
            Reply::Err(error) => {
                let message: String = error
                    .message
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                write!(f, "err {}: {message}", error.kind)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(line: &str) -> Order {
        Order::parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }

    fn kind(line: &str) -> ErrorKind {
        Order::parse(line).expect_err(line).kind
    }

    #[test]
    fn seed_orders_mean_what_they_meant() {
        assert_eq!(
            parse("clignote 2"),
            Order::Blink {
                led: None,
                freq_hz: 2.0,
                duty_percent: 50.0
            }
        );
        assert_eq!(parse("eteindre"), Order::Off { led: None });
        assert_eq!(parse("eteind"), Order::Off { led: None });
        assert_eq!(
            parse("allume"),
            Order::On {
                led: None,
                brightness: None
            }
        );
        assert_eq!(parse("CLIGNOTE 10").verb(), "blink");
    }

    #[test]
    fn led_name_is_optional_and_recognised() {
        assert_eq!(
            parse("blink power 5 25"),
            Order::Blink {
                led: Some("power".into()),
                freq_hz: 5.0,
                duty_percent: 25.0
            }
        );
        assert_eq!(parse("blink 5 25").led(), None);
        assert_eq!(
            parse("on status 3"),
            Order::On {
                led: Some("status".into()),
                brightness: Some(3)
            }
        );
        assert_eq!(
            parse("trigger mmc0"),
            Order::Trigger {
                led: None,
                name: "mmc0".into()
            }
        );
        assert_eq!(
            parse("trigger power mmc0"),
            Order::Trigger {
                led: Some("power".into()),
                name: "mmc0".into()
            }
        );
        assert_eq!(parse("  status   power  ").led(), Some("power"));
    }

    #[test]
    fn pattern_steps_and_repeat() {
        assert_eq!(
            parse("pattern 1:100 0:200 repeat=3"),
            Order::Pattern {
                led: None,
                steps: vec![
                    PatternStep {
                        brightness: 1,
                        duration_ms: 100
                    },
                    PatternStep {
                        brightness: 0,
                        duration_ms: 200
                    }
                ],
                repeat: 3
            }
        );
        assert_eq!(kind("pattern 1:100"), ErrorKind::Usage);
        assert_eq!(kind("pattern 1:100 0:x"), ErrorKind::Usage);
        assert_eq!(kind("pattern 1:100 0:100 repeat=0"), ErrorKind::Range);
        assert_eq!(kind("pattern 1:100 repeat=2 0:100"), ErrorKind::Usage);
        let too_many = format!("pattern{}", " 1:1".repeat(MAX_PATTERN_STEPS + 1));
        assert_eq!(kind(&too_many), ErrorKind::Range);
    }

    #[test]
    fn bad_numbers_are_refused_with_their_kind() {
        for line in [
            "blink 0",
            "blink -1",
            "blink 501",
            "blink 1e308",
            "blink 2 0",
            "blink 2 100",
        ] {
            assert_eq!(kind(line), ErrorKind::Range, "{line}");
        }
        for line in [
            "blink inf",
            "blink NaN",
            "blink -inf",
            "blink status infinity",
        ] {
            assert_eq!(kind(line), ErrorKind::Range, "{line}");
        }
        for line in [
            "blink abc def",
            "blink 2 3 4",
            "blink",
            "blink 2 3,5,1",
            "on -3",
            "on 1.5",
            "off 2",
            "list x",
        ] {
            assert_eq!(kind(line), ErrorKind::Usage, "{line}");
        }
        assert_eq!(kind("on 0"), ErrorKind::Range);
        assert_eq!(kind(""), ErrorKind::Usage);
        assert_eq!(kind("reboot now"), ErrorKind::Usage);
        assert_eq!(kind("trigger ../x"), ErrorKind::Usage);
    }

    #[test]
    fn limits_are_inclusive() {
        assert!(Order::parse("blink 0.001").is_ok());
        assert!(Order::parse("blink 500 1").is_ok());
        assert!(Order::parse("blink 500 99").is_ok());
    }

    #[test]
    fn any_non_numeric_first_word_is_an_led_name() {
        // The daemon refuses unknown names; the parser must not misread them.
        assert_eq!(parse("blink ../x 2").led(), Some("../x"));
        assert_eq!(parse("off /etc/passwd").led(), Some("/etc/passwd"));
        assert_eq!(kind("blink abc"), ErrorKind::Usage);
        assert_eq!(
            parse("clignote 2,5"),
            Order::Blink {
                led: None,
                freq_hz: 2.5,
                duty_percent: 50.0
            }
        );
    }

    #[test]
    fn hostile_names_parse_as_names_and_are_quoted_in_messages() {
        // Names are checked against the configuration by the daemon; here they
        // only must not be mistaken for something else or break the reply line.
        let error = Order::parse("fly\u{0}away").unwrap_err();
        assert!(error.message.contains("\\0"), "{}", error.message);
        let reply = Reply::Err(error).to_string();
        assert!(!reply.contains('\0') && !reply.contains('\n'));
    }

    #[test]
    fn timing_arithmetic() {
        let t = BlinkTiming::from_freq(2.0, 50.0);
        assert_eq!((t.delay_on_ms, t.delay_off_ms), (250, 250));
        let t = BlinkTiming::from_freq(3.0, 50.0);
        assert_eq!((t.delay_on_ms, t.delay_off_ms), (167, 167));
        assert_eq!(format_number(t.freq_hz()), "2.994");
        let t = BlinkTiming::from_freq(500.0, 1.0);
        assert_eq!((t.delay_on_ms, t.delay_off_ms), (1, 2));
        let t = BlinkTiming::from_freq(0.001, 50.0);
        assert_eq!((t.delay_on_ms, t.delay_off_ms), (500_000, 500_000));
        let t = BlinkTiming::from_freq(2.0, 25.0);
        assert_eq!((t.delay_on_ms, t.delay_off_ms), (125, 375));
        assert_eq!(format_number(t.duty_percent()), "25");
    }

    #[test]
    fn reply_round_trip() {
        let reply = Reply::ok(vec![
            ("led".into(), "status".into()),
            ("freq".into(), "2".into()),
        ]);
        assert_eq!(reply.to_string(), "ok led=status freq=2");
        assert_eq!(Reply::parse(&reply.to_string()).unwrap(), reply);
        let error = Reply::Err(OrderError::new(ErrorKind::UnknownLed, "no LED named 'x'"));
        assert_eq!(error.to_string(), "err unknown-led: no LED named 'x'");
        assert_eq!(Reply::parse(&error.to_string()).unwrap(), error);
        assert!(Reply::parse("hello").is_err());
        assert!(Reply::parse("err nonsense: x").is_err());
    }

    fn order_strategy() -> impl Strategy<Value = Order> {
        let led = proptest::option::of(
            "[a-z][a-z0-9_-]{0,10}".prop_filter("numeric word", |s| as_number(s).is_none()),
        );
        let step = (0u32..=255, 0u32..=100_000).prop_map(|(brightness, duration_ms)| PatternStep {
            brightness,
            duration_ms,
        });
        prop_oneof![
            (led.clone(), MIN_FREQ_HZ..=MAX_FREQ_HZ, MIN_DUTY..=MAX_DUTY).prop_map(
                |(led, freq_hz, duty_percent)| Order::Blink {
                    led,
                    freq_hz,
                    duty_percent
                }
            ),
            (led.clone(), proptest::option::of(1u32..100_000))
                .prop_map(|(led, brightness)| Order::On { led, brightness }),
            led.clone().prop_map(|led| Order::Off { led }),
            led.clone().prop_map(|led| Order::Heartbeat { led }),
            (
                led.clone(),
                proptest::collection::vec(step, MIN_PATTERN_STEPS..20),
                prop_oneof![Just(-1), 1i32..1000]
            )
                .prop_map(|(led, steps, repeat)| Order::Pattern { led, steps, repeat }),
            (led.clone(), "[a-z][a-z0-9-]{0,12}")
                .prop_map(|(led, name)| Order::Trigger { led, name }),
            led.prop_map(|led| Order::Status { led }),
            Just(Order::List),
            Just(Order::Version),
        ]
    }

    proptest! {
        #[test]
        fn format_then_parse_gives_the_order_back(order in order_strategy()) {
            let line = order.to_string();
            prop_assert_eq!(Order::parse(&line).unwrap(), order, "line: {}", line);
        }

        #[test]
        fn no_line_makes_the_parser_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let line = String::from_utf8_lossy(&bytes);
            if let Err(error) = Order::parse(&line) {
                let reply = Reply::Err(error).to_string();
                prop_assert!(!reply.contains('\n'));
            }
        }

        #[test]
        fn wordy_lines_never_panic(line in "(blink|on|off|pattern|trigger|status|clignote) ?[ a-z0-9:.=eE+-]{0,40}") {
            let _ = Order::parse(&line);
        }
    }
}
