#!/bin/bash
# tests/system/guest/checks.sh PHASE - the system tier's checks, run inside
# the booted Debian 12 guest as root by ledd-ci.service (tests/system/image.sh)
# from the tier's disk, mounted on /ci. PHASE is boot1 (install and use the
# package) or boot2 (the same image booted again: restore, then purge).
#
# Prints one line per check on the second serial port (the host's results
# log) and on the console:
#   LEDD-CHECK PASS|FAIL name detail...
# LEDD-INFO lines trace every command; LEDD-DONE PHASE ends a phase. The host
# (tests/system/run.sh) owns the plan: a check never printed is a failure.
set -eEuo pipefail

phase=${1:-}
CI=/ci
RES=/dev/ttyS1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

up() { cut -d' ' -f1 /proc/uptime; }
say() {
	echo "$*"
	echo "$*" >"$RES"
}
pass() { local n=$1; shift; say "LEDD-CHECK PASS $n $*"; }
fail() { local n=$1; shift; say "LEDD-CHECK FAIL $n $*"; }
info() { say "LEDD-INFO [$(up)] $*"; }
# ledpath, active_trigger, has_trigger, rd, ino, near, verdict: shared with
# the kernel tier's guest (tests/lib/guest-leds.sh, copied in by run.sh).
# shellcheck source=tests/lib/guest-leds.sh
. "$CI/guest-leds.sh"
# An unexpected error in the script itself: say where, the host counts the
# checks that were not reached as missing.
trap 'say "LEDD-INFO script error: line $LINENO: $BASH_COMMAND (exit $?)"' ERR

oneline() { tr '\n' ' ' | tr -s ' ' | sed 's/ $//'; }

# run CMD...: run it, RC = exit status, OUT = stdout+stderr on one line.
# The trace gives the guest time the command started at, [START->END].
run() {
	local t0
	t0=$(up)
	RC=0
	OUT=$("$@" 2>&1) || RC=$?
	OUT=$(printf '%s' "$OUT" | oneline)
	say "LEDD-INFO [$t0->$(up)] \$ $* -> rc=$RC $OUT"
}
# lc USER ARGS...: ledctl as USER (a login's groups, from /etc/group).
lc() {
	local user=$1
	shift
	run runuser -u "$user" -- ledctl "$@"
}
# json_field KEY: a field of the last ledctl --json reply.
json_field() { printf '%s' "$OUT" | sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" | head -n1; }

# wait_until SECONDS CMD...: poll CMD every 0.2 s (guest time), at most SECONDS.
wait_until() {
	local limit=$1 i=0
	shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -le $((limit * 5)) ] || return 1
		sleep 0.2
	done
}
prop() { systemctl show -p "$2" --value "$1"; }


