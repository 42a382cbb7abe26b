#!/usr/bin/env bash
# tests/system/run.sh - the package on a real booted Debian 12 system (issue 16).
#
# Builds (once, cached under target/system-cache/) a Debian 12 image with
# mmdebstrap: minbase, systemd as PID 1, udev, journald, dbus, the stock
# kernel; two users, `pupil` (added to group leds after the install) and
# `outsider` (never). Boots it under qemu-system-x86_64 -accel tcg with its
# own kernel and initrd, no network device, and a second disk holding the
# ledd .deb, a static sampler and the checks (tests/system/guest/checks.sh),
# which ledd-ci.service runs at boot. Boot 1 installs the package with apt
# and uses it as a user would: socket and service, permissions, the first
# order right after the install, reload, restart, SIGKILL, socket
# activation, watchdog, systemd-analyze security, journal. Boot 2 is the
# same image booted again: the LED must blink at the last ordered rate with
# no new order, then `apt purge` must leave nothing behind.
#
# The guest prints `LEDD-CHECK PASS|FAIL name detail` on its second serial
# port; this script owns the plan (every check expected, in order), prints
# `PASS: name detail` / `FAIL: name detail` per check (tests/lib/tier.sh), counts a check that was
# never reported as a failure, and ends with "N passed, N failed, N skipped".
#
# usage: tests/system/run.sh        (as root: installs host tools with apt)
# env:   LEDD_DEB=PATH             test this .deb instead of building one
#        LEDD_SYSTEM_TIMEOUT=S     seconds of host time per boot before the
#                                  guest is declared hung (default 420)
#        LEDD_SYSTEM_ICOUNT=0      guest on the host's real-time clock instead
#                                  of qemu's instruction counter (see below)
#        LEDD_SYSTEM_REBUILD=1     rebuild the cached image
# Files: target/system-cache/image-KEY/ (image, kernel, initrd; KEY = hash of
#        tests/system/image.sh), target/system-cache/debs/ (downloads);
#        target/system-test/ (this run: console logs, results, journals).
# Exit status: 0 only if every planned check passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/lib/tier.sh
. "$root/tests/lib/tier.sh"
tier_needs_root system "apt-get, mmdebstrap, mkfs.ext4 -d of a root file system"
# ledd_copy_tree, ledd_build_deb: the package build of tests/deb/run.sh.
. "$root/tests/lib/build-deb.sh"
cache=$root/target/system-cache
work=$root/target/system-test
timeout_s=${LEDD_SYSTEM_TIMEOUT:-420}
export DEBIAN_FRONTEND=noninteractive

# --- Plan ---------------------------------------------------------------------
# Host-side steps, then the guest's checks of each boot, in order.
plan_host=(host-tools image deb ledsample ci-disk)
plan_boot1=(b1-system-up b1-keyboard-leds b1-no-timer-before-install b1-apt-install
	b1-socket-active b1-service-active b1-socket-mode b1-led-files-group b1-pupil-in-leds
	b1-config-restart b1-first-blink b1-delay-files-group b1-outsider-exit-4 b1-reload
	b1-restart-keeps-blink b1-sigkill-restarts b1-socket-activation b1-watchdog b1-security
	b1-last-order b1-downgrade b1-upgrade
	b1-mqtt-install b1-mqtt-start b1-mqtt-order b1-mqtt-state b1-mqtt-security b1-mqtt-journal
	b1-journal-no-errors b1-order-before-poweroff boot1-done)
plan_boot2=(b2-system-up b2-service-active b2-restored-rate b2-restored-last-second b2-status b2-journal-clean
	b2-mqtt-after-boot b2-purge b2-purge-nothing-left b2-purge-units-gone boot2-done)
plan=("${plan_host[@]}" "${plan_boot1[@]}" "${plan_boot2[@]}")

# finish (tests/lib/tier.sh): every planned check that was not reported is a failure.
tier_plan_names "${plan[@]}"

echo "plan: ${#plan[@]} checks: ${plan[*]}"
mkdir -p "$cache" "$work"

