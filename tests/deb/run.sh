#!/usr/bin/env bash
# tests/deb/run.sh - build the ledd and ledd-mqtt Debian packages from a
# clean copy of the work tree, lint them, check their contents, install them
# on this machine, check the installed system (users, group, binaries, man
# pages, shipped configs, systemd units, udev rule; ledd-mqtt's unit left
# disabled; the installed bridge between the installed ledd and a local
# mosquitto), purge them, check nothing is left, reinstall them.
# Optionally (default on) cross-build the arm64 packages and check them.
#
# Runs as root (dpkg -i), unattended; not root: SKIPPED, exit 77. Prints
# PASS/FAIL/SKIPPED lines and ends with "N passed, N failed, N skipped"; exits
# non-zero when anything failed.
#
# Environment:
#   LEDD_DEB_CROSS=0         skip the arm64 cross build
#   LEDD_DEB_CHECK=1         run `cargo test` inside the package build
#   LEDD_DEB_PLACEHOLDERS=1  create placeholder man pages in the *copy* when
#                            man/*.[1578] are missing (development only)
#   LEDD_DEB_KEEP=1          keep the package installed and the work dir
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/tier.sh
. "$REPO/tests/lib/tier.sh"
tier_needs_root deb "it installs the package with dpkg -i"
HERE=$REPO/tests/deb
# ledd_copy_tree, ledd_build_deb: shared with tests/system/run.sh.
. "$REPO/tests/lib/build-deb.sh"
# Cargo output and build logs persist under target/ so reruns are fast.
CACHE=$REPO/target/deb-test
mkdir -p "$CACHE"
WORK=$(mktemp -d /tmp/ledd-deb.XXXXXX)
# Traversable by the unprivileged users of the permission checks below.
chmod 0755 "$WORK"


