# shellcheck shell=bash
# tests/lib/build-deb.sh - sourced by the tiers that build the Debian package
# (tests/deb/run.sh, tests/system/run.sh), so they build it the same way.
#
#   ledd_copy_tree REPO DEST
#       Copy the work tree's tracked and untracked-but-not-ignored files
#       (the repo may have no commit yet), so target/ and other ignored build
#       output never enter the build.
#   ledd_previous_deb REPO CACHE WORK
#       Prints the path of the previous release's .deb (the version before
#       debian/changelog's first entry) for this machine's architecture,
#       built from its git commit once and cached in CACHE/prev-COMMIT/ (log:
#       CACHE/build-prev.log). The commit: $LEDD_APT_PREVIOUS, else tag
#       vVERSION, else the release's commit recorded below (LEDD_RELEASES),
#       else the newest commit along HEAD's first parents whose changelog is
#       at that version.
#   ledd_build_deb SRC CARGO_TARGET_DIR LOG DEB_BUILD_OPTIONS [ARGS...]
#       `dpkg-buildpackage -us -uc -b --build-profiles=pkg.ledd.rustup ARGS...` in SRC (the
#       development build: the toolchain on PATH, crates from ~/.cargo; the
#       Debian 13 build from vendored crates is tests/debian13/run.sh), output
#       in LOG (its tail printed on failure). The .deb lands in SRC's parent
#       directory.

ledd_copy_tree() {
	local repo=$1 dest=$2
	mkdir -p "$dest"
	if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
		# rsync exit 24 = a file vanished while copying (a live tree, e.g. a
		# fuzzer's corpus): harmless for the build.
		(cd "$repo" && git ls-files -z -c -o --exclude-standard) |
			rsync -a --from0 --files-from=- --ignore-missing-args "$repo"/ "$dest"/ || [ $? -eq 24 ]
	else
		rsync -a --exclude=/target --exclude=/.git "$repo"/ "$dest"/
	fi
}

ledd_build_deb() {
	local src=$1 cargo_dir=$2 log=$3 opts=$4
	shift 4
	(cd "$src" && DEB_BUILD_OPTIONS=$opts CARGO_TARGET_DIR=$cargo_dir \
		dpkg-buildpackage -us -uc -b --build-profiles=pkg.ledd.rustup "$@") >"$log" 2>&1 || {
		tail -n 40 "$log"
		return 1
	}
}

# Released versions and their commits, for when the tags are not there (a
# clone without tags): 0.1.0 is main as it landed before 0.2.0's work began.
LEDD_RELEASES=(
	"0.1.0 3f8b8270320a540ba2a2d842fb10b41385b8fd4e"
)

ledd_previous_deb() {
	local repo=$1 cache=$2 work=$3 prev arch commit c prevdeb src
	prev=$(cd "$repo" && dpkg-parsechangelog -o 1 -c 1 -S Version)
	arch=$(dpkg --print-architecture)
	if [ -n "${LEDD_APT_PREVIOUS:-}" ]; then
		commit=$(git -C "$repo" rev-parse --verify "$LEDD_APT_PREVIOUS^{commit}") || return 1
	elif commit=$(git -C "$repo" rev-parse -q --verify "v$prev^{commit}"); then :; else
		commit=
		for c in "${LEDD_RELEASES[@]}"; do
			if [ "${c%% *}" = "$prev" ] && git -C "$repo" cat-file -e "${c#* }^{commit}" 2>/dev/null; then
				commit=${c#* }
			fi
		done
		for c in $([ -n "$commit" ] || git -C "$repo" rev-list --first-parent --max-count=500 HEAD); do
			if git -C "$repo" show "$c:debian/changelog" 2>/dev/null | head -n 1 | grep -qF "ledd ($prev)"; then
				commit=$c
				break
			fi
		done
		[ -n "$commit" ] || { echo "no commit of version $prev along HEAD's first parents" >&2; return 1; }
	fi
	prevdeb=$cache/prev-$commit/ledd_${prev}_$arch.deb
	if [ ! -f "$prevdeb" ]; then
		src=$work/ledd
		rm -rf "$src" && mkdir -p "$src" "$cache"
		git -C "$repo" archive "$commit" | tar -x -C "$src"
		[ "$(cd "$src" && dpkg-parsechangelog -S Version)" = "$prev" ] || {
			echo "commit $commit is not version $prev" >&2
			return 1
		}
		# Its own debian/rules (cargo from PATH); -d: it may predate the profile.
		(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" CARGO_TARGET_DIR=$cache/cargo-prev \
			dpkg-buildpackage -us -uc -b -d) >"$cache/build-prev.log" 2>&1 || {
			echo "building $prev from commit $commit failed: $(tail -n 30 "$cache/build-prev.log")" >&2
			return 1
		}
		mkdir -p "$(dirname "$prevdeb")"
		cp "$work/ledd_${prev}_$arch.deb" "$prevdeb"
	fi
	echo "$prevdeb"
}
