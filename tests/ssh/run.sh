#!/usr/bin/env bash
# ledctl over ssh, for real: Debian's sshd on 127.0.0.1 (a free port, a
# throwaway host key and user key), a real ledd behind it on the shared fake
# LED tree, and `ledctl -H ssh://…` / `ledctl dial-stdio` driving it: every
# exit code, --json, watch, ssh's own failures (closed port, changed host key), a
# far user outside the socket's group, option injection through the URL,
# the socket forward and the client examples of ledd-protocol(7).
# Prints PASS/FAIL per check, ends with "N passed, N failed, N skipped".
# Usage: bash tests/ssh/run.sh   (root: sshd, and a throwaway user and group)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/tier.sh
. "$ROOT/tests/lib/tier.sh"
tier_needs_root ssh "sshd, and a throwaway user and group for the permission check"
tier_plan 21

for tool in /usr/sbin/sshd ssh ssh-keygen nc python3 useradd; do
	command -v "$tool" >/dev/null || {
		fail "tools: $tool is missing (tests/setup.sh installs openssh-server, openssh-client, netcat-openbsd)"
		finish
	}
done

TMP=$(mktemp -d /tmp/ledd-ssh.XXXXXX)
# Readable by the throwaway user: it runs ledctl from here.
chmod 0755 "$TMP"
PUPIL=ledd-ssh-pupil
PUPILS=ledd-ssh-leds
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	userdel "$PUPIL" 2>/dev/null || true
	groupdel "$PUPILS" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

(cd "$ROOT" && cargo build --quiet --locked --bins)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
# Copies the throwaway user can run (the checkout may sit in /root).
install -m 0755 "$TARGET/debug/ledd" "$TARGET/debug/ledctl" "$TMP/"
LEDCTL=$TMP/ledctl

# --- ledd on the fake LED tree, its socket for group $PUPILS only -------------
FAKELEDS=$ROOT/tests/fakeleds/fakeleds.sh
FAKELEDS_LIB=$("$FAKELEDS" lib)
"$FAKELEDS" led "$TMP/sys" sim0 1
userdel "$PUPIL" 2>/dev/null || true
groupdel "$PUPILS" 2>/dev/null || true
groupadd --system "$PUPILS"
useradd --system --no-create-home --home-dir "$TMP" --shell /bin/sh "$PUPIL"
# No password, but not locked: sshd (without PAM) refuses locked accounts, keys or not.
usermod -p "*" "$PUPIL"
SOCK=$TMP/ledd.sock
cat >"$TMP/ledd.toml" <<EOF
sysfs_root = "$TMP/sys"
socket = "$SOCK"
socket_group = "$PUPILS"
state_file = "$TMP/state.toml"
[leds.status]
device = "sim0"
EOF
LD_PRELOAD=$FAKELEDS_LIB FAKE_LEDS_ROOT=$TMP/sys "$TMP/ledd" --config "$TMP/ledd.toml" 2>"$TMP/ledd.log" &
PIDS+=("$!")
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { fail "ledd: no socket; its log: $(cat "$TMP/ledd.log")"; finish; }

# --- sshd on 127.0.0.1 ----------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -C ledd-test-host -f "$TMP/host_key"
ssh-keygen -q -t ed25519 -N '' -C ledd-test-user -f "$TMP/user_key"
ssh-keygen -q -t ed25519 -N '' -C ledd-test-other -f "$TMP/other_host_key"
install -m 0644 "$TMP/user_key.pub" "$TMP/authorized_keys"
cat >"$TMP/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $TMP/host_key
AuthorizedKeysFile $TMP/authorized_keys
PidFile $TMP/sshd.pid
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowUsers root $PUPIL
EOF
mkdir -p /run/sshd # sshd's privilege separation directory
/usr/sbin/sshd -D -e -f "$TMP/sshd_config" 2>"$TMP/sshd.log" &
PIDS+=("$!")
for _ in $(seq 50); do grep -q "Server listening" "$TMP/sshd.log" && break; sleep 0.1; done
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$TMP/host_key.pub")" >"$TMP/known_hosts"
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$TMP/other_host_key.pub")" >"$TMP/wrong_known_hosts"
SSH="ssh -F none -i $TMP/user_key -o UserKnownHostsFile=$TMP/known_hosts -o BatchMode=yes -o ConnectTimeout=10"
export LEDD_SSH_COMMAND=$SSH LEDD_REMOTE_LEDCTL=$LEDCTL
unset LEDD_HOST LEDD_SOCKET
HOST=ssh://root@127.0.0.1:$PORT

