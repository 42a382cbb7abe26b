#!/usr/bin/env bash
# Soak test: 32 clients hammer a real ledd for SECONDS (default 30; 600 for
# the full run), then ledd's memory and descriptors are compared with their
# values after a warm-up. Prints the figures and a PASS/FAIL line.
#   tests/soak/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-30}
case $seconds in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

# The soak target has `test = false` (Cargo.toml) so that the normal test run
# stays fast; run only it. --nocapture shows the figures; --test-threads=1
# keeps the machine for ledd.
if LEDD_SOAK_SECS=$seconds cargo test --locked --test soak -- --nocapture --test-threads=1; then
    echo "soak ($seconds s): PASS"
else
    echo "soak ($seconds s): FAIL"
    exit 1
fi
