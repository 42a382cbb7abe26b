#!/usr/bin/env bash
# ledd-mqtt against a real broker: Debian's mosquitto on 127.0.0.1 (free
# ports, a plain listener and a TLS one with a CA this script makes), a
# password file and an ACL (a node may write only its own state, result,
# availability and discovery topics, and read only its own, `all`'s and its
# groups' set topics), three nodes each a real ledd on its own fake LED tree
# (tests/fakeleds) with its own ledd-mqtt (n3 over TLS). Orders to one node,
# a group, all; seed-style and Home Assistant JSON payloads; a local ledctl
# order on `state`; discovery; the broker killed and restarted, a bridge and
# a ledd SIGKILLed; SIGHUP; retained commands; bad payloads; the ACL; a wrong
# password and a wrong CA; --check-config; wakeups at rest.
# Prints PASS/FAIL per check, ends with "N passed, N failed, N skipped".
# Usage: bash tests/mqtt/run.sh   (no root needed; as root mosquitto keeps root)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/tier.sh
. "$ROOT/tests/lib/tier.sh"
tier_plan 54

for tool in mosquitto mosquitto_pub mosquitto_sub mosquitto_passwd openssl python3 cargo cc; do
	command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
		fail "tools: $tool is missing (tests/setup.sh installs mosquitto, mosquitto-clients, openssl)"
		finish
	}
done
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

(cd "$ROOT" && nice cargo build --quiet --release --locked -p ledd-mqtt --bin ledd-mqtt -p ledd --bins)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
LEDD=$TARGET/release/ledd
LEDCTL=$TARGET/release/ledctl
BRIDGE=$TARGET/release/ledd-mqtt
FAKELEDS=$ROOT/tests/fakeleds/fakeleds.sh
FAKELEDS_LIB=$("$FAKELEDS" lib)