# run ARGS...: ledctl ARGS, RC = its status, OUT = stdout, ERR = stderr.
run() {
	RC=0
	OUT=$("$@" 2>"$TMP/stderr") || RC=$?
	ERR=$(cat "$TMP/stderr")
}
# expect NAME CODE [TEXT]: the last run exited CODE and printed TEXT (stdout or stderr).
expect() {
	local name=$1 code=$2 text=${3:-}
	if [ "$RC" = "$code" ] && { [ -z "$text" ] || [[ "$OUT$ERR" == *"$text"* ]]; }; then
		pass "$name (exit $RC)"
	else
		fail "$name: exit $RC (wanted $code${text:+ and '$text'}); out: $OUT; err: $ERR"
	fi
}

# --- dial-stdio on this machine -------------------------------------------------
run sh -c "printf 'version\nstatus\n' | '$LEDCTL' --socket '$SOCK' dial-stdio"
lines=$(printf '%s\n' "$OUT" | grep -c '^ok ' || true)
if [ "$RC" = 0 ] && [ "$lines" = 2 ]; then pass "dial-stdio: two orders in, two replies out, exit 0"; else fail "dial-stdio: exit $RC, $lines replies: $OUT $ERR"; fi
run "$LEDCTL" --socket "$TMP/none.sock" dial-stdio </dev/null
expect "dial-stdio with no ledd: unreachable" 3 "does not exist"

# --- orders through ssh ---------------------------------------------------------
t0=$(date +%s%N)
run "$LEDCTL" -H "$HOST" --socket "$SOCK" blink 2
t1=$(date +%s%N)
expect "-H blink 2 through ssh" 0 "blinking at 2 Hz"
note "ledctl -H round trip, ssh connection included: $(((t1 - t0) / 1000000)) ms"
if [ "$(cat "$TMP/sys/sim0/delay_on" 2>/dev/null)" = 250 ] && grep -q '\[timer\]' "$TMP/sys/sim0/trigger"; then
	pass "the far LED got the timer trigger, 250/250 ms"
else
	fail "the far LED: trigger '$(cat "$TMP/sys/sim0/trigger")', delay_on '$(cat "$TMP/sys/sim0/delay_on" 2>/dev/null)'"
fi
run "$LEDCTL" -H "$HOST" --socket "$SOCK" --json status
expect "--json status through ssh" 0 '"freq":2,'
LEDD_HOST=$HOST run "$LEDCTL" --socket "$SOCK" off
expect "LEDD_HOST instead of -H" 0 "status: off"
run "$LEDCTL" -H "$HOST" --socket "$SOCK" blink ghost 2
expect "an unknown far LED: refused" 1 "unknown-led"
run "$LEDCTL" -H "$HOST" --socket "$SOCK" blink 0
expect "a malformed order: usage error, checked before ssh" 2 "out of range"
run "$LEDCTL" -H "$HOST" --socket "$TMP/none.sock" status
expect "no ledd on the far side: unreachable" 3 "does not exist"
LEDD_REMOTE_LEDCTL=/nonexistent/ledctl run "$LEDCTL" -H "$HOST" --socket "$SOCK" status
expect "no ledctl on the far side: unreachable" 3 "no ledctl on"

