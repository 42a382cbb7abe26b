#!/usr/bin/env bash
# debian/make-apt-repo.sh - a signed apt repository of ledd's .debs, every
# architecture in one suite, made with apt-ftparchive and gpg:
#
#   debian/make-apt-repo.sh REPO DEB...
#
# copies the .debs into REPO/pool/main/l/ledd/ (keeping those already there:
# older versions stay installable, `apt install ledd=0.1.0`), writes
# REPO/dists/stable/main/binary-ARCH/Packages{,.gz} for every architecture in
# the pool, REPO/dists/stable/Release, signs it (InRelease and Release.gpg)
# and exports the public key as REPO/ledd-archive-keyring.gpg (binary, for
# apt's signed-by=).
#
# The key: LEDD_REPO_KEY=FINGERPRINT signs with a key of the caller's gpg
# keyring (GNUPGHOME as usual): a maintainer's own key, e.g.
#     gpg --quick-gen-key 'ledd archive <you@example.org>' ed25519 sign 2y
#     LEDD_REPO_KEY=$(gpg --list-keys --with-colons 'ledd archive' |
#         awk -F: '/^fpr/ {print $10; exit}') debian/make-apt-repo.sh repo *.deb
# Keep the secret key off the machine that serves the repository; publish
# REPO as it is (any static web server) and the keyring beside it.
# LEDD_REPO_TEST_KEY=1 instead makes (once) a passphrase-less throwaway key
# in REPO/../test-gnupg: for tests only.
#
# Users then add (README.md, "Install"):
#   sudo install -d /etc/apt/keyrings
#   sudo curl -fsSLo /etc/apt/keyrings/ledd.gpg URL/ledd-archive-keyring.gpg
#   echo 'deb [signed-by=/etc/apt/keyrings/ledd.gpg] URL stable main' |
#       sudo tee /etc/apt/sources.list.d/ledd.list
#   sudo apt update && sudo apt install ledd
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
repo=$(mkdir -p "$1" && cd "$1" && pwd)
shift
suite=stable component=main
pool=pool/$component/l/ledd

if [ -n "${LEDD_REPO_KEY:-}" ]; then
	key=$LEDD_REPO_KEY
elif [ "${LEDD_REPO_TEST_KEY:-0}" = 1 ]; then
	export GNUPGHOME
	GNUPGHOME=$(dirname "$repo")/test-gnupg
	if [ ! -d "$GNUPGHOME" ]; then
		mkdir -m 0700 "$GNUPGHOME"
		gpg --batch --quiet --passphrase '' --quick-gen-key \
			'ledd test repository (throwaway) <ledd-test@example.invalid>' ed25519 sign never
	fi
	key=$(gpg --list-secret-keys --with-colons | awk -F: '/^fpr/ {print $10; exit}')
else
	echo "make-apt-repo: set LEDD_REPO_KEY=FINGERPRINT (your signing key) or LEDD_REPO_TEST_KEY=1" >&2
	exit 2
fi

mkdir -p "$repo/$pool"
for deb in "$@"; do
	case $(dpkg-deb -f "$deb" Package) in
	ledd*) cp "$deb" "$repo/$pool/" ;;
	*) echo "make-apt-repo: $deb is not a ledd package" >&2; exit 1 ;;
	esac
done

cd "$repo"
rm -rf "dists/$suite"
archs=$(for d in "$pool"/*.deb; do dpkg-deb -f "$d" Architecture; done | sort -u | grep -vx all || true)
for arch in $archs; do
	dir=dists/$suite/$component/binary-$arch
	mkdir -p "$dir"
	# -a ARCH: that architecture's packages (and Architecture: all ones).
	apt-ftparchive -a "$arch" packages "$pool" >"$dir/Packages"
	gzip -9n <"$dir/Packages" >"$dir/Packages.gz"
done
apt-ftparchive \
	-o APT::FTPArchive::Release::Origin=ledd \
	-o APT::FTPArchive::Release::Label=ledd \
	-o APT::FTPArchive::Release::Suite=$suite \
	-o APT::FTPArchive::Release::Codename=$suite \
	-o APT::FTPArchive::Release::Components=$component \
	-o "APT::FTPArchive::Release::Architectures=$(echo $archs)" \
	-o APT::FTPArchive::Release::Description="ledd: LED daemon and client" \
	release "dists/$suite" >"dists/$suite/Release.new"
mv "dists/$suite/Release.new" "dists/$suite/Release"
gpg --batch --yes --local-user "$key" --clearsign -o "dists/$suite/InRelease" "dists/$suite/Release"
gpg --batch --yes --local-user "$key" --detach-sign --armor -o "dists/$suite/Release.gpg" "dists/$suite/Release"
gpg --batch --yes --export "$key" >ledd-archive-keyring.gpg
echo "$repo: suite $suite, architectures: $(echo $archs), signed by $key"
