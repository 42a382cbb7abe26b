//! /etc/ledd/mqtt.toml: which broker, who this node is, where ledd is, and
//! the files that hold the secrets. Same strictness as ledd.toml: unknown
//! keys are errors, and every error names the file, the line and the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ledd::config::{ConfigError, line_of, read_text};
use ledd::logging::{self, LevelFilter};
use ledd_protocol::quote;
use serde::Deserialize;
use toml::Spanned;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/ledd/mqtt.toml";
pub const DEFAULT_TOPIC_PREFIX: &str = "ledd";
pub const DEFAULT_DISCOVERY_PREFIX: &str = "homeassistant";
/// Where a `mqtts://` broker's CA certificates come from unless `ca_file` says.
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";
pub const DEFAULT_KEEPALIVE_SECS: u64 = 60;
const KEEPALIVE_RANGE: std::ops::RangeInclusive<i64> = 5..=3600;
/// Topic levels that cannot name a node: they are `P/all/…` and `P/group/…`.
const RESERVED_NODES: [&str; 2] = ["all", "group"];
const MAX_LEVEL_LEN: usize = 64;

/// The broker's address, from `mqtt://host[:port]` or `mqtts://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl std::fmt::Display for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub broker: Broker,
    pub node: String,
    pub topic_prefix: String,
    pub groups: Vec<String>,
    /// `None`: discovery disabled (`discovery_prefix = ""`).
    pub discovery_prefix: Option<String>,
    pub socket: PathBuf,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key, both or neither.
    pub client_auth: Option<(PathBuf, PathBuf)>,
    pub keepalive: Duration,
    pub log_level: LevelFilter,
}

/// Every key of mqtt.toml (ledd-mqtt.toml(5) documents each one).
pub const CONFIG_KEYS: [&str; 13] = [
    "broker",
    "node",
    "topic_prefix",
    "groups",
    "discovery_prefix",
    "socket",
    "username",
    "password_file",
    "ca_file",
    "cert_file",
    "key_file",
    "keepalive",
    "log_level",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    broker: Option<Spanned<String>>,
    node: Option<Spanned<String>>,
    topic_prefix: Option<Spanned<String>>,
    groups: Option<Vec<Spanned<String>>>,
    discovery_prefix: Option<Spanned<String>>,
    socket: Option<Spanned<PathBuf>>,
    username: Option<Spanned<String>>,
    password_file: Option<Spanned<PathBuf>>,
    ca_file: Option<Spanned<PathBuf>>,
    cert_file: Option<Spanned<PathBuf>>,
    key_file: Option<Spanned<PathBuf>>,
    keepalive: Option<Spanned<i64>>,
    log_level: Option<Spanned<String>>,
}

