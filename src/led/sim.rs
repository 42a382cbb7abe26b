//! Simulated LEDs: an in-memory model of the kernel's LED class that honours
//! its semantics (shared/notes/kernel-leds.md), for machines with no LED and
//! for tests. It is a backend of its own: the sysfs code knows nothing of it.

use std::collections::BTreeMap;
use std::io;
use std::time::Instant;

use super::{Attributes, TriggerList};

/// Triggers every simulated LED offers, as a Raspberry Pi's gpio-leds LED would.
const SIM_TRIGGERS: [&str; 6] = [
    "none",
    "timer",
    "heartbeat",
    "pattern",
    "oneshot",
    "default-on",
];
/// gpio-leds LEDs are on/off: max_brightness 1 on current kernels.
const SIM_MAX_BRIGHTNESS: u32 = 1;
/// ledtrig-heartbeat at rest: a beat, a pause, a beat, a long pause.
const HEARTBEAT_MS: [(bool, u64); 4] = [(true, 70), (false, 180), (true, 70), (false, 940)];

#[derive(Debug, Clone)]
struct SimLed {
    triggers: Vec<String>,
    trigger: String,
    brightness: u32,
    delay_on: u64,
    delay_off: u64,
    pattern: Vec<(u32, u64)>,
    repeat: i32,
    /// When the active trigger last (re)started its sequence.
    phase_start: Instant,
    trigger_writes: usize,
}

/// A set of simulated LED class devices, by device name.
#[derive(Debug, Clone)]
pub struct SimulatedAttributes {
    leds: BTreeMap<String, SimLed>,
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.to_string())
}

fn missing() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

impl SimulatedAttributes {
    /// Simulated devices with these names, dark, with no trigger.
    pub fn new<I, S>(devices: I) -> SimulatedAttributes
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let leds = devices
            .into_iter()
            .map(|name| {
                let led = SimLed {
                    triggers: SIM_TRIGGERS.iter().map(|t| t.to_string()).collect(),
                    trigger: "none".into(),
                    brightness: 0,
                    delay_on: 0,
                    delay_off: 0,
                    pattern: Vec::new(),
                    repeat: -1,
                    phase_start: Instant::now(),
                    trigger_writes: 0,
                };
                (name.into(), led)
            })
            .collect();
        SimulatedAttributes { leds }
    }

    /// How many times `trigger` was written (tests use it to show a blink
    /// change does not restart the timer trigger).
    pub fn trigger_writes(&self, device: &str) -> usize {
        self.leds.get(device).map_or(0, |led| led.trigger_writes)
    }

    /// Makes a trigger unavailable, as if its module were not loaded.
    pub fn remove_trigger(&mut self, trigger: &str) {
        for led in self.leds.values_mut() {
            led.triggers.retain(|t| t != trigger);
        }
    }

    fn led(&self, device: &str) -> io::Result<&SimLed> {
        self.leds.get(device).ok_or_else(missing)
    }
}

impl SimLed {
    /// The level the LED shows now, computed from the active trigger's clock.
    fn current_brightness(&self, now: Instant) -> u32 {
        let elapsed = now.duration_since(self.phase_start).as_millis() as u64;
        let on_level = if self.brightness == 0 {
            SIM_MAX_BRIGHTNESS
        } else {
            self.brightness
        };
        match self.trigger.as_str() {
            "timer" => {
                let period = self.delay_on + self.delay_off;
                if period == 0 || elapsed % period < self.delay_on {
                    on_level
                } else {
                    0
                }
            }
            "heartbeat" => {
                let period: u64 = HEARTBEAT_MS.iter().map(|(_, ms)| ms).sum();
                step_level(
                    HEARTBEAT_MS
                        .iter()
                        .map(|(lit, ms)| (u32::from(*lit) * on_level, *ms)),
                    elapsed % period,
                )
            }
            "pattern" => {
                let period: u64 = self.pattern.iter().map(|(_, ms)| ms).sum();
                let finished =
                    self.repeat > 0 && period > 0 && elapsed / period >= self.repeat as u64;
                match (period, self.pattern.last()) {
                    (0, _) | (_, None) => 0,
                    (_, Some((last, _))) if finished => *last,
                    _ => step_level(self.pattern.iter().copied(), elapsed % period),
                }
            }
            "default-on" => SIM_MAX_BRIGHTNESS,
            _ => self.brightness,
        }
    }

    fn start_trigger(&mut self, trigger: &str) {
        self.trigger = trigger.to_string();
        self.trigger_writes += 1;
        self.phase_start = Instant::now();
        // Like led_trigger_set(): the old trigger's files go, the LED goes dark,
        // and the timer starts again from its 500/500 default.
        self.brightness = 0;
        (self.delay_on, self.delay_off) = if trigger == "timer" {
            (500, 500)
        } else {
            (0, 0)
        };
        self.pattern.clear();
        self.repeat = -1;
    }
}

fn step_level(steps: impl Iterator<Item = (u32, u64)>, mut at: u64) -> u32 {
    let mut level = 0;
    for (brightness, ms) in steps {
        level = brightness;
        if at < ms {
            break;
        }
        at -= ms;
    }
    level
}

impl Attributes for SimulatedAttributes {
    fn device_exists(&self, device: &str) -> bool {
        self.leds.contains_key(device)
    }

