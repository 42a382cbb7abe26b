//! The kernel's device events (uevents), so that an LED that appears after
//! ledd started (an overlay applied at run time, a USB or keyboard LED
//! plugged in, a driver bound late) gets its saved state without a restart.
//!
//! ledd listens to the kernel's own multicast group of
//! `NETLINK_KOBJECT_UEVENT`, not to udev's: the kernel broadcasts device
//! events to every network namespace owned by the initial user namespace,
//! which includes the private one `PrivateNetwork=yes` gives ledd. The
//! socket only wakes ledd when a device comes or goes.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recvfrom, socket,
};

/// The kernel's multicast group on the uevent socket (udev's is 2).
const KERNEL_GROUP: u32 = 1;
/// The largest uevent the kernel sends (UEVENT_BUFFER_SIZE) with its header.
const MAX_EVENT: usize = 8192;

/// One device event, the fields ledd needs of it.
#[derive(Debug, PartialEq, Eq)]
pub struct Uevent {
    pub action: String,
    pub subsystem: String,
    /// The device's sysfs path below /sys, e.g. `/devices/.../leds/input0::capslock`.
    pub devpath: String,
}

impl Uevent {
    /// An LED class device came, went or changed.
    pub fn is_led(&self) -> bool {
        self.subsystem == "leds"
    }

    /// A new LED class device, by its name under /sys/class/leds.
    pub fn added_led(&self) -> Option<&str> {
        (self.action == "add" && self.subsystem == "leds")
            .then(|| self.devpath.rsplit('/').next())
            .flatten()
            .filter(|name| !name.is_empty())
    }
}

/// Parses one kernel uevent datagram: `ACTION@DEVPATH`, then `KEY=VALUE`
/// fields, each ended by a NUL byte. Anything else (udev's `libudev` format,
/// truncated or garbled data) gives `None`.
pub fn parse(datagram: &[u8]) -> Option<Uevent> {
    let mut fields = datagram.split(|byte| *byte == 0).map(std::str::from_utf8);
    if !fields.next()?.ok()?.contains('@') {
        return None;
    }
    let (mut action, mut subsystem, mut devpath) = (None, None, None);
    for field in fields {
        let Ok(field) = field else { continue };
        match field.split_once('=') {
            Some(("ACTION", value)) => action = Some(value.to_string()),
            Some(("SUBSYSTEM", value)) => subsystem = Some(value.to_string()),
            Some(("DEVPATH", value)) => devpath = Some(value.to_string()),
            _ => {}
        }
    }
    Some(Uevent {
        action: action?,
        subsystem: subsystem?,
        devpath: devpath?,
    })
}

/// A non-blocking socket on the kernel's uevent broadcasts.
pub struct UeventSocket {
    fd: OwnedFd,
}

impl UeventSocket {
    pub fn open() -> io::Result<UeventSocket> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkKObjectUEvent,
        )?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, KERNEL_GROUP))?;
        Ok(UeventSocket { fd })
    }

    /// Reads every event waiting. `Err` only for a broken socket; a full
    /// receive queue (events lost during a burst) is reported as `lost`.
    pub fn drain(&self) -> io::Result<Drained> {
        let mut drained = Drained::default();
        let mut buffer = vec![0u8; MAX_EVENT];
        loop {
            match recvfrom::<NetlinkAddr>(self.fd.as_raw_fd(), &mut buffer) {
                // Only the kernel (port 0) speaks for devices.
                Ok((len, Some(from))) if from.pid() == 0 => {
                    drained.events.extend(parse(&buffer[..len]));
                }
                Ok(_) => {}
                Err(Errno::EAGAIN) => return Ok(drained),
                Err(Errno::EINTR) => {}
                Err(Errno::ENOBUFS) => drained.lost = true,
                Err(error) => return Err(error.into()),
            }
        }
    }
}

impl AsFd for UeventSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[derive(Debug, Default)]
pub struct Drained {
    pub events: Vec<Uevent>,
    /// The kernel dropped events for want of buffer space: a device may have
    /// appeared unseen.
    pub lost: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(fields: &[&str]) -> Vec<u8> {
        fields.iter().flat_map(|f| f.bytes().chain([0])).collect()
    }

    #[test]
    fn an_led_add_names_the_led() {
        let event = parse(&datagram(&[
            "add@/devices/platform/leds/leds/ledd:green:status",
            "ACTION=add",
            "DEVPATH=/devices/platform/leds/leds/ledd:green:status",
            "SUBSYSTEM=leds",
            "SEQNUM=1234",
        ]))
        .expect("a kernel uevent");
        assert_eq!(event.added_led(), Some("ledd:green:status"));
    }

    #[test]
    fn other_events_name_no_led() {
        for fields in [
            [
                "remove@/devices/x/leds/a",
                "ACTION=remove",
                "DEVPATH=/devices/x/leds/a",
                "SUBSYSTEM=leds",
            ],
            [
                "change@/devices/x/leds/a",
                "ACTION=change",
                "DEVPATH=/devices/x/leds/a",
                "SUBSYSTEM=leds",
            ],
            [
                "add@/devices/x/input/input3",
                "ACTION=add",
                "DEVPATH=/devices/x/input/input3",
                "SUBSYSTEM=input",
            ],
            ["add@/", "ACTION=add", "DEVPATH=/", "SUBSYSTEM=leds"],
        ] {
            let event = parse(&datagram(&fields)).expect("a kernel uevent");
            assert_eq!(event.added_led(), None, "{fields:?}");
        }
    }

    #[test]
    fn udev_messages_and_garbage_are_ignored() {
        assert_eq!(parse(b"libudev\0\xfe\xed\xca\xfe"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(&datagram(&["add@/devices/x", "ACTION=add"])), None);
        assert_eq!(parse(&[0xff, 0xfe, 0, b'A']), None);
    }
}
