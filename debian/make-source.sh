#!/usr/bin/env bash
# debian/make-source.sh - make ledd's Debian source package, with every crate
# of Cargo.lock vendored, so that it builds with no network (Debian 13's cargo
# and rustc, or any cargo >= 1.85):
#
#   debian/make-source.sh OUTDIR
#
# writes OUTDIR/ledd_VERSION.dsc and OUTDIR/ledd_VERSION.tar.xz (3.0 native).
# The tree is the git work tree's tracked and untracked-but-not-ignored files
# (so target/ never enters it) plus vendor/ from `cargo vendor --locked
# --versioned-dirs` (crates.io, or ~/.cargo's cache when offline). The
# source's debian/copyright must list exactly those crates: checked here
# (debian/vendor-copyright.py), the script stops otherwise. No .cargo/config
# enters the tree: debian/rules points cargo at vendor/ itself when vendor/
# is there, and a git checkout without it keeps building from crates.io.
#
# Then, anywhere:  dpkg-source -x ledd_VERSION.dsc && cd ledd-VERSION &&
#                  dpkg-buildpackage -us -uc -b
# Environment: LEDD_SOURCE_TREE=DIR keep the unpacked tree in DIR (tests).
set -euo pipefail

[ $# -eq 1 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
out=$(mkdir -p "$1" && cd "$1" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(cd "$repo" && dpkg-parsechangelog -S Version)
work=$(mktemp -d /tmp/ledd-source.XXXXXX)
trap 'rm -rf "$work"' EXIT
tree=$work/ledd-$version

mkdir -p "$tree"
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$repo" && git ls-files -z -c -o --exclude-standard) |
		rsync -a --from0 --files-from=- --ignore-missing-args "$repo"/ "$tree"/
else
	rsync -a --exclude=/target --exclude=/.git --exclude=/vendor "$repo"/ "$tree"/
fi
rm -rf "$tree/vendor"
# fuzz/ and bench/loadgen/ are workspaces of their own, not built by the
# package: only the main workspace's crates are vendored.
(cd "$tree" && cargo vendor --locked --versioned-dirs --quiet vendor >/dev/null)
"$tree/debian/vendor-copyright.py" "$tree/vendor" --check "$tree/debian/copyright" >/dev/null
# dpkg-source leaves out what its default tar-ignore list names (Cargo.toml.orig,
# .gitignore, ...), which cargo would miss from the per-file checksums: keep
# only each crate's checksum, which cargo still checks against Cargo.lock (as
# Debian's dh-cargo does for its registry).
python3 - "$tree/vendor" <<'PY'
import json, pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).glob("*/.cargo-checksum.json")):
    package = json.loads(f.read_text())["package"]
    f.write_text(json.dumps({"files": {}, "package": package}))
PY

# Timestamps inside the tarball: the changelog's date (dpkg-source clamps to
# SOURCE_DATE_EPOCH), so the source package is reproducible too.
SOURCE_DATE_EPOCH=$(cd "$tree" && dpkg-parsechangelog -S Timestamp)
export SOURCE_DATE_EPOCH
(cd "$work" && dpkg-source --compression-level=6 -b "ledd-$version" >/dev/null)
mv "$work/ledd_$version.dsc" "$work/ledd_$version.tar.xz" "$out/"
if [ -n "${LEDD_SOURCE_TREE:-}" ]; then
	rm -rf "$LEDD_SOURCE_TREE" && mv "$tree" "$LEDD_SOURCE_TREE"
fi
echo "$out/ledd_$version.dsc"
