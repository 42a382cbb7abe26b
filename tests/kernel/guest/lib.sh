# shellcheck shell=dash
# Helpers shared by the guest scenarios (busybox ash).

# plan "NAMES": announce every check name first (one line, whatever spacing).
plan() { echo "LEDD-PLAN $(echo "$*" | tr -s '\n\t ' '   ')"; }
pass() { n=$1; shift; echo "LEDD-CHECK PASS $n $*"; }
fail() { n=$1; shift; echo "LEDD-CHECK FAIL $n $*"; }
info() { echo "LEDD-INFO $*"; }
# ledpath, active_trigger, has_trigger, rd, ino, near, verdict: shared with
# the system tier's guest (tests/lib/guest-leds.sh, copied in by run.sh).
. /scenarios/guest-leds.sh

# kv "key=value ..." KEY -> value
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }
# within_points VALUE TARGET POINTS: |VALUE-TARGET| <= POINTS
within_points() { awk -v v="$1" -v t="$2" -v p="$3" 'BEGIN { d = v - t; if (d < 0) d = -d; exit !(v != "" && d <= p) }'; }
# le A B: A <= B (floats)
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 <= b + 0) }'; }

# sample LED SECONDS -> ledsample's key=value line
sample() { ledsample "$(ledpath "$1")/brightness" "$2"; }

# Snapshot of what the kernel holds for an LED: trigger, delays, and the
# brightness when no trigger drives it (a blinking LED's brightness toggles).
snapshot() {
	t=$(active_trigger "$1")
	case $t in
	timer) echo "$1:trigger=$t,delay_on=$(rd "$1" delay_on),delay_off=$(rd "$1" delay_off),ino=$(ino "$1" delay_on)" ;;
	none) echo "$1:trigger=$t,brightness=$(rd "$1" brightness)" ;;
	*) echo "$1:trigger=$t" ;;
	esac
}

# The keyboard's caps-lock LED under every input number it may come back
# under after its driver is bound again, as a TOML list's items.
capslock_devices() {
	devices='"input0::capslock"'
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do devices="$devices, \"input$i::capslock\""; done
	echo "$devices"
}
