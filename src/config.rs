//! ledd's configuration file (TOML): reading, defaults and validation.
//! Every key has a default; unknown keys are errors. See ledd.toml(5).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::logging::LevelFilter;
use crate::protocol::{is_valid_led_name, quote};

pub const DEFAULT_CONFIG_PATH: &str = "/etc/ledd/ledd.toml";
pub use crate::protocol::DEFAULT_SOCKET;
pub const DEFAULT_SYSFS_ROOT: &str = "/sys/class/leds";
pub const DEFAULT_STATE_FILE: &str = "/var/lib/ledd/state.toml";
pub const DEFAULT_SOCKET_MODE: u32 = 0o660;
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_MAX_CONNECTIONS_PER_USER: usize = 64;
pub const DEFAULT_MAX_CLAIMS_PER_LED: usize = 16;
pub const DEFAULT_MAX_CLAIMS_PER_USER: usize = 32;
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;
pub const DEFAULT_RATE_LIMIT: u32 = 200;
pub const DEFAULT_STATE_DELAY_SECS: u64 = 1;
pub const DEFAULT_STATE_MAX_DELAY_SECS: u64 = 30;
/// Upper bounds of the two state delays: an hour of quiet, a day of changes.
const MAX_STATE_DELAY_SECS: i64 = 3_600;
const MAX_STATE_MAX_DELAY_SECS: i64 = 86_400;
/// The devices the LED named `status` looks for when no LED is configured:
/// the overlay's LED, then the Raspberry Pi's built-in one (new and old names).
pub const DEFAULT_STATUS_DEVICES: [&str; 3] = ["ledd:green:status", "ACT", "led0"];

/// What LEDs do when ledd stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnExit {
    /// Leave every LED as it is: the kernel keeps blinking.
    Keep,
    /// Turn every configured LED off.
    Off,
}

/// One configured LED.
#[derive(Debug, Clone, PartialEq)]
pub struct LedConfig {
    /// Logical name used in orders.
    pub name: String,
    /// Kernel device names, in order of preference: the first that exists is used.
    pub devices: Vec<String>,
    /// Users (names or uids) allowed to change the LED; with `allow_groups`
    /// empty too, anyone who can connect may.
    pub allow_users: Vec<String>,
    /// Groups (names or gids) whose members may change the LED.
    pub allow_groups: Vec<String>,
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub socket: PathBuf,
    pub socket_mode: u32,
    pub socket_group: Option<String>,
    pub sysfs_root: PathBuf,
    pub default_led: Option<String>,
    pub on_exit: OnExit,
    pub state_file: PathBuf,
    /// How long orders must stop before the state file is written; zero
    /// writes it with every change.
    pub state_delay: Duration,
    /// The longest a change waits to be written while orders keep coming:
    /// what a crash can lose.
    pub state_max_delay: Duration,
    pub restore: bool,
    pub max_connections: usize,
    /// Connections one user (uid) may hold at once; root and ledd's own
    /// user count like anyone else.
    pub max_connections_per_user: usize,
    /// Live claims (`for=`, `hold`) one LED may carry at once.
    pub max_claims_per_led: usize,
    /// Live claims one user (uid) may hold at once, on all LEDs.
    pub max_claims_per_user: usize,
    pub idle_timeout: Duration,
    /// Orders that change an LED, per second and connection; past it ledd
    /// slows that client down.
    pub rate_limit: u32,
    /// The least severe messages logged (`--log-level` overrides it).
    pub log_level: LevelFilter,
    pub leds: BTreeMap<String, LedConfig>,
}

/// Every top-level key and every LED key, as ledd.toml(5) documents them.
pub const CONFIG_KEYS: [&str; 17] = [
    "socket",
    "socket_mode",
    "socket_group",
    "sysfs_root",
    "default_led",
    "on_exit",
    "state_file",
    "state_delay",
    "state_max_delay",
    "restore",
    "max_connections",
    "max_connections_per_user",
    "max_claims_per_led",
    "max_claims_per_user",
    "idle_timeout",
    "rate_limit",
    "log_level",
];
pub const LED_KEYS: [&str; 3] = ["device", "allow_users", "allow_groups"];