installed_before=no
# present: dpkg knows ledd or ledd-mqtt in any state but "not-installed"
# (half-configured too).
present() {
	local p
	for p in ledd ledd-mqtt; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qv 'not-installed$' && return 0
	done
	return 1
}
cleanup() {
	if [ "${LEDD_DEB_KEEP:-0}" != 1 ]; then
		# Leave the machine as we found it: no ledd package unless one was there.
		if [ "$installed_before" = no ] && present; then
			dpkg --purge ledd-mqtt ledd >/dev/null 2>&1 || true
		fi
		rm -rf "$WORK"
	else
		echo "kept: $WORK"
	fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive

# --- Tools -------------------------------------------------------------------
# apt-get only when something is missing; the lock may be held by another job.
# A NAME=VERSION argument counts as missing unless that very version is installed.
apt_updated=no
apt_install() {
	local missing=() p format want
	for p in "$@"; do
		format='${Status}\n' want='install ok installed'
		if [[ $p == *=* ]]; then format='${Status} ${Version}\n' want+=" ${p#*=}"; fi
		# One line per installed architecture of an unqualified name.
		dpkg-query -W -f="$format" "${p%%=*}" 2>/dev/null | grep -xF "$want" >/dev/null || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "  .. apt-get install ${missing[*]}"
	if [ "$apt_updated" = no ]; then
		apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null && apt_updated=yes
	fi
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >"$CACHE/apt.log" 2>&1 ||
		{ tail -n 20 "$CACHE/apt.log"; return 1; }
}
# systemd is needed for systemd-sysusers (postinst) and systemd-analyze; the
# package is safe to install without systemd running as PID 1. mosquitto and
# its clients: the broker the installed bridge is tried against, and the
# pages ledd-mqtt(8) refers to (mandoc resolves every cross-reference).
check_quiet "build tools installed" apt_install debhelper dpkg-dev fakeroot lintian \
	device-tree-compiler man-db mandoc systemd binutils file rsync python3 \
	mosquitto mosquitto-clients

# --- Clean copy of the work tree ---------------------------------------------
# Tracked and untracked-but-not-ignored files (the repo may have no commit
# yet), so target/ and other ignored build output never enter the build.
SRC=$WORK/ledd
mkdir -p "$SRC"
copy_tree() { ledd_copy_tree "$REPO" "$SRC"; }
check_quiet "copy of the work tree (without target/)" copy_tree
if [ -e "$SRC/target" ]; then fail "copy contains target/"; fi

for m in ledd.8 ledctl.1 ledd.toml.5 ledd-protocol.7 ledd-mqtt.8 ledd-mqtt.toml.5; do
	if [ ! -f "$SRC/man/$m" ]; then
		if [ "${LEDD_DEB_PLACEHOLDERS:-0}" = 1 ]; then
			mkdir -p "$SRC/man"
			name=${m%.*} sec=${m##*.}
			printf '.TH %s %s 2026 ledd\n.SH NAME\n%s \\- placeholder (tests/deb/run.sh)\n' \
				"$(echo "$name" | tr '[:lower:]' '[:upper:]')" "$sec" "$name" >"$SRC/man/$m"
			skip "man/$m missing in the work tree: placeholder used in the copy"
		else
			fail "man/$m missing in the work tree (set LEDD_DEB_PLACEHOLDERS=1 to test with a placeholder)"
		fi
	fi
done

cargo_version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$SRC/Cargo.toml" | head -n1)
deb_version=$(cd "$SRC" && dpkg-parsechangelog -S Version)
if [ "$cargo_version" = "$deb_version" ]; then
	pass "debian/changelog version $deb_version = Cargo.toml version"
else
	fail "debian/changelog version $deb_version != Cargo.toml version $cargo_version"
fi

# --- Build -------------------------------------------------------------------
deb_opts=parallel=$(nproc)
[ "${LEDD_DEB_CHECK:-0}" = 1 ] || deb_opts="nocheck $deb_opts"
build() { # build LOG ARGS...: dpkg-buildpackage in the copy
	local log=$1
	shift
	ledd_build_deb "$SRC" "$CACHE/cargo" "$log" "$deb_opts" "$@"
}
arch=$(dpkg --print-architecture)
if check_quiet "dpkg-buildpackage -us -uc -b (log: target/deb-test/build.log)" build "$CACHE/build.log"; then
	deb=$(ls "$WORK"/ledd_"${deb_version}"_"$arch".deb 2>/dev/null || true)
else
	deb=
fi
if [ -z "$deb" ]; then
	fail "no ledd_${deb_version}_$arch.deb built: later checks cannot run"
	finish
fi
pass "built $(basename "$deb")"
cp "$deb" "$CACHE/"
# The bridge's package, from the same build.
mdeb=$WORK/ledd-mqtt_${deb_version}_$arch.deb
if [ -f "$mdeb" ]; then
	pass "built $(basename "$mdeb")"
	cp "$mdeb" "$CACHE/"
else
	fail "no ledd-mqtt_${deb_version}_$arch.deb built: later checks cannot run"
	finish
fi

# --- lintian -------------------------------------------------------------------
lint() { # lint DEB: PASS when lintian reports no error and no warning; every
	# tag (info and pedantic included) is printed for the record.
	local out rc=0
	out=$CACHE/lintian-$(basename "$1" .deb).txt
	lintian --fail-on error,warning --display-info --pedantic "$1" >"$out" 2>&1 || rc=$?
	if [ "$rc" = 0 ]; then pass "lintian --fail-on error,warning $(basename "$1")"; else fail "lintian --fail-on error,warning $(basename "$1") (exit $rc)"; fi
	if [ -s "$out" ]; then sed 's/^/     lintian: /' "$out"; else note "lintian: no tags at all"; fi
}
lint "$deb"
lint "$mdeb"

# --- Contents --------------------------------------------------------------------
contents=$(dpkg-deb -c "$deb")
printf '%s\n' "$contents" >"$CACHE/contents.txt"
has() { # has MODE PATH: the package ships PATH with that mode, owned root:root
	printf '%s\n' "$contents" | awk -v m="$1" -v p="./$2" '$1 == m && $2 == "root/root" && $NF == p { f = 1 } END { exit !f }'
}
# Units and udev rule: /usr/lib with a debhelper that starts units from there
# (Debian 13), /lib with Debian 12's (debian/rules).
U=lib
if grep -q 'usr/lib/systemd/system' /usr/bin/dh_installsystemd; then U=usr/lib; fi
while read -r mode path; do
	check_quiet "ships $path ($mode)" has "$mode" "$path"
done <<EOF
-rwxr-xr-x usr/sbin/ledd
-rwxr-xr-x usr/bin/ledctl
-rw-r--r-- etc/ledd/ledd.toml
-rw-r--r-- $U/systemd/system/ledd.service
-rw-r--r-- $U/systemd/system/ledd.socket
-rw-r--r-- usr/lib/sysusers.d/ledd.conf
-rw-r--r-- usr/lib/modules-load.d/ledd.conf
-rw-r--r-- $U/udev/rules.d/60-ledd.rules
-rw-r--r-- usr/lib/ledd/overlays/ledd.dtbo
-rw-r--r-- usr/share/bash-completion/completions/ledctl
-rw-r--r-- usr/share/zsh/vendor-completions/_ledctl
-rw-r--r-- usr/share/fish/vendor_completions.d/ledctl.fish
-rw-r--r-- usr/share/man/man8/ledd.8.gz
-rw-r--r-- usr/share/man/man1/ledctl.1.gz
-rw-r--r-- usr/share/man/man5/ledd.toml.5.gz
-rw-r--r-- usr/share/man/man7/ledd-protocol.7.gz
-rw-r--r-- usr/share/doc/ledd/copyright
EOF
# dh_compress leaves files under 4 kB in /usr/share/doc uncompressed.
has_readme() { has -rw-r--r-- usr/share/doc/ledd/README.Debian || has -rw-r--r-- usr/share/doc/ledd/README.Debian.gz; }
check_quiet "ships usr/share/doc/ledd/README.Debian[.gz]" has_readme
if [ -d "$SRC/examples/web" ]; then
	for f in $(cd "$SRC/examples" && find web -type f | sort); do
		check_quiet "ships examples $f" has -rw-r--r-- "usr/share/doc/ledd/examples/$f"
	done
else
	skip "examples/web not in the work tree"
fi
check_quiet "conffiles lists /etc/ledd/ledd.toml" sh -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./conffiles | grep -qx /etc/ledd/ledd.toml"
field() { dpkg-deb -f "$deb" "$1"; }
check_quiet "Conflicts: ledmon" test "$(field Conflicts)" = ledmon
check_quiet "Architecture: $arch" test "$(field Architecture)" = "$arch"
check_quiet "Depends on systemd-sysusers provider" sh -c "dpkg-deb -f '$deb' Depends | grep -q 'systemd | systemd-standalone-sysusers'"
x=$WORK/x
dpkg-deb -x "$deb" "$x"
machine() { readelf -h "$1" | sed -n 's/^ *Machine: *//p'; }
case $arch in amd64) want="Advanced Micro Devices X86-64" ;; arm64) want=AArch64 ;; *) want=$(machine /bin/sh) ;; esac
check_quiet "usr/sbin/ledd is an ELF for $want" test "$(machine "$x/usr/sbin/ledd")" = "$want"
check_quiet "ledd.dtbo is a device tree overlay with __fixups__" sh -c "fdtdump '$x/usr/lib/ledd/overlays/ledd.dtbo' 2>/dev/null | grep -q __fixups__"
check_quiet "bash completion mentions blink" grep -q blink "$x/usr/share/bash-completion/completions/ledctl"
check_quiet "postinst runs systemd-sysusers" sh -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./postinst | grep -q 'systemd-sysusers.*ledd.conf'"