# --- Host tools -----------------------------------------------------------------
# Each entry: a command (or file) the tier needs, and the package that has it.
need=(
	"mmdebstrap mmdebstrap"
	"qemu-system-x86_64 qemu-system-x86"
	"qemu-img qemu-utils"
	"mkfs.ext4 e2fsprogs"
	"debugfs e2fsprogs"
	"gcc gcc"
	"/usr/lib/x86_64-linux-gnu/libc.a libc6-dev"
	"rsync rsync"
)
if [ -z "${LEDD_DEB:-}" ]; then
	need+=("dpkg-buildpackage dpkg-dev" "dh debhelper" "fakeroot fakeroot" "dtc device-tree-compiler")
fi
missing_tools() { # prints the packages of the missing tools, one per line
	local entry what pkg
	for entry in "${need[@]}"; do
		what=${entry% *} pkg=${entry#* }
		if [[ $what == /* ]]; then [ -e "$what" ] || echo "$pkg"; else command -v "$what" >/dev/null || echo "$pkg"; fi
	done | sort -u
}
tools() {
	local missing=()
	mapfile -t missing < <(missing_tools)
	[ ${#missing[@]} -eq 0 ] && return 0
	note "apt-get install ${missing[*]}"
	apt-get -o DPkg::Lock::Timeout=600 update -qq >"$work/apt.log" 2>&1 || { tail -n 5 "$work/apt.log"; return 1; }
	local extra=()
	# A backports qemu-utils (preinstalled on some images) blocks the
	# archive's qemu-system-x86: take the release's qemu-utils with it.
	if [[ " ${missing[*]} " == *" qemu-system-x86 "* ]] &&
		dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null | grep -q bpo; then
		extra=(--allow-downgrades "qemu-utils/$(. /etc/os-release && echo "$VERSION_CODENAME")")
	fi
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${extra[@]}" "${missing[@]}" \
		>>"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log"; return 1; }
	missing=()
	mapfile -t missing < <(missing_tools)
	[ ${#missing[@]} -eq 0 ] || { echo "still missing after apt-get install: ${missing[*]}"; return 1; }
}
if out=$(tools 2>&1); then
	pass host-tools "mmdebstrap, qemu-system-x86_64, qemu-img, e2fsprogs, gcc, package build tools"
else
	fail host-tools "cannot install the host tools: $out"
	finish
fi

# --- Image (cached) -----------------------------------------------------------------
key=$(sha256sum "$here/image.sh" | cut -c1-16)
img=$cache/image-$key
build_image() {
	exec 9>"$cache/.lock"
	flock -w 1200 9 || { echo "another run holds $cache/.lock"; return 1; }
	[ "${LEDD_SYSTEM_REBUILD:-0}" != 1 ] || rm -rf --one-file-system "$img"
	[ -e "$img/.complete" ] && return 0
	note "building the image (recipe tests/system/image.sh, key $key): log $cache/image-$key.log"
	rm -rf --one-file-system "$img" && mkdir -p "$img"
	local t0=$SECONDS
	# Bounded: a stalled mirror must not hang the tier (mmdebstrap cleans up
	# its mounts on SIGTERM).
	timeout -k 30 1200 "$here/image.sh" build "$img" "$cache/debs" >"$cache/image-$key.log" 2>&1 ||
		{ echo "image.sh exit $? (124: over 1200 s)"; tail -n 30 "$cache/image-$key.log"; rm -rf --one-file-system "$img"; return 1; }
	touch "$img/.complete"
	note "image built in $((SECONDS - t0)) s"
	# Only the current recipe's image is kept.
	find "$cache" -maxdepth 1 -name 'image-*' ! -name "image-$key" ! -name "image-$key.log" -exec rm -rf --one-file-system {} +
}
if out=$(build_image 2>&1); then
	[ -z "$out" ] || printf '%s\n' "$out"
	pass image "Debian 12 image $img ($(du -sh --apparent-size "$img/root.img" | cut -f1), kernel $(cat "$img/kernel-version"), $(wc -l <"$img/packages.txt") packages)"
else
	fail image "image build failed: $out"
	finish
fi

# --- The package ------------------------------------------------------------------
rm -rf "$work/disk"
mkdir -p "$work/disk/out"
deb=
if [ -n "${LEDD_DEB:-}" ]; then
	if [ ! -f "$LEDD_DEB" ]; then
		fail deb "LEDD_DEB=$LEDD_DEB: no such file"
	elif dpkg-deb -f "$LEDD_DEB" Package 2>/dev/null | grep -qx ledd; then
		deb=$LEDD_DEB
		pass deb "given by LEDD_DEB: $deb (version $(dpkg-deb -f "$deb" Version))"
	else
		fail deb "LEDD_DEB=$LEDD_DEB is not a ledd package"
	fi
else
	rm -rf "$work/src"
	# As tests/deb/run.sh builds it: a clean copy, the same cargo cache.
	buildlog=$work/build.log
	build() {
		ledd_copy_tree "$root" "$work/src/ledd" &&
			ledd_build_deb "$work/src/ledd" "$root/target/deb-test/cargo" "$buildlog" "nocheck parallel=$(nproc)"
	}
	t0=$SECONDS
	if out=$(build 2>&1); then
		deb=$(find "$work/src" -maxdepth 1 -name "ledd_*_$(dpkg --print-architecture).deb" | head -n1)
		if [ -n "$deb" ]; then
			pass deb "dpkg-buildpackage -us -uc -b: $(basename "$deb") in $((SECONDS - t0)) s"
		else
			fail deb "dpkg-buildpackage succeeded but left no .deb (log: $buildlog)"
		fi
	else
		fail deb "dpkg-buildpackage -us -uc -b failed (log: $buildlog): $out"
	fi
fi
[ -n "$deb" ] || finish
# Under its canonical name, whatever LEDD_DEB called it: the guest installs
# ./ledd_VERSION_ARCH.deb as a user would.
debname=ledd_$(dpkg-deb -f "$deb" Version | sed 's/^[0-9]*://')_$(dpkg-deb -f "$deb" Architecture).deb
cp "$deb" "$work/disk/$debname"
# The MQTT bridge's package, built beside ledd's (LEDD_DEB: from its directory).
mqttdeb=$(find "$(dirname "$deb")" -maxdepth 1 -name "ledd-mqtt_${debname#ledd_}" | head -n1)
if [ -n "$mqttdeb" ]; then
	cp "$mqttdeb" "$work/disk/"
else
	note "no ledd-mqtt_${debname#ledd_} beside $deb: the b1-mqtt checks will fail"
fi
# The previous release, for the downgrade and upgrade checks (built once from
# its git commit, cached with the apt tier's: tests/lib/build-deb.sh).
mkdir -p "$work/disk/previous"
if prevdeb=$(ledd_previous_deb "$root" "$root/target/apt-test" "$work/prev" 2>"$work/prev.err"); then
	cp "$prevdeb" "$work/disk/previous/"
	note "previous release for the upgrade checks: ${prevdeb#"$root"/}"
else
	note "no previous release: $(cat "$work/prev.err"); b1-downgrade and b1-upgrade will fail"
fi

# --- Sampler and the CI disk -----------------------------------------------------------
if out=$(gcc -static -O2 -Wall -Wextra -o "$work/disk/ledsample" "$root/tests/kernel/ledsample.c" 2>&1); then
	pass ledsample "tests/kernel/ledsample.c built static"
else
	fail ledsample "gcc -static tests/kernel/ledsample.c: $out"
	finish
fi
cp "$here/guest/checks.sh" "$root/tests/lib/guest-leds.sh" "$work/disk/"
data=$work/ci-disk.img
overlay=$work/root.qcow2
mkdisks() {
	rm -f "$data" "$overlay"
	mkfs.ext4 -F -q -L ledd-ci -d "$work/disk" "$data" 64M &&
		# The cached image stays pristine: both boots write to one overlay.
		qemu-img create -q -f qcow2 -F raw -b "$img/root.img" "$overlay"
}
if out=$(mkdisks 2>&1); then
	pass ci-disk "ext4 disk with $debname, ledsample, checks.sh; qcow2 overlay over the cached image"
else
	fail ci-disk "$out"
	finish
fi

# --- Boots ----------------------------------------------------------------------------
# Guest clock: qemu's instruction counter by default (-icount shift=0: one
# instruction = 1 ns of guest time; sleep=off: idle time is skipped), as in
# the kernel tier: the kernel's blink timers and the sampler then share a
# clock that the loaded shared host cannot stretch, and the guest's idle
# waits (the watchdog's 40 s) cost almost no host time. systemd's own
# timeouts count in that same guest time.
# One catch, with a disk: while the guest waits for an I/O, sleep=off jumps
# its clock to the next timer, again and again until the host completes the
# I/O, so one slow fsync could take minutes of guest time and fire any
# timeout or watchdog that happens to be next (seen: 150 s of guest time in
# one usermod). Two bounds on that: nohz=off keeps the 4 ms tick while idle,
# so each jump is at most one tick; cache=unsafe makes the guest's flushes
# no-ops on the host (the overlay is thrown away anyway).
clock=(-icount 'shift=0,sleep=off')
tick=nohz=off
[ "${LEDD_SYSTEM_ICOUNT:-1}" != 0 ] || clock=() tick=

# boot PHASE: run the guest once; parse its results against the plan.
boot() {
	local phase=$1
	local console=$work/console-$phase.log results=$work/results-$phase.log
	: >"$console"
	: >"$results"
	rm -f "$work/journal-$phase.txt"
	note "$phase: qemu (limit ${timeout_s} s, clock: ${clock[*]:-real time}), console log: $console"
	local t0=$SECONDS qrc=0
	# No network device at all; -no-reboot: a reboot or panic ends qemu.
	timeout -k 10 "$timeout_s" qemu-system-x86_64 -accel tcg "${clock[@]}" -machine pc -m 1024 -smp 1 \
		-nographic -no-reboot -monitor none -nic none \
		-serial stdio -serial "file:$results" \
		-drive "file=$overlay,if=virtio,format=qcow2,cache=unsafe" \
		-drive "file=$data,if=virtio,format=raw" \
		-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
		-append "root=/dev/vda rootfstype=ext4 rw console=ttyS0 panic=-1 quiet loglevel=3 $tick ledd_ci=$phase" \
		</dev/null >"$console" 2>&1 || qrc=$?
	local took=$((SECONDS - t0))
	note "$phase: qemu exited with status $qrc after $took s"
	eval "time_$phase=$took"
	# The guest's journal of this boot, for the record.
	debugfs -R "dump /out/journal-$phase.txt $work/journal-$phase.txt" "$data" >/dev/null 2>&1 &&
		[ -s "$work/journal-$phase.txt" ] && note "$phase: guest journal: $work/journal-$phase.txt"

	local planned name verdict detail
	shift
	planned=" $* "
	while read -r _ verdict name detail; do
		if [[ $planned != *" $name "* ]]; then
			fail "$name" "(not in the plan) $verdict $detail"
		elif [ "$verdict" = PASS ]; then
			pass "$name" "$detail"
		else
			fail "$name" "$detail"
		fi
	done < <(tr -d '\r' <"$results" | grep -a -o 'LEDD-CHECK \(PASS\|FAIL\) .*' || :)
	if tr -d '\r' <"$results" | grep -a -qx "LEDD-DONE $phase"; then
		pass "$phase-done" "guest finished its checks and powered off in $took s (host time)"
	else
		local why="qemu exited with status $qrc"
		[ "$qrc" != 124 ] && [ "$qrc" != 137 ] || why="timed out after $timeout_s s (hang?)"
		fail "$phase-done" "guest did not print LEDD-DONE $phase: $why; console log: $console"
		echo "---- $console (last 30 lines) ----"
		tr -d '\r' <"$console" | tail -n 30
		echo "----"
	fi
	# Checks that failed: the guest's trace (LEDD-INFO lines) is in $results.
	return 0
}
boot boot1 "${plan_boot1[@]}"
boot boot2 "${plan_boot2[@]}"
note "host time: boot1 ${time_boot1:-?} s, boot2 ${time_boot2:-?} s, whole tier $SECONDS s; guest trace: $work/results-boot1.log, $work/results-boot2.log"
finish
