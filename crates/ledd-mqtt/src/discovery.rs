//! Home Assistant MQTT discovery: the retained config that makes each LED a
//! `light` (schema `json`) of a device per node, with a stable id.

use serde_json::{Value, json};

use crate::payload::effect_names;
use crate::topics::Topics;

/// Where the machine id is (systemd's, else D-Bus's older copy).
const MACHINE_ID_FILES: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];

/// An id for this machine that is stable across reboots and renames but
/// does not publish the machine id itself (machine-id(5) asks not to): an
/// HMAC-SHA256 of "ledd-mqtt" keyed with the machine id, as systemd's
/// `sd_id128_get_machine_app_specific()` does for applications. Without a
/// machine id, the node name stands in (stable as long as it is).
pub fn device_id(node: &str) -> String {
    let machine_id = MACHINE_ID_FILES
        .iter()
        .find_map(|file| std::fs::read_to_string(file).ok())
        .map(|text| text.trim().to_string())
        .filter(|id| !id.is_empty());
    match machine_id {
        Some(id) => app_specific_id(&id),
        None => {
            log::warn!(
                "no machine id in {}: Home Assistant's ids are made from the node name '{node}' instead",
                MACHINE_ID_FILES.join(" or ")
            );
            app_specific_id(node)
        }
    }
}

fn app_specific_id(secret: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, b"ledd-mqtt");
    tag.as_ref()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// What discovery says of one LED.
pub struct LedDescription<'a> {
    pub led: &'a str,
    /// `max_brightness` of its device: above 1, it has levels.
    pub max_brightness: u64,
}

/// The discovery config of one LED (published retained at
/// [`Topics::discovery`]).
pub fn config(topics: &Topics, device_id: &str, led: &LedDescription<'_>) -> Value {
    let levels = led.max_brightness > 1;
    let node = topics.node();
    let mut config = json!({
        "name": led.led,
        "unique_id": format!("ledd_{device_id}_{}", led.led),
        "object_id": format!("{node}_{}", led.led),
        "schema": "json",
        "command_topic": topics.command(led.led),
        "state_topic": topics.state(led.led),
        "availability_topic": topics.availability(),
        "payload_available": "online",
        "payload_not_available": "offline",
        "effect": true,
        "effect_list": effect_names(levels),
        "supported_color_modes": [if levels { "brightness" } else { "onoff" }],
        "qos": 1,
        "device": {
            "identifiers": [format!("ledd_{device_id}")],
            "name": node,
            "manufacturer": "ledd",
            "model": "ledd-mqtt",
            "sw_version": env!("CARGO_PKG_VERSION"),
        },
    });
    if levels {
        config["brightness"] = json!(true);
        config["brightness_scale"] = json!(led.max_brightness);
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn topics() -> Topics {
        let config = Config::parse(
            "broker = \"mqtt://h\"\nnode = \"pi07\"",
            Path::new("f"),
            "x",
        )
        .unwrap();
        Topics::new(&config)
    }

    #[test]
    fn ids_are_stable_and_do_not_show_the_machine_id() {
        let id = app_specific_id("0123456789abcdef0123456789abcdef");
        assert_eq!(id, app_specific_id("0123456789abcdef0123456789abcdef"));
        assert_ne!(id, app_specific_id("0123456789abcdef0123456789abcdee"));
        assert_eq!(id.len(), 32);
        assert!(!id.contains("0123456789abcdef"));
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn an_on_off_led_has_no_brightness_and_no_breathe() {
        let config = config(
            &topics(),
            "abc",
            &LedDescription {
                led: "status",
                max_brightness: 1,
            },
        );
        assert_eq!(config["unique_id"], "ledd_abc_status");
        assert_eq!(config["schema"], "json");
        assert_eq!(config["command_topic"], "ledd/pi07/status/set");
        assert_eq!(config["state_topic"], "ledd/pi07/status/state");
        assert_eq!(config["availability_topic"], "ledd/pi07/availability");
        assert_eq!(config["supported_color_modes"], json!(["onoff"]));
        assert!(config.get("brightness").is_none());
        assert!(
            !config["effect_list"]
                .as_array()
                .unwrap()
                .contains(&json!("breathe"))
        );
        assert_eq!(config["device"]["identifiers"], json!(["ledd_abc"]));
        assert_eq!(config["device"]["name"], "pi07");
    }

    #[test]
    fn a_dimmable_led_offers_brightness_on_its_own_scale() {
        let config = config(
            &topics(),
            "abc",
            &LedDescription {
                led: "power",
                max_brightness: 255,
            },
        );
        assert_eq!(config["brightness"], true);
        assert_eq!(config["brightness_scale"], 255);
        assert_eq!(config["supported_color_modes"], json!(["brightness"]));
        assert!(
            config["effect_list"]
                .as_array()
                .unwrap()
                .contains(&json!("breathe"))
        );
    }
}
