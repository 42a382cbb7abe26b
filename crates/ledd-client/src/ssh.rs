//! ledd on another machine, through ssh, the way `docker -H ssh://` works:
//! `ssh` (the user's own, with the user's keys and configuration) runs
//! `ledctl dial-stdio` on the far side, which relays its standard input and
//! output to that machine's ledd socket. Nothing new listens on the network;
//! who may drive the far LED is decided by ssh and by group `leds` there.
//!
//! ```
//! use ledd_client::ssh::SshTarget;
//!
//! let target: SshTarget = "ssh://pi@pi-12:2222".parse()?;
//! assert_eq!(target.to_string(), "ssh://pi@pi-12:2222");
//! assert!("ssh://-oProxyCommand=x".parse::<SshTarget>().is_err());
//! # Ok::<(), ledd_client::ClientError>(())
//! ```

use std::fmt;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::{ClientError, ExitCode};

/// `ssh://[user@]host[:port]`, checked so that nothing in it can be read by
/// ssh as an option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl FromStr for SshTarget {
    type Err = ClientError;

    fn from_str(url: &str) -> Result<SshTarget, ClientError> {
        let usage = |why: &str| ClientError {
            code: ExitCode::Usage,
            message: format!("-H '{url}': {why}; write ssh://[user@]host[:port]"),
        };
        let rest = url
            .strip_prefix("ssh://")
            .ok_or_else(|| usage("only ssh:// is understood"))?;
        let (user, host_port) = match rest.rsplit_once('@') {
            Some((user, host_port)) => (Some(user), host_port),
            None => (None, rest),
        };
        let (host, port) = split_port(host_port).map_err(|why| usage(&why))?;
        for (what, word) in [("host", Some(host)), ("user", user)] {
            let Some(word) = word else { continue };
            if word.is_empty() {
                return Err(usage(&format!("the {what} is empty")));
            }
            // A leading '-' would be an ssh option (-oProxyCommand=...).
            if word.starts_with('-') || word.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(usage(&format!(
                    "the {what} may not start with '-' nor hold spaces"
                )));
            }
            if word.contains('/') {
                return Err(usage(&format!("the {what} may not hold '/'")));
            }
        }
        Ok(SshTarget {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
        })
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_port(host_port: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or("an IPv6 address needs its closing ']'")?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = port
        .map(|port| match port.parse::<u16>() {
            Ok(number) if number > 0 => Ok(number),
            _ => Err(format!("'{port}' is not a port (1 to 65535)")),
        })
        .transpose()?;
    Ok((host, port))
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ssh://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// The ssh process behind a connection: its exit status says why the
/// connection ended early.
pub(crate) struct Tunnel {
    child: Child,
    target: String,
}

/// Starts `ssh` to `target`, running `ledctl [--socket SOCKET] dial-stdio`
/// there; returns this side of the socket pair that is ssh's standard input
/// and output (so read timeouts work as on ledd's own socket).
///
/// `$LEDD_SSH_COMMAND` replaces `ssh` (a command line for `sh`, as git's
/// `GIT_SSH_COMMAND`: `ssh -F my_config`); `$LEDD_REMOTE_LEDCTL` replaces
/// `ledctl` on the far side (a command line for the far side's shell).
pub(crate) fn open(
    target: &SshTarget,
    remote_socket: Option<&Path>,
) -> Result<(UnixStream, Tunnel), ClientError> {
    let unreachable = |message: String| ClientError {
        code: ExitCode::Unreachable,
        message,
    };
    let (ours, theirs) = UnixStream::pair()
        .map_err(|error| unreachable(format!("cannot make a socket pair for ssh: {error}")))?;
    let theirs_out = theirs
        .try_clone()
        .map_err(|error| unreachable(format!("cannot make a socket pair for ssh: {error}")))?;
    let ssh = std::env::var("LEDD_SSH_COMMAND").unwrap_or_else(|_| "ssh".to_string());
    let mut remote = std::env::var("LEDD_REMOTE_LEDCTL").unwrap_or_else(|_| "ledctl".to_string());
    if let Some(socket) = remote_socket {
        remote.push_str(" --socket ");
        remote.push_str(&shell_quote(&socket.to_string_lossy()));
    }
    remote.push_str(" dial-stdio");
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("{ssh} \"$@\""))
        .arg("ssh")
        // No terminal: the connection carries protocol lines only.
        .arg("-T");
    if let Some(port) = target.port {
        command.arg("-p").arg(port.to_string());
    }
    if let Some(user) = &target.user {
        command.arg("-l").arg(user);
    }
    command
        .arg("--")
        .arg(&target.host)
        .arg(remote)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::from(OwnedFd::from(theirs_out)))
        // ssh's own messages (host key, password prompt through the
        // terminal, "connection refused") reach the user as they are.
        .stderr(Stdio::inherit());
    let child = command
        .spawn()
        .map_err(|error| unreachable(format!("cannot start ssh ({ssh}) for {target}: {error}")))?;
    Ok((
        ours,
        Tunnel {
            child,
            target: target.to_string(),
        },
    ))
}