/// What is wrong with a configuration file, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key '{key}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLed {
    device: Spanned<OneOrMany>,
    #[serde(default)]
    allow_users: Vec<Spanned<String>>,
    #[serde(default)]
    allow_groups: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    socket: Option<Spanned<PathBuf>>,
    socket_mode: Option<Spanned<String>>,
    socket_group: Option<Spanned<String>>,
    sysfs_root: Option<Spanned<PathBuf>>,
    default_led: Option<Spanned<String>>,
    on_exit: Option<OnExit>,
    state_file: Option<Spanned<PathBuf>>,
    state_delay: Option<Spanned<i64>>,
    state_max_delay: Option<Spanned<i64>>,
    restore: Option<bool>,
    max_connections: Option<Spanned<i64>>,
    max_connections_per_user: Option<Spanned<i64>>,
    max_claims_per_led: Option<Spanned<i64>>,
    max_claims_per_user: Option<Spanned<i64>>,
    idle_timeout: Option<Spanned<i64>>,
    rate_limit: Option<Spanned<i64>>,
    log_level: Option<Spanned<String>>,
    leds: Option<BTreeMap<String, Spanned<RawLed>>>,
}

impl Default for Config {
    fn default() -> Config {
        let status = LedConfig {
            name: "status".to_string(),
            devices: DEFAULT_STATUS_DEVICES
                .iter()
                .map(|d| d.to_string())
                .collect(),
            allow_users: Vec::new(),
            allow_groups: Vec::new(),
        };
        Config {
            socket: DEFAULT_SOCKET.into(),
            socket_mode: DEFAULT_SOCKET_MODE,
            socket_group: None,
            sysfs_root: DEFAULT_SYSFS_ROOT.into(),
            default_led: Some("status".to_string()),
            on_exit: OnExit::Keep,
            state_file: DEFAULT_STATE_FILE.into(),
            state_delay: Duration::from_secs(DEFAULT_STATE_DELAY_SECS),
            state_max_delay: Duration::from_secs(DEFAULT_STATE_MAX_DELAY_SECS),
            restore: true,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_user: DEFAULT_MAX_CONNECTIONS_PER_USER,
            max_claims_per_led: DEFAULT_MAX_CLAIMS_PER_LED,
            max_claims_per_user: DEFAULT_MAX_CLAIMS_PER_USER,
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS),
            rate_limit: DEFAULT_RATE_LIMIT,
            log_level: LevelFilter::Info,
            leds: BTreeMap::from([("status".to_string(), status)]),
        }
    }
}

/// Whether `name` can be a kernel LED device name that stays inside the
/// sysfs root: not empty, not `.` or `..`, no `/`, no NUL, no control
/// characters, and no white space (so it fits in a reply field).
pub fn is_valid_device_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 255
        && !name
            .chars()
            .any(|c| c == '/' || c.is_control() || c.is_whitespace())
}

