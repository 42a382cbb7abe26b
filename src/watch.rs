//! `watch`: which connection watches which LED, and what each LED was last
//! shown as, so that an event goes out only when the shown state really
//! changed, and only to those who watch that LED. No I/O: the daemon reads
//! the state (the engine's `status` fields) and sends the events.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::protocol::Event;

/// A `status` reply's fields, as an event carries them.
pub type Fields = Vec<(String, String)>;

#[derive(Default)]
pub struct Watchers {
    /// Connection id → the LEDs it watches.
    watching: HashMap<u64, BTreeSet<String>>,
    /// The connections that named no LED: they watch every configured LED,
    /// and so follow a reload that adds or removes one.
    every: BTreeSet<u64>,
    /// LED → the fields its last event carried.
    last: BTreeMap<String, Fields>,
}

impl Watchers {
    pub fn is_empty(&self) -> bool {
        self.watching.is_empty()
    }

    pub fn is_watching(&self, client: u64) -> bool {
        self.watching.contains_key(&client)
    }

    /// `client` watches `leds` from now on; its first events (the current
    /// state of each) are the daemon's to send.
    pub fn add(&mut self, client: u64, leds: impl IntoIterator<Item = String>) {
        self.watching.entry(client).or_default().extend(leds);
    }

    /// As [`add`](Self::add), for a `watch` that named no LED: `leds` is
    /// every configured LED, and the set follows reloads.
    pub fn add_every(&mut self, client: u64, leds: impl IntoIterator<Item = String>) {
        self.every.insert(client);
        self.add(client, leds);
    }

    /// After a reload: the connections that watch every LED watch the ones
    /// `configured` adds too. Returns the (connection, LED) pairs whose
    /// first event is due.
    pub fn add_configured(&mut self, configured: &BTreeSet<String>) -> Vec<(u64, String)> {
        let mut due = Vec::new();
        for client in &self.every {
            if let Some(leds) = self.watching.get_mut(client) {
                let new: Vec<String> = configured.difference(leds).cloned().collect();
                for led in new {
                    leds.insert(led.clone());
                    due.push((*client, led));
                }
            }
        }
        due
    }

    /// After a reload, once the last event of each removed LED went out:
    /// the connections that watch every LED stop watching the LEDs
    /// `configured` no longer has. (A watcher that named an LED keeps it,
    /// and hears of it again if a later reload brings it back.)
    pub fn drop_unconfigured(&mut self, configured: &BTreeSet<String>) {
        for client in &self.every {
            if let Some(leds) = self.watching.get_mut(client) {
                leds.retain(|led| configured.contains(led));
            }
        }
        self.forget_unwatched();
    }

    /// The connection closed.
    pub fn remove(&mut self, client: u64) {
        self.every.remove(&client);
        if self.watching.remove(&client).is_none() {
            return;
        }
        self.forget_unwatched();
    }

    /// LEDs nobody watches any more forget their last state: a later
    /// watcher gets it fresh anyway.
    fn forget_unwatched(&mut self) {
        let watched = self.watched();
        self.last.retain(|led, _| watched.contains(led));
    }

    /// Every LED somebody watches.
    pub fn watched(&self) -> BTreeSet<String> {
        self.watching.values().flatten().cloned().collect()
    }

    /// Records what `led` shows now. If that differs from the last event
    /// about it, returns the event and the connections to send it to.
    pub fn changed(&mut self, led: &str, fields: Fields) -> Option<(Event, Vec<u64>)> {
        if self.last.get(led) == Some(&fields) {
            return None;
        }
        self.last.insert(led.to_string(), fields.clone());
        let mut clients: Vec<u64> = self
            .watching
            .iter()
            .filter(|(_, leds)| leds.contains(led))
            .map(|(client, _)| *client)
            .collect();
        clients.sort_unstable();
        (!clients.is_empty()).then(|| (Event::new(fields), clients))
    }

    /// The first event for a new watcher: the state now, whatever was sent
    /// before, and remembered as the last one sent.
    pub fn first(&mut self, led: &str, fields: Fields) -> Event {
        self.last.insert(led.to_string(), fields.clone());
        Event::new(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(led: &str, mode: &str) -> Fields {
        vec![("led".into(), led.into()), ("mode".into(), mode.into())]
    }

    #[test]
    fn an_event_goes_to_the_watchers_of_its_led_and_only_on_a_change() {
        let mut watchers = Watchers::default();
        assert!(watchers.is_empty());
        watchers.add(1, ["power".to_string()]);
        watchers.add(2, ["power".to_string(), "status".to_string()]);
        assert_eq!(
            watchers.first("power", state("power", "off")).to_string(),
            "event led=power mode=off"
        );
        assert_eq!(watchers.changed("power", state("power", "off")), None);
        let (event, clients) = watchers.changed("power", state("power", "blink")).unwrap();
        assert_eq!(event.field("mode"), Some("blink"));
        assert_eq!(clients, [1, 2]);
        let (_, clients) = watchers.changed("status", state("status", "on")).unwrap();
        assert_eq!(clients, [2]);
        assert_eq!(watchers.changed("status", state("status", "on")), None);
        // An LED nobody watches: remembered, told to no one.
        assert_eq!(watchers.changed("disk", state("disk", "on")), None);
    }

    #[test]
    fn a_closed_watcher_is_forgotten_with_the_leds_only_it_watched() {
        let mut watchers = Watchers::default();
        watchers.add(1, ["power".to_string()]);
        watchers.add(2, ["status".to_string()]);
        watchers.first("power", state("power", "off"));
        watchers.first("status", state("status", "off"));
        watchers.remove(1);
        assert!(!watchers.is_watching(1) && watchers.is_watching(2));
        assert_eq!(watchers.watched(), BTreeSet::from(["status".to_string()]));
        // power's last state was forgotten: a new watcher hears of it again.
        watchers.add(3, ["power".to_string()]);
        assert!(watchers.changed("power", state("power", "off")).is_some());
        watchers.remove(2);
        watchers.remove(3);
        assert!(watchers.is_empty());
    }

    #[test]
    fn a_watcher_of_every_led_follows_a_reload_and_one_of_named_leds_does_not() {
        let mut watchers = Watchers::default();
        let leds = |names: &[&str]| names.iter().map(|name| name.to_string()).collect();
        watchers.add_every(1, ["power".to_string(), "status".to_string()]);
        watchers.add(2, ["status".to_string()]);
        watchers.first("status", state("status", "off"));
        // The reload removes status and adds disk, in the daemon's order:
        // status's last event (its configuration is gone) reaches both,
        // then disk is new to the watcher of every LED.
        let configured: BTreeSet<String> = leds(&["disk", "power"]);
        let (_, clients) = watchers
            .changed("status", state("status", "unknown"))
            .unwrap();
        assert_eq!(clients, [1, 2]);
        watchers.drop_unconfigured(&configured);
        assert_eq!(
            watchers.add_configured(&configured),
            [(1, "disk".to_string())]
        );
        assert_eq!(watchers.add_configured(&configured), []);
        assert_eq!(watchers.watched(), leds(&["disk", "power", "status"]));
        let (_, clients) = watchers.changed("status", state("status", "off")).unwrap();
        assert_eq!(clients, [2], "only the watcher that named status");
        let (_, clients) = watchers.changed("disk", state("disk", "on")).unwrap();
        assert_eq!(clients, [1]);
        watchers.remove(1);
        assert_eq!(
            watchers.add_configured(&leds(&["disk", "power", "usb"])),
            []
        );
    }
}