    fn read(&self, device: &str, attribute: &str) -> io::Result<String> {
        let led = self.led(device)?;
        let now = Instant::now();
        match (attribute, led.trigger.as_str()) {
            ("trigger", _) => Ok(led
                .triggers
                .iter()
                .map(|t| {
                    if *t == led.trigger {
                        format!("[{t}]")
                    } else {
                        t.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")),
            ("brightness", _) => Ok(led.current_brightness(now).to_string()),
            ("max_brightness", _) => Ok(SIM_MAX_BRIGHTNESS.to_string()),
            ("delay_on", "timer") => Ok(led.delay_on.to_string()),
            ("delay_off", "timer") => Ok(led.delay_off.to_string()),
            ("pattern", "pattern") => Ok(led
                .pattern
                .iter()
                .map(|(b, ms)| format!("{b} {ms}"))
                .collect::<Vec<_>>()
                .join(" ")),
            ("repeat", "pattern") => Ok(led.repeat.to_string()),
            _ => Err(missing()),
        }
    }

    fn write(&mut self, device: &str, attribute: &str, value: &str) -> io::Result<()> {
        let led = self.leds.get_mut(device).ok_or_else(missing)?;
        let value = value.trim();
        let number = |value: &str| value.parse::<u64>().map_err(|_| invalid("not a number"));
        match (attribute, led.trigger.as_str()) {
            ("trigger", _) => {
                let wanted = TriggerList::parse(value);
                match wanted.available.as_slice() {
                    [name] if led.triggers.contains(name) => led.start_trigger(name),
                    _ => return Err(invalid("no such trigger")),
                }
            }
            ("brightness", _) => {
                let level = number(value)?.min(u64::from(SIM_MAX_BRIGHTNESS)) as u32;
                if level == 0 {
                    // Writing 0 removes any trigger.
                    led.start_trigger("none");
                } else {
                    led.brightness = level;
                }
            }
            ("delay_on" | "delay_off", "timer") => {
                let ms = number(value)?;
                if attribute == "delay_on" {
                    led.delay_on = ms;
                } else {
                    led.delay_off = ms;
                }
                if led.delay_on == 0 && led.delay_off == 0 {
                    (led.delay_on, led.delay_off) = (500, 500);
                }
                led.phase_start = Instant::now();
            }
            ("pattern", "pattern") => {
                let numbers: Vec<u64> = value
                    .split_whitespace()
                    .map(number)
                    .collect::<Result<_, _>>()?;
                let steps: Vec<(u32, u64)> = numbers
                    .chunks(2)
                    .map(|pair| (pair[0] as u32, pair.get(1).copied().unwrap_or(0)))
                    .collect();
                if numbers.len() % 2 != 0
                    || !(2..=1024).contains(&steps.len())
                    || steps.iter().any(|(b, _)| *b > SIM_MAX_BRIGHTNESS)
                {
                    return Err(invalid("bad pattern"));
                }
                led.pattern = steps;
                led.phase_start = Instant::now();
            }
            ("repeat", "pattern") => {
                let repeat: i32 = value.parse().map_err(|_| invalid("not a number"))?;
                if repeat == 0 || repeat < -1 {
                    return Err(invalid("bad repeat"));
                }
                led.repeat = repeat;
                led.phase_start = Instant::now();
            }
            ("max_brightness", _) => return Err(io::Error::from(io::ErrorKind::PermissionDenied)),
            _ => return Err(missing()),
        }
        Ok(())
    }

    fn location(&self, device: &str, attribute: &str) -> String {
        format!("simulated:/{device}/{attribute}")
    }

    fn kind(&self) -> &'static str {
        "simulated"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn kernel_semantics_are_honoured() {
        let mut sim = SimulatedAttributes::new(["led0"]);
        assert_eq!(
            sim.read("led0", "trigger").unwrap(),
            "[none] timer heartbeat pattern oneshot default-on"
        );
        assert!(
            sim.read("led0", "delay_on").is_err(),
            "delay files only exist with the timer"
        );
        sim.write("led0", "trigger", "timer").unwrap();
        assert_eq!(sim.read("led0", "delay_on").unwrap(), "500");
        sim.write("led0", "delay_on", "100").unwrap();
        sim.write("led0", "delay_off", "0").unwrap();
        assert_eq!(sim.read("led0", "delay_off").unwrap(), "0");
        sim.write("led0", "delay_on", "0").unwrap();
        assert_eq!(
            sim.read("led0", "delay_on").unwrap(),
            "500",
            "both 0 means 500/500"
        );
        sim.write("led0", "delay_on", "100").unwrap();
        sim.write("led0", "trigger", "timer").unwrap();
        assert_eq!(
            sim.read("led0", "delay_on").unwrap(),
            "500",
            "re-writing timer resets it"
        );
        sim.write("led0", "brightness", "0").unwrap();
        assert!(sim.read("led0", "trigger").unwrap().starts_with("[none]"));
        assert!(sim.write("led0", "trigger", "mmc0").is_err());
        assert!(sim.read("nosuch", "trigger").is_err());
    }

    #[test]
    fn timer_toggles_with_time() {
        let mut sim = SimulatedAttributes::new(["led0"]);
        sim.write("led0", "trigger", "timer").unwrap();
        sim.write("led0", "delay_on", "20").unwrap();
        sim.write("led0", "delay_off", "20").unwrap();
        let start = Instant::now();
        let mut seen = [false; 2];
        while start.elapsed() < Duration::from_millis(200) && !(seen[0] && seen[1]) {
            let level: usize = sim.read("led0", "brightness").unwrap().parse().unwrap();
            seen[level] = true;
            std::thread::sleep(Duration::from_millis(3));
        }
        assert_eq!(seen, [true, true]);
    }
}
