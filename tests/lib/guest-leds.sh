# shellcheck shell=sh
# tests/lib/guest-leds.sh - what the guests of the kernel tier (busybox ash,
# tests/kernel/guest/lib.sh) and of the system tier (bash,
# tests/system/guest/checks.sh) both read off the kernel's LED class, and how
# both judge a check. Copied into each guest by its tier's run.sh. The
# sourcing script defines pass and fail (each guest reports its own way).

ledpath() { echo "/sys/class/leds/$1"; }
# The active trigger: the bracketed token of the trigger line.
active_trigger() { tr ' ' '\n' <"$(ledpath "$1")/trigger" | sed -n 's/^\[\(.*\)\]$/\1/p'; }
has_trigger() { tr ' ' '\n' <"$(ledpath "$1")/trigger" | tr -d '[]' | grep -qx "$2"; }
# rd LED FILE / ino LED FILE: an attribute's value / inode, "-" when absent
# (the timer's files come and go with the trigger).
rd() { cat "$(ledpath "$1")/$2" 2>/dev/null || echo "-"; }
ino() { stat -c %i "$(ledpath "$1")/$2" 2>/dev/null || echo "-"; }
# near VALUE TARGET PERCENT: |VALUE - TARGET| <= TARGET * PERCENT / 100
near() { awk -v v="$1" -v t="$2" -v p="$3" 'BEGIN { d = v - t; if (d < 0) d = -d; exit !(v != "" && d <= t * p / 100) }'; }
# verdict NAME STATUS DETAIL...: STATUS 0 passes NAME, anything else fails it.
verdict() {
	_name=$1 _status=$2
	shift 2
	if [ "$_status" = 0 ]; then pass "$_name" "$@"; else fail "$_name" "$@"; fi
}
