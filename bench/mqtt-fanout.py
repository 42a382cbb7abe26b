#!/usr/bin/env python3
"""ledd-mqtt fan-out: one publish on ledd/all/status/set, N nodes changed.

    python3 bench/mqtt-fanout.py                 100 nodes, 20 rounds
    python3 bench/mqtt-fanout.py --nodes 500     how it grows

One Debian mosquitto on 127.0.0.1 (a free port, anonymous, persistence off,
no connection limit) and N nodes on this machine, each a real ledd on its own
fake LED tree (tests/fakeleds, on tmpfs) with its own ledd-mqtt. Once every
node's availability is `online`, each round publishes one order on
ledd/all/status/set (`blink 2` and `blink 4` in turn, QoS 0, from a
persistent connection) and times, with inotify on the N LED directories, the
moment each node's delay_on file shows the new rate. Reports the time until
all N changed (median, p99 over the rounds), the per-node latency
distribution, the RSS of each bridge and each ledd, the broker's CPU time
and RSS. Budget: the median time for all N within 1 s (--budget-ms).
Writes a markdown report (target/bench/MQTT-FANOUT.md by default), prints
PASS/FAIL per check and a last line "N passed, N failed". Exit status: 0 all
checks passed, 1 a check failed, 2 the benchmark could not run.
Python standard library only; needs mosquitto and mosquitto_sub.
"""
import argparse
import datetime
import getpass
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

from inotify import IN_CLOSE_WRITE, IN_CREATE, IN_MOVED_TO, Inotify

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
TICK = os.sysconf("SC_CLK_TCK")
ORDERS = [("blink 2", "250"), ("blink 4", "125")]  # payload, delay_on it shows


def log(text):
    print(f"mqtt-fanout: {text}", flush=True)


class CannotRun(Exception):
    pass


# ------------------------------------------------------------------ /proc

def proc_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_seconds(pid):
    """utime + stime of PID (all its threads), in seconds (clock ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run_ns(pid):
    """CPU time of PID's threads in ns (schedstat): finer than ticks, for
    processes that each run well under a tick."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def pct(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


# ------------------------------------------------------------------ inotify

def watch_led_dirs(dirs):
    """An inotify instance on the LED directories, and its watch descriptors."""
    try:
        ino = Inotify()
        return ino, [ino.watch(d, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) for d in dirs]
    except OSError as e:
        raise CannotRun(f"{e.strerror} (fs.inotify.max_user_watches?)")


def changed_dirs(ino, timeout):
    """The watch descriptors with events, waiting up to TIMEOUT seconds."""
    if not ino.wait(timeout):
        return set()
    return {wd for wd, _mask, _name in ino.events()}


# ------------------------------------------------------------------ MQTT publisher

def mqtt_str(text):
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def mqtt_packet(kind, body):
    length, out = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes([kind]) + bytes(out) + body


