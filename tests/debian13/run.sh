#!/usr/bin/env bash
# tests/debian13/run.sh - the Debian way (issue 15, section 2): the source
# package with its vendored crates (debian/make-source.sh) builds in a clean
# Debian 13 chroot with Debian's own rustc and cargo (1.85), with no network
# during the build; twice, in different directories, at different times,
# under a different time zone, locale and umask, and the two sets of .debs
# must be byte-identical (diffoscope shows the difference otherwise); lintian
# (Debian 13's) reports no error and no warning; the binaries run.
#
# The chroot is an mmdebstrap tarball (buildd variant plus the Build-Depends
# and lintian), made once and cached as target/debian13/trixie-KEY.tar (KEY:
# hash of its package list); each run unpacks a fresh copy. Each build runs
# in namespaces of its own: no network device but loopback (unshare -n), its
# own mounts (/proc, /dev), so nothing outlives it.
#
# Runs as root (chroot, unshare); not root: SKIPPED, exit 77. Prints
# PASS/FAIL lines and ends with "N passed, N failed".
# Environment: LEDD_DEBIAN13_KEEP=1  keep the unpacked chroot (in /tmp)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/tier.sh
. "$repo/tests/lib/tier.sh"
tier_needs_root debian13 "mmdebstrap, chroot, unshare -n"
cache=$repo/target/debian13
mkdir -p "$cache"
export DEBIAN_FRONTEND=noninteractive


work=$(mktemp -d /tmp/ledd-debian13.XXXXXX)
cleanup() {
	if [ "${LEDD_DEBIAN13_KEEP:-0}" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- Host tools ----------------------------------------------------------------
need=()
for t in mmdebstrap:mmdebstrap dpkg-source:dpkg-dev unshare:util-linux rsync:rsync; do
	command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- The Debian 13 chroot (cached tarball) ---------------------------------------
# Build-Depends of debian/control (without pkg.ledd.rustup) for amd64 and
# for armhf (the ARMv6 build: armel's Rust standard library, cross gcc and
# glibc; binutils for armhf's dh_strip), and lintian. libstd-rust-dev:armel
# is unpacked rather than installed: its dependency libc6:armel is missing
# from this archive mirror (404), and only its .rlib files are needed.
packages=cargo,rustc,libstd-rust-dev,debhelper,device-tree-compiler,lintian
packages+=,gcc-arm-linux-gnueabi,libc6-dev-armel-cross,binutils-arm-linux-gnueabihf
armel_std='cd /tmp && apt-get download libstd-rust-dev:armel &&
	dpkg-deb -x libstd-rust-dev_*_armel.deb / && rm libstd-rust-dev_*_armel.deb'
key=$(printf '%s\n' "$packages" "$armel_std" "buildd trixie v2" | sha256sum | cut -c1-12)
tarball=$cache/trixie-$key.tar
make_chroot() {
	# (mmdebstrap picks the format from the name: it must end in .tar.)
	mmdebstrap --variant=buildd --architectures=amd64,armel --include="$packages" \
		--customize-hook="chroot \"\$1\" sh -c '$armel_std'" trixie "$cache/partial.tar" \
		http://deb.debian.org/debian >"$cache/mmdebstrap.log" 2>&1 &&
		mv "$cache/partial.tar" "$tarball"
}
if [ ! -f "$tarball" ]; then
	note "making the Debian 13 chroot (once; cached as ${tarball#"$repo"/})"
	rm -f "$cache"/trixie-*.tar
	check_quiet "Debian 13 chroot made with mmdebstrap (log: target/debian13/mmdebstrap.log)" make_chroot || finish
fi
root=$work/root
mkdir -p "$root"
check_quiet "Debian 13 chroot unpacked (${tarball#"$repo"/})" tar -C "$root" -xf "$tarball" || finish
rustc_version=$(chroot "$root" rustc --version)
cargo_version=$(chroot "$root" cargo --version)
case $rustc_version in
"rustc 1.85."*) pass "Debian 13's compiler: $rustc_version, $cargo_version" ;;
*) fail "Debian 13's compiler is not 1.85: $rustc_version" ;;
esac
if [ -x "$root/root/.cargo/bin/cargo" ] || chroot "$root" sh -c 'command -v rustup' >/dev/null; then
	fail "the chroot has a rustup toolchain"
