#!/usr/bin/env bash
# tests/apt/run.sh - `apt install ledd` from a signed repository (issue 15,
# section 3), in a clean Debian 13 chroot (mmdebstrap minbase + systemd,
# cached tarball) with no network: debian/make-apt-repo.sh makes the
# repository with a throwaway key; apt refuses it under another key, takes it
# with signed-by=, installs the previous release (built from its git commit),
# then upgrades to the current one with --force-confold as unattended Debian
# upgrades do: the administrator's /etc/ledd/ledd.toml and the state file
# stay; the repository serves every architecture built; a downgrade keeps
# them too; remove keeps the conffile and state, purge removes both.
#
# The current .debs come from the debian13 tier (target/debian13/debs/, same
# tree) and the deb tier (target/deb-test/, arm64) when they are there; else
# the amd64 one is built here (development build). Not proven here: the
# service's restart and the LED blinking on across the upgrade (no systemd as
# PID 1 in a chroot): the system tier does that on a booted Debian 12, with
# the same previous release (tests/lib/build-deb.sh, one cache).
#
# Runs as root; not root: SKIPPED, exit 77. Ends with "N passed, N failed".
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/tier.sh
. "$repo/tests/lib/tier.sh"
tier_needs_root apt "mmdebstrap, chroot, dpkg in the chroot"
. "$repo/tests/lib/build-deb.sh"
cache=$repo/target/apt-test
mkdir -p "$cache"
export DEBIAN_FRONTEND=noninteractive

work=$(mktemp -d /tmp/ledd-apt.XXXXXX)
trap 'rm -rf "$work"' EXIT

need=()
for t in mmdebstrap:mmdebstrap apt-ftparchive:apt-utils gpg:gpg dpkg-buildpackage:dpkg-dev; do
	command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cur=$(cd "$repo" && dpkg-parsechangelog -S Version)
prev=$(cd "$repo" && dpkg-parsechangelog -o 1 -c 1 -S Version)
arch=$(dpkg --print-architecture)

# --- The previous release, from its git commit -----------------------------------
# (tests/lib/build-deb.sh: LEDD_APT_PREVIOUS=COMMIT, else tag v$prev, else the
# release's recorded commit, else the newest commit along HEAD's first parents
# at $prev; built once, cached.)
if prevdeb=$(ledd_previous_deb "$repo" "$cache" "$work/prev" 2>"$work/prev.err"); then
	pass "previous release $prev: ${prevdeb#"$repo"/} (log: target/apt-test/build-prev.log)"
else
	fail "previous release $prev: $(cat "$work/prev.err")"
	finish
fi

# --- The current .debs ----------------------------------------------------------------
debs=()
for d in "$repo/target/debian13/debs/ledd_${cur}_"*.deb "$repo/target/debian13/debs/ledd-mqtt_${cur}_"*.deb \
	"$repo/target/deb-test/ledd_${cur}_arm64.deb"; do
	[ -f "$d" ] && debs+=("$d")
done
if ! printf '%s\n' "${debs[@]}" | grep -q "_$arch.deb$"; then
	note "no ledd_${cur}_$arch.deb from the debian13 tier: building one"
	build_cur() {
		ledd_copy_tree "$repo" "$work/cur/ledd" &&
			ledd_build_deb "$work/cur/ledd" "$repo/target/deb-test/cargo" "$cache/build-cur.log" "nocheck parallel=$(nproc)"
	}
	check_quiet "ledd_${cur}_$arch.deb built (log: target/apt-test/build-cur.log)" build_cur || finish
	debs+=("$work/cur/ledd_${cur}_$arch.deb" "$work/cur/ledd-mqtt_${cur}_$arch.deb")
fi
note "current: $(for d in "${debs[@]}"; do basename "$d"; done | tr '\n' ' ')"

