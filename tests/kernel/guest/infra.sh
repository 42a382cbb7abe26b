# Infrastructure checks: the kernel, its keyboard LEDs, the trigger modules and
# the sampler, using plain shell writes (no ledd). If these fail, the ledd
# checks cannot mean anything.
# shellcheck shell=dash disable=SC2034  # INFRA_CHECKS is used by /init
INFRA_CHECKS="infra-leds infra-modules infra-timer-5hz infra-timer-rewrite"

# Modules loaded up front; ledtrig-pattern is kept back on purpose so that the
# ledd scenarios can check the "module not loaded" error first.
INFRA_MODULES="ledtrig-timer ledtrig-heartbeat ledtrig-oneshot"

infra_main() {
	# Log every uevent the kernel sends (stand-in for `udevadm monitor`):
	# lets scenarios count the "change" events an LED gets.
	: >/tmp/uevents
	uevent /scenarios/uevlog.sh &

	# The keyboard's input number depends on what probed first (ACPI power
	# button, ...), so find the LEDs by function.
	CAPS=$(led_named capslock) NUM=$(led_named numlock) SCROLL=$(led_named scrolllock)
	info "leds: $(echo /sys/class/leds/* | sed 's|/sys/class/leds/||g')"
	ok=1
	[ -n "$CAPS" ] && [ -n "$NUM" ] && [ -n "$SCROLL" ] && ok=0
	verdict infra-leds $ok "caps=$CAPS num=$NUM scroll=$SCROLL max_brightness=$(rd "$CAPS" max_brightness)"
	[ $ok = 0 ] || return 0
	info "triggers before modules: $(cat "$(ledpath "$CAPS")/trigger")"

	ok=0 detail=""
	for m in $INFRA_MODULES; do
		insmod "/lib/modules/$m.ko" || { ok=1; detail="$detail insmod-$m-failed"; }
	done
	for t in timer heartbeat oneshot; do
		has_trigger "$CAPS" $t || { ok=1; detail="$detail missing-$t"; }
	done
	has_trigger "$CAPS" pattern && { ok=1; detail="$detail pattern-already-present"; }
	verdict infra-modules $ok "loaded:$(lsmod | awk 'NR > 1 { printf " %s", $1 }')$detail"
	info "triggers: $(cat "$(ledpath "$CAPS")/trigger")"

	# The kernel blinks the LED and the sampler sees it: 100/100 ms = 5 Hz.
	L=$(ledpath "$CAPS")
	echo timer >"$L/trigger"
	echo 100 >"$L/delay_on"
	echo 100 >"$L/delay_off"
	s=$(sample "$CAPS" 4)
	f=$(kv "$s" freq) d=$(kv "$s" duty)
	ok=1
	near "$f" 5 10 && within_points "$d" 50 10 && ok=0
	verdict infra-timer-5hz $ok "ordered=5Hz/50% measured=${f}Hz/${d}% ($s)"

	# Kernel fact ledd must respect: writing "timer" again recreates the delay
	# files (new inode), resets them to 500/500 and sends a uevent. Proves the
	# inode/uevent method used later can see a rewrite.
	i1=$(ino "$CAPS" delay_on) u1=$(uevents_for "$CAPS")
	echo timer >"$L/trigger"
	sleep 1 # let the uevent helper run
	i2=$(ino "$CAPS" delay_on) u2=$(uevents_for "$CAPS")
	ok=1
	[ "$i1" != "$i2" ] && [ "$u2" -gt "$u1" ] && [ "$(rd "$CAPS" delay_on)" = 500 ] && ok=0
	info "uevents: $(tail -n 3 /tmp/uevents | tr "\n" ";")"
	verdict infra-timer-rewrite $ok "ino $i1->$i2 change-uevents $u1->$u2 delay_on=$(rd "$CAPS" delay_on)"
	echo none >"$L/trigger"
	echo 0 >"$L/brightness"
}

# Number of "change" uevents seen so far for an LED.
uevents_for() { grep -c "^change .*/$1 " /tmp/uevents; }

# First LED whose name ends in ::FUNCTION (e.g. input0::capslock).
led_named() {
	for p in /sys/class/leds/*::"$1"; do
		[ -e "$p" ] && { echo "${p##*/}"; return; }
	done
}
