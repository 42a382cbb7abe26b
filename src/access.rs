//! Who may change an LED: the per-LED `allow_users` / `allow_groups` policy,
//! checked against the peer's credentials from SO_PEERCRED.
//!
//! Names are resolved to numbers once, when the configuration is loaded or
//! reloaded ([`Policy::resolve`]), and a client's supplementary groups once,
//! when it connects ([`Peer::with_groups`]): no user or group database lookup
//! (NSS may block on LDAP) is ever made on the path of an order.

use std::collections::HashMap;
use std::fmt;

use nix::unistd::{Gid, Group, Uid, User, getgrouplist};

use crate::config::{Config, LedConfig};

/// Who sent an order, from SO_PEERCRED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, looked up when the client connected (None: not looked up).
    pub groups: Option<Vec<u32>>,
}

impl Peer {
    pub fn new(pid: i32, uid: u32, gid: u32) -> Peer {
        Peer {
            pid,
            uid,
            gid,
            groups: None,
        }
    }

    /// Looks the peer's supplementary groups up in the group database
    /// (once, when it connects).
    pub fn with_groups(mut self) -> Peer {
        let mut groups = Vec::new();
        // (No let chain: the package builds with Debian 13's rustc 1.85.)
        let list = User::from_uid(Uid::from_raw(self.uid))
            .ok()
            .flatten()
            .and_then(|user| std::ffi::CString::new(user.name.as_str()).ok())
            .and_then(|name| getgrouplist(&name, Gid::from_raw(self.gid)).ok());
        if let Some(list) = list {
            groups.extend(list.into_iter().map(Gid::as_raw));
        }
        self.groups = Some(groups);
        self
    }

    fn in_group(&self, gid: u32) -> bool {
        self.gid == gid
            || self
                .groups
                .as_ref()
                .is_some_and(|groups| groups.contains(&gid))
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uid={} pid={}", self.uid, self.pid)
    }
}

/// One LED's rule, with names resolved to numbers.
#[derive(Debug, Clone, Default)]
struct Rule {
    users: Vec<u32>,
    groups: Vec<u32>,
    /// The rule as configured, for the refusal.
    text: String,
}

/// Every LED's rule, resolved once per (re)load.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: HashMap<String, Rule>,
    /// ledd's own uid: it may always change every LED (like root).
    own_uid: u32,
}

impl Policy {
    /// Resolves the users and groups every LED's policy names (unknown
    /// names match nobody; `--check-config` and the start-up report name them).
    pub fn resolve(config: &Config) -> Policy {
        let rules = config
            .leds
            .values()
            .filter(|led| !led.allow_users.is_empty() || !led.allow_groups.is_empty())
            .map(|led| {
                let users = led.allow_users.iter().filter_map(|name| {
                    name.parse::<u32>()
                        .ok()
                        .or_else(|| User::from_name(name).ok().flatten().map(|u| u.uid.as_raw()))
                });
                let groups = led.allow_groups.iter().filter_map(|name| {
                    name.parse::<u32>().ok().or_else(|| {
                        Group::from_name(name)
                            .ok()
                            .flatten()
                            .map(|g| g.gid.as_raw())
                    })
                });
                let rule = Rule {
                    users: users.collect(),
                    groups: groups.collect(),
                    text: describe_rule(led),
                };
                (led.name.clone(), rule)
            })
            .collect();
        Policy {
            rules,
            own_uid: Uid::current().as_raw(),
        }
    }

    /// Whether some LED admits members of a group: then a client's
    /// supplementary groups are worth looking up when it connects.
    pub fn needs_groups(&self) -> bool {
        self.rules.values().any(|rule| !rule.groups.is_empty())
    }

    /// Why a peer may not change an LED, for the `err denied` reply.
    pub fn check(&self, led: &str, peer: Option<&Peer>) -> Result<(), String> {
        let Some(rule) = self.rules.get(led) else {
            return Ok(());
        };
        let Some(peer) = peer else {
            return Err(format!(
                "LED {led} may be changed only by {}, and this client's credentials are unknown",
                rule.text
            ));
        };
        // root and ledd's own user may always change every LED.
        if peer.uid == 0
            || peer.uid == self.own_uid
            || rule.users.contains(&peer.uid)
            || rule.groups.iter().any(|gid| peer.in_group(*gid))
        {
            return Ok(());
        }
        Err(format!(
            "LED {led} may be changed only by {} (you are uid {})",
            rule.text, peer.uid
        ))
    }
}

fn describe_rule(led: &LedConfig) -> String {
    let mut parts = Vec::new();
    if !led.allow_users.is_empty() {
        parts.push(format!("users {}", led.allow_users.join(", ")));
    }
    if !led.allow_groups.is_empty() {
        parts.push(format!("members of {}", led.allow_groups.join(", ")));
    }
    parts.join(" or ")
}

/// Names in a policy that the system does not know (a typo locks people out).
pub fn unknown_names(led: &LedConfig) -> Vec<String> {
    let users = led.allow_users.iter().filter(|name| {
        name.parse::<u32>().is_err() && User::from_name(name).ok().flatten().is_none()
    });
    let groups = led.allow_groups.iter().filter(|name| {
        name.parse::<u32>().is_err() && Group::from_name(name).ok().flatten().is_none()
    });
    users
        .map(|name| format!("user {name}"))
        .chain(groups.map(|name| format!("group {name}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn led(users: &[&str], groups: &[&str]) -> LedConfig {
        LedConfig {
            name: "status".into(),
            devices: vec!["ACT".into()],
            allow_users: users.iter().map(|s| s.to_string()).collect(),
            allow_groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn peer(uid: u32, gid: u32) -> Option<Peer> {
        Some(Peer::new(1, uid, gid))
    }

    fn check(led: &LedConfig, peer: Option<Peer>) -> Result<(), String> {
        let config = Config {
            leds: [(led.name.clone(), led.clone())].into(),
            ..Config::default()
        };
        Policy::resolve(&config).check(&led.name, peer.as_ref())
    }

    #[test]
    fn supplementary_groups_taken_at_connect_count() {
        let policy = led(&[], &["4250"]);
        let mut member = Peer::new(1, 4245, 4245);
        assert!(check(&policy, Some(member.clone())).is_err());
        member.groups = Some(vec![4249, 4250]);
        assert!(check(&policy, Some(member)).is_ok());
    }

    #[test]
    fn no_policy_allows_everyone() {
        assert!(check(&led(&[], &[]), peer(4242, 4242)).is_ok());
        assert!(check(&led(&[], &[]), None).is_ok());
    }

    #[test]
    fn root_is_always_allowed_and_strangers_are_not() {
        let policy = led(&["4243"], &["4244"]);
        assert!(check(&policy, peer(0, 0)).is_ok());
        assert!(check(&policy, peer(4243, 100)).is_ok(), "allowed by uid");
        assert!(
            check(&policy, peer(4245, 4244)).is_ok(),
            "allowed by primary group"
        );
        let refusal = check(&policy, peer(4245, 4245)).unwrap_err();
        assert_eq!(
            refusal,
            "LED status may be changed only by users 4243 or members of 4244 (you are uid 4245)"
        );
        assert!(check(&policy, None).is_err());
    }

    #[test]
    fn typos_are_found() {
        let policy = led(&["root", "no-such-user-x"], &["no-such-group-y", "0"]);
        assert_eq!(
            unknown_names(&policy),
            ["user no-such-user-x", "group no-such-group-y"]
        );
    }
}
