//! Who may change an LED: the per-LED `allow_users` / `allow_groups` policy,
//! checked against the peer's credentials from SO_PEERCRED.

use nix::unistd::{Gid, Group, Uid, User, getgrouplist};

use crate::config::LedConfig;
use crate::engine::Peer;

/// Why a peer may not change an LED, for the `err denied` reply.
pub fn check(led: &LedConfig, peer: Option<Peer>) -> Result<(), String> {
    if led.allow_users.is_empty() && led.allow_groups.is_empty() {
        return Ok(());
    }
    let rule = describe_rule(led);
    let Some(peer) = peer else {
        return Err(format!(
            "LED {} may be changed only by {rule}, and this client's credentials are unknown",
            led.name
        ));
    };
    // root and ledd's own user may always change every LED.
    if peer.uid == 0 || peer.uid == Uid::current().as_raw() {
        return Ok(());
    }
    let user = User::from_uid(Uid::from_raw(peer.uid)).ok().flatten();
    let user_allowed = led.allow_users.iter().any(|allowed| {
        allowed.parse::<u32>().ok() == Some(peer.uid)
            || user.as_ref().is_some_and(|user| user.name == *allowed)
    });
    if user_allowed {
        return Ok(());
    }
    if !led.allow_groups.is_empty() {
        let groups = groups_of(peer, user.as_ref());
        let group_allowed = led.allow_groups.iter().any(|allowed| {
            let gid = allowed.parse::<u32>().ok().or_else(|| {
                Group::from_name(allowed)
                    .ok()
                    .flatten()
                    .map(|group| group.gid.as_raw())
            });
            gid.is_some_and(|gid| groups.contains(&gid))
        });
        if group_allowed {
            return Ok(());
        }
    }
    Err(format!(
        "LED {} may be changed only by {rule} (you are uid {})",
        led.name, peer.uid
    ))
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

/// The peer's primary group and its supplementary groups from the group database.
fn groups_of(peer: Peer, user: Option<&User>) -> Vec<u32> {
    let mut groups = vec![peer.gid];
    if let Some(user) = user
        && let Ok(name) = std::ffi::CString::new(user.name.as_str())
        && let Ok(list) = getgrouplist(&name, Gid::from_raw(peer.gid))
    {
        groups.extend(list.into_iter().map(Gid::as_raw));
    }
    groups
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
        Some(Peer { pid: 1, uid, gid })
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
