//! Orders: what a client asks, parsed from one line and printed back.

use std::fmt;

use crate::timing::{format_duration, parse_duration};
use crate::verb::Verb;
use crate::{
    DEFAULT_BREATH_MS, DEFAULT_DUTY, DEFAULT_PRIORITY, DEFAULT_WPM, IDENTIFY_FOR_MS,
    IDENTIFY_FREQ_HZ, MAX_BREATH_MS, MAX_DUTY, MAX_FREQ_HZ, MAX_PATTERN_STEPS, MAX_PRIORITY,
    MAX_WPM, MIN_BREATH_MS, MIN_DUTY, MIN_FREQ_HZ, MIN_PATTERN_STEPS, MIN_WPM, OrderError,
    check_morse, quote,
};

/// One order, as a client sends it: a change of an LED, or a query that
/// only reads.
///
/// ```
/// use ledd_protocol::{Action, Change, Order, Query};
///
/// let order = Order::parse("on power 3").unwrap();
/// assert_eq!(
///     order,
///     Order::Change(Change {
///         led: Some("power".into()),
///         action: Action::On { brightness: Some(3) },
///         lease: None,
///     })
/// );
/// assert_eq!(Order::parse("version").unwrap(), Order::Query(Query::Version));
/// assert_eq!(Order::parse("blink 0").unwrap_err().kind.as_str(), "range");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Order {
    /// Changes an LED (`blink`, `on`, `off`, `heartbeat`, `pattern`, `trigger`).
    Change(Change),
    /// Only reads (`status`, `list`, `version`, `claims`).
    Query(Query),
    /// Ends claims (`release`).
    Release(Release),
}

/// An order that changes an LED. `led: None` means the default LED.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub led: Option<String>,
    pub action: Action,
    /// `None`: the order sets the LED's base state; else it is a claim that
    /// lasts as the lease says.
    pub lease: Option<Lease>,
}

/// How long a claim lasts and how it ranks: the trailing `for=DURATION`,
/// `hold` and `priority=N` of a change. At least one of `for_ms` and `hold`
/// is set; with both, the claim ends at whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// `for=DURATION`, in milliseconds.
    pub for_ms: Option<u64>,
    /// `hold`: until the connection that placed it closes.
    pub hold: bool,
    /// 0 to [`MAX_PRIORITY`]; the highest live claim is shown.
    pub priority: u8,
}

/// `release [LED] [ID|all]`. `led: None` means every LED.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub led: Option<String>,
    pub which: Which,
}

/// Which claims a [`Release`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The caller's own.
    Own,
    /// One claim, by id.
    Id(u64),
    /// Every claim the caller may end.
    All,
}

/// What a [`Change`] does to its LED.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Blink {
        freq_hz: f64,
        duty_percent: f64,
    },
    On {
        brightness: Option<u32>,
    },
    Off,
    Heartbeat,
    Pattern {
        steps: Vec<PatternStep>,
        repeat: i32,
    },
    Trigger {
        name: String,
    },
    /// A smooth rise and fall, `period_ms` long, by the pattern trigger.
    Breathe {
        period_ms: u64,
    },
    /// Morse code played by the kernel's pattern trigger (`morse`, `sos`).
    Morse {
        /// Upper-case words, each with a code (checked).
        words: Vec<String>,
        wpm: u32,
        repeat: i32,
    },
}

/// An order that only reads. `led: None` means the default LED.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Status {
        led: Option<String>,
    },
    List,
    Version,
    /// `claims [LED]`; `led: None` means every LED.
    Claims {
        led: Option<String>,
    },
    /// `watch [LED...]`: the connection becomes a stream of events about
    /// these LEDs (none named: every configured LED).
    Watch {
        leds: Vec<String>,
    },
}

/// One step of a kernel pattern: hold `brightness` for `duration_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PatternStep {
    pub brightness: u32,
    pub duration_ms: u32,
}

impl Action {
    /// The order word of this action.
    pub fn verb(&self) -> Verb {
        match self {
            Action::Blink { .. } => Verb::Blink,
            Action::On { .. } => Verb::On,
            Action::Off => Verb::Off,
            Action::Heartbeat => Verb::Heartbeat,
            Action::Pattern { .. } => Verb::Pattern,
            Action::Trigger { .. } => Verb::Trigger,
            Action::Morse { .. } => Verb::Morse,
            Action::Breathe { .. } => Verb::Breathe,
        }
    }
}

