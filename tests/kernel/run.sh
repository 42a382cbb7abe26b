#!/usr/bin/env bash
# Real-kernel test tier for ledd.
#
# Boots Debian's stock kernel (linux-image-amd64) under qemu TCG with a small
# busybox initramfs holding ledd, ledctl, the LED trigger modules of that same
# kernel and a scenario script (tests/kernel/guest/). The emulated PS/2
# keyboard's LEDs (inputN::capslock/numlock/scrolllock) are real LED class
# devices, so ledd drives the real kernel code: triggers, delay files,
# permissions, uevents. The guest prints one line per check:
#   LEDD-CHECK PASS|FAIL name detail...
# and LEDD-DONE at the end; this script turns those lines into the result.
#
# usage: tests/kernel/run.sh [--infra-only]
#   --infra-only  do not build or test ledd; only check the kernel, the LEDs,
#                 the trigger modules and the sampler (the harness itself).
# env:  LEDD_KERNEL_TIMEOUT  seconds before the guest is declared hung (240)
#       LEDD_KERNEL_NO_BUILD=1  use the existing target/release binaries
#       LEDD_BIN, LEDCTL_BIN   test these binaries instead (no cargo build);
#                            tests/kernel.rs passes cargo's CARGO_BIN_EXE_*
#       LEDD_KERNEL_ICOUNT=0 run the guest on the host's real-time clock
#                            instead of qemu's instruction counter (see below)
#       CARGO_TARGET_DIR     as for cargo (default: ./target)
# Exit status: 0 only if every planned check passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
cache=$target/kernel-cache   # downloaded .deb + the few files we need from it
work=$target/kernel-test     # initramfs tree, image, console log (rebuilt every run)
timeout_s=${LEDD_KERNEL_TIMEOUT:-240}

mode=full
case ${1:-} in
  --infra-only) mode=infra ;;
  "") ;;
  *) echo "usage: $0 [--infra-only]" >&2; exit 2 ;;
esac

log() { printf 'kernel-test: %s\n' "$*"; }
die() { printf 'kernel-test: FAIL: %s\n' "$*" >&2; echo "0 passed, 1 failed"; exit 1; }

