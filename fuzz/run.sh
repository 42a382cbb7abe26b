#!/usr/bin/env bash
# Fuzzes ledd's parsers with libFuzzer: each target runs SECONDS (default 60),
# one after the other on one core. Needs the nightly toolchain: installs it
# (rustup) and cargo-fuzz when missing; a failed cargo-fuzz install fails.
# When no nightly is there and none can be installed (no network to
# static.rust-lang.org), each target is reported SKIPPED by name and the
# script exits 77 (the suite's "skipped" status), never 0.
#   fuzz/run.sh [SECONDS]
# Ends with "N passed, N failed, N skipped".
# LEDD_FUZZ_TOOLCHAIN (default nightly) names the toolchain to use.
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

toolchain=${LEDD_FUZZ_TOOLCHAIN:-nightly}

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    echo "no $toolchain toolchain: installing it (rustup toolchain install $toolchain --profile minimal)"
    if ! timeout 600 rustup toolchain install "$toolchain" --profile minimal; then
        for target in "${targets[@]}"; do
            echo "SKIPPED fuzz $target: no $toolchain toolchain, and none could be installed (no network to static.rust-lang.org?)"
        done
        echo "0 passed, 0 failed, ${#targets[@]} skipped"
        exit 77
    fi
fi
if ! cargo "+$toolchain" fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    if ! cargo install --locked cargo-fuzz; then
        echo "FAIL fuzz: cargo-fuzz could not be installed (crates.io)"
        echo "0 passed, 1 failed, 0 skipped"
        exit 1
    fi
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
    if cargo "+$toolchain" fuzz run --target-dir "$root/target/fuzz" "$target" \
        "$corpus" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -dict="fuzz/$target.dict" \
        -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
        cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1) || cov="no coverage line"
        # A run that executed nothing proves nothing.
        if [ "${runs:-0}" -gt 0 ]; then
            echo "PASS fuzz $target: $runs runs, $cov"
            passed=$((passed + 1))
        else
            echo "FAIL fuzz $target: libFuzzer reported no executed inputs (see $log)"
            failed=$((failed + 1))
        fi
    else
        echo "FAIL fuzz $target: see $log and fuzz/artifacts/$target/"
        grep -E -A15 'panicked|ERROR: libFuzzer|ERROR: AddressSanitizer' "$log" | head -n 40 || true
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
