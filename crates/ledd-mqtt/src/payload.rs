//! What travels in MQTT payloads: an order for one LED (protocol 1 text or
//! Home Assistant's JSON light command) turned into ledd's order line, and
//! what an LED shows turned into the retained `state` JSON. Pure: no I/O.

use ledd_protocol::{Change, ErrorKind, Event, MAX_LINE, Order, OrderError, Query, Release, quote};
use serde::Deserialize;
use serde_json::{Value, json};

/// Largest payload taken on a `set` topic: ledd's own line limit.
pub const MAX_PAYLOAD: usize = MAX_LINE;

/// The effects offered to Home Assistant, and the order each one is.
pub struct Effect {
    pub name: &'static str,
    pub order: &'static str,
    /// Only for LEDs with brightness levels (the kernel dims them).
    pub needs_levels: bool,
}

pub const EFFECTS: [Effect; 6] = [
    Effect {
        name: "blink",
        order: "blink 1",
        needs_levels: false,
    },
    Effect {
        name: "fast blink",
        order: "blink 5",
        needs_levels: false,
    },
    Effect {
        name: "heartbeat",
        order: "heartbeat",
        needs_levels: false,
    },
    Effect {
        name: "identify",
        order: "identify",
        needs_levels: false,
    },
    Effect {
        name: "sos",
        order: "sos",
        needs_levels: false,
    },
    Effect {
        name: "breathe",
        order: "breathe",
        needs_levels: true,
    },
];

/// Blinks at this rate or faster show as "fast blink".
const FAST_BLINK_HZ: f64 = 3.0;

/// The effect names an LED offers (`levels`: it has more than on and off).
pub fn effect_names(levels: bool) -> Vec<&'static str> {
    EFFECTS
        .iter()
        .filter(|effect| levels || !effect.needs_levels)
        .map(|effect| effect.name)
        .collect()
}

/// Home Assistant's JSON light command (schema `json`). Other keys it may
/// send (`transition`, `flash`, colours) are not for these LEDs: ignored.
#[derive(Deserialize)]
struct LightCommand {
    state: Option<String>,
    brightness: Option<u32>,
    effect: Option<String>,
}

/// Turns the payload of `P/…/L/set` into the order line for ledd, naming
/// `led`. The payload is an order of protocol 1 without the LED name
/// (`blink 2`, `off`, `identify for=30s`, `clignote 2`) or Home
/// Assistant's JSON (`{"state":"ON","effect":"blink"}`).
///
/// ```
/// use ledd_mqtt::payload::order_line;
///
/// assert_eq!(order_line("status", b"clignote 2").unwrap(), "blink status 2");
/// assert_eq!(order_line("status", br#"{"state":"OFF"}"#).unwrap(), "off status");
/// assert_eq!(order_line("status", b"blink").unwrap_err().kind.as_str(), "usage");
/// ```
pub fn order_line(led: &str, payload: &[u8]) -> Result<String, OrderError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(OrderError::new(
            ErrorKind::TooLong,
            format!(
                "the payload is {} bytes; at most {MAX_PAYLOAD} are taken",
                payload.len()
            ),
        ));
    }
    if !ledd_protocol::is_valid_led_name(led) {
        return Err(usage(format!(
            "'{}' in the topic is not an LED name (a letter, then letters, digits, '_' or '-')",
            quote(led)
        )));
    }
    let text =
        std::str::from_utf8(payload).map_err(|_| usage("the payload is not UTF-8 text".into()))?;
    if text.contains(['\n', '\r', '\0']) {
        return Err(usage(
            "one order per message: the payload holds a line break or NUL".into(),
        ));
    }
    let text = text.trim();
    let order = if text.starts_with('{') {
        light_command_order(text)?
    } else {
        text.to_string()
    };
    for_led(led, Order::parse(&order)?).map(|order| order.to_string())
}

/// The order that Home Assistant's JSON command stands for.
fn light_command_order(text: &str) -> Result<String, OrderError> {
    let command: LightCommand = serde_json::from_str(text).map_err(|error| {
        usage(format!(
            "not a light command ({error}); send {{\"state\":\"ON\"}} or an order such as blink 2"
        ))
    })?;
    let on = match command.state.as_deref() {
        Some("ON") | None => true,
        Some("OFF") => false,
        Some(other) => {
            return Err(usage(format!(
                "state '{}' is neither ON nor OFF",
                quote(other)
            )));
        }
    };
    if !on {
        return Ok("off".into());
    }
    if let Some(name) = command.effect {
        return EFFECTS
            .iter()
            .find(|effect| effect.name == name)
            .map(|effect| effect.order.to_string())
            .ok_or_else(|| {
                usage(format!(
                    "unknown effect '{}'; effects: {}",
                    quote(&name),
                    effect_names(true).join(", ")
                ))
            });
    }
    Ok(match command.brightness {
        Some(level) => format!("on {level}"),
        None => "on".into(),
    })
}

