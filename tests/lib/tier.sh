# shellcheck shell=bash
# tests/lib/tier.sh - the tally every tier script keeps, sourced by
# tests/deb, tests/pi, tests/web and tests/system (run.sh each), so they report
# alike and tests/run-all.sh reads the same last line from all of them:
#
#   N passed, N failed, N skipped
#
#   tier_needs_root TIER WHY  not root: a named SKIPPED line, the tally, exit 77
#                             (the suite's "cannot run here" status)
#   pass TEXT, fail TEXT, skip TEXT
#                             one check's verdict, counted
#   note TEXT                 a line of detail, not counted
#   check NAME CMD...         PASS when CMD (run in this shell, output shown)
#                             succeeds, else FAIL
#   check_quiet NAME CMD...   the same with CMD's output kept back, its last
#                             20 lines shown on FAIL
#   tier_plan N               the run must report N checks: finish fails the
#                             ones never reported (a crash half-way, an early exit)
#   tier_plan_names NAME...   the run must report a check of each NAME (the
#                             first word given to pass or fail): finish fails
#                             each one never reported
#   finish                    the time taken and the tally; exits 0 only if
#                             nothing failed

passed=0 failed=0 skipped=0
tier_started=$SECONDS
tier_planned=
tier_names=()
declare -A tier_seen=()

# The first word of a verdict names the check, for tier_plan_names.
tier_saw() { [ -z "$1" ] || tier_seen[$1]=1; }
pass() { echo "PASS: $*"; tier_saw "${1:-}"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; tier_saw "${1:-}"; failed=$((failed + 1)); }
skip() { echo "SKIPPED: $*"; skipped=$((skipped + 1)); }
note() { echo "  .. $*"; }

check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

check_quiet() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/     /'
	fi
}

tier_plan() { tier_planned=$1; }
tier_plan_names() { tier_names=("$@"); }

tier_needs_root() {
	if [ "$(id -u)" != 0 ]; then
		# Not something a test can install: reported by name, with the suite's skip status.
		echo "SKIPPED $1: needs root ($2)"
		echo "0 passed, 0 failed, 1 skipped"
		exit 77
	fi
}

finish() {
	local missing name
	for name in "${tier_names[@]}"; do
		[ -n "${tier_seen[$name]:-}" ] || fail "$name" "(missing: never reported)"
	done
	if [ -n "$tier_planned" ]; then
		missing=$((tier_planned - passed - failed - skipped))
		[ "$missing" -le 0 ] || fail "$missing planned checks never reported"
	fi
	echo "took $((SECONDS - tier_started)) s"
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}
