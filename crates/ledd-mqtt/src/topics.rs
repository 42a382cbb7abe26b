//! The topic tree of one node, built from the configuration: what it
//! subscribes to, where it publishes, and which LED a `set` topic names.
//!
//! `P` is `topic_prefix`, `N` the node, `L` an LED, `G` a group, `DP` the
//! discovery prefix:
//!
//! | topic | direction |
//! |---|---|
//! | `P/N/L/set`, `P/all/L/set`, `P/group/G/L/set` | orders in |
//! | `P/N/L/result` | ledd's reply out |
//! | `P/N/L/state` | what the LED shows (retained) |
//! | `P/N/availability` | `online` / `offline` (retained, the will) |
//! | `DP/light/N/L/config` | Home Assistant discovery (retained) |
//! | `DP/status` | Home Assistant's own `online`, in |

use crate::config::Config;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
    node: String,
    groups: Vec<String>,
    discovery_prefix: Option<String>,
}

impl Topics {
    pub fn new(config: &Config) -> Topics {
        Topics {
            prefix: config.topic_prefix.clone(),
            node: config.node.clone(),
            groups: config.groups.clone(),
            discovery_prefix: config.discovery_prefix.clone(),
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// The filters to subscribe to: this node's, everyone's and its groups'
    /// `set` topics, and Home Assistant's status when discovery is on.
    pub fn subscriptions(&self) -> Vec<String> {
        let p = &self.prefix;
        let mut filters = vec![format!("{p}/{}/+/set", self.node), format!("{p}/all/+/set")];
        filters.extend(self.groups.iter().map(|g| format!("{p}/group/{g}/+/set")));
        filters.extend(self.home_assistant_status());
        filters
    }

    /// The LED a `set` topic addressed to this node names, if it is one.
    pub fn set_target<'t>(&self, topic: &'t str) -> Option<&'t str> {
        let rest = topic
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('/')?;
        let rest = rest.strip_suffix("/set")?;
        let led = if let Some(led) = rest.strip_prefix("all/") {
            led
        } else if let Some(grouped) = rest.strip_prefix("group/") {
            let (group, led) = grouped.split_once('/')?;
            self.groups.iter().any(|g| g == group).then_some(led)?
        } else {
            let (node, led) = rest.split_once('/')?;
            (node == self.node).then_some(led)?
        };
        (!led.contains('/')).then_some(led)
    }

    pub fn command(&self, led: &str) -> String {
        format!("{}/{}/{led}/set", self.prefix, self.node)
    }

    pub fn result(&self, led: &str) -> String {
        format!("{}/{}/{led}/result", self.prefix, self.node)
    }

    pub fn state(&self, led: &str) -> String {
        format!("{}/{}/{led}/state", self.prefix, self.node)
    }

    pub fn availability(&self) -> String {
        format!("{}/{}/availability", self.prefix, self.node)
    }

    /// Where Home Assistant finds this LED's discovery config (none when
    /// discovery is off).
    pub fn discovery(&self, led: &str) -> Option<String> {
        let dp = self.discovery_prefix.as_ref()?;
        Some(format!("{dp}/light/{}/{led}/config", self.node))
    }

    /// Where Home Assistant says `online` when it (re)starts.
    pub fn home_assistant_status(&self) -> Option<String> {
        Some(format!("{}/status", self.discovery_prefix.as_ref()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> Topics {
        Topics {
            prefix: "school/ledd".into(),
            node: "pi07".into(),
            groups: vec!["row1".into()],
            discovery_prefix: Some("homeassistant".into()),
        }
    }

    #[test]
    fn subscriptions_cover_the_node_everyone_and_its_groups() {
        assert_eq!(
            topics().subscriptions(),
            [
                "school/ledd/pi07/+/set",
                "school/ledd/all/+/set",
                "school/ledd/group/row1/+/set",
                "homeassistant/status"
            ]
        );
        let mut quiet = topics();
        quiet.discovery_prefix = None;
        assert_eq!(quiet.subscriptions().len(), 3);
        assert_eq!(quiet.discovery("status"), None);
    }

    #[test]
    fn set_topics_name_their_led_only_when_addressed_here() {
        let t = topics();
        assert_eq!(t.set_target("school/ledd/pi07/status/set"), Some("status"));
        assert_eq!(t.set_target("school/ledd/all/status/set"), Some("status"));
        assert_eq!(
            t.set_target("school/ledd/group/row1/power/set"),
            Some("power")
        );
        for other in [
            "school/ledd/pi08/status/set",
            "school/ledd/group/row2/status/set",
            "school/ledd/pi07/status/state",
            "school/ledd/pi07/a/b/set",
            "school/leddx/pi07/status/set",
            "ledd/pi07/status/set",
            "school/ledd/pi07/set",
        ] {
            assert_eq!(t.set_target(other), None, "{other}");
        }
    }

    #[test]
    fn publications_sit_under_the_node() {
        let t = topics();
        assert_eq!(t.command("status"), "school/ledd/pi07/status/set");
        assert_eq!(t.result("status"), "school/ledd/pi07/status/result");
        assert_eq!(t.state("status"), "school/ledd/pi07/status/state");
        assert_eq!(t.availability(), "school/ledd/pi07/availability");
        assert_eq!(
            t.discovery("status").as_deref(),
            Some("homeassistant/light/pi07/status/config")
        );
        // What the bridge publishes is never one of its own order topics.
        assert_eq!(t.set_target(&t.result("status")), None);
        assert_eq!(t.set_target(&t.command("status")), Some("status"));
    }
}
