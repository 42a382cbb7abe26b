# `watch` against the real kernel (busybox ash, sourced by /init after
# ledd.sh): the keyboard's caps-lock LED is unplugged and plugged again (the
# atkbd driver unbound and bound: real uevents), and a watcher sees it go and
# come back, with no order from anyone; at rest, neither costs ledd a wakeup.

# shellcheck shell=dash disable=SC2034  # LEDD_CHECKS is used by /init
LEDD_CHECKS="$LEDD_CHECKS
 s13-watch-first-event s13-watch-order-event s13-watch-at-rest-no-wakeup
 s13-watch-unplugged s13-watch-plugged-again"

# watch_lines: the event lines the watcher printed so far.
watch_lines() { grep -c '"event":true' /tmp/watch.out 2>/dev/null || echo 0; }
# wait_watch_lines N: at most 10 s for the watcher's Nth line.
wait_watch_lines() {
	i=0
	while [ "$(watch_lines)" -lt "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(watch_lines)" -ge "$1" ]
}
watch_line() { grep '"event":true' /tmp/watch.out | sed -n "${1}p"; }

watch_main() {
	CAPS=$(led_named capslock)
	cat >/etc/ledd/watch.toml <<-EOC
	socket = "$SOCK"
	state_file = "/run/ledd-state/watch.toml"
	restore = false
	[leds.caps]
	device = [$(capslock_devices)]
	EOC
	: >/tmp/ledd.log
	start_ledd /etc/ledd/watch.toml "$SOCK"
	lc off caps
	ledctl --json watch caps >/tmp/watch.out 2>&1 &
	WATCH_PID=$!
	ok=1
	wait_watch_lines 1 && watch_line 1 | grep -q '"mode":"off"' && ok=0
	verdict s13-watch-first-event $ok "$(cat /tmp/watch.out)"

	lc blink caps 4
	ok=1
	wait_watch_lines 2 && watch_line 2 | grep -q '"freq":4,' && ok=0
	verdict s13-watch-order-event $ok "$(watch_line 2)"

	# A watcher waits in the kernel, ledd too, while the kernel blinks
	# (after ledd's 1 s heap trim that follows ledctl's leaving).
	sleep 2
	before=$(ctxt_switches "$LEDD_PID")
	sleep 2
	after=$(ctxt_switches "$LEDD_PID")
	ok=1
	[ -n "$before" ] && [ "$before" = "$after" ] && [ "$(watch_lines)" = 2 ] && ok=0
	verdict s13-watch-at-rest-no-wakeup $ok "ledd context switches $before -> $after over 2 s; watcher lines $(watch_lines)"

	echo serio0 >/sys/bus/serio/drivers/atkbd/unbind
	ok=1
	# One event, however many uevents the unplug makes (LEDs, input device).
	wait_watch_lines 3 && watch_line 3 | grep -q '"exists":false' && sleep 1 && [ "$(watch_lines)" = 3 ] && ok=0
	verdict s13-watch-unplugged $ok "$(watch_line 3); lines: $(watch_lines)"

	echo serio0 >/sys/bus/serio/drivers/atkbd/bind
	ok=1
	# The device is back (ledd restores nothing here: restore = false): an
	# event says it exists again, as the kernel shows it, with no order.
	wait_watch_lines 4 && watch_line 4 | grep -q '"exists":true' && ok=0
	verdict s13-watch-plugged-again $ok "$(watch_line 4); $(watch_line 5) leds: $(echo /sys/class/leds/* | sed 's|/sys/class/leds/||g')"
	kill "$WATCH_PID" 2>/dev/null
	stop_ledd TERM
	info "watch: ledd log: $(tail -n 8 /tmp/ledd.log | tr '\n' '|')"
}
