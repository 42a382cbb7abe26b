//! The listening socket (bound by ledd or passed by systemd) and the
//! systemd notification protocol.

use std::fmt;
use std::fs;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::sys::stat::{Mode, umask};
use nix::unistd::{Gid, Group, chown};

use crate::config::Config;

/// Why the socket could not be set up.
#[derive(Debug)]
pub enum ServerError {
    /// Another ledd answers on the socket.
    AlreadyRunning(PathBuf),
    /// Something that is not a socket sits at the path.
    NotASocket(PathBuf),
    /// The configured group does not exist.
    NoSuchGroup(String),
    /// A system call failed.
    Io {
        action: String,
        path: PathBuf,
        error: io::Error,
    },
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::AlreadyRunning(path) => write!(
                f,
                "another ledd is already running on {} (stop it first, or set another socket in the configuration)",
                path.display()
            ),
            ServerError::NotASocket(path) => write!(
                f,
                "{} exists and is not a socket; remove it or choose another socket path",
                path.display()
            ),
            ServerError::NoSuchGroup(group) => write!(
                f,
                "socket_group '{group}' does not exist (create it, e.g. with the package's sysusers file, or change socket_group)"
            ),
            ServerError::Io {
                action,
                path,
                error,
            } => write!(f, "cannot {action} {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for ServerError {}

/// The socket ledd accepts connections on; a socket ledd bound itself is
/// removed when this is dropped (one systemd passed in is systemd's).
pub struct Listener {
    pub listener: UnixListener,
    owned_path: Option<(PathBuf, u64)>,
}

impl Listener {
    /// Takes the socket systemd passed (LISTEN_FDS) or binds the configured one.
    pub fn open(config: &Config) -> Result<Listener, ServerError> {
        if let Some(listener) = listener_from_systemd() {
            listener
                .set_nonblocking(true)
                .map_err(|error| io_error("make non-blocking", &config.socket, error))?;
            return Ok(Listener {
                listener,
                owned_path: None,
            });
        }
        let path = &config.socket;
        let group = match &config.socket_group {
            Some(name) => Some(
                Group::from_name(name)
                    .ok()
                    .flatten()
                    .ok_or_else(|| ServerError::NoSuchGroup(name.clone()))?
                    .gid,
            ),
            None => None,
        };
        clear_stale_socket(path)?;
        if let Some(parent) = path.parent().filter(|p| !p.exists()) {
            fs::create_dir_all(parent).map_err(|e| io_error("create the directory", parent, e))?;
        }
        // Bind with no permissions for others, then open up to the
        // configured mode, so there is no moment the socket is too open.
        let old_umask = umask(Mode::from_bits_truncate(0o177));
        let bound = UnixListener::bind(path);
        umask(old_umask);
        let listener = bound.map_err(|e| io_error("bind the socket", path, e))?;
        let listener = Listener {
            owned_path: fs::metadata(path).ok().map(|m| (path.clone(), m.ino())),
            listener,
        };
        if let Some(gid) = group {
            chown(path, None, Some(Gid::from_raw(gid.as_raw())))
                .map_err(|e| io_error("set the group of", path, e.into()))?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(config.socket_mode))
            .map_err(|e| io_error("set the mode of", path, e))?;
        listener
            .listener
            .set_nonblocking(true)
            .map_err(|e| io_error("make non-blocking", path, e))?;
        Ok(listener)
    }

    pub fn is_socket_activated(&self) -> bool {
        self.owned_path.is_none()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Remove the socket only if it is still ours (a new ledd may have replaced it).
        if let Some((path, inode)) = &self.owned_path
            && fs::metadata(path).is_ok_and(|m| m.ino() == *inode)
        {
            let _ = fs::remove_file(path);
        }
    }
}

fn io_error(action: &str, path: &Path, error: io::Error) -> ServerError {
    ServerError::Io {
        action: action.to_string(),
        path: path.to_path_buf(),
        error,
    }
}

/// Refuses if a live ledd answers at `path` or a non-socket is there;
/// removes a socket nobody listens on (left by a crash).
fn clear_stale_socket(path: &Path) -> Result<(), ServerError> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(io_error("inspect", path, error)),
    };
    if !metadata.file_type().is_socket() {
        return Err(ServerError::NotASocket(path.to_path_buf()));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(ServerError::AlreadyRunning(path.to_path_buf())),
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            crate::info!("removing stale socket {}", path.display());
            fs::remove_file(path).map_err(|e| io_error("remove the stale socket", path, e))
        }
        Err(error) => Err(io_error("check the existing socket", path, error)),
    }
}

/// The first socket systemd passed, when LISTEN_PID names this process.
fn listener_from_systemd() -> Option<UnixListener> {
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let count: u32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    if pid != std::process::id() || count < 1 {
        return None;
    }
    // SAFETY: systemd passes the sockets as fds 3.. and they are ours alone;
    // the variables are removed so that nothing else takes fd 3 again.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    const SD_LISTEN_FDS_START: i32 = 3;
    // SAFETY: fd 3 is only borrowed here, to check that it is an open socket.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(SD_LISTEN_FDS_START) };
    let is_socket = nix::sys::stat::fstat(borrowed)
        .is_ok_and(|stat| stat.st_mode & nix::libc::S_IFMT == nix::libc::S_IFSOCK);
    if !is_socket {
        crate::warn!("LISTEN_FDS is set but fd 3 is not an open socket; binding the socket myself");
        return None;
    }
    // SAFETY: see above; fd 3 is an open socket that systemd gave to ledd.
    let fd = unsafe { OwnedFd::from_raw_fd(SD_LISTEN_FDS_START) };
    let _ = nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    Some(UnixListener::from(fd))
}

/// Sends a state line to systemd (`READY=1`, `RELOADING=1`, ...), if it asked for them.
pub fn notify_systemd(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let address = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())
        }
        None => SocketAddr::from_pathname(&path),
    };
    let sent = address.and_then(|address| {
        let socket = UnixDatagram::unbound()?;
        socket.send_to_addr(state.as_bytes(), &address)
    });
    if let Err(error) = sent {
        crate::warn!("cannot notify systemd at {path}: {error}");
    }
}

/// The monotonic clock in microseconds, as `RELOADING=1` wants it.
pub fn monotonic_usec() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
        .unwrap_or(0)
}
