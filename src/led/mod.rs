//! The LED backend: the only code that knows the kernel's LED-class semantics
//! (shared/notes/kernel-leds.md). It talks to LED attribute files through the
//! [`Attributes`] seam, which the real sysfs tree ([`sysfs::SysfsAttributes`])
//! and the in-memory simulation ([`sim::SimulatedAttributes`]) implement.

pub mod sim;
pub mod sysfs;

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

use crate::protocol::{BlinkTiming, PatternStep, format_number};

/// Access to the attribute files of LED class devices, by device name.
pub trait Attributes {
    /// Whether the device exists (`/sys/class/leds/DEVICE`).
    fn device_exists(&self, device: &str) -> bool;
    /// Reads an attribute, trimmed of its final newline.
    fn read(&self, device: &str, attribute: &str) -> io::Result<String>;
    /// Writes an attribute in one write, as the kernel expects.
    fn write(&mut self, device: &str, attribute: &str, value: &str) -> io::Result<()>;
    /// Where the attribute lives, for messages (`/sys/class/leds/ACT/trigger`).
    fn location(&self, device: &str, attribute: &str) -> String;
    /// `sysfs` or `simulated`, as `list` reports it.
    fn kind(&self) -> &'static str;
}

/// What an order asks an LED to do: the state ledd keeps and restores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Target {
    Off,
    On {
        /// The level asked for; `None` means `max_brightness`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        brightness: Option<u32>,
    },
    Blink {
        delay_on: u64,
        delay_off: u64,
    },
    Heartbeat,
    Pattern {
        steps: Vec<PatternStep>,
        repeat: i32,
    },
    Trigger {
        name: String,
    },
    /// The pattern trigger fading from dark to `max_brightness` and back.
    Breathe {
        period_ms: u64,
    },
}

/// The kernel's pattern file for a breath: entries fade linearly into the
/// next, so two entries rise and fall.
fn breath_pattern(period_ms: u64, level: u32) -> Vec<PatternStep> {
    let half = (period_ms / 2) as u32;
    vec![
        PatternStep {
            brightness: 0,
            duration_ms: half,
        },
        PatternStep {
            brightness: level,
            duration_ms: half,
        },
    ]
}

/// A failure of the LED layer, naming what was tried on which file.
#[derive(Debug)]
pub enum LedError {
    /// None of the LED's configured devices exists.
    NoDevice {
        led: String,
        devices: Vec<String>,
        root: String,
    },
    /// The device does not list the trigger.
    NoTrigger {
        led: String,
        device: String,
        trigger: String,
        available: Vec<String>,
    },
    /// A value the kernel would refuse (for example pattern brightness).
    Invalid { led: String, message: String },
    /// Reading or writing an attribute failed.
    Io {
        led: String,
        path: String,
        action: String,
        error: io::Error,
    },
}

impl LedError {
    /// Whether a write failed (earlier writes of the same order may have
    /// changed the LED already).
    pub fn is_write_failure(&self) -> bool {
        matches!(self, LedError::Io { action, .. } if action.starts_with("write"))
    }

    /// A permission error on a file the kernel creates when a trigger is
    /// switched on: udev may not have fixed its group yet, so it is worth a retry.
    pub fn is_transient_permission(&self) -> bool {
        match self {
            LedError::Io { path, error, .. } => {
                error.kind() == io::ErrorKind::PermissionDenied
                    && TRIGGER_FILES
                        .iter()
                        .any(|file| path.ends_with(&format!("/{file}")))
            }
            _ => false,
        }
    }
}

/// Files that exist only while their trigger is active (the udev `change` rule covers them).
pub const TRIGGER_FILES: [&str; 6] = [
    "delay_on",
    "delay_off",
    "pattern",
    "repeat",
    "shot",
    "invert",
];