TMP=$(mktemp -d /tmp/ledd-mqtt.XXXXXX)
PIDS=()
declare -A LEDD_PID=() BRIDGE_PID=()
BROKER_PID=
SPY_PID=
# alive PID: running, not a zombie waiting to be reaped (kill -0 would say yes to that).
alive() {
	local state
	state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) && [ -n "$state" ] && [ "$state" != Z ]
}
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	local pid _ left pids=("${PIDS[@]}" "${LEDD_PID[@]}" "${BRIDGE_PID[@]}" "$BROKER_PID" "$SPY_PID")
	for pid in "${pids[@]}"; do [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; done
	# SIGTERM first (bridges publish offline), SIGKILL what is left after 5 s.
	for _ in $(seq 50); do
		left=
		for pid in "${pids[@]}"; do [ -n "$pid" ] && alive "$pid" && left=1; done
		[ -n "$left" ] || break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -n "${KEEP_TMP:-}" ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
TLS_PORT=$(free_port)
for _ in 1 2 3 4 5; do [ "$TLS_PORT" != "$PORT" ] && break; TLS_PORT=$(free_port); done

# --- a CA, the broker's certificate for 127.0.0.1 / localhost, another CA -------
ca() { # ca NAME: NAME.key, NAME.crt, a self-signed CA
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=ledd test $1" -keyout "$TMP/$1.key" -out "$TMP/$1.crt" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
ca ca
ca otherca
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
	-keyout "$TMP/server.key" -out "$TMP/server.csr" 2>/dev/null
printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=critical,CA:FALSE' \
	'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' >"$TMP/server.ext"
openssl x509 -req -in "$TMP/server.csr" -CA "$TMP/ca.crt" -CAkey "$TMP/ca.key" -CAcreateserial \
	-days 2 -extfile "$TMP/server.ext" -out "$TMP/server.crt" 2>/dev/null

# --- users, passwords, ACL ---------------------------------------------------------
NODES=(n1 n2 n3)
declare -A GROUPS_OF=([n1]=lab [n2]="lab row2" [n3]=row3)
# The ACL lets n2 read row9's orders too: its config gains the group at a SIGHUP.
declare -A ACL_GROUPS=([n1]=lab [n2]="lab row2 row9" [n3]=row3)
declare -A PASSWORD=()
create=-c
for user in teacher "${NODES[@]}"; do
	PASSWORD[$user]=$(openssl rand -hex 12)
	mosquitto_passwd -b $create "$TMP/passwd" "$user" "${PASSWORD[$user]}"
	create=
done
{
	echo "# every node: its own topics (node name = user name)"
	echo "pattern write ledd/%u/+/state"
	echo "pattern write ledd/%u/+/result"
	echo "pattern write ledd/%u/availability"
	echo "pattern write homeassistant/light/%u/+/config"
	echo "pattern read ledd/%u/+/set"
	echo "pattern read ledd/all/+/set"
	echo "pattern read homeassistant/status"
	for node in "${NODES[@]}"; do
		echo "user $node"
		for group in ${ACL_GROUPS[$node]}; do echo "topic read ledd/group/$group/+/set"; done
	done
	echo "user teacher"
	echo "topic write ledd/+/+/set"
	echo "topic write ledd/group/+/+/set"
	echo "topic write homeassistant/status"
	echo "topic read #"
} >"$TMP/acl"
chmod 0600 "$TMP/passwd" "$TMP/acl"
cat >"$TMP/mosquitto.conf" <<EOF
# As root mosquitto would switch to user mosquitto, which cannot read $TMP.
user $(id -un)
persistence false
per_listener_settings false
allow_anonymous false
password_file $TMP/passwd
acl_file $TMP/acl
log_dest stderr
log_type all
connection_messages true
max_connections -1
listener $PORT 127.0.0.1
listener $TLS_PORT 127.0.0.1
cafile $TMP/ca.crt
certfile $TMP/server.crt
keyfile $TMP/server.key
EOF

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
start_broker() {
	"$MOSQUITTO" -c "$TMP/mosquitto.conf" >>"$TMP/mosquitto.log" 2>&1 &
	BROKER_PID=$!
	local _
	for _ in $(seq 100); do
		port_open "$PORT" && port_open "$TLS_PORT" && return 0
		alive "$BROKER_PID" || break
		sleep 0.1
	done
	fail "broker: not listening on $PORT and $TLS_PORT; its log:"
	tail -n 20 "$TMP/mosquitto.log" | sed 's/^/     /'
	finish
}

# Clients as the teacher (or as USER with AS=USER).
mq_args() { local user=${AS:-teacher}; echo "-h 127.0.0.1 -p $PORT -u $user -P ${PASSWORD[$user]}"; }
# shellcheck disable=SC2046
pub() { timeout 10 mosquitto_pub $(mq_args) -q 1 "$@" || note "mosquitto_pub $* failed"; }
# retained TOPIC: the retained payload on TOPIC, or nothing.
# shellcheck disable=SC2046
retained() { timeout 10 mosquitto_sub $(mq_args) -C 1 -W 2 --retained-only -t "$1" 2>/dev/null || true; }

# The spy: every ledd/ and homeassistant/ message, one "TOPIC PAYLOAD" line each.
SPY=$TMP/spy.log
: >"$SPY"
start_spy() {
	# shellcheck disable=SC2046
	mosquitto_sub $(mq_args) -v -t 'ledd/#' -t 'homeassistant/#' >>"$SPY" 2>>"$TMP/spy.err" &
	SPY_PID=$!
	local probe=probe$RANDOM _
	for _ in $(seq 50); do
		pub -t "ledd/spy/$probe/set" -m "$probe"
		grep -q "^ledd/spy/$probe/set $probe" "$SPY" && return 0
		sleep 0.1
	done
	fail "spy: mosquitto_sub saw nothing: $(cat "$TMP/spy.err")"
	finish
}
stop_spy() { kill "$SPY_PID" 2>/dev/null || true; wait "$SPY_PID" 2>/dev/null || true; SPY_PID=; }
# mark, then wait_seen ERE [SECS]: a spy line after the mark matches ERE (SEEN = that line).
mark() { MARK=$(stat -c %s "$SPY"); }
seen_since() { tail -c "+$((MARK + 1))" "$SPY"; }
wait_seen() {
	local _
	for _ in $(seq $((${2:-5} * 20))); do
		SEEN=$(seen_since | grep -E -m 1 -- "$1") && return 0
		sleep 0.05
	done
	SEEN=
	return 1
}

# --- nodes: a ledd on a fake tree (status: ACT, on/off; power: PWR, 0..255) -------
tree_dir() { echo "$TMP/$1/sys/${2:-ACT}"; }
# tree NODE [DEVICE]: "timer DELAY_ON", "none BRIGHTNESS" or the active trigger.
tree() {
	local d t
	d=$(tree_dir "$1" "${2:-ACT}")
	t=$(sed -n 's/.*\[\([^]]*\)\].*/\1/p' "$d/trigger")
	case $t in
	timer) echo "timer $(cat "$d/delay_on" 2>/dev/null)" ;;
	none) echo "none $(cat "$d/brightness")" ;;
	*) echo "$t" ;;
	esac
}
# wait_tree NODE WANT [SECS] [DEVICE]
wait_tree() {
	local _
	for _ in $(seq $((${3:-5} * 20))); do
		[ "$(tree "$1" "${4:-ACT}")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
trees() { local n; for n in "${NODES[@]}"; do printf '%s=%s; ' "$n" "$(tree "$n")"; done; }
ledctl() { local node=$1; shift; "$LEDCTL" --socket "$TMP/$node/ledd.sock" "$@"; }

make_node() {
	local node=$1 dir=$TMP/$1 group list=
	mkdir -p "$dir"
	"$FAKELEDS" led "$dir/sys" ACT 1
	"$FAKELEDS" led "$dir/sys" PWR 255
	cat >"$dir/ledd.toml" <<-EOF
		socket = "$dir/ledd.sock"
		sysfs_root = "$dir/sys"
		state_file = "$dir/state.toml"
		[leds.status]
		device = "ACT"
		[leds.power]
		device = "PWR"
	EOF
	for group in ${GROUPS_OF[$node]}; do list+="${list:+, }\"$group\""; done
	printf '%s\n' "${PASSWORD[$node]}" >"$dir/password"
	chmod 0600 "$dir/password"
	if [ "$node" = n3 ]; then
		printf 'broker = "mqtts://127.0.0.1:%s"\nca_file = "%s"\n' "$TLS_PORT" "$TMP/ca.crt" >"$dir/mqtt.toml"
	else
		printf 'broker = "mqtt://127.0.0.1:%s"\n' "$PORT" >"$dir/mqtt.toml"
	fi
	cat >>"$dir/mqtt.toml" <<-EOF
		node = "$node"
		groups = [$list]
		socket = "$dir/ledd.sock"
		username = "$node"
		password_file = "$dir/password"
		keepalive = 60
	EOF
}
start_ledd() {
	local node=$1 dir=$TMP/$1 _
	LD_PRELOAD=$FAKELEDS_LIB FAKE_LEDS_ROOT=$dir/sys "$LEDD" --config "$dir/ledd.toml" 2>>"$dir/ledd.log" &
	LEDD_PID[$node]=$!
	for _ in $(seq 100); do
		ledctl "$node" version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "ledd $node: not answering; its log: $(cat "$dir/ledd.log")"
	finish
}
# start_bridge NODE [CONFIG]
start_bridge() {
	local node=$1 config=${2:-$TMP/$1/mqtt.toml}
	echo "--- started $(date +%T.%N)" >>"$TMP/$node/bridge.log"
	"$BRIDGE" -c "$config" 2>>"$TMP/$node/bridge.log" &
	BRIDGE_PID[$node]=$!
}
# wait_avail NODE WANT [SECS]: the retained availability of NODE is WANT.
wait_avail() {
	local _ end=$((SECONDS + ${3:-10}))
	while [ $SECONDS -lt $end ]; do
		[ "$(retained "ledd/$1/availability")" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}
bridge_log() { tail -n "${2:-15}" "$TMP/$1/bridge.log" | sed 's/^/     /'; }

# ==================================================================================
start_broker
start_spy
note "mosquitto $("$MOSQUITTO" -h 2>&1 | sed -n 's/^mosquitto version //p') on 127.0.0.1:$PORT and :$TLS_PORT (TLS)"

# --- the broker alone: TLS, and the ACL as mosquitto applies it ------------------------
out=$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$TLS_PORT" --cafile "$TMP/ca.crt" -u teacher -P "${PASSWORD[teacher]}" \
	-t 'ledd/tls/+/set' -C 1 -W 5 2>&1 &
	sleep 1
	timeout 10 mosquitto_pub -h 127.0.0.1 -p "$TLS_PORT" --cafile "$TMP/ca.crt" -u teacher -P "${PASSWORD[teacher]}" \
		-t ledd/tls/x/set -m tls-ok -q 1
	wait)
if [ "$out" = tls-ok ]; then pass "broker: the TLS listener serves a client trusting the test's CA"; else fail "broker: TLS listener: $out"; fi
# A node user may not read another node's set topic (nor publish on it: see below).
# shellcheck disable=SC2046
(AS=n1 timeout 10 mosquitto_sub $(AS=n1 mq_args) -t ledd/n2/status/set -t ledd/n1/status/set -v -W 4 -C 2 >"$TMP/acl.out" 2>&1 || true) &
acl_sub=$!
sleep 1
pub -t ledd/n2/status/set -m acl-other
pub -t ledd/n1/status/set -m acl-own
wait "$acl_sub" || true
if grep -q 'acl-own' "$TMP/acl.out" && ! grep -q 'acl-other' "$TMP/acl.out"; then
	pass "acl: node n1 reads its own set topic, not n2's"
else
	fail "acl: n1's subscriber saw: $(cat "$TMP/acl.out")"
fi

# --- --check-config --------------------------------------------------------------------
for node in "${NODES[@]}"; do make_node "$node"; done
rc=0
out=$("$BRIDGE" -c "$TMP/n1/mqtt.toml" --check-config 2>&1) || rc=$?
if [ "$rc" = 0 ] && [[ $out == *"configuration OK"* ]]; then
	pass "check-config: a good file, exit 0 ($out)"
else
	fail "check-config: a good file: exit $rc (wanted 0 and 'configuration OK'): $out"
fi
printf 'broker = "mqtt://127.0.0.1:%s"\nnode = "n1"\ncolour = "red"\n' "$PORT" >"$TMP/bad.toml"
rc=0
out=$("$BRIDGE" -c "$TMP/bad.toml" --check-config 2>&1) || rc=$?
if [ "$rc" = 1 ] && [[ $out == *"$TMP/bad.toml:3"* ]] && [[ $out == *colour* ]]; then
	pass "check-config: an unknown key, exit 1 naming file:line and the key ($out)"
else
	fail "check-config: an unknown key on line 3: exit $rc (wanted 1, '$TMP/bad.toml:3' and 'colour'): $out"
fi

printf 'broker = "mqtt://127.0.0.1:%s"\nnode = "all"\n' "$PORT" >"$TMP/all.toml"
rc=0
out=$("$BRIDGE" -c "$TMP/all.toml" --check-config 2>&1) || rc=$?
if [ "$rc" = 1 ] && [[ $out == *"$TMP/all.toml:2"* ]]; then
	pass "check-config: node = \"all\" refused, exit 1 ($out)"
else
	fail "check-config: node = \"all\": exit $rc (wanted 1 and '$TMP/all.toml:2'): $out"
fi
# Starting (not --check-config): a bad file and an unreadable password_file exit 1, a bad option 2.
rc=0
out=$(timeout 10 "$BRIDGE" -c "$TMP/bad.toml" 2>&1) || rc=$?
if [ "$rc" = 1 ] && [[ $out == *colour* ]]; then pass "start: a bad file, exit 1"; else fail "start with a bad file: exit $rc (wanted 1): $out"; fi
sed "s|password_file = .*|password_file = \"$TMP/none/password\"|" "$TMP/n1/mqtt.toml" >"$TMP/nopass.toml"
rc=0
out=$(timeout 10 "$BRIDGE" -c "$TMP/nopass.toml" 2>&1) || rc=$?
if [ "$rc" = 1 ] && [[ $out == *"$TMP/none/password"* ]]; then
	pass "start: an unreadable password_file, exit 1 naming it"
else
	fail "start with an unreadable password_file: exit $rc (wanted 1 and its path): $out"
fi
rc=0
out=$(timeout 10 "$BRIDGE" --no-such-option 2>&1) || rc=$?
if [ "$rc" = 2 ]; then pass "usage: an unknown option, exit 2"; else fail "usage: an unknown option: exit $rc (wanted 2): $out"; fi

# --- three nodes, each a ledd and a bridge ------------------------------------------------
for node in "${NODES[@]}"; do
	start_ledd "$node"
	start_bridge "$node"
done
for node in "${NODES[@]}"; do
	if wait_avail "$node" online 15; then
		pass "start: $node online$([ "$node" = n3 ] && echo " (over TLS, the test's CA)")"
	else
		fail "start: $node not online; its log:"
		bridge_log "$node"
	fi
done

# --- discovery --------------------------------------------------------------------------
config=$(retained homeassistant/light/n1/status/config)
power=$(retained homeassistant/light/n1/power/config)
if out=$(CONFIG=$config POWER=$power python3 - <<'EOF' 2>&1
import json, os
c = json.loads(os.environ["CONFIG"])
p = json.loads(os.environ["POWER"])
problems = []
if c.get("schema") != "json": problems.append(f"schema {c.get('schema')!r}")
if not str(c.get("unique_id", "")).startswith("ledd_") or not c["unique_id"].endswith("_status"):
    problems.append(f"unique_id {c.get('unique_id')!r}")
if not isinstance(c.get("device"), dict) or not (c["device"].get("identifiers") or c["device"].get("connections")):
    problems.append(f"device {c.get('device')!r}")
if c.get("availability_topic") != "ledd/n1/availability":
    problems.append(f"availability_topic {c.get('availability_topic')!r}")
if c.get("command_topic") != "ledd/n1/status/set": problems.append(f"command_topic {c.get('command_topic')!r}")
if c.get("state_topic") != "ledd/n1/status/state": problems.append(f"state_topic {c.get('state_topic')!r}")
if c.get("brightness"): problems.append("brightness offered for an on/off LED")
if not p.get("brightness"): problems.append("no brightness for power (0..255)")
if not c.get("effect_list"): problems.append("no effect_list")
print("; ".join(problems) or f"unique_id {c['unique_id']}, effects {c.get('effect_list')}")
raise SystemExit(1 if problems else 0)
EOF
); then
	pass "discovery: retained homeassistant/light/n1/status/config is valid ($out)"
else
	fail "discovery: $out; config: $config; power: $power"
fi

# --- orders -------------------------------------------------------------------------------
mark
pub -t ledd/n1/status/set -m 'blink 2'
if wait_tree n1 "timer 250" && [ "$(tree n2)" = "none 0" ] && [ "$(tree n3)" = "none 0" ]; then
	pass "one node: ledd/n1/status/set 'blink 2' blinks n1 at 250 ms, n2 and n3 untouched"
else
	fail "one node: blink 2 on n1: $(trees)"
fi
if wait_seen '^ledd/n1/status/result ok led=status .*mode=blink freq=2 '; then
	pass "one node: ok on ledd/n1/status/result ($SEEN)"
else
	fail "one node: no 'ok led=status … mode=blink freq=2' on the result topic; seen: $(seen_since | tail -n 5 | tr '\n' '|')"
fi
if [ -z "$(retained ledd/n1/status/result)" ]; then
	pass "one node: the result is not retained"
else
	fail "one node: a retained result: $(retained ledd/n1/status/result)"
fi
pub -t ledd/group/lab/status/set -m 'blink 4'
if wait_tree n1 "timer 125" && wait_tree n2 "timer 125" && [ "$(tree n3)" = "none 0" ]; then
	pass "group: ledd/group/lab/status/set reaches n1 and n2, not n3"
else
	fail "group lab, blink 4: $(trees)"
fi
pub -t ledd/all/status/set -m 'blink 1'
if wait_tree n1 "timer 500" && wait_tree n2 "timer 500" && wait_tree n3 "timer 500"; then
	pass "all: ledd/all/status/set reaches every node (n3 over TLS)"
else
	fail "all, blink 1: $(trees)"
fi
# order NAME PAYLOAD BEFORE WANT [DEVICE] [TOPIC]: the LED set by ledctl to BEFORE, then
# PAYLOAD published on its set topic (n1's status LED by default) makes the tree show WANT.
order() {
	local name=$1 payload=$2 before=$3 want=$4 device=${5:-ACT} topic=${6:-ledd/n1/status/set}
	local led=${topic%/set} verb rest
	read -r verb rest <<<"$before"
	# shellcheck disable=SC2086
	ledctl n1 "$verb" "${led##*/}" $rest >/dev/null
	[ "$(tree n1 "$device")" != "$want" ] || { fail "$name: '$before' already shows '$want'"; return; }
	pub -t "$topic" -m "$payload"
	if wait_tree n1 "$want" 5 "$device"; then pass "$name: '$payload' shows '$want'"; else fail "$name: '$payload': $(tree n1 "$device") (wanted $want)"; fi
}
order seed-style 'clignote 2' off "timer 250"
order seed-style eteindre 'blink 3' "none 0"
order "Home Assistant" '{"state":"ON"}' off "none 1"
order "Home Assistant" '{"state":"OFF"}' 'blink 3' "none 0"
order "Home Assistant" '{"state":"ON","effect":"heartbeat"}' off heartbeat
order "Home Assistant" '{"state":"ON","brightness":100}' off "none 100" PWR ledd/n1/power/set
sleep 0.3
state=$(retained ledd/n1/power/state)
if [[ $state == *'"color_mode":"brightness"'* ]] && [[ $state == *'"brightness":100,'* ]] && [[ $state == *'"state":"ON"'* ]]; then
	pass "state: power (0..255) at 100: color_mode brightness, brightness 100"
else
	fail "state of power at 100: $state"
fi
before="$(tree n1), $(tree n1 PWR)"
mark
pub -t ledd/n1/status/set -m status
if wait_seen '^ledd/n1/status/result ok led=status ' && [ "$(tree n1), $(tree n1 PWR)" = "$before" ]; then
	pass "a read-only order: 'status' answered ok on result, nothing changed"
else
	fail "'status': result '$SEEN', tree $(tree n1), $(tree n1 PWR) (was $before)"
fi

# --- a local ledctl order shows up on state, at once ----------------------------------
ledctl n1 off >/dev/null
sleep 0.5
mark
t0=$(date +%s%N)
ledctl n1 on >/dev/null
if wait_seen '^ledd/n1/status/state \{.*"state":"ON"' 2; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	state=$(retained ledd/n1/status/state)
	if [ "$ms" -le 1000 ] && [[ $state == *'"state":"ON"'* ]]; then
		pass "state: a local ledctl order on ledd/n1/status/state in $ms ms, retained ($state)"
	else
		fail "state: ledctl on seen after $ms ms (budget 1000); retained: $state"
	fi
else
	fail "state: no ON state after ledctl on; seen: $(seen_since | tail -n 5)"
fi

# --- Home Assistant comes online: discovery again ---------------------------------------
mark
pub -t homeassistant/status -m online
if wait_seen '^homeassistant/light/n1/status/config \{' && wait_seen '^homeassistant/light/n3/status/config \{'; then
	pass "discovery: 'online' on homeassistant/status re-publishes it (n1 and n3)"
else
	fail "discovery: not re-published after homeassistant/status online; seen: $(seen_since | cut -c1-100 | tail -n 5)"
fi

# --- bad payloads: err on result, nothing changes, the bridge keeps running ----------------
ledctl n1 blink 2 >/dev/null
long=$(head -c 5000 /dev/zero | tr '\0' a)
bad() { # bad NAME TOPIC PAYLOAD
	local name=$1 topic=$2 payload=$3 result=${2%/set}/result before
	before="$(tree n1), $(tree n1 PWR)"
	mark
	pub -t "$topic" -m "$payload"
	if wait_seen "^${result} err " && sleep 0.3 && [ "$(tree n1), $(tree n1 PWR)" = "$before" ] &&
		alive "${BRIDGE_PID[n1]}"; then
		pass "bad payload: $name: '$(cut -c1-80 <<<"$SEEN")', nothing changed"
	else
		fail "bad payload: $name: result '$SEEN' (wanted err), tree $(tree n1), $(tree n1 PWR) (was $before), bridge $(alive "${BRIDGE_PID[n1]}" && echo alive || echo dead)"
		bridge_log n1 5
	fi
}
bad "'blink' (no rate)" ledd/n1/status/set 'blink'
bad "'blink NaN'" ledd/n1/status/set 'blink NaN'
bad "'blink 1e308'" ledd/n1/status/set 'blink 1e308'
bad "'{\"state\":' (cut JSON)" ledd/n1/status/set '{"state":'
bad "5000 bytes" ledd/n1/status/set "$long"
bad "unknown LED ledd/n1/nosuch/set" ledd/n1/nosuch/set 'blink 2'

# --- ACL: a node cannot order another node, nor forge its state -------------------------------
ledctl n2 off >/dev/null
mark
AS=n1 pub -t ledd/n2/status/set -m 'blink 8' || true
sleep 1
if [ "$(tree n2)" = "none 0" ] && ! seen_since | grep -q '^ledd/n2/status/set blink 8' && alive "${BRIDGE_PID[n2]}"; then
	pass "acl: n1 publishing on ledd/n2/status/set is dropped (n2 unchanged)"
else
	fail "acl: n1 ordered n2: $(tree n2); seen: $(seen_since | tail -n 3)"
fi
mark
AS=n1 pub -r -t ledd/n2/status/state -m '{"state":"ON","forged":true}' || true
sleep 1
if ! seen_since | grep -q forged && [[ $(retained ledd/n2/status/state) != *forged* ]]; then
	pass "acl: n1 publishing n2's state is dropped"
else
	fail "acl: n1 forged n2's state: $(seen_since | grep forged)"
fi

# --- retained commands: ignored when they arrive, and by a fresh bridge ---------------------
ledctl n1 off >/dev/null
sleep 0.3
logmark=$(stat -c %s "$TMP/n1/bridge.log")
pub -r -t ledd/n1/status/set -m 'blink 8'
sleep 1.5
line=$(tail -c "+$((logmark + 1))" "$TMP/n1/bridge.log" | grep -m1 'ignored a retained order' || true)
if [ "$(tree n1)" = "none 0" ] && [ -n "$line" ] && alive "${BRIDGE_PID[n1]}"; then
	pass "retained: a retained 'blink 8' published live on ledd/n1/status/set is not applied, and logged ($line)"
else
	fail "retained: a retained 'blink 8' published while the bridge is subscribed: tree $(tree n1) (wanted none 0), log: '${line:-no line about it}' (MQTT 5's retain-as-published should show the bridge the flag)"
fi
ledctl n1 off >/dev/null
kill "${BRIDGE_PID[n1]}" 2>/dev/null || true
wait "${BRIDGE_PID[n1]}" 2>/dev/null || true
logmark=$(stat -c %s "$TMP/n1/bridge.log")
mark
start_bridge n1
wait_avail n1 online 15 || true
sleep 1.5
line=$(tail -c "+$((logmark + 1))" "$TMP/n1/bridge.log" | grep -i -m1 retain || true)
if [ "$(tree n1)" = "none 0" ] && [ -n "$line" ] && ! seen_since | grep -q '^ledd/n1/status/result' &&
	alive "${BRIDGE_PID[n1]}"; then
	pass "retained: a freshly started bridge does not apply it, answers nothing, and logs it ($line)"
else
	fail "retained: fresh bridge: tree $(tree n1) (wanted none 0), log: '${line:-no line about retain}', results: $(seen_since | grep '^ledd/n1/status/result' | tr '\n' '|')"
fi
pub -r -n -t ledd/n1/status/set # the broker forgets it
sleep 0.5

# --- at rest: no wakeups but the keepalive ---------------------------------------------
ctxt() { { cat /proc/"$1"/task/*/status 2>/dev/null || true; } | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n + 0}'; }
sleep 1
pid=${BRIDGE_PID[n2]}
before=$(ctxt "$pid")
sleep 3
after=$(ctxt "$pid")
if [ $((after - before)) -le 5 ]; then
	pass "at rest: $((after - before)) wakeups of the n2 bridge in 3 s (keepalive 60 s; at most 5)"
else
	fail "at rest: $((after - before)) wakeups of the n2 bridge in 3 s (at most 5)"
fi

# --- SIGHUP: a bad file is logged and the old one kept; a good one is taken ---------------
cp "$TMP/n2/mqtt.toml" "$TMP/n2/mqtt.toml.good"
printf 'colour = "red"\n' >>"$TMP/n2/mqtt.toml"
logmark=$(stat -c %s "$TMP/n2/bridge.log")
kill -HUP "${BRIDGE_PID[n2]}" 2>/dev/null || true
sleep 1
line=$(tail -c "+$((logmark + 1))" "$TMP/n2/bridge.log" | grep -m1 colour || true)
ledctl n2 off >/dev/null
pub -t ledd/n2/status/set -m 'blink 2'
if alive "${BRIDGE_PID[n2]}" && [ -n "$line" ] && wait_tree n2 "timer 250"; then
	pass "SIGHUP: a bad file is logged ($line), the bridge keeps the old one and serves"
else
	fail "SIGHUP with a bad file: $(alive "${BRIDGE_PID[n2]}" && echo running || echo exited), log: '$line', tree $(tree n2)"
fi
sed 's/^groups = .*/groups = ["lab", "row2", "row9"]/' "$TMP/n2/mqtt.toml.good" >"$TMP/n2/mqtt.toml"
kill -HUP "${BRIDGE_PID[n2]}" 2>/dev/null || true
ledctl n2 off >/dev/null
ok=
for _ in $(seq 20); do # the new session subscribes when it is up: order until it does
	pub -t ledd/group/row9/status/set -m 'blink 4'
	wait_tree n2 "timer 125" 1 && { ok=1; break; }
done
if [ -n "$ok" ] && alive "${BRIDGE_PID[n2]}" && [ "$(tree n1)" = "none 0" ]; then
	pass "SIGHUP: a good file is taken: n2 now follows group row9"
else
	fail "SIGHUP with groups + row9: n2 $(tree n2), bridge $(alive "${BRIDGE_PID[n2]}" && echo running || echo exited)"
	bridge_log n2 5
fi

# --- SIGKILL a bridge: the will says offline; restarted: online ----------------------------------
mark
kill -KILL "${BRIDGE_PID[n2]}" 2>/dev/null || true
wait "${BRIDGE_PID[n2]}" 2>/dev/null || true
if wait_seen '^ledd/n2/availability offline' && [ "$(retained ledd/n2/availability)" = offline ]; then
	pass "SIGKILL bridge: the will puts ledd/n2/availability to offline"
else
	fail "SIGKILL bridge: availability '$(retained ledd/n2/availability)'"
fi
start_bridge n2
if wait_avail n2 online 15; then pass "SIGKILL bridge: restarted, n2 online again"; else fail "SIGKILL bridge: not online after restart"; bridge_log n2; fi

# --- SIGTERM: offline published, exit 0 -----------------------------------------------------
mark
kill -TERM "${BRIDGE_PID[n2]}" 2>/dev/null || true
rc=0
for _ in $(seq 50); do alive "${BRIDGE_PID[n2]}" || break; sleep 0.1; done
wait "${BRIDGE_PID[n2]}" 2>/dev/null || rc=$?
if [ "$rc" = 0 ] && wait_seen '^ledd/n2/availability offline' 2; then
	pass "SIGTERM bridge: offline published, exit 0"
else
	fail "SIGTERM bridge: exit $rc, availability '$(retained ledd/n2/availability)'"
fi

# --- a bridge whose ledd is not running: offline (retained), a clear line, retrying -----------
mkdir -p "$TMP/noledd"
sed "s|^socket = .*|socket = \"$TMP/noledd/absent.sock\"|" "$TMP/n2/mqtt.toml" >"$TMP/noledd/mqtt.toml"
mark
start_bridge noledd "$TMP/noledd/mqtt.toml"
sleep 3
if alive "${BRIDGE_PID[noledd]}" && [ "$(retained ledd/n2/availability)" = offline ] &&
	! seen_since | grep -q '^ledd/n2/availability online' && grep -q 'is ledd running' "$TMP/noledd/bridge.log"; then
	pass "no ledd: availability stays offline, '$(grep -m1 -o 'cannot connect to ledd.*' "$TMP/noledd/bridge.log" | cut -c1-150)', still retrying"
else
	fail "no ledd: $(alive "${BRIDGE_PID[noledd]}" && echo running || echo exited), availability '$(retained ledd/n2/availability)'"
	bridge_log noledd 5
fi
kill "${BRIDGE_PID[noledd]}" 2>/dev/null || true
wait "${BRIDGE_PID[noledd]}" 2>/dev/null || true

# --- a bridge starting with ledd running says online, with no offline before it -------------
mark
start_bridge n2
if wait_avail n2 online 15 && sleep 0.5 && ! seen_since | grep -q '^ledd/n2/availability offline'; then
	pass "start: n2 online, and no 'offline' published on the way ($(seen_since | grep -c '^ledd/n2/availability') availability message)"
else
	fail "start: availability messages since the start: $(seen_since | grep '^ledd/n2/availability' | tr '\n' '|')"
	bridge_log n2 5
fi

# --- SIGKILL ledd: offline while it is gone, then the bridge republishes ---------------------
ledctl n1 blink 2 >/dev/null
mark
kill -KILL "${LEDD_PID[n1]}" 2>/dev/null || true
wait "${LEDD_PID[n1]}" 2>/dev/null || true
if wait_seen '^ledd/n1/availability offline' 10; then
	pass "SIGKILL ledd: availability offline while ledd is gone"
else
	fail "SIGKILL ledd: availability '$(retained ledd/n1/availability)'"
fi
sleep 1
mark
start_ledd n1
if wait_seen '^ledd/n1/availability online' 35 && wait_seen '^ledd/n1/status/state \{' 5; then
	pass "SIGKILL ledd: restarted, the bridge is online again and republishes the state"
else
	fail "SIGKILL ledd: after ledd's restart: $(seen_since | cut -c1-100 | tail -n 5)"
	bridge_log n1
fi
pub -t ledd/n1/status/set -m 'blink 4'
if wait_tree n1 "timer 125"; then pass "SIGKILL ledd: orders work again"; else fail "SIGKILL ledd: blink 4 after restart: $(tree n1)"; fi

# --- the broker killed and restarted on the same ports ---------------------------------------
stop_spy
kill -KILL "$BROKER_PID" 2>/dev/null || true
wait "$BROKER_PID" 2>/dev/null || true
sleep 2
if alive "${BRIDGE_PID[n1]}" && alive "${BRIDGE_PID[n3]}"; then
	pass "broker gone: the bridges keep running"
else
	fail "broker gone: a bridge exited"
fi
start_broker
start_spy
for node in n1 n3; do
	if wait_avail "$node" online 40; then
		pass "broker restarted: $node reconnected, availability online"
	else
		fail "broker restarted: $node not online"
		bridge_log "$node"
	fi
done
# The broker kept nothing (persistence false): what it has is what the bridges republished.
state1=$(retained ledd/n1/status/state)
state3=$(retained ledd/n3/status/state)
if [[ $state1 == *'"state":"ON"'* ]] && [[ $state3 == *'"state":"ON"'* ]]; then
	pass "broker restarted: n1's and n3's states republished (retained), before any new order"
else
	fail "broker restarted: retained states: n1 '$state1', n3 '$state3' (wanted \"state\":\"ON\")"
fi
pub -t ledd/all/status/set -m 'blink 2'
if wait_tree n1 "timer 250" && wait_tree n2 "timer 250" && wait_tree n3 "timer 250"; then
	pass "broker restarted: re-subscribed, an order on all reaches every node"
else
	fail "broker restarted: blink 2 on all: $(trees)"
fi

# --- ledd reloaded with another set of LEDs: the bridge follows at once ----------------------
# n1's ledd swaps power (PWR) for disk (DISK, plugged in meanwhile) and gets SIGHUP: ledd's
# watch of every LED says power is gone and disk is new, so the bridge clears power's
# retained topics and announces disk, with no restart of either.
"$FAKELEDS" led "$TMP/n1/sys" DISK 1
cp "$TMP/n1/ledd.toml" "$TMP/n1/ledd.toml.orig"
sed -i -e 's/^\[leds.power\]$/[leds.disk]/' -e 's/^device = "PWR"$/device = "DISK"/' "$TMP/n1/ledd.toml"
mark
kill -HUP "${LEDD_PID[n1]}"
if wait_seen '^homeassistant/light/n1/disk/config \{' 5 && wait_seen '^ledd/n1/disk/state \{' 5 &&
	wait_seen '^ledd/n1/power/state (\(null\))?$' 5 && wait_seen '^homeassistant/light/n1/power/config (\(null\))?$' 5 &&
	[ -z "$(retained ledd/n1/power/state)" ] && [ -n "$(retained homeassistant/light/n1/disk/config)" ]; then
	pass "ledd reloaded: disk announced (discovery, state), power's retained topics cleared"
else
	fail "ledd reloaded: $(seen_since | cut -c1-80 | tr '\n' '|')"
	bridge_log n1 5
fi
pub -t ledd/n1/disk/set -m on
if wait_tree n1 "none 1" 5 DISK; then pass "ledd reloaded: an order on ledd/n1/disk/set reaches the new LED"; else fail "ledd reloaded: disk: $(tree n1 DISK)"; fi
cp "$TMP/n1/ledd.toml.orig" "$TMP/n1/ledd.toml"
mark
kill -HUP "${LEDD_PID[n1]}"
if wait_seen '^homeassistant/light/n1/power/config \{' 5 && wait_seen '^ledd/n1/disk/state (\(null\))?$' 5; then
	pass "ledd reloaded back: power announced again, disk cleared"
else
	fail "ledd reloaded back: $(seen_since | cut -c1-80 | tr '\n' '|')"
fi

# --- a wrong password, a wrong CA: a clear line, and retrying -----------------------------------
mkdir -p "$TMP/bad"
printf 'wrong\n' >"$TMP/bad/password"
sed "s|password_file = .*|password_file = \"$TMP/bad/password\"|" "$TMP/n2/mqtt.toml" >"$TMP/bad/password.toml"
start_bridge bad "$TMP/bad/password.toml"
sleep 3
if alive "${BRIDGE_PID[bad]}" && grep -qi 'user name or password' "$TMP/bad/bridge.log"; then
	pass "wrong password: '$(grep -i -m1 'user name or password' "$TMP/bad/bridge.log")', still retrying after 3 s"
else
	fail "wrong password: $(alive "${BRIDGE_PID[bad]}" && echo running || echo exited); log:"
	bridge_log bad 5
fi
kill "${BRIDGE_PID[bad]}" 2>/dev/null || true
wait "${BRIDGE_PID[bad]}" 2>/dev/null || true
sed "s|ca_file = .*|ca_file = \"$TMP/otherca.crt\"|" "$TMP/n3/mqtt.toml" >"$TMP/bad/ca.toml"
: >"$TMP/bad/bridge.log"
start_bridge bad "$TMP/bad/ca.toml"
sleep 3
if alive "${BRIDGE_PID[bad]}" && grep -qi 'certificate' "$TMP/bad/bridge.log"; then
	pass "wrong CA: '$(grep -i -m1 certificate "$TMP/bad/bridge.log")', still retrying after 3 s"
else
	fail "wrong CA: $(alive "${BRIDGE_PID[bad]}" && echo running || echo exited); log:"
	bridge_log bad 5
fi
kill "${BRIDGE_PID[bad]}" 2>/dev/null || true

# --- nothing leaked a password into a log -------------------------------------------------
leaked=
for node in "${NODES[@]}"; do
	grep -qF "${PASSWORD[$node]}" "$TMP/$node/bridge.log" && leaked+=" $node"
done
if [ -z "$leaked" ]; then pass "logs: no password in any bridge's log"; else fail "logs: the password of$leaked is in its log"; fi

finish