# --- 1. host packages ---------------------------------------------------------
# Each entry: a command (or file) we need, and the package that provides it.
need=(
  "qemu-system-x86_64 qemu-system-x86"
  "cpio cpio"
  "gzip gzip"
  "gcc gcc"
  "/usr/lib/x86_64-linux-gnu/libc.a libc6-dev"   # for gcc -static
  "dpkg-deb dpkg"
)
missing=()
for entry in "${need[@]}"; do
  what=${entry% *} pkg=${entry#* }
  if [[ $what == /* ]]; then [[ -e $what ]] || missing+=("$pkg")
  else command -v "$what" >/dev/null 2>&1 || missing+=("$pkg"); fi
done
# The guest needs a *static* busybox: the dynamic "busybox" package would not
# run without its libraries, so insist on busybox-static.
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' \
  || missing+=(busybox-static)

apt_install() {
  # Plain install first; on this kind of machine a backports qemu-utils is
  # preinstalled and qemu-system-x86 from bookworm then needs the bookworm
  # qemu-utils (a downgrade), so retry that way only if the plain one fails.
  if apt-get install -y --no-install-recommends "$@"; then return 0; fi
  [[ " $* " == *" qemu-system-x86 "* ]] || return 1
  log "plain apt-get install failed; retrying with qemu-utils/bookworm --allow-downgrades"
  apt-get install -y --no-install-recommends --allow-downgrades "$@" qemu-utils/bookworm
}

if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  [[ $(id -u) == 0 ]] || die "missing packages (${missing[*]}) and not root: install them first"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt_install "${missing[@]}"; then
    apt-get update
    apt_install "${missing[@]}" || die "cannot install ${missing[*]}"
  fi
fi

# --- 2. kernel package (cached) ------------------------------------------------
mkdir -p "$cache"
# linux-image-amd64 is a metapackage; the kernel is in the package it depends
# on (linux-image-6.1.0-NN-amd64). apt-get download does not follow Depends.
resolve_kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null \
    | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }'
}
kpkg=$(resolve_kernel_pkg || true)
if [[ -z $kpkg && $(id -u) == 0 ]]; then
  apt-get update >/dev/null && kpkg=$(resolve_kernel_pkg || true)
fi
if [[ -z $kpkg ]]; then
  # Offline fallback: reuse whatever kernel the cache already holds.
  cached=$(find "$cache" -maxdepth 1 -name 'linux-image-*-amd64_*.deb' | sort | tail -n1)
  [[ -n $cached ]] || die "cannot resolve the package behind linux-image-amd64 (apt-get update?)"
  kpkg=$(basename "$cached"); kpkg=${kpkg%%_*}
fi
deb=$(find "$cache" -maxdepth 1 -name "${kpkg}_*.deb" | sort | tail -n1)
if [[ -z $deb ]]; then
  log "downloading $kpkg"
  dl=$(mktemp -d "$cache/dl.XXXXXX")
  # As root, apt warns that it downloads "unsandboxed": harmless here.
  # Stale package lists name a version the mirror no longer has: refresh
  # them once and re-resolve before giving up.
  if ! (cd "$dl" && apt-get download "$kpkg") && [[ $(id -u) == 0 ]]; then
    apt-get update >/dev/null || true
    kpkg=$(resolve_kernel_pkg || true)
    if [[ -n $kpkg ]]; then (cd "$dl" && apt-get download "$kpkg") || true; fi
  fi
  got=$(find "$dl" -maxdepth 1 -name "${kpkg}_*.deb" | head -n1)
  if [[ -z $got ]] || ! dpkg-deb -I "$got" >/dev/null; then
    rm -rf "$dl"; die "apt-get download $kpkg failed"
  fi
  mv "$got" "$cache/" && rm -rf "$dl"
  deb=$cache/$(basename "$got")
  # A new kernel replaces the old one: keep the cache from growing forever.
  find "$cache" -maxdepth 1 -name 'linux-image-*' ! -name "$(basename "$deb" .deb)*" -exec rm -rf {} +
else
  log "using cached $(basename "$deb")"
fi

# Keep only what the guest needs from the 400 MB tree: vmlinuz, config and
# the trigger modules (decompressed, because busybox insmod does not always
# handle .ko.xz/.ko.zst).
kdir=$cache/$(basename "$deb" .deb)
triggers=(ledtrig-timer ledtrig-heartbeat ledtrig-pattern ledtrig-oneshot)
if [[ ! -e $kdir/.complete ]]; then
  log "unpacking $(basename "$deb")"
  rm -rf "$kdir" "$kdir.tmp"; mkdir -p "$kdir.tmp/x" "$kdir.tmp/out/modules"
  dpkg-deb -x "$deb" "$kdir.tmp/x"
  cp "$kdir.tmp"/x/boot/vmlinuz-* "$kdir.tmp/out/vmlinuz"
  cp "$kdir.tmp"/x/boot/config-* "$kdir.tmp/out/config"
  mods=$(find "$kdir.tmp"/x/lib/modules -type d -path '*/kernel/drivers/leds/trigger' | head -n1)
  [[ -n $mods ]] || die "no drivers/leds/trigger in $kpkg"
  for m in "${triggers[@]}"; do
    src=$(find "$mods" -maxdepth 1 -name "$m.ko*" | head -n1)
    [[ -n $src ]] || die "$m not found in $kpkg"
    case $src in
      *.ko) cp "$src" "$kdir.tmp/out/modules/$m.ko" ;;
      *.ko.xz) xz -dc "$src" >"$kdir.tmp/out/modules/$m.ko" ;;
      *.ko.zst) zstd -dc "$src" >"$kdir.tmp/out/modules/$m.ko" ;;
      *.ko.gz) gzip -dc "$src" >"$kdir.tmp/out/modules/$m.ko" ;;
      *) die "unknown module format: $src" ;;
    esac
    # insmod does not resolve dependencies; these modules have none today.
    # Fail loudly if a future kernel adds one instead of failing in the guest.
    deps=$(tr '\0' '\n' <"$kdir.tmp/out/modules/$m.ko" | sed -n 's/^depends=//p' | head -n1)
    [[ -z $deps ]] || die "$m now depends on '$deps': teach run.sh to ship it"
  done
  mv "$kdir.tmp/out" "$kdir" && rm -rf "$kdir.tmp"
  touch "$kdir/.complete"
fi
kver=$(basename "$deb"); kver=${kver#linux-image-}; kver=${kver%%_*}
# The keyboard LEDs need the PS/2 controller and keyboard in the kernel image
# (no udev in the guest to load them); the Debian config has them built in.
for opt in CONFIG_SERIO_I8042=y CONFIG_KEYBOARD_ATKBD=y CONFIG_INPUT_LEDS=y CONFIG_LEDS_TRIGGERS=y; do
  grep -qx "$opt" "$kdir/config" || die "kernel $kver lacks $opt: keyboard LEDs will not exist"
done

# --- 3. binaries ---------------------------------------------------------------
mkdir -p "$work"
rm -rf "$work/initramfs"
rd=$work/initramfs
mkdir -p "$rd"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,lib/modules,scenarios}

# Static helpers for the guest (fast sampling, raw protocol access).
for prog in ledsample ledsend; do
  gcc -static -O2 -Wall -Wextra -o "$work/$prog" "$here/$prog.c"
  cp "$work/$prog" "$rd/usr/bin/$prog"
done

