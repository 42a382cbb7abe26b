#!/usr/bin/env python3
"""What ledd costs, measured on the whole process, next to a baseline.

    python3 bench/run.py            full run, writes BENCHMARKS.md (a few minutes)
    python3 bench/run.py --quick    CI run: fewer iterations, 3 s wakeup window,
                                    60 s SD-card automation phase,
                                    writes target/bench/BENCHMARKS-quick.md
    python3 bench/run.py --floor-only [--quick]
                                    only ledd against the floor (round-trip
                                    ratios, system calls per order), before and
                                    after a change; writes target/bench/FLOOR.md

Builds the release binaries (cargo build --release --bins) and the
load generator in bench/loadgen (std and crates/ledd-client), starts ledd on a fake sysfs tree on tmpfs
(the shared fake tree of tests/fakeleds, whose preloaded library plays the
kernel's part in the real ledd, as in the integration tests) and the baseline design
(bench/baseline_server.py: TCP, one order per connection, a Python thread
toggling a fake GPIO pin), drives both with the same client load, and checks
the budgets. ledd's round trips are also measured against the floor
(bench/floor.c, a bare epoll server built with gcc -O2) in the same run, with
the system calls per order of both (strace -c for the names, perf stat for
the counts). Then bench/sdcard.py measures the state file's writes on a real
ext4 file system (root only; SKIPPED otherwise), and bench/mqtt-fanout.py
the MQTT bridge's fan-out to 100 nodes (one budget). Exits 1 if a budget is violated (each one printed as PASS/FAIL),
2 if the benchmark itself could not run. The last line is "N passed, N failed".
"""
import argparse
import datetime
import glob
import signal
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import sdcard

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1024 * 1024

# Budgets (issue 7). They are checked in --quick mode as well.
BUDGET_RSS_KIB = 4 * 1024          # ledd peak RSS (VmHWM) over the whole run
BUDGET_SIZE_BYTES = 2 * MIB        # stripped ledd binary
BUDGET_PERSISTENT_MEDIAN_US = 50.0 # order round trip on one connection
BUDGET_RSS_GROWTH = 0.10           # RSS after the load vs at rest
BUDGET_WAKEUPS = 0                 # context switches while LEDs blink, no clients

# Goals against the floor (issue 11, section 4): ledd's `version` round trip as
# a ratio to a bare epoll server's (bench/floor.c), median, best of five, server
# and client on one CPU. A goal whose mode is in FLOOR_BUDGETS is a budget
# (PASS/FAIL, fails the run); the others are reported as goals, met or not,
# and never fail the run (see bench/README.md). Add a mode once ledd meets its
# goal run after run.
GOAL_FLOOR_PERSISTENT = 1.3        # `version`, one persistent connection
GOAL_FLOOR_NEWCONN = 1.2           # `version`, a new connection per order
# `newconn` met its goal in every run so far (best-of-5 ratio 1.02–1.09 on a
# loaded 2-CPU VM): a budget. `persistent` is at 1.7–1.8×: a goal not yet met.
FLOOR_BUDGETS = {"newconn"}        # of "persistent", "newconn"


def log(text):
    print(f"bench: {text}", flush=True)


def die(text):
    print(f"bench: ERROR: {text}", file=sys.stderr, flush=True)
    sys.exit(2)


# ---------------------------------------------------------------- building

def build(quick):
    """Release binaries of ledd, and the load generator under target/."""
    log("cargo build --release --bins")
    subprocess.run(["cargo", "build", "--release", "--bins"], cwd=ROOT, check=True)
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    target = meta["target_directory"]
    # A target dir of its own: the load generator is not in ledd's workspace.
    loadgen_target = os.path.join(target, "bench-loadgen")
    log("building bench/loadgen")
    subprocess.run(["cargo", "build", "--release", "--quiet",
                    "--manifest-path", os.path.join(ROOT, "bench", "loadgen", "Cargo.toml"),
                    "--target-dir", loadgen_target], check=True)
    # The floor: a bare epoll server in C (bench/floor.c), the least a round
    # trip on a Unix socket can cost on this machine.
    floor = os.path.join(target, "bench-floor", "ledd-floor")
    os.makedirs(os.path.dirname(floor), exist_ok=True)
    log("building bench/floor.c (gcc -O2)")
    if not shutil.which("gcc"):
        die("gcc is missing: it builds the floor server (bench/floor.c) and the fake kernel library")
    subprocess.run(["gcc", "-O2", "-Wall", "-o", floor, os.path.join(ROOT, "bench", "floor.c")], check=True)
    # The event loop's floor: the same echo on calloop, ledd's event loop,
    # with ledd's release profile (bench/calloop-floor).
    calloop_target = os.path.join(target, "bench-calloop-floor")
    log("building bench/calloop-floor")
    subprocess.run(["cargo", "build", "--release", "--quiet",
                    "--manifest-path", os.path.join(ROOT, "bench", "calloop-floor", "Cargo.toml"),
                    "--target-dir", calloop_target], check=True)
    return {
        "target": target,
        "ledd": os.path.join(target, "release", "ledd"),
        "ledctl": os.path.join(target, "release", "ledctl"),
        "loadgen": os.path.join(loadgen_target, "release", "ledd-loadgen"),
        "floor": floor,
        "calloop": os.path.join(calloop_target, "release", "ledd-calloop-floor"),
    }


# ---------------------------------------------------------------- /proc

def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def rss_kib(pid):
    """(VmRSS, VmHWM) in KiB."""
    s = proc_status(pid)
    return int(s["VmRSS"].split()[0]), int(s["VmHWM"].split()[0])


def anon_kib(pid):
    """RssAnon in KiB: heap and stacks, without the mapped binary and libraries."""
    return int(proc_status(pid)["RssAnon"].split()[0])


