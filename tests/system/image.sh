#!/usr/bin/env bash
# tests/system/image.sh - the recipe of the system tier's Debian 12 image.
#
#   image.sh build OUT_DIR DEB_CACHE_DIR
#
# Builds with mmdebstrap (minbase + systemd as PID 1, udev, kmod, dbus, the
# stock kernel and initramfs-tools) a root file system, turns it into an ext4
# image with `mkfs.ext4 -d`, and puts next to it the image's own kernel and
# initrd:  OUT_DIR/root.img  OUT_DIR/vmlinuz  OUT_DIR/initrd.img
# Downloaded packages are kept in DEB_CACHE_DIR (apt's archives, synced in and
# out), so a rebuild downloads only what changed in the archive.
#
# tests/system/run.sh keys its cache on a hash of this file: any change here
# rebuilds the image. The other subcommands are mmdebstrap's hooks, run as
# `image.sh essential|customize ROOT` (they are part of the recipe too).
#
# The image holds no ledd and no test scripts: the tier brings those on a
# second disk (/dev/vdb), mounted and run by the ledd-ci.service below when
# the kernel command line has ledd_ci=PHASE.
set -euo pipefail

suite=bookworm
mirror=http://deb.debian.org/debian
# passwd: useradd/usermod (the test adds its user to group leds after the
# install, as an admin would); procps: ps for the checks' diagnostics;
# mosquitto and its clients: the classroom's broker, for ledd-mqtt (its
# default listener is on loopback only, and the guest has no network).
packages=systemd-sysv,udev,kmod,dbus,linux-image-amd64,initramfs-tools,zstd,passwd,procps
packages+=,mosquitto,mosquitto-clients

self=$(readlink -f "${BASH_SOURCE[0]}")

build() {
	local out=$1 debs=$2
	local root=$out/root.tmp
	rm -rf --one-file-system "$root" && mkdir -p "$debs"
	# Root mode (we are root): the tree's owners are real, for mkfs.ext4 -d.
	# The hooks' $1 (the root) is expanded by mmdebstrap's shell, not here.
	# shellcheck disable=SC2016
	mmdebstrap --mode=root --variant=minbase --include="$packages" \
		--skip=essential/unlink \
		--setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
		--setup-hook="sync-in '$debs' /var/cache/apt/archives/" \
		--essential-hook="'$self' essential \"\$1\"" \
		--customize-hook="'$self' customize \"\$1\"" \
		--customize-hook="sync-out /var/cache/apt/archives '$debs'" \
		"$suite" "$root" "deb $mirror $suite main"
	cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
	cp "$root"/boot/initrd.img-* "$out/initrd.img"
	# For the record: the kernel's version and every package of the image.
	ls "$root"/lib/modules >"$out/kernel-version"
	dpkg-query --admindir="$root/var/lib/dpkg" -W >"$out/packages.txt"
	# Room for the package, its logs and journals: 512 MB over the tree.
	local mb
	mb=$(($(du -sm "$root" | cut -f1) + 512))
	rm -f "$out/root.img"
	mkfs.ext4 -F -q -L ledd-root -d "$root" "$out/root.img" "${mb}M"
	rm -rf --one-file-system "$root"
}

# Before linux-image-amd64 is installed (its postinst builds the initrd):
# a small initrd with only what this machine needs to mount / (virtio disk,
# ext4) instead of MODULES=most, which boots slower under TCG.
essential() {
	local r=$1
	mkdir -p "$r/etc/initramfs-tools/conf.d" "$r/etc/initramfs-tools/hooks"
	printf 'MODULES=list\nCOMPRESS=zstd\n' >"$r/etc/initramfs-tools/conf.d/ledd-ci"
	cat >"$r/etc/initramfs-tools/hooks/ledd-ci" <<-'EOF'
	#!/bin/sh
	# ledd CI image: load the virtio disk and ext4 drivers (MODULES=list).
	[ "$1" = prereqs ] && exit 0
	. /usr/share/initramfs-tools/hook-functions
	for m in virtio_pci virtio_blk ext4; do force_load "$m"; done
	EOF
	chmod 0755 "$r/etc/initramfs-tools/hooks/ledd-ci"
}

customize() {
	local r=$1
	echo ledd-ci >"$r/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tledd-ci\n' >"$r/etc/hosts"
	printf '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t0\n' >"$r/etc/fstab"
	# (/etc/machine-id is left empty by mmdebstrap: systemd writes one at
	# the first boot, without first-boot presets, and keeps it for boot 2.)
	# pupil: the user who will be added to group leds after the install;
	# outsider: a user who never is.
	chroot "$r" useradd --create-home --shell /bin/bash pupil
	chroot "$r" useradd --create-home --shell /bin/bash outsider
	# Nothing that would wait for a network, hold apt's lock or print a
	# login prompt in the middle of the console log.
	local unit
	for unit in apt-daily.timer apt-daily-upgrade.timer serial-getty@ttyS0.service \
		serial-getty@ttyS1.service getty@tty1.service; do
		ln -sf /dev/null "$r/etc/systemd/system/$unit"
	done
	# The CI hook: with ledd_ci=PHASE on the kernel command line, mount the
	# tier's disk and run its checks, then power off whatever happened.
	cat >"$r/usr/local/sbin/ledd-ci" <<-'EOF'
	#!/bin/sh
	# ledd CI image (tests/system/image.sh): run the tier's checks from /dev/vdb.
	phase=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^ledd_ci=//p')
	mkdir -p /ci
	if ! mount -o rw /dev/vdb /ci; then
		echo "LEDD-CHECK FAIL ci-disk cannot mount /dev/vdb" >/dev/ttyS1
		exit 1
	fi
	/bin/bash /ci/checks.sh "$phase"
	rc=$?
	sync
	umount /ci
	exit $rc
	EOF
	chmod 0755 "$r/usr/local/sbin/ledd-ci"
	cat >"$r/etc/systemd/system/ledd-ci.service" <<-'EOF'
	[Unit]
	Description=ledd CI checks (tests/system)
	ConditionKernelCommandLine=ledd_ci
	After=multi-user.target
	SuccessAction=poweroff
	FailureAction=poweroff

	[Service]
	Type=oneshot
	ExecStart=/usr/local/sbin/ledd-ci
	StandardOutput=journal+console
	StandardError=journal+console
	TimeoutStartSec=900

	[Install]
	WantedBy=multi-user.target
	EOF
	mkdir -p "$r/etc/systemd/system/multi-user.target.wants"
	ln -sf /etc/systemd/system/ledd-ci.service "$r/etc/systemd/system/multi-user.target.wants/ledd-ci.service"
}

# One line: bash has read all of it before the build starts, so an edit of
# this file during a build cannot change what runs next.
main() {
	case ${1:-} in
	build) build "$2" "$3" ;;
	essential) essential "$2" ;;
	customize) customize "$2" ;;
	*)
		echo "usage: $0 build OUT_DIR DEB_CACHE_DIR" >&2
		exit 2
		;;
	esac
}
main "$@"; exit $?