# --- ledd-mqtt: contents -------------------------------------------------------------
mcontents=$(dpkg-deb -c "$mdeb")
printf '%s\n' "$mcontents" >"$CACHE/contents-ledd-mqtt.txt"
mhas() { contents=$mcontents has "$@"; }
while read -r mode path; do
	check_quiet "ledd-mqtt ships $path ($mode)" mhas "$mode" "$path"
done <<EOF
-rwxr-xr-x usr/sbin/ledd-mqtt
-rw-r--r-- etc/ledd/mqtt.toml
-rw-r--r-- $U/systemd/system/ledd-mqtt.service
-rw-r--r-- usr/lib/sysusers.d/ledd-mqtt.conf
-rw-r--r-- usr/share/man/man8/ledd-mqtt.8.gz
-rw-r--r-- usr/share/man/man5/ledd-mqtt.toml.5.gz
-rw-r--r-- usr/share/doc/ledd-mqtt/copyright
EOF
mhas_readme() { mhas -rw-r--r-- usr/share/doc/ledd-mqtt/README.Debian || mhas -rw-r--r-- usr/share/doc/ledd-mqtt/README.Debian.gz; }
check_quiet "ledd-mqtt ships usr/share/doc/ledd-mqtt/README.Debian[.gz]" mhas_readme
# No file in both packages (dpkg would refuse the second), and the bridge's
# files are in its own package only.
overlap=$(comm -12 <(printf '%s\n' "$contents" | awk '$1 !~ /^d/ {print $NF}' | sort) \
	<(printf '%s\n' "$mcontents" | awk '$1 !~ /^d/ {print $NF}' | sort))
check_quiet "ledd and ledd-mqtt share no file" test -z "$overlap"
check_quiet "ledd does not ship the bridge" sh -c "! printf '%s\n' \"\$1\" | grep -q mqtt" sh "$contents"
check_quiet "ledd-mqtt conffiles lists /etc/ledd/mqtt.toml" sh -c "dpkg-deb --ctrl-tarfile '$mdeb' | tar -xO ./conffiles | grep -qx /etc/ledd/mqtt.toml"
mfield() { dpkg-deb -f "$mdeb" "$1"; }
check_quiet "ledd-mqtt Depends: ledd (= $deb_version)" sh -c "dpkg-deb -f '$mdeb' Depends | tr ',' '\n' | sed 's/^ *//' | grep -qxF 'ledd (= $deb_version)'"
check_quiet "ledd-mqtt Depends on systemd-sysusers provider" sh -c "dpkg-deb -f '$mdeb' Depends | grep -q 'systemd | systemd-standalone-sysusers'"
check_quiet "ledd-mqtt Suggests: mosquitto-clients" test "$(mfield Suggests)" = mosquitto-clients
check_quiet "ledd-mqtt Architecture: $arch" test "$(mfield Architecture)" = "$arch"
check_quiet "ledd-mqtt Section: admin" test "$(mfield Section)" = admin
mx=$WORK/xm
dpkg-deb -x "$mdeb" "$mx"
check_quiet "usr/sbin/ledd-mqtt is an ELF for $want" test "$(machine "$mx/usr/sbin/ledd-mqtt")" = "$want"
check_quiet "ledd-mqtt postinst runs systemd-sysusers ledd-mqtt.conf" sh -c "dpkg-deb --ctrl-tarfile '$mdeb' | tar -xO ./postinst | grep -q 'systemd-sysusers.*ledd-mqtt.conf'"
# dh_installsystemd --no-enable: the postinst enables the unit only if it
# was installed and enabled before (`deb-systemd-helper debian-installed`,
# then was-enabled: an upgrade); ledd's own postinst enables ledd.service at
# once (was-enabled defaults to true), which shows the check can fail.
# Installed below, the wants/ symlinks confirm it.
check_quiet "ledd-mqtt postinst enables ledd-mqtt.service only if it was enabled before" \
	sh -c "dpkg-deb --ctrl-tarfile '$mdeb' | tar -xO ./postinst | grep -q \"deb-systemd-helper debian-installed 'ledd-mqtt.service'\""
check_quiet "ledd postinst enables ledd.service at install (the control)" \
	sh -c "! { dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./postinst | grep -q 'deb-systemd-helper debian-installed'; }"

# --- udev rule: syntax and effect on a fake sysfs tree ----------------------------
rules=$SRC/udev/60-ledd.rules
# `udevadm verify` came with udev 253; Debian 12 has 252. There, take the
# udevadm of the release's backports (udev 254, built for the same libraries)
# out of its package, without installing it: only the checker is wanted.
backports_udevadm() { # prints the path of a udevadm >= 253, or fails
	local dir=$CACHE/udev-backports codename
	local bin=$dir/root/bin/udevadm
	if [ ! -x "$bin" ]; then
		codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
		[ -n "$codename" ] || return 1
		rm -rf "$dir" && mkdir -p "$dir/sources" "$dir/lists/partial" "$dir/root"
		printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
			"$codename" >"$dir/sources/backports.sources"
		local apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$dir/sources"
			-o "Dir::State::Lists=$dir/lists")
		apt-get "${apt_opts[@]}" update -qq >"$dir/apt.log" 2>&1 &&
			(cd "$dir" && apt-get "${apt_opts[@]}" download udev >>"$dir/apt.log" 2>&1) &&
			dpkg-deb -x "$dir"/udev_*.deb "$dir/root" || return 1
	fi
	[ "$("$bin" --version 2>/dev/null || echo 0)" -ge 253 ] 2>/dev/null || return 1
	echo "$bin"
}
udev_ver=$(udevadm --version 2>/dev/null || echo 0)
if [ "$udev_ver" -ge 253 ] 2>/dev/null; then
	check_quiet "udevadm verify 60-ledd.rules" udevadm verify "$rules"