# --- Repositories: the previous release alone, then both ----------------------------------
mkrepo() { LEDD_REPO_TEST_KEY=1 "$repo/debian/make-apt-repo.sh" "$@"; }
check_quiet "debian/make-apt-repo.sh: repository with $prev" mkrepo "$work/repo-v1/repo" "$prevdeb" || finish
mkdir -p "$work/repo-v2"
cp -a "$work/repo-v1/test-gnupg" "$work/repo-v2/"
check_quiet "debian/make-apt-repo.sh: repository with $prev and $cur ($(printf '%s\n' "${debs[@]}" | sed 's/.*_//; s/\.deb//' | tr '\n' ' '))" \
	mkrepo "$work/repo-v2/repo" "$prevdeb" "${debs[@]}" || finish
check_quiet "InRelease is signed by the test key (gpgv)" \
	gpgv --keyring "$work/repo-v2/repo/ledd-archive-keyring.gpg" "$work/repo-v2/repo/dists/stable/InRelease"

# --- A clean Debian 13 ------------------------------------------------------------------------
key=$(printf '%s\n' "minbase trixie systemd v1" | sha256sum | cut -c1-12)
tarball=$cache/trixie-min-$key.tar
if [ ! -f "$tarball" ]; then
	rm -f "$cache"/trixie-min-*.tar
	mkchroot() {
		mmdebstrap --variant=minbase --include=systemd trixie "$cache/partial.tar" \
			http://deb.debian.org/debian >"$cache/mmdebstrap.log" 2>&1 && mv "$cache/partial.tar" "$tarball"
	}
	check_quiet "Debian 13 minbase + systemd chroot (once; cached as ${tarball#"$repo"/})" mkchroot || finish
fi
root=$work/root
mkdir -p "$root"
tar -C "$root" -xf "$tarball"
# Only the ledd repository: no network, no other source.
rm -f "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/*
inside() {
	unshare --net --mount --pid --fork --mount-proc="$root/proc" sh -c '
		root=$1; shift
		mount --rbind /dev "$root/dev"
		exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"' sh "$root" "$@"
}
publish() { rm -rf "$root/srv/ledd-repo" && cp -a "$1" "$root/srv/ledd-repo"; }
mkdir -p "$root/srv" "$root/etc/apt/keyrings"
publish "$work/repo-v1/repo"
line='deb [signed-by=/etc/apt/keyrings/ledd.gpg] file:/srv/ledd-repo stable main'
echo "$line" >"$root/etc/apt/sources.list.d/ledd.list"

# Another key than the repository's: apt must refuse it.
gpg --batch --quiet --no-default-keyring --keyring "$work/other.kbx" --homedir "$work" \
	--passphrase '' --quick-gen-key 'someone else <other@example.invalid>' ed25519 sign never 2>/dev/null
gpg --batch --quiet --no-default-keyring --keyring "$work/other.kbx" --homedir "$work" --export >"$root/etc/apt/keyrings/ledd.gpg"
refuse() {
	local out
	out=$(inside apt-get update 2>&1) || true
	grep -Eq 'NO_PUBKEY|not signed|is not signed|Missing key|signature' <<<"$out" &&
		! inside apt-cache show ledd >/dev/null 2>&1 || { echo "$out"; return 1; }
}
check_quiet "apt refuses the repository under another key (signed-by)" refuse
cp "$work/repo-v1/repo/ledd-archive-keyring.gpg" "$root/etc/apt/keyrings/ledd.gpg"
check_quiet "apt-get update with signed-by=/etc/apt/keyrings/ledd.gpg" inside apt-get update
version() { inside dpkg-query -W -f='${Version} ${Architecture} ${Status}' "${1:-ledd}" 2>/dev/null || true; }
check_quiet "apt-get install ledd: $prev" inside apt-get install -y --no-install-recommends ledd
[ "$(version)" = "$prev $arch install ok installed" ] && pass "installed: ledd $prev $arch" || fail "installed: $(version)"

