#!/usr/bin/env bash
# tests/pi/raspi0.sh - the armhf package on an emulated Raspberry Pi Zero
# (qemu-system-arm -M raspi0, ARM1176, ARMv6) with Debian armel's Raspberry
# Pi kernel, its Pi Zero device tree plus ledd's overlay (GPIO 17 LED), and a
# busybox initramfs: ledd and ledctl from ledd_VERSION_armhf.deb, ledctl
# blink 2, the kernel's timer trigger at 250/250 ms. Not a tier yet (no GPIO
# sampling as the Pi 3 boot does); run by hand:
#
#   bash tests/pi/raspi0.sh [ARMHF_DEB]   (default: target/debian13/debs/)
#
# Found on the way: qemu 7.2's raspi0 does not model the BCM2835 power
# management block, and the kernel's bcm2835-pm driver oopses in probe
# (init killed): the tree's watchdog@7e100000 node is disabled here.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
version=$(cd "$repo" && dpkg-parsechangelog -S Version)
deb=${1:-$repo/target/debian13/debs/ledd_${version}_armhf.deb}
[ -f "$deb" ] || { echo "no $deb: run tests/debian13/run.sh first" >&2; exit 1; }
a=$repo/target/pi-cache/armel-apt
w=$repo/target/pi-work/raspi0
rm -rf "$w" && mkdir -p "$w" "$a/lists/partial" "$a/cache/archives/partial" "$a/parts"
O=(-o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache" -o Dir::State::status=/dev/null
	-o APT::Architecture=armel -o APT::Architectures::=armel
	-o "Dir::Etc::SourceList=$a/sources.list" -o "Dir::Etc::SourceParts=$a/parts")
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $(. /etc/os-release && echo "$VERSION_CODENAME") main" >"$a/sources.list"
apt-get "${O[@]}" update -qq >/dev/null 2>&1
kpkg=$(apt-cache "${O[@]}" depends linux-image-rpi | sed -n 's/.*Depends: \(linux-image-[0-9][^ :]*\).*/\1/p' | head -1)
(cd "$w" && apt-get "${O[@]}" download -q "$kpkg" busybox-static >/dev/null 2>&1)
k=$w/k && mkdir -p "$k"
dpkg-deb --fsys-tarfile "$w"/linux-image-*_armel.deb | tar -x -C "$k" --wildcards './boot/vmlinuz-*' \
	'./usr/lib/linux-image-*/bcm2835-rpi-zero.dtb' './lib/modules/*/kernel/drivers/leds/leds-gpio.ko' \
	'./lib/modules/*/kernel/drivers/leds/trigger/ledtrig-timer.ko'
ird=$w/initrd && mkdir -p "$ird"/{bin,lib/modules,etc/ledd,proc,sys,dev,run,tmp}
dpkg-deb --fsys-tarfile "$w"/busybox-static_*_armel.deb | tar -x -O ./bin/busybox >"$ird/bin/busybox"
chmod +x "$ird/bin/busybox"
cp "$k"/lib/modules/*/kernel/drivers/leds/leds-gpio.ko "$k"/lib/modules/*/kernel/drivers/leds/trigger/ledtrig-timer.ko "$ird/lib/modules/"
dpkg-deb -x "$deb" "$w/x" && cp "$w/x/usr/sbin/ledd" "$w/x/usr/bin/ledctl" "$ird/bin/"
printf '%s\n' 'socket = "/run/ledd.sock"' 'state_file = "/run/state.toml"' '[leds.status]' 'device = "ledd:green:status"' >"$ird/etc/ledd/ledd.toml"
cat >"$ird/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
insmod /lib/modules/ledtrig-timer.ko; insmod /lib/modules/leds-gpio.ko
echo "RPI0 cpu: $(grep -m1 'model name' /proc/cpuinfo)"
ledd --config /etc/ledd/ledd.toml >/tmp/ledd.log 2>&1 &
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S /run/ledd.sock ] && break; sleep 1; done
ledctl -s /run/ledd.sock blink 2; echo "RPI0 ledctl rc=$?"
l=/sys/class/leds/ledd:green:status
echo "RPI0 trigger=$(sed 's/.*\[\(.*\)\].*/\1/' $l/trigger) delay_on=$(cat $l/delay_on) delay_off=$(cat $l/delay_off)"
sed 's/^/RPI0 /' /tmp/ledd.log
poweroff -f
EOF
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc 2>/dev/null | gzip) >"$w/initrd.cpio.gz"
dtb=$w/zero.dtb
cp "$k"/usr/lib/linux-image-*/bcm2835-rpi-zero.dtb "$dtb"
fdtput -t s "$dtb" /soc/watchdog@7e100000 status disabled
# (Debian armel's trees may already carry __symbols__.)
fdtput -c "$dtb" /__symbols__ 2>/dev/null || true
fdtput -t s "$dtb" /__symbols__ gpio /soc/gpio@7e200000
dtc -@ -q -I dts -O dtb -o "$w/ledd.dtbo" "$repo/dts-overlay/ledd-overlay.dts"
fdtoverlay -i "$dtb" -o "$w/zero-ledd.dtb" "$w/ledd.dtbo"
# (qemu's raspi0 does not power off: the guest halts, timeout ends it.)
timeout 150 qemu-system-arm -M raspi0 -kernel "$k"/boot/vmlinuz-* -dtb "$w/zero-ledd.dtb" \
	-initrd "$w/initrd.cpio.gz" -append "console=ttyAMA0 panic=-1 rdinit=/init" \
	-serial stdio -display none -no-reboot >"$w/console.log" 2>&1 || true
grep '^RPI0' "$w/console.log"
grep -q '^RPI0 trigger=timer delay_on=250 delay_off=250' "$w/console.log" &&
	echo "PASS: raspi0: ledctl blink 2 -> timer 250/250 ms on ledd:green:status (GPIO 17)"
