//! The listening socket (bound by ledd or passed by systemd) and the
//! systemd notification protocol (through the `sd-notify` crate).

use std::fmt;
use std::fs;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
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
        let ours =
            |(path, inode): &&(PathBuf, u64)| fs::metadata(path).is_ok_and(|m| m.ino() == *inode);
        if let Some((path, _)) = self.owned_path.as_ref().filter(ours) {
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
            info!("removing stale socket {}", path.display());
            fs::remove_file(path).map_err(|e| io_error("remove the stale socket", path, e))
        }
        Err(error) => Err(io_error("check the existing socket", path, error)),
    }
}

/// The first socket systemd passed (LISTEN_FDS, when LISTEN_PID names this
/// process), taken with the sd-notify crate.
fn listener_from_systemd() -> Option<UnixListener> {
    std::env::var_os("LISTEN_FDS")?;
    // SAFETY: ledd has one thread, and this runs before anything reads the
    // environment concurrently; the variables are removed so that nothing
    // else takes fd 3 again.
    let fds = unsafe {
        std::env::remove_var("LISTEN_FDNAMES");
        sd_notify::listen_fds_and_unset_env()
    };
    let fd = match fds.map(|mut fds| fds.next()) {
        Ok(Some(fd)) => fd,
        Ok(None) => return None,
        Err(error) => {
            warn!("LISTEN_FDS is set but unusable ({error}); binding the socket myself");
            return None;
        }
    };
    // SAFETY: the fd is only borrowed here, to check that it is an open socket.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let is_socket = nix::sys::stat::fstat(borrowed)
        .is_ok_and(|stat| stat.st_mode & nix::libc::S_IFMT == nix::libc::S_IFSOCK);
    if !is_socket {
        warn!("LISTEN_FDS is set but fd {fd} is not an open socket; binding the socket myself");
        return None;
    }
    // SAFETY: see above; the fd is an open socket that systemd gave to ledd
    // (sd-notify has set it close-on-exec).
    Some(UnixListener::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Tells systemd about a state change (through the sd-notify crate), if it
/// asked for them (NOTIFY_SOCKET).
fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        warn!("cannot notify systemd: {error}");
    }
}

/// `READY=1`: started, or done reloading.
pub fn notify_ready() {
    notify(&[sd_notify::NotifyState::Ready]);
}

/// `RELOADING=1` with `MONOTONIC_USEC`, as Type=notify-reload wants it.
pub fn notify_reloading() {
    match sd_notify::NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[sd_notify::NotifyState::Reloading, now]),
        Err(_) => notify(&[sd_notify::NotifyState::Reloading]),
    }
}

/// `STOPPING=1`.
pub fn notify_stopping() {
    notify(&[sd_notify::NotifyState::Stopping]);
}

/// `WATCHDOG=1`: the loop still turns.
pub fn notify_watchdog() {
    notify(&[sd_notify::NotifyState::Watchdog]);
}

/// Half the watchdog period systemd asked this process for (WATCHDOG_USEC
/// and WATCHDOG_PID), if it did.
pub fn watchdog_interval() -> Option<std::time::Duration> {
    sd_notify::watchdog_enabled()
        .filter(|period| !period.is_zero())
        .map(|period| period / 2)
}

/// Makes room for `max_connections` clients below the descriptor limit.
pub fn raise_descriptor_limit(max_connections: usize) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    // rlim_t is 32 bits on 32-bit ARM (armhf package).
    let wanted = nix::libc::rlim_t::try_from(max_connections.saturating_add(64))
        .unwrap_or(nix::libc::rlim_t::MAX);
    let limits = getrlimit(Resource::RLIMIT_NOFILE).ok();
    if let Some((_, hard)) = limits.filter(|&(soft, _)| soft < wanted) {
        let new_soft = wanted.min(hard);
        if setrlimit(Resource::RLIMIT_NOFILE, new_soft, hard).is_err() || new_soft < wanted {
            warn!(
                "the descriptor limit ({new_soft}) is below max_connections + 64; connections past it will be refused"
            );
        }
    }
}

/// Hands free heap pages back to the system (after a burst of clients).
pub fn give_back_memory() {
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    #[cfg(target_env = "gnu")]
    unsafe {
        nix::libc::malloc_trim(0);
    }
}