/// Whether `level` may be one level of a topic that others match: no
/// wildcard, no separator, and plain enough to type in a shell.
pub fn is_valid_topic_level(level: &str) -> bool {
    !level.is_empty()
        && level.len() <= MAX_LEVEL_LEN
        && level
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Parses `mqtt://host[:port]` or `mqtts://host[:port]` (`[v6]:port` too).
pub fn parse_broker(text: &str) -> Result<Broker, String> {
    let usage = "use mqtt://HOST[:PORT] or mqtts://HOST[:PORT]";
    let (tls, rest) = if let Some(rest) = text.strip_prefix("mqtts://") {
        (true, rest)
    } else if let Some(rest) = text.strip_prefix("mqtt://") {
        (false, rest)
    } else {
        return Err(format!(
            "'{}' has no mqtt:// or mqtts:// scheme; {usage}",
            quote(text)
        ));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("'{}': unclosed '['; {usage}", quote(text)))?;
        (host, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    if !host_ok {
        return Err(format!("'{}': no valid host name; {usage}", quote(text)));
    }
    let port = match port {
        None => {
            if tls {
                8883
            } else {
                1883
            }
        }
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| format!("'{}': the port must be 1 to 65535", quote(text)))?,
    };
    Ok(Broker {
        host: host.to_string(),
        port,
        tls,
    })
}

/// A topic prefix: levels joined by `/`, each as [`is_valid_topic_level`].
fn is_valid_prefix(prefix: &str) -> bool {
    prefix.split('/').all(is_valid_topic_level)
}

/// This machine's host name, the default node name.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_default()
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::parse(&read_text(path)?, path, &hostname())
    }

    /// Validates configuration text; `path` is only used in messages,
    /// `hostname` is the default node name.
    pub fn parse(text: &str, path: &Path, hostname: &str) -> Result<Config, ConfigError> {
        let error_at =
            |span: Option<std::ops::Range<usize>>, key: &str, message: String| ConfigError {
                file: path.to_path_buf(),
                line: span.map(|span| line_of(text, span.start)),
                key: (!key.is_empty()).then(|| key.to_string()),
                message,
            };
        let raw: RawConfig = toml::from_str(text)
            .map_err(|error| error_at(error.span(), "", error.message().trim().to_string()))?;

        let broker = raw.broker.ok_or_else(|| {
            error_at(
                None,
                "broker",
                "is required: the broker's address, e.g. broker = \"mqtt://teacher.local:1883\""
                    .into(),
            )
        })?;
        let broker = parse_broker(broker.get_ref())
            .map_err(|message| error_at(Some(broker.span()), "broker", message))?;

        let node = match raw.node {
            Some(node) => {
                check_level(node.get_ref())
                    .map_err(|message| error_at(Some(node.span()), "node", message))?;
                node.into_inner()
            }
            None => {
                check_level(hostname).map_err(|message| {
                    error_at(
                        None,
                        "node",
                        format!("not set, and the host name cannot serve: {message}; set node"),
                    )
                })?;
                hostname.to_string()
            }
        };

        let topic_prefix = match raw.topic_prefix {
            None => DEFAULT_TOPIC_PREFIX.to_string(),
            Some(prefix) if is_valid_prefix(prefix.get_ref()) => prefix.into_inner(),
            Some(prefix) => {
                return Err(error_at(
                    Some(prefix.span()),
                    "topic_prefix",
                    format!(
                        "'{}' is not a topic prefix: levels of letters, digits, '_', '-' or '.', joined by '/'",
                        quote(prefix.get_ref())
                    ),
                ));
            }
        };

        let mut groups: Vec<String> = Vec::new();
        for group in raw.groups.unwrap_or_default() {
            if !is_valid_topic_level(group.get_ref()) {
                return Err(error_at(
                    Some(group.span()),
                    "groups",
                    format!(
                        "'{}' is not a group name: 1 to {MAX_LEVEL_LEN} letters, digits, '_', '-' or '.'",
                        quote(group.get_ref())
                    ),
                ));
            }
            if !groups.contains(group.get_ref()) {
                groups.push(group.into_inner());
            }
        }

        let discovery_prefix = match raw.discovery_prefix {
            None => Some(DEFAULT_DISCOVERY_PREFIX.to_string()),
            Some(prefix) if prefix.get_ref().is_empty() => None,
            Some(prefix) if is_valid_prefix(prefix.get_ref()) => Some(prefix.into_inner()),
            Some(prefix) => {
                return Err(error_at(
                    Some(prefix.span()),
                    "discovery_prefix",
                    format!(
                        "'{}' is not a topic prefix (\"\" disables discovery)",
                        quote(prefix.get_ref())
                    ),
                ));
            }
        };

        let socket = match raw.socket {
            None => PathBuf::from(ledd_protocol::DEFAULT_SOCKET),
            Some(socket) if socket.get_ref().is_absolute() => socket.into_inner(),
            Some(socket) => {
                return Err(error_at(
                    Some(socket.span()),
                    "socket",
                    format!("'{}' is not an absolute path", socket.get_ref().display()),
                ));
            }
        };

        let username = match raw.username {
            Some(name) if name.get_ref().is_empty() || name.get_ref().len() > 256 => {
                return Err(error_at(
                    Some(name.span()),
                    "username",
                    "must be 1 to 256 bytes long (leave the key out for none)".into(),
                ));
            }
            other => other.map(Spanned::into_inner),
        };
        let password_file = raw
            .password_file
            .map(|file| (file.span(), file.into_inner()));
        if let (Some((span, _)), None) = (&password_file, &username) {
            return Err(error_at(
                Some(span.clone()),
                "password_file",
                "a password needs a username (MQTT sends none without one)".into(),
            ));
        }

        let tls_only = |file: &Option<Spanned<PathBuf>>, key: &str| match file {
            Some(file) if !broker.tls => Err(error_at(
                Some(file.span()),
                key,
                format!("only for a TLS broker (mqtts://), and broker is {broker}"),
            )),
            _ => Ok(()),
        };
        tls_only(&raw.ca_file, "ca_file")?;
        tls_only(&raw.cert_file, "cert_file")?;
        tls_only(&raw.key_file, "key_file")?;
        let client_auth = match (raw.cert_file, raw.key_file) {
            (Some(cert), Some(key)) => Some((cert.into_inner(), key.into_inner())),
            (None, None) => None,
            (Some(one), None) | (None, Some(one)) => {
                return Err(error_at(
                    Some(one.span()),
                    "cert_file",
                    "cert_file and key_file go together: set both, or neither".into(),
                ));
            }
        };

        let keepalive = match raw.keepalive {
            None => Duration::from_secs(DEFAULT_KEEPALIVE_SECS),
            Some(secs) if KEEPALIVE_RANGE.contains(secs.get_ref()) => {
                Duration::from_secs(*secs.get_ref() as u64)
            }
            Some(secs) => {
                return Err(error_at(
                    Some(secs.span()),
                    "keepalive",
                    format!(
                        "{} is out of range ({} to {} seconds)",
                        secs.get_ref(),
                        KEEPALIVE_RANGE.start(),
                        KEEPALIVE_RANGE.end()
                    ),
                ));
            }
        };

        let log_level = match raw.log_level {
            None => LevelFilter::Info,
            Some(level) => logging::parse_level(level.get_ref()).ok_or_else(|| {
                error_at(
                    Some(level.span()),
                    "log_level",
                    format!(
                        "'{}' is not one of {}",
                        quote(level.get_ref()),
                        logging::LEVELS.join(", ")
                    ),
                )
            })?,
        };

        Ok(Config {
            broker,
            node,
            topic_prefix,
            groups,
            discovery_prefix,
            socket,
            username,
            password_file: password_file.map(|(_, file)| file),
            ca_file: raw.ca_file.map(Spanned::into_inner),
            client_auth,
            keepalive,
            log_level,
        })
    }
}

