//! How ledctl shows a reply: in words for people, or as JSON for scripts.
//! Talking to ledd is the `ledd-client` crate's job; which fields are
//! numbers, booleans or lists is the protocol's ([`field_type`]).

use crate::protocol::{FieldType, Reply, field_type};

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

/// The reply in words, for people.
pub fn to_text(reply: &Reply) -> String {
    let get = |key: &str| reply.field(key).unwrap_or("");
    let led = get("led");
    let mode = get("mode");
    let summary = match mode {
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
        "pattern" => format!(
            "{led}: playing a pattern ({} steps, repeat {})",
            get("steps"),
            get("repeat")
        ),
        "trigger" => format!("{led}: following kernel trigger {}", get("trigger")),
        "unknown" => format!("{led}: no device ({} not found)", get("device")),
        _ => match reply {
            Reply::Ok(fields) => fields
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            Reply::Err(error) => error.to_string(),
        },
    };
    // status: the summary, then every field the kernel reported.
    // (No let chain: the package builds with Debian 13's rustc 1.85.)
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
    }
}
