//! How ledctl shows a reply: in words for people, or as JSON for scripts.
//! Talking to ledd is the `ledd-client` crate's job; which fields are
//! numbers, booleans or lists is the protocol's ([`field_type`]).

use crate::protocol::{Event, FieldType, Reply, field_type};

/// The reply as JSON: `{"ok":true, FIELD: VALUE, ...}` or
/// `{"ok":false,"error":{"kind":KIND,"message":MESSAGE}}`.
pub fn to_json(reply: &Reply) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    match reply {
        Reply::Ok(fields) => {
            let mut object = Map::new();
            object.insert("ok".into(), Value::Bool(true));
            for (key, value) in fields {
                let typed = match field_type(key) {
                    // Whole numbers stay integers; others become floats.
                    FieldType::Number => value
                        .parse::<i64>()
                        .map(Value::from)
                        .ok()
                        .or_else(|| {
                            value
                                .parse::<f64>()
                                .ok()
                                .and_then(serde_json::Number::from_f64)
                                .map(Value::Number)
                        })
                        .unwrap_or_else(|| Value::String(value.clone())),
                    FieldType::Boolean => Value::Bool(value == "yes"),
                    FieldType::List => Value::Array(
                        value
                            .split(',')
                            .filter(|v| !v.is_empty())
                            .map(|v| Value::String(v.to_string()))
                            .collect(),
                    ),
                    FieldType::Text => Value::String(value.clone()),
                };
                object.insert(key.clone(), typed);
            }
            Value::Object(object)
        }
        Reply::Err(error) => json!({
            "ok": false,
            "error": {"kind": error.kind.as_str(), "message": error.message},
        }),
    }
}

/// A `watch` event as JSON: the fields typed as in a reply's, and
/// `"event": true` where a reply has `"ok"`.
pub fn event_to_json(event: &Event) -> serde_json::Value {
    let mut value = to_json(&Reply::Ok(event.fields.clone()));
    if let Some(object) = value.as_object_mut() {
        object.remove("ok");
        object.insert("event".into(), serde_json::Value::Bool(true));
    }
    value
}

/// A `watch` event in words, on one line: what the LED shows, and whether
/// a claim (not the base state) is what shows.
pub fn event_to_text(event: &Event) -> String {
    let reply = Reply::Ok(event.fields.clone());
    let mut line = summary(&reply);
    if let Some(claim) = event
        .field("claim")
        .filter(|_| event.field("shown") == Some("claim"))
    {
        line.push_str(&format!(" (claim {claim})"));
    }
    line
}

