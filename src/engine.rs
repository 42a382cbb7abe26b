//! Carries out orders: resolves the LED, drives it through the LED backend,
//! keeps the state file, and turns every failure into a reply in one place.

use std::collections::HashMap;
use std::time::Instant;

use crate::access::{Peer, Policy};
use crate::config::{Config, LedConfig};
use crate::led::{Attributes, Led, LedError, Target};
use crate::protocol::{
    Action, BlinkTiming, Change, ErrorKind, Order, OrderError, PROTOCOL_VERSION, Query, Reply,
    format_number, quote,
};
use crate::restore::{Patience, Restores, Stage};
use crate::state::{SavePlan, SavedState, StateError};

/// The single place where LED failures become `err` replies.
impl From<LedError> for OrderError {
    fn from(error: LedError) -> OrderError {
        OrderError::new(kind_of(&error), error.to_string())
    }
}

/// The reply's error kind for an LED failure.
fn kind_of(error: &LedError) -> ErrorKind {
    match error {
        LedError::NoDevice { .. } => ErrorKind::NoDevice,
        LedError::NoTrigger { .. } => ErrorKind::NoTrigger,
        LedError::Invalid { .. } => ErrorKind::Range,
        LedError::Io { error, .. } => match error.kind() {
            std::io::ErrorKind::PermissionDenied => ErrorKind::Permission,
            std::io::ErrorKind::NotFound => ErrorKind::NoDevice,
            _ => ErrorKind::Kernel,
        },
    }
}

/// What came of an order.
pub enum Outcome {
    /// The reply to send.
    Done(Reply),
    /// The kernel refused a write for lack of permission on a file a trigger
    /// has just created: udev may not have fixed it yet, try again shortly.
    RetryLater,
}

pub struct Engine {
    config: Config,
    attrs: Box<dyn Attributes>,
    /// Each LED's last ordered state: what the state file must come to hold.
    saved: SavedState,
    /// What the state file holds, as far as ledd knows; None when it cannot
    /// be known (the file did not load, or the last save failed part-way),
    /// so that the next change is written whatever it is.
    on_disk: Option<SavedState>,
    /// When pending changes are due to be written (`state_delay`).
    plan: SavePlan,
    /// Why the last save failed, until one succeeds: logged once, shown by `list`.
    save_error: Option<String>,
    /// Each LED's state before an order that waits for a retry, to put it
    /// back if the order fails in the end.
    before_retry: HashMap<String, Target>,
    /// Saved states not restored yet (waiting for udev or for the device, or failed).
    restores: Restores,
    /// Who may change which LED, names resolved at (re)load.
    policy: Policy,
}

impl Engine {
    /// Takes the configuration and backend, and the saved state (a broken
    /// state file is logged and replaced by the next change).
    pub fn new(config: Config, attrs: Box<dyn Attributes>) -> Engine {
        let on_disk = SavedState::load(&config.state_file)
            .map_err(|error| warn!("{error}; starting with no saved state"))
            .ok();
        let plan = SavePlan::new(config.state_delay, config.state_max_delay);
        let policy = Policy::resolve(&config);
        Engine {
            config,
            attrs,
            saved: on_disk.clone().unwrap_or_default(),
            on_disk,
            plan,
            save_error: None,
            before_retry: HashMap::new(),
            restores: Restores::default(),
            policy,
        }
    }

    /// The access policy, with its names resolved.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Swaps in a new configuration (after SIGHUP); the saved state stays.
    /// Pending changes should be flushed first ([`Engine::flush`]): they
    /// belong to the old state file.
    pub fn reconfigure(&mut self, config: Config) {
        if config.state_file != self.config.state_file {
            // Nothing is known of the new file: the next change writes it.
            self.on_disk = None;
        }
        self.plan
            .set_delays(config.state_delay, config.state_max_delay);
        self.policy = Policy::resolve(&config);
        self.config = config;
    }

    fn led_config(&self, name: Option<&str>) -> Result<LedConfig, OrderError> {
        let name = match name.or(self.config.default_led.as_deref()) {
            Some(name) => name,
            None => {
                return Err(OrderError::new(
                    ErrorKind::UnknownLed,
                    format!(
                        "no default LED is configured: name one of {}",
                        self.led_names()
                    ),
                ));
            }
        };
        self.config.leds.get(name).cloned().ok_or_else(|| {
            OrderError::new(
                ErrorKind::UnknownLed,
                format!(
                    "no LED named '{}' (configured: {})",
                    quote(name),
                    self.led_names()
                ),
            )
        })
    }