impl fmt::Display for LedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedError::NoDevice { led, devices, root } => write!(
                f,
                "LED {led} has no device: none of {} exists under {root}",
                devices.join(", ")
            ),
            LedError::NoTrigger {
                led,
                device,
                trigger,
                available,
            } => write!(
                f,
                "LED {led} (device {device}) does not offer the trigger '{trigger}'; {}; available: {}",
                module_hint(trigger),
                available.join(" ")
            ),
            LedError::Invalid { led, message } => write!(f, "LED {led}: {message}"),
            LedError::Io {
                led,
                path,
                action,
                error,
            } => {
                write!(f, "LED {led}: cannot {action} {path}: {error}")?;
                match error.kind() {
                    io::ErrorKind::PermissionDenied => write!(
                        f,
                        " (ledd's user needs write access: add it to the group that udev gives LED files, normally 'leds', and install ledd's udev rules)"
                    ),
                    io::ErrorKind::NotFound => {
                        write!(
                            f,
                            " (the device has disappeared: unplugged or driver unloaded?)"
                        )
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for LedError {}

/// The module that provides a trigger, as a hint for people.
fn module_hint(trigger: &str) -> String {
    const MODULES: [&str; 11] = [
        "timer",
        "oneshot",
        "heartbeat",
        "pattern",
        "backlight",
        "gpio",
        "default-on",
        "transient",
        "activity",
        "netdev",
        "panic",
    ];
    if MODULES.contains(&trigger) {
        format!("is the kernel module ledtrig-{trigger} loaded? (modprobe ledtrig-{trigger})")
    } else {
        "the kernel or the driver providing it does not offer it to this LED".to_string()
    }
}

/// The `trigger` attribute: every trigger the LED accepts, the active one in brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerList {
    pub active: Option<String>,
    pub available: Vec<String>,
}

impl TriggerList {
    /// Parses `none kbd-capslock [timer] heartbeat`, with or without a
    /// trailing space, and the pseudo-entry `default` of newer kernels. The
    /// kernel always brackets one entry (`[none]` when idle); a line without
    /// one leaves the active trigger unknown.
    pub fn parse(line: &str) -> TriggerList {
        let mut active = None;
        let mut available = Vec::new();
        for word in line.split_whitespace() {
            let name = match word.strip_prefix('[').and_then(|w| w.strip_suffix(']')) {
                Some(name) => {
                    active = Some(name.to_string());
                    name
                }
                None => word,
            };
            available.push(name.to_string());
        }
        TriggerList { active, available }
    }

    pub fn is_active(&self, name: &str) -> bool {
        self.active.as_deref() == Some(name)
    }

    /// Whether the LED accepts the trigger.
    pub fn offers(&self, name: &str) -> bool {
        self.available.iter().any(|t| t == name)
    }
}

/// One LED's state as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelState {
    pub device: String,
    pub triggers: TriggerList,
    pub brightness: u32,
    pub max_brightness: u32,
    /// `delay_on`/`delay_off` while the timer trigger is active.
    pub delays: Option<(u64, u64)>,
    /// The pattern while the pattern trigger is active.
    pub pattern: Option<(Vec<PatternStep>, i32)>,
}

impl KernelState {
    /// Whether the kernel already does what `target` asks, so that nothing needs writing.
    pub fn matches(&self, target: &Target) -> bool {
        let active = self.triggers.active.as_deref();
        match target {
            // An unknown active trigger (no bracketed entry) never matches: write.
            Target::Off => active == Some("none") && self.brightness == 0,
            Target::On { brightness } => {
                let level = brightness
                    .unwrap_or(self.max_brightness)
                    .min(self.max_brightness);
                active == Some("none") && self.brightness == level
            }
            Target::Blink {
                delay_on,
                delay_off,
            } => active == Some("timer") && self.delays == Some((*delay_on, *delay_off)),
            Target::Heartbeat => active == Some("heartbeat"),
            Target::Pattern { steps, repeat } => {
                active == Some("pattern")
                    && self.pattern.as_ref() == Some(&(steps.clone(), *repeat))
            }
            Target::Trigger { name } => active == Some(name.as_str()),
            Target::Breathe { period_ms } => {
                active == Some("pattern")
                    && self.pattern.as_ref()
                        == Some(&(breath_pattern(*period_ms, self.max_brightness), -1))
            }
        }
    }

    /// The order that would give this state, to put an LED back as it was.
    /// `None` when the active trigger is unknown.
    pub fn as_target(&self) -> Option<Target> {
        Some(
            match (
                self.triggers.active.as_deref()?,
                &self.delays,
                &self.pattern,
            ) {
                ("none", _, _) if self.brightness == 0 => Target::Off,
                ("none", _, _) => Target::On {
                    brightness: Some(self.brightness),
                },
                ("timer", Some((delay_on, delay_off)), _) => Target::Blink {
                    delay_on: *delay_on,
                    delay_off: *delay_off,
                },
                ("heartbeat", _, _) => Target::Heartbeat,
                ("pattern", _, Some((steps, -1)))
                    if *steps
                        == breath_pattern(
                            u64::from(steps[0].duration_ms) * 2,
                            self.max_brightness,
                        ) =>
                {
                    Target::Breathe {
                        period_ms: u64::from(steps[0].duration_ms) * 2,
                    }
                }
                ("pattern", _, Some((steps, repeat))) if steps.len() >= 2 => Target::Pattern {
                    steps: steps.clone(),
                    repeat: *repeat,
                },
                (name, _, _) => Target::Trigger {
                    name: name.to_string(),
                },
            },
        )
    }

    /// What the kernel state means, as reply fields (`mode=blink freq=2 ...`).
    pub fn describe(&self) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        let mut add = |key: &str, value: String| fields.push((key.to_string(), value));
        match (self.triggers.active.as_deref(), self.delays) {
            (None, _) => add("mode", "unknown".into()),
            (Some("none"), _) if self.brightness == 0 => add("mode", "off".into()),
            (Some("none"), _) => add("mode", "on".into()),
            (Some("timer"), Some((on, off))) => {
                let timing = BlinkTiming {
                    delay_on_ms: on,
                    delay_off_ms: off,
                };
                add("mode", "blink".into());
                if on + off > 0 {
                    add("freq", format_number(timing.freq_hz()));
                    add("duty", format_number(timing.duty_percent()));
                }
                add("delay_on", on.to_string());
                add("delay_off", off.to_string());
            }
            (Some("heartbeat"), _) => add("mode", "heartbeat".into()),
            (Some("pattern"), _) => {
                add("mode", "pattern".into());
                if let Some((steps, repeat)) = &self.pattern {
                    add("pattern", format_steps(steps));
                    add("repeat", repeat.to_string());
                }
            }
            (Some(_), _) => add("mode", "trigger".into()),
        }
        add(
            "trigger",
            self.triggers
                .active
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        );
        add("brightness", self.brightness.to_string());
        add("max_brightness", self.max_brightness.to_string());
        fields
    }
}

