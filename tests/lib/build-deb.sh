# shellcheck shell=bash
# tests/lib/build-deb.sh - sourced by the tiers that build the Debian package
# (tests/deb/run.sh, tests/system/run.sh), so they build it the same way.
#
#   ledd_copy_tree REPO DEST
#       Copy the work tree's tracked and untracked-but-not-ignored files
#       (the repo may have no commit yet), so target/ and other ignored build
#       output never enter the build.
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
