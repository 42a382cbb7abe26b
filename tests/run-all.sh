#!/usr/bin/env bash
# The whole test suite, as the README gives it and CI runs it:
# formatting and lints, unit, property and integration tests, a 30 s soak,
# 60 s of fuzzing per parser, then the tiers that need a real kernel (qemu),
# the Debian package, the package on a booted Debian system (qemu), the
# emulated Raspberry Pi and the web page, and the
# benchmark's budgets in quick mode. Installs what it needs (run as root on
# Debian 12, or with sudo), caches downloads under target/.
set -euo pipefail
cd "$(dirname "$0")/.."

failed=()
passed=0
tier() {
    local name=$1; shift
    echo
    echo "=== tier: $name"
    local start=$SECONDS
    if "$@"; then
        echo "=== tier $name: PASS ($((SECONDS - start)) s)"
        passed=$((passed + 1))
    else
        echo "=== tier $name: FAIL ($((SECONDS - start)) s)"
        failed+=("$name")
    fi
}

tests/setup.sh

tier format cargo fmt --all -- --check
tier clippy cargo clippy --all-targets --locked -- -D warnings
tier unit-and-integration cargo nextest run --locked --no-fail-fast
tier soak tests/soak/run.sh 30
tier fuzz fuzz/run.sh 60
tier kernel tests/kernel/run.sh
tier deb tests/deb/run.sh
# The booted Debian system installs the package the deb tier just built and
# checked, when that tier passed (it rebuilds it every run); else it builds
# its own the same way.
system_env=()
if [[ " ${failed[*]} " != *" deb "* ]] && version=$(dpkg-parsechangelog -S Version) &&
    [ -f "target/deb-test/ledd_${version}_$(dpkg --print-architecture).deb" ]; then
    system_env=("LEDD_DEB=target/deb-test/ledd_${version}_$(dpkg --print-architecture).deb")
fi
tier system env "${system_env[@]}" tests/system/run.sh
tier pi tests/pi/run.sh
tier web tests/web/run.sh
tier bench python3 bench/run.py --quick

echo
[ ${#failed[@]} -eq 0 ] || echo "FAILED tiers: ${failed[*]}"
echo "tiers: $passed passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