/// Names `led` in an order that came without an LED, and refuses what
/// makes no sense through a broker.
fn for_led(led: &str, order: Order) -> Result<Order, OrderError> {
    let led = Some(led.to_string());
    let named = || {
        usage(
            "the topic names the LED: leave it out of the payload (blink 2, not blink status 2)"
                .into(),
        )
    };
    match order {
        Order::Change(change) if change.led.is_some() => Err(named()),
        Order::Change(Change {
            lease: Some(lease), ..
        }) if lease.hold => Err(usage(
            "hold lasts as long as a connection, and a message has none: use for=DURATION".into(),
        )),
        Order::Change(change) => Ok(Order::Change(Change { led, ..change })),
        Order::Query(Query::Status { led: None }) => Ok(Order::Query(Query::Status { led })),
        Order::Query(Query::Claims { led: None }) => Ok(Order::Query(Query::Claims { led })),
        Order::Release(Release { led: None, which }) => Ok(Order::Release(Release { led, which })),
        Order::Query(Query::Status { .. } | Query::Claims { .. }) | Order::Release(_) => {
            Err(named())
        }
        Order::Query(query) => Err(usage(format!(
            "'{}' is not for one LED; over MQTT, send changes, status, claims or release",
            query.verb().name()
        ))),
    }
}

fn usage(message: String) -> OrderError {
    OrderError::new(ErrorKind::Usage, message)
}

/// The retained `state` JSON of an LED, from its latest `watch` event:
/// Home Assistant's fields (`state`, `color_mode`, `brightness`, `effect`)
/// and, under `ledd`, every field of the event, typed.
///
/// ```
/// use ledd_protocol::Event;
/// use ledd_mqtt::payload::state_json;
///
/// let event = Event::parse("event led=status exists=yes mode=blink freq=2 max_brightness=1").unwrap();
/// let state = state_json(&event);
/// assert_eq!(state["state"], "ON");
/// assert_eq!(state["effect"], "blink");
/// assert_eq!(state["ledd"]["freq"], 2);
/// ```
pub fn state_json(event: &Event) -> Value {
    let mode = event.field("mode").unwrap_or("unknown");
    let exists = event.field("exists") != Some("no");
    let on = exists && !matches!(mode, "off" | "unknown");
    let levels = has_levels(event);
    let effect = match mode {
        "blink" => {
            let freq: f64 = event
                .field("freq")
                .and_then(|f| f.parse().ok())
                .unwrap_or(0.0);
            Some(if freq >= FAST_BLINK_HZ {
                "fast blink"
            } else {
                "blink"
            })
        }
        "heartbeat" => Some("heartbeat"),
        "breathe" => Some("breathe"),
        "pattern" if event.field("morse") == Some("SOS") => Some("sos"),
        _ => None,
    };
    let mut ledd = ledd::output::event_to_json(event);
    if let Some(object) = ledd.as_object_mut() {
        object.remove("event");
    }
    let mut state = json!({
        "state": if on { "ON" } else { "OFF" },
        "color_mode": if levels { "brightness" } else { "onoff" },
        "effect": effect,
        "ledd": ledd,
    });
    if levels {
        let level: u64 = event
            .field("brightness")
            .and_then(|b| b.parse().ok())
            .unwrap_or(0);
        state["brightness"] = json!(level);
    }
    state
}

/// Whether the LED's device has levels between off and full on.
pub fn has_levels(event: &Event) -> bool {
    max_brightness(event) > 1
}