fi

# --- The source package ------------------------------------------------------------
version=$(cd "$repo" && dpkg-parsechangelog -S Version)
srcdir=$work/source
check_quiet "debian/make-source.sh: ledd_$version.dsc with vendor/, debian/copyright covers every crate" \
	env LEDD_SOURCE_TREE="$work/tree" "$repo/debian/make-source.sh" "$srcdir" || finish
check_quiet "debian/copyright lists every vendored crate and license (debian/vendor-copyright.py)" \
	"$repo/debian/vendor-copyright.py" "$work/tree/vendor" --check "$repo/debian/copyright"
check_quiet "Cargo.toml: rust-version = \"1.85\" (Debian 13's rustc)" \
	grep -qx 'rust-version = "1.85"' "$repo/Cargo.toml"
note "source: $(du -h "$srcdir/ledd_$version.tar.xz" | cut -f1) ($(find "$work/tree/vendor" -mindepth 1 -maxdepth 1 | wc -l) crates vendored)"

# --- Builds, offline ------------------------------------------------------------------
# inside CMD: CMD in the chroot, with no network device but loopback, and its
# own /proc and /dev (mount namespace: unmounted when it ends).
inside() {
	unshare --net --mount --pid --fork --mount-proc="$root/proc" sh -c '
		root=$1; shift
		mount --rbind /dev "$root/dev"
		exec chroot "$root" "$@"' sh "$root" "$@"
}
check_quiet "no network inside the build namespace (TCP to deb.debian.org and crates.io fail)" \
	inside bash -c '! timeout 5 bash -c "exec 3<>/dev/tcp/151.101.2.132/80" 2>/dev/null &&
		! getent hosts crates.io >/dev/null && ! ip route 2>/dev/null | grep -q default'

# build DIR ENV...: unpack the source in DIR (in the chroot) and build it there
# (DPKG_ARGS=...: more arguments to dpkg-buildpackage).
build() {
	local dir=$1
	shift
	mkdir -p "$root$dir"
	cp "$srcdir"/ledd_"$version".* "$root$dir/"
	inside env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent "$@" sh -c "
		cd $dir && dpkg-source -x ledd_$version.dsc >/dev/null && cd ledd-$version &&
		dpkg-buildpackage -us -uc -b \${DPKG_ARGS:-}" >"$cache/build${dir//\//-}.log" 2>&1 || {
		tail -n 30 "$cache/build${dir//\//-}.log"
		return 1
	}
}
arch=$(dpkg --print-architecture)
# The whole workspace (integration tests, benches, examples too) compiles with
# Debian 13's rustc from the vendored crates: rust-version = "1.85" holds.
# cargo test inside the package build (as a buildd runs it) doubles build 1's
# time: LEDD_DEBIAN13_CHECK=1 turns it on (passed at 3f8b827+, 282 s).
workspace_check() {
	inside env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent sh -c '
		rm -rf /check && mkdir -p /check/cargo-home && cp -a /tree /check/ledd &&
		printf "%s\n" "[source.crates-io]" "replace-with = \"v\"" "[source.v]" \
			"directory = \"/check/ledd/vendor\"" >/check/cargo-home/config.toml &&
		cd /check/ledd && CARGO_HOME=/check/cargo-home cargo check -j2 --frozen \
			--workspace --all-targets' >"$cache/workspace-check.log" 2>&1 || {
		tail -n 30 "$cache/workspace-check.log"
		return 1
	}
}
cp -a "$work/tree" "$root/tree"
start=$SECONDS
check_quiet "cargo check --workspace --all-targets --frozen with rustc 1.85, offline (log: target/debian13/workspace-check.log)" \
	workspace_check
note "workspace check: $((SECONDS - start)) s"
rm -rf "$root/tree" "$root/check"
opts="nocheck parallel=2" what="without tests"
if [ "${LEDD_DEBIAN13_CHECK:-0}" = 1 ]; then opts="parallel=2" what="with tests"; fi
start=$SECONDS
check_quiet "build 1 in /build/a, offline, $what (log: target/debian13/build-build-a.log)" \
	build /build/a DEB_BUILD_OPTIONS="$opts" TZ=UTC LANG=C.UTF-8 || finish
