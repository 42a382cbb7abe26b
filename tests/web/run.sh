#!/usr/bin/env bash
# End-to-end test of the classroom web page examples/web/index.php:
# real ledd on a fake sysfs tree  <-  php -S serving the page  <-  headless Debian Chromium.
# Announces its plan (how many checks each step must report), prints PASS/FAIL/SKIPPED lines
# and ends with "N passed, N failed, N skipped"; a step that exits non-zero, or reports fewer
# checks than planned, fails; exits non-zero on any failure.
# Usage: bash tests/web/run.sh      (as root in CI: installs php-cli and chromium if missing)
#   LEDD_BIN=/usr/sbin/ledd   test that ledd instead of building target/release/ledd
#   LEDD_PAGE=PATH            test that copy of index.php (the installed package's, say)
# Screenshots: target/web-artifacts/*.png
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/web
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
ARTIFACTS=$TARGET/web-artifacts
mkdir -p "$ARTIFACTS"

# shellcheck source=tests/lib/tier.sh
. "$ROOT/tests/lib/tier.sh"
# The plan: how many checks each step reports. A step that reports fewer (a crash half-way,
# an early exit) fails, and so does one that exits non-zero. Update these with the checks.
PLAN_OWN=11          # pass/fail calls in this script
PLAN_UNIT=52         # tests/web/unit.php
PLAN_MAIN=68         # browser.mjs PHASE=main
PLAN_UNREACHABLE=2   # browser.mjs PHASE=unreachable, each of 3 runs
PLAN=$((PLAN_OWN + PLAN_UNIT + PLAN_MAIN + 3 * PLAN_UNREACHABLE))
tier_plan "$PLAN"
echo "plan: $PLAN checks (this script $PLAN_OWN, unit.php $PLAN_UNIT, browser main $PLAN_MAIN, browser unreachable 3 x $PLAN_UNREACHABLE)"
# run_step NAME EXPECTED OUT CMD...: runs a program that prints PASS/FAIL lines, shows and
# counts them; its exit status and its number of checks are checked too.
run_step() {
    local name=$1 expected=$2 out=$3 rc=0 p f
    shift 3
    "$@" >"$out" 2>&1 || rc=$?
    cat "$out"
    p=$(grep -c '^PASS ' "$out") || p=0
    f=$(grep -c '^FAIL ' "$out") || f=0
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        fail "$name exited with status $rc (no FAIL line: crashed?)"
    fi
    if [ $((p + f)) -ne "$expected" ]; then
        fail "$name reported $((p + f)) checks, planned $expected"
    fi
}

# ---- tools -----------------------------------------------------------------------------
# Debian packages only when missing (CI runs as root on a fresh machine). The dpkg lock
# timeout lets this wait for another job's apt-get instead of failing.
need=()
command -v php >/dev/null || need+=(php-cli)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v curl >/dev/null || need+=(curl)
command -v node >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}"
    apt-get -o DPkg::Lock::Timeout=900 update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q \
        --no-install-recommends "${need[@]}" >/dev/null
fi
# playwright-core only speaks CDP to Debian's /usr/bin/chromium: no browser is downloaded.
# The npm cache lives under target/ so CI reruns do not fetch it again.
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
    (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund \
        --cache "$TARGET/npm-cache" >/dev/null)
fi

# ---- static checks on the page ---------------------------------------------------------
# LEDD_PAGE=/usr/share/doc/ledd/examples/web/index.php tests the page a package installed.
PAGE=${LEDD_PAGE:-$ROOT/examples/web/index.php}
if php -l "$PAGE" >/dev/null; then pass "php -l index.php"; else fail "php -l index.php"; fi
# php -w strips comments, so only real calls are caught.
if php -w "$PAGE" | grep -Eq '\b(shell_exec|exec|system|passthru|popen|proc_open)[[:space:]]*\(|`'; then
    fail "index.php runs no shell command"
else
    pass "index.php runs no shell command"
fi

# The page's pure functions (frequency parsing, French wording), without ledd or a browser.
run_step unit.php "$PLAN_UNIT" "$ARTIFACTS/unit.out" php "$HERE/unit.php"

# ---- ledd on a fake sysfs tree ----------------------------------------------------------
# LEDD_BIN=/path/to/ledd tests another build (an installed package, say) instead.
if [ -n "${LEDD_BIN:-}" ]; then
    LEDD=$LEDD_BIN
else
    (cd "$ROOT" && cargo build --release --bins -q)
    LEDD=$TARGET/release/ledd
fi

