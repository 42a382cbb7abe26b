//! ledd's order protocol (protocol 1): orders, replies, error kinds, blink
//! timing arithmetic and events. Pure parsing and formatting: no I/O, no
//! sysfs, no sockets. The daemon, `ledctl` and every other client share it;
//! ledd-protocol(7) documents the same protocol for people.
//!
//! One order per line, one reply per order: `ok key=value ...` or
//! `err KIND: message`.
//!
//! ```
//! use ledd_protocol::{Change, Action, Order, Query, Reply};
//!
//! // A client's line becomes an order: a change of an LED, or a query.
//! let order = Order::parse("clignote power 2").unwrap();
//! assert!(matches!(order, Order::Change(Change { action: Action::Blink { .. }, .. })));
//! assert_eq!(order.to_string(), "blink power 2");
//! assert_eq!(Order::parse("status").unwrap(), Order::Query(Query::Status { led: None }));
//!
//! // A reply line, as the daemon writes it and a client reads it.
//! let reply = Reply::parse("ok led=power mode=blink freq=2").unwrap();
//! assert_eq!(reply.field("freq"), Some("2"));
//! ```

mod event;
mod morse;
mod order;
mod reply;
mod timing;
mod verb;

pub use event::Event;
pub use morse::{DEFAULT_WPM, MAX_WPM, MIN_WPM, check_morse, morse_steps};
pub use order::{Action, Change, Lease, Order, PatternStep, Query, Release, Which};
pub use reply::{ErrorKind, FieldType, OrderError, Reply, field_type, format_number};
pub use timing::{BlinkTiming, format_duration, parse_duration};
pub use verb::{Verb, canonical_verb, usage_of};

/// Version of the line protocol spoken on the socket.
pub const PROTOCOL_VERSION: u32 = 1;
/// Where ledd listens unless configured otherwise, and where clients look first.
pub const DEFAULT_SOCKET: &str = "/run/ledd/ledd.sock";
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
/// step that holds its brightness takes two (see ledd's `led::kernel_pattern`).
pub const MIN_PATTERN_STEPS: usize = 2;
pub const MAX_PATTERN_STEPS: usize = 512;
/// Bounds of a claim's `for=DURATION`, in milliseconds: 100 ms to 7 days.
pub const MIN_CLAIM_MS: u64 = 100;
pub const MAX_CLAIM_MS: u64 = 7 * 24 * 3600 * 1000;
/// A claim's `priority=N`: 0 to 9, 5 unless given.
pub const DEFAULT_PRIORITY: u8 = 5;
pub const MAX_PRIORITY: u8 = 9;
/// `identify`: a fast blink at the highest priority, 30 s unless told.
pub const IDENTIFY_FREQ_HZ: f64 = 5.0;
pub const IDENTIFY_FOR_MS: u64 = 30_000;
/// `breathe`'s period: 1 s to 1 min, 4 s unless given. (The kernel updates
/// a fading brightness every 50 ms.)
pub const MIN_BREATH_MS: u64 = 1000;
pub const MAX_BREATH_MS: u64 = 60_000;
pub const DEFAULT_BREATH_MS: u64 = 4000;
/// Longest logical LED name.
pub const MAX_LED_NAME: usize = 64;

/// Words that orders give a meaning of their own (`release all`, a trailing
/// `hold`): never LED names, or `watch a hold` could not be told from a
/// `watch a` that holds.
pub const RESERVED_WORDS: [&str; 2] = ["all", "hold"];

/// Whether `name` is a valid logical LED name: an ASCII letter, then letters,
/// digits, `_` or `-`, and not one of the [`RESERVED_WORDS`]. Starting with
/// a letter keeps names apart from numbers and pattern steps, so `blink 2`
/// and `blink status 2` cannot be confused.
///
/// ```
/// assert!(ledd_protocol::is_valid_led_name("status"));
/// assert!(!ledd_protocol::is_valid_led_name("2nd"));
/// assert!(!ledd_protocol::is_valid_led_name("hold"));
/// ```
pub fn is_valid_led_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= MAX_LED_NAME
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !RESERVED_WORDS.contains(&name)
}

/// Makes any client-supplied text safe to echo inside one reply or log line:
/// control characters escaped, at most 64 characters kept.
///
/// ```
/// assert_eq!(ledd_protocol::quote("a\nb"), "a\\nb");
/// ```
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

#[cfg(test)]
mod tests;
