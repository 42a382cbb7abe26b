#!/bin/sh
# /init of the emulated Raspberry Pi test system (busybox, no udev).
# The host appends a small cpio with /scenario.env (and /etc/ledd/ledd.toml)
# to one shared initramfs per boot; results go to the serial console as
# lines starting with "@@ ", which tests/pi/run.sh reads.
# shellcheck shell=sh

export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug
mount -t devtmpfs devtmpfs /dev
mkdir -p /run /tmp /var/lib/ledd
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp

say() { echo "@@ $*"; }
finish() {
	say END
	sync
	# bcm2835_wdt provides the power-off hook that makes qemu exit.
	poweroff -f
	sleep 5
}

# Defaults; /scenario.env overrides them.
scenario=shell
led=ledd:green:status
pin=17
led2=
pin2=
# shellcheck disable=SC1091
[ -f /scenario.env ] && . /scenario.env

say BOOT scenario="$scenario" kernel="$(uname -r)" model="$(tr -d '\0' < /proc/device-tree/model)"
M=/lib/modules
insmod $M/bcm2835_wdt.ko || say WARN no bcm2835_wdt
# Stand-in for udev: load the LED driver the way modalias coldplug would,
# *then* the triggers (as /etc/modules-load.d would, later in boot), so a
# "timer" default trigger has to attach when its trigger registers.
insmod $M/leds-gpio.ko
for t in timer pattern oneshot heartbeat default-on; do
	[ -f "$M/ledtrig-$t.ko" ] && insmod "$M/ledtrig-$t.ko"
done

wait_led() {	# up to 5 s for the LED class device to appear
	i=0
	while [ ! -e "/sys/class/leds/$1" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "/sys/class/leds/$1" ]
}

start_ledd() {	# start ledd in the background, wait for its socket (10 s)
	if [ ! -x /bin/ledd ] || [ ! -x /bin/ledctl ]; then
		say NODAEMON
		finish
	fi
	mkdir -p /run/ledd
	/bin/ledd --config /etc/ledd/ledd.toml >> /tmp/ledd.log 2>&1 &
	lpid=$!
	i=0
	while [ ! -S /run/ledd/ledd.sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}

stop_ledd() {	# SIGTERM, report the exit status and ledd's log so far
	kill "$lpid" 2>/dev/null
	wait "$lpid"
	say LEDD_EXIT "$?"
	sed 's/^/@@ LEDDLOG /' /tmp/ledd.log
	: > /tmp/ledd.log
}

ctl() {	# ctl TAG ARGS...: run ledctl, report exit code and reply
	tag=$1; shift
	out=$(/bin/ledctl --socket /run/ledd/ledd.sock --json "$@" 2>&1); rc=$?
	say "LEDCTL $tag rc=$rc out=$(echo "$out" | tr '\n' ' ')"
}

sample() {	# sample NAME PIN MS: one "@@ SAMPLE name=..." line
	out=$(/bin/gpiosample "$2" "$3" 2000)
	say "SAMPLE name=$1 ${out#SAMPLE }"
}

say LEDS "$(cd /sys/class/leds && echo *)"
if [ -n "$led" ] && wait_led "$led"; then
	L=/sys/class/leds/$led
	say LED name="$led" exists=yes trigger="'$(cat "$L/trigger")'" max_brightness="$(cat "$L/max_brightness")" brightness="$(cat "$L/brightness")"
	of=$(readlink -f "$L/device/of_node" 2>/dev/null || true)
	say OFNODE "$of"
else
	say LED name="$led" exists=no
fi
grep "|" /sys/kernel/debug/gpio | sed "s/^/@@ DEBUGFS /"

case "$scenario" in
shell)
	# Plain sysfs writes, no daemon.
	L=/sys/class/leds/$led
	echo none > "$L/trigger"; echo 0 > "$L/brightness"
	sample off "$pin" 600
	cat "$L/max_brightness" > "$L/brightness"
	sample on "$pin" 600
	echo timer > "$L/trigger"; echo 100 > "$L/delay_on"; echo 100 > "$L/delay_off"
	say TIMER delay_on="$(cat "$L/delay_on")" delay_off="$(cat "$L/delay_off")"
	sample blink5 "$pin" 2400
	echo none > "$L/trigger"
	sample after "$pin" 400
	;;
hostwatch)
	# The host samples the pin through the qemu monitor meanwhile.
	L=/sys/class/leds/$led
	echo timer > "$L/trigger"; echo 100 > "$L/delay_on"; echo 100 > "$L/delay_off"
	say HOSTWATCH start
	sleep 3
	say HOSTWATCH stop
	echo none > "$L/trigger"
	;;
boot)
	# Nothing written: whatever the overlay parameters set up at boot.
	sleep 1
	for n in "$led" "$led2"; do
		[ -n "$n" ] || continue
		L=/sys/class/leds/$n
		if [ -e "$L/delay_on" ]; then
			say TIMER name="$n" delay_on="$(cat "$L/delay_on")" delay_off="$(cat "$L/delay_off")"
		fi
	done
	sample boot "$pin" 2400
	[ -n "$pin2" ] && sample boot2 "$pin2" 2400
	;;
daemon)
	start_ledd
	ctl version version
	ctl list list
	ctl status0 status
	if [ -n "$led" ] && [ -e "/sys/class/leds/$led" ]; then
		ctl blink blink 5
		sample blink5 "$pin" 2400
		ctl off off
		sample off "$pin" 1200
		ctl on on
		sample on "$pin" 800
		ctl status status
		ctl off2 off
	fi
	stop_ledd
	;;
hotplug)
	# The overlay's LED appears after ledd started (its driver bound late, as
	# when the overlay is applied at run time): ledd hears the kernel's
	# uevent and restores the saved blink, with no restart.
	start_ledd
	ctl blink blink 5
	stop_ledd
	rmmod leds_gpio
	say GONE exists="$([ -e "/sys/class/leds/$led" ] && echo yes || echo no)"
	start_ledd
	ctl waiting status
	insmod $M/leds-gpio.ko
	wait_led "$led" || say WARN "$led did not come back"
	sleep 0.5
	ctl restored status
	sample blink5 "$pin" 2400
	stop_ledd
	;;
*)
	say ERROR unknown scenario "$scenario"
	;;
esac
finish