def ctxt_switches(pid):
    """Voluntary + involuntary context switches summed over all threads."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except FileNotFoundError:  # a thread ended between glob and open
            pass
    return total


def cpu_ticks(pid):
    """utime + stime of the process (all threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def idle_window(pid, seconds):
    """Context switches and CPU ms of pid over `seconds` of doing nothing."""
    c0, t0 = ctxt_switches(pid), cpu_ticks(pid)
    time.sleep(seconds)
    c1, t1 = ctxt_switches(pid), cpu_ticks(pid)
    return c1 - c0, (t1 - t0) * 1000.0 / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the daemons

def is_tmpfs(path):
    best, fstype = "", ""
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            mount, kind = parts[1], parts[2]
            if path.startswith(mount) and len(mount) > len(best):
                best, fstype = mount, kind
    return fstype == "tmpfs"


FAKELEDS = os.path.join(ROOT, "tests", "fakeleds", "fakeleds.sh")


def fakeleds(*args):
    """The shared fake LED tree (tests/fakeleds): a device, or the library's path."""
    out = subprocess.run([FAKELEDS, *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        die(f"fakeleds.sh {' '.join(map(str, args))}: {out.stderr.strip()}")
    return out.stdout.strip()


def add_fake_led(root, device, max_brightness):
    """A fake LED class device, idle, as the kernel shows it; with the library
    preloaded, ledd sees it react like the kernel (trigger files come and go)."""
    fakeleds("led", root, device, max_brightness)


class Server:
    """A server process under test: stopped with SIGTERM, killed after 10 s."""
    proc = None

    def wait_for_socket(self, path, begin, what, failure_detail=lambda: ""):
        """Seconds from `begin` until a connection to the Unix socket `path`
        succeeds; dies if the process exits first or takes more than 10 s."""
        def connect():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
        return self.wait_until_up(connect, begin, what, failure_detail)

    def wait_until_up(self, connect, begin, what, failure_detail=lambda: ""):
        """Seconds from `begin` until `connect()` stops raising OSError."""
        while True:
            try:
                connect()
                return time.perf_counter() - begin
            except OSError:
                pass
            if self.proc.poll() is not None:
                die(f"{what} exited with {self.proc.returncode}{failure_detail()}")
            if time.perf_counter() - begin > 10:
                die(f"{what} did not come up{failure_detail()}")
            time.sleep(0.0002)

    def checked(self, line, reply):
        """The reply as text; anything but ok ends the benchmark."""
        reply = reply.decode().strip()
        if not reply.startswith("ok"):
            die(f"{self.name} refused {line!r}: {reply}")
        return reply

    def stop(self):
        if self.proc:
            sdcard.stop_process(self.proc)
        self.proc = None


class Ledd(Server):
    def __init__(self, bins, workdir, name, simulate=False):
        self.name = name
        self.bins = bins
        self.dir = os.path.join(workdir, name)
        self.sysfs = os.path.join(self.dir, "leds")
        self.socket = os.path.join(self.dir, "ledd.sock")
        self.config = os.path.join(self.dir, "ledd.toml")
        self.log = os.path.join(self.dir, "ledd.log")
        self.simulate = simulate
        self.proc = None
        for device, maximum in [("ACT", 1), ("PWR", 255), ("DISK", 1)]:
            add_fake_led(self.sysfs, device, maximum)
        leds = '[leds.status]\ndevice = "ACT"\n[leds.power]\ndevice = "PWR"\n[leds.disk]\ndevice = "DISK"\n'
        base = (f'socket = "{self.socket}"\nsysfs_root = "{self.sysfs}"\n'
                f'state_file = "{self.dir}/state.toml"\n')
        # The per-connection rate limit would turn the round-trip figures into
        # a measure of the limiter: lift it where this ledd knows the key. The
        # load generator is one user standing for many (500 concurrent
        # clients): the per-user cap is lifted to the global limit with it.
        self.rate_limit_lifted = False
        with open(self.config, "w") as f:
            f.write(base + "rate_limit = 1000000\nmax_connections_per_user = 1024\n" + leds)
        check = subprocess.run([bins["ledd"], "--config", self.config, "--check-config"],
                               capture_output=True, text=True)
        if check.returncode == 0:
            self.rate_limit_lifted = True
        else:
            with open(self.config, "w") as f:
                f.write(base + leds)

    @property
    def addr(self):
        return "unix:" + self.socket

    def start(self):
        """Starts ledd; returns the seconds until its socket accepts a connection."""
        args = [self.bins["ledd"], "--config", self.config]
        if self.simulate:
            args.append("--simulate")
        logf = open(self.log, "a")
        env = dict(os.environ)
        if not self.simulate:
            # The kernel's part on the fake tree: the library preloaded into the real ledd.
            env.update(LD_PRELOAD=fakeleds("lib"), FAKE_LEDS_ROOT=self.sysfs)
        begin = time.perf_counter()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=logf, env=env)
        logf.close()
        elapsed = self.wait_for_socket(self.socket, begin, "ledd", lambda: ": " + open(self.log).read())
        # ld.so ignores a preload it cannot open with a warning only.
        if not self.simulate and "libfakeleds.so" not in open(f"/proc/{self.proc.pid}/maps").read():
            die(f"the fake kernel library is not loaded in ledd: {open(self.log).read()}")
        return elapsed

    def order(self, line):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.socket)
            s.sendall(line.encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        return self.checked(line, reply)

class Baseline(Server):
    def __init__(self, workdir, name="baseline"):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port_file = os.path.join(self.dir, "port")
        self.pin = os.path.join(self.dir, "gpio-pin")
        self.proc = None
        self.port = None

    @property
    def addr(self):
        return f"tcp:127.0.0.1:{self.port}"

    def start(self):
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        begin = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "bench", "baseline_server.py"), self.port_file, self.pin],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

        def connect():
            # The server writes its port once it listens: not there yet, or
            # half written, is "not up yet".
            with open(self.port_file) as f:
                text = f.read()
            if not text.strip().isdigit():
                raise OSError(f"no port in {self.port_file} yet")
            self.port = int(text)
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        return self.wait_until_up(connect, begin, "baseline")

    def order(self, line):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(line.encode() + b"\n")
            reply = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        return self.checked(line, reply)


class Floor(Server):
    """A bare server answering every line `ok floor`: bench/floor.c (epoll by
    hand, `name` "floor") or bench/calloop-floor (calloop, `name` "calloop")."""

    def __init__(self, bins, workdir, name="floor"):
        self.name = name
        self.bin = bins[name]
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.socket = os.path.join(self.dir, "floor.sock")
        self.proc = None

    @property
    def addr(self):
        return "unix:" + self.socket

    def start(self):
        begin = time.perf_counter()
        self.proc = subprocess.Popen([self.bin, self.socket], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL)
        return self.wait_for_socket(self.socket, begin, f"the {self.name} floor server")


# ---------------------------------------------------------------- load

FAILURES = []  # (what, failed orders, first failure): refusals under load are ledd bugs to report


def loadgen(bins, *args, cpu=None):
    """Runs bench/loadgen and returns its JSON summary; with `cpu`, on that CPU only."""
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    out = subprocess.run([bins["loadgen"], *map(str, args)], capture_output=True, text=True, preexec_fn=pin)
    if out.returncode != 0:
        die(f"loadgen {' '.join(map(str, args))} failed: {out.stderr.strip()}")
    result = json.loads(out.stdout)
    if result.get("errors"):
        shown = ["floor" if str(a).endswith("floor.sock") else "ledd" if str(a).startswith("unix:") else "baseline" if str(a).startswith("tcp:") else str(a)
                 for a in args]
        what = " ".join(shown[:3] if args[0] != "throughput" else shown[:5])
        FAILURES.append((what, result["errors"], out.stderr.strip()))
        log(f"WARNING: {result['errors']} orders failed in: loadgen {what}: {out.stderr.strip()}")
    return result


def startup_times(start, stop, runs):
    times = []
    for _ in range(runs):
        times.append(start())
        stop()
    return statistics.median(times) * 1000.0


# ---------------------------------------------------------------- the floor

# What is measured against the floor: (key, label, orders alternated). The floor
# answers any line; it gets `version`, the order its cost is closest to.
FLOOR_CASES = [("floor", "floor", ("version", "version")),
               ("calloop", "calloop echo", ("version", "version")),
               ("version", "ledd `version`", ("version", "version")),
               ("status", "ledd `status power` / `status`", ("status power", "status"))]
FLOOR_MODES = [("persistent", "one persistent connection"), ("newconn", "a new connection per order")]


