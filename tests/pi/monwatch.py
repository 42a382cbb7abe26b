#!/usr/bin/env python3
"""Watch a BCM2835 GPIO pin from the *host*, through the qemu monitor.

The emulated GPIO block has no host-side output, but the human monitor's
`xp` command reads guest-physical memory, and for an MMIO address that is a
real register read: GPLEV0 (0x3F200034 on BCM2837, bit N = pin N) gives the
level the guest drove, independently of anything the guest kernel reports.

  monwatch.py MONITOR_SOCKET SERIAL_LOG PIN SECONDS

Waits (up to 120 s) for the guest to print "@@ HOSTWATCH start" on its serial
console, then polls GPLEV0 for SECONDS and prints one line:
  HOSTWATCH pin=17 polls=N high=N rising=N freq=5.01 duty=50.2 poll_ms=1.3
freq is measured between the first and last rising edge, in host time.
"""

import re
import socket
import sys
import time

GPLEV0 = 0x3F200034  # BCM2837 peripheral base 0x3F000000 + GPIO 0x200000 + GPLEV0
PROMPT = b"(qemu) "
POLL_GAP = 0.004  # seconds between two register reads


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    mon_path, log_path, pin, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    addr, bit = GPLEV0 + 4 * (pin // 32), pin % 32

    deadline = time.monotonic() + 120
    while True:
        try:
            with open(log_path, "rb") as f:
                if b"@@ HOSTWATCH start" in f.read():
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            print("HOSTWATCH error=no-start-marker")
            return 1
        time.sleep(0.05)

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(mon_path)
    buf = b""

    def until_prompt():
        nonlocal buf
        while PROMPT not in buf:
            chunk = s.recv(4096)
            if not chunk:
                raise EOFError("monitor closed")
            buf += chunk
        out, buf = buf.split(PROMPT, 1)
        return out

    until_prompt()  # banner
    cmd = ("xp /1wx %#x\n" % addr).encode()
    pat = re.compile(rb"%x:\s+0x([0-9a-fA-F]+)" % addr)
    polls = highs = rising = 0
    prev = None
    t_first = t_last = 0.0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        s.sendall(cmd)
        m = pat.search(until_prompt())
        t = time.monotonic()
        if not m:
            continue
        level = (int(m.group(1), 16) >> bit) & 1
        polls += 1
        highs += level
        if prev == 0 and level == 1:
            rising += 1
            if rising == 1:
                t_first = t
            t_last = t
        prev = level
        # Each `xp` holds qemu's big lock; back off so the (single-threaded)
        # guest keeps running its timers on time.
        time.sleep(POLL_GAP)
    elapsed = time.monotonic() - t0
    s.close()
    freq = (rising - 1) / (t_last - t_first) if rising >= 2 else 0.0
    print("HOSTWATCH pin=%d polls=%d high=%d rising=%d freq=%.3f duty=%.1f poll_ms=%.2f"
          % (pin, polls, highs, rising, freq, 100.0 * highs / polls if polls else 0.0,
             1000.0 * elapsed / polls if polls else 0.0))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, EOFError) as e:  # qemu gone before the watch ended
        print("HOSTWATCH error=%s" % str(e).replace(" ", "_"))
        sys.exit(1)