if [[ $mode == full ]]; then
  ledd_bin=${LEDD_BIN:-$target/release/ledd}
  ledctl_bin=${LEDCTL_BIN:-$target/release/ledctl}
  # Under `cargo test` the binaries are already built (and cargo holds the
  # build lock), so only build when we were not handed binaries.
  if [[ ${LEDD_KERNEL_NO_BUILD:-} != 1 && -z ${LEDD_BIN:-} && -z ${LEDCTL_BIN:-} ]]; then
    log "cargo build --release --bins"
    (cd "$root" && cargo build --release --bins) || die "cargo build --release --bins failed"
  fi
  for bin in "$ledd_bin" "$ledctl_bin"; do
    [[ -x $bin ]] || die "$bin missing (cargo build --release --bins)"
  done
  cp "$ledd_bin" "$rd/usr/bin/ledd"
  cp "$ledctl_bin" "$rd/usr/bin/ledctl"
  # Our binaries are dynamically linked: ship every library ldd lists,
  # including the dynamic loader (the /lib64/... line), at the same path.
  # (A static binary makes ldd fail and list nothing: fine.)
  for bin in "$ledd_bin" "$ledctl_bin"; do
    for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
      cp -L --parents "$lib" "$rd/"
    done
  done
fi

cp /bin/busybox "$rd/bin/busybox"
cp "$kdir"/modules/*.ko "$rd/lib/modules/"
cp "$here/guest/init" "$rd/init"
cp "$here"/guest/*.sh "$root/tests/lib/guest-leds.sh" "$rd/scenarios/"
chmod 0755 "$rd/init"
echo "$mode" >"$rd/etc/ledd-test-mode"
# Unprivileged-run scenario: a user for ledd and the group that may write
# the LED files (what the package's udev rule gives group "leds").
cat >"$rd/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
ledd:x:1000:1000:ledd:/tmp:/bin/sh
EOF
cat >"$rd/etc/group" <<'EOF'
root:x:0:
leds:x:1000:ledd
EOF

initrd=$work/initrd.gz
(cd "$rd" && find . -print0 | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 >"$initrd"
log "kernel $kver, initramfs $(du -h "$initrd" | cut -f1), mode $mode"

# --- 4. boot -------------------------------------------------------------------
# Guest clock: by default qemu's instruction counter (-icount shift=0: one
# instruction = 1 ns of guest time; sleep=off: idle time is skipped). The
# kernel's blink timers and our sampler then share one clock that a loaded
# host cannot stretch: on the shared 2-core CI machine a real-time guest was
# seen frozen for 240 ms in the middle of a measurement, which made the
# kernel (not ledd) blink 10 % slow. LEDD_KERNEL_ICOUNT=0 measures on the
# real-time clock instead (noisy, useful to see host jitter).
clock=(-icount 'shift=0,sleep=off')
if [[ ${LEDD_KERNEL_ICOUNT:-1} == 0 ]]; then clock=(); fi
console=$work/console.log
: >"$console"
log "booting under qemu TCG (limit ${timeout_s}s, clock: ${clock[*]:-real time}), console log: $console"
start=$SECONDS
set +e
# -no-reboot + panic=-1: a kernel panic ends qemu at once instead of looping.
# stdin from /dev/null: CI has no terminal, and qemu must not read from it.
timeout -k 10 "$timeout_s" qemu-system-x86_64 -accel tcg "${clock[@]}" -machine pc -m 512 -smp 1 \
  -nographic -no-reboot -monitor none -serial stdio \
  -kernel "$kdir/vmlinuz" -initrd "$initrd" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3" \
  </dev/null >"$console" 2>&1
qrc=$?
set -e
log "qemu exited with status $qrc after $((SECONDS - start))s"

# --- 5. results ----------------------------------------------------------------
# The serial console ends lines with CR LF; kernel messages may be mixed in.
clean=$work/console.clean
tr -d '\r' <"$console" >"$clean"
passed=0 failed=0
declare -A seen=()
while read -r _ verdict name detail; do
  seen[$name]=1
  if [[ $verdict == PASS ]]; then
    printf 'PASS %s %s\n' "$name" "$detail"; passed=$((passed + 1))
  else
    printf 'FAIL %s %s\n' "$name" "$detail"; failed=$((failed + 1))
  fi
done < <(grep -o 'LEDD-CHECK \(PASS\|FAIL\) .*' "$clean" || true)

# The guest announces its plan first, so a check that never printed (guest
# crashed, hung, script error) counts as failed instead of disappearing.
plan=$(grep -o 'LEDD-PLAN .*' "$clean" | head -n1 | cut -d' ' -f2- || true)
if [[ -z $plan ]]; then
  echo "FAIL plan the guest never printed LEDD-PLAN (did not boot?)"; failed=$((failed + 1))
fi
for name in $plan; do
  if [[ -z ${seen[$name]:-} ]]; then
    echo "FAIL $name (missing: never reported)"; failed=$((failed + 1))
  fi
done
if ! grep -q 'LEDD-DONE' "$clean"; then
  if ((qrc == 124 || qrc == 137)); then why="timed out after ${timeout_s}s (hang?)"
  else why="qemu exited with status $qrc (panic?)"; fi
  echo "FAIL done guest did not print LEDD-DONE: $why"; failed=$((failed + 1))
fi

if ((failed)); then
  echo "---- console log: $console (last 40 lines) ----"
  tail -n 40 "$clean"
  echo "----"
fi
echo "$passed passed, $failed failed"
((failed == 0))