/// User and group names as useradd accepts them, or numbers.
fn is_valid_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::parse(&read_text(path)?, path)
    }

    /// Validates configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let error_at =
            |span: Option<std::ops::Range<usize>>, key: Option<&str>, message: String| {
                ConfigError {
                    file: path.to_path_buf(),
                    line: span.map(|span| line_of(text, span.start)),
                    key: key.map(str::to_string),
                    message,
                }
            };
        let raw: RawConfig = toml::from_str(text)
            .map_err(|error| error_at(error.span(), None, error.message().trim().to_string()))?;
        let defaults = Config::default();

        let socket_mode = match raw.socket_mode {
            None => DEFAULT_SOCKET_MODE,
            Some(mode) => u32::from_str_radix(mode.get_ref(), 8)
                .ok()
                .filter(|value| *value <= 0o777)
                .ok_or_else(|| {
                    error_at(
                        Some(mode.span()),
                        Some("socket_mode"),
                        format!(
                            "'{}' is not an octal file mode such as \"0660\"",
                            quote(mode.get_ref())
                        ),
                    )
                })?,
        };
        let socket_group = match raw.socket_group {
            Some(group) if group.get_ref().is_empty() => {
                return Err(error_at(
                    Some(group.span()),
                    Some("socket_group"),
                    "must name a group (leave the key out to keep ledd's own group)".into(),
                ));
            }
            Some(group) => Some(group.into_inner()),
            None => None,
        };
        let mut paths = Vec::new();
        for (key, value, default) in [
            ("socket", raw.socket, defaults.socket),
            ("sysfs_root", raw.sysfs_root, defaults.sysfs_root),
            ("state_file", raw.state_file, defaults.state_file),
        ] {
            let path = match value {
                None => default,
                Some(value) if value.get_ref().is_absolute() => value.into_inner(),
                Some(value) => {
                    return Err(error_at(
                        Some(value.span()),
                        Some(key),
                        format!("'{}' is not an absolute path", value.get_ref().display()),
                    ));
                }
            };
            paths.push(path);
        }
        let [socket, sysfs_root, state_file]: [PathBuf; 3] = paths
            .try_into()
            .unwrap_or_else(|_| unreachable!("three paths"));

        let count = |value, default: usize, key| {
            positive(value, default as i64, 1_000_000)
                .map(|count| count as usize)
                .map_err(|(span, message)| error_at(span, Some(key), message))
        };
        let max_connections = count(
            raw.max_connections,
            DEFAULT_MAX_CONNECTIONS,
            "max_connections",
        )?;
        let max_connections_per_user = count(
            raw.max_connections_per_user,
            DEFAULT_MAX_CONNECTIONS_PER_USER,
            "max_connections_per_user",
        )?;
        let max_claims_per_led = count(
            raw.max_claims_per_led,
            DEFAULT_MAX_CLAIMS_PER_LED,
            "max_claims_per_led",
        )?;
        let max_claims_per_user = count(
            raw.max_claims_per_user,
            DEFAULT_MAX_CLAIMS_PER_USER,
            "max_claims_per_user",
        )?;
        let log_level = match raw.log_level {
            None => defaults.log_level,
            Some(level) => crate::logging::parse_level(level.get_ref()).ok_or_else(|| {
                error_at(
                    Some(level.span()),
                    Some("log_level"),
                    format!(
                        "'{}' is not a log level: use one of {}",
                        quote(level.get_ref()),
                        crate::logging::LEVELS.join(", ")
                    ),
                )
            })?,
        };
        let idle_timeout = positive(raw.idle_timeout, DEFAULT_IDLE_TIMEOUT_SECS as i64, 86_400)
            .map_err(|(span, message)| error_at(span, Some("idle_timeout"), message))?;
        let rate_limit = positive(raw.rate_limit, DEFAULT_RATE_LIMIT as i64, 1_000_000)
            .map_err(|(span, message)| error_at(span, Some("rate_limit"), message))?
            as u32;
        let state_delay_span = raw.state_delay.as_ref().map(Spanned::span);
        let state_max_delay_span = raw.state_max_delay.as_ref().map(Spanned::span);
        let state_delay = within(
            raw.state_delay,
            DEFAULT_STATE_DELAY_SECS as i64,
            0,
            MAX_STATE_DELAY_SECS,
        )
        .map_err(|(span, message)| error_at(span, Some("state_delay"), message))?;
        let state_max_delay = within(
            raw.state_max_delay,
            DEFAULT_STATE_MAX_DELAY_SECS as i64,
            0,
            MAX_STATE_MAX_DELAY_SECS,
        )
        .map_err(|(span, message)| error_at(span, Some("state_max_delay"), message))?;
        if state_max_delay < state_delay {
            // Blame the key the user wrote; with both written, the bound.
            let default = |span: &Option<_>| if span.is_none() { ", the default" } else { "" };
            let message = format!(
                "state_max_delay ({state_max_delay}{}) is shorter than state_delay ({state_delay}{}): \
                 the bound on unsaved changes must be at least the quiet period",
                default(&state_max_delay_span),
                default(&state_delay_span),
            );
            let (span, key) = match (state_max_delay_span, state_delay_span) {
                (Some(span), _) => (Some(span), "state_max_delay"),
                (None, span) => (span, "state_delay"),
            };
            return Err(error_at(span, Some(key), message));
        }

        let leds = match raw.leds {
            None => defaults.leds,
            Some(raw_leds) => {
                let mut leds = BTreeMap::new();
                for (name, led) in raw_leds {
                    let key = format!("leds.{name}");
                    if !is_valid_led_name(&name) {
                        return Err(error_at(
                            Some(led.span()),
                            Some(&key),
                            format!(
                                "'{}' is not a valid LED name: start with a letter, then letters, digits, '_' or '-' (at most 64), and not 'all' or 'hold', which orders use as words",
                                quote(&name)
                            ),
                        ));
                    }
                    let span = led.span();
                    let RawLed {
                        device,
                        allow_users,
                        allow_groups,
                    } = led.into_inner();
                    let mut policy = Vec::new();
                    for (field, names) in
                        [("allow_users", allow_users), ("allow_groups", allow_groups)]
                    {
                        let mut checked = Vec::new();
                        for name in names {
                            if !is_valid_account_name(name.get_ref()) {
                                return Err(error_at(
                                    Some(name.span()),
                                    Some(&format!("{key}.{field}")),
                                    format!(
                                        "'{}' is not a user or group name or number",
                                        quote(name.get_ref())
                                    ),
                                ));
                            }
                            checked.push(name.into_inner());
                        }
                        policy.push(checked);
                    }
                    let allow_groups = policy.pop().unwrap_or_default();
                    let allow_users = policy.pop().unwrap_or_default();
                    let device_span = device.span();
                    let devices = match device.into_inner() {
                        OneOrMany::One(device) => vec![device],
                        OneOrMany::Many(devices) => devices,
                    };
                    if devices.is_empty() {
                        return Err(error_at(
                            Some(span),
                            Some(&format!("{key}.device")),
                            "names no device".into(),
                        ));
                    }
                    if let Some(bad) = devices.iter().find(|d| !is_valid_device_name(d)) {
                        return Err(error_at(
                            Some(device_span),
                            Some(&format!("{key}.device")),
                            format!(
                                "'{}' is not a kernel LED name: no '/', '..', NUL, control characters or spaces",
                                quote(bad)
                            ),
                        ));
                    }
                    leds.insert(
                        name.clone(),
                        LedConfig {
                            name,
                            devices,
                            allow_users,
                            allow_groups,
                        },
                    );
                }
                if leds.is_empty() {
                    return Err(error_at(None, Some("leds"), "configures no LED".into()));
                }
                leds
            }
        };

        let default_led = match raw.default_led {
            Some(name) if leds.contains_key(name.get_ref()) => Some(name.into_inner()),
            Some(name) => {
                return Err(error_at(
                    Some(name.span()),
                    Some("default_led"),
                    format!(
                        "no LED named '{}' is configured (configured: {})",
                        quote(name.get_ref()),
                        leds.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            None if leds.len() == 1 => leds.keys().next().cloned(),
            None if leds.contains_key("status") => Some("status".to_string()),
            None => None,
        };

        Ok(Config {
            socket,
            socket_mode,
            socket_group,
            sysfs_root,
            default_led,
            on_exit: raw.on_exit.unwrap_or(defaults.on_exit),
            state_file,
            state_delay: Duration::from_secs(state_delay as u64),
            state_max_delay: Duration::from_secs(state_max_delay as u64),
            restore: raw.restore.unwrap_or(defaults.restore),
            max_connections,
            max_connections_per_user,
            max_claims_per_led,
            max_claims_per_user,
            idle_timeout: Duration::from_secs(idle_timeout as u64),
            rate_limit,
            log_level,
            leds,
        })
    }
}

type SpannedMessage = (Option<std::ops::Range<usize>>, String);

fn positive(value: Option<Spanned<i64>>, default: i64, max: i64) -> Result<i64, SpannedMessage> {
    within(value, default, 1, max)
}

fn within(
    value: Option<Spanned<i64>>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, SpannedMessage> {
    match value {
        None => Ok(default),
        Some(value) if (min..=max).contains(value.get_ref()) => Ok(value.into_inner()),
        Some(value) => Err((
            Some(value.span()),
            format!("{} is out of range ({min} to {max})", value.get_ref()),
        )),
    }
}

/// A configuration file's text, or an error that says how to fix a missing
/// one (ledd.toml and ledd-mqtt's mqtt.toml alike).
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|error| ConfigError {
        file: path.to_path_buf(),
        line: None,
        key: None,
        message: format!(
            "cannot read the configuration: {error}{}",
            if error.kind() == std::io::ErrorKind::NotFound {
                " (create it, or name another file with --config)"
            } else {
                ""
            }
        ),
    })
}

/// The 1-based line of byte `offset` in `text` (for messages).
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/ledd/ledd.toml"))
    }

    #[test]
    fn empty_file_gives_the_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.leds["status"].devices, DEFAULT_STATUS_DEVICES);
    }

    #[test]
    fn the_issue_example_parses() {
        let config = parse(
            r#"
socket = "/run/ledd/ledd.sock"
socket_mode = "0660"
socket_group = "leds"
sysfs_root = "/sys/class/leds"
default_led = "status"
on_exit = "keep"
state_file = "/var/lib/ledd/state.toml"
restore = true

[leds.status]
device = ["ledd:green:status", "ACT", "led0"]
[leds.power]
device = "PWR"
"#,
        )
        .unwrap();
        assert_eq!(config.socket_group.as_deref(), Some("leds"));
        assert_eq!(config.leds["power"].devices, ["PWR"]);
        assert_eq!(config.default_led.as_deref(), Some("status"));
    }

    #[test]
    fn one_led_is_the_default() {
        let config = parse("[leds.caps]\ndevice = \"input0::capslock\"\n").unwrap();
        assert_eq!(config.default_led.as_deref(), Some("caps"));
        let config = parse("[leds.a]\ndevice = \"x\"\n[leds.b]\ndevice = \"y\"\n").unwrap();
        assert_eq!(config.default_led, None);
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let error = parse("socket = \"/tmp/s\"\nbogus = 1\n").unwrap_err();
        assert_eq!(error.line, Some(2), "{error}");
        assert!(error.to_string().contains("bogus"), "{error}");

        let error = parse("\n\nsocket_mode = \"999\"\n").unwrap_err();
        assert_eq!(
            (error.line, error.key.as_deref()),
            (Some(3), Some("socket_mode"))
        );

        let error = parse("[leds.status]\ndevice = [\"../../etc\"]\n").unwrap_err();
        assert_eq!(error.key.as_deref(), Some("leds.status.device"));
        assert_eq!(error.line, Some(2));

        let error = parse("default_led = \"nope\"\n").unwrap_err();
        assert!(error.message.contains("configured: status"), "{error}");

        let error = parse("[leds.\"2fast\"]\ndevice = \"x\"\n").unwrap_err();
        assert_eq!(error.key.as_deref(), Some("leds.2fast"));
        // Words of the order grammar: `release all`, a trailing `hold`.
        for word in ["all", "hold"] {
            let error = parse(&format!("[leds.{word}]\ndevice = \"x\"\n")).unwrap_err();
            assert_eq!(error.key.as_deref(), Some(format!("leds.{word}").as_str()));
            assert!(error.message.contains("orders use as words"), "{error}");
        }

        let error = parse("on_exit = \"explode\"\n").unwrap_err();
        assert_eq!(error.line, Some(1));
        assert!(parse("socket = \"relative.sock\"").is_err());
        assert!(parse("max_connections = 0").is_err());
        assert!(parse("max_connections_per_user = 0").is_err());
        let error = parse("log_level = \"loud\"").unwrap_err();
        assert_eq!(error.key.as_deref(), Some("log_level"));
        assert!(
            error.message.contains("error, warn, info, debug"),
            "{error}"
        );
        let config = parse("log_level = \"debug\"\nmax_connections_per_user = 5").unwrap();
        assert_eq!(config.log_level, LevelFilter::Debug);
        assert_eq!(config.max_connections_per_user, 5);
        let config = parse("max_claims_per_led = 2\nmax_claims_per_user = 3").unwrap();
        assert_eq!(
            (config.max_claims_per_led, config.max_claims_per_user),
            (2, 3)
        );
        assert!(parse("max_claims_per_led = 0").is_err());
        assert!(parse("[leds.x]\ndevice = []\n").is_err());
        assert!(parse("[leds.x]\ndevice = \"x\"\ncolour = \"red\"\n").is_err());
    }

    #[test]
    fn state_delays_are_whole_seconds_checked_against_each_other() {
        let config = parse("").unwrap();
        assert_eq!(
            (config.state_delay, config.state_max_delay),
            (Duration::from_secs(1), Duration::from_secs(30))
        );
        let config = parse("state_delay = 0\n").unwrap();
        assert_eq!(config.state_delay, Duration::ZERO);
        let config = parse("state_delay = 5\nstate_max_delay = 5\n").unwrap();
        assert_eq!(config.state_max_delay, Duration::from_secs(5));

        let error = parse("\nstate_delay = -1\n").unwrap_err();
        assert_eq!(
            (error.line, error.key.as_deref()),
            (Some(2), Some("state_delay")),
            "{error}"
        );
        assert!(error.message.contains("0 to 3600"), "{error}");
        let error = parse("state_max_delay = 86401\n").unwrap_err();
        assert_eq!(error.key.as_deref(), Some("state_max_delay"), "{error}");
        // A fraction or a unit is not the syntax of the other durations.
        let error = parse("state_delay = 0.5\n").unwrap_err();
        assert_eq!(error.line, Some(1), "{error}");
        assert!(parse("state_delay = \"1s\"\n").is_err());

        // The bound must be at least the quiet period, whichever key is set.
        let error = parse("state_delay = 2\n\nstate_max_delay = 1\n").unwrap_err();
        assert_eq!(
            (error.line, error.key.as_deref()),
            (Some(3), Some("state_max_delay")),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("state_max_delay (1) is shorter than state_delay (2)"),
            "{error}"
        );
        let error = parse("rate_limit = 5\nstate_delay = 40\n").unwrap_err();
        assert_eq!(
            (error.line, error.key.as_deref()),
            (Some(2), Some("state_delay")),
            "{error}"
        );
        assert!(
            error
                .message
                .contains("state_max_delay (30, the default) is shorter than state_delay (40)"),
            "{error}"
        );
    }

    #[test]
    fn access_policy_keys() {
        let config = parse("[leds.status]\ndevice = \"ACT\"\nallow_users = [\"alice\", \"1001\"]\nallow_groups = [\"students\"]\n").unwrap();
        assert_eq!(config.leds["status"].allow_users, ["alice", "1001"]);
        assert_eq!(config.leds["status"].allow_groups, ["students"]);
        let error =
            parse("[leds.status]\ndevice = \"ACT\"\nallow_groups = [\"bad group\"]\n").unwrap_err();
        assert_eq!(
            (error.line, error.key.as_deref()),
            (Some(3), Some("leds.status.allow_groups"))
        );
    }

    /// The documented key lists are the ones the parser knows: serde names
    /// every accepted key when it refuses an unknown one.
    #[test]
    fn documented_keys_are_the_parsed_keys() {
        let expected = |message: &str| -> Vec<String> {
            let list = message.split("expected one of").nth(1).unwrap_or_default();
            let mut keys: Vec<String> = list
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            keys.sort();
            keys
        };
        let mut top: Vec<String> = CONFIG_KEYS.iter().map(|k| k.to_string()).collect();
        top.push("leds".into());
        top.sort();
        assert_eq!(expected(&parse("nosuchkey = 1").unwrap_err().message), top);
        let mut led: Vec<String> = LED_KEYS.iter().map(|k| k.to_string()).collect();
        led.sort();
        let error = parse("[leds.a]\ndevice = \"x\"\nnosuchkey = 1\n").unwrap_err();
        assert_eq!(expected(&error.message), led);
    }

    #[test]
    fn device_names_cannot_escape_the_root() {
        for bad in ["", ".", "..", "a/b", "a\u{0}b", "a b", "a\nb"] {
            assert!(!is_valid_device_name(bad), "{bad:?}");
        }
        for good in [
            "ACT",
            "led0",
            "input0::capslock",
            "ledd:green:status",
            "...",
        ] {
            assert!(is_valid_device_name(good), "{good:?}");
        }
    }
}