    fn led_names(&self) -> String {
        self.config
            .leds
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn led<'a>(&'a mut self, led: &'a LedConfig) -> Led<'a, dyn Attributes> {
        Led {
            name: &led.name,
            devices: &led.devices,
            attrs: self.attrs.as_mut(),
        }
    }

    /// Carries out an order. With `may_retry`, a transient permission error
    /// gives [`Outcome::RetryLater`] instead of an error reply. An order that
    /// fails half-way (the trigger switched, its delays refused) puts the
    /// LED back as it was before the order.
    pub fn execute(&mut self, order: &Order, peer: Option<&Peer>, may_retry: bool) -> Outcome {
        let led = match order {
            Order::Change(change) => self.led_config(change.led.as_deref()).ok(),
            Order::Query(_) => None,
        };
        let outcome = self.try_execute(order, peer);
        // The state before the first attempt of an order that was retried.
        let first_before = led
            .as_ref()
            .and_then(|led| self.before_retry.remove(&led.name));
        match outcome {
            Ok(fields) => Outcome::Done(Reply::Ok(fields)),
            Err(Failure::Led(error, before)) if may_retry && error.is_transient_permission() => {
                if let (Some(led), Some(before)) = (&led, first_before.or(before)) {
                    self.before_retry.insert(led.name.clone(), before);
                }
                Outcome::RetryLater
            }
            Err(Failure::Led(error, before)) => {
                if error.is_write_failure() {
                    if let (Some(led), Some(before)) = (&led, first_before.or(before)) {
                        self.put_back(led, &before);
                    }
                }
                Outcome::Done(Reply::Err((*error).into()))
            }
            Err(Failure::Order(error)) => Outcome::Done(Reply::Err(error)),
        }
    }

    /// Best effort: the LED as it was before a failed order.
    fn put_back(&mut self, led: &LedConfig, before: &Target) {
        match self.led(led).apply(before) {
            Ok(applied) if applied.wrote => {
                info!(
                    "LED {} put back to {} after a failed order",
                    led.name,
                    describe(before)
                )
            }
            Ok(_) => {}
            Err(error) => warn!("LED {} may be left half-changed: {error}", led.name),
        }
    }

    fn try_execute(
        &mut self,
        order: &Order,
        peer: Option<&Peer>,
    ) -> Result<Vec<(String, String)>, Failure> {
        let query = match order {
            Order::Query(query) => query,
            Order::Change(change) => return self.change(change, peer),
        };
        match query {
            Query::Version => Ok(vec![
                field("version", env!("CARGO_PKG_VERSION").into()),
                field("protocol", PROTOCOL_VERSION.to_string()),
            ]),
            Query::List => Ok(vec![
                field(
                    "leds",
                    self.config
                        .leds
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                field(
                    "default",
                    self.config
                        .default_led
                        .clone()
                        .unwrap_or_else(|| "none".into()),
                ),
                field("backend", self.attrs.kind().into()),
                field("state_file", self.state_file_status().into()),
            ]),
            Query::Status { led } => {
                let led = self.led_config(led.as_deref())?;
                let mut fields = vec![field("led", led.name.clone())];
                match self.led(&led).state() {
                    Ok(state) => {
                        fields.push(field("device", state.device.clone()));
                        fields.push(field("exists", "yes".into()));
                        fields.extend(state.describe());
                    }
                    Err(LedError::NoDevice { devices, .. }) => {
                        fields.push(field("device", devices.join(",")));
                        fields.push(field("exists", "no".into()));
                        fields.push(field("mode", "unknown".into()));
                    }
                    Err(error) => return Err(error.into()),
                }
                if let Some((stage, kind)) = self.restores.describe(&led.name) {
                    fields.push(field("restore", stage.into()));
                    fields.push(field("restore_error", kind.as_str().into()));
                }
                Ok(fields)
            }
        }
    }

    /// Carries out an order that changes an LED.
    fn change(
        &mut self,
        change: &Change,
        peer: Option<&Peer>,
    ) -> Result<Vec<(String, String)>, Failure> {
        let led = self.led_config(change.led.as_deref())?;
        self.policy
            .check(&led.name, peer)
            .map_err(|message| OrderError::new(ErrorKind::Denied, message))?;
        let (target, mut fields) = target_of(&change.action);
        let mut handle = self.led(&led);
        let state = handle.state()?;
        let applied = handle
            .apply_to(&state, &target)
            .map_err(|error| Failure::Led(Box::new(error), state.as_target()))?;
        if let Some(level) = applied.level {
            fields.push(field("brightness", level.to_string()));
        }
        if applied.clamped {
            fields.push(field("clamped", "yes".into()));
        }
        let mut reply = vec![
            field("led", led.name.clone()),
            field("device", applied.device),
        ];
        reply.append(&mut fields);
        // A newer order supersedes a saved state still waiting to be restored.
        self.restores.finish(&led.name);
        self.remember(&led.name, target)?;
        Ok(reply)
    }

    /// Records an LED's new state. With `state_delay = 0` the state file is
    /// saved at once and a failed save is the order's error; otherwise the
    /// save is planned ([`Engine::save_due_at`]). A state equal to what the
    /// file holds writes nothing.
    fn remember(&mut self, led: &str, target: Target) -> Result<(), OrderError> {
        self.saved.leds.insert(led.to_string(), target);
        if self.on_disk.as_ref() == Some(&self.saved) {
            // Back to what the file holds (or never left it): a pending
            // save has nothing left to write.
            self.plan.clean();
            return Ok(());
        }
        if !self.plan.is_immediate() {
            self.plan.changed(Instant::now());
            return Ok(());
        }
        self.save_now(Instant::now()).map_err(|error| {
            OrderError::new(
                ErrorKind::State,
                format!("LED {led} was changed, but {error}"),
            )
        })
    }

    /// Writes the ordered state, unless the file already holds it.
    fn save_now(&mut self, now: Instant) -> Result<(), StateError> {
        if self.on_disk.as_ref() == Some(&self.saved) {
            self.plan.clean();
            return Ok(());
        }
        match self.saved.save(&self.config.state_file) {
            Ok(()) => {
                self.on_disk = Some(self.saved.clone());
                self.plan.clean();
                if self.save_error.take().is_some() {
                    info!(
                        "state file {} saved again",
                        self.config.state_file.display()
                    );
                }
                Ok(())
            }
            Err(error) => {
                // The file may hold the old state, or the new one without
                // its directory synced: either way, write it again next time.
                self.on_disk = None;
                if !self.plan.is_immediate() {
                    self.plan.failed(now);
                }
                self.save_error = Some(error.to_string());
                Err(error)
            }
        }
    }

    /// When pending changes must be written; None when nothing is pending,
    /// so the event loop arms no timer.
    pub fn save_due_at(&self) -> Option<Instant> {
        self.plan.due_at()
    }

    /// Writes pending changes if they are due at `now` (the event loop's
    /// save timer). The order was answered `ok` long ago, so a failure can
    /// only be logged: once per distinct error, with the file and errno,
    /// and shown by `list` as `state_file=failing` until a save succeeds.
    pub fn save_if_due(&mut self, now: Instant) {
        if !self.plan.is_due(now) {
            return;
        }
        let before = self.save_error.clone();
        if let Err(error) = self.save_now(now) {
            let message = error.to_string();
            if before.as_deref() != Some(message.as_str()) {
                error!(
                    "{message}; the LEDs' states are kept in memory and the save is retried every {}",
                    seconds(
                        self.config
                            .state_max_delay
                            .max(std::time::Duration::from_secs(1))
                    )
                );
            }
        }
    }

    /// Writes any change not yet saved, at once: when ledd stops and
    /// before a reload. A failure is logged: those changes are lost.
    pub fn flush(&mut self) {
        if !self.plan.is_pending() && self.save_error.is_none() {
            return;
        }
        if let Err(error) = self.save_now(Instant::now()) {
            error!("{error}; the last changes are not saved");
        }
    }

    /// `saved` (the file holds every order), `pending` (changes wait for
    /// the coalesced save) or `failing` (the last save failed).
    fn state_file_status(&self) -> &'static str {
        if self.save_error.is_some() {
            "failing"
        } else if self.plan.is_pending() {
            "pending"
        } else {
            "saved"
        }
    }

    /// Plans to re-apply the saved state of every configured LED (at start).
    pub fn plan_restore(&mut self) {
        let (configured, gone): (Vec<_>, Vec<_>) = self
            .saved
            .leds
            .clone()
            .into_iter()
            .partition(|(name, _)| self.config.leds.contains_key(name));
        for (name, _) in gone {
            warn!("state file names LED {name}, which is no longer configured; ignored");
        }
        self.restores.plan(configured);
    }

    /// Tries the restores that are due. An LED whose kernel state already
    /// matches is not touched, so a blink keeps its phase. Returns when to
    /// try again, while an LED waits for udev to hand over its files.
    pub fn restore_due(&mut self, now: Instant) -> Option<Instant> {
        for (name, target) in self.restores.due(now) {
            let Some(led) = self.config.leds.get(&name).cloned() else {
                self.restores.finish(&name);
                continue;
            };
            let attempt = self.led(&led).state().and_then(|state| {
                self.restores.remember_before(&name, state.as_target());
                self.led(&led).apply_to(&state, &target)
            });
            match attempt {
                Ok(applied) => {
                    let waited = match self.restores.finish(&name).map(|p| p.stage) {
                        Some(Stage::Permission {
                            since, attempts, ..
                        }) => format!(
                            " (after {} ms and {attempts} retries, waiting for udev to hand over the trigger's files)",
                            now.saturating_duration_since(since).as_millis()
                        ),
                        _ => String::new(),
                    };
                    if applied.wrote {
                        info!("restored LED {name} to {}{waited}", describe(&target));
                    } else {
                        info!("LED {name} already {}: left as it is", describe(&target));
                    }
                }
                Err(error) => self.restore_failed(&led, &target, error, now),
            }
        }
        self.restores.next_attempt()
    }

    /// A restore attempt failed: wait for the device, wait for udev, or give
    /// up (putting the LED back as it was) and say so in the log and `status`.
    fn restore_failed(&mut self, led: &LedConfig, target: &Target, error: LedError, now: Instant) {
        let name = &led.name;
        if let LedError::NoDevice { .. } = error {
            if self.restores.wait_for_device(name) {
                warn!(
                    "{error}; its saved state ({}) will be restored when the device appears",
                    describe(target)
                );
            }
            return;
        }
        let gave_up = if error.is_transient_permission() {
            match self.restores.wait_for_permission(name, now) {
                Patience::Retry => return,
                Patience::GaveUp { waited } => format!(
                    "gave up after {} s waiting for udev (is 60-ledd.rules installed and udev running?)",
                    waited.as_secs()
                ),
            }
        } else {
            self.restores.fail(name, kind_of(&error));
            String::new()
        };
        warn!(
            "cannot restore LED {name} to {}: {error}{}{gave_up}; `status` shows restore=failed until a new order or a reload",
            describe(target),
            if gave_up.is_empty() { "" } else { "; " }
        );
        let before = self.restores.get(name).and_then(|p| p.before.clone());
        if let Some(before) = before.filter(|_| error.is_write_failure()) {
            self.put_back(led, &before);
        }
    }

    /// An LED device appeared (hot-plug): restores waiting for it are tried.
    /// `None`: some device may have appeared unseen (device events were lost).
    pub fn device_appeared(&mut self, device: Option<&str>, now: Instant) -> Option<Instant> {
        let leds = &self.config.leds;
        let due = self.restores.device_appeared(|name| {
            leds.get(name).is_some_and(|led| {
                device.is_none_or(|device| led.devices.iter().any(|d| d == device))
            })
        });
        if let (true, Some(device)) = (due, device) {
            info!("LED device {device} appeared");
        }
        self.restore_due(now)
    }

    /// After a reload, or when device events were lost: every unfinished
    /// restore is tried again, with fresh patience.
    pub fn retry_restores(&mut self, now: Instant) -> Option<Instant> {
        let leds = &self.config.leds;
        for name in self.restores.retry_all(|name| leds.contains_key(name)) {
            warn!("LED {name} is no longer configured: its saved state is not restored");
        }
        self.restore_due(now)
    }

    /// Logs which configured LEDs have a device, and policy names the
    /// system does not know, at start and after a reload.
    pub fn report_devices(&mut self) {
        let leds: Vec<LedConfig> = self.config.leds.values().cloned().collect();
        for led in leds {
            for unknown in crate::access::unknown_names(&led) {
                warn!(
                    "LED {}: the access policy names {unknown}, which does not exist",
                    led.name
                );
            }
            match self.led(&led).device() {
                Ok(device) => info!(
                    "LED {} is device {device} ({})",
                    led.name,
                    self.attrs.kind()
                ),
                Err(error) => warn!("{error}; orders for it will fail until it appears"),
            }
        }
    }

    /// Turns every configured LED off (on_exit = "off").
    pub fn all_off(&mut self) {
        let leds: Vec<LedConfig> = self.config.leds.values().cloned().collect();
        for led in leds {
            match self.led(&led).apply(&Target::Off) {
                Ok(_) => {
                    if let Err(error) = self.remember(&led.name, Target::Off) {
                        warn!("{}", error.message);
                    }
                }
                Err(LedError::NoDevice { .. }) => {}
                Err(error) => warn!("cannot turn LED {} off: {error}", led.name),
            }
        }
    }

    /// One line showing every LED's current level, for `--show`.
    pub fn render(&mut self) -> String {
        let leds: Vec<LedConfig> = self.config.leds.values().cloned().collect();
        let parts: Vec<String> = leds
            .iter()
            .map(|led| match self.led(led).state() {
                Ok(state) => {
                    let lamp = if state.brightness > 0 { "(*)" } else { "( )" };
                    let detail = state
                        .describe()
                        .into_iter()
                        .filter(|(k, _)| matches!(k.as_str(), "mode" | "freq" | "duty"))
                        .map(|(k, v)| if k == "mode" { v } else { format!("{k}={v}") })
                        .collect::<Vec<_>>()
                        .join(" ");
                    format!("{} {lamp} {detail}", led.name)
                }
                Err(_) => format!("{} (no device)", led.name),
            })
            .collect();
        format!("[{} LEDs] {}", self.attrs.kind(), parts.join("   "))
    }
}

/// Why an order failed, before it becomes a reply; an LED failure comes
/// with the LED's state before the order, when ledd had read it.
enum Failure {
    Led(Box<LedError>, Option<Target>),
    Order(OrderError),
}

impl From<LedError> for Failure {
    fn from(error: LedError) -> Failure {
        Failure::Led(Box::new(error), None)
    }
}

impl From<OrderError> for Failure {
    fn from(error: OrderError) -> Failure {
        Failure::Order(error)
    }
}

/// The kernel state a change asks for, and the reply fields that say so.
fn target_of(action: &Action) -> (Target, Vec<(String, String)>) {
    match action {
        Action::Blink {
            freq_hz,
            duty_percent,
        } => {
            let timing = BlinkTiming::from_freq(*freq_hz, *duty_percent);
            (
                Target::Blink {
                    delay_on: timing.delay_on_ms,
                    delay_off: timing.delay_off_ms,
                },
                vec![
                    field("mode", "blink".into()),
                    field("freq", format_number(timing.freq_hz())),
                    field("duty", format_number(timing.duty_percent())),
                    field("delay_on", timing.delay_on_ms.to_string()),
                    field("delay_off", timing.delay_off_ms.to_string()),
                ],
            )
        }
        Action::On { brightness } => {
            let mut fields = vec![field("mode", "on".into())];
            if let Some(level) = brightness {
                fields.push(field("requested", level.to_string()));
            }
            (
                Target::On {
                    brightness: *brightness,
                },
                fields,
            )
        }
        Action::Heartbeat => (Target::Heartbeat, vec![field("mode", "heartbeat".into())]),
        Action::Pattern { steps, repeat } => (
            Target::Pattern {
                steps: steps.clone(),
                repeat: *repeat,
            },
            vec![
                field("mode", "pattern".into()),
                field("steps", steps.len().to_string()),
                field("repeat", repeat.to_string()),
            ],
        ),
        Action::Trigger { name } => match name.as_str() {
            "none" => (Target::Off, vec![field("mode", "off".into())]),
            "heartbeat" => (Target::Heartbeat, vec![field("mode", "heartbeat".into())]),
            _ => (
                Target::Trigger { name: name.clone() },
                vec![
                    field("mode", "trigger".into()),
                    field("trigger", name.clone()),
                ],
            ),
        },
        Action::Off => (Target::Off, vec![field("mode", "off".into())]),
    }
}

/// A reply field.
fn field(key: &str, value: String) -> (String, String) {
    (key.to_string(), value)
}

/// A duration as ledd.toml(5) writes it: whole seconds.
fn seconds(duration: std::time::Duration) -> String {
    format!("{} s", duration.as_secs())
}

fn describe(target: &Target) -> String {
    match target {
        Target::Off => "off".into(),
        Target::On { brightness: None } => "on".into(),
        Target::On {
            brightness: Some(level),
        } => format!("on at {level}"),
        Target::Blink {
            delay_on,
            delay_off,
        } => format!("blinking {delay_on}/{delay_off} ms"),
        Target::Heartbeat => "heartbeat".into(),
        Target::Pattern { steps, .. } => format!("playing a {}-step pattern", steps.len()),
        Target::Trigger { name } => format!("on trigger {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::led::sim::SimulatedAttributes;
    use std::time::Duration;

    fn engine(dir: &std::path::Path) -> Engine {
        engine_with(dir, "")
    }

    fn engine_with(dir: &std::path::Path, extra: &str) -> Engine {
        let config = Config::parse(
            &format!(
                "{extra}\nstate_file = \"{}/state.toml\"\n[leds.status]\ndevice = [\"ledd:green:status\", \"ACT\"]\n[leds.power]\ndevice = \"PWR\"\n",
                dir.display()
            ),
            std::path::Path::new("test.toml"),
        )
        .unwrap();
        Engine::new(config, Box::new(SimulatedAttributes::new(["ACT"])))
    }

    fn run(engine: &mut Engine, line: &str) -> String {
        run_as(engine, None, line)
    }

    fn run_as(engine: &mut Engine, peer: Option<&Peer>, line: &str) -> String {
        match engine.execute(&Order::parse(line).unwrap(), peer, false) {
            Outcome::Done(reply) => reply.to_string(),
            Outcome::RetryLater => "retry".into(),
        }
    }

    #[test]
    fn orders_become_replies() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = engine(dir.path());
        assert_eq!(
            run(&mut engine, "clignote 2"),
            "ok led=status device=ACT mode=blink freq=2 duty=50 delay_on=250 delay_off=250"
        );
        assert_eq!(
            run(&mut engine, "on 7"),
            "ok led=status device=ACT mode=on requested=7 brightness=1 clamped=yes"
        );
        assert_eq!(
            run(&mut engine, "eteindre"),
            "ok led=status device=ACT mode=off"
        );
        assert!(
            run(&mut engine, "blink power 2")
                .starts_with("err no-device: LED power has no device: none of PWR exists")
        );
        assert_eq!(
            run(&mut engine, "status power"),
            "ok led=power device=PWR exists=no mode=unknown"
        );
        assert!(
            run(&mut engine, "blink nosuch 2")
                .starts_with("err unknown-led: no LED named 'nosuch' (configured: power, status)")
        );
        assert_eq!(
            run(&mut engine, "list"),
            "ok leds=power,status default=status backend=simulated state_file=pending"
        );
        assert!(run(&mut engine, "trigger mmc0").starts_with("err no-trigger:"));
    }

    #[test]
    fn the_access_policy_refuses_changes_not_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = engine(dir.path());
        let mut config = engine.config().clone();
        if let Some(led) = config.leds.get_mut("status") {
            led.allow_groups = vec!["4244".into()];
        }
        engine.reconfigure(config);
        let stranger = Peer::new(7, 4245, 4245);
        let reply = |engine: &mut Engine, line: &str| run_as(engine, Some(&stranger), line);
        assert_eq!(
            reply(&mut engine, "blink 2"),
            "err denied: LED status may be changed only by members of 4244 (you are uid 4245)"
        );
        assert!(reply(&mut engine, "status").starts_with("ok led=status"));
        assert!(
            reply(&mut engine, "blink power 2").starts_with("err no-device"),
            "other LEDs keep their own policy"
        );
    }

    #[test]
    fn a_failed_order_puts_the_led_back() {
        let dir = tempfile::tempdir().unwrap();
        // The LED is on; the pattern trigger switches on, then writing the
        // pattern fails with a kernel error.
        let mut sim = SimulatedAttributes::new(["ACT"]);
        sim.write("ACT", "brightness", "1").unwrap();
        let mut failing = Engine::new(
            engine(dir.path()).config().clone(),
            Box::new(FailPattern(sim)),
        );
        let reply = run(&mut failing, "pattern 1:100 0:100");
        assert!(
            reply.starts_with("err kernel: LED status: cannot write"),
            "{reply}"
        );
        assert!(run(&mut failing, "status").contains("mode=on trigger=none brightness=1"));
    }

    /// The simulated LEDs, except that writing a pattern fails with EIO.
    struct FailPattern(SimulatedAttributes);

    impl Attributes for FailPattern {
        fn device_exists(&self, device: &str) -> bool {
            self.0.device_exists(device)
        }
        fn read(&self, device: &str, attribute: &str) -> std::io::Result<String> {
            self.0.read(device, attribute)
        }
        fn write(&mut self, device: &str, attribute: &str, value: &str) -> std::io::Result<()> {
            if attribute == "pattern" {
                return Err(std::io::Error::from_raw_os_error(5));
            }
            self.0.write(device, attribute, value)
        }
        fn location(&self, device: &str, attribute: &str) -> String {
            self.0.location(device, attribute)
        }
        fn kind(&self) -> &'static str {
            "simulated"
        }
    }

