//! Carries out orders: resolves the LED, drives it through the LED backend,
//! keeps the state file, and turns every failure into a reply in one place.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime};

use crate::access::{Peer, Policy};
use crate::claims::{Claim, Claims, Deadline};
use crate::config::{Config, LedConfig};
use crate::led::{Attributes, Led, LedError, Target};
use crate::protocol::{
    Action, BlinkTiming, Change, ErrorKind, Lease, Order, OrderError, PROTOCOL_VERSION, Query,
    Release, Reply, Which, format_duration, format_number, morse_steps, quote,
};
use crate::restore::{Patience, Restores, Stage};
use crate::state::{SavePlan, SavedState, StateError};

/// Who sends an order: the peer's credentials, and the connection a `hold`
/// claim lasts for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    pub peer: Option<&'a Peer>,
    /// The connection's id; None for callers without one (tests, benches).
    pub connection: Option<u64>,
    /// The client has closed its side: a `hold` would end at once.
    pub closing: bool,
}

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
    /// The live claims, on top of the base states in `saved`.
    claims: Claims,
    /// This boot's id, kept with the claims in the state file.
    boot_id: Option<String>,
}

/// Now, in milliseconds since the Unix epoch (claims' deadlines on disk).
fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
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
        let saved = on_disk.clone().unwrap_or_default();
        // for= claims outlive a restart of ledd, not a reboot.
        let boot_id = crate::state::boot_id();
        let same_boot = boot_id.is_some() && saved.boot_id == boot_id;
        let mut claims = Claims::restore(&saved.claims, same_boot, Instant::now(), wall_ms());
        for claim in claims.retain_leds(|led| config.leds.contains_key(led)) {
            warn!(
                "state file has claim {} on LED {}, which is no longer configured; ignored",
                claim.id, claim.led
            );
        }
        let mut engine = Engine {
            config,
            attrs,
            saved,
            on_disk,
            plan,
            save_error: None,
            before_retry: HashMap::new(),
            restores: Restores::default(),
            policy,
            claims,
            boot_id,
        };
        engine.sync_claims();
        engine
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
        let leds = &self.config.leds;
        for claim in self.claims.retain_leds(|led| leds.contains_key(led)) {
            info!(
                "claim {} ends: LED {} is no longer configured",
                claim.id, claim.led
            );
        }
        self.sync_claims();
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
    pub fn execute(&mut self, order: &Order, caller: &Caller, may_retry: bool) -> Outcome {
        let led = match order {
            Order::Change(change) => self.led_config(change.led.as_deref()).ok(),
            Order::Query(_) | Order::Release(_) => None,
        };
        let outcome = self.try_execute(order, caller);
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
        caller: &Caller,
    ) -> Result<Vec<(String, String)>, Failure> {
        let query = match order {
            Order::Query(query) => query,
            Order::Change(change) => return self.change(change, caller),
            Order::Release(release) => return Ok(self.release(release, caller)?),
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
            Query::Status { led } => self.status(led.as_deref()),
            Query::Watch { leds } => {
                let names = if leds.is_empty() {
                    self.config.leds.keys().cloned().collect()
                } else {
                    let mut names = Vec::new();
                    for led in leds {
                        names.push(self.led_config(Some(led))?.name);
                    }
                    names
                };
                Ok(vec![field("watching", names.join(","))])
            }
            Query::Claims { led } => {
                let led = match led {
                    Some(name) => Some(self.led_config(Some(name))?.name),
                    None => None,
                };
                let now = Instant::now();
                let live: Vec<String> = self
                    .claims
                    .on(led.as_deref())
                    .map(|claim| describe_claim(claim, now))
                    .collect();
                Ok(vec![
                    field("count", live.len().to_string()),
                    field("live", live.join(",")),
                ])
            }
        }
    }

    /// An LED's `status` fields: what the kernel shows, and what ledd knows
    /// of it (restores waiting, claims). Also the fields of `watch` events.
    fn status(&mut self, led: Option<&str>) -> Result<Vec<(String, String)>, Failure> {
        let led = self.led_config(led)?;
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
        fields.extend(self.what_ledd_knows(&led.name));
        Ok(fields)
    }

    /// The end of `status`: a restore waiting, the claims, what is shown.
    fn what_ledd_knows(&self, led: &str) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        if let Some((stage, kind)) = self.restores.describe(led) {
            fields.push(field("restore", stage.into()));
            fields.push(field("restore_error", kind.as_str().into()));
        }
        fields.push(field(
            "claims",
            self.claims.on(Some(led)).count().to_string(),
        ));
        match self.claims.shown(led) {
            Some(claim) => {
                fields.push(field("shown", "claim".into()));
                fields.push(field("claim", claim.id.to_string()));
            }
            None => fields.push(field("shown", "base".into())),
        }
        fields
    }

    /// The `status` fields for a `watch` event (without `brightness` while a
    /// trigger drives the LED): an LED whose state cannot be read is shown as
    /// unknown, with the kind of error.
    pub fn watched_state(&mut self, led: &str) -> Vec<(String, String)> {
        match self.status(Some(led)) {
            Ok(mut fields) => {
                // While a trigger drives the LED the kernel flips its
                // brightness on its own: that is not a change to report.
                let driven = fields
                    .iter()
                    .any(|(key, value)| key == "trigger" && value != "none");
                if driven {
                    fields.retain(|(key, _)| key != "brightness");
                }
                fields
            }
            Err(failure) => {
                let error = match failure {
                    Failure::Led(error, _) => OrderError::from(*error),
                    Failure::Order(error) => error,
                };
                let mut fields = vec![field("led", led.to_string())];
                match self.config.leds.get(led) {
                    // Its files vanished between finding the device and
                    // reading them (an unplug in progress): shown as the
                    // missing device the next look will find.
                    Some(config) if error.kind == ErrorKind::NoDevice => {
                        fields.push(field("device", config.devices.join(",")));
                        fields.push(field("exists", "no".into()));
                        fields.push(field("mode", "unknown".into()));
                        fields.extend(self.what_ledd_knows(led));
                    }
                    _ => {
                        fields.push(field("exists", "no".into()));
                        fields.push(field("mode", "unknown".into()));
                        fields.push(field("error", error.kind.as_str().into()));
                    }
                }
                fields
            }
        }
    }

    /// Carries out an order that changes an LED: its base state, or a claim
    /// on top of it. Only what is shown reaches the kernel: a change masked
    /// by a higher claim is recorded and answered `masked_by=ID`.
    fn change(
        &mut self,
        change: &Change,
        caller: &Caller,
    ) -> Result<Vec<(String, String)>, Failure> {
        let led = self.led_config(change.led.as_deref())?;
        self.policy
            .check(&led.name, caller.peer)
            .map_err(|message| OrderError::new(ErrorKind::Denied, message))?;
        if let Some(lease) = &change.lease {
            self.check_claim(&led, lease, caller)?;
        }
        let masked_by = self
            .claims
            .shown(&led.name)
            .filter(|shown| {
                change
                    .lease
                    .is_none_or(|lease| lease.priority < shown.priority)
            })
            .map(|shown| shown.id);
        let mut handle = self.led(&led);
        let state = handle.state()?;
        let (target, mut fields) = target_of(&change.action, state.max_brightness);
        let device = match masked_by {
            Some(_) => {
                handle.check(&state, &target)?;
                state.device.clone()
            }
            None => {
                let applied = handle
                    .apply_to(&state, &target)
                    .map_err(|error| Failure::Led(Box::new(error), state.as_target()))?;
                if let Some(level) = applied.level {
                    fields.push(field("brightness", level.to_string()));
                }
                if applied.clamped {
                    fields.push(field("clamped", "yes".into()));
                }
                // A newer order supersedes a saved state still waiting to be restored.
                self.restores.finish(&led.name);
                applied.device
            }
        };
        let mut reply = vec![field("led", led.name.clone()), field("device", device)];
        reply.append(&mut fields);
        match change.lease {
            None => self.remember(&led.name, target)?,
            Some(lease) => {
                // What the LED showed before its first claim is what it
                // shows again when the claims are over.
                // (No let chain: the package builds with Debian 13's rustc 1.85.)
                if !self.saved.leds.contains_key(&led.name) {
                    if let Some(before) = state.as_target() {
                        self.saved.leds.insert(led.name.clone(), before);
                    }
                }
                let id = self.claims.next_id();
                let now = Instant::now();
                self.claims.add(Claim {
                    id,
                    led: led.name.clone(),
                    target,
                    order: change.to_string(),
                    priority: lease.priority,
                    uid: caller.peer.map(|peer| peer.uid),
                    pid: caller.peer.map(|peer| peer.pid),
                    until: lease.for_ms.map(|ms| Deadline {
                        at: now + Duration::from_millis(ms),
                        wall_ms: wall_ms() + ms,
                    }),
                    connection: if lease.hold { caller.connection } else { None },
                });
                reply.push(field("claim", id.to_string()));
                reply.push(field("priority", lease.priority.to_string()));
                if let Some(ms) = lease.for_ms {
                    reply.push(field("for", format_duration(ms)));
                }
                if lease.hold {
                    reply.push(field("hold", "yes".into()));
                }
                self.claims_changed(&led.name)?;
            }
        }
        if let Some(id) = masked_by {
            reply.push(field("masked_by", id.to_string()));
        }
        Ok(reply)
    }

    /// Refuses a claim that could not last, or one over the limits.
    fn check_claim(
        &self,
        led: &LedConfig,
        lease: &Lease,
        caller: &Caller,
    ) -> Result<(), OrderError> {
        if lease.hold && (caller.connection.is_none() || caller.closing) {
            return Err(OrderError::new(
                ErrorKind::Usage,
                "hold lasts while the connection stays open, and this client has closed its side: it would end at once (keep the connection open, as `ledctl hold` does)",
            ));
        }
        let limit = self.config.max_claims_per_led;
        if self.claims.on(Some(&led.name)).count() >= limit {
            return Err(OrderError::new(
                ErrorKind::Busy,
                format!(
                    "LED {} already carries {limit} claims (max_claims_per_led); release one first",
                    led.name
                ),
            ));
        }
        let uid = caller.peer.map(|peer| peer.uid);
        let limit = self.config.max_claims_per_user;
        if self.claims.count_of_user(uid) >= limit {
            return Err(OrderError::new(
                ErrorKind::Busy,
                format!("you already hold {limit} claims (max_claims_per_user); release one first"),
            ));
        }
        Ok(())
    }

    /// `release [LED] [ID|all]`: ends the caller's claims, one by id, or
    /// every claim the caller may end (other users' as the LED's access
    /// policy allows), and shows what is left.
    fn release(
        &mut self,
        release: &Release,
        caller: &Caller,
    ) -> Result<Vec<(String, String)>, OrderError> {
        let led = match &release.led {
            Some(name) => Some(self.led_config(Some(name))?.name),
            None => None,
        };
        let uid = caller.peer.map(|peer| peer.uid);
        let may_end =
            |claim: &Claim| claim.uid == uid || self.policy.check(&claim.led, caller.peer).is_ok();
        let ids: BTreeSet<u64> = match release.which {
            Which::Id(id) => {
                let claim = self
                    .claims
                    .get(id)
                    .filter(|claim| led.as_deref().is_none_or(|led| claim.led == led))
                    .ok_or_else(|| {
                        OrderError::new(
                            ErrorKind::UnknownClaim,
                            format!(
                                "no live claim {id}{}; see `claims`",
                                match &led {
                                    Some(led) => format!(" on LED {led}"),
                                    None => String::new(),
                                }
                            ),
                        )
                    })?;
                if !may_end(claim) {
                    return Err(OrderError::new(
                        ErrorKind::Denied,
                        format!(
                            "claim {id} belongs to uid {}, and LED {}'s access policy does not let you end it",
                            claim.uid.map_or("?".into(), |uid| uid.to_string()),
                            claim.led
                        ),
                    ));
                }
                BTreeSet::from([id])
            }
            Which::Own => self
                .claims
                .on(led.as_deref())
                .filter(|claim| claim.uid == uid)
                .map(|claim| claim.id)
                .collect(),
            Which::All => self
                .claims
                .on(led.as_deref())
                .filter(|claim| may_end(claim))
                .map(|claim| claim.id)
                .collect(),
        };
        let ended = self.claims.end(|claim| ids.contains(&claim.id));
        self.claims_ended(&ended, "released", Instant::now())?;
        Ok(vec![
            field("released", ended.len().to_string()),
            field(
                "remaining",
                self.claims.on(led.as_deref()).count().to_string(),
            ),
        ])
    }

    /// Claims ended: each LED they were on shows what is left (its best
    /// claim, else its base), through the restore path, which writes only
    /// what differs and waits for udev or the device when it must; the
    /// state file follows.
    fn claims_ended(&mut self, ended: &[Claim], why: &str, now: Instant) -> Result<(), OrderError> {
        let leds: BTreeSet<&str> = ended.iter().map(|claim| claim.led.as_str()).collect();
        for claim in ended {
            info!(
                "claim {} on LED {} {why}: {}",
                claim.id, claim.led, claim.order
            );
        }
        let shown: Vec<(String, Target)> = leds
            .iter()
            .filter_map(|led| Some((led.to_string(), self.shown_target(led)?)))
            .collect();
        self.restores.plan(shown);
        self.restore_due(now);
        match leds.first() {
            Some(led) => self.claims_changed(led),
            None => Ok(()),
        }
    }

    /// What an LED should show: its best claim, else its base.
    fn shown_target(&self, led: &str) -> Option<Target> {
        match self.claims.shown(led) {
            Some(claim) => Some(claim.target.clone()),
            None => self.saved.leds.get(led).cloned(),
        }
    }

    /// The claims changed: the state file's copy of them follows.
    fn claims_changed(&mut self, led: &str) -> Result<(), OrderError> {
        self.sync_claims();
        self.state_changed(led)
    }

    /// Copies the `for=` claims into the state to save, with the boot they
    /// belong to.
    fn sync_claims(&mut self) {
        self.saved.claims = self.claims.saved();
        self.saved.boot_id = if self.saved.claims.is_empty() {
            None
        } else {
            self.boot_id.clone()
        };
    }

    /// When the nearest claim ends; None when no claim has a deadline, so
    /// the event loop arms no timer.
    pub fn claims_due_at(&self) -> Option<Instant> {
        self.claims.next_deadline()
    }

    /// Ends the claims whose time is up (the event loop's claim timer).
    pub fn expire_claims(&mut self, now: Instant) {
        let ended = self.claims.expire(now);
        if let Err(error) = self.claims_ended(&ended, "expired", now) {
            warn!("{}", error.message);
        }
    }

    /// A connection closed: its `hold` claims end at once.
    pub fn connection_closed(&mut self, connection: u64) {
        let ended = self.claims.connection_closed(connection);
        if let Err(error) = self.claims_ended(&ended, "ended with its connection", Instant::now()) {
            warn!("{}", error.message);
        }
    }

    /// Whether a connection holds claims (it must not be closed as idle).
    pub fn holds(&self, connection: u64) -> bool {
        self.claims.holds(connection)
    }

    /// When a restore waiting for udev is next tried, if any.
    pub fn next_restore(&self) -> Option<Instant> {
        self.restores.next_attempt()
    }

    /// Records an LED's new state. With `state_delay = 0` the state file is
    /// saved at once and a failed save is the order's error; otherwise the
    /// save is planned ([`Engine::save_due_at`]). A state equal to what the
    /// file holds writes nothing.
    fn remember(&mut self, led: &str, target: Target) -> Result<(), OrderError> {
        self.saved.leds.insert(led.to_string(), target);
        self.state_changed(led)
    }

    /// The state to save changed (a base, or the claims): saved at once or
    /// planned, as [`Engine::remember`] says.
    fn state_changed(&mut self, led: &str) -> Result<(), OrderError> {
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

    /// Plans to re-apply the saved state of every configured LED (at
    /// start): its base, or the claim that survived a restart of ledd.
    pub fn plan_restore(&mut self) {
        let (configured, gone): (Vec<_>, Vec<_>) = self
            .saved
            .leds
            .keys()
            .chain(self.claims.on(None).map(|claim| &claim.led))
            .cloned()
            .collect::<BTreeSet<String>>()
            .into_iter()
            .partition(|name| self.config.leds.contains_key(name));
        for name in gone {
            warn!("state file names LED {name}, which is no longer configured; ignored");
        }
        let shown: Vec<(String, Target)> = configured
            .into_iter()
            .filter_map(|name| Some((name.clone(), self.shown_target(&name)?)))
            .collect();
        self.restores.plan(shown);
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

/// The kernel state a change asks for, and the reply fields that say so;
/// effects compiled into a pattern light the LED at `max_brightness`.
fn target_of(action: &Action, max_brightness: u32) -> (Target, Vec<(String, String)>) {
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
        Action::Breathe { period_ms } => (
            Target::Breathe {
                period_ms: *period_ms,
            },
            vec![
                field("mode", "breathe".into()),
                field("period", format_duration(*period_ms)),
            ],
        ),
        Action::Morse { words, wpm, repeat } => {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let steps = morse_steps(&words, *wpm, max_brightness);
            let count = steps.len();
            (
                Target::Pattern {
                    steps,
                    repeat: *repeat,
                },
                vec![
                    field("mode", "pattern".into()),
                    field("morse", words.join("_")),
                    field("wpm", wpm.to_string()),
                    field("steps", count.to_string()),
                    field("repeat", repeat.to_string()),
                ],
            )
        }
    }
}

/// One claim in `claims`'s `live` list: `ID:LED:PRIORITY:UID:PID:LEFT:ORDER`
/// (LEFT is `hold` for a claim without deadline; the order comes last, as it
/// may hold colons; its spaces become `_` on the wire).
fn describe_claim(claim: &Claim, now: Instant) -> String {
    let unknown = || "-".to_string();
    let left = match claim.left(now) {
        // Rounded up, so a live claim never says 0.
        Some(left) => format_duration(left.as_millis().div_ceil(1000).max(1) as u64 * 1000),
        None => "hold".into(),
    };
    format!(
        "{}:{}:{}:{}:{}:{left}:{}",
        claim.id,
        claim.led,
        claim.priority,
        claim.uid.map_or_else(unknown, |uid| uid.to_string()),
        claim.pid.map_or_else(unknown, |pid| pid.to_string()),
        claim.order
    )
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
        Target::Breathe { period_ms } => format!("breathing every {period_ms} ms"),
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
        let caller = Caller {
            peer,
            connection: Some(1),
            closing: false,
        };
        match engine.execute(&Order::parse(line).unwrap(), &caller, false) {
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
            "ok led=power device=PWR exists=no mode=unknown claims=0 shown=base"
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

    fn shown(engine: &mut Engine) -> String {
        let status = run(engine, "status");
        let field = |key: &str| {
            status
                .split(' ')
                .find_map(|word| word.strip_prefix(&format!("{key}=")))
                .unwrap_or("")
                .to_string()
        };
        format!("{} {} {}", field("mode"), field("freq"), field("shown"))
    }

    #[test]
    fn a_claim_shows_over_the_base_and_the_base_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = engine(dir.path());
        run(&mut engine, "blink 2");
        let reply = run(&mut engine, "blink 5 for=2s");
        assert!(reply.ends_with("claim=1 priority=5 for=2s"), "{reply}");
        assert_eq!(shown(&mut engine), "blink 5 claim");
        assert!(run(&mut engine, "status").contains("claims=1 shown=claim claim=1"));
        // A masked change the LED could never show is refused now, not at
        // the claim's end.
        assert!(run(&mut engine, "breathe").starts_with("err range:"));
        assert!(run(&mut engine, "trigger mmc0").starts_with("err no-trigger:"));
        // A base order under the claim changes the base, not the LED.
        let reply = run(&mut engine, "blink 4");
        assert!(reply.ends_with("masked_by=1"), "{reply}");
        assert_eq!(shown(&mut engine), "blink 5 claim");
        // A lower claim waits under it; an equal newer one is shown.
        assert!(run(&mut engine, "on hold priority=3").ends_with("masked_by=1"));
        let due = engine.claims_due_at().expect("a deadline");
        assert!(run(&mut engine, "heartbeat hold").contains("claim=3"));
        assert_eq!(shown(&mut engine), "heartbeat  claim");
        // Its connection closes: back to the for= claim.
        engine.connection_closed(1);
        assert_eq!(shown(&mut engine), "blink 5 claim");
        engine.expire_claims(due - Duration::from_millis(1));
        assert_eq!(shown(&mut engine), "blink 5 claim", "not before its time");
        engine.expire_claims(due);
        assert_eq!(shown(&mut engine), "blink 4 base");
        assert_eq!(engine.claims_due_at(), None, "no deadline, no timer");
    }

    #[test]
    fn claims_are_listed_and_released() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = engine(dir.path());
        let me = Peer::new(10, 1000, 1000);
        let other = Peer::new(11, 1001, 1001);
        run_as(&mut engine, Some(&me), "blink 5 for=1m");
        run_as(
            &mut engine,
            Some(&other),
            "blink status 4 for=10s priority=7",
        );
        let list = run(&mut engine, "claims");
        assert!(
            list.starts_with(
                "ok count=2 live=1:status:5:1000:10:1m:blink_5_for=1m,2:status:7:1001:11:10s:blink_status_4_for=10s_priority=7"
            ),
            "{list}"
        );
        assert_eq!(run(&mut engine, "claims power"), "ok count=0 live=");
        assert_eq!(
            run_as(&mut engine, Some(&me), "release 9"),
            "err unknown-claim: no live claim 9; see `claims`"
        );
        assert_eq!(
            run_as(&mut engine, Some(&me), "release"),
            "ok released=1 remaining=1"
        );
        assert_eq!(shown(&mut engine), "blink 4 claim");
        // No access policy on the LED: anyone may end anyone's claims.
        assert_eq!(
            run_as(&mut engine, Some(&me), "release status 2"),
            "ok released=1 remaining=0"
        );
        assert!(run(&mut engine, "status").contains("claims=0 shown=base"));
    }

    #[test]
    fn other_users_claims_follow_the_access_policy() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = engine(dir.path());
        let mut config = engine.config().clone();
        if let Some(led) = config.leds.get_mut("status") {
            led.allow_users = vec!["1000".into(), "1001".into()];
        }
        engine.reconfigure(config.clone());
        let owner = Peer::new(10, 1000, 1000);
        run_as(&mut engine, Some(&owner), "blink 5 for=1m");
        if let Some(led) = config.leds.get_mut("status") {
            led.allow_users = vec!["1000".into()];
        }
        engine.reconfigure(config);
        let other = Peer::new(11, 1001, 1001);
        assert!(run_as(&mut engine, Some(&other), "release 1").starts_with("err denied:"));
        assert_eq!(
            run_as(&mut engine, Some(&other), "release all"),
            "ok released=0 remaining=1"
        );
        assert_eq!(
            run_as(&mut engine, Some(&owner), "release all"),
            "ok released=1 remaining=0"
        );
    }

    #[test]
    fn bad_claims_get_a_clear_err() {
        let dir = tempfile::tempdir().unwrap();
        let config = engine_with(
            dir.path(),
            "max_claims_per_led = 2\nmax_claims_per_user = 3",
        )
        .config()
        .clone();
        let mut engine = Engine::new(config, Box::new(SimulatedAttributes::new(["ACT", "PWR"])));
        let closing = Caller {
            peer: None,
            connection: Some(1),
            closing: true,
        };
        let reply = match engine.execute(&Order::parse("blink 2 hold").unwrap(), &closing, false) {
            Outcome::Done(reply) => reply.to_string(),
            Outcome::RetryLater => unreachable!(),
        };
        assert!(reply.starts_with("err usage: hold lasts while"), "{reply}");
        run(&mut engine, "blink 2 for=1m");
        run(&mut engine, "blink 3 for=1m");
        assert!(
            run(&mut engine, "blink 4 for=1m")
                .starts_with("err busy: LED status already carries 2 claims (max_claims_per_led)")
        );
        run(&mut engine, "blink power 4 for=1m");
        assert!(
            run(&mut engine, "blink power 5 for=1m")
                .starts_with("err busy: you already hold 3 claims (max_claims_per_user)")
        );
    }

    #[test]
    fn for_claims_survive_a_restart_not_a_reboot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.toml");
        let mut first = engine(dir.path());
        run(&mut first, "blink 2");
        run(&mut first, "blink 5 for=1h");
        run(&mut first, "on hold");
        first.flush();
        let saved = SavedState::load(&path).unwrap();
        assert_eq!(saved.claims.len(), 1, "hold claims are not saved");
        assert_eq!(saved.boot_id, crate::state::boot_id());
        // A restart: the claim is shown again, with its deadline.
        let mut second = engine(dir.path());
        second.plan_restore();
        second.restore_due(Instant::now());
        assert_eq!(shown(&mut second), "blink 5 claim");
        let left = second.claims_due_at().unwrap() - Instant::now();
        assert!(left > Duration::from_secs(3590), "{left:?}");
        // Another boot: the base only.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text = text.replace(saved.boot_id.as_deref().unwrap_or("none"), "another-boot");
        std::fs::write(&path, text).unwrap();
        let mut third = engine(dir.path());
        third.plan_restore();
        third.restore_due(Instant::now());
        assert_eq!(shown(&mut third), "blink 2 base");
        assert_eq!(third.claims_due_at(), None);
    }

    /// What may happen to the claims of an LED, for the property test.
    #[derive(Debug, Clone)]
    enum Step {
        Base(u8),
        Claim {
            freq: u8,
            priority: u8,
            /// Whole seconds, or None for `hold` on `connection`.
            secs: Option<u64>,
            connection: u64,
        },
        Release(u64),
        Wait(u64),
        Disconnect(u64),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        let freq = prop_oneof![Just(1u8), Just(2), Just(4), Just(5), Just(8), Just(10)];
        prop_oneof![
            freq.clone().prop_map(Step::Base),
            (freq, 0u8..=9, proptest::option::of(1u64..20), 1u64..4).prop_map(
                |(freq, priority, secs, connection)| Step::Claim {
                    freq,
                    priority,
                    secs,
                    connection
                }
            ),
            (1u64..12).prop_map(Step::Release),
            (1u64..8).prop_map(Step::Wait),
            (1u64..4).prop_map(Step::Disconnect),
        ]
    }

    proptest::proptest! {
        /// Any interleaving of base orders, claims, releases, expiries and
        /// disconnects leaves the kernel showing the highest-priority live
        /// claim (the newest among equals), else the base.
        #[test]
        fn the_kernel_shows_the_best_live_claim_else_the_base(
            steps in proptest::collection::vec(step(), 0..40)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut engine = engine_with(dir.path(), "max_claims_per_led = 100\nmax_claims_per_user = 100");
            let start = Instant::now();
            run(&mut engine, "blink 1");
            let delay = |freq: u8| BlinkTiming::from_freq(f64::from(freq), 50.0).delay_on_ms;
            let mut base = delay(1);
            // (id, priority, delay_on, deadline in whole seconds or None, connection)
            let mut model: Vec<(u64, u8, u64, Option<u64>, u64)> = Vec::new();
            let mut next_id = 0;
            // Virtual time, half a second off the deadlines' whole seconds,
            // so the real time the steps take cannot tip a comparison.
            let mut elapsed_ms = 500;
            for step in steps {
                match step {
                    Step::Base(freq) => {
                        let order = format!("blink {freq}");
                        proptest::prop_assert!(run(&mut engine, &order).starts_with("ok"));
                        base = delay(freq);
                    }
                    Step::Claim { freq, priority, secs, connection } => {
                        let lease = match secs {
                            Some(secs) => format!("for={}s", secs + elapsed_ms / 1000),
                            None => "hold".into(),
                        };
                        let caller = Caller { peer: None, connection: Some(connection), closing: false };
                        let order = Order::parse(&format!("blink {freq} {lease} priority={priority}")).unwrap();
                        let Outcome::Done(reply) = engine.execute(&order, &caller, false) else {
                            panic!("no retry on the simulation");
                        };
                        proptest::prop_assert!(matches!(reply, Reply::Ok(_)), "{}", reply);
                        next_id += 1;
                        model.push((next_id, priority, delay(freq), secs.map(|s| s + elapsed_ms / 1000), connection));
                    }
                    Step::Release(id) => {
                        let reply = run(&mut engine, &format!("release {id}"));
                        let live = model.iter().any(|c| c.0 == id);
                        proptest::prop_assert_eq!(reply.starts_with("ok"), live, "{}", reply);
                        model.retain(|c| c.0 != id);
                    }
                    Step::Wait(secs) => {
                        elapsed_ms += secs * 1000;
                        engine.expire_claims(start + Duration::from_millis(elapsed_ms));
                        model.retain(|c| c.3.is_none_or(|at| at * 1000 > elapsed_ms));
                    }
                    Step::Disconnect(connection) => {
                        engine.connection_closed(connection);
                        model.retain(|c| c.3.is_some() || c.4 != connection);
                    }
                }
                let best = model.iter().max_by_key(|c| (c.1, c.0));
                let expected = format!(
                    "delay_on={} ",
                    best.map_or(base, |c| c.2)
                );
                let status = run(&mut engine, "status");
                proptest::prop_assert!(status.contains(&expected), "{} lacks {}", status, expected);
                let shown = match best {
                    Some(claim) => format!("shown=claim claim={}", claim.0),
                    None => "shown=base".into(),
                };
                proptest::prop_assert!(status.ends_with(&shown), "{} lacks {}", status, shown);
            }
        }
    }
}