# The administrator's changes, and a saved state.
echo '# changed by the administrator (tests/apt)' >>"$root/etc/ledd/ledd.toml"
sed -i 's/^#log_level = "info"/log_level = "debug"/' "$root/etc/ledd/ledd.toml"
conf_sum=$(sha256sum <"$root/etc/ledd/ledd.toml")
mkdir -p "$root/var/lib/ledd"
printf '%s\n' '# ledd state (tests/apt)' '[leds.status]' 'trigger = "timer"' >"$root/var/lib/ledd/state.toml"
state_sum=$(sha256sum <"$root/var/lib/ledd/state.toml")
kept() { # kept WHAT: the config and the state file are unchanged
	[ "$(sha256sum <"$root/etc/ledd/ledd.toml")" = "$conf_sum" ] || { echo "ledd.toml changed"; return 1; }
	[ "$(sha256sum <"$root/var/lib/ledd/state.toml")" = "$state_sum" ] || { echo "state.toml changed"; return 1; }
}

# --- Upgrade ------------------------------------------------------------------------------------
publish "$work/repo-v2/repo"
check_quiet "apt-get update (repository now with $cur)" inside apt-get update
confold=(-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
check_quiet "apt-get upgrade --force-confdef --force-confold" inside apt-get upgrade -y "${confold[@]}"
[ "$(version)" = "$cur $arch install ok installed" ] && pass "upgraded: ledd $cur $arch" || fail "after upgrade: $(version)"
check_quiet "upgrade kept the administrator's ledd.toml and the state file" kept
if [ -f "$root/etc/ledd/ledd.toml.dpkg-dist" ]; then
	note "the shipped ledd.toml changed: the new one is /etc/ledd/ledd.toml.dpkg-dist"
fi
says_cur() { inside ledd --version | grep -qF "$cur"; }
check_quiet "ledd --version says $cur" says_cur
for a in $(printf '%s\n' "${debs[@]}" | sed 's/.*_//; s/\.deb//' | grep -vx "$arch"); do
	polic() {
		inside dpkg --add-architecture "$a" && inside apt-get update >/dev/null &&
			inside apt-cache policy "ledd:$a" | grep -q "Candidate: $cur"
	}
	check_quiet "the repository serves ledd:$a $cur (apt-cache policy)" polic
done

# --- Downgrade, remove, purge -------------------------------------------------------------------
check_quiet "apt-get install --allow-downgrades ledd=$prev" inside apt-get install -y --allow-downgrades "${confold[@]}" "ledd=$prev"
[ "$(version)" = "$prev $arch install ok installed" ] && pass "downgraded: ledd $prev" || fail "after downgrade: $(version)"
check_quiet "downgrade kept ledd.toml and the state file" kept
check_quiet "apt-get upgrade back to $cur" inside apt-get upgrade -y "${confold[@]}"
# The classroom's bridge, as the README says: apt install ledd-mqtt, which
# depends on this very version of ledd.
check_quiet "apt-get install ledd-mqtt" inside apt-get install -y --no-install-recommends ledd-mqtt
[ "$(version ledd-mqtt)" = "$cur $arch install ok installed" ] && pass "installed: ledd-mqtt $cur $arch" ||
	fail "ledd-mqtt: $(version ledd-mqtt)"
check_quiet "apt-get remove ledd" inside apt-get remove -y ledd
[ "$(version)" = "$cur $arch deinstall ok config-files" ] && pass "removed: config-files state" || fail "after remove: $(version)"
check_quiet "remove kept ledd.toml (conffile) and the state file" kept
check_quiet "apt-get purge ledd ledd-mqtt (removed with ledd, its Depends)" inside apt-get purge -y ledd ledd-mqtt
gone() {
	[ ! -e "$root/etc/ledd/ledd.toml" ] && [ ! -e "$root/etc/ledd/mqtt.toml" ] && [ ! -e "$root/var/lib/ledd" ] &&
		case $(version) in "" | *not-installed) ;; *) echo "still: $(version)"; false ;; esac &&
		case $(version ledd-mqtt) in "" | *not-installed) ;; *) echo "still: $(version ledd-mqtt)"; false ;; esac
}
check_quiet "purge removed ledd.toml, mqtt.toml, /var/lib/ledd and both packages" gone
finish
