#!/usr/bin/env bash
# Shows ledd's main job in one command: it starts ledd, sends it real ledctl
# orders through its real socket, and draws the LED as it blinks, changes
# rate and goes off. With no LED hardware (or without the right to write
# it), ledd drives a simulated LED that follows the kernel's rules, and says so.
#
#   examples/try-it.sh            # simulated LED unless a status LED is writable here
#   LEDD_TRY=simulate examples/try-it.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "Building ledd and ledctl (cargo build --release; the first time takes a minute)..."
cargo build --release --bins --quiet
bin=$PWD/target/release
work=$(mktemp -d)
ledd_pid=
cleanup() {
    if [ -n "$ledd_pid" ]; then kill "$ledd_pid" 2>/dev/null || true; wait "$ledd_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# A real LED is used only when ledd's default LED exists and is writable.
backend=--simulate
if [ "${LEDD_TRY:-}" != simulate ]; then
    for device in ledd:green:status ACT led0; do
        if [ -w "/sys/class/leds/$device/trigger" ]; then backend=; break; fi
    done
fi
cat >"$work/ledd.toml" <<CONF
socket = "$work/ledd.sock"
state_file = "$work/state.toml"
on_exit = "off"
[leds.status]
device = ["ledd:green:status", "ACT", "led0"]
CONF

if [ -n "$backend" ]; then
    echo "No writable LED here: ledd drives a SIMULATED LED (kernel semantics, in memory)."
else
    echo "Driving the real LED 'status' ($device) through /sys/class/leds."
fi
"$bin/ledd" --config "$work/ledd.toml" $backend --show 2>"$work/ledd.log" &
ledd_pid=$!
for _ in $(seq 50); do [ -S "$work/ledd.sock" ] && break; sleep 0.1; done

# On a terminal, ledd redraws its LED line in place: clear it before printing.
clear_line=
[ -t 1 ] && clear_line=$'\r\033[K'
order() {
    local pause=$1; shift
    printf '%s$ ledctl %s\n' "$clear_line" "$*"
    "$bin/ledctl" --socket "$work/ledd.sock" "$@" | sed 's/^/  /'
    sleep "$pause"
}
order 3 blink 2
order 3 blink 5 25
order 0 status
order 2 on
order 2 off
order 3 clignote 1
order 1 eteindre
printf '%s\nledd log:\n' "$clear_line"
kill "$ledd_pid"; wait "$ledd_pid" || true; ledd_pid=
sed 's/^/  /' "$work/ledd.log"