note "build 1: $((SECONDS - start)) s"
if [ "${LEDD_DEBIAN13_CHECK:-0}" = 1 ]; then
	grep -q "test result: ok" "$cache/build-build-a.log" &&
		pass "cargo test ran and passed inside the package build (rustc 1.85, vendored dev-dependencies)" ||
		fail "no passing cargo test in build 1's log"
fi
sleep 2
start=$SECONDS
check_quiet "build 2 in /build/second/place, offline, later, other time zone, locale, umask (log: target/debian13/build-build-second-place.log)" \
	build /build/second/place DEB_BUILD_OPTIONS="nocheck parallel=2" TZ=UTC-13 LANG=C LC_ALL=C \
	sh -c 'umask 0002; exec "$@"' sh || finish
note "build 2: $((SECONDS - start)) s"

# --- Same bytes ----------------------------------------------------------------------
for deb in "$root"/build/a/*.deb; do
	name=$(basename "$deb")
	other=$root/build/second/place/$name
	if [ ! -f "$other" ]; then
		fail "$name: built once only"
	elif cmp -s "$deb" "$other"; then
		pass "$name: byte-identical in both builds ($(sha256sum <"$deb" | cut -c1-16))"
	else
		fail "$name differs between the two builds (diffoscope below)"
		command -v diffoscope >/dev/null ||
			apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends diffoscope-minimal >/dev/null 2>&1 || true
		diffoscope --text - "$deb" "$other" 2>&1 | head -n 80 | sed 's/^/     /' || true
	fi
done

# --- lintian (Debian 13's) and a run ----------------------------------------------------
deb=$root/build/a/ledd_${version}_$arch.deb
mdeb=$root/build/a/ledd-mqtt_${version}_$arch.deb
check_quiet "ledd_${version}_$arch.deb built" test -f "$deb" || finish
check_quiet "ledd-mqtt_${version}_$arch.deb built" test -f "$mdeb" || finish
lint() { # lint DIR LOG DEB...: Debian 13's lintian on the .debs in the chroot's DIR
	local dir=$1 log=$2 d names=()
	shift 2
	for d in "$@"; do names+=("$dir/$(basename "$d")"); done
	inside lintian --fail-on error,warning --display-info --pedantic "${names[@]}" \
		>"$log" 2>&1 || { cat "$log"; return 1; }
}
check_quiet "lintian (Debian 13) on ledd_${version}_$arch.deb and ledd-mqtt_${version}_$arch.deb: no error, no warning (target/debian13/lintian.txt)" \
	lint /build/a "$cache/lintian.txt" "$deb" "$mdeb"
runs() {
	inside sh -c "rm -rf /x && dpkg-deb -x /build/a/$(basename "$deb") /x &&
		dpkg-deb -x /build/a/$(basename "$mdeb") /x &&
		/x/usr/bin/ledctl --version && /x/usr/sbin/ledd --version && /x/usr/sbin/ledd-mqtt --version"
}
check_quiet "the built ledd, ledctl and ledd-mqtt run (--version, in the chroot)" runs

# --- armhf for ARMv6 (Pi Zero, Zero W, Pi 1) ------------------------------------------
# Cross-built as the arm64 package is (dpkg-buildpackage -a armhf), offline;
# -d: libstd-rust-dev:armel cannot be a Build-Depends (debian/control).
start=$SECONDS
check_quiet "dpkg-buildpackage -a armhf -d, offline (log: target/debian13/build-build-armhf.log)" \
	build /build/armhf DEB_BUILD_OPTIONS="nocheck parallel=2" TZ=UTC LANG=C.UTF-8 DPKG_ARGS="-a armhf -d" || finish
note "armhf build: $((SECONDS - start)) s"
armdeb=$root/build/armhf/ledd_${version}_armhf.deb
armmdeb=$root/build/armhf/ledd-mqtt_${version}_armhf.deb
check_quiet "ledd_${version}_armhf.deb built" test -f "$armdeb" || finish
check_quiet "ledd-mqtt_${version}_armhf.deb built" test -f "$armmdeb" || finish
x=$work/armhf
dpkg-deb -x "$armdeb" "$x"
dpkg-deb -x "$armmdeb" "$x"
for bin in usr/sbin/ledd usr/bin/ledctl usr/sbin/ledd-mqtt; do
	desc=$(file -b "$x/$bin")
	case $desc in
	*"ELF 32-bit LSB executable, ARM, EABI5"*"statically linked"*) pass "$bin: static ARM EABI5 executable" ;;
	*) fail "$bin: not a static 32-bit ARM executable: $desc" ;;
	esac
	# The ELF attributes name the oldest CPU the code needs: ARMv5TE, no Thumb-2.
	attrs=$(readelf -A "$x/$bin")
	cpu=$(sed -n 's/^ *Tag_CPU_arch: //p' <<<"$attrs")
	if [ "$cpu" = v5TE ] && ! grep -q 'Thumb-2' <<<"$attrs"; then
		pass "$bin: Tag_CPU_arch $cpu, no Thumb-2 (readelf -A)"
	elif [ "$bin" = usr/sbin/ledd-mqtt ] && [ "$cpu" = v7 ]; then
		# ring's ARM assembly (TLS) declares `.arch armv7-a` for its NEON
		# routines, which it calls only when the CPU reports NEON (HWCAP);
		# its other routines follow the compiler's -march (ARMv5TE). So the
		# tag says v7 however the code runs: the arm1176 runs below decide.
		note "$bin: Tag_CPU_arch v7 from ring's NEON assembly (run-time selected); the TLS run on qemu-arm -cpu arm1176 below decides"
	else
		fail "$bin: Tag_CPU_arch '$cpu' $(grep Thumb <<<"$attrs" | tr -s ' ')"
	fi
done
# qemu-arm -cpu arm1176 is the Pi Zero's core: an ARMv7 instruction faults
# (SIGILL, exit 132) as it would on the board.
command -v qemu-arm >/dev/null || apt-get install -y -qq --no-install-recommends qemu-user >/dev/null
on_arm1176() { qemu-arm -cpu arm1176 "$@"; }
# The control: an ARMv7 instruction (movw) dies there, and runs on a Cortex-A7.
v7probe() {
	printf '%s\n' 'int main(void) { int x; __asm__ volatile("movw %0, #0x1234" : "=r"(x)); return x != 0x1234; }' |
		inside arm-linux-gnueabi-gcc -static -march=armv7-a -marm -x c - -o /tmp/v7probe &&
		qemu-arm -cpu cortex-a7 "$root/tmp/v7probe" &&
		! qemu-arm -cpu arm1176 "$root/tmp/v7probe" 2>/dev/null
}
check_quiet "control: an ARMv7 instruction runs on qemu-arm -cpu cortex-a7 and faults on -cpu arm1176" v7probe
check_quiet "qemu-arm -cpu arm1176: ledd --version" on_arm1176 "$x/usr/sbin/ledd" --version
check_quiet "qemu-arm -cpu arm1176: ledctl --version" on_arm1176 "$x/usr/bin/ledctl" --version
check_quiet "qemu-arm -cpu arm1176: ledd-mqtt --version" on_arm1176 "$x/usr/sbin/ledd-mqtt" --version
# The bridge on the Pi Zero's core, for real: a TLS handshake (ring's
# code, chosen at run time) with a Mosquitto on 127.0.0.1 whose CA this test
# makes, then an order published to the broker reaches ledd (also on the
# arm1176) through it.
mqtt_tls_arm() {
	local dir=$work/arm1176-mqtt port pids=() rc=1 shown=
	mkdir -p "$dir"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" \
		-days 1 -subj "/CN=ledd test CA" 2>/dev/null &&
		openssl req -newkey rsa:2048 -nodes -keyout "$dir/broker.key" -out "$dir/broker.csr" \
			-subj "/CN=127.0.0.1" 2>/dev/null &&
		printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/san" &&
		openssl x509 -req -in "$dir/broker.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
			-out "$dir/broker.pem" -days 1 -extfile "$dir/san" 2>/dev/null || return 1
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	# (user root: as root, mosquitto would switch to its own user, who
	# cannot read this private directory.)
	printf '%s\n' "listener $port 127.0.0.1" "cafile $dir/ca.pem" "certfile $dir/broker.pem" \
		"keyfile $dir/broker.key" "allow_anonymous true" "persistence false" "user root" >"$dir/mosquitto.conf"
	mosquitto -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
	pids+=($!)
	printf '%s\n' "socket = \"$dir/ledd.sock\"" "state_file = \"$dir/state.toml\"" \
		'[leds.status]' 'device = "ACT"' >"$dir/ledd.toml"
	qemu-arm -cpu arm1176 "$x/usr/sbin/ledd" --simulate --config "$dir/ledd.toml" >"$dir/ledd.log" 2>&1 &
	pids+=($!)
	printf '%s\n' "broker = \"mqtts://127.0.0.1:$port\"" 'node = "pi-zero"' "ca_file = \"$dir/ca.pem\"" \
		"socket = \"$dir/ledd.sock\"" >"$dir/mqtt.toml"
	qemu-arm -cpu arm1176 "$x/usr/sbin/ledd-mqtt" --config "$dir/mqtt.toml" >"$dir/bridge.log" 2>&1 &
	pids+=($!)
	local sub=(mosquitto_sub -h 127.0.0.1 -p "$port" --cafile "$dir/ca.pem" -C 1 -W 5)
	for _ in $(seq 20); do
		[ "$("${sub[@]}" -t ledd/pi-zero/availability 2>/dev/null)" = online ] && break
		sleep 0.5
	done
	mosquitto_pub -h 127.0.0.1 -p "$port" --cafile "$dir/ca.pem" -q 1 -t ledd/pi-zero/status/set -m 'blink 5' &&
		for _ in $(seq 50); do
			shown=$(qemu-arm -cpu arm1176 "$x/usr/bin/ledctl" -s "$dir/ledd.sock" status 2>&1 | head -n1)
			case $shown in *"blinking at 5 Hz"*) rc=0 && break ;; esac
			sleep 0.2
		done
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null || true
	echo "ledctl status: $shown"
	grep -q 'connected to the broker mqtts://' "$dir/bridge.log" || rc=1
	[ $rc -eq 0 ] || cat "$dir/bridge.log" "$dir/mosquitto.log"
	return $rc
}
check_quiet "qemu-arm -cpu arm1176: ledd-mqtt over TLS (test CA, Mosquitto on 127.0.0.1) carries 'blink 5' to ledd --simulate" mqtt_tls_arm
check_quiet "qemu-arm -cpu arm1176: ledctl completions bash" sh -c "qemu-arm -cpu arm1176 '$x/usr/bin/ledctl' completions bash | grep -q _ledctl"
# ledd itself on the Pi Zero's core: simulated LEDs, its own socket; ledctl
# (also on arm1176) blinks the status LED and reads it back.
simulate() {
	local dir=$work/arm1176 pid rc=0
	mkdir -p "$dir"
	printf '%s\n' "socket = \"$dir/ledd.sock\"" "state_file = \"$dir/state.toml\"" \
		'[leds.status]' 'device = "ACT"' >"$dir/ledd.toml"
	qemu-arm -cpu arm1176 "$x/usr/sbin/ledd" --simulate --config "$dir/ledd.toml" >"$dir/ledd.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [ -S "$dir/ledd.sock" ] && break; sleep 0.1; done
	qemu-arm -cpu arm1176 "$x/usr/bin/ledctl" -s "$dir/ledd.sock" blink 2 &&
		qemu-arm -cpu arm1176 "$x/usr/bin/ledctl" -s "$dir/ledd.sock" status | tee "$dir/status" &&
		grep -q "2" "$dir/status" || rc=1
	kill "$pid" && wait "$pid" || true
	[ $rc -eq 0 ] || cat "$dir/ledd.log"
	return $rc
}
check_quiet "qemu-arm -cpu arm1176: ledd --simulate serves ledctl blink 2 and status" simulate
check_quiet "lintian (Debian 13) on ledd_${version}_armhf.deb and ledd-mqtt_${version}_armhf.deb: no error, no warning (target/debian13/lintian-armhf.txt)" \
	lint /build/armhf "$cache/lintian-armhf.txt" "$armdeb" "$armmdeb"

# For the apt tier: this run's packages (same tree).
rm -rf "$cache/debs" && mkdir -p "$cache/debs"
cp "$root"/build/a/ledd_"${version}"_*.deb "$root"/build/a/ledd-mqtt_"${version}"_*.deb \
	"$armdeb" "$armmdeb" "$cache/debs/"
finish
