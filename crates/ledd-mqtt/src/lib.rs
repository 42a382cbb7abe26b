//! ledd-mqtt: a bridge between ledd and an MQTT broker, so that a
//! classroom or a lab drives the LEDs of many boards from one place, and
//! Home Assistant finds them, while ledd itself keeps no network access.
//! It talks to ledd's socket like any client (ledd-protocol(7)).
//!
//! - [`config`], /etc/ledd/mqtt.toml;
//! - [`credentials`], the password and TLS files it names;
//! - [`topics`], the topic tree of a node;
//! - [`payload`], orders in, states out (pure);
//! - [`discovery`], Home Assistant's discovery configs;
//! - [`link`], ledd's socket (watch stream, one connection per order);
//! - [`bridge`], a session that wires the broker to ledd.

pub mod backoff;
pub mod bridge;
pub mod config;
pub mod credentials;
pub mod discovery;
pub mod link;
pub mod payload;
pub mod topics;

use std::path::Path;

/// Loads the configuration at `path` and the secret files it names.
pub fn load(path: &Path) -> Result<(config::Config, credentials::Credentials), String> {
    let config = config::Config::load(path).map_err(|error| error.to_string())?;
    let credentials = credentials::Credentials::load(&config)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    Ok((config, credentials))
}