TMP=$(mktemp -d /tmp/ledd-web-test.XXXXXX)
chmod 755 "$TMP"   # the permission test runs a second PHP as nobody, which must reach it
LEDD_PID=
PIDS=()   # every other background process this script starts, stopped by their ids on exit
cleanup() {
    if [ -n "$LEDD_PID" ]; then kill "$LEDD_PID" 2>/dev/null || true; fi
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# The shared fake LED tree (tests/fakeleds): one directory per LED, like /sys/class/leds/NAME,
# and a library preloaded into ledd that plays the kernel's part (brackets in `trigger`, the
# timer's files appearing and going). ("ghost" is configured but has no device: it exercises
# ledd's err replies on the page.)
FAKELEDS=$ROOT/tests/fakeleds/fakeleds.sh
FAKELEDS_LIB=$("$FAKELEDS" lib)
make_led() {   # make_led ROOT NAME: a fake LED class device, off, as the kernel shows it
    "$FAKELEDS" led "$1" "$2" 1 timer heartbeat pattern
}
make_led "$TMP/sys" sim0
make_led "$TMP/sys" sim1
SOCK=$TMP/ledd.sock
cat >"$TMP/ledd.toml" <<EOF
sysfs_root = "$TMP/sys"
socket = "$SOCK"
state_file = "$TMP/state.toml"
[leds.status]
device = "sim0"
[leds.power]
device = "sim1"
[leds.ghost]
device = "absent0"
EOF

start_ledd() {
    # The real ledd, with the fake kernel for its tree (no function around it: $! is ledd).
    LD_PRELOAD=$FAKELEDS_LIB FAKE_LEDS_ROOT=$TMP/sys "$LEDD" --config "$TMP/ledd.toml" 2>>"$TMP/ledd.log" &
    LEDD_PID=$!
    for _ in $(seq 100); do
        if [ -S "$SOCK" ]; then
            # ld.so ignores a preload it cannot open with a warning only.
            grep -q libfakeleds.so "/proc/$LEDD_PID/maps" && return 0
            echo "the fake kernel library is not loaded in ledd"
            return 1
        fi
        sleep 0.1
    done
    echo "ledd did not create $SOCK; its log:"
    cat "$TMP/ledd.log"
    return 1
}
if start_ledd; then pass "ledd started on the fake sysfs tree"; else fail "ledd started"; finish; fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# start_php PORT [run-as prefix...]: php's built-in server with the page, LEDD_SOCKET set.
# It serves a copy of the page from $TMP: the checkout may sit where "nobody" cannot read.
mkdir -p "$TMP/www"
cp "$PAGE" "$TMP/www/index.php"
chmod -R a+rX "$TMP/www"
start_php() {
    local port=$1
    shift
    env LEDD_SOCKET="$SOCK" "$@" php -S "127.0.0.1:$port" -t "$TMP/www" \
        >>"$TMP/php-$port.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.1
    done
    return 1
}
PORT=$(free_port)
start_php "$PORT" || { fail "php -S started"; finish; }
URL=http://127.0.0.1:$PORT/

run_browser() {   # run_browser EXPECTED VAR=value...: one browser phase, checked by run_step
    local expected=$1
    shift
    run_step "browser phase $*" "$expected" "$TMP/browser.out" \
        env WEB_URL="$URL" SYSFS="$TMP/sys" LEDD_SOCKET="$SOCK" LEDD_LOG="$TMP/ledd.log" \
        ARTIFACTS="$ARTIFACTS" "$@" node "$HERE/browser.mjs"
}

# ---- the page, through the browser ---------------------------------------------------------
run_browser "$PLAN_MAIN" PHASE=main

# The redirect-after-POST, seen from outside (a refused order, so nothing is sent).
hdrs=$(curl -s -D - -o /dev/null --data 'freq=abc&clignote=1' "$URL")
if grep -q '^HTTP/1.1 303' <<<"$hdrs" && grep -qi '^Location: ?' <<<"$hdrs"; then
    pass "POST answers 303 See Other to the same page"
else
    fail "POST answers 303 See Other: $hdrs"
fi

# ---- a ledd with a single LED: no picker, orders go to that LED ------------------------------
make_led "$TMP/solo/sys" solo0
cat >"$TMP/solo/ledd.toml" <<EOF
sysfs_root = "$TMP/solo/sys"
socket = "$TMP/solo/ledd.sock"
state_file = "$TMP/solo/state.toml"
[leds.solo]
device = "solo0"
EOF
LD_PRELOAD=$FAKELEDS_LIB FAKE_LEDS_ROOT=$TMP/solo/sys "$LEDD" --config "$TMP/solo/ledd.toml" 2>>"$TMP/solo/ledd.log" &
SOLO_PID=$!
PIDS+=("$SOLO_PID")
for _ in $(seq 100); do [ -S "$TMP/solo/ledd.sock" ] && break; sleep 0.1; done
PORT3=$(free_port)
SOCK_SAVED=$SOCK
SOCK=$TMP/solo/ledd.sock
if start_php "$PORT3"; then
    page=$(curl -s "http://127.0.0.1:$PORT3/")
    if ! grep -q '<select' <<<"$page" && grep -q 'name="led" value="solo"' <<<"$page"; then
        pass "single LED: no picker"
    else
        fail "single LED: no picker"
    fi
    curl -s -o /dev/null -L -c "$TMP/solo/jar" -b "$TMP/solo/jar" --data 'freq=4&clignote=1' "http://127.0.0.1:$PORT3/"
    if [ "$(cat "$TMP/solo/sys/solo0/trigger")" = "none [timer] heartbeat pattern" ] && [ "$(cat "$TMP/solo/sys/solo0/delay_on")" = 125 ]; then
        pass "single LED: Clignoter 4 Hz drives it (ledd wrote timer, delay_on 125)"
    else
        fail "single LED: Clignoter 4 Hz: trigger=$(cat "$TMP/solo/sys/solo0/trigger")"
    fi
else
    fail "php -S for the single-LED ledd started"
fi
SOCK=$SOCK_SAVED
kill "$SOLO_PID"
solo_rc=0
wait "$SOLO_PID" || solo_rc=$?
if [ "$solo_rc" = 0 ]; then pass "single-LED ledd stopped cleanly on SIGTERM"; else fail "single-LED ledd exited with $solo_rc on SIGTERM"; fi

# ---- ledd unreachable: distinct messages (permission, missing, refused, hung) ---------------
# Permission denied: the socket is root's, mode 0660; a PHP running as nobody is refused.
if [ "$(id -u)" -eq 0 ]; then
    PORT2=$(free_port)
    if start_php "$PORT2" setpriv --reuid=nobody --regid=nogroup --clear-groups; then
        URL_SAVED=$URL
        URL=http://127.0.0.1:$PORT2/
        run_browser "$PLAN_UNREACHABLE" PHASE=unreachable EXPECT="Accès refusé au socket" SHOT=page-permission-denied.png
        body=$(curl -s "$URL")
        if grep -q 'adduser nobody leds' <<<"$body"; then pass "permission message names the web user's group fix"; else fail "permission hint missing"; fi
        URL=$URL_SAVED
    else
        fail "php -S as nobody started"
    fi
else
    # Not root: PHP cannot run as another user here. Reported by name and counted.
    for _ in $(seq "$PLAN_UNREACHABLE"); do skip "permission-denied page (needs root to run PHP as another user)"; done
    skip "permission message names the web user's group fix (needs root)"
fi

# Socket missing: ledd stopped cleanly (SIGTERM removes its socket).
kill -TERM "$LEDD_PID"
ledd_rc=0
wait "$LEDD_PID" || ledd_rc=$?
LEDD_PID=
if [ "$ledd_rc" = 0 ]; then pass "ledd stopped cleanly on SIGTERM"; else fail "ledd exited with $ledd_rc on SIGTERM"; fi
if [ ! -e "$SOCK" ]; then pass "ledd removed its socket on SIGTERM"; else fail "ledd left $SOCK after SIGTERM"; rm -f "$SOCK"; fi
run_browser "$PLAN_UNREACHABLE" PHASE=unreachable EXPECT="le socket $SOCK n'existe pas" SHOT=page-socket-missing.png

# Connection refused: a stale socket file nobody listens on (what a crashed ledd leaves).
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
run_browser "$PLAN_UNREACHABLE" PHASE=unreachable EXPECT="personne n'écoute" SHOT=page-connection-refused.png
rm -f "$SOCK"

# A ledd that accepts but never answers (hung): the page gives up after its timeout.
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8); time.sleep(60)' "$SOCK" &
HANG_PID=$!
PIDS+=("$HANG_PID")
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
start=$SECONDS
body=$(curl -s --max-time 30 "$URL")
if grep -q "n&apos;a pas répondu" <<<"$body" && [ $((SECONDS - start)) -le 10 ]; then
    pass "hung ledd: the page answers within its timeout with a message"
else
    fail "hung ledd: page took $((SECONDS - start)) s: $(grep -o 'message err[^<]*' <<<"$body")"
fi
kill "$HANG_PID"
wait "$HANG_PID" 2>/dev/null || true
rm -f "$SOCK"

echo "artifacts (screenshots): $ARTIFACTS"
if [ "$failed" -ne 0 ]; then
    echo "--- ledd log"
    cat "$TMP/ledd.log"
    echo "--- php log"
    cat "$TMP"/php-*.log
fi
finish