impl Tunnel {
    /// Why the connection ended before its reply, from ssh's exit status:
    /// 255 is ssh's own failure; the far ledctl's codes come through as they
    /// are (3 unreachable, 4 permission). Either side printed its message on
    /// standard error already.
    pub(crate) fn failure(&mut self, fallback: ClientError) -> ClientError {
        let status = self.wait_for_exit(Duration::from_secs(5));
        match status.and_then(|status| status.code()) {
            Some(255) => ClientError {
                code: ExitCode::Unreachable,
                message: format!(
                    "cannot reach {}: ssh failed (its message is above)",
                    self.target
                ),
            },
            Some(code @ 3..=5) => ClientError {
                code: match code {
                    3 => ExitCode::Unreachable,
                    4 => ExitCode::PermissionDenied,
                    _ => ExitCode::Broken,
                },
                message: format!(
                    "ledctl on {} could not relay to ledd (its message is above)",
                    self.target
                ),
            },
            Some(127) => ClientError {
                code: ExitCode::Unreachable,
                message: format!(
                    "no ledctl on {} (install the ledd package there, or name it with LEDD_REMOTE_LEDCTL)",
                    self.target
                ),
            },
            _ => fallback,
        }
    }

    fn wait_for_exit(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + patience;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => return None,
            }
        }
    }
}

impl Drop for Tunnel {
    /// The connection is closed by now (the stream is dropped first): ssh
    /// sees end-of-file and ends; one that does not is stopped.
    fn drop(&mut self) {
        if self.wait_for_exit(Duration::from_secs(2)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `text` as one word for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        for url in [
            "ssh://pi-12",
            "ssh://pi@pi-12",
            "ssh://pi@pi-12:2222",
            "ssh://[::1]:22",
            "ssh://root@[fe80::1]",
        ] {
            let target: SshTarget = url.parse().unwrap();
            assert_eq!(target.to_string(), url);
        }
        let target: SshTarget = "ssh://me@example.org:22".parse().unwrap();
        assert_eq!(target.user.as_deref(), Some("me"));
        assert_eq!(target.host, "example.org");
        assert_eq!(target.port, Some(22));
    }

    #[test]
    fn nothing_in_a_target_can_become_an_ssh_option() {
        for url in [
            "pi-12",
            "tcp://pi-12",
            "ssh://",
            "ssh://-oProxyCommand=touch%20x",
            "ssh://-oProxyCommand=x@pi",
            "ssh://pi@",
            "ssh://pi 12",
            "ssh://pi:0",
            "ssh://pi:65536",
            "ssh://pi:22x",
            "ssh://[::1",
            "ssh://pi/run/ledd.sock",
        ] {
            let error = url.parse::<SshTarget>().unwrap_err();
            assert_eq!(error.code, ExitCode::Usage, "{url}");
            assert!(
                error.message.contains("ssh://[user@]host[:port]"),
                "{error}"
            );
        }
    }

    #[test]
    fn socket_paths_reach_the_far_shell_as_one_word() {
        assert_eq!(shell_quote("/run/ledd/ledd.sock"), "'/run/ledd/ledd.sock'");
        assert_eq!(shell_quote("/tmp/it's; rm -rf"), r"'/tmp/it'\''s; rm -rf'");
    }
}