class Publisher:
    """One persistent MQTT 3.1.1 connection, QoS 0 publishes, no keepalive:
    the publish is timed from the send(), not from a process start."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = mqtt_str("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 0) + mqtt_str("fanout-bench")
        self.sock.sendall(mqtt_packet(0x10, body))
        ack = self.sock.recv(4)
        if len(ack) < 4 or ack[0] != 0x20 or ack[3] != 0:
            raise CannotRun(f"the broker refused the benchmark's connection: {ack!r}")

    def publish(self, topic, payload):
        self.sock.sendall(mqtt_packet(0x30, mqtt_str(topic) + payload.encode()))

    def close(self):
        try:
            self.sock.sendall(b"\xe0\x00")
        finally:
            self.sock.close()


# ------------------------------------------------------------------ the fleet

class Fleet:
    def __init__(self, args, bins, workdir):
        self.args, self.bins, self.dir = args, bins, workdir
        self.n = args.nodes
        self.names = [f"n{i:04d}" for i in range(self.n)]
        self.broker = None
        self.sub = None
        self.ledds, self.bridges = [], []
        self.online = set()
        self.online_changed = threading.Condition()
        self.availability_lines = 0

    # -- broker
    def start_broker(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"user {getpass.getuser()}\npersistence false\nallow_anonymous true\n"
                    f"max_connections -1\nlog_dest stderr\nlog_type error\nlog_type warning\n"
                    f"connection_messages false\nlistener {self.port} 127.0.0.1\n")
        self.broker_log = open(os.path.join(self.dir, "mosquitto.log"), "w")
        self.broker = subprocess.Popen([self.bins["mosquitto"], "-c", conf], stdout=self.broker_log,
                                       stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.broker.poll() is not None:
                    break
                time.sleep(0.05)
        raise CannotRun(f"mosquitto did not listen on 127.0.0.1:{self.port}: "
                        + open(os.path.join(self.dir, "mosquitto.log")).read()[-500:])

    def watch_availability(self):
        self.sub = subprocess.Popen(
            [self.bins["mosquitto_sub"], "-h", "127.0.0.1", "-p", str(self.port), "-v",
             "-t", "ledd/+/availability"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

        def reader():
            for line in self.sub.stdout:
                parts = line.split()
                if len(parts) != 2:
                    continue
                node = parts[0].split("/")[1]
                with self.online_changed:
                    self.availability_lines += 1
                    if parts[1] == "online":
                        self.online.add(node)
                    else:
                        self.online.discard(node)
                    self.online_changed.notify_all()
        threading.Thread(target=reader, daemon=True).start()

    # -- nodes
    def led_dir(self, i):
        return os.path.join(self.dir, self.names[i], "sys", "ACT")

    def make_nodes(self):
        for i, name in enumerate(self.names):
            d = os.path.join(self.dir, name)
            os.makedirs(d)
            subprocess.run([os.path.join(ROOT, "tests", "fakeleds", "fakeleds.sh"), "led",
                            os.path.join(d, "sys"), "ACT", "1"], check=True)
            with open(os.path.join(d, "ledd.toml"), "w") as f:
                f.write(f'socket = "{d}/ledd.sock"\nsysfs_root = "{d}/sys"\n'
                        f'state_file = "{d}/state.toml"\n[leds.status]\ndevice = "ACT"\n')
            with open(os.path.join(d, "mqtt.toml"), "w") as f:
                f.write(f'broker = "mqtt://127.0.0.1:{self.port}"\nnode = "{name}"\n'
                        f'socket = "{d}/ledd.sock"\nkeepalive = {self.args.keepalive}\n')

    def start_ledds(self):
        env = dict(os.environ, LD_PRELOAD=self.bins["fakeleds"])
        for i, name in enumerate(self.names):
            d = os.path.join(self.dir, name)
            env["FAKE_LEDS_ROOT"] = os.path.join(d, "sys")
            with open(os.path.join(d, "ledd.log"), "w") as err:
                self.ledds.append(subprocess.Popen([self.bins["ledd"], "--config", os.path.join(d, "ledd.toml")],
                                                   env=env, stdin=subprocess.DEVNULL,
                                                   stdout=subprocess.DEVNULL, stderr=err))
        deadline = time.monotonic() + 30 + self.n * 0.05
        for i, name in enumerate(self.names):
            path = os.path.join(self.dir, name, "ledd.sock")
            while True:
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.settimeout(5)
                        s.connect(path)
                        s.sendall(b"version\n")
                        if s.recv(100).startswith(b"ok "):
                            break
                except OSError:
                    pass
                if self.ledds[i].poll() is not None or time.monotonic() > deadline:
                    raise CannotRun(f"ledd {name} did not answer: "
                                    + open(os.path.join(self.dir, name, "ledd.log")).read()[-500:])
                time.sleep(0.02)

    def start_bridges(self):
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKE_LEDS_ROOT")}
        t0 = time.monotonic()
        for name in self.names:
            d = os.path.join(self.dir, name)
            with open(os.path.join(d, "bridge.log"), "w") as err:
                self.bridges.append(subprocess.Popen([self.bins["ledd-mqtt"], "-c", os.path.join(d, "mqtt.toml")],
                                                     env=env, stdin=subprocess.DEVNULL,
                                                     stdout=subprocess.DEVNULL, stderr=err))
        spawned = time.monotonic() - t0
        deadline = t0 + 30 + self.n * 0.2
        with self.online_changed:
            while len(self.online) < self.n and time.monotonic() < deadline:
                self.online_changed.wait(max(0.0, min(1.0, deadline - time.monotonic())))
                dead = [self.names[i] for i, b in enumerate(self.bridges) if b.poll() is not None]
                if dead:
                    raise CannotRun(f"{len(dead)} bridges exited, e.g. {dead[0]}: "
                                    + open(os.path.join(self.dir, dead[0], "bridge.log")).read()[-500:])
            online = len(self.online)
        return online, spawned, time.monotonic() - t0

    def stop(self):
        for p in self.bridges + self.ledds + [self.sub]:
            if p and p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 10
        for p in self.bridges + self.ledds + [self.sub]:
            if p:
                try:
                    p.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self.broker and self.broker.poll() is None:
            self.broker.terminate()
            try:
                self.broker.wait(5)
            except subprocess.TimeoutExpired:
                self.broker.kill()
                self.broker.wait()


def read_delay_on(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def run_rounds(fleet, rounds, timeout):
    """Per round: (all-N time in s or None, per-node latencies in s, missing count)."""
    ino, wds = watch_led_dirs(fleet.led_dir(i) for i in range(fleet.n))
    wd_node = {wd: i for i, wd in enumerate(wds)}
    paths = [os.path.join(fleet.led_dir(i), "delay_on") for i in range(fleet.n)]
    pub = Publisher(fleet.port)
    results = []
    try:
        for r in range(rounds):
            payload, want = ORDERS[r % 2]
            changed_dirs(ino, 0)  # drop events of the last round's state and result writes
            pending = set(range(fleet.n))
            seen = {}
            t0 = time.monotonic()
            pub.publish("ledd/all/status/set", payload)
            deadline = t0 + timeout
            last_sweep = t0
            while pending and time.monotonic() < deadline:
                wds = changed_dirs(ino, min(0.05, max(0.0, deadline - time.monotonic())))
                now = time.monotonic()
                candidates = {wd_node[w] for w in wds if w in wd_node} & pending
                if now - last_sweep >= 0.05:  # a lost event cannot hide a change
                    candidates = set(pending)
                    last_sweep = now
                for i in candidates:
                    if read_delay_on(paths[i]) == want:
                        seen[i] = now - t0
                        pending.discard(i)
            lat = list(seen.values())
            results.append((max(lat) if not pending else None, lat, len(pending)))
            log(f"round {r + 1}/{rounds} '{payload}': "
                + (f"all {fleet.n} in {max(lat) * 1000:.0f} ms" if not pending
                   else f"{len(pending)} of {fleet.n} unchanged after {timeout} s"))
            time.sleep(fleet.args.pause)
    finally:
        pub.close()
        ino.close()
    return results


def build(args):
    if args.no_build:
        return
    cmd = ["nice", "cargo", "build", "--release", "--locked", "-p", "ledd-mqtt", "--bin", "ledd-mqtt",
           "-p", "ledd", "--bins"]
    log(" ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)


def find_bins():
    bins = {"ledd": os.path.join(TARGET, "release", "ledd"),
            "ledd-mqtt": os.path.join(TARGET, "release", "ledd-mqtt")}
    for name, path in bins.items():
        if not os.access(path, os.X_OK):
            raise CannotRun(f"{path} is missing (cargo build --release)")
    for tool in ("mosquitto", "mosquitto_sub"):
        bins[tool] = shutil.which(tool) or (f"/usr/sbin/{tool}" if os.access(f"/usr/sbin/{tool}", os.X_OK) else None)
        if not bins[tool]:
            raise CannotRun(f"{tool} is missing (apt install mosquitto mosquitto-clients; tests/setup.sh)")
    bins["fakeleds"] = subprocess.run([os.path.join(ROOT, "tests", "fakeleds", "fakeleds.sh"), "lib"],
                                      check=True, capture_output=True, text=True).stdout.strip()
    return bins


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, min(hard, 4 * n + 1024)) if hard != resource.RLIM_INFINITY else max(soft, 4 * n + 1024)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < 2 * n + 64:
        raise CannotRun(f"RLIMIT_NOFILE {soft} is too low for {n} nodes (the broker needs one per bridge)")
    return soft


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=100, help="nodes, each a ledd and a ledd-mqtt (100)")
    parser.add_argument("--rounds", type=int, default=20, help="orders published on ledd/all (20)")
    parser.add_argument("--budget-ms", type=float, default=1000, help="median time for all nodes (1000)")
    parser.add_argument("--timeout", type=float, default=10, help="seconds a round waits for every node (10)")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between rounds (0.3)")
    parser.add_argument("--keepalive", type=int, default=60, help="the bridges' MQTT keepalive (60)")
    parser.add_argument("--no-build", action="store_true", help="use the release binaries as they are")
    parser.add_argument("--out", help="report (default target/bench/MQTT-FANOUT.md)")
    args = parser.parse_args()
    if args.nodes < 1 or args.rounds < 1:
        parser.error("--nodes and --rounds must be at least 1")
    out = args.out or os.path.join(TARGET, "bench", "MQTT-FANOUT.md")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    started = time.monotonic()

    fleet = None
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    workdir = tempfile.mkdtemp(prefix="ledd-mqtt-fanout.", dir=base)
    try:
        build(args)
        bins = find_bins()
        nofile = raise_nofile(args.nodes)
        fleet = Fleet(args, bins, workdir)
        fleet.start_broker()
        fleet.watch_availability()
        fleet.make_nodes()
        log(f"{args.nodes} nodes in {workdir}; broker on 127.0.0.1:{fleet.port}")
        fleet.start_ledds()
        online, spawned, up = fleet.start_bridges()
        log(f"{online} of {args.nodes} online {up:.1f} s after the first bridge started")
        if online < args.nodes:
            missing = [n for n in fleet.names if n not in fleet.online]
            raise CannotRun(f"only {online} of {args.nodes} bridges online, e.g. not {missing[0]}: "
                            + open(os.path.join(workdir, missing[0], "bridge.log")).read()[-500:])
        time.sleep(1)  # the start's state and discovery publishes settle
        broker_cpu0 = cpu_seconds(fleet.broker.pid)
        broker_ns0 = run_ns(fleet.broker.pid)
        bridge_ns0 = sum(run_ns(b.pid) for b in fleet.bridges)
        ledd_ns0 = sum(run_ns(p.pid) for p in fleet.ledds)
        t_rounds = time.monotonic()
        results = run_rounds(fleet, args.rounds, args.timeout)
        rounds_secs = time.monotonic() - t_rounds
        broker_cpu = cpu_seconds(fleet.broker.pid)
        broker_ns = run_ns(fleet.broker.pid) - broker_ns0
        bridge_ns = sum(run_ns(b.pid) for b in fleet.bridges) - bridge_ns0
        ledd_ns = sum(run_ns(p.pid) for p in fleet.ledds) - ledd_ns0
        bridge_rss = [proc_status(b.pid, "VmRSS") for b in fleet.bridges]
        bridge_hwm = [proc_status(b.pid, "VmHWM") for b in fleet.bridges]
        bridge_anon = [proc_status(b.pid, "RssAnon") for b in fleet.bridges]
        ledd_rss = [proc_status(p.pid, "VmRSS") for p in fleet.ledds]
        broker_rss = proc_status(fleet.broker.pid, "VmRSS")
        alive = sum(1 for b in fleet.bridges if b.poll() is None)
    except CannotRun as e:
        print(f"mqtt-fanout: ERROR: {e}", file=sys.stderr, flush=True)
        print("0 passed, 1 failed")
        return 2
    finally:
        if fleet:
            fleet.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    n = args.nodes
    complete = [r[0] for r in results if r[0] is not None]
    missing = sum(r[2] for r in results)
    per_node = [x for r in results for x in r[1]]
    median_all = statistics.median(complete) if len(complete) == len(results) else float("inf")
    p99_all = pct(complete, 99) if complete else float("inf")
    rss_ok = [x for x in bridge_rss if x]
    anon_ok = [x for x in bridge_anon if x]
    ms = lambda s: f"{s * 1000:.0f} ms" if s != float("inf") else "never"
    checks = [
        (f"all {n} nodes online", True, f"{up * 1000:.0f} ms after the first bridge started ({spawned * 1000:.0f} ms to spawn them)"),
        (f"every node changed in every round ({args.rounds} rounds)", missing == 0,
         f"{missing} node-rounds unchanged after {args.timeout:g} s"),
        (f"median time for all {n} nodes within {args.budget_ms:g} ms", median_all * 1000 <= args.budget_ms,
         f"median {ms(median_all)}, p99 {ms(p99_all)}"),
        (f"every bridge still running after the rounds", alive == n, f"{alive} of {n}"),
        # A bridge's own memory is what a fleet adds up (and once, a client
        # library's default inflight table made it 13 MiB): at most 1 MiB.
        ("each bridge's own memory (RssAnon) at most 1 MiB",
         bool(anon_ok) and max(anon_ok) <= 1024, f"max {max(anon_ok) / 1024:.2f} MiB" if anon_ok else "unread"),
    ]
    figures = [
        ("nodes (ledd + ledd-mqtt each)", f"{n}"),
        ("rounds", f"{args.rounds} (`blink 2` / `blink 4` in turn on ledd/all/status/set, QoS 0)"),
        (f"all {n} changed: median / p99 / max", f"{ms(median_all)} / {ms(p99_all)} / {ms(max(complete) if complete else float('inf'))}"),
        ("per node: min / median / p90 / p99 / max",
         " / ".join(f"{pct(per_node, p) * 1000:.1f} ms" for p in (0, 50, 90, 99, 100)) if per_node else "none"),
        ("bridge RSS (VmRSS) mean / max", f"{statistics.mean(rss_ok) / 1024:.2f} / {max(rss_ok) / 1024:.2f} MiB"),
        ("bridge peak RSS (VmHWM) max", f"{max(x for x in bridge_hwm if x) / 1024:.2f} MiB"),
        ("bridge anonymous RSS (RssAnon: its own heap and stacks, what N nodes add up) mean / max",
         f"{statistics.mean(x for x in bridge_anon if x) / 1024:.2f} / {max(x for x in bridge_anon if x) / 1024:.2f} MiB"),
        ("CPU over the rounds (schedstat), all bridges / per bridge per order",
         f"{bridge_ns / 1e6:.0f} ms / {bridge_ns / n / args.rounds / 1e3:.0f} µs"),
        ("CPU over the rounds (schedstat), all ledds / per ledd per order",
         f"{ledd_ns / 1e6:.0f} ms / {ledd_ns / n / args.rounds / 1e3:.0f} µs"),
        ("ledd RSS (VmRSS) mean / max",
         f"{statistics.mean(x for x in ledd_rss if x) / 1024:.2f} / {max(x for x in ledd_rss if x) / 1024:.2f} MiB"),
        ("broker CPU (utime+stime) since its start / over the rounds",
         f"{broker_cpu:.2f} s / {broker_cpu - broker_cpu0:.2f} s ({rounds_secs:.1f} s of rounds; "
         f"schedstat: {broker_ns / 1e6:.0f} ms, {broker_ns / args.rounds / 1e3:.0f} µs per order)"),
        ("broker RSS (VmRSS)", f"{broker_rss / 1024:.1f} MiB" if broker_rss else "?"),
        ("RLIMIT_NOFILE", f"{nofile}"),
    ]
    passed = sum(1 for _, ok, _ in checks if ok)
    failed = len(checks) - passed
    cmd = "python3 bench/mqtt-fanout.py" + (f" --nodes {n}" if n != 100 else "") + \
        (f" --rounds {args.rounds}" if args.rounds != 20 else "")
    try:
        describe = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                                  text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        describe = "?"
    lines = [
        "# ledd-mqtt fan-out",
        "",
        f"`{cmd}` — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {describe}, "
        f"{platform.node()}, {os.cpu_count()} CPUs, {platform.release()}; "
        f"took {time.monotonic() - started:.0f} s.",
        "",
        "One mosquitto on 127.0.0.1; each node a real ledd on its own fake LED tree (tmpfs) and its",
        "own ledd-mqtt, all on this machine. Time from one publish on `ledd/all/status/set` to each",
        "node's `delay_on` showing the new rate (inotify on the N LED directories).",
        "",
        "| figure | value |",
        "|---|---|",
    ] + [f"| {k} | {v} |" for k, v in figures] + [
        "",
        "| check | verdict | detail |",
        "|---|---|---|",
    ] + [f"| {name} | {'PASS' if ok else 'FAIL'} | {detail} |" for name, ok, detail in checks] + [""]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write("\n".join(lines))
    for k, v in figures:
        print(f"  {k}: {v}")
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'FAIL'}: {name} ({detail})")
    print(f"report: {out}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