pub fn max_brightness(event: &Event) -> u64 {
    event
        .field("max_brightness")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn protocol_orders_get_the_led_from_the_topic() {
        let cases = [
            ("blink 2", "blink status 2"),
            ("  off ", "off status"),
            ("eteindre", "off status"),
            ("on 128", "on status 128"),
            ("identify for=30s", "blink status 5 for=30s priority=9"),
            ("morse SOS", "morse status SOS"),
            ("status", "status status"),
            ("claims", "claims status"),
            ("release all", "release status all"),
        ];
        for (payload, expected) in cases {
            let line = order_line("status", payload.as_bytes()).unwrap();
            // Compare as orders: the printed form of modifiers is the protocol crate's.
            assert_eq!(
                Order::parse(&line).unwrap(),
                Order::parse(expected).unwrap(),
                "{payload}"
            );
        }
    }

    #[test]
    fn home_assistant_commands_become_orders() {
        let line = |json: &str| order_line("power", json.as_bytes());
        assert_eq!(line(r#"{"state":"ON"}"#).unwrap(), "on power");
        assert_eq!(
            line(r#"{"state":"OFF","brightness":9}"#).unwrap(),
            "off power"
        );
        assert_eq!(
            line(r#"{"state":"ON","brightness":40}"#).unwrap(),
            "on power 40"
        );
        assert_eq!(
            line(r#"{"brightness":40,"transition":2}"#).unwrap(),
            "on power 40"
        );
        assert_eq!(
            line(r#"{"state":"ON","effect":"heartbeat"}"#).unwrap(),
            "heartbeat power"
        );
        assert!(
            line(r#"{"state":"ON","effect":"fast blink"}"#)
                .unwrap()
                .starts_with("blink power 5")
        );
        for bad in [
            r#"{"state":"MAYBE"}"#,
            r#"{"state":"ON","effect":"disco"}"#,
            r#"{"state":"ON","brightness":-1}"#,
            r#"{"state":"ON","brightness":"x"}"#,
            r#"{"state":"#,
            "{}}",
        ] {
            assert_eq!(line(bad).unwrap_err().kind, ErrorKind::Usage, "{bad}");
        }
    }

    #[test]
    fn what_makes_no_sense_over_a_broker_is_refused_with_a_reason() {
        let refusal = |led: &str, payload: &[u8]| order_line(led, payload).unwrap_err();
        let reasons: [(&[u8], &str); 6] = [
            (b"blink power 2", "topic names the LED"),
            (b"blink 2 hold", "for=DURATION"),
            (b"watch", "not for one LED"),
            (b"list", "not for one LED"),
            (b"blink 2\noff", "one order per message"),
            (b"\xff\xfe", "UTF-8"),
        ];
        for (payload, reason) in reasons {
            let message = refusal("status", payload).message;
            assert!(message.contains(reason), "{payload:?}: {message}");
        }
        assert_eq!(refusal("../x", b"off").kind, ErrorKind::Usage);
        assert_eq!(refusal("status", b"blink NaN").kind, ErrorKind::Range);
        assert_eq!(refusal("status", b"blink 1e308").kind, ErrorKind::Range);
        assert_eq!(refusal("status", b"").kind, ErrorKind::Usage);
        let big = vec![b'x'; MAX_PAYLOAD + 1];
        assert_eq!(refusal("status", &big).kind, ErrorKind::TooLong);
    }

    #[test]
    fn state_follows_what_the_led_shows() {
        let state = |line: &str| state_json(&Event::parse(line).unwrap());
        let off = state("event led=power exists=yes mode=off brightness=0 max_brightness=255");
        assert_eq!(off["state"], "OFF");
        assert_eq!(off["color_mode"], "brightness");
        assert_eq!(off["brightness"], 0);
        assert_eq!(off["effect"], Value::Null);
        let on = state("event led=power exists=yes mode=on brightness=40 max_brightness=255");
        assert_eq!(
            (on["state"].as_str(), on["brightness"].as_u64()),
            (Some("ON"), Some(40))
        );
        let fast = state(
            "event led=status exists=yes mode=blink freq=5 max_brightness=1 shown=claim claim=3",
        );
        assert_eq!(fast["effect"], "fast blink");
        assert_eq!(fast["color_mode"], "onoff");
        assert!(fast.get("brightness").is_none());
        assert_eq!(fast["ledd"]["claim"], 3);
        assert_eq!(fast["ledd"]["led"], "status");
        let sos = state("event led=status exists=yes mode=pattern morse=SOS");
        assert_eq!(sos["effect"], "sos");
        let gone = state("event led=status device=ACT exists=no mode=unknown");
        assert_eq!(gone["state"], "OFF");
        assert_eq!(gone["ledd"]["exists"], false);
    }

    #[test]
    fn effects_offered_depend_on_levels() {
        assert!(!effect_names(false).contains(&"breathe"));
        assert!(effect_names(true).contains(&"breathe"));
        for effect in &EFFECTS {
            Order::parse(effect.order).unwrap();
        }
    }

    proptest! {
        /// Any payload gives one valid order line for the topic's LED, or a
        /// refusal whose message stays on one line.
        #[test]
        fn any_payload_gives_an_order_for_this_led_or_a_one_line_refusal(
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            text in "[ -~]{0,40}",
        ) {
            for bytes in [payload.as_slice(), text.as_bytes()] {
                match order_line("status", bytes) {
                    Ok(line) => {
                        let order = Order::parse(&line).unwrap();
                        let led = match &order {
                            Order::Change(change) => change.led.clone(),
                            Order::Query(Query::Status { led } | Query::Claims { led }) => led.clone(),
                            Order::Release(release) => release.led.clone(),
                            Order::Query(_) => None,
                        };
                        prop_assert_eq!(led.as_deref(), Some("status"));
                    }
                    Err(error) => prop_assert!(!error.to_string().contains('\n')),
                }
            }
        }
    }
}
