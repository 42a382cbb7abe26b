//! The timer trigger's arithmetic: from a frequency and duty to delays, and
//! back; and the durations of claims (`for=10s`).

use crate::{MAX_CLAIM_MS, MIN_CLAIM_MS, OrderError, quote};

/// The units of a duration, largest first, in milliseconds.
const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// Reads `for=`'s DURATION: a whole number and a unit (`500ms`, `10s`, `2m`,
/// `1h`, `1d`), 100 ms to 7 days.
///
/// ```
/// use ledd_protocol::{format_duration, parse_duration};
///
/// assert_eq!(parse_duration("2m").unwrap(), 120_000);
/// assert_eq!(format_duration(90_000), "90s");
/// assert_eq!(parse_duration("10").unwrap_err().kind.as_str(), "usage");
/// assert_eq!(parse_duration("8d").unwrap_err().kind.as_str(), "range");
/// ```
pub fn parse_duration(text: &str) -> Result<u64, OrderError> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let malformed = || {
        OrderError::usage(format!(
            "duration '{}' is not a whole number with a unit (ms, s, m, h or d): 500ms, 10s, 2m, 1h",
            quote(text)
        ))
    };
    let scale = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, scale)| *scale)
        .ok_or_else(malformed)?;
    let count: u64 = number.parse().map_err(|_| malformed())?;
    count
        .checked_mul(scale)
        .filter(|ms| (MIN_CLAIM_MS..=MAX_CLAIM_MS).contains(ms))
        .ok_or_else(|| {
            OrderError::range(format!(
                "duration '{}' is out of range (100ms to 7d)",
                quote(text)
            ))
        })
}

/// A duration in the largest unit that says it exactly (`90s`, `2m`, `1500ms`).
pub fn format_duration(ms: u64) -> String {
    let (name, scale) = UNITS
        .iter()
        .find(|(_, scale)| ms % scale == 0 && ms >= *scale)
        .copied()
        .unwrap_or(("ms", 1));
    format!("{}{name}", ms / scale)
}

/// The timer trigger's delays for a frequency and duty, and what they give back.
///
/// ```
/// use ledd_protocol::{BlinkTiming, format_number};
///
/// let timing = BlinkTiming::from_freq(3.0, 50.0);
/// assert_eq!((timing.delay_on_ms, timing.delay_off_ms), (167, 167));
/// // Whole milliseconds: 3 Hz really is 2.994 Hz.
/// assert_eq!(format_number(timing.freq_hz()), "2.994");
/// ```
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