elif udevadm_bpo=$(backports_udevadm); then
	check_quiet "udevadm verify 60-ledd.rules (udevadm $("$udevadm_bpo" --version) from backports; the system has ${udev_ver/#0/none})" \
		"$udevadm_bpo" verify "$rules"
	# The checker must be able to fail: a rule with a bad operator.
	printf 'SUBSYSTEM="leds", GROUP:="leds"\n' >"$WORK/broken.rules"
	check_quiet "udevadm verify rejects a broken rule" sh -c "! '$udevadm_bpo' verify '$WORK/broken.rules' >/dev/null 2>&1"
else
	# The backports archive is Debian's own: not getting it is a failure, not a skip.
	fail "udevadm verify: needs udev >= 253 (have: ${udev_ver/#0/none}) and the backports' udevadm could not be fetched (see $CACHE/udev-backports/apt.log)"
fi
check_quiet "60-ledd.rules syntax (KEY op \"VALUE\" pairs, allowed keys, GOTO/LABEL)" python3 "$HERE/udev-sim.py" lint "$rules"

# --- Install ----------------------------------------------------------------------
if present; then
	installed_before=yes
	note "ledd or ledd-mqtt was installed before the test: purging them first"
	dpkg --purge ledd-mqtt ledd >/dev/null
fi
check_quiet "dpkg -i $(basename "$deb") (no systemd as PID 1)" dpkg -i "$deb"
check_quiet "dpkg says ledd is installed" sh -c "dpkg-query -W -f='\${Status}' ledd | grep -qx 'install ok installed'"
check_quiet "group leds exists" getent group leds
check_quiet "user ledd exists" getent passwd ledd
check_quiet "user ledd is in group leds" sh -c "id -nG ledd | tr ' ' '\n' | grep -qx leds"
check_quiet "user ledd has no login shell" sh -c "getent passwd ledd | cut -d: -f7 | grep -q nologin"
check_quiet "ledctl --version prints $deb_version" sh -c "ledctl --version | grep -q '$deb_version'"
check_quiet "ledd --version prints $deb_version" sh -c "ledd --version | grep -q '$deb_version'"
check_quiet "man -w ledctl" sh -c "man -w ledctl | grep -q /usr/share/man/man1/ledctl.1.gz"
check_quiet "man -w 8 ledd" sh -c "man -w 8 ledd | grep -q man8/ledd.8.gz"
check_quiet "man -w 5 ledd.toml" sh -c "man -w 5 ledd.toml | grep -q man5/ledd.toml.5.gz"
check_quiet "man -w 7 ledd-protocol" sh -c "man -w 7 ledd-protocol | grep -q man7/ledd-protocol.7.gz"
# With the pages installed and indexed, mandoc can resolve their cross-references.
check_quiet "makewhatis /usr/share/man" makewhatis /usr/share/man
for page in man8/ledd.8.gz man1/ledctl.1.gz man5/ledd.toml.5.gz man7/ledd-protocol.7.gz; do
	check_quiet "mandoc -T lint $page reports nothing" sh -c "out=\$(mandoc -T lint /usr/share/man/$page 2>&1); [ -z \"\$out\" ] || { echo \"\$out\"; false; }"
done
check_quiet "ledd --check-config accepts the shipped /etc/ledd/ledd.toml" ledd --check-config --config /etc/ledd/ledd.toml
check_quiet "ledd --check-config accepts it as user ledd" setpriv --reuid=ledd --regid=leds --init-groups ledd --check-config --config /etc/ledd/ledd.toml

# The shipped config's documented defaults must all be valid when uncommented.
uncommented=$WORK/ledd-all-keys.toml
sed -e 's/^#\([a-z_]* *=\)/\1/' -e 's/^#\(\[leds\.power\]\)/\1/' -e 's/^#\(device *=\)/\1/' /etc/ledd/ledd.toml >"$uncommented"
check_quiet "every commented default in ledd.toml is accepted when uncommented" ledd --check-config --config "$uncommented"

# systemd units, installed (ExecStart= exists now).
if command -v systemd-analyze >/dev/null; then
	check_quiet "systemd-analyze verify ledd.service ledd.socket" systemd-analyze verify --man=no \
		/$U/systemd/system/ledd.service /$U/systemd/system/ledd.socket
	sec=$(systemd-analyze security --offline=true /$U/systemd/system/ledd.service 2>&1 | sed -n 's/.*Overall exposure level for ledd.service: *//p')
	score=${sec%% *}
	if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
		pass "systemd-analyze security --offline=true ledd.service: $sec (<= 2.0)"
	else
		fail "systemd-analyze security --offline=true ledd.service: '${sec:-no score}' (want <= 2.0)"
	fi
else
	# Debian's systemd package has it (tests/setup.sh installs it): missing is a failure.
	fail "systemd-analyze not available (apt-get install systemd)"
fi

