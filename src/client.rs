//! What ledctl needs: send one order, read its reply, and turn every
//! outcome into an exit code that scripts can rely on.

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::protocol::{Order, Reply};

/// ledctl's exit codes (documented in ledctl(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The order was carried out.
    Done = 0,
    /// ledd refused the order (`err` reply).
    Refused = 1,
    /// The command line is wrong, or the order malformed or out of range.
    Usage = 2,
    /// ledd cannot be reached: no socket, or nobody listening on it.
    Unreachable = 3,
    /// The socket exists but this user may not connect to it.
    PermissionDenied = 4,
    /// The connection broke or timed out before the reply came.
    Broken = 5,
}

/// A failure to get a reply from ledd.
#[derive(Debug)]
pub struct ClientError {
    pub code: ExitCode,
    pub message: String,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ClientError {}

/// Where ledctl finds ledd: `--socket`, else `$LEDD_SOCKET`, else the default.
pub fn socket_path(option: Option<PathBuf>) -> PathBuf {
    option
        .or_else(|| std::env::var_os("LEDD_SOCKET").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_SOCKET))
}

/// Connects to `socket`, sends `order`, and returns ledd's reply.
pub fn send(socket: &Path, order: &Order, timeout: Duration) -> Result<Reply, ClientError> {
    let stream = UnixStream::connect(socket).map_err(|error| connect_error(socket, &error))?;
    let broken = |error: io::Error| ClientError {
        code: ExitCode::Broken,
        message: if matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            format!(
                "ledd did not answer within {} s on {}",
                timeout.as_secs_f64(),
                socket.display()
            )
        } else {
            format!("connection to ledd on {} broke: {error}", socket.display())
        },
    };
    stream.set_read_timeout(Some(timeout)).map_err(broken)?;
    stream.set_write_timeout(Some(timeout)).map_err(broken)?;
    (&stream)
        .write_all(format!("{order}\n").as_bytes())
        .map_err(broken)?;
    let mut line = String::new();
    let read = BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(broken)?;
    if read == 0 || !line.ends_with('\n') {
        return Err(ClientError {
            code: ExitCode::Broken,
            message: format!(
                "ledd on {} closed the connection without a reply",
                socket.display()
            ),
        });
    }
    Reply::parse(line.trim_end_matches('\n')).map_err(|message| ClientError {
        code: ExitCode::Broken,
        message: format!("unexpected answer from {}: {message}", socket.display()),
    })
}

fn connect_error(socket: &Path, error: &io::Error) -> ClientError {
    match error.kind() {
        io::ErrorKind::PermissionDenied => ClientError {
            code: ExitCode::PermissionDenied,
            message: format!(
                "permission denied on {}: join the group that owns it (normally 'leds': sudo adduser $USER leds, then log in again)",
                socket.display()
            ),
        },
        io::ErrorKind::NotFound => ClientError {
            code: ExitCode::Unreachable,
            message: format!(
                "cannot reach ledd: {} does not exist. Is ledd running (systemctl status ledd)? Another socket can be named with --socket or LEDD_SOCKET",
                socket.display()
            ),
        },
        io::ErrorKind::ConnectionRefused => ClientError {
            code: ExitCode::Unreachable,
            message: format!(
                "cannot reach ledd: nobody is listening on {} (ledd has stopped; start it with: systemctl start ledd)",
                socket.display()
            ),
        },
        _ => ClientError {
            code: ExitCode::Unreachable,
            message: format!("cannot reach ledd on {}: {error}", socket.display()),
        },
    }
}

/// Fields whose values are numbers in `--json` output.
const NUMERIC_FIELDS: [&str; 10] = [
    "freq",
    "duty",
    "delay_on",
    "delay_off",
    "brightness",
    "max_brightness",
    "requested",
    "repeat",
    "steps",
    "protocol",
];
/// Fields whose values are yes/no, booleans in `--json` output.
const BOOLEAN_FIELDS: [&str; 2] = ["exists", "clamped"];
/// Fields whose values are comma-separated lists, arrays in `--json` output.
const LIST_FIELDS: [&str; 1] = ["leds"];