# The emulated PS/2 keyboard's LEDs (input_leds), by function.
led_dev() { # led_dev capslock -> input0::capslock
	local d
	for d in /sys/class/leds/*::"$1"; do
		[ -e "$d" ] && basename "$d" && return 0
	done
	return 1
}
keyboard_leds() { led_dev capslock && led_dev numlock && led_dev scrolllock; }
# perm LED FILE -> "GROUP MODE" (e.g. "leds 664")
perm() { stat -L -c '%G %a' "$(ledpath "$1")/$2" 2>/dev/null || echo "missing -"; }
group_writable_by_leds() { # group leds and g+w
	local g m
	read -r g m <<<"$(perm "$1" "$2")"
	[ "$g" = leds ] && [ $((8#${m:-0} & 8#020)) -ne 0 ]
}

# sample LED SECONDS: the kernel's blink as ledsample measures it (guest clock).
SAMPLE=
sample() {
	SAMPLE=$("$CI/ledsample" "$(ledpath "$1")/brightness" "$2" 2>&1) || SAMPLE="ledsample failed: $SAMPLE"
	info "sample $1 ${2}s: $SAMPLE"
}
freq_of() { printf '%s' "$SAMPLE" | tr ' ' '\n' | sed -n 's/^freq=//p'; }
# rate_ok LED HZ: the LED blinks at HZ +-10 % over 4 s; DETAIL says what was seen.
rate_ok() {
	sample "$1" 4
	local f
	f=$(freq_of)
	DETAIL="ordered $2 Hz, kernel blinks at ${f:-?} Hz (trigger $(active_trigger "$1"), delay_on $(rd "$1" delay_on), delay_off $(rd "$1" delay_off))"
	near "${f:-}" "$2" 10
}

ledd_pid() { prop ledd.service MainPID; }
ledd_running() { [ "$(prop ledd.service ActiveState)" = active ] && [ "$(ledd_pid)" != 0 ]; }

CONFIG='# /etc/ledd/ledd.toml written by tests/system (the keyboard LEDs of the emulated PC)
socket_group = "leds"
state_file = "/var/lib/ledd/state.toml"
default_led = "caps"

[leds.caps]
device = "CAPS"
[leds.num]
device = "NUM"
[leds.scroll]
device = "SCROLL"
'

save_journal() {
	mkdir -p "$CI/out"
	journalctl -b --no-pager -o short-monotonic >"$CI/out/journal-$phase.txt" 2>&1 || info "journalctl -b failed (exit $?)"
}

# The boot is over: no job left but ours (is-system-running --wait would wait
# for this very unit, which runs after multi-user.target), multi-user.target
# reached, no unit failed.
other_jobs() { systemctl list-jobs --no-legend | grep -v ' ledd-ci\.service ' || :; }
no_other_jobs() { [ -z "$(other_jobs)" ]; }
system_up() {
	local s=0 failed target
	wait_until 120 no_other_jobs || s=1
	target=$(systemctl is-active multi-user.target || :)
	[ "$target" = active ] || s=1
	failed=$(systemctl --failed --no-legend --plain | oneline)
	[ -z "$failed" ] || s=1
	verdict "$1" $s "multi-user.target $target; jobs left: $(other_jobs | oneline); failed units: ${failed:-none}; guest uptime $(up) s"
}

finish() {
	save_journal
	say "LEDD-DONE $phase"
}

# The MQTT bridge (issue 14), as the README tells a classroom to set it up:
# the package, one broker line, enable --now; then orders through the
# broker (Debian's mosquitto in the image, on loopback) reach the kernel,
# and a local ledctl order shows up on the retained state topic. Runs after
# the downgrade and upgrade checks: ledd-mqtt depends on ledd's exact
# version, so installing it earlier would tie the two releases together.
mq_node=$(hostname)
mq_sub() { mosquitto_sub -h 127.0.0.1 -C 1 -W "$1" -t "$2" 2>&1; }
mqtt_active() { [ "$(prop ledd-mqtt.service ActiveState)" = active ]; }
mqtt_online() { [ "$(mq_sub 2 "ledd/$mq_node/availability")" = online ]; }
mqtt_checks() {
	local deb s
	cp "$CI"/ledd-mqtt_*.deb /root/
	deb=$(cd /root && ls ledd-mqtt_*.deb)
	run env -C /root DEBIAN_FRONTEND=noninteractive apt install -y "./$deb"
	s=$RC
	[ $RC = 0 ] || info "apt: $OUT"
	id -nG ledd-mqtt 2>/dev/null | tr ' ' '\n' | grep -qx leds || s=1
	local enabled active
	enabled=$(systemctl is-enabled ledd-mqtt.service 2>&1 || :)
	active=$(prop ledd-mqtt.service ActiveState)
	[ "$enabled" = disabled ] && [ "$active" = inactive ] || s=1
	verdict b1-mqtt-install $s "apt install -y ./$deb: exit $RC; user ledd-mqtt in: $(id -nG ledd-mqtt 2>&1); ledd-mqtt.service $enabled, $active (want disabled, inactive: it needs a broker first)"

	# The README's one line, then the check and the start.
	echo 'broker = "mqtt://127.0.0.1"' >>/etc/ledd/mqtt.toml
	run ledd-mqtt --check-config
	s=$RC
	local check=$OUT
	run systemctl enable --now ledd-mqtt.service
	[ $RC = 0 ] || s=1
	wait_until 20 mqtt_active || s=1
	wait_until 20 mqtt_online || s=1
	verdict b1-mqtt-start $s "ledd-mqtt --check-config: $check; systemctl enable --now: exit $RC; $(prop ledd-mqtt.service ActiveState), availability $(mq_sub 2 "ledd/$mq_node/availability")"

	# An order through the broker: the kernel blinks num at 4 Hz, and the
	# reply comes back on result.
	local result
	result=$(mktemp)
	mosquitto_sub -h 127.0.0.1 -C 1 -W 15 -t "ledd/$mq_node/num/result" >"$result" 2>&1 &
	local sub=$!
	sleep 1
	run mosquitto_pub -h 127.0.0.1 -q 1 -t "ledd/$mq_node/num/set" -m 'blink 4'
	s=$RC
	wait "$sub" || s=1
	grep -q '^ok led=num .*mode=blink freq=4' "$result" || s=1
	rate_ok "$NUM" 4 || s=1
	verdict b1-mqtt-order $s "mosquitto_pub ledd/$mq_node/num/set 'blink 4': result '$(oneline <"$result")'; $DETAIL"
	rm -f "$result"

	# A local order shows on the retained state at once.
	lc pupil blink num 3
	s=$RC
	local state=
	check_state() { state=$(mq_sub 2 "ledd/$mq_node/num/state"); case $state in *'"freq":3,'*) ;; *) return 1 ;; esac; }
	wait_until 5 check_state || s=1
	verdict b1-mqtt-state $s "ledctl blink num 3 as pupil: exit $RC; retained ledd/$mq_node/num/state: $state"

	run systemd-analyze security --no-pager ledd-mqtt.service
	local score
	score=$(printf '%s' "$OUT" | sed -n 's/.*Overall exposure level for ledd-mqtt.service: *\([0-9.]*\).*/\1/p')
	s=$RC
	awk -v x="${score:-}" 'BEGIN { exit !(x != "" && x + 0 <= 2.5) }' || s=1
	[ "$(prop ledd.service PrivateNetwork)" = yes ] || s=1
	verdict b1-mqtt-security $s "systemd-analyze security ledd-mqtt.service (online): exposure ${score:-?} (want <= 2.5), exit $RC; ledd.service keeps PrivateNetwork=$(prop ledd.service PrivateNetwork)"

	run journalctl -b -q --no-pager -p err -u ledd-mqtt.service
	s=$RC
	[ -z "$OUT" ] || s=1
	verdict b1-mqtt-journal $s "journalctl -b -p err -u ledd-mqtt.service: ${OUT:-(nothing)}"
	info "ledd-mqtt journal this boot: $(journalctl -b -q --no-pager -u ledd-mqtt.service -o cat | tail -n 20 | oneline)"
}

