//! The state file: the last ordered state of each LED, saved atomically so
//! that a crash at any moment leaves either the old file or the new one.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::led::Target;

/// The LEDs' last ordered states, by logical name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedState {
    #[serde(default)]
    pub leds: BTreeMap<String, Target>,
}

#[derive(Debug)]
pub struct StateError {
    pub path: PathBuf,
    pub action: &'static str,
    pub error: String,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} state file {}: {}",
            self.action,
            self.path.display(),
            self.error
        )
    }
}

impl std::error::Error for StateError {}

impl SavedState {
    /// Reads the state file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<SavedState, StateError> {
        let error = |action, error: String| StateError {
            path: path.to_path_buf(),
            action,
            error,
        };
        match fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| error("parse", e.message().to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(SavedState::default()),
            Err(e) => Err(error("read", e.to_string())),
        }
    }

    /// Writes the state to a temporary file beside `path`, syncs it, renames
    /// it over `path` and syncs the directory: readers see old or new, never half.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let error = |action, error: io::Error| StateError {
            path: path.to_path_buf(),
            action,
            error: error.to_string(),
        };
        let text = toml::to_string(self).map_err(|e| StateError {
            path: path.to_path_buf(),
            action: "encode",
            error: e.to_string(),
        })?;
        let directory = path.parent().unwrap_or(Path::new("/"));
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let temporary = directory.join(format!(".{file_name}.tmp"));
        let written = (|| {
            // Without systemd's StateDirectory= nothing may have made it yet.
            if !directory.exists() {
                fs::create_dir_all(directory)?;
            }
            // A temporary left by a crash is replaced, never followed: a link
            // planted there must not make ledd overwrite another file.
            match fs::remove_file(&temporary) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
                .open(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temporary);
            return Err(error("write", e));
        }
        fs::rename(&temporary, path).map_err(|e| {
            let _ = fs::remove_file(&temporary);
            error("replace", e)
        })?;
        File::open(directory)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| StateError {
                path: path.to_path_buf(),
                action: "sync the directory of",
                error: format!("{e}; the new state is in place but may be lost on power failure"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.toml");
        assert_eq!(SavedState::load(&path).unwrap(), SavedState::default());
        let mut state = SavedState::default();
        state.leds.insert(
            "status".into(),
            Target::Blink {
                delay_on: 250,
                delay_off: 250,
            },
        );
        state
            .leds
            .insert("power".into(), Target::On { brightness: None });
        state.save(&path).unwrap();
        assert_eq!(SavedState::load(&path).unwrap(), state);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("mode = \"blink\""), "{text}");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn a_failed_save_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.toml");
        SavedState::default().save(&path).unwrap();
        // A directory where the temporary file must go makes the write fail.
        fs::create_dir(dir.path().join(".state.toml.tmp")).unwrap();
        let mut state = SavedState::default();
        state.leds.insert("status".into(), Target::Off);
        let error = state.save(&path).unwrap_err();
        assert_eq!(error.action, "write");
        assert_eq!(SavedState::load(&path).unwrap(), SavedState::default());
    }

    #[test]
    fn a_link_at_the_temporary_path_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.toml");
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(".state.toml.tmp")).unwrap();
        SavedState::default().save(&path).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(SavedState::load(&path).unwrap(), SavedState::default());
    }

    #[test]
    fn a_missing_directory_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("var/lib/ledd/state.toml");
        SavedState::default().save(&path).unwrap();
        assert!(path.exists());
    }

    #[test]
    fn a_truncated_file_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.toml");
        fs::write(&path, "[leds.status]\nmode = \"bl").unwrap();
        assert_eq!(SavedState::load(&path).unwrap_err().action, "parse");
    }
}
