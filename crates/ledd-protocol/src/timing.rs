//! The timer trigger's arithmetic: from a frequency and duty to delays, and back.

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
