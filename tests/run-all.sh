#!/usr/bin/env bash
# The whole test suite, as the README gives it and CI runs it:
# formatting and lints, unit, property and integration tests, then the
# tiers that need a real kernel (qemu), the Debian package, the emulated
# Raspberry Pi and the web page. Installs what it needs (run as root on
# Debian 12, or with sudo), caches downloads under target/.
set -euo pipefail
cd "$(dirname "$0")/.."

failed=()
tier() {
    local name=$1; shift
    echo
    echo "=== tier: $name"
    local start=$SECONDS
    if "$@"; then
        echo "=== tier $name: PASS ($((SECONDS - start)) s)"
    else
        echo "=== tier $name: FAIL ($((SECONDS - start)) s)"
        failed+=("$name")
    fi
}

tests/setup.sh

tier format cargo fmt --all -- --check
tier clippy cargo clippy --all-targets --locked -- -D warnings
tier unit-and-integration cargo nextest run --locked --no-fail-fast
for script in tests/kernel/run.sh tests/deb/run.sh tests/pi/run.sh tests/web/run.sh; do
    [ -x "$script" ] && tier "$(basename "$(dirname "$script")")" "$script"
done

echo
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED tiers: ${failed[*]}"
    exit 1
fi
echo "all tiers passed"