def floor_rounds(bins, servers, n_persistent, n_newconn, cpu, rounds=5):
    """Round trips of the floor and of ledd, interleaved, `rounds` times.

    Each round runs every case in both modes, first with both servers and the
    client pinned to `cpu`, then free; interleaving puts the floor and ledd
    under the same noise from the other jobs on the shared CPUs. `servers`:
    {case key: server}. Returns {(key, mode, pinned): [loadgen summary per round]}."""
    distinct = distinct_servers(servers)
    free = {id(srv): os.sched_getaffinity(srv.proc.pid) for srv in distinct}
    runs = {}
    try:
        for _ in range(rounds):
            for pinned in (True, False):
                for srv in distinct:
                    os.sched_setaffinity(srv.proc.pid, {cpu} if pinned else free[id(srv)])
                for key, _, (a, b) in FLOOR_CASES:
                    for mode, _ in FLOOR_MODES:
                        n = n_persistent if mode == "persistent" else n_newconn
                        run = loadgen(bins, mode, servers[key].addr, n, a, b, cpu=cpu if pinned else None)
                        runs.setdefault((key, mode, pinned), []).append(run)
    finally:
        for srv in distinct:
            os.sched_setaffinity(srv.proc.pid, free[id(srv)])
    return runs


class NoStrace(Exception):
    """System calls cannot be counted here (no strace, or no ptrace)."""


def tracer_pid(pid):
    return int(proc_status(pid).get("TracerPid", "0"))


def perf_event_fds(pid):
    try:
        return sum(1 for fd in os.listdir(f"/proc/{pid}/fd")
                   if "perf_event" in os.readlink(f"/proc/{pid}/fd/{fd}"))
    except OSError:
        return 0