# --- ledd-mqtt, installed next to ledd -------------------------------------------------
# wants_link UNIT: a symlink to UNIT in some /etc/systemd/system/*.wants/.
wants_link() { compgen -G "/etc/systemd/system/*.wants/$1" >/dev/null; }
check_quiet "dpkg -i $(basename "$mdeb") (no systemd as PID 1)" dpkg -i "$mdeb"
check_quiet "dpkg says ledd-mqtt is installed" sh -c "dpkg-query -W -f='\${Status}' ledd-mqtt | grep -qx 'install ok installed'"
check_quiet "user ledd-mqtt exists, primary group ledd-mqtt" sh -c "id -gn ledd-mqtt | grep -qx ledd-mqtt"
check_quiet "user ledd-mqtt is in group leds" sh -c "id -nG ledd-mqtt | tr ' ' '\n' | grep -qx leds"
check_quiet "user ledd-mqtt has no login shell" sh -c "getent passwd ledd-mqtt | cut -d: -f7 | grep -q nologin"
check_quiet "ledd.service enabled at install (multi-user.target.wants)" wants_link ledd.service
check_quiet "ledd-mqtt.service not enabled at install (no broker yet)" sh -c "! ls /etc/systemd/system/*.wants/ledd-mqtt.service 2>/dev/null"
check_quiet "ledd-mqtt --version prints $deb_version" sh -c "ledd-mqtt --version | grep -q '$deb_version'"
check_quiet "man -w 8 ledd-mqtt" sh -c "man -w 8 ledd-mqtt | grep -q man8/ledd-mqtt.8.gz"
check_quiet "man -w 5 ledd-mqtt.toml" sh -c "man -w 5 ledd-mqtt.toml | grep -q man5/ledd-mqtt.toml.5.gz"
check_quiet "makewhatis /usr/share/man (ledd-mqtt's pages)" makewhatis /usr/share/man
for page in man8/ledd-mqtt.8.gz man5/ledd-mqtt.toml.5.gz; do
	check_quiet "mandoc -T lint $page reports nothing" sh -c "out=\$(mandoc -T lint /usr/share/man/$page 2>&1); [ -z \"\$out\" ] || { echo \"\$out\"; false; }"
	check_quiet "man --warnings $page reports nothing" sh -c "out=\$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l /usr/share/man/$page 2>&1 >/dev/null); [ -z \"\$out\" ] || { echo \"\$out\"; false; }"
done
# The shipped file sets no broker, on purpose: --check-config says so (exit 1).
mqtt_shipped() {
	local out rc=0
	out=$(ledd-mqtt --check-config --config /etc/ledd/mqtt.toml 2>&1) || rc=$?
	echo "exit $rc: $out"
	[ "$rc" = 1 ] && grep -q "broker" <<<"$out" && grep -q "required" <<<"$out"
}
check_quiet "ledd-mqtt --check-config refuses the shipped mqtt.toml: broker is required (exit 1)" mqtt_shipped
# Its commented defaults and broker example are valid once uncommented (the
# credentials and TLS files are examples, tried next).
muncommented=$WORK/mqtt-all-keys.toml
sed -E 's/^#((broker|node|topic_prefix|groups|discovery_prefix|socket|keepalive|log_level) =)/\1/' \
	/etc/ledd/mqtt.toml >"$muncommented"
check_quiet "every commented default in mqtt.toml is accepted when uncommented (with the broker example)" \
	ledd-mqtt --check-config --config "$muncommented"
check_quiet "... and as user ledd-mqtt" setpriv --reuid=ledd-mqtt --regid=ledd-mqtt --init-groups \
	ledd-mqtt --check-config --config "$muncommented"
# A relative password_file is read from $CREDENTIALS_DIRECTORY (LoadCredential=).
creds=$WORK/creds
mkdir -p "$creds" && echo 'secret-of-the-test' >"$creds/mqtt-password"
chown -R ledd-mqtt "$creds" && chmod 0700 "$creds" && chmod 0400 "$creds/mqtt-password"
printf '%s\n' 'broker = "mqtt://127.0.0.1"' 'username = "pi-07"' 'password_file = "mqtt-password"' >"$WORK/mqtt-creds.toml"
check_quiet "password_file relative to \$CREDENTIALS_DIRECTORY, as user ledd-mqtt" \
	setpriv --reuid=ledd-mqtt --regid=ledd-mqtt --init-groups env CREDENTIALS_DIRECTORY="$creds" \
	ledd-mqtt --check-config --config "$WORK/mqtt-creds.toml"
if command -v systemd-analyze >/dev/null; then
	check_quiet "systemd-analyze verify ledd-mqtt.service" systemd-analyze verify --man=no \
		/$U/systemd/system/ledd-mqtt.service
	# Higher than ledd's: the bridge needs the network (AF_INET, AF_INET6, no
	# PrivateNetwork=, no IPAddressDeny=) and a supplementary group (leds).
	sec=$(systemd-analyze security --offline=true /$U/systemd/system/ledd-mqtt.service 2>&1 | sed -n 's/.*Overall exposure level for ledd-mqtt.service: *//p')
	score=${sec%% *}
	if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 1.5) }'; then
		pass "systemd-analyze security --offline=true ledd-mqtt.service: $sec (<= 1.5)"
	else
		fail "systemd-analyze security --offline=true ledd-mqtt.service: '${sec:-no score}' (want <= 1.5)"
	fi
	check_quiet "ledd-mqtt.service: network families only AF_UNIX AF_INET AF_INET6" \
		grep -qx 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' /$U/systemd/system/ledd-mqtt.service
	check_quiet "ledd.service keeps PrivateNetwork=yes" grep -qx 'PrivateNetwork=yes' /$U/systemd/system/ledd.service
fi