fn check_level(name: &str) -> Result<(), String> {
    if !is_valid_topic_level(name) {
        Err(format!(
            "'{}' is not a node name: 1 to {MAX_LEVEL_LEN} letters, digits, '_', '-' or '.'",
            quote(name)
        ))
    } else if RESERVED_NODES.contains(&name) {
        Err(format!(
            "'{name}' cannot name a node: {} are topic words",
            RESERVED_NODES.join(" and ")
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/ledd/mqtt.toml"), "pi07").map_err(|e| e.to_string())
    }

    #[test]
    fn a_broker_alone_gives_the_defaults() {
        let config = parse("broker = \"mqtt://teacher.local\"").unwrap();
        assert_eq!(
            config.broker,
            Broker {
                host: "teacher.local".into(),
                port: 1883,
                tls: false
            }
        );
        assert_eq!(config.node, "pi07");
        assert_eq!(config.topic_prefix, "ledd");
        assert_eq!(config.discovery_prefix.as_deref(), Some("homeassistant"));
        assert_eq!(config.socket, PathBuf::from("/run/ledd/ledd.sock"));
        assert_eq!(config.keepalive, Duration::from_secs(60));
        assert!(config.groups.is_empty() && config.username.is_none());
    }

    #[test]
    fn every_key_is_read() {
        let config = parse(
            r#"
broker = "mqtts://[::1]:8884"
node = "desk-12"
topic_prefix = "school/room3"
groups = ["row1", "row1", "left"]
discovery_prefix = ""
socket = "/tmp/ledd.sock"
username = "desk-12"
password_file = "mqtt-password"
ca_file = "/etc/ledd/ca.pem"
cert_file = "/etc/ledd/desk.pem"
key_file = "/etc/ledd/desk.key"
keepalive = 30
log_level = "debug"
"#,
        )
        .unwrap();
        assert_eq!(config.broker.to_string(), "mqtts://[::1]:8884");
        assert_eq!(config.node, "desk-12");
        assert_eq!(config.topic_prefix, "school/room3");
        assert_eq!(config.groups, ["row1", "left"]);
        assert_eq!(config.discovery_prefix, None);
        assert_eq!(config.password_file, Some(PathBuf::from("mqtt-password")));
        assert!(config.client_auth.is_some());
        assert_eq!(config.keepalive, Duration::from_secs(30));
        assert_eq!(config.log_level, LevelFilter::Debug);
    }

    #[test]
    fn brokers_parse_or_say_how_to_write_them() {
        assert_eq!(parse_broker("mqtts://h").unwrap().port, 8883);
        assert_eq!(parse_broker("mqtt://10.0.0.1:1884/").unwrap().port, 1884);
        for bad in [
            "tcp://h",
            "h:1883",
            "mqtt://",
            "mqtt://h:0",
            "mqtt://h:x",
            "mqtt://a b",
            "mqtt://[::1",
        ] {
            let error = parse_broker(bad).unwrap_err();
            assert!(
                error.contains("mqtt://HOST") || error.contains("port"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let cases = [
            ("node = \"x\"", "key 'broker': is required"),
            (
                "broker = \"mqtt://h\"\nnode = \"a/b\"",
                ":2: key 'node': 'a/b' is not a node name",
            ),
            (
                "broker = \"mqtt://h\"\nnode = \"all\"",
                "cannot name a node",
            ),
            (
                "broker = \"mqtt://h\"\ngroups = [\"#\"]",
                ":2: key 'groups'",
            ),
            (
                "broker = \"mqtt://h\"\ntopic_prefix = \"a//b\"",
                "key 'topic_prefix'",
            ),
            (
                "broker = \"mqtt://h\"\ntopic_prefix = \"+\"",
                "key 'topic_prefix'",
            ),
            (
                "broker = \"mqtt://h\"\nsocket = \"rel\"",
                "not an absolute path",
            ),
            (
                "broker = \"mqtt://h\"\npassword_file = \"p\"",
                "needs a username",
            ),
            (
                "broker = \"mqtt://h\"\nca_file = \"/ca\"",
                "key 'ca_file': only for a TLS broker",
            ),
            ("broker = \"mqtts://h\"\ncert_file = \"/c\"", "go together"),
            (
                "broker = \"mqtt://h\"\nkeepalive = 2",
                "key 'keepalive': 2 is out of range",
            ),
            (
                "broker = \"mqtt://h\"\nlog_level = \"loud\"",
                "key 'log_level'",
            ),
            (
                "broker = \"mqtt://h\"\nbrokr = 1",
                ":2: unknown field `brokr`",
            ),
            ("broker = 5", "invalid type"),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.starts_with("/etc/ledd/mqtt.toml"), "{error}");
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    /// The documented keys are the ones the parser knows: serde names every
    /// accepted key when it refuses an unknown one.
    #[test]
    fn documented_keys_are_the_parsed_keys() {
        let error = parse("broker = \"mqtt://h\"\nnosuchkey = 1").unwrap_err();
        let list = error.split("expected one of").nth(1).unwrap_or_default();
        let mut parsed: Vec<&str> = list.split('`').skip(1).step_by(2).collect();
        parsed.sort();
        let mut documented = CONFIG_KEYS.to_vec();
        documented.sort();
        assert_eq!(parsed, documented);
    }

    #[test]
    fn a_host_name_that_cannot_be_a_topic_level_must_be_replaced() {
        let error = Config::parse("broker = \"mqtt://h\"", Path::new("f"), "")
            .unwrap_err()
            .to_string();
        assert!(error.contains("key 'node': not set"), "{error}");
        let config = Config::parse("broker = \"mqtt://h\"", Path::new("f"), "pi.lan").unwrap();
        assert_eq!(config.node, "pi.lan");
    }
}