boot1() {
	info "boot1: kernel $(uname -r), systemd $(systemctl --version | head -n1 | cut -d' ' -f2)"
	system_up b1-system-up

	local s=0
	wait_until 30 keyboard_leds || s=1
	if [ $s = 0 ]; then
		CAPS=$(led_dev capslock) NUM=$(led_dev numlock) SCROLL=$(led_dev scrolllock)
	else
		CAPS=input0::capslock NUM=input0::numlock SCROLL=input0::scrolllock
	fi
	verdict b1-keyboard-leds $s "$(find /sys/class/leds -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | oneline)"

	# The story starts on a system where nothing loaded the timer trigger:
	# the first order below tells whether the package copes with that.
	s=0
	if grep -q '^ledtrig_timer ' /proc/modules || has_trigger "$CAPS" timer; then s=1; fi
	verdict b1-no-timer-before-install $s "ledtrig_timer loaded: $(grep -c '^ledtrig_timer ' /proc/modules || :); $CAPS triggers: $(cat "$(ledpath "$CAPS")/trigger" 2>&1)"

	cp "$CI"/ledd_*.deb /root/
	local deb
	deb=$(cd /root && ls ledd_*.deb)
	# What the README tells users, from the directory holding the .deb. No
	# network: apt takes the dependencies from what is installed.
	run env -C /root DEBIAN_FRONTEND=noninteractive apt install -y "./$deb"
	verdict b1-apt-install $RC "apt install -y ./$deb: exit $RC"
	[ $RC = 0 ] || info "apt: $OUT"

	run systemctl is-active ledd.socket
	verdict b1-socket-active $RC "ledd.socket: $OUT"
	run systemctl is-active ledd.service
	verdict b1-service-active $RC "ledd.service: $OUT"

	local st
	# Group and mode are what lets members of leds in. (The owner is root
	# as ledd.socket creates it, then ledd: systemd chowns RuntimeDirectory=
	# /run/ledd recursively to User= when ledd.service starts.)
	st=$(stat -c '%F %G %a' /run/ledd/ledd.sock 2>&1 || :)
	verdict b1-socket-mode "$([ "$st" = "socket leds 660" ]; echo $?)" "/run/ledd/ledd.sock: $st, owner $(stat -c %U /run/ledd/ledd.sock 2>&1 || :) (want socket, group leds, mode 660)"

	# The udev rule applied at install (postinst), before any order.
	s=0
	local d f bad=
	for d in "$CAPS" "$NUM" "$SCROLL"; do
		for f in brightness trigger; do
			group_writable_by_leds "$d" "$f" || { s=1; bad+=" $d/$f=$(perm "$d" "$f" | tr ' ' :)"; }
		done
	done
	verdict b1-led-files-group $s "brightness and trigger of $CAPS $NUM $SCROLL group leds g+w${bad:+; wrong:$bad}"

	run usermod -a -G leds pupil
	s=$RC
	id -nG pupil | tr ' ' '\n' | grep -qx leds || s=1
	id -nG outsider | tr ' ' '\n' | grep -qx leds && s=1
	verdict b1-pupil-in-leds $s "pupil: $(id -nG pupil); outsider: $(id -nG outsider)"

	# The admin describes the LEDs (a conffile, edited after the install)
	# and restarts ledd. Nothing here loads a trigger module.
	printf '%s' "$CONFIG" | sed -e "s/\"CAPS\"/\"$CAPS\"/" -e "s/\"NUM\"/\"$NUM\"/" -e "s/\"SCROLL\"/\"$SCROLL\"/" >/etc/ledd/ledd.toml
	run ledd --check-config --config /etc/ledd/ledd.toml
	s=$RC
	run systemctl restart ledd.service
	[ $RC = 0 ] || s=1
	ledd_running || s=1
	lc pupil list
	[ $RC = 0 ] || s=1
	verdict b1-config-restart $s "ledd --check-config, systemctl restart ledd, ledctl list: $OUT"

	# Right after the install, the user's first order (issue 16, bug 1).
	lc pupil blink caps 2
	local first_rc=$RC first_out=$OUT
	if [ $first_rc = 0 ] && rate_ok "$CAPS" 2; then
		pass b1-first-blink "ledctl blink caps 2 as pupil: exit 0; $DETAIL"
	elif [ $first_rc = 0 ]; then
		fail b1-first-blink "ledctl blink caps 2 as pupil: exit 0 but $DETAIL"
	else
		fail b1-first-blink "ledctl blink caps 2 as pupil: exit $first_rc: $first_out"
	fi

	# The rest needs the timer trigger. If the package did not load it, load
	# it the way the package's modules-load.d does at the next boot, and
	# order again (info lines only: the failure is b1-first-blink's).
	if ! has_trigger "$CAPS" timer; then
		info "timer trigger not available after the install: systemctl restart systemd-modules-load (what the next boot would do)"
		run systemctl restart systemd-modules-load.service
		lc pupil blink caps 2
	fi

	# The kernel re-created delay_on/delay_off root-owned when the trigger
	# became timer; the udev change rule hands them to group leds.
	s=0 bad=
	for f in delay_on delay_off; do
		wait_until 5 group_writable_by_leds "$CAPS" "$f" || { s=1; bad+=" $f=$(perm "$CAPS" "$f" | tr ' ' :)"; }
	done
	verdict b1-delay-files-group $s "$CAPS: delay_on $(perm "$CAPS" delay_on | tr ' ' :), delay_off $(perm "$CAPS" delay_off | tr ' ' :) (want leds, g+w)${bad:+; wrong:$bad}"

	lc outsider status caps
	verdict b1-outsider-exit-4 "$([ $RC = 4 ]; echo $?)" "ledctl status as outsider (not in leds): exit $RC (want 4): $OUT"

	# reload: SIGHUP, same process, the blink untouched.
	local pid0 ino0 ok
	pid0=$(ledd_pid) ino0=$(ino "$CAPS" delay_on)
	run systemctl reload ledd.service
	s=$RC
	wait_until 10 ledd_running || s=1
	[ "$(ledd_pid)" = "$pid0" ] || s=1
	[ "$(ino "$CAPS" delay_on)" = "$ino0" ] || s=1
	lc pupil --json status caps
	[ $RC = 0 ] && [ "$(json_field mode)" = blink ] || s=1
	verdict b1-reload $s "systemctl reload ledd: exit $s; MainPID $pid0 -> $(ledd_pid); delay_on inode $ino0 -> $(ino "$CAPS" delay_on); status mode=$(json_field mode) freq=$(json_field freq)"

	# restart: a new process, the blink kept as it was (no trigger rewrite).
	pid0=$(ledd_pid) ino0=$(ino "$CAPS" delay_on)
	run systemctl restart ledd.service
	s=$RC
	wait_until 20 ledd_running || s=1
	[ "$(ledd_pid)" != "$pid0" ] || s=1
	[ "$(ino "$CAPS" delay_on)" = "$ino0" ] || s=1
	ok=0
	rate_ok "$CAPS" 2 || ok=1
	[ $ok = 0 ] || s=1
	verdict b1-restart-keeps-blink $s "systemctl restart ledd: MainPID $pid0 -> $(ledd_pid); delay_on inode $ino0 -> $(ino "$CAPS" delay_on); $DETAIL"

	# SIGKILL: Restart=on-failure brings ledd back (RestartSec=2s).
	local n0
	pid0=$(ledd_pid) n0=$(prop ledd.service NRestarts) ino0=$(ino "$CAPS" delay_on)
	run kill -KILL "$pid0"
	s=$RC
	# shellcheck disable=SC2016
	wait_until 30 bash -c '[ "$(systemctl show -p MainPID --value ledd.service)" != "'"$pid0"'" ] && [ "$(systemctl show -p MainPID --value ledd.service)" != 0 ] && [ "$(systemctl show -p ActiveState --value ledd.service)" = active ]' || s=1
	[ "$(prop ledd.service NRestarts)" = $((n0 + 1)) ] || s=1
	lc pupil status caps
	[ $RC = 0 ] || s=1
	[ "$(ino "$CAPS" delay_on)" = "$ino0" ] || s=1
	verdict b1-sigkill-restarts $s "kill -KILL $pid0: MainPID now $(ledd_pid), NRestarts $n0 -> $(prop ledd.service NRestarts), delay_on inode $ino0 -> $(ino "$CAPS" delay_on), ledctl status exit $RC"

	# Socket activation: the service stopped, the socket still listens, the
	# next order starts ledd.
	run systemctl stop ledd.service
	s=$RC
	local state_stopped
	state_stopped=$(prop ledd.service ActiveState)
	[ "$state_stopped" = inactive ] || s=1
	[ "$(systemctl is-active ledd.socket)" = active ] || s=1
	lc pupil status caps
	[ $RC = 0 ] || s=1
	wait_until 20 ledd_running || s=1
	verdict b1-socket-activation $s "after stop: ledd.service $state_stopped, ledd.socket $(systemctl is-active ledd.socket); ledctl status exit $RC; ledd.service now $(prop ledd.service ActiveState), MainPID $(ledd_pid)"

	# Watchdog: ledd pings it from its event loop; over more than
	# WatchdogSec nothing restarts it.
	local wd pid1 n1 ts0 ts1
	wd=$(prop ledd.service WatchdogUSec)
	pid1=$(ledd_pid) n1=$(prop ledd.service NRestarts) ts0=$(prop ledd.service WatchdogTimestampMonotonic)
	info "watchdog: WatchdogUSec=$wd, waiting 40 s (guest time)"
	sleep 40
	ts1=$(prop ledd.service WatchdogTimestampMonotonic)
	s=0
	[ "$wd" = 30s ] || s=1
	ledd_running || s=1
	[ "$(ledd_pid)" = "$pid1" ] || s=1
	[ "$(prop ledd.service NRestarts)" = "$n1" ] || s=1
	[ "$ts1" -gt "$ts0" ] 2>/dev/null || s=1
	verdict b1-watchdog $s "WatchdogSec $wd; after 40 s: MainPID $pid1 -> $(ledd_pid), NRestarts $n1 -> $(prop ledd.service NRestarts), last ping at ${ts0}us -> ${ts1}us"

	# The hardening as systemd sees the running unit.
	run systemd-analyze security --no-pager ledd.service
	local score
	score=$(printf '%s' "$OUT" | sed -n 's/.*Overall exposure level for ledd.service: *\([0-9.]*\).*/\1/p')
	s=$RC
	awk -v x="${score:-}" 'BEGIN { exit !(x != "" && x + 0 <= 1.0) }' || s=1
	verdict b1-security $s "systemd-analyze security ledd.service (online): exposure ${score:-?} (want <= 1.0), exit $RC"

	# Before the reboot: the last order, which the next boot must restore.
	lc pupil blink caps 2.5
	s=$RC
	ok=0
	rate_ok "$CAPS" 2.5 || ok=1
	[ $ok = 0 ] || s=1
	grep -q caps /var/lib/ledd/state.toml || s=1
	verdict b1-last-order $s "ledctl blink caps 2.5: exit $RC; $DETAIL; state file: $(oneline </var/lib/ledd/state.toml 2>&1 || :)"

	# Releases, the Debian way (issue 15): down to the previous release and
	# up again, over a conffile the administrator changed, answering as
	# unattended upgrades do (--force-confdef --force-confold). Each time the
	# change and the state file stay, the LED blinks on at its rate, and the
	# service is restarted cleanly (a new MainPID, active, no failure). The
	# two releases ship different ledd.toml files: dpkg keeps the
	# administrator's and puts the package's beside it as ledd.toml.dpkg-dist.
	echo '# changed by the administrator (tests/system)' >>/etc/ledd/ledd.toml
	local prev cur pid0 confold
	prev=$(cd "$CI/previous" && ls ledd_*.deb)
	cur=$(cd /root && ls ledd_*.deb)
	confold=(-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
	cp "$CI/previous/$prev" /root/previous.deb
	for step in downgrade upgrade; do
		pid0=$(ledd_pid)
		local debfile=/root/previous.deb
		[ "$step" = upgrade ] && debfile=/root/$cur
		if [ "$step" = downgrade ]; then
			run env -C /root DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-downgrades "${confold[@]}" ./previous.deb
		else
			run env -C /root DEBIAN_FRONTEND=noninteractive apt-get install -y "${confold[@]}" "./$cur"
		fi
		s=$RC
		local installed
		installed=$(dpkg-query -W -f='${Version}' ledd)
		local want=${prev#ledd_}
		[ "$step" = upgrade ] && want=${cur#ledd_}
		[ "$installed" = "${want%%_*}" ] || s=1
		wait_until 10 ledd_running || s=1
		[ "$(ledd_pid)" != "$pid0" ] || s=1
		[ "$(prop ledd.service Result)" = success ] || s=1
		grep -q '^# changed by the administrator' /etc/ledd/ledd.toml || s=1
		[ ! -e /etc/ledd/ledd.toml.dpkg-old ] || s=1
		local conffile="kept, the package's unchanged"
		if [ -e /etc/ledd/ledd.toml.dpkg-dist ]; then
			conffile="kept, the package's beside it as .dpkg-dist"
			dpkg-deb --fsys-tarfile "$debfile" | tar -xO ./etc/ledd/ledd.toml | cmp -s - /etc/ledd/ledd.toml.dpkg-dist || {
				s=1
				conffile="ledd.toml.dpkg-dist is not the package's"
			}
		fi
		grep -q caps /var/lib/ledd/state.toml || s=1
		rate_ok "$CAPS" 2.5 || s=1
		verdict "b1-$step" $s "apt-get install ${step}: exit $RC; ledd $installed (want ${want%%_*}); MainPID $pid0 -> $(ledd_pid), $(prop ledd.service ActiveState), Result $(prop ledd.service Result); administrator's ledd.toml $conffile ($(ls /etc/ledd | oneline)); state file: $(oneline </var/lib/ledd/state.toml 2>&1 || :); $DETAIL"
		[ $RC = 0 ] || info "apt: $OUT"
	done

	mqtt_checks

	# A healthy run leaves no error in ledd's journal: messages of the
	# processes of ledd.service and ledd.socket and systemd's messages about
	# those units (journalctl -u), priority err or worse, this boot.
	run journalctl -b -q --no-pager -p err -u ledd.service -u ledd.socket
	s=$RC
	[ -z "$OUT" ] || s=1
	verdict b1-journal-no-errors $s "journalctl -b -p err -u ledd.service -u ledd.socket: ${OUT:-(nothing)}"
	info "ledd journal this boot: $(journalctl -b -q --no-pager -u ledd.service -u ledd.socket -o cat | tail -n 30 | oneline)"
	save_journal

	# One more order right before the power-off, well within state_delay:
	# ledd must still have it on disk for the next boot (written when
	# systemd stops it).
	lc pupil blink num 1.25
	verdict b1-order-before-poweroff $RC "ledctl blink num 1.25, then power off at once: exit $RC: $OUT"
	say "LEDD-DONE $phase"
}

boot2() {
	info "boot2: kernel $(uname -r)"
	system_up b2-system-up
	CAPS=$(led_dev capslock || echo input0::capslock) NUM=$(led_dev numlock || echo input0::numlock)

	run systemctl is-active ledd.service
	verdict b2-service-active $RC "ledd.service started at boot: $OUT"

	# No order this boot, and no waiting: the LED must already blink at the
	# last ordered rate (issue 16, bug 2).
	local s=0
	rate_ok "$CAPS" 2.5 || s=1
	verdict b2-restored-rate $s "$DETAIL"
	s=0
	rate_ok "$NUM" 1.25 || s=1
	verdict b2-restored-last-second $s "num, ordered just before the power-off: $DETAIL"

	lc pupil --json status caps
	s=$RC
	[ "$(json_field mode)" = blink ] || s=1
	near "$(json_field freq)" 2.5 10 || s=1
	verdict b2-status $s "ledctl status caps: mode=$(json_field mode) freq=$(json_field freq) (want blink 2.5): $OUT"

	run journalctl -b -q --no-pager -p warning -u ledd.service -u ledd.socket
	s=$RC
	[ -z "$OUT" ] || s=1
	verdict b2-journal-clean $s "journalctl -b -p warning -u ledd.service -u ledd.socket: ${OUT:-(nothing)}"
	info "ledd journal this boot: $(journalctl -b -q --no-pager -u ledd.service -u ledd.socket -o cat | tail -n 30 | oneline)"

	# The bridge was enabled: it is back after the boot, online.
	s=0
	wait_until 30 mqtt_active || s=1
	wait_until 30 mqtt_online || s=1
	verdict b2-mqtt-after-boot $s "ledd-mqtt.service $(prop ledd-mqtt.service ActiveState), availability $(mq_sub 2 "ledd/$mq_node/availability")"

	# Purge: nothing of the packages is left, running or on disk (purging
	# ledd takes ledd-mqtt, which depends on it, with it).
	local files
	files=$(dpkg-query -L ledd ledd-mqtt 2>/dev/null | while read -r f; do [ -d "$f" ] || echo "$f"; done)
	run env DEBIAN_FRONTEND=noninteractive apt purge -y ledd ledd-mqtt
	verdict b2-purge $RC "apt purge -y ledd ledd-mqtt: exit $RC"
	local left=() f
	for f in $files /etc/ledd /var/lib/ledd /run/ledd /usr/lib/ledd /usr/share/doc/ledd /usr/share/doc/ledd-mqtt \
		/etc/systemd/system/multi-user.target.wants/ledd-mqtt.service \
		/var/lib/systemd/deb-systemd-helper-enabled/ledd-mqtt.service \
		/etc/systemd/system/multi-user.target.wants/ledd.service \
		/etc/systemd/system/sockets.target.wants/ledd.socket \
		/var/lib/systemd/deb-systemd-helper-enabled/ledd.service \
		/var/lib/systemd/deb-systemd-helper-enabled/ledd.socket \
		/var/lib/systemd/deb-systemd-helper-masked/ledd.service; do
		if [ -e "$f" ] || [ -L "$f" ]; then left+=("$f"); fi
	done
	s=0
	[ ${#left[@]} -eq 0 ] || s=1
	[ -n "$files" ] || s=1
	local status
	status=$(dpkg-query -W -f='${Status}' ledd 2>/dev/null || echo unknown)
	case $status in *not-installed | unknown) ;; *) s=1 ;; esac
	local mstatus
	mstatus=$(dpkg-query -W -f='${Status}' ledd-mqtt 2>/dev/null || echo unknown)
	case $mstatus in *not-installed | unknown) ;; *) s=1 ;; esac
	status+=", ledd-mqtt '$mstatus'"
	verdict b2-purge-nothing-left $s "dpkg status '$status'; $(echo "$files" | wc -w) package files checked + /etc/ledd /var/lib/ledd /run/ledd, unit links; left: ${left[*]:-(nothing)}"

	s=0
	local ls_svc ls_sock procs
	local ls_mqtt
	ls_svc=$(prop ledd.service LoadState) ls_sock=$(prop ledd.socket LoadState) ls_mqtt=$(prop ledd-mqtt.service LoadState)
	[ "$ls_svc" = not-found ] && [ "$ls_sock" = not-found ] && [ "$ls_mqtt" = not-found ] || s=1
	procs=$(($(pgrep -cx ledd || :) + $(pgrep -cx ledd-mqtt || :)))
	[ "$procs" = 0 ] || s=1
	verdict b2-purge-units-gone $s "ledd.service $ls_svc, ledd.socket $ls_sock, ledd-mqtt.service $ls_mqtt, ledd and ledd-mqtt processes: $procs"
	finish
}

case $phase in
boot1) boot1 ;;
boot2) boot2 ;;
*)
	say "LEDD-CHECK FAIL phase unknown phase '$phase' (kernel command line: $(cat /proc/cmdline))"
	exit 1
	;;
esac
