#!/usr/bin/env bash
# The fake LED class tree every tier's tests use (one helper for all):
#   fakeleds.sh lib                          build libfakeleds.so if needed, print its path
#   fakeleds.sh write ROOT DEVICE ATTRIBUTE VALUE
#       writes VALUE as another program would (one write(), through the library):
#       the kernel's reaction included, e.g. `write ROOT ACT trigger timer`.
#   fakeleds.sh led ROOT DEVICE MAX [TRIGGER...]
#       ROOT/DEVICE as the kernel shows an idle LED: brightness 0, max_brightness MAX,
#       trigger "[none] TRIGGER..." (default: timer heartbeat pattern oneshot), no
#       trigger files yet. They appear when a trigger is written, through the library.
# Run ledd on it with LD_PRELOAD=$(fakeleds.sh lib) FAKE_LEDS_ROOT=ROOT (see fakeleds.c).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

case ${1:-} in
lib)
	out=${CARGO_TARGET_DIR:-$here/../../target}/fakeleds
	mkdir -p "$out"
	so=$out/libfakeleds.so
	if [ ! -e "$so" ] || [ "$here/fakeleds.c" -nt "$so" ]; then
		# Built aside and renamed: parallel test processes may build at once.
		tmp=$(mktemp "$out/.libfakeleds.XXXXXX")
		cc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$tmp" "$here/fakeleds.c" -ldl
		chmod 0755 "$tmp"   # ledd may run as another user (mktemp made it 0600)
		mv -f "$tmp" "$so"
	fi
	echo "$(cd "$out" && pwd)/libfakeleds.so"
	;;
write)
	[ $# -eq 5 ] || { echo "usage: $0 write ROOT DEVICE ATTRIBUTE VALUE" >&2; exit 2; }
	lib=$("$0" lib)
	# dd: one open() and one write() of the whole value, both through the library.
	printf '%s\n' "$5" | LD_PRELOAD=$lib FAKE_LEDS_ROOT=$2 dd of="$2/$3/$4" conv=notrunc status=none
	;;
led)
	[ $# -ge 4 ] || { echo "usage: $0 led ROOT DEVICE MAX [TRIGGER...]" >&2; exit 2; }
	dir=$2/$3 max=$4
	shift 4
	[ $# -gt 0 ] || set -- timer heartbeat pattern oneshot
	mkdir -p "$dir"
	echo 0 >"$dir/brightness"
	echo "$max" >"$dir/max_brightness"
	echo "[none] $*" >"$dir/trigger"
	;;
*)
	echo "usage: $0 lib | led ROOT DEVICE MAX [TRIGGER...] | write ROOT DEVICE ATTRIBUTE VALUE" >&2
	exit 2
	;;
esac
