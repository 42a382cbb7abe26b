#!/usr/bin/env bash
# The whole test suite, as the README gives it and CI runs it:
# formatting and lints, unit, property and integration tests, a 30 s soak,
# 60 s of fuzzing per parser, then the tiers that need a real kernel (qemu),
# the Debian package, the package on a booted Debian system (qemu), the
# emulated Raspberry Pi, the web page, ssh and the MQTT bridge, and the
# benchmark's budgets in quick mode. Installs what it needs (run as root on
# Debian 12, or with sudo), caches downloads under target/.
#
# Each tier is PASS (exit 0), SKIPPED (exit 77: something this machine cannot
# have, named in the tier's SKIPPED lines) or FAIL (anything else). Tiers that
# run many checks end with "N passed, N failed[, N skipped]" (nextest with its
# own summary line); those counts are added up, a tier that ran and printed no
# count fails. The last line counts tiers and checks; on the project's CI
# machine (root, network to Debian and crates.io) the skipped counts are 0.
# Logs: target/run-all/TIER.log.
set -euo pipefail
cd "$(dirname "$0")/.."

logs=target/run-all
mkdir -p "$logs"
tiers_passed=0 tiers_skipped=0
failed=() skipped=()
checks_passed=0 checks_failed=0 checks_skipped=0

# counts LOG: "passed failed skipped" from the last count line of LOG, or nothing.
counts() {
    local line
    line=$(grep -E '^( *Summary \[.*\] [0-9]+ tests? run: )?[0-9]+ passed' "$1" | tail -n 1) || return 0
    [ -n "$line" ] || return 0
    num() { sed -nE "s/.*[ :]([0-9]+) $1.*/\1/p; s/^([0-9]+) $1.*/\1/p" <<<"$line" | head -n 1; }
    local p f s
    p=$(num passed) f=$(num failed) s=$(num skipped)
    echo "${p:-0} ${f:-0} ${s:-0}"
}

# tier NAME COUNTED CMD...: COUNTED is yes when the tier must print a count line.
tier() {
    local name=$1 counted=$2
    shift 2
    local log=$logs/$name.log start=$SECONDS rc verdict p f s c
    echo
    echo "=== tier: $name"
    set +e
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    c=$(counts "$log")
    if [ -n "$c" ]; then
        read -r p f s <<<"$c"
    elif [ "$counted" = yes ] && [ "$rc" -ne 77 ]; then
        echo "tier $name printed no 'N passed, N failed' line"
        p=0 f=1 s=0 rc=1
    else
        # A one-check tier: its exit status is the check.
        p=0 f=0 s=0
        case $rc in 0) p=1 ;; 77) s=1 ;; *) f=1 ;; esac
    fi
    if [ "$rc" -eq 0 ] && [ "$f" -ne 0 ]; then
        echo "tier $name exited 0 but counted $f failed checks"
        rc=1
    fi
    checks_passed=$((checks_passed + p))
    checks_failed=$((checks_failed + f))
    checks_skipped=$((checks_skipped + s))
    case $rc in
    0) verdict=PASS tiers_passed=$((tiers_passed + 1)) ;;
    77) verdict=SKIPPED skipped+=("$name") tiers_skipped=$((tiers_skipped + 1)) ;;
    *) verdict=FAIL failed+=("$name") ;;
    esac
    echo "=== tier $name: $verdict ($((SECONDS - start)) s; checks: $p passed, $f failed, $s skipped)"
}

tests/setup.sh

# Tests that need root are #[ignore = "needs root ..."]: run them when root
# (on CI); otherwise nextest lists them as skipped, by name, and counts them.
if [ "$(id -u)" -eq 0 ]; then run_ignored=all; else run_ignored=default; fi

tier format no cargo fmt --all -- --check
tier clippy no cargo clippy --workspace --all-targets --locked -- -D warnings
tier unit-and-integration yes cargo nextest run --workspace --locked --no-fail-fast --run-ignored "$run_ignored" --status-level skip
tier doctests no cargo test --doc --workspace --locked
tier soak no tests/soak/run.sh 30
tier fuzz yes fuzz/run.sh 60
tier kernel yes tests/kernel/run.sh
tier deb yes tests/deb/run.sh
# The source package with vendored crates, offline in a Debian 13 chroot
# (cached tarball), built twice and compared; the ARMv6 armhf package on
# qemu-arm -cpu arm1176.
tier debian13 yes tests/debian13/run.sh
# apt install / upgrade / downgrade / purge from a signed repository holding
# the debian13 tier's .debs (and the deb tier's arm64 one).
tier apt yes tests/apt/run.sh
# The booted Debian system installs the package the deb tier just built and
# checked, when that tier passed (it rebuilds it every run); else it builds
# its own the same way.
system_env=()
if [[ " ${failed[*]} " != *" deb "* ]] && version=$(dpkg-parsechangelog -S Version) &&
    [ -f "target/deb-test/ledd_${version}_$(dpkg --print-architecture).deb" ]; then
    system_env=("LEDD_DEB=target/deb-test/ledd_${version}_$(dpkg --print-architecture).deb")
fi
tier system yes env "${system_env[@]}" tests/system/run.sh
tier pi yes tests/pi/run.sh
tier web yes tests/web/run.sh
tier ssh yes tests/ssh/run.sh
# ledd-mqtt against Debian's mosquitto on 127.0.0.1 (password file, ACL, TLS
# with a CA of its own): three nodes, each a real ledd with its bridge.
tier mqtt yes tests/mqtt/run.sh
tier bench yes python3 bench/run.py --quick

echo
[ ${#failed[@]} -eq 0 ] || echo "FAILED tiers: ${failed[*]}"
[ ${#skipped[@]} -eq 0 ] || echo "SKIPPED tiers: ${skipped[*]}"
if [ "$checks_skipped" -gt 0 ]; then
    echo "skipped checks, by name:"
    grep -hE '^ *(SKIPPED|SKIP) ' "$logs"/*.log | sed 's/^ */  /' || echo "  (see the tier logs in $logs)"
fi
echo "tiers: $tiers_passed passed, ${#failed[@]} failed, $tiers_skipped skipped; checks: $checks_passed passed, $checks_failed failed, $checks_skipped skipped"
[ ${#failed[@]} -eq 0 ]