/// Formats pattern steps for replies: `1:100,0:100`.
fn format_steps(steps: &[PatternStep]) -> String {
    steps
        .iter()
        .map(|s| format!("{}:{}", s.brightness, s.duration_ms))
        .collect::<Vec<_>>()
        .join(",")
}

/// The kernel's pattern file for steps that *hold* their brightness. The
/// kernel fades linearly from one entry to the next, so each step is
/// followed by a zero-length copy of itself: `1 200 1 0 0 200 0 0`.
fn kernel_pattern(steps: &[PatternStep]) -> String {
    steps
        .iter()
        .map(|s| format!("{b} {ms} {b} 0", b = s.brightness, ms = s.duration_ms))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads the kernel's pattern file back into steps: pairs written by
/// [`kernel_pattern`] become one step again; any other pattern (written by
/// someone else) is shown entry by entry.
fn parse_kernel_pattern(text: &str) -> Option<Vec<PatternStep>> {
    let numbers: Vec<u32> = text
        .split_whitespace()
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    if numbers.len() % 2 != 0 {
        return None;
    }
    let entries: Vec<PatternStep> = numbers
        .chunks(2)
        .map(|pair| PatternStep {
            brightness: pair[0],
            duration_ms: pair[1],
        })
        .collect();
    let held = entries.len() % 2 == 0
        && entries
            .chunks(2)
            .all(|pair| pair[1].duration_ms == 0 && pair[1].brightness == pair[0].brightness);
    Some(if held {
        entries.chunks(2).map(|pair| pair[0]).collect()
    } else {
        entries
    })
}

/// What applying a target did, for the reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The kernel device that was driven.
    pub device: String,
    /// Whether anything had to be written (false: the kernel already did it).
    pub wrote: bool,
    /// For `on`: the brightness used.
    pub level: Option<u32>,
    /// For `on`: whether the level asked for was above `max_brightness`.
    pub clamped: bool,
}

/// One configured LED bound to the attribute seam: the kernel semantics.
pub struct Led<'a, A: Attributes + ?Sized> {
    pub name: &'a str,
    pub devices: &'a [String],
    pub attrs: &'a mut A,
}

