#!/usr/bin/env bash
# Fuzzes ledd's parsers with libFuzzer: each target runs SECONDS (default 60),
# one after the other on one core. Needs the nightly toolchain; installs
# cargo-fuzz if it is missing. Skips (exit 0) without nightly.
#   fuzz/run.sh [SECONDS]
# New inputs go to target/fuzz-corpus/ (the committed fuzz/corpus/ only seeds
# them, so a CI run leaves the work tree clean); crashes to fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${1:-60}
case $seconds in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
targets=(order_parser config_parser)

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "SKIP fuzz: no nightly toolchain (rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

passed=0
failed=0
for target in "${targets[@]}"; do
    corpus=$root/target/fuzz-corpus/$target
    mkdir -p "$corpus"
    log=$root/target/fuzz-$target.log
    echo "fuzzing $target for $seconds s (log: $log)"
    # One process, no -jobs: libFuzzer's -jobs mode forks workers and moves
    # the output to fuzz-N.log files. The shared target dir keeps builds in target/.
    if cargo +nightly fuzz run --target-dir "$root/target/fuzz" "$target" \
        "$corpus" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -dict="fuzz/$target.dict" \
        -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -Eo '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
        cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
        echo "PASS fuzz $target: $runs runs, ${cov:-no coverage line}"
        passed=$((passed + 1))
    else
        echo "FAIL fuzz $target: see $log and fuzz/artifacts/$target/"
        grep -E -A15 'panicked|ERROR: libFuzzer|ERROR: AddressSanitizer' "$log" | head -n 40 || true
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