    #[test]
    fn state_is_saved_and_restored() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = engine(dir.path());
        run(&mut first, "blink 4");
        first.flush();
        let saved = SavedState::load(&dir.path().join("state.toml")).unwrap();
        assert_eq!(
            saved.leds["status"],
            Target::Blink {
                delay_on: 125,
                delay_off: 125
            }
        );
        // A new engine on fresh (dark) LEDs restores the blink.
        let mut second = engine(dir.path());
        second.plan_restore();
        assert_eq!(
            second.restore_due(Instant::now()),
            None,
            "nothing to wait for"
        );
        assert!(run(&mut second, "status").contains("mode=blink freq=4"));
    }

    fn inode(path: &std::path::Path) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| m.ino())
    }

    #[test]
    fn changes_wait_for_the_quiet_deadline_then_are_saved_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.toml");
        let mut engine = engine(dir.path());
        let start = Instant::now();
        assert_eq!(engine.save_due_at(), None, "nothing to save, no timer");
        for order in ["blink 4", "on", "blink 2", "off", "blink 3"] {
            assert!(run(&mut engine, order).starts_with("ok"), "{order}");
        }
        assert!(!path.exists(), "saved before the orders stopped");
        assert!(run(&mut engine, "list").ends_with("state_file=pending"));
        let due = engine.save_due_at().expect("a save is planned");
        assert!(due >= start + Duration::from_millis(1250), "{due:?}");
        engine.save_if_due(due - Duration::from_millis(1));
        assert!(!path.exists(), "saved early");
        engine.save_if_due(due);
        let saved = SavedState::load(&path).unwrap();
        assert_eq!(
            saved.leds["status"],
            Target::Blink {
                delay_on: 167,
                delay_off: 167
            }
        );
        assert_eq!(engine.save_due_at(), None, "the timer goes away");
        assert!(run(&mut engine, "list").ends_with("state_file=saved"));
    }

    #[test]
    fn a_state_equal_to_the_file_writes_nothing() {
        for delay in ["state_delay = 0", "state_delay = 1"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("state.toml");
            let mut engine = engine_with(dir.path(), delay);
            run(&mut engine, "blink 4");
            engine.flush();
            let written = inode(&path).expect("saved");
            // The same order again; with a delay, a change undone before the save.
            run(&mut engine, "blink 4");
            assert_eq!(engine.save_due_at(), None, "{delay}");
            if delay.ends_with('1') {
                run(&mut engine, "on");
                run(&mut engine, "blink 4");
                assert_eq!(engine.save_due_at(), None, "{delay}: nothing left to save");
            }
            engine.flush();
            engine.save_if_due(Instant::now() + Duration::from_secs(3600));
            // Each save renames a new file into place: the same inode means no write.
            assert_eq!(inode(&path), Some(written), "{delay}: rewritten");
            // A real change is written.
            run(&mut engine, "on");
            engine.flush();
            assert_ne!(inode(&path), Some(written), "{delay}: not written");
        }
    }

    #[test]
    fn a_file_that_did_not_load_is_rewritten_by_the_next_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.toml");
        std::fs::write(&path, "[leds.status]\nmode = \"bl").unwrap();
        let mut engine = engine_with(dir.path(), "state_delay = 0");
        run(&mut engine, "off");
        assert_eq!(SavedState::load(&path).unwrap().leds["status"], Target::Off);
    }
}