impl Query {
    /// The order word of this query.
    pub fn verb(&self) -> Verb {
        match self {
            Query::Status { .. } => Verb::Status,
            Query::List => Verb::List,
            Query::Version => Verb::Version,
            Query::Claims { .. } => Verb::Claims,
            Query::Watch { .. } => Verb::Watch,
        }
    }
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
        let verb = Verb::from_word(first).ok_or_else(|| {
            let orders: Vec<&str> = Verb::ALL.iter().map(|v| v.name()).collect();
            OrderError::usage(format!(
                "unknown order '{}'; orders: {}",
                quote(first),
                orders.join(", ")
            ))
        })?;
        let args: Vec<&str> = words.collect();
        let (args, modifiers) = Modifiers::split(&args)?;
        modifiers.apply(verb, parse_words(verb, args)?)
    }
}

/// Parses the words of an order after its verb, modifiers taken off.
fn parse_words(verb: Verb, args: &[&str]) -> Result<Order, OrderError> {
    let too_many = || OrderError::usage(format!("too many arguments; usage: {}", verb.usage()));
    // An optional leading LED name is any word that is not a number or a
    // pattern step; whether it names a configured LED is the daemon's
    // business (valid names start with a letter, see is_valid_led_name).
    if verb == Verb::Release {
        return parse_release(args);
    }
    let (led, rest) = split_led(verb, args);
    let change = |action| {
        Ok(Order::Change(Change {
            led: led.clone(),
            action,
            lease: None,
        }))
    };
    match verb {
        Verb::Blink => {
            let (freq, duty) = match rest {
                [freq] => (freq, None),
                [freq, duty] => (freq, Some(duty)),
                [] => {
                    return Err(OrderError::usage(format!(
                        "blink needs a frequency in Hz; usage: {}",
                        verb.usage()
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
            change(Action::Blink {
                freq_hz,
                duty_percent,
            })
        }
        Verb::On => {
            let brightness = match rest {
                [] => None,
                [level] => {
                    let value: u32 = level.parse().map_err(|_| {
                        OrderError::usage(format!(
                            "brightness '{}' is not a whole number; usage: {}",
                            quote(level),
                            verb.usage()
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
            change(Action::On { brightness })
        }
        Verb::Pattern => {
            let (steps, repeat) = parse_pattern(rest)?;
            change(Action::Pattern { steps, repeat })
        }
        Verb::Trigger => match rest {
            [name] if is_valid_trigger_name(name) => change(Action::Trigger {
                name: (*name).to_string(),
            }),
            [name] => Err(OrderError::usage(format!(
                "'{}' is not a kernel trigger name",
                quote(name)
            ))),
            [] => Err(OrderError::usage(format!(
                "trigger needs a kernel trigger name; usage: {}",
                verb.usage()
            ))),
            _ => Err(too_many()),
        },
        Verb::Breathe => {
            let period_ms = match rest {
                [] => DEFAULT_BREATH_MS,
                [period] => parse_duration(period)
                    .ok()
                    .filter(|ms| (MIN_BREATH_MS..=MAX_BREATH_MS).contains(ms))
                    .ok_or_else(|| {
                        OrderError::range(format!(
                            "period '{}' is not a duration from 1s to 1m (2500ms, 4s)",
                            quote(period)
                        ))
                    })?,
                _ => return Err(too_many()),
            };
            change(Action::Breathe { period_ms })
        }
        Verb::Release => parse_release(args),
        Verb::Watch => parse_watch(args),
        Verb::Morse | Verb::Sos => parse_morse(verb, args),
        Verb::List | Verb::Version if !args.is_empty() => Err(too_many()),
        Verb::Off
        | Verb::Heartbeat
        | Verb::Identify
        | Verb::Status
        | Verb::List
        | Verb::Version
        | Verb::Claims => {
            if !rest.is_empty() {
                return Err(match led {
                    // `off 2`: the word after the verb is not an LED name.
                    None => OrderError::usage(format!(
                        "'{}' is not an LED name; usage: {}",
                        quote(rest[0]),
                        verb.usage()
                    )),
                    Some(_) => too_many(),
                });
            }
            match verb {
                Verb::Off => change(Action::Off),
                Verb::Heartbeat => change(Action::Heartbeat),
                Verb::Identify => change(Action::Blink {
                    freq_hz: IDENTIFY_FREQ_HZ,
                    duty_percent: DEFAULT_DUTY,
                }),
                Verb::Status => Ok(Order::Query(Query::Status { led })),
                Verb::Claims => Ok(Order::Query(Query::Claims { led })),
                Verb::List => Ok(Order::Query(Query::List)),
                _ => Ok(Order::Query(Query::Version)),
            }
        }
    }
}

impl Order {
    /// The LED the order names, if any (`None`: the default LED, or no LED).
    pub fn led(&self) -> Option<&str> {
        match self {
            Order::Change(change) => change.led.as_deref(),
            Order::Query(Query::Status { led } | Query::Claims { led }) => led.as_deref(),
            Order::Query(Query::List | Query::Version | Query::Watch { .. }) => None,
            Order::Release(release) => release.led.as_deref(),
        }
    }

    /// The order word of this order.
    pub fn verb(&self) -> Verb {
        match self {
            Order::Change(change) => change.action.verb(),
            Order::Query(query) => query.verb(),
            Order::Release(_) => Verb::Release,
        }
    }
}

impl From<Change> for Order {
    fn from(change: Change) -> Order {
        Order::Change(change)
    }
}

impl From<Query> for Order {
    fn from(query: Query) -> Order {
        Order::Query(query)
    }
}

/// Formats an order in its canonical form, which [`Order::parse`] reads back.
impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Order::Change(change) => change.fmt(f),
            Order::Query(query) => query.fmt(f),
            Order::Release(release) => release.fmt(f),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.action.verb().name())?;
        if let Some(led) = &self.led {
            write!(f, " {led}")?;
        }
        match &self.action {
            Action::Blink {
                freq_hz,
                duty_percent,
            } => {
                write!(f, " {freq_hz}")?;
                if *duty_percent != DEFAULT_DUTY {
                    write!(f, " {duty_percent}")?;
                }
            }
            Action::On {
                brightness: Some(level),
            } => write!(f, " {level}")?,
            Action::Pattern { steps, repeat } => {
                for step in steps {
                    write!(f, " {}:{}", step.brightness, step.duration_ms)?;
                }
                if *repeat != -1 {
                    write!(f, " repeat={repeat}")?;
                }
            }
            Action::Trigger { name } => write!(f, " {name}")?,
            Action::Breathe { period_ms } => {
                if *period_ms != DEFAULT_BREATH_MS {
                    write!(f, " {}", format_duration(*period_ms))?;
                }
            }
            Action::Morse { words, wpm, repeat } => {
                write!(f, " {}", words.join(" "))?;
                if *wpm != DEFAULT_WPM {
                    write!(f, " wpm={wpm}")?;
                }
                if *repeat != -1 {
                    write!(f, " repeat={repeat}")?;
                }
            }
            Action::On { brightness: None } | Action::Off | Action::Heartbeat => {}
        }
        if let Some(lease) = &self.lease {
            if let Some(ms) = lease.for_ms {
                write!(f, " for={}", format_duration(ms))?;
            }
            if lease.hold {
                f.write_str(" hold")?;
            }
            if lease.priority != DEFAULT_PRIORITY {
                write!(f, " priority={}", lease.priority)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Verb::Release.name())?;
        if let Some(led) = &self.led {
            write!(f, " {led}")?;
        }
        match self.which {
            Which::Own => Ok(()),
            Which::Id(id) => write!(f, " {id}"),
            Which::All => f.write_str(" all"),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb().name())?;
        if let Query::Status { led: Some(led) } | Query::Claims { led: Some(led) } = self {
            write!(f, " {led}")?;
        }
        if let Query::Watch { leds } = self {
            for led in leds {
                write!(f, " {led}")?;
            }
        }
        Ok(())
    }
}

/// `watch [LED...]`: LED names only, each once, in the order given.
fn parse_watch(args: &[&str]) -> Result<Order, OrderError> {
    let mut leds: Vec<String> = Vec::new();
    for word in args {
        if !crate::is_valid_led_name(word) {
            return Err(OrderError::usage(format!(
                "'{}' is not an LED name; usage: {}",
                quote(word),
                Verb::Watch.usage()
            )));
        }
        if !leds.iter().any(|led| led == word) {
            leds.push(word.to_string());
        }
    }
    Ok(Order::Query(Query::Watch { leds }))
}

/// The trailing `for=DURATION`, `hold` and `priority=N` of an order, in any order.
#[derive(Default)]
struct Modifiers {
    for_ms: Option<u64>,
    hold: bool,
    priority: Option<u8>,
}

impl Modifiers {
    /// Takes the modifiers off the end of `args`.
    fn split<'a>(args: &'a [&'a str]) -> Result<(&'a [&'a str], Modifiers), OrderError> {
        let mut modifiers = Modifiers::default();
        let mut end = args.len();
        while let Some(word) = end.checked_sub(1).map(|last| args[last]) {
            let twice = || OrderError::usage(format!("'{}' is given twice", quote(word)));
            if let Some(duration) = word.strip_prefix("for=") {
                if modifiers.for_ms.is_some() {
                    return Err(twice());
                }
                modifiers.for_ms = Some(parse_duration(duration)?);
            } else if word == "hold" {
                if modifiers.hold {
                    return Err(twice());
                }
                modifiers.hold = true;
            } else if let Some(level) = word.strip_prefix("priority=") {
                if modifiers.priority.is_some() {
                    return Err(twice());
                }
                modifiers.priority = Some(parse_priority(level)?);
            } else {
                break;
            }
            end -= 1;
        }
        Ok((&args[..end], modifiers))
    }

    /// Gives a change its lease; a query or release cannot take one.
    fn apply(self, verb: Verb, order: Order) -> Result<Order, OrderError> {
        let given = self.for_ms.is_some() || self.hold || self.priority.is_some();
        let mut change = match order {
            Order::Change(change) => change,
            other if !given => return Ok(other),
            _ => {
                return Err(OrderError::usage(format!(
                    "{verb} takes no for=, hold or priority=; usage: {}",
                    verb.usage()
                )));
            }
        };
        if verb == Verb::Identify {
            // "Find this device": on top of everything, for a while.
            change.lease = Some(Lease {
                for_ms: self.for_ms.or((!self.hold).then_some(IDENTIFY_FOR_MS)),
                hold: self.hold,
                priority: self.priority.unwrap_or(MAX_PRIORITY),
            });
            return Ok(Order::Change(change));
        }
        if self.for_ms.is_none() && !self.hold {
            if self.priority.is_some() {
                return Err(OrderError::usage(
                    "priority=N ranks a claim: add for=DURATION or hold",
                ));
            }
            return Ok(Order::Change(change));
        }
        change.lease = Some(Lease {
            for_ms: self.for_ms,
            hold: self.hold,
            priority: self.priority.unwrap_or(DEFAULT_PRIORITY),
        });
        Ok(Order::Change(change))
    }
}

fn parse_priority(text: &str) -> Result<u8, OrderError> {
    let value: u64 = text.parse().map_err(|_| {
        OrderError::usage(format!(
            "priority '{}' is not a whole number (0 to {MAX_PRIORITY})",
            quote(text)
        ))
    })?;
    u8::try_from(value)
        .ok()
        .filter(|level| *level <= MAX_PRIORITY)
        .ok_or_else(|| {
            OrderError::range(format!(
                "priority {value} is out of range (0 to {MAX_PRIORITY})"
            ))
        })
}

/// `morse [LED] TEXT... [wpm=N] [repeat=N]` and `sos [LED] [wpm=N]`. With
/// one word of text, it is the text; with more, the first is the LED (as
/// for `trigger`).
fn parse_morse(verb: Verb, args: &[&str]) -> Result<Order, OrderError> {
    let mut wpm = DEFAULT_WPM;
    let mut repeat = -1;
    let mut end = args.len();
    while let Some(word) = end.checked_sub(1).map(|last| args[last]) {
        if let Some(count) = word.strip_prefix("wpm=") {
            wpm = count
                .parse()
                .ok()
                .filter(|wpm| (MIN_WPM..=MAX_WPM).contains(wpm))
                .ok_or_else(|| {
                    OrderError::range(format!(
                        "wpm '{}' is not a whole number from {MIN_WPM} to {MAX_WPM}",
                        quote(count)
                    ))
                })?;
        } else if let Some(count) = word.strip_prefix("repeat=").filter(|_| verb == Verb::Morse) {
            repeat = parse_repeat(count)?;
        } else {
            break;
        }
        end -= 1;
    }
    let args = &args[..end];
    let (led, text): (Option<String>, Vec<&str>) = match (verb, args) {
        (Verb::Sos, []) => (None, vec!["SOS"]),
        (Verb::Sos, [led]) => (Some((*led).to_string()), vec!["SOS"]),
        (Verb::Sos, _) => {
            return Err(OrderError::usage(format!(
                "too many arguments; usage: {}",
                verb.usage()
            )));
        }
        (_, []) => {
            return Err(OrderError::usage(format!(
                "morse needs a text; usage: {}",
                verb.usage()
            )));
        }
        (_, [text]) => (None, vec![*text]),
        (_, [led, text @ ..]) => (Some((*led).to_string()), text.to_vec()),
    };
    if let Some(name) = led
        .as_deref()
        .filter(|name| !crate::is_valid_led_name(name))
    {
        return Err(OrderError::usage(format!(
            "'{}' is not an LED name; usage: {}",
            quote(name),
            verb.usage()
        )));
    }
    check_morse(&text)?;
    Ok(Order::Change(Change {
        led,
        action: Action::Morse {
            words: text.iter().map(|w| w.to_ascii_uppercase()).collect(),
            wpm,
            repeat,
        },
        lease: None,
    }))
}

/// `repeat=N`: -1 (forever) or a positive count.
fn parse_repeat(count: &str) -> Result<i32, OrderError> {
    let repeat: i32 = count.parse().map_err(|_| {
        OrderError::usage(format!("repeat '{}' is not a whole number", quote(count)))
    })?;
    if repeat == 0 || repeat < -1 {
        return Err(OrderError::range(
            "repeat must be -1 (forever) or a positive count",
        ));
    }
    Ok(repeat)
}

/// `release [LED] [ID|all]`: `all` and numbers are never LED names.
fn parse_release(args: &[&str]) -> Result<Order, OrderError> {
    let which = |word: &str| -> Result<Which, OrderError> {
        if word == "all" {
            return Ok(Which::All);
        }
        word.parse().map(Which::Id).map_err(|_| {
            OrderError::usage(format!(
                "'{}' is not a claim id or 'all'; usage: {}",
                quote(word),
                Verb::Release.usage()
            ))
        })
    };
    let (led, which) = match args {
        [] => (None, Which::Own),
        [word] if *word == "all" || word.parse::<u64>().is_ok() => (None, which(word)?),
        [led] => (Some((*led).to_string()), Which::Own),
        [led, word] => (Some((*led).to_string()), which(word)?),
        _ => {
            return Err(OrderError::usage(format!(
                "too many arguments; usage: {}",
                Verb::Release.usage()
            )));
        }
    };
    Ok(Order::Release(Release { led, which }))
}

fn split_led<'a>(verb: Verb, args: &'a [&'a str]) -> (Option<String>, &'a [&'a str]) {
    match args.split_first() {
        Some((first, rest))
            if verb.takes_led()
                && as_number(first).is_none()
                && !first.contains(':')
                && !first.starts_with("repeat=")
                // `breathe 4s`: LED names start with a letter.
                && !(verb == Verb::Breathe && first.starts_with(|c: char| c.is_ascii_digit()))
                // `trigger NAME` alone names a trigger, not an LED.
                && !(verb == Verb::Trigger && rest.is_empty()) =>
        {
            (Some((*first).to_string()), rest)
        }
        _ => (None, args),
    }
}

/// Reads a decimal number; a decimal comma (`2,5`, as French speakers write it) is accepted too.
pub(crate) fn as_number(text: &str) -> Option<f64> {
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

fn parse_pattern(args: &[&str]) -> Result<(Vec<PatternStep>, i32), OrderError> {
    let mut steps = Vec::new();
    let mut repeat = -1;
    for (index, word) in args.iter().enumerate() {
        if let Some(count) = word.strip_prefix("repeat=") {
            if index + 1 != args.len() {
                return Err(OrderError::usage("repeat=N must come last"));
            }
            repeat = parse_repeat(count)?;
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
            Verb::Pattern.usage()
        )));
    }
    Ok((steps, repeat))
}

/// Kernel trigger names are short words (`timer`, `mmc0`, `kbd-capslock`, `phy0tx`).
fn is_valid_trigger_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
}