def traced_load(bins, server, mode, n, a, b, cpu, tracer_args, attached):
    """Starts a tracer on the server, waits until `attached(tracer)`, sends the
    load (client pinned to `cpu`), stops the tracer with SIGINT 0.3 s after the
    last reply (the close of the last connection is in, a timer that fires a
    second after the load is not). Returns the orders sent, warm-up included."""
    tracer = subprocess.Popen(tracer_args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    begin = time.perf_counter()
    while not attached(tracer):
        if tracer.poll() is not None:
            raise NoStrace(f"{os.path.basename(tracer_args[0])} could not attach: {tracer.stderr.read().strip()}")
        if time.perf_counter() - begin > 10:
            tracer.kill()
            tracer.wait()
            raise NoStrace(f"{os.path.basename(tracer_args[0])} did not attach within 10 s")
        time.sleep(0.01)
    time.sleep(0.2)
    try:
        run = loadgen(bins, mode, server.addr, n, a, b, cpu=cpu)
        time.sleep(0.3)
    finally:
        tracer.send_signal(signal.SIGINT)
        try:
            tracer.wait(10)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait()
    return run["count"] + run.get("warmup", 0)


def strace_count(bins, server, mode, n, a, b, cpu):
    """`strace -c -f -p PID`: (orders, {syscall: (calls, errors)}).

    Exact for the calls it sees, but each call stops the server for the tracer,
    which changes what an event loop does (the client's next order is often
    there before the server reads again, so fewer waits): the names and the
    failures are taken from here, the counts from perf_count when it works."""
    strace = shutil.which("strace")
    if not strace:
        raise NoStrace("strace is missing (apt-get install strace)")
    pid = server.proc.pid
    out = os.path.join(server.dir, f"strace-{mode}-{a.replace(' ', '_')}.txt")
    orders = traced_load(bins, server, mode, n, a, b, cpu, [strace, "-c", "-f", "-o", out, "-p", str(pid)],
                         lambda tracer: tracer_pid(pid) == tracer.pid)
    calls = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            # % time, seconds, usecs/call, calls, [errors,] syscall
            if len(parts) not in (5, 6) or parts[-1] == "total" or not parts[3].isdigit():
                continue
            calls[parts[-1]] = (int(parts[3]), int(parts[4]) if len(parts) == 6 else 0)
    if not calls:
        raise NoStrace(f"strace counted nothing: {open(out).read().strip()}")
    return orders, calls


PERF_SYSCALLS = None  # names with a syscalls:sys_enter_NAME tracepoint here


def perf_count(bins, server, mode, n, a, b, cpu, names):
    """`perf stat` of the server's syscall tracepoints while it serves the load:
    raw_syscalls:sys_enter (every call) and syscalls:sys_enter_NAME per name.
    The kernel only counts (no stop, no record), so the server's loop runs
    close to undisturbed. Returns (orders, total, {name: calls}); None if perf
    cannot count here."""
    global PERF_SYSCALLS
    perf = shutil.which("perf")
    if not perf:
        return None
    if PERF_SYSCALLS is None:
        listed = subprocess.run([perf, "list", "--raw-dump", "tracepoint"], capture_output=True, text=True)
        PERF_SYSCALLS = {e.split(":sys_enter_", 1)[1] for e in listed.stdout.split()
                         if e.startswith("syscalls:sys_enter_")}
    names = sorted(name for name in names if name in PERF_SYSCALLS)
    events = ["raw_syscalls:sys_enter"] + [f"syscalls:sys_enter_{name}" for name in names]
    out = os.path.join(server.dir, f"perf-{mode}-{a.replace(' ', '_')}.csv")
    try:
        orders = traced_load(bins, server, mode, n, a, b, cpu,
                             [perf, "stat", "-x", ",", "-o", out, "-e", ",".join(events), "-p", str(server.proc.pid)],
                             lambda tracer: perf_event_fds(tracer.pid) >= len(events))
    except NoStrace as reason:
        log(f"perf cannot count system calls here ({reason}); strace's counts are reported")
        return None
    counts = {}
    with open(out) as f:
        for line in f:
            fields = line.strip().split(",")
            if len(fields) > 2 and fields[0].isdigit():
                counts[fields[2]] = int(fields[0])
    if "raw_syscalls:sys_enter" not in counts:
        log(f"perf counted nothing; strace's counts are reported: {open(out).read().strip()}")
        return None
    return (orders, counts.pop("raw_syscalls:sys_enter"),
            {e.split(":sys_enter_", 1)[1]: c for e, c in counts.items()})


def distinct_servers(servers):
    """The servers of {case key: server}, each once (ledd serves two cases)."""
    return list({id(srv): srv for srv in servers.values()}.values())


def syscall_profile(bins, servers, n, cpu):
    """{(key, mode): {"strace": (orders, calls), "perf": (orders, total, calls) or None}}."""
    cases = [(key, mode, a, b) for key, _, (a, b) in FLOOR_CASES for mode, _ in FLOOR_MODES]
    distinct = distinct_servers(servers)
    free = {id(srv): os.sched_getaffinity(srv.proc.pid) for srv in distinct}
    profile = {}
    try:
        for srv in distinct:
            os.sched_setaffinity(srv.proc.pid, {cpu})
        for key, mode, a, b in cases:
            profile[(key, mode)] = {"strace": strace_count(bins, servers[key], mode, n, a, b, cpu)}
        names = {name for p in profile.values() for name in p["strace"][1]}
        for key, mode, a, b in cases:
            profile[(key, mode)]["perf"] = perf_count(bins, servers[key], mode, n, a, b, cpu, names)
    finally:
        for srv in distinct:
            os.sched_setaffinity(srv.proc.pid, free[id(srv)])
    return profile


def per_order_text(calls, orders, top=None):
    """'epoll_wait 1.00, read 1.00 (0.50 failed), …' by calls, most first."""
    items = sorted(calls.items(), key=lambda kv: (-kv[1][0], kv[0]))
    shown = []
    for name, (count, errors) in items[:top]:
        if count / orders < 0.005:
            continue
        text = f"{name} {count / orders:.2f}"
        if errors:
            text += f" ({errors / orders:.2f} failed)"
        shown.append(text)
    rest = sum(c for _, (c, _) in items[top:]) if top else 0
    if rest:
        shown.append(f"others {rest / orders:.2f}")
    return ", ".join(shown)


def floor_section(bins, ledd, floors, quick, cpu):
    """Measures ledd against the floor; returns (report lines, checks, goals).

    A goal is a budget (in checks, PASS/FAIL) when its mode is in FLOOR_BUDGETS;
    otherwise it comes back in goals, reported but not counted."""
    n_persistent = 10000 if quick else 20000
    n_newconn = 2000 if quick else 10000
    n_strace = 500 if quick else 2000
    log(f"against the floor: {n_persistent} persistent and {n_newconn} new-connection orders per run, "
        "5 interleaved rounds, pinned and free")
    servers = {"floor": floors["floor"], "calloop": floors["calloop"], "version": ledd, "status": ledd}
    runs = floor_rounds(bins, servers, n_persistent, n_newconn, cpu)
    best = {k: min(v, key=lambda r: r["median_us"]) for k, v in runs.items()}

    def paired(key, mode, pinned):
        """Per-round ratios ledd / floor (each round's runs were back to back)."""
        return [r["median_us"] / f["median_us"]
                for r, f in zip(runs[(key, mode, pinned)], runs[("floor", mode, pinned)])]

    lines = [
        "## Round trip against the floor",
        "",
        "The floor is `bench/floor.c` (built with `gcc -O2`): a bare non-blocking server on a Unix socket, one "
        "epoll, one `read` and one `write` per line, answering each line `ok floor`; the least a round trip can "
        "cost on this machine. The calloop echo (`bench/calloop-floor`) answers the same way through calloop, "
        "ledd's event loop, with ledd's framing (edge-triggered, read until `EAGAIN`), an idle timer per client "
        "and ledd's release profile: the least a round trip can cost in ledd's design. The same load generator "
        "drives them and ledd in the same run, five rounds "
        "interleaved (floor, calloop echo, ledd `version`, ledd `status`, each on one persistent connection and with a new "
        "connection per order) so that the other jobs on the shared CPUs weigh on all alike; `power` blinks (the timer "
        "trigger: `status` reads its delays too), the other two LEDs are off. Figures: the best "
        "median of the five rounds; ratio = ledd / floor from those; the range is the ratio round by round. "
        "“one CPU”: both servers and the client pinned to one CPU (the method of the round-trip budget); "
        "“free”: no pinning, so most round trips pay two cross-CPU wakeups.",
        "",
        "| Round trip, median (best of 5) | floor | calloop echo | ratio | ledd `version` | ratio | ledd `status` | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for pinned, where in ((True, "one CPU"), (False, "free")):
        for mode, text in FLOOR_MODES:
            cells = [fmt(best[("floor", mode, pinned)]["median_us"], "µs")]
            for key in ("calloop", "version", "status"):
                ratios = paired(key, mode, pinned)
                cells.append(fmt(best[(key, mode, pinned)]["median_us"], "µs"))
                cells.append(f"{best[(key, mode, pinned)]['median_us'] / best[('floor', mode, pinned)]['median_us']:.2f}"
                             f" ({min(ratios):.2f}–{max(ratios):.2f})")
            lines.append(f"| {text[0].upper() + text[1:]}, {where} | " + " | ".join(cells) + " |")
    for mode, text in FLOOR_MODES:
        f = best[("floor", mode, True)]["p99_us"]
        cells = [fmt(f, "µs")]
        for key in ("calloop", "version", "status"):
            p99 = best[(key, mode, True)]["p99_us"]
            cells += [fmt(p99, "µs"), f"{p99 / f:.2f}"]
        lines.append(f"| p99 of that best run, {text}, one CPU | " + " | ".join(cells) + " |")
    # Where the persistent round trip's time beyond the floor goes. (With a
    # new connection per order the echo's accept path is not ledd's: no split.)
    f, c, v = (best[(key, "persistent", True)]["median_us"] for key in ("floor", "calloop", "version"))
    lines += ["", f"One persistent connection, one CPU: the calloop echo is {c / f:.2f}× the floor and ledd's "
              f"`version` {v / c:.2f}× the calloop echo" + (
                  f"; of the {v - f:.2f} µs ledd spends beyond the floor, {c - f:.2f} µs "
                  f"({(c - f) / (v - f):.0%}) are the event loop's own." if v > c > f else ".")]

    # System calls per order, server side.
    log(f"system calls per order (strace -c, then perf stat), {n_strace} orders per case")
    lines += ["", "### System calls per order, server side", ""]
    try:
        profile = syscall_profile(bins, servers, n_strace, cpu)
    except NoStrace as reason:
        profile = None
        lines.append(f"SKIPPED: {reason}.")
    if profile:
        with_perf = all(p["perf"] for p in profile.values())

        def counted(key, mode):
            """(orders, total calls, {name: (calls, errors)}) from perf, or strace."""
            if with_perf:
                orders, total, calls = profile[(key, mode)]["perf"]
                calls = {name: (c, 0) for name, c in calls.items() if c}
                other = total - sum(c for c, _ in calls.values())
                if other:
                    calls["other"] = (other, 0)
                return orders, total, calls
            orders, calls = profile[(key, mode)]["strace"]
            return orders, sum(c for c, _ in calls.values()), calls

        lines += [
            f"The load generator sends {n_strace} orders (and its untimed warm-up, counted too) on one persistent "
            "connection, or each on a new connection, with the server and the client pinned to one CPU as for the "
            "ratios above; calls per order = the server's calls / orders. "
            + ("Counted by the kernel with `perf stat -e raw_syscalls:sys_enter,syscalls:sys_enter_NAME,… -p PID` "
               "(the names: those `strace -c` saw in any case; “other” = the total minus the named ones), which "
               "leaves the server's loop running as in the timings. The last column is `strace -c -f -p PID` on "
               "the same load, with the calls that failed: strace stops the server at every call, so the client's "
               "next order is often already there when the server reads again and an event loop that reads until "
               "`EAGAIN` waits less than it does untraced; its counts are for names and failures, not the figure."
               if with_perf else
               "Counted with `strace -c -f -p PID` (perf could not count here). strace stops the server at every "
               "call, so the client's next order is often already there when the server reads again: an event "
               "loop that reads until `EAGAIN` waits less than it does untraced, and these counts are lower than "
               "the real ones for ledd (not for the floor, which makes one read per wakeup).")
            + " ledd's calls on the fake tree are those it makes on real sysfs: the preloaded library only watches "
            "`open`/`write`/`close` of LED attributes and adds no call to a read. “Beyond the floor” is the "
            "server's count minus the floor's, call by call.",
            "",
            "| Server, order, connection | calls per order | by call, per order | beyond the floor | under `strace -c` |",
            "|---|---:|---|---|---|",
        ]
        for mode, text in FLOOR_MODES:
            f_orders, f_total, f_calls = counted("floor", mode)
            for key, label, _ in FLOOR_CASES:
                orders, total, calls = counted(key, mode)
                if key == "floor":
                    extra = ""
                else:
                    diffs = {}
                    for name in set(calls) | set(f_calls):
                        d = calls.get(name, (0, 0))[0] / orders - f_calls.get(name, (0, 0))[0] / f_orders
                        if abs(d) >= 0.005:
                            diffs[name] = d
                    extra = f"{total / orders - f_total / f_orders:+.2f}: " + ", ".join(
                        f"{name} {d:+.2f}" for name, d in sorted(diffs.items(), key=lambda kv: (-kv[1], kv[0])))
                s_orders, s_calls = profile[(key, mode)]["strace"]
                failed = [f"{name} {e / s_orders:.2f}" for name, (_, e) in
                          sorted(s_calls.items(), key=lambda kv: -kv[1][1]) if e / s_orders >= 0.005]
                under = f"{sum(c for c, _ in s_calls.values()) / s_orders:.2f}" + (
                    f" (failed: {', '.join(failed)})" if failed else "")
                lines.append(f"| {label}, {text} | {total / orders:.2f} | {per_order_text(calls, orders)} | "
                             f"{extra} | {under} |")

    # Goals (or budgets, once met).
    goals = [
        (f"`version` round trip, one persistent connection, within {GOAL_FLOOR_PERSISTENT}× the floor "
         "(median, best of 5, one CPU)", "persistent", GOAL_FLOOR_PERSISTENT),
        (f"`version` round trip, a new connection per order, within {GOAL_FLOOR_NEWCONN}× the floor "
         "(median, best of 5, one CPU)", "newconn", GOAL_FLOOR_NEWCONN),
    ]
    checks, met = [], []
    for name, mode, limit in goals:
        ledd_us = best[("version", mode, True)]["median_us"]
        floor_us = best[("floor", mode, True)]["median_us"]
        ratios = paired("version", mode, True)
        (checks if mode in FLOOR_BUDGETS else met).append((name, ledd_us / floor_us <= limit,
                       f"{ledd_us / floor_us:.2f}× ({ledd_us:.1f} µs vs the floor's {floor_us:.1f} µs; "
                       f"round by round {min(ratios):.2f}–{max(ratios):.2f}×)"))
    return lines, checks, met


# ---------------------------------------------------------------- report

FANOUT_NODES = 100
FANOUT_BUDGET_MS = 1000            # one publish on ledd/all to all 100 trees changed, median


def mqtt_fanout():
    """bench/mqtt-fanout.py at 100 nodes (its own report: target/bench/MQTT-FANOUT.md):
    (report lines, one check)."""
    name = (f"ledd-mqtt fan-out: one publish on ledd/all/status/set changes all {FANOUT_NODES} nodes' "
            f"LEDs (ledd + ledd-mqtt each, one mosquitto), median < {FANOUT_BUDGET_MS / 1000:g} s")
    cmd = [sys.executable, os.path.join(ROOT, "bench", "mqtt-fanout.py"), "--no-build",
           "--nodes", str(FANOUT_NODES), "--budget-ms", str(FANOUT_BUDGET_MS)]
    log(f"MQTT fan-out: {FANOUT_NODES} nodes (bench/mqtt-fanout.py)")
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return ["The fan-out did not finish in 600 s."], (name, False, "timed out after 600 s")
    for line in proc.stdout.splitlines():
        log(f"  {line}")
    for line in proc.stderr.splitlines()[-10:]:
        log(f"  {line}")
    figures = [line.strip() for line in proc.stdout.splitlines() if line.startswith("  ")]
    verdicts = [line for line in proc.stdout.splitlines() if line.startswith(("PASS: ", "FAIL: "))]
    median = next((line.split(" (", 1)[-1].rstrip(")") for line in verdicts if "median time" in line), None)
    if proc.returncode == 0:
        detail = median or "passed"
    else:
        errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
        detail = "; ".join([line[6:] for line in verdicts if line.startswith("FAIL: ")] + errors[-1:]) \
            or f"exit status {proc.returncode}"
    lines = ["`python3 bench/mqtt-fanout.py` (alone: the same at any `--nodes N`; report "
             "`target/bench/MQTT-FANOUT.md`):", ""] + [f"- {f}" for f in figures] + [""]
    return lines, (name, proc.returncode == 0, detail)


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / MIB:.1f} GiB"
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = ["?"] * 3
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "arch": platform.machine(), "mem": mem, "load": " ".join(load),
            "python": platform.python_version()}


