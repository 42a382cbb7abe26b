#!/usr/bin/env python3
"""SD-card wear: what ledd's state file costs a real file system (issue 17).

    python3 bench/sdcard.py [--quick] [--ledd PATH] [--new-config TEXT]

Two ledd processes run side by side, each with its state file on its own
ext4 file system (an image file on tmpfs, attached to a loop device and
mounted as Raspberry Pi OS mounts its root: ext4 with a journal, noatime,
commit=5): one configured as ledd was before coalesced saves
(`state_delay = 0`, "today"), one with the defaults ("coalesced", or the
configuration given with --new-config). Both get the same orders:

  bursts     1,000 changing orders in 10 bursts of 100, pipelined on one
             connection, each burst followed by a quiet 2 s;
  automation one changing order per second (`on power N`, a new level each
             time), on a new connection each (as a script running ledctl
             does), for 60 s (--quick) or 180 s.

The device's own counters (/sys/block/loopN/stat: write requests, sectors
written) are read before and after each phase, after `sync -f` on the file
system so nothing still waiting in the page cache escapes them. State-file
writes are counted by the kernel too: inotify IN_MOVED_TO events of the
state file (each atomic save ends with a rename onto it).

Budgets: the coalesced ledd makes at least 20x fewer device writes (sectors)
than today for the automation, and at most one state-file write per burst.
Needs root (loop devices, mount); otherwise each budget is reported SKIPPED,
never PASS. Exit status 0 when every budget passed or was skipped, 1 when one
failed, 2 when the benchmark could not run. bench/run.py runs it too and puts
its table in BENCHMARKS.md.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from inotify import IN_CREATE, IN_MOVED_TO, Inotify

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BUDGET_WRITE_RATIO = 20.0     # today / coalesced, device sectors, 1 order per second
BUDGET_WRITES_PER_BURST = 1   # state-file writes per burst, coalesced
BURSTS = 10
BURST_ORDERS = 100
BURST_GAP_S = 2.0             # quiet after a burst: the default quiet period is 1.25 s
AUTOMATION_QUICK_S = 60
AUTOMATION_FULL_S = 180
IMAGE_MIB = 32
STATE_NAME = "state.toml"


def log(text):
    print(f"sdcard: {text}", flush=True)


def stop_process(proc):
    """SIGTERM, then SIGKILL after 10 s; nothing for a process already gone."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Skip(Exception):
    """The benchmark cannot run here (not root, no loop device): SKIPPED."""


def run_cmd(*args):
    done = subprocess.run(list(args), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout.strip()


# ---------------------------------------------------------------- kernel counters

class Renames:
    """Counts renames onto the state file with inotify (bench/inotify.py):
    the kernel reports each one, so none is missed between two reads. The
    kernel merges an event into an identical one still unread, so creations
    are watched too: each save creates its temporary file, then renames it,
    and no two consecutive events are alike."""

    def __init__(self, directory):
        self.ino = Inotify()
        self.ino.watch(directory, IN_MOVED_TO | IN_CREATE)

    def take(self):
        """State-file renames since the last call."""
        return sum(1 for _wd, mask, name in self.ino.events() if mask & IN_MOVED_TO and name == STATE_NAME)

    def close(self):
        self.ino.close()


class Disk:
    """An ext4 image on tmpfs, on a loop device, mounted; removed by close()."""

    def __init__(self, workdir, name):
        self.image = os.path.join(workdir, f"{name}.img")
        self.mnt = os.path.join(workdir, f"{name}-mnt")
        self.dev = None
        self.mounted = False
        with open(self.image, "wb") as f:
            f.truncate(IMAGE_MIB * 1024 * 1024)
        # No lazy initialisation: it would write inode tables and the journal
        # in the background, into the counters.
        run_cmd("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", self.image)
        self.dev = attach(self.image)
        os.makedirs(self.mnt)
        run_cmd("mount", "-t", "ext4", "-o", "noatime,commit=5", self.dev, self.mnt)
        self.mounted = True
        self.state_dir = os.path.join(self.mnt, "ledd")
        os.makedirs(self.state_dir)
        self.stat_path = f"/sys/block/{os.path.basename(self.dev)}/stat"

    def counters(self):
        """(write requests, bytes written) so far, after flushing the file
        system: the device's own account, journal and metadata included."""
        run_cmd("sync", "-f", self.mnt)
        fields = open(self.stat_path).read().split()
        return int(fields[4]), int(fields[6]) * 512

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.mnt], capture_output=True)
        if self.dev:
            subprocess.run(["losetup", "-d", self.dev], capture_output=True)
        for path in (self.image,):
            if os.path.exists(path):
                os.unlink(path)
        if os.path.isdir(self.mnt):
            shutil.rmtree(self.mnt, ignore_errors=True)