impl<A: Attributes + ?Sized> Led<'_, A> {
    /// The first configured device that exists, looked up on each use so a
    /// device that appears or disappears while ledd runs is noticed.
    pub fn device(&self) -> Result<String, LedError> {
        self.devices
            .iter()
            .find(|d| self.attrs.device_exists(d))
            .cloned()
            .ok_or_else(|| LedError::NoDevice {
                led: self.name.to_string(),
                devices: self.devices.to_vec(),
                root: self
                    .attrs
                    .location("", "")
                    .trim_end_matches('/')
                    .to_string(),
            })
    }

    fn io_error(
        &self,
        device: &str,
        attribute: &str,
        action: String,
        error: io::Error,
    ) -> LedError {
        LedError::Io {
            led: self.name.to_string(),
            path: self.attrs.location(device, attribute),
            action,
            error,
        }
    }

    fn read(&self, device: &str, attribute: &str) -> Result<String, LedError> {
        self.attrs
            .read(device, attribute)
            .map_err(|e| self.io_error(device, attribute, "read".into(), e))
    }

    fn read_number<T: std::str::FromStr>(
        &self,
        device: &str,
        attribute: &str,
    ) -> Result<T, LedError> {
        let text = self.read(device, attribute)?;
        text.trim().parse().map_err(|_| {
            self.io_error(
                device,
                attribute,
                "read".into(),
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("'{}' is not a number", text.trim()),
                ),
            )
        })
    }

    fn write(&mut self, device: &str, attribute: &str, value: &str) -> Result<(), LedError> {
        self.attrs
            .write(device, attribute, value)
            .map_err(|e| self.io_error(device, attribute, format!("write '{value}' to"), e))
    }

    /// Reads the LED's whole kernel state.
    pub fn state(&self) -> Result<KernelState, LedError> {
        let device = self.device()?;
        let triggers = TriggerList::parse(&self.read(&device, "trigger")?);
        let delays = if triggers.is_active("timer") {
            Some((
                self.read_number(&device, "delay_on")?,
                self.read_number(&device, "delay_off")?,
            ))
        } else {
            None
        };
        let pattern = if triggers.is_active("pattern") {
            let steps = parse_kernel_pattern(&self.read(&device, "pattern")?).unwrap_or_default();
            Some((steps, self.read_number(&device, "repeat")?))
        } else {
            None
        };
        Ok(KernelState {
            brightness: self.read_number(&device, "brightness")?,
            max_brightness: self.read_number(&device, "max_brightness")?,
            device,
            triggers,
            delays,
            pattern,
        })
    }

    /// Activates `trigger` unless it is already active: writing the active
    /// trigger again would reset it (the LED goes dark, the delays reset).
    fn ensure_trigger(&mut self, state: &KernelState, trigger: &str) -> Result<bool, LedError> {
        if state.triggers.is_active(trigger) {
            return Ok(false);
        }
        self.offered(state, trigger)?;
        self.write(&state.device, "trigger", trigger)?;
        Ok(true)
    }

    /// Refuses a trigger the device does not list (its module is not loaded).
    fn offered(&self, state: &KernelState, trigger: &str) -> Result<(), LedError> {
        if state.triggers.is_active(trigger) || state.triggers.offers(trigger) {
            return Ok(());
        }
        Err(LedError::NoTrigger {
            led: self.name.to_string(),
            device: state.device.clone(),
            trigger: trigger.to_string(),
            available: state.triggers.available.clone(),
        })
    }

    /// Whether the device can show `target` at all, without writing: its
    /// trigger is listed, a pattern's levels fit, a breath has levels to
    /// fade through. A change masked by a claim is checked so, and refused
    /// now rather than when it is finally shown.
    pub fn check(&self, state: &KernelState, target: &Target) -> Result<(), LedError> {
        let invalid = |message: String| LedError::Invalid {
            led: self.name.to_string(),
            message,
        };
        match target {
            Target::Off | Target::On { .. } => Ok(()),
            Target::Blink { .. } => self.offered(state, "timer"),
            Target::Heartbeat => self.offered(state, "heartbeat"),
            Target::Trigger { name } => self.offered(state, name),
            Target::Pattern { steps, .. } => {
                if let Some(step) = steps.iter().find(|s| s.brightness > state.max_brightness) {
                    return Err(invalid(format!(
                        "pattern brightness {} is above the device's max_brightness {}",
                        step.brightness, state.max_brightness
                    )));
                }
                self.offered(state, "pattern")
            }
            Target::Breathe { .. } if state.max_brightness < 2 => Err(invalid(format!(
                "device {} has max_brightness {}: it is only on or off and cannot breathe (try blink)",
                state.device, state.max_brightness
            ))),
            Target::Breathe { .. } => self.offered(state, "pattern"),
        }
    }

    /// Makes the kernel do what `target` asks, writing as little as possible:
    /// nothing at all when it already does (so a blink keeps its phase).
    /// Safe to call again after a failure: it starts from the kernel's state.
    pub fn apply(&mut self, target: &Target) -> Result<Applied, LedError> {
        let state = self.state()?;
        self.apply_to(&state, target)
    }

    /// [`Led::apply`] from a state just read (the caller keeps it, to put
    /// the LED back if this fails half-way).
    pub fn apply_to(&mut self, state: &KernelState, target: &Target) -> Result<Applied, LedError> {
        let device = state.device.clone();
        let mut applied = Applied {
            device: device.clone(),
            wrote: false,
            level: None,
            clamped: false,
        };
        if let Target::On { brightness } = target {
            applied.level = Some(
                brightness
                    .unwrap_or(state.max_brightness)
                    .min(state.max_brightness),
            );
            applied.clamped = brightness.is_some_and(|asked| asked > state.max_brightness);
        }
        if state.matches(target) {
            return Ok(applied);
        }
        self.check(state, target)?;
        match target {
            Target::Off => {
                if !state.triggers.is_active("none") {
                    self.write(&device, "trigger", "none")?;
                    applied.wrote = true;
                }
                // Removing a trigger turns the LED off in the kernel; the
                // brightness write covers an LED that was simply on.
                if self.read_number::<u32>(&device, "brightness")? != 0 {
                    self.write(&device, "brightness", "0")?;
                    applied.wrote = true;
                }
            }
            Target::On { .. } => {
                let level = applied.level.unwrap_or(state.max_brightness);
                if !state.triggers.is_active("none") {
                    self.write(&device, "trigger", "none")?;
                }
                self.write(&device, "brightness", &level.to_string())?;
                applied.wrote = true;
            }
            Target::Blink {
                delay_on,
                delay_off,
            } => {
                let switched = self.ensure_trigger(state, "timer")?;
                // Every write restarts the phase: while already blinking,
                // write only the delay that differs.
                let current = if switched { None } else { state.delays };
                if current.map(|(on, _)| on) != Some(*delay_on) {
                    self.write(&device, "delay_on", &delay_on.to_string())?;
                }
                if current.map(|(_, off)| off) != Some(*delay_off) {
                    self.write(&device, "delay_off", &delay_off.to_string())?;
                }
                applied.wrote = true;
            }
            Target::Heartbeat => {
                applied.wrote = self.ensure_trigger(state, "heartbeat")?;
            }
            Target::Trigger { name } => {
                applied.wrote = self.ensure_trigger(state, name)?;
            }
            Target::Pattern { steps, repeat } => {
                self.ensure_trigger(state, "pattern")?;
                self.write(&device, "pattern", &kernel_pattern(steps))?;
                self.write(&device, "repeat", &repeat.to_string())?;
                applied.wrote = true;
            }
            Target::Breathe { period_ms } => {
                self.ensure_trigger(state, "pattern")?;
                // Unheld entries: the kernel dims gradually between them.
                let entries: Vec<String> = breath_pattern(*period_ms, state.max_brightness)
                    .iter()
                    .map(|e| format!("{} {}", e.brightness, e.duration_ms))
                    .collect();
                self.write(&device, "pattern", &entries.join(" "))?;
                self.write(&device, "repeat", "-1")?;
                applied.wrote = true;
            }
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::led::sim::SimulatedAttributes;

    #[test]
    fn trigger_lines_old_and_new() {
        let new = TriggerList::parse("none kbd-capslock [timer] heartbeat pattern default\n");
        assert_eq!(new.active.as_deref(), Some("timer"));
        assert!(new.offers("pattern") && new.offers("timer"));
        let old = TriggerList::parse("[none] timer heartbeat ");
        assert_eq!(old.active.as_deref(), Some("none"));
        assert_eq!(old.available, ["none", "timer", "heartbeat"]);
        assert_eq!(TriggerList::parse("none timer").active, None);
        assert!(!old.offers("pattern"));
        assert!(TriggerList::parse("").available.is_empty());
    }

    fn led<'a>(
        attrs: &'a mut SimulatedAttributes,
        devices: &'a [String],
    ) -> Led<'a, SimulatedAttributes> {
        Led {
            name: "status",
            devices,
            attrs,
        }
    }

    #[test]
    fn blink_while_blinking_writes_only_the_delays() {
        let mut sim = SimulatedAttributes::new(["ACT"]);
        let devices = vec!["ledd:green:status".to_string(), "ACT".to_string()];
        let blink = |on, off| Target::Blink {
            delay_on: on,
            delay_off: off,
        };
        led(&mut sim, &devices).apply(&blink(100, 100)).unwrap();
        assert_eq!(sim.trigger_writes("ACT"), 1);
        let applied = led(&mut sim, &devices).apply(&blink(250, 250)).unwrap();
        assert_eq!(applied.device, "ACT");
        assert_eq!(
            sim.trigger_writes("ACT"),
            1,
            "timer must not be written again"
        );
        let state = led(&mut sim, &devices).state().unwrap();
        assert_eq!(state.delays, Some((250, 250)));
        // The same order again writes nothing at all: the phase is kept.
        let applied = led(&mut sim, &devices).apply(&blink(250, 250)).unwrap();
        assert!(!applied.wrote);
    }

    #[test]
    fn off_on_clamp_and_triggers() {
        let mut sim = SimulatedAttributes::new(["ACT"]);
        let devices = vec!["ACT".to_string()];
        let applied = led(&mut sim, &devices)
            .apply(&Target::On {
                brightness: Some(200),
            })
            .unwrap();
        assert_eq!((applied.level, applied.clamped), (Some(1), true));
        assert_eq!(sim.read("ACT", "brightness").unwrap(), "1");
        led(&mut sim, &devices).apply(&Target::Off).unwrap();
        let state = led(&mut sim, &devices).state().unwrap();
        assert!(state.matches(&Target::Off));
        let error = led(&mut sim, &devices)
            .apply(&Target::Trigger {
                name: "mmc0".into(),
            })
            .unwrap_err();
        assert!(matches!(error, LedError::NoTrigger { .. }), "{error}");
        sim.remove_trigger("pattern");
        let error = led(&mut sim, &devices)
            .apply(&Target::Pattern {
                steps: vec![
                    PatternStep {
                        brightness: 1,
                        duration_ms: 100,
                    };
                    2
                ],
                repeat: -1,
            })
            .unwrap_err();
        assert!(error.to_string().contains("ledtrig-pattern"), "{error}");
    }

    #[test]
    fn patterns_hold_each_step_and_read_back() {
        let steps = vec![
            PatternStep {
                brightness: 1,
                duration_ms: 200,
            },
            PatternStep {
                brightness: 0,
                duration_ms: 200,
            },
        ];
        let text = kernel_pattern(&steps);
        assert_eq!(text, "1 200 1 0 0 200 0 0");
        assert_eq!(parse_kernel_pattern(&text), Some(steps));
        // A fading pattern someone else wrote is shown as it is.
        assert_eq!(
            parse_kernel_pattern("0 1000 255 1000").map(|s| s.len()),
            Some(2)
        );
    }

    #[test]
    fn missing_devices_are_named() {
        let mut sim = SimulatedAttributes::new(["ACT"]);
        let devices = vec!["PWR".to_string(), "led1".to_string()];
        let error = led(&mut sim, &devices).state().unwrap_err();
        assert!(error.to_string().contains("PWR, led1"), "{error}");
    }

    #[test]
    fn status_describes_the_kernel_state() {
        let mut sim = SimulatedAttributes::new(["ACT"]);
        let devices = vec!["ACT".to_string()];
        led(&mut sim, &devices)
            .apply(&Target::Blink {
                delay_on: 125,
                delay_off: 375,
            })
            .unwrap();
        let fields = led(&mut sim, &devices).state().unwrap().describe();
        let get = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("mode"), Some("blink"));
        assert_eq!(get("freq"), Some("2"));
        assert_eq!(get("duty"), Some("25"));
        assert_eq!(get("trigger"), Some("timer"));
    }
}