# watch through ssh: the state now, then the change another client makes.
"$LEDCTL" -H "$HOST" --socket "$SOCK" --json watch >"$TMP/watch.out" 2>"$TMP/watch.err" &
watch_pid=$!
for _ in $(seq 50); do [ -s "$TMP/watch.out" ] && break; sleep 0.1; done
"$LEDCTL" --socket "$SOCK" blink 5 >/dev/null
for _ in $(seq 50); do [ "$(wc -l <"$TMP/watch.out")" -ge 2 ] && break; sleep 0.1; done
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
if [ "$(sed -n 1p "$TMP/watch.out" | grep -c '"mode":"off"')" = 1 ] && [ "$(sed -n 2p "$TMP/watch.out" | grep -c '"freq":5,')" = 1 ]; then
	pass "watch --json through ssh: the state, then another client's change"
else
	fail "watch through ssh: $(cat "$TMP/watch.out" "$TMP/watch.err")"
fi

# --- ssh's own failures -----------------------------------------------------------
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run "$LEDCTL" -H "ssh://root@127.0.0.1:$closed" status
expect "a closed port: unreachable, with ssh's message" 3 "Connection refused"
LEDD_SSH_COMMAND="${SSH/known_hosts/wrong_known_hosts} -o StrictHostKeyChecking=yes" run "$LEDCTL" -H "$HOST" status
expect "a changed host key: unreachable, with ssh's message" 3 "Host key verification failed"
marker=$TMP/injected
run "$LEDCTL" -H "ssh://-oProxyCommand=touch%20$marker" status
expect "an option in the URL: usage error" 2 "ssh://[user@]host[:port]"
if [ ! -e "$marker" ]; then pass "... and no command of it ran"; else fail "the URL's ProxyCommand ran"; fi

# --- who may drive the far LED: group $PUPILS over there ---------------------------
PUPIL_HOST=ssh://$PUPIL@127.0.0.1:$PORT
run "$LEDCTL" -H "$PUPIL_HOST" --socket "$SOCK" status
expect "a far user outside the socket's group: permission denied" 4 "permission denied"
usermod -a -G "$PUPILS" "$PUPIL"
run "$LEDCTL" -H "$PUPIL_HOST" --socket "$SOCK" blink 4
expect "... once in the group, a new ssh session may" 0 "blinking at 4 Hz"

# --- the protocol's other clients (ledd-protocol(7)) ---------------------------------
run sh -c "echo status | $SSH -p $PORT root@127.0.0.1 '$LEDCTL --socket $SOCK dial-stdio'"
expect "ssh HOST ledctl dial-stdio, by hand" 0 "ok led=status"
# The Python example of the page, as printed there, on this socket.
man -l "$ROOT/man/ledd-protocol.7" 2>/dev/null | col -bx | sed -n '/^ *import socket/,/print(/p' |
	python3 -c 'import sys, textwrap; print(textwrap.dedent(sys.stdin.read()), end="")' |
	sed 's|/run/ledd/ledd.sock|'"$SOCK"'|' >"$TMP/example.py"
run python3 "$TMP/example.py"
if [ "$(wc -l <"$TMP/example.py")" -ge 5 ]; then expect "ledd-protocol(7)'s Python example" 0 "ok led=status"; else fail "no Python example found in ledd-protocol(7)"; fi
run sh -c "printf 'status\nlist\n' | nc -U -N '$SOCK'"
expect "ledd-protocol(7)'s nc -U -N example" 0 "ok leds="
# A forwarded socket, for programs that want a socket and not ledctl.
$SSH -p "$PORT" -N -o ExitOnForwardFailure=yes -L "$TMP/forward.sock:$SOCK" root@127.0.0.1 &
PIDS+=("$!")
for _ in $(seq 50); do [ -S "$TMP/forward.sock" ] && break; sleep 0.1; done
run "$LEDCTL" --socket "$TMP/forward.sock" version
expect "ssh -L forward of the socket (ledctl(1))" 0 "version"

finish
