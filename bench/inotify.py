"""inotify through ctypes (no dependency), for the benchmarks that wait on
files the kernel or ledd writes: sdcard.py (renames onto the state file)
and mqtt-fanout.py (the LED trees' delay files)."""

import ctypes
import ctypes.util
import os
import select
import struct

IN_CLOSE_WRITE = 0x008
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

_EVENT = struct.Struct("iIII")  # wd, mask, cookie, name length


class Inotify:
    """One non-blocking inotify instance. Errors are OSError, naming the call."""

    def __init__(self):
        self.libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.fd = self.libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise self._error("inotify_init1")

    def _error(self, call):
        errno = ctypes.get_errno()
        return OSError(errno, f"{call}: {os.strerror(errno)}")

    def watch(self, path, mask):
        """Watches PATH for the events in MASK; returns the watch descriptor."""
        wd = self.libc.inotify_add_watch(self.fd, path.encode(), mask)
        if wd < 0:
            raise self._error(f"inotify_add_watch {path}")
        return wd

    def wait(self, timeout):
        """Whether events are waiting, after up to TIMEOUT seconds."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        return bool(ready)

    def events(self):
        """Every waiting event as (wd, mask, name), without blocking."""
        events = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return events
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                start = offset + _EVENT.size
                name = data[start:start + length].rstrip(b"\0").decode()
                events.append((wd, mask, name))
                offset = start + length

    def close(self):
        os.close(self.fd)