# The installed bridge, as ledd-mqtt:ledd-mqtt with group leds (as its unit
# runs it), between the ledd below and a mosquitto on 127.0.0.1: it comes
# online, publishes the LED's state, and an order on MQTT reaches ledd.
bridge_check() {
	local port broker_pid bridge_pid got rc
	if ! command -v mosquitto >/dev/null; then
		fail "bridge: mosquitto is not installed"
		return
	fi
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	# Outside $rt (0750 ledd:leds), which user nobody cannot enter.
	printf '%s\n' "listener $port 127.0.0.1" 'allow_anonymous true' 'persistence false' >"$WORK/mosquitto.conf"
	chmod 0644 "$WORK/mosquitto.conf"
	setpriv --reuid=nobody --regid=nogroup --clear-groups mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
	broker_pid=$!
	for _ in $(seq 50); do mosquitto_pub -p "$port" -t ledd-test/ping -n 2>/dev/null && break; sleep 0.1; done
	if ! mosquitto_pub -p "$port" -t ledd-test/ping -n 2>/dev/null; then
		fail "bridge: mosquitto did not listen on 127.0.0.1:$port within 5 s"
		sed 's/^/     mosquitto: /' "$WORK/mosquitto.log" | tail -n 10
	fi
	printf '%s\n' "broker = \"mqtt://127.0.0.1:$port\"" 'node = "debtest"' "socket = \"$rt/ledd.sock\"" \
		>"$rt/mqtt.toml"
	chmod 0644 "$rt/mqtt.toml"
	setpriv --reuid=ledd-mqtt --regid=ledd-mqtt --init-groups ledd-mqtt --config "$rt/mqtt.toml" >"$rt/bridge.log" 2>&1 &
	bridge_pid=$!
	sub() { timeout 15 mosquitto_sub -p "$port" -C 1 -W 10 "$@" 2>&1; }
	# The bridge may reach the broker before ledd's socket: it then says
	# `offline` first and `online` a moment later, so poll the retained value.
	local deadline=$((SECONDS + 10))
	while :; do
		got=$(timeout 5 mosquitto_sub -p "$port" -C 1 -W 1 -t ledd/debtest/availability 2>&1) || true
		[ "$got" = online ] || [ "$SECONDS" -ge "$deadline" ] && break
		sleep 0.2
	done
	check_quiet "bridge (as ledd-mqtt, group leds): availability online within 10 s (got '$got')" test "$got" = online
	got=$(sub -t ledd/debtest/status/state) || true
	check_quiet "bridge: retained state of the status LED is JSON with \"state\"" \
		python3 -c 'import json, sys; assert json.loads(sys.argv[1])["state"] in ("ON", "OFF")' "$got"
	sub -t ledd/debtest/status/result >"$rt/result" &
	local sub_pid=$!
	sleep 1
	mosquitto_pub -p "$port" -q 1 -t ledd/debtest/status/set -m 'blink 5' || true
	wait "$sub_pid" || true
	check_quiet "bridge: 'blink 5' on ledd/debtest/status/set gets 'ok ...' on result (got '$(head -c 200 "$rt/result")')" \
		grep -q '^ok ' "$rt/result"
	check_quiet "bridge: ledd shows the order (ledctl status: blinking at 5 Hz)" sh -c \
		"setpriv --reuid=ledd --regid=leds --init-groups ledctl --socket '$rt/ledd.sock' status | grep -q 'blinking at 5 Hz'"
	rc=0
	kill -TERM "$bridge_pid" 2>/dev/null || true
	wait "$bridge_pid" || rc=$?
	check_quiet "bridge: SIGTERM stops it with exit 0 (exit $rc)" test "$rc" = 0
	got=$(sub -t ledd/debtest/availability) || true
	check_quiet "bridge: availability offline after the stop (got '$got')" test "$got" = offline
	if [ "$rc" != 0 ] || [ "$got" != offline ]; then sed 's/^/     bridge: /' "$rt/bridge.log" | tail -n 20; fi
	kill "$broker_pid" 2>/dev/null || true
	wait "$broker_pid" 2>/dev/null || true
}

# ledd really runs as ledd:leds with the shipped config, on a temporary socket
# and state file, the simulated backend; a member of leds may talk to it and
# a non-member is refused by the socket's mode.
rt=$WORK/run
mkdir -p "$rt" && chown ledd:leds "$rt" && chmod 0750 "$rt"
cat /etc/ledd/ledd.toml - >"$rt/ledd.toml" <<EOF

# (tests/deb/run.sh: temporary socket and state; table keys follow)
EOF
# Top-level keys must precede the first table: rewrite them in place.
sed -i -e "s|^#socket = .*|socket = \"$rt/ledd.sock\"|" \
	-e "s|^state_file = .*|state_file = \"$rt/state.toml\"|" "$rt/ledd.toml"
chmod 0644 "$rt/ledd.toml"
setpriv --reuid=ledd --regid=leds --init-groups ledd --simulate --config "$rt/ledd.toml" >"$rt/ledd.log" 2>&1 &
ledd_pid=$!
for _ in $(seq 50); do [ -S "$rt/ledd.sock" ] && break; sleep 0.1; done
if [ -S "$rt/ledd.sock" ]; then
	pass "installed ledd (as ledd:leds, --simulate) listens on its socket"
	check_quiet "socket is group leds, mode 0660" test "$(stat -c '%G %a' "$rt/ledd.sock")" = "leds 660"
	check_quiet "ledctl as user ledd (group leds): blink 2" setpriv --reuid=ledd --regid=leds --init-groups \
		ledctl --socket "$rt/ledd.sock" blink 2
	rc=0
	setpriv --reuid=nobody --regid=nogroup --clear-groups ledctl --socket "$rt/ledd.sock" version >/dev/null 2>&1 || rc=$?
	# /run/ledd-like dir 0750 ledd:leds: a non-member cannot even reach it
	# (ENOENT/EACCES): exit 3 or 4 per the spec, never 0.
	if [ "$rc" = 4 ] || [ "$rc" = 3 ]; then pass "ledctl as nobody is refused (exit $rc)"; else fail "ledctl as nobody: exit $rc, want 4 (or 3)"; fi
	bridge_check
else
	fail "installed ledd did not create $rt/ledd.sock within 5 s"
	sed 's/^/     /' "$rt/ledd.log" | tail -n 20
fi
kill "$ledd_pid" 2>/dev/null || true
wait "$ledd_pid" 2>/dev/null || true

