#!/usr/bin/env python3
"""Check and simulate udev rules files without udevd (bookworm's udev 252 has
no `udevadm verify`).

  udev-sim.py lint RULES...
      Every line must be a comment, blank, or comma-separated KEY op "VALUE"
      pairs from the set ledd's rules may use; match keys only with == / !=,
      assignment keys only with = / += / :=; every GOTO needs its LABEL.

  udev-sim.py run RULES SYSROOT DEVPATH ACTION SUBSYSTEM
      Evaluate the rules for one event, as udevd would for the keys we use,
      against a fake sysfs tree: the device directory is SYSROOT + DEVPATH.
      RUN programs are collected, then executed with "/sys%p" replaced by
      SYSROOT + DEVPATH (the only substitution allowed), like udevd does after
      the rules have been processed. Prints each command it runs.
"""
import fnmatch
import os
import re
import shlex
import subprocess
import sys

MATCH_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "DRIVER", "TEST"}
ASSIGN_KEYS = {"RUN", "GOTO", "LABEL"}
PAIR = re.compile(r'\s*([A-Z]+)(\{[^}]*\})?\s*(==|!=|\+=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse(path):
    """Return [(lineno, [(key, attr, op, value), ...])]; raise on bad syntax."""
    rules, errors = [], []
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line.endswith("\\"):
                errors.append(f"{path}:{n}: line continuation not allowed here")
                continue
            pos, pairs = 0, []
            while pos < len(line):
                m = PAIR.match(line, pos)
                if not m:
                    errors.append(f"{path}:{n}: cannot parse at column {pos + 1}: {line[pos:]!r}")
                    break
                key, attr, op, val = m.group(1), m.group(2), m.group(3), m.group(4)
                if key in MATCH_KEYS and op not in ("==", "!="):
                    errors.append(f"{path}:{n}: {key} is a match key, used with {op}")
                elif key in ASSIGN_KEYS and op not in ("=", "+=", ":="):
                    errors.append(f"{path}:{n}: {key} is an assignment key, used with {op}")
                elif key not in MATCH_KEYS | ASSIGN_KEYS:
                    errors.append(f"{path}:{n}: key {key} is not in the allowed set")
                if key == "RUN" and "%" in val.replace("/sys%p/", ""):
                    errors.append(f"{path}:{n}: RUN may only use the /sys%p/ substitution")
                pairs.append((key, attr, op, val))
                pos = m.end()
            rules.append((n, pairs))
    labels = {v for _, ps in rules for k, _, _, v in ps if k == "LABEL"}
    for n, ps in rules:
        for k, _, _, v in ps:
            if k == "GOTO" and v not in labels:
                errors.append(f"{path}:{n}: GOTO {v} has no LABEL")
    if errors:
        raise SyntaxError("\n".join(errors))
    return rules


def matches(op, pattern, value):
    hit = any(fnmatch.fnmatchcase(value, p) for p in pattern.split("|"))
    return hit if op == "==" else not hit


def run(rules_path, sysroot, devpath, action, subsystem):
    rules = parse(rules_path)
    devdir = sysroot + devpath
    env = {"ACTION": action, "SUBSYSTEM": subsystem, "KERNEL": os.path.basename(devpath)}
    runs, goto = [], None
    for _, pairs in rules:
        if goto is not None:
            if any(k == "LABEL" and v == goto for k, _, _, v in pairs):
                goto = None
            continue
        ok = True
        for key, _, op, val in pairs:
            if key in ("ACTION", "SUBSYSTEM", "KERNEL"):
                ok = matches(op, val, env[key])
            elif key == "TEST":
                path = val if val.startswith("/") else os.path.join(devdir, val)
                ok = os.path.exists(path) == (op == "==")
            elif key == "DRIVER":
                ok = False  # no driver in the simulation
            if not ok:
                break
        if not ok:
            continue
        for key, _, op, val in pairs:
            if key == "RUN":
                if op == ":=" or op == "=":
                    runs = []
                runs.append(val)
            elif key == "GOTO":
                goto = val
    status = 0
    for cmd in runs:
        argv = [a.replace("/sys%p/", devdir + "/") for a in shlex.split(cmd)]
        print("RUN " + " ".join(shlex.quote(a) for a in argv))
        status |= subprocess.call(argv)
    return status


def main(argv):
    if len(argv) >= 2 and argv[0] == "lint":
        try:
            for p in argv[1:]:
                parse(p)
        except SyntaxError as e:
            print(e, file=sys.stderr)
            return 1
        return 0
    if len(argv) == 6 and argv[0] == "run":
        return run(*argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