/// `claims`' list, one claim a line: `ID:LED:PRIORITY:UID:PID:LEFT:ORDER`
/// (ledd-protocol(7)) in words.
fn claims_text(live: &str) -> String {
    if live.is_empty() {
        return "no claims".into();
    }
    live.split(',')
        .map(|claim| match claim.splitn(7, ':').collect::<Vec<_>>()[..] {
            [id, led, priority, uid, pid, left, order] => {
                let left = if left == "hold" {
                    "while its client is connected".to_string()
                } else {
                    format!("{left} left")
                };
                format!(
                    "claim {id} on {led}: {} (priority {priority}, uid {uid}, pid {pid}, {left})",
                    order.replace('_', " ")
                )
            }
            _ => claim.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The reply in words, for people.
pub fn to_text(reply: &Reply) -> String {
    let summary = summary(reply);
    // status: the summary, then every field the kernel reported.
    if let (Some(_), Reply::Ok(fields)) = (reply.field("exists"), reply) {
        let details: Vec<String> = fields
            .iter()
            .filter(|(k, _)| k != "led")
            .map(|(k, v)| format!("  {k}: {v}"))
            .collect();
        return format!("{summary}\n{}", details.join("\n"));
    }
    summary
}

/// The first line of [`to_text`]: what the reply says, in words.
fn summary(reply: &Reply) -> String {
    let get = |key: &str| reply.field(key).unwrap_or("");
    if let Some(live) = reply.field("live") {
        return claims_text(live);
    }
    let led = get("led");
    let mode = get("mode");
    match mode {
        "blink" => format!(
            "{led}: blinking at {} Hz (duty {} %, on {} ms / off {} ms)",
            get("freq"),
            get("duty"),
            get("delay_on"),
            get("delay_off")
        ),
        "on" => {
            let clamped = if get("clamped") == "yes" {
                format!(" (asked {}, clamped to max_brightness)", get("requested"))
            } else {
                String::new()
            };
            format!("{led}: on at brightness {}{clamped}", get("brightness"))
        }
        "off" => format!("{led}: off"),
        "heartbeat" => format!("{led}: heartbeat"),
        "breathe" => format!("{led}: breathing every {}", get("period")),
        "pattern" if reply.field("morse").is_some() => format!(
            "{led}: Morse code {} at {} wpm (repeat {})",
            get("morse").replace('_', " "),
            get("wpm"),
            get("repeat")
        ),
        "pattern" => format!(
            "{led}: playing a pattern ({} steps, repeat {})",
            get("steps"),
            get("repeat")
        ),
        "trigger" => format!("{led}: following kernel trigger {}", get("trigger")),
        "unknown" => match reply.field("error") {
            // The last event of an LED that a reload of ledd removed.
            Some("unknown-led") => format!("{led}: no longer in ledd's configuration"),
            Some(kind) => format!("{led}: state unknown ({kind})"),
            None => format!("{led}: no device ({} not found)", get("device")),
        },
        _ => match reply {
            Reply::Ok(fields) => fields
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            Reply::Err(error) => error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_are_typed() {
        let reply = Reply::parse("ok led=status mode=blink freq=2.994 duty=50 exists=yes").unwrap();
        assert_eq!(
            to_json(&reply),
            serde_json::json!({"ok":true,"led":"status","mode":"blink","freq":2.994,"duty":50,"exists":true})
        );
        assert!(to_json(&reply)["duty"].is_i64());
        let reply = Reply::parse("ok leds=power,status default=status").unwrap();
        assert_eq!(
            to_json(&reply)["leds"],
            serde_json::json!(["power", "status"])
        );
        let reply = Reply::parse("err range: frequency 0 Hz is out of range").unwrap();
        assert_eq!(to_json(&reply)["error"]["kind"], "range");
    }

    #[test]
    fn text_for_people() {
        let reply =
            Reply::parse("ok led=status mode=blink freq=2 duty=50 delay_on=250 delay_off=250")
                .unwrap();
        assert_eq!(
            to_text(&reply),
            "status: blinking at 2 Hz (duty 50 %, on 250 ms / off 250 ms)"
        );
        let reply = Reply::parse("ok version=0.1.0 protocol=1").unwrap();
        assert_eq!(to_text(&reply), "version: 0.1.0\nprotocol: 1");
        let reply = Reply::parse(
            "ok count=2 live=3:status:9:1000:42:30s:blink_5_for=30s_priority=9,4:power:5:0:7:hold:pattern_1:100_0:100_hold",
        )
        .unwrap();
        assert_eq!(
            to_text(&reply),
            "claim 3 on status: blink 5 for=30s priority=9 (priority 9, uid 1000, pid 42, 30s left)\n\
             claim 4 on power: pattern 1:100 0:100 hold (priority 5, uid 0, pid 7, while its client is connected)"
        );
        let reply = Reply::parse("ok count=0 live=").unwrap();
        assert_eq!(to_text(&reply), "no claims");
    }

    #[test]
    fn events_of_missing_and_removed_leds_in_words() {
        let text = |line: &str| event_to_text(&Event::parse(line).unwrap());
        assert_eq!(
            text("event led=ghost device=nowhere exists=no mode=unknown"),
            "ghost: no device (nowhere not found)"
        );
        assert_eq!(
            text("event led=ghost exists=no mode=unknown error=unknown-led"),
            "ghost: no longer in ledd's configuration"
        );
        assert_eq!(
            text("event led=power exists=no mode=unknown error=io"),
            "power: state unknown (io)"
        );
        assert_eq!(
            text("event led=power device=PWR exists=yes mode=on brightness=9 shown=claim claim=4"),
            "power: on at brightness 9 (claim 4)"
        );
    }
}