# udev RUN commands on a fake sysfs LED, then what group leds may do there.
fake=$WORK/sys
dev=/devices/platform/leds/leds/ACT
mkdir -p "$fake$dev"
for f in brightness trigger max_brightness uevent delay_on delay_off; do echo 0 >"$fake$dev/$f"; done
chmod 0644 "$fake$dev"/*
chmod -R a+rX "$fake"
before=$(cd "$fake$dev" && md5sum -- *)
check_quiet "udev add event: RUN commands succeed" python3 "$HERE/udev-sim.py" run "$rules" "$fake" "$dev" add leds
perm() { stat -c '%G %a' "$fake$dev/$1"; }
for f in brightness trigger delay_on delay_off; do
	check_quiet "after add: $f is group leds, mode 664" test "$(perm "$f")" = "leds 664"
done
for f in max_brightness uevent; do
	check_quiet "after add: $f untouched (root 644)" test "$(perm "$f")" = "root 644"
done
check_quiet "udev rule wrote to no LED file" test "$(cd "$fake$dev" && md5sum -- *)" = "$before"
# A trigger change: the kernel recreates root-owned files, then sends "change".
for f in pattern repeat; do echo 0 >"$fake$dev/$f" && chmod 0644 "$fake$dev/$f"; done
rm -f "$fake$dev/delay_on" "$fake$dev/delay_off"
check_quiet "udev change event: RUN commands succeed (missing files skipped)" python3 "$HERE/udev-sim.py" run "$rules" "$fake" "$dev" change leds
for f in pattern repeat; do
	check_quiet "after change: $f is group leds, mode 664" test "$(perm "$f")" = "leds 664"
done
# silent CMD...: CMD exits 0 and prints nothing (a crash prints and exits non-zero).
silent() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] && return 0
	echo "exit $rc, output: $out"
	return 1
}
check_quiet "no RUN for another subsystem (udev-sim exits 0 and runs nothing)" \
	silent python3 "$HERE/udev-sim.py" run "$rules" "$fake" "$dev" add net
# try_write USER_ARGS... -- FILE: as that user, try to write 1 to FILE; prints
# "written" or "refused" from inside, so a failing setpriv (or sh) is told apart
# from a refused write: it fails the check instead of passing it.
try_write() {
	local args=() out rc=0
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	out=$(setpriv "${args[@]}" sh -c 'if (echo 1 >"$1") 2>/dev/null; then echo written; else echo refused; fi' sh "$2" 2>&1) || rc=$?
	[ "$rc" = 0 ] || { echo "setpriv ${args[*]} failed (exit $rc): $out"; return 2; }
	echo "$out"
}
# expect_write WANT USER_ARGS... -- FILE: WANT is written or refused.
expect_write() {
	local want=$1 got
	shift
	got=$(try_write "$@") || { echo "$got"; return 1; }
	[ "$got" = "$want" ] || { echo "want $want, got $got"; return 1; }
}
check_quiet "group leds member (ledd) can write brightness" \
	expect_write written --reuid=ledd --regid=leds --init-groups -- "$fake$dev/brightness"
check_quiet "non-member (nobody) cannot write brightness" \
	expect_write refused --reuid=nobody --regid=nogroup --clear-groups -- "$fake$dev/brightness"
check_quiet "group leds member cannot write max_brightness" \
	expect_write refused --reuid=ledd --regid=leds --init-groups -- "$fake$dev/max_brightness"

# --- Purge -----------------------------------------------------------------------
# What ledd writes at run time (StateDirectory=, RuntimeDirectory=), to check
# that purge removes it too.
mkdir -p /var/lib/ledd /run/ledd
echo '# state' >/var/lib/ledd/state.toml
chown -R ledd:leds /var/lib/ledd /run/ledd || true
files=$(printf '%s\n' "$contents" "$mcontents" | awk '$1 !~ /^d/ { sub(/^\./, "", $NF); print $NF }')
check_quiet "dpkg --purge ledd refused while ledd-mqtt depends on it" sh -c "! dpkg --purge ledd >/dev/null 2>&1"
check_quiet "dpkg --purge ledd-mqtt" dpkg --purge ledd-mqtt
check_quiet "purge ledd-mqtt left ledd installed and /etc/ledd/ledd.toml" test -f /etc/ledd/ledd.toml
check_quiet "purge ledd-mqtt removed /etc/ledd/mqtt.toml" test ! -e /etc/ledd/mqtt.toml
check_quiet "dpkg --purge ledd" dpkg --purge ledd
check_quiet "dpkg no longer knows ledd" sh -c "! dpkg-query -W -f='\${Status}\n' ledd 2>/dev/null | grep -qv 'not-installed\$'"
left=()
for f in $files /etc/ledd /var/lib/ledd /run/ledd /usr/lib/ledd /usr/share/doc/ledd /usr/share/doc/ledd-mqtt; do
	if [ -e "$f" ] || [ -L "$f" ]; then left+=("$f"); fi
done
if [ ${#left[@]} -eq 0 ]; then pass "nothing left after purge (files, /etc/ledd, /var/lib/ledd, /run/ledd)"; else fail "left after purge: ${left[*]}"; fi
note "users ledd, ledd-mqtt and group leds are kept after purge by design (README.Debian)"

# --- Reinstall ---------------------------------------------------------------------
check_quiet "reinstall: dpkg -i works after purge (both packages at once)" dpkg -i "$deb" "$mdeb"
check_quiet "reinstall: shipped config is back" test -f /etc/ledd/ledd.toml
check_quiet "reinstall: ledctl --version" ledctl --version
check_quiet "reinstall: ledd-mqtt's shipped config is back" test -f /etc/ledd/mqtt.toml
# The page as the package installs it, driving ledd as the package installs it.
if [ -f /usr/share/doc/ledd/examples/web/index.php ] && [ "${LEDD_DEB_WEB:-1}" = 1 ]; then
	check_quiet "web page from the package, in Chromium, with the packaged ledd (tests/web/run.sh)" \
		env LEDD_BIN=/usr/sbin/ledd LEDD_PAGE=/usr/share/doc/ledd/examples/web/index.php bash "$REPO/tests/web/run.sh"
fi
if [ "${LEDD_DEB_KEEP:-0}" != 1 ] && [ "$installed_before" = no ]; then
	check_quiet "final purge" dpkg --purge ledd-mqtt ledd
fi

# --- Cross build: arm64 ---------------------------------------------------------------
if [ "${LEDD_DEB_CROSS:-1}" = 1 ] && [ "$arch" != arm64 ]; then
	cross_tools() {
		# A Rust standard library for aarch64 of the compiler's exact version:
		# rustup's target if installed, else Debian's rustc-web trio from one
		# version (bookworm-security), which debian/rules then uses.
		dpkg --print-foreign-architectures | grep -qx arm64 || {
			dpkg --add-architecture arm64
			apt_updated=no
		}
		# qemu-user runs the arm64 binaries once built (no binfmt needed).
		apt_install gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu qemu-user
		# dpkg-shlibdeps looks for the arm64 libraries the binaries link
		# against where a Debian cross build has them (/lib/aarch64-linux-gnu),
		# not in the cross toolchain's tree: install them from the arm64
		# archive, at the versions of the amd64 ones (Multi-Arch: same).
		apt_install "libc6:arm64=$(dpkg-query -W -f='${Version}' "libc6:$arch")" \
			"libgcc-s1:arm64=$(dpkg-query -W -f='${Version}' "libgcc-s1:$arch")"
		local libdir
		libdir=$(rustc --print target-libdir --target aarch64-unknown-linux-gnu 2>/dev/null || true)
		if ! ls "$libdir"/libstd-*.rlib >/dev/null 2>&1; then
			[ "$apt_updated" = yes ] || { apt-get -o DPkg::Lock::Timeout=600 update -qq && apt_updated=yes; }
			local v
			v=$(apt-cache policy rustc-web | sed -n 's/^ *Candidate: *//p')
			if [ -z "$v" ] || [ "$v" = "(none)" ]; then echo "no rustc-web in apt sources"; return 1; fi
			# Explicit versions: without them apt may mix the arm64 libc6 of
			# bookworm-security with the amd64 one of bookworm (uninstallable).
			apt_install "rustc-web=$v" "cargo-web=$v" "libstd-rust-web-dev=$v" "libstd-rust-web-dev:arm64=$v"
		fi
	}
	check_quiet "arm64 cross tools installed" cross_tools
	if check_quiet "dpkg-buildpackage -a arm64 -us -uc -b -d (log: target/deb-test/build-arm64.log)" \
		build "$CACHE/build-arm64.log" -a arm64 -d; then
		adeb=$(ls "$WORK"/ledd_"${deb_version}"_arm64.deb 2>/dev/null || true)
		if [ -n "$adeb" ]; then
			pass "built $(basename "$adeb")"
			cp "$adeb" "$CACHE/"
			ax=$WORK/xa
			dpkg-deb -x "$adeb" "$ax"
			check_quiet "arm64: usr/sbin/ledd is AArch64" test "$(machine "$ax/usr/sbin/ledd")" = AArch64
			check_quiet "arm64: usr/bin/ledctl is AArch64" test "$(machine "$ax/usr/bin/ledctl")" = AArch64
			qa() { qemu-aarch64 -L /usr/aarch64-linux-gnu "$@"; }
			check_quiet "arm64: ledctl --version runs under qemu-aarch64" sh -c "qemu-aarch64 -L /usr/aarch64-linux-gnu '$ax/usr/bin/ledctl' --version | grep -q '$deb_version'"
			check_quiet "arm64: ledd --version runs under qemu-aarch64" sh -c "qemu-aarch64 -L /usr/aarch64-linux-gnu '$ax/usr/sbin/ledd' --version | grep -q '$deb_version'"
			check_quiet "arm64: ledd --check-config accepts the shipped config (qemu-aarch64)" \
				qa "$ax/usr/sbin/ledd" --check-config --config "$ax/etc/ledd/ledd.toml"
			check_quiet "arm64: Architecture: arm64" test "$(dpkg-deb -f "$adeb" Architecture)" = arm64
			check_quiet "arm64: same file list as $arch" test \
				"$(dpkg-deb -c "$adeb" | awk '{print $1, $NF}')" = "$(printf '%s\n' "$contents" | awk '{print $1, $NF}')"
			check_quiet "arm64: Depends has libc6" sh -c "dpkg-deb -f '$adeb' Depends | grep -q libc6"
			lint "$adeb"
		else
			fail "no ledd_${deb_version}_arm64.deb built"
		fi
		amdeb=$WORK/ledd-mqtt_${deb_version}_arm64.deb
		if [ -f "$amdeb" ]; then
			pass "built $(basename "$amdeb")"
			cp "$amdeb" "$CACHE/"
			dpkg-deb -x "$amdeb" "$WORK/xma"
			check_quiet "arm64: usr/sbin/ledd-mqtt is AArch64" test "$(machine "$WORK/xma/usr/sbin/ledd-mqtt")" = AArch64
			check_quiet "arm64: ledd-mqtt --version runs under qemu-aarch64" sh -c "qemu-aarch64 -L /usr/aarch64-linux-gnu '$WORK/xma/usr/sbin/ledd-mqtt' --version | grep -q '$deb_version'"
			check_quiet "arm64: ledd-mqtt, same file list as $arch" test \
				"$(dpkg-deb -c "$amdeb" | awk '{print $1, $NF}')" = "$(printf '%s\n' "$mcontents" | awk '{print $1, $NF}')"
			lint "$amdeb"
		else
			fail "no ledd-mqtt_${deb_version}_arm64.deb built"
		fi
	fi
else
	skip "arm64 cross build (LEDD_DEB_CROSS=0 or native arm64)"
fi

finish
