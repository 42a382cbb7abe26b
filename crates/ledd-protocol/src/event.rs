//! Events: after `watch`, ledd sends an `event key=value ...` line each
//! time what a watched LED shows changes (ledd-protocol(7), EVENTS).

use std::fmt;

use crate::reply::{parse_fields, write_fields};

/// One event line: `event` then `key=value` fields, as in an `ok` reply
/// (same field names, same [`field_type`](crate::field_type)s, same rule:
/// no value holds a space or a line break). An event names its LED first
/// (`led=NAME`), then what it is now (`mode=...` and the `status` fields).
///
/// ```
/// use ledd_protocol::Event;
///
/// let event = Event::new(vec![("led".into(), "power".into()), ("mode".into(), "off".into())]);
/// assert_eq!(event.to_string(), "event led=power mode=off");
/// assert_eq!(Event::parse("event led=power mode=off").unwrap(), event);
/// assert_eq!(event.field("led"), Some("power"));
/// // A reply is not an event: a client tells them apart by the first word.
/// assert!(Event::parse("ok led=power").is_err());
/// assert!(Event::is_event("event led=power"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub fields: Vec<(String, String)>,
}

impl Event {
    pub fn new(fields: Vec<(String, String)>) -> Event {
        Event { fields }
    }

    /// Whether a line from ledd is an event (rather than a reply).
    pub fn is_event(line: &str) -> bool {
        line == "event" || line.starts_with("event ")
    }

    /// Parses an event line (without its newline).
    pub fn parse(line: &str) -> Result<Event, String> {
        if line == "event" {
            return Ok(Event::new(Vec::new()));
        }
        match line.strip_prefix("event ") {
            Some(rest) => Ok(Event::new(
                parse_fields(rest).map_err(|e| format!("event {e}"))?,
            )),
            None => Err(format!("not a ledd event: {}", crate::quote(line))),
        }
    }

    /// The value of a field.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Formats an event as one line, without its newline.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("event")?;
        write_fields(f, &self.fields)
    }
}