def attach(image):
    """A free loop device for `image`. Containers often lack /dev/loop-control
    or the device nodes: create them (major 10 minor 237; block major 7),
    and say so if that is not allowed either."""
    try:
        return run_cmd("losetup", "-f", "--show", image)
    except RuntimeError as first:
        if not os.path.exists("/dev/loop-control"):
            try:
                os.mknod("/dev/loop-control", 0o600 | 0o020000, os.makedev(10, 237))
            except OSError as error:
                raise Skip(f"no loop device: {first}; mknod /dev/loop-control: {error}")
        try:
            free = run_cmd("losetup", "-f")
        except RuntimeError as error:
            raise Skip(f"no loop device: {error}")
        if not os.path.exists(free):
            try:
                os.mknod(free, 0o660 | 0o060000, os.makedev(7, int(free.removeprefix("/dev/loop"))))
            except (OSError, ValueError) as error:
                raise Skip(f"no loop device: cannot create {free}: {error}")
        try:
            return run_cmd("losetup", "--show", free, image)
        except RuntimeError as error:
            raise Skip(f"no loop device: {error}")


# ---------------------------------------------------------------- ledd

def add_fake_led(root, device, max_brightness):
    path = os.path.join(root, device)
    os.makedirs(path, exist_ok=True)
    for name, value in [("brightness", "0"), ("max_brightness", str(max_brightness)),
                        ("trigger", "[none] timer heartbeat pattern oneshot"),
                        ("delay_on", "500"), ("delay_off", "500"), ("pattern", ""), ("repeat", "-1")]:
        with open(os.path.join(path, name), "w") as f:
            f.write(value + "\n")