def git_describe():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def fmt(value, unit=""):
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if abs(value) >= 100 or value == int(value):
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def ratio(a, b):
    if isinstance(a, str) or isinstance(b, str):
        return ""
    if a is None or b is None:
        return "n/a"
    if b == 0:
        return "—" if a == 0 else "∞"
    r = a / b
    return f"{r:.3f}" if r < 0.1 else f"{r:.2f}"


def verdict(ok):
    return "SKIPPED" if ok is None else "PASS" if ok else "FAIL"


def goal_lines(goals):
    """The goals against the floor while they are not budgets."""
    if not goals:
        return []
    lines = ["## Goals against the floor (issue 11; reported, not budgets yet)", "",
             "Not checked: a goal not met does not fail the run. They become budgets "
             "(`FLOOR_BUDGETS` in bench/run.py) once ledd meets them run after run.", "",
             "| Goal | Result | Measured |", "|---|---|---|"]
    for name, ok, detail in goals:
        lines.append(f"| {name} | {'met' if ok else '**not met**'} | {detail} |")
    return lines + [""]


def floor_only(args):
    """python3 bench/run.py --floor-only: ledd against the floor, nothing else
    (before/after a change to ledd's path). Exits 0, or 1 if the floor goals
    are budgets and one failed."""
    quick = args.quick
    bins = build(quick)
    out = args.out or os.path.join(bins["target"], "bench", "FLOOR.md")
    shm = "/dev/shm"
    base_dir = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) and is_tmpfs(shm) else None
    workdir = tempfile.mkdtemp(prefix="ledd-bench-", dir=base_dir)
    ledd = Ledd(bins, workdir, "ledd")
    floors = {name: Floor(bins, workdir, name) for name in ("floor", "calloop")}
    try:
        ledd.start()
        for floor in floors.values():
            floor.start()
        # The LEDs as the full run leaves them before this part: `power`
        # blinking (its last order), so that `status` reads the same files.
        ledd.order("blink power 3")
        time.sleep(0.5)
        lines, checks, goals = floor_section(bins, ledd, floors, quick, max(os.sched_getaffinity(0)))
    finally:
        ledd.stop()
        for floor in floors.values():
            floor.stop()
    m = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python3 bench/run.py --floor-only" + (" --quick" if quick else "")
    lines = [f"# ledd against the floor", "",
             f"Generated by `{cmd}` on {now}, ledd at {git_describe()}; {m['nproc']} CPUs ({m['cpu']}), "
             f"Linux {m['kernel']}, load average at the end {m['load']} (shared CPUs: timings are noisy).", ""
             ] + lines + [""] + (
        ["## Budgets against the floor", "", "| Budget | Result | Measured |", "|---|---|---|"]
        + [f"| {n} | {verdict(ok)} | {d} |" for n, ok, d in checks] + [""] if checks else []) + goal_lines(goals)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    log(f"report written to {os.path.relpath(out, ROOT)}")
    shutil.rmtree(workdir, ignore_errors=True)
    failed = any(not ok for _, ok, _ in checks)
    sys.exit(1 if failed or FAILURES else 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI mode: fewer iterations, 3 s wakeup window")
    parser.add_argument("--out", help="report file (default BENCHMARKS.md, or target/bench/BENCHMARKS-quick.md with --quick)")
    parser.add_argument("--floor-only", action="store_true",
                        help="only ledd against the floor (round-trip ratios, system calls per order): "
                             "writes target/bench/FLOOR.md (or --out), checks no budget")
    args = parser.parse_args()
    quick = args.quick
    if args.floor_only:
        floor_only(args)
    n_persistent = 10000 if quick else 20000
    n_newconn = 2000 if quick else 10000
    n_ledctl = 20 if quick else 100
    n_starts = 5 if quick else 20
    n_hold = 500
    tp_secs = 1 if quick else 3
    wake_secs = 3 if quick else 10

    bins = build(quick)
    out = args.out or (os.path.join(bins["target"], "bench", "BENCHMARKS-quick.md") if quick
                       else os.path.join(ROOT, "BENCHMARKS.md"))
    shm = "/dev/shm"
    base_dir = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) and is_tmpfs(shm) else None
    workdir = tempfile.mkdtemp(prefix="ledd-bench-", dir=base_dir)
    if not is_tmpfs(workdir):
        log(f"warning: {workdir} is not on tmpfs; file writes include the disk")
    log(f"work dir {workdir}; mode {'quick' if quick else 'full'}")

    rows = []          # (label, ledd, baseline, unit)
    ledd = Ledd(bins, workdir, "ledd")
    base = Baseline(workdir)
    sim = Ledd(bins, workdir, "ledd-sim", simulate=True)
    floors = {name: Floor(bins, workdir, name) for name in ("floor", "calloop")}
    try:
        # Sizes.
        size_ledd = os.path.getsize(bins["ledd"])
        size_ledctl = os.path.getsize(bins["ledctl"])
        file_tool = shutil.which("file")
        stripped = "unknown: file(1) is missing (tests/setup.sh installs it)"
        if file_tool:
            text = subprocess.run([file_tool, "-b", bins["ledd"]], capture_output=True, text=True).stdout
            stripped = "yes" if ", stripped" in text else "NO"

        # Start-up time to socket ready.
        log(f"start-up time, {n_starts} starts each")
        start_ledd = startup_times(ledd.start, ledd.stop, n_starts)
        start_base = startup_times(base.start, base.stop, n_starts)

        ledd.start()
        base.start()
        for floor in floors.values():
            floor.start()
        time.sleep(0.5)
        ledd_rest, _ = rss_kib(ledd.proc.pid)
        base_rest, _ = rss_kib(base.proc.pid)
        ledd_rest_anon, base_rest_anon = anon_kib(ledd.proc.pid), anon_kib(base.proc.pid)

        log(f"round trips on one connection, {n_persistent} orders")
        pers = loadgen(bins, "persistent", ledd.addr, n_persistent, "blink power 2", "blink power 3")
        # The budget is for the round trip itself (socket, loop, parsing and
        # reading the kernel's state), measured with `status`; an order that
        # changes an LED adds its writes and the durable state-file save (two
        # fsyncs and a rename), reported in its own rows. The best median of
        # five runs keeps other jobs on the machine out of the verdict.
        def best_status_run(cpu=None):
            runs = [loadgen(bins, "persistent", ledd.addr, n_persistent, "status power", "status", cpu=cpu)
                    for _ in range(5)]
            return min(runs, key=lambda run: run["median_us"])

        pers_status = best_status_run()
        # The same with ledd and the client on one CPU. Across two CPUs each
        # round trip pays two cross-CPU wakeups, which on this virtual machine
        # cost more than ledd's own work and vary from host to host (22 µs on
        # one, 53 µs on another); on one CPU the figure is ledd's path (socket,
        # loop, parsing, sysfs reads) plus two plain context switches. The
        # budget is checked on this one.
        one_cpu = max(os.sched_getaffinity(0))
        free_cpus = os.sched_getaffinity(ledd.proc.pid)
        os.sched_setaffinity(ledd.proc.pid, {one_cpu})
        try:
            pers_pinned = best_status_run(one_cpu)
        finally:
            os.sched_setaffinity(ledd.proc.pid, free_cpus)

        # watch (issue 13): from an order's sending to the watcher's event line.
        log(f"watch: order to event, {n_persistent} orders")
        watch_run = loadgen(bins, "watch", ledd.addr, n_persistent, "power", "blink power 2", "blink power 3")

        # ledd against the floor (issue 11): round-trip ratios and system
        # calls per order, on the same CPU as the budget above.
        floor_lines, floor_checks, goals = floor_section(bins, ledd, floors, quick, one_cpu)
        for floor in floors.values():
            floor.stop()

        log(f"round trips with a new connection per order, {n_newconn} orders")
        newc = loadgen(bins, "newconn", ledd.addr, n_newconn, "blink power 2", "blink power 3")
        newc_base = loadgen(bins, "newconn", base.addr, n_newconn, "clignote 2", "clignote 3", "--eof")

        log(f"ledctl whole process, {n_ledctl} runs")
        ctl = loadgen(bins, "exec", n_ledctl, bins["ledctl"], "--socket", ledd.socket, "blink", "power", "2")

        throughput = {}
        for clients in (1, 8, 64):
            log(f"throughput, {clients} clients, {tp_secs} s")
            throughput[("newconn", clients)] = (
                loadgen(bins, "throughput", ledd.addr, clients, tp_secs, "newconn", "blink power 2", "blink power 3"),
                loadgen(bins, "throughput", base.addr, clients, tp_secs, "newconn", "clignote 2", "clignote 3", "--eof"))
            throughput[("persistent", clients)] = (
                loadgen(bins, "throughput", ledd.addr, clients, tp_secs, "persistent", "blink power 2", "blink power 3"),
                None)

        log(f"{n_hold} concurrent clients")
        hold = loadgen(bins, "hold", ledd.addr, n_hold, "status power")
        hold_base = loadgen(bins, "hold", base.addr, n_hold, "clignote 2", "--eof")
        if hold["ok"] != n_hold:
            FAILURES.append((f"hold {n_hold}", n_hold - hold["ok"], "replies that were not ok"))
        time.sleep(1.5)  # let the loop drop the closed clients and trim (1 s after the last one)
        ledd_after, ledd_peak = rss_kib(ledd.proc.pid)
        base_after, base_peak = rss_kib(base.proc.pid)
        ledd_after_anon, base_after_anon = anon_kib(ledd.proc.pid), anon_kib(base.proc.pid)
        # The same load again tells a leak (grows again) from a high-water
        # mark the allocator keeps (stays put).
        log("the same load again (leak or high-water mark?)")
        loadgen(bins, "persistent", ledd.addr, n_persistent, "blink power 2", "blink power 3")
        loadgen(bins, "hold", ledd.addr, n_hold, "status power")
        loadgen(bins, "hold", base.addr, n_hold, "clignote 2", "--eof")
        time.sleep(1.5)
        ledd_again, ledd_peak = rss_kib(ledd.proc.pid)
        base_again, base_peak = rss_kib(base.proc.pid)

        # Wakeups while blinking: three LEDs on ledd (the kernel blinks them;
        # here the fake tree), 10 Hz on the baseline; no client connected.
        log(f"wakeups while blinking, {wake_secs} s windows")
        # One LED also carries a claim that ends in an hour: its one timer is
        # at that deadline, so it adds no wakeup to the window (issue 12).
        for led, hz in (("status", 2), ("power", 5), ("disk", 10)):
            ledd.order(f"blink {led} {hz}")
        ledd.order("blink disk 8 for=1h")
        # A watcher connected through the window: at rest it costs nothing.
        watcher = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        watcher.connect(ledd.socket)
        watcher.sendall(b"watch\n")
        base.order("clignote 10")
        sim.start()
        for led, hz in (("status", 2), ("power", 5), ("disk", 10)):
            sim.order(f"blink {led} {hz}")
        sim.order("blink disk 8 for=1h")
        # The coalesced state-file save comes 1.25 s after the last order
        # (state_delay = 1), the memory trim 1 s after the last client: the
        # window starts once both are done.
        time.sleep(2.5)
        wake_ledd, cpu_ledd = idle_window(ledd.proc.pid, wake_secs)
        watched = watcher.recv(65536).decode(errors="replace")
        watcher.close()
        if not watched.startswith("ok watching=") or watched.count("\nevent ") != 3:
            die(f"the watcher of the wakeup window got: {watched!r}")
        wake_base, cpu_base = idle_window(base.proc.pid, wake_secs)
        wake_sim, cpu_sim = idle_window(sim.proc.pid, wake_secs)
        threads_ledd = len(os.listdir(f"/proc/{ledd.proc.pid}/task"))
        threads_base = len(os.listdir(f"/proc/{base.proc.pid}/task"))
        sim_rest, _ = rss_kib(sim.proc.pid)
        ledd_log = open(ledd.log).read()
        refusals = ledd_log.count("refused a connection")
    finally:
        ledd.stop()
        sim.stop()
        base.stop()
        for floor in floors.values():
            floor.stop()

    # SD-card wear: the state file on a real ext4 file system (bench/sdcard.py).
    log("SD card: state-file writes on ext4 on a loop device")
    try:
        sd_lines, sd_checks = sdcard.report(sdcard.measure(bins["ledd"], quick, ""))
        sd_lines = [sdcard.METHOD, ""] + sd_lines
    except sdcard.Skip as reason:
        sd_lines, sd_checks = [f"SKIPPED: {reason}."], sdcard.skipped_checks(str(reason))
    except (RuntimeError, OSError) as error:
        die(f"sdcard: {error}")

    # The MQTT bridge's fan-out: 100 nodes, one publish on ledd/all (bench/mqtt-fanout.py).
    fanout_lines, fanout_check = mqtt_fanout()

    # ------------------------------------------------------------ table
    rows.append(("Order round trip, one persistent connection, median (`blink power 2`/`3`)",
                 pers["median_us"], None, "µs"))
    rows.append(("Order round trip, one persistent connection, p99", pers["p99_us"], None, "µs"))
    rows.append(("Order round trip, one persistent connection, median (`status`, best of 5 runs)",
                 pers_status["median_us"], None, "µs"))
    rows.append(("Order round trip, one persistent connection, p99 (`status`)",
                 pers_status["p99_us"], None, "µs"))
    rows.append(("Order round trip, one persistent connection, median (`status`, best of 5 runs, "
                 "ledd and client on one CPU)", pers_pinned["median_us"], None, "µs"))
    rows.append(("Order round trip, one persistent connection, p99 (`status`, one CPU)",
                 pers_pinned["p99_us"], None, "µs"))
    rows.append(("`watch`: from an order's sending to the watcher's event line, median", watch_run["median_us"],
                 None, "µs"))
    rows.append(("`watch`: from an order's sending to the watcher's event line, p99", watch_run["p99_us"],
                 None, "µs"))
    rows.append(("Order round trip, new connection per order, median", newc["median_us"],
                 newc_base["median_us"], "µs"))
    rows.append(("Order round trip, new connection per order, p99", newc["p99_us"], newc_base["p99_us"], "µs"))
    rows.append((f"`ledctl blink power 2`, whole process, median of {n_ledctl}", ctl["median_us"] / 1000.0,
                 None, "ms"))
    for clients in (1, 8, 64):
        l, b = throughput[("newconn", clients)]
        rows.append((f"Throughput, new connection per order, {clients} client{'s' if clients > 1 else ''}",
                     l["orders_per_s"], b["orders_per_s"], "orders/s"))
    for clients in (1, 8, 64):
        l, _ = throughput[("persistent", clients)]
        rows.append((f"Throughput, persistent connections, {clients} client{'s' if clients > 1 else ''}",
                     l["orders_per_s"], None, "orders/s"))
    rows.append(("RSS at rest (VmRSS)", ledd_rest / 1024, base_rest / 1024, "MiB"))
    rows.append((f"Peak RSS over the run (VmHWM), incl. {n_hold} concurrent clients", ledd_peak / 1024,
                 base_peak / 1024, "MiB"))
    rows.append(("RSS after the load (VmRSS)", ledd_after / 1024, base_after / 1024, "MiB"))
    rows.append(("Anonymous RSS (heap, stacks) at rest → after the load", f"{ledd_rest_anon} → {ledd_after_anon} KiB",
                 f"{base_rest_anon} → {base_after_anon} KiB", ""))
    rows.append(("RSS after the same load a second time (VmRSS)", ledd_again / 1024, base_again / 1024, "MiB"))
    rows.append((f"{n_hold} concurrent clients: all connect, order, reply, close", hold["elapsed_s"] * 1000,
                 hold_base["elapsed_s"] * 1000, "ms"))
    rows.append((f"Wakeups while blinking, {wake_secs} s, one `watch` client at rest (ledd: 3 LEDs on the fake sysfs tree, one under a 1 h claim, where "
                 "nothing blinks: this shows ledd keeps no timer of its own; that it sleeps while the kernel "
                 "really blinks is the kernel tier's check s2-no-wakeups-while-blinking; baseline: 10 Hz)",
                 wake_ledd, wake_base, "ctx switches"))
    rows.append((f"CPU time while blinking, {wake_secs} s", cpu_ledd, cpu_base, "ms"))
    rows.append((f"Wakeups while blinking, {wake_secs} s, `--simulate` backend, 3 LEDs", wake_sim, None,
                 "ctx switches"))
    rows.append(("Threads", threads_ledd, threads_base, ""))
    rows.append(("Start-up to socket ready, median of %d" % n_starts, start_ledd, start_base, "ms"))
    rows.append(("Binary size, ledd (stripped: %s)" % stripped, size_ledd / 1024, None, "KiB"))
    rows.append(("Binary size, ledctl", size_ledctl / 1024, None, "KiB"))

    # ------------------------------------------------------------ budgets
    growth = (ledd_after - ledd_rest) / ledd_rest
    checks = [
        ("idle wakeups with 3 LEDs set blinking, one under a claim pending for 1 h, a watcher connected, = 0 (fake sysfs, where nothing blinks: ledd keeps no timer but the claim's; "
         "asleep while a real kernel blinks: kernel tier, s2-no-wakeups-while-blinking)",
         wake_ledd <= BUDGET_WAKEUPS, f"{wake_ledd} in {wake_secs} s"),
        ("idle wakeups while blinking (--simulate) = 0", wake_sim <= BUDGET_WAKEUPS, f"{wake_sim} in {wake_secs} s"),
        ("ledd peak RSS < 4 MiB", ledd_peak < BUDGET_RSS_KIB, f"VmHWM {ledd_peak} KiB"),
        ("stripped ledd < 2 MiB (file(1) says stripped)", size_ledd < BUDGET_SIZE_BYTES and stripped == "yes",
         f"{size_ledd} bytes, stripped: {stripped}"),
        ("persistent-connection round trip median < 50 µs (`status`, best of 5 runs, ledd and client on one CPU)",
         pers_pinned["median_us"] < BUDGET_PERSISTENT_MEDIAN_US,
         f"{pers_pinned['median_us']:.1f} µs; on any CPU: {pers_status['median_us']:.1f} µs; "
         f"changing orders: {pers['median_us']:.1f} µs"),
        ("RSS after the load within 10 % of at rest", abs(growth) <= BUDGET_RSS_GROWTH,
         f"{ledd_rest} -> {ledd_after} KiB ({growth * 100:+.1f} %)"),
    ]
    checks.append(("no order failed under load (every reply ok)", not FAILURES,
                   f"{sum(n for _, n, _ in FAILURES)} failed orders, ledd logged {refusals} refused connections"
                   if FAILURES else "all replies ok"))
    checks += sd_checks
    checks += floor_checks
    checks.append(fanout_check)
    # ok is None for a budget that could not be measured here: SKIPPED, never PASS.
    passed = sum(1 for _, ok, _ in checks if ok is True)
    failed = sum(1 for _, ok, _ in checks if ok is False)
    skipped = sum(1 for _, ok, _ in checks if ok is None)

    m = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python3 bench/run.py" + (" --quick" if quick else "")
    lines = [
        "# ledd benchmarks",
        "",
        f"Generated by `{cmd}` on {now}, ledd at {git_describe()}. Do not edit by hand: rerun the command.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}, {m['arch']}), {m['mem']} RAM, Linux {m['kernel']}, "
        f"Python {m['python']}; load average at the end {m['load']}. "
        "The CPUs are shared with other jobs, so the timings are noisy; sizes, RSS and wakeups are not.",
        "",
        "Method: ledd (release build) runs on a fake sysfs tree of plain files on tmpfs (3 LEDs; state file on "
        "tmpfs too), with the kernel's part (trigger brackets, the timer's files) played by the preloaded "
        "tests/fakeleds library, whose work is in the figures of orders that change an LED. The baseline is `bench/baseline_server.py`, the design ledd replaces: TCP on 127.0.0.1, one "
        "order per connection (`clignote F` / `eteindre`), a Python thread toggling a fake GPIO pin with "
        "`time.sleep`. Both get the same client load from `bench/loadgen` (Rust, std and `crates/ledd-client`, the client library every client of ledd uses); ledd orders alternate "
        "`blink power 2` / `blink power 3` (each changes the LED; the state file is written once the orders "
        "stop, `state_delay`), baseline orders "
        "alternate `clignote 2` / `clignote 3`. Wakeups = voluntary + involuntary context switches summed over "
        "`/proc/PID/task/*/status`. Ratio = ledd / baseline (below 1 is better, except throughput). "
        "The round-trip budget is checked with ledd and the client pinned to one CPU: across CPUs, the two "
        "cross-CPU wakeups of each round trip cost this virtual machine more than ledd's own work, and that "
        "cost depends on the host; both figures are in the table.",
        "",
        "| Measure | ledd | baseline | ratio |",
        "|---|---:|---:|---:|",
    ]
    for label, a, b, unit in rows:
        lines.append(f"| {label} | {fmt(a, unit)} | {fmt(b, unit)} | {ratio(a, b)} |")
    lines += ["", "Baseline n/a: it has no persistent connections, no client program, and is a script."]
    if not ledd.rate_limit_lifted:
        lines += ["", "Note: this ledd does not know `rate_limit`; run with its defaults."]
    else:
        lines += ["", "ledd ran with `rate_limit = 1000000` so the per-connection limiter (default 200 changes/s) "
                  "does not dominate the round-trip and throughput figures, and with `max_connections_per_user = 1024` "
                  "because the load generator is one user standing for many (default cap 64)."]
    if FAILURES:
        lines += ["", "**Orders that failed under load** (throughput figures above count only `ok` replies):", ""]
        lines += [f"- `loadgen {what}`: {n} failed; {first}" for what, n, first in FAILURES]
    lines += [""] + floor_lines
    lines += ["", "## SD card: the state file on ext4", ""] + sd_lines
    lines += ["", "## ledd-mqtt: fan-out to 100 nodes", ""] + fanout_lines
    lines += ["",
              "## Budgets", "", "| Budget | Result | Measured |", "|---|---|---|"]
    for name, ok, detail in checks:
        lines.append(f"| {name} | {verdict(ok)} | {detail} |")
    lines += ["", f"{passed} passed, {failed} failed, {skipped} skipped", ""]
    lines += goal_lines(goals)
    lines += [f"Iterations: {n_persistent} persistent orders, {n_newconn} new-connection orders, {n_ledctl} ledctl "
              f"runs, {tp_secs} s per throughput point, {n_hold} concurrent clients, {wake_secs} s wakeup windows, "
              f"{n_starts} starts; against the floor, the same order counts per run, 5 rounds of 12 runs, and "
              f"{500 if quick else 2000} orders per system-call count. Only ledd against the floor, before and after "
              "a change: `python3 bench/run.py --floor-only [--quick]` (writes target/bench/FLOOR.md). In-process costs (parsing, formatting, Engine::execute): `cargo bench --bench core`.",
              ""]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[lines.index("| Measure | ledd | baseline | ratio |"):]))
    log(f"report written to {os.path.relpath(out, ROOT)}")
    if "panicked" in ledd_log:
        log("warning: ledd's log mentions a panic:\n" + ledd_log)
    shutil.rmtree(workdir, ignore_errors=True)

    for name, ok, detail in goals:
        print(f"GOAL {'met' if ok else 'NOT MET'} (reported, not a budget): {name} ({detail})")
    for name, ok, detail in checks:
        print(f"{verdict(ok)}: {name} ({detail})")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
