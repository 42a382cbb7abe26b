//! The real LED class: attribute files under `/sys/class/leds` (or the
//! configured `sysfs_root`, which tests point at a temporary tree).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use nix::fcntl::OFlag;

use super::{Attributes, TRIGGER_FILES};
use crate::config::is_valid_device_name;

/// The attributes ledd reads or writes; anything else is refused before any I/O.
const KNOWN_ATTRIBUTES: [&str; 4] = ["trigger", "brightness", "max_brightness", "uevent"];

pub struct SysfsAttributes {
    root: PathBuf,
}

impl SysfsAttributes {
    pub fn new(root: impl Into<PathBuf>) -> SysfsAttributes {
        SysfsAttributes { root: root.into() }
    }

    /// The attribute's path, only for a valid device name and a known
    /// attribute: this is what keeps every write inside the root.
    fn path(&self, device: &str, attribute: &str) -> io::Result<PathBuf> {
        let known = KNOWN_ATTRIBUTES.contains(&attribute) || TRIGGER_FILES.contains(&attribute);
        if !is_valid_device_name(device) || !known {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "refused: not an LED device name or attribute",
            ));
        }
        Ok(self.root.join(device).join(attribute))
    }
}

impl Attributes for SysfsAttributes {
    fn device_exists(&self, device: &str) -> bool {
        is_valid_device_name(device) && self.root.join(device).is_dir()
    }

    fn read(&self, device: &str, attribute: &str) -> io::Result<String> {
        // A sysfs attribute is produced whole by one read() of at most a
        // page, so one read is enough: no size probe, no read to see the end.
        let mut buffer = [0u8; 4096];
        let length = File::open(self.path(device, attribute)?)?.read(&mut buffer)?;
        let text = std::str::from_utf8(&buffer[..length])
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))?;
        Ok(text.trim_end_matches('\n').to_string())
    }

    fn write(&mut self, device: &str, attribute: &str, value: &str) -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .truncate(true)
            // Never create a file, never follow a link planted in place of an attribute.
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(self.path(device, attribute)?)?;
        // One write call: sysfs takes a value per write().
        file.write_all(format!("{value}\n").as_bytes())
    }

    fn location(&self, device: &str, attribute: &str) -> String {
        self.root.join(device).join(attribute).display().to_string()
    }

    fn kind(&self) -> &'static str {
        "sysfs"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::fs;

    #[test]
    fn hostile_names_never_reach_the_file_system() {
        let tree = tempfile::tempdir().unwrap();
        let root = tree.path().join("leds");
        fs::create_dir_all(root.join("ACT")).unwrap();
        fs::write(tree.path().join("trigger"), "secret").unwrap();
        let mut attrs = SysfsAttributes::new(&root);
        for device in ["..", "../leds/..", "a/b", "", "x\0y", "."] {
            assert!(!attrs.device_exists(device), "{device:?}");
            assert!(
                attrs.write(device, "trigger", "none").is_err(),
                "{device:?}"
            );
            assert!(attrs.read(device, "trigger").is_err(), "{device:?}");
        }
        assert!(attrs.write("ACT", "../../trigger", "x").is_err());
        assert_eq!(
            fs::read_to_string(tree.path().join("trigger")).unwrap(),
            "secret"
        );
    }

    #[test]
    fn writes_replace_and_never_create() {
        let tree = tempfile::tempdir().unwrap();
        fs::create_dir_all(tree.path().join("ACT")).unwrap();
        fs::write(tree.path().join("ACT/delay_on"), "500\n").unwrap();
        let mut attrs = SysfsAttributes::new(tree.path());
        attrs.write("ACT", "delay_on", "5").unwrap();
        assert_eq!(attrs.read("ACT", "delay_on").unwrap(), "5");
        let error = attrs.write("ACT", "delay_off", "5").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(!tree.path().join("ACT/delay_off").exists());
    }
}