class Ledd:
    """ledd on a fake LED tree on tmpfs, its state file on `disk`."""

    def __init__(self, ledd_bin, workdir, name, disk, extra_config):
        self.name = name
        self.disk = disk
        home = os.path.join(workdir, name)
        sysfs = os.path.join(home, "leds")
        add_fake_led(sysfs, "ACT", 1)
        add_fake_led(sysfs, "PWR", 255)
        self.socket = os.path.join(home, "ledd.sock")
        self.state_file = os.path.join(disk.state_dir, STATE_NAME)
        self.log = os.path.join(home, "ledd.log")
        config = os.path.join(home, "ledd.toml")
        with open(config, "w") as f:
            f.write(f'socket = "{self.socket}"\nsysfs_root = "{sysfs}"\nstate_file = "{self.state_file}"\n'
                    f'{extra_config}\n[leds.status]\ndevice = "ACT"\n[leds.power]\ndevice = "PWR"\n')
        check = subprocess.run([ledd_bin, "--config", config, "--check-config"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"{name}: configuration refused: {check.stderr.strip()}")
        with open(self.log, "a") as logf:
            self.proc = subprocess.Popen([ledd_bin, "--config", config], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=logf)
        deadline = time.monotonic() + 10
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not come up: {open(self.log).read()}")
            time.sleep(0.01)
        self.renames = Renames(disk.state_dir)

    def answers(self):
        try:
            return self.orders(["version"], check=False)[0].startswith("ok")
        except OSError:
            return False

    def orders(self, lines, check=True):
        """Sends `lines` pipelined on one connection; returns the replies."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(self.socket)
            s.sendall("".join(line + "\n" for line in lines).encode())
            data = b""
            while data.count(b"\n") < len(lines):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        replies = data.decode().splitlines()
        if check and (len(replies) != len(lines) or not all(r.startswith("ok") for r in replies)):
            bad = next((r for r in replies if not r.startswith("ok")), "connection closed")
            raise RuntimeError(f"{self.name} refused an order: {bad}")
        return replies

    def stop(self):
        stop_process(self.proc)
        self.renames.close()


# ---------------------------------------------------------------- the measure

def burst_orders(burst):
    """100 orders that each change the saved state (consecutive blink rates
    differ, and 1..20 Hz give distinct delays); each burst ends elsewhere."""
    return [f"blink power {1 + (burst * 7 + i) % 20}" for i in range(BURST_ORDERS)]


def measure(ledd_bin, quick, new_config):
    """Runs both phases on both ledds; returns the figures."""
    if os.geteuid() != 0:
        raise Skip("needs root (loop devices, mount)")
    for tool in ("mkfs.ext4", "losetup", "mount", "umount", "sync"):
        if not shutil.which(tool):
            raise Skip(f"{tool} not found")
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    workdir = tempfile.mkdtemp(prefix="ledd-sdcard-", dir=shm)
    disks, ledds = [], []
    automation_s = AUTOMATION_QUICK_S if quick else AUTOMATION_FULL_S
    try:
        for name, extra in (("today", "state_delay = 0"), ("coalesced", new_config)):
            disk = Disk(workdir, name)
            disks.append(disk)
            ledds.append(Ledd(ledd_bin, workdir, name, disk, extra))
        today, new = ledds
        time.sleep(1)
        figures = {"automation_s": automation_s, "config": new_config or "(defaults)",
                   "dev": {l.name: l.disk.dev for l in ledds}}

        log(f"bursts: {BURSTS} x {BURST_ORDERS} changing orders, {BURST_GAP_S} s quiet after each")
        before = {l.name: l.disk.counters() for l in ledds}
        for l in ledds:
            l.renames.take()
        per_burst = {l.name: [] for l in ledds}
        mismatch = []
        for burst in range(BURSTS):
            lines = burst_orders(burst)
            for l in ledds:
                l.orders(lines)
            time.sleep(BURST_GAP_S)
            for l in ledds:
                per_burst[l.name].append(l.renames.take())
            # The coalesced file holds what today's (saved at every order) holds.
            if open(today.state_file).read() != open(new.state_file).read():
                mismatch.append(burst)
        after = {l.name: l.disk.counters() for l in ledds}
        figures["bursts"] = {l.name: {"requests": after[l.name][0] - before[l.name][0],
                                      "bytes": after[l.name][1] - before[l.name][1],
                                      "saves": sum(per_burst[l.name]),
                                      "max_saves_per_burst": max(per_burst[l.name])} for l in ledds}
        figures["burst_mismatch"] = mismatch

        log(f"automation: 1 changing order per second for {automation_s} s")
        before = {l.name: l.disk.counters() for l in ledds}
        for l in ledds:
            l.renames.take()
        start = time.monotonic()
        for i in range(automation_s):
            # On the clock, not sleep(1) after each: exactly one order per second.
            delay = start + i - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            # A new level each time, as a gauge would show: never the state
            # the file holds (an automation toggling between two states
            # would make ledd write nothing at all, as a state equal to the
            # file's is not written).
            for l in ledds:
                l.orders([f"on power {1 + i % 255}"])
        # The quiet period after the last order, then its save.
        time.sleep(max(0.0, start + automation_s - time.monotonic()) + 2.0)
        after = {l.name: l.disk.counters() for l in ledds}
        figures["automation"] = {l.name: {"requests": after[l.name][0] - before[l.name][0],
                                          "bytes": after[l.name][1] - before[l.name][1],
                                          "saves": l.renames.take()} for l in ledds}
        figures["automation_same_file"] = open(today.state_file).read() == open(new.state_file).read()
        for l in ledds:
            text = open(l.log).read()
            if "panicked" in text:
                raise RuntimeError(f"{l.name} panicked: {text}")
        return figures
    finally:
        for l in ledds:
            l.stop()
        for d in disks:
            d.close()
        shutil.rmtree(workdir, ignore_errors=True)


def kib(n):
    return f"{n / 1024:,.1f} KiB"


def mib(n):
    return f"{n / 1024 / 1024:,.1f} MiB"


def report(figures):
    """(markdown lines, checks); a check is (name, True/False/None=skipped, detail)."""
    b, a, secs = figures["bursts"], figures["automation"], figures["automation_s"]
    per_hour = {n: a[n]["bytes"] * 3600 / secs for n in a}
    saves_hour = {n: a[n]["saves"] * 3600 / secs for n in a}
    ratio = a["today"]["bytes"] / a["coalesced"]["bytes"] if a["coalesced"]["bytes"] else float("inf")
    label = f"`{figures['config']}`" if figures["config"] != "(defaults)" else "defaults: 1 s / 30 s"
    lines = [
        f"| Measure | today (`state_delay = 0`) | coalesced ({label}) | ratio |",
        "|---|---:|---:|---:|",
        f"| 1,000 changing orders in 10 bursts: device writes | {kib(b['today']['bytes'])} in "
        f"{b['today']['requests']:,} requests | {kib(b['coalesced']['bytes'])} in {b['coalesced']['requests']:,} "
        f"requests | {b['today']['bytes'] / max(1, b['coalesced']['bytes']):,.0f}x |",
        f"| 1,000 changing orders in 10 bursts: state-file writes | {b['today']['saves']:,} | "
        f"{b['coalesced']['saves']:,} | |",
        f"| 1 order/s for {secs} s: device writes | {kib(a['today']['bytes'])} in {a['today']['requests']:,} "
        f"requests | {kib(a['coalesced']['bytes'])} in {a['coalesced']['requests']:,} requests | {ratio:,.1f}x |",
        f"| 1 order/s for {secs} s: state-file writes | {a['today']['saves']} | {a['coalesced']['saves']} | |",
        f"| 1 order/s: device writes per hour (extrapolated) | {mib(per_hour['today'])}, "
        f"{saves_hour['today']:,.0f} saves | {mib(per_hour['coalesced'])}, {saves_hour['coalesced']:,.0f} saves | |",
        f"| 1 order/s: device writes per day (extrapolated) | {mib(per_hour['today'] * 24)} | "
        f"{mib(per_hour['coalesced'] * 24)} | |",
        f"| Device writes per state-file save (fsync, rename, directory fsync, journal) | "
        f"{kib(a['today']['bytes'] / max(1, a['today']['saves']))} | "
        f"{kib(a['coalesced']['bytes'] / max(1, a['coalesced']['saves']))} | |",
    ]
    checks = [
        (f"SD card: >= {BUDGET_WRITE_RATIO:.0f}x fewer device writes than state_delay = 0 for 1 order/s",
         ratio >= BUDGET_WRITE_RATIO,
         f"{a['today']['bytes']:,} vs {a['coalesced']['bytes']:,} bytes in {secs} s ({ratio:,.1f}x), "
         f"{figures['config']}"),
        (f"SD card: at most {BUDGET_WRITES_PER_BURST} state-file write per burst (and the file current after it)",
         b["coalesced"]["max_saves_per_burst"] <= BUDGET_WRITES_PER_BURST and b["coalesced"]["saves"] >= 1
         and not figures["burst_mismatch"] and figures["automation_same_file"],
         f"{b['coalesced']['saves']} writes for {BURSTS} bursts, at most "
         f"{b['coalesced']['max_saves_per_burst']} in one; "
         + (f"file behind after bursts {figures['burst_mismatch']}" if figures["burst_mismatch"]
            else "file current after each burst")),
    ]
    return lines, checks


def skipped_checks(reason):
    return [(f"SD card: >= {BUDGET_WRITE_RATIO:.0f}x fewer device writes than state_delay = 0 for 1 order/s",
             None, reason),
            (f"SD card: at most {BUDGET_WRITES_PER_BURST} state-file write per burst (and the file current after it)",
             None, reason)]


METHOD = (
    "Method (`bench/sdcard.py`): two release ledds side by side, each with its state file on its own ext4 file "
    "system (a {img} MiB image on tmpfs, attached to a loop device, `mkfs.ext4` without lazy initialisation, "
    "mounted `noatime,commit=5` like a Raspberry Pi OS root), the LEDs on a fake sysfs tree on tmpfs. Both get "
    "the same orders: 1,000 changing orders in 10 pipelined bursts of 100 with 2 s of quiet after each, then one "
    "changing order per second on a new connection. Device writes are the loop device's own counters "
    "(`/sys/block/loopN/stat`, write requests and sectors x 512) read after `sync -f`, so the journal, metadata "
    "and anything left in the page cache count; state-file writes are inotify `IN_MOVED_TO` events of the file "
    "(each atomic save ends with a rename onto it; creations are watched too, so that the kernel cannot merge "
    "two renames into one event). Per hour and per day are the automation's figures scaled "
    "up; the coalesced window includes the save after the last order. A real SD card also erases and rewrites "
    "whole flash pages for each small synchronous write, so the wear saved is at least in this ratio."
).format(img=IMAGE_MIB)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"automation phase {AUTOMATION_QUICK_S} s "
                        f"instead of {AUTOMATION_FULL_S} s")
    parser.add_argument("--ledd", help="ledd binary (default: cargo build --release, target/release/ledd)")
    parser.add_argument("--new-config", default="",
                        help="configuration lines of the measured ledd (default: none, ledd's defaults); "
                             "'state_delay = 0' must make the budgets fail")
    args = parser.parse_args()
    ledd_bin = args.ledd
    if not ledd_bin:
        subprocess.run(["cargo", "build", "--release", "--bins", "--quiet"], cwd=ROOT, check=True)
        ledd_bin = os.path.join(ROOT, "target", "release", "ledd")
    try:
        lines, checks = report(measure(ledd_bin, args.quick, args.new_config))
        print("\n".join(lines))
    except Skip as reason:
        checks = skipped_checks(str(reason))
    except (RuntimeError, OSError) as error:
        print(f"sdcard: ERROR: {error}", file=sys.stderr)
        sys.exit(2)
    for name, ok, detail in checks:
        print(f"{'SKIPPED' if ok is None else 'PASS' if ok else 'FAIL'}: {name} ({detail})")
    failed = sum(1 for _, ok, _ in checks if ok is False)
    print(f"{sum(1 for _, ok, _ in checks if ok)} passed, {failed} failed, "
          f"{sum(1 for _, ok, _ in checks if ok is None)} skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
