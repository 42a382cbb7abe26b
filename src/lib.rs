//! ledd: orders over a Unix socket become kernel LED triggers.
//!
//! - [`protocol`]: the order protocol, pure parsing and formatting (the
//!   `ledd-protocol` crate, re-exported);
//! - [`config`]: the TOML configuration;
//! - [`led`]: the LED backend, the only code that knows kernel semantics,
//!   with the real sysfs tree and a simulated one behind one seam;
//! - [`engine`]: carries out orders and keeps the state file;
//! - [`restore`]: which saved states still wait to be restored, and when;
//! - [`uevent`]: the kernel's device events (an LED that appears later);
//! - [`access`]: who may change which LED (peer credentials, resolved policy);
//! - [`connection`]: one client's buffers, framing, rate limit and idleness,
//!   and the admission of new connections (per-user cap, idle eviction);
//! - [`server`] and [`daemon`]: the socket, systemd's side of things, and the
//!   event loop that wires them;
//! - [`logging`]: the `log` backend (journal priorities or plain lines);
//! - [`output`]: how ledctl shows a reply (text or JSON); talking to ledd
//!   is the `ledd-client` crate's job.

#[macro_use]
extern crate log;

pub mod access;
pub mod claims;
pub mod config;
pub mod connection;
pub mod daemon;
pub mod engine;
pub mod led;
pub mod logging;
pub mod output;
pub mod restore;
pub mod server;
pub mod show;
pub mod state;
pub mod uevent;
pub mod watch;

pub use ledd_protocol as protocol;