/// The reply as JSON: `{"ok":true, FIELD: VALUE, ...}` or
/// `{"ok":false,"error":{"kind":KIND,"message":MESSAGE}}`.
pub fn to_json(reply: &Reply) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    match reply {
        Reply::Ok(fields) => {
            let mut object = Map::new();
            object.insert("ok".into(), Value::Bool(true));
            for (key, value) in fields {
                let typed = if NUMERIC_FIELDS.contains(&key.as_str()) {
                    // Whole numbers stay integers; others become floats.
                    value
                        .parse::<i64>()
                        .map(Value::from)
                        .ok()
                        .or_else(|| {
                            value
                                .parse::<f64>()
                                .ok()
                                .and_then(serde_json::Number::from_f64)
                                .map(Value::Number)
                        })
                        .unwrap_or_else(|| Value::String(value.clone()))
                } else if BOOLEAN_FIELDS.contains(&key.as_str()) {
                    Value::Bool(value == "yes")
                } else if LIST_FIELDS.contains(&key.as_str()) {
                    Value::Array(
                        value
                            .split(',')
                            .filter(|v| !v.is_empty())
                            .map(|v| Value::String(v.to_string()))
                            .collect(),
                    )
                } else {
                    Value::String(value.clone())
                };
                object.insert(key.clone(), typed);
            }
            Value::Object(object)
        }
        Reply::Err(error) => json!({
            "ok": false,
            "error": {"kind": error.kind.as_str(), "message": error.message},
        }),
    }
}

/// The reply in words, for people.
pub fn to_text(reply: &Reply) -> String {
    let get = |key: &str| reply.field(key).unwrap_or("");
    let led = get("led");
    let mode = get("mode");
    let summary = match mode {
        "blink" => format!(
            "{led}: blinking at {} Hz (duty {} %, on {} ms / off {} ms)",
            get("freq"),
            get("duty"),
            get("delay_on"),
            get("delay_off")
        ),
        "on" => {
            let clamped = if get("clamped") == "yes" {
                format!(" (asked {}, clamped to max_brightness)", get("requested"))
            } else {
                String::new()
            };
            format!("{led}: on at brightness {}{clamped}", get("brightness"))
        }
        "off" => format!("{led}: off"),
        "heartbeat" => format!("{led}: heartbeat"),
        "pattern" => format!(
            "{led}: playing a pattern ({} steps, repeat {})",
            get("steps"),
            get("repeat")
        ),
        "trigger" => format!("{led}: following kernel trigger {}", get("trigger")),
        "unknown" => format!("{led}: no device ({} not found)", get("device")),
        _ => match reply {
            Reply::Ok(fields) => fields
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            Reply::Err(error) => error.to_string(),
        },
    };
    // status: the summary, then every field the kernel reported.
    if reply.field("exists").is_some()
        && let Reply::Ok(fields) = reply
    {
        let details: Vec<String> = fields
            .iter()
            .filter(|(k, _)| k != "led")
            .map(|(k, v)| format!("  {k}: {v}"))
            .collect();
        return format!("{summary}\n{}", details.join("\n"));
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_are_typed() {
        let reply = Reply::parse("ok led=status mode=blink freq=2.994 duty=50 exists=yes").unwrap();
        assert_eq!(
            to_json(&reply),
            serde_json::json!({"ok":true,"led":"status","mode":"blink","freq":2.994,"duty":50,"exists":true})
        );
        assert!(to_json(&reply)["duty"].is_i64());
        let reply = Reply::parse("ok leds=power,status default=status").unwrap();
        assert_eq!(
            to_json(&reply)["leds"],
            serde_json::json!(["power", "status"])
        );
        let reply = Reply::parse("err range: frequency 0 Hz is out of range").unwrap();
        assert_eq!(to_json(&reply)["error"]["kind"], "range");
    }

    #[test]
    fn text_for_people() {
        let reply =
            Reply::parse("ok led=status mode=blink freq=2 duty=50 delay_on=250 delay_off=250")
                .unwrap();
        assert_eq!(
            to_text(&reply),
            "status: blinking at 2 Hz (duty 50 %, on 250 ms / off 250 ms)"
        );
        let reply = Reply::parse("ok version=0.1.0 protocol=1").unwrap();
        assert_eq!(to_text(&reply), "version: 0.1.0\nprotocol: 1");
    }

    #[test]
    fn unreachable_sockets_have_their_own_codes() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.sock");
        let error = send(&missing, &Order::Version, Duration::from_secs(1)).unwrap_err();
        assert_eq!(error.code, ExitCode::Unreachable);
        let stale = dir.path().join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        let error = send(&stale, &Order::Version, Duration::from_secs(1)).unwrap_err();
        assert_eq!(error.code, ExitCode::Unreachable);
        assert!(error.message.contains("nobody is listening"), "{error}");
    }
}
