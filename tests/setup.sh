#!/usr/bin/env bash
# Installs what the test suite needs and is missing: Debian packages,
# cargo-nextest, the aarch64 Rust target. Does nothing that is already there.
set -euo pipefail

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo

packages=(
    qemu-system-x86 qemu-system-arm qemu-user busybox-static cpio  # real-kernel tiers
    device-tree-compiler gcc-aarch64-linux-gnu libc6-dev-arm64-cross # overlay, arm64 build
    debhelper dpkg-dev fakeroot lintian mandoc man-db              # Debian package, man pages
    php-cli chromium                                               # web page
    socat procps netcat-openbsd                                    # tests' own clients and probes
    openssh-server openssh-client                                  # ssh: ledctl -H against a test sshd
    mosquitto mosquitto-clients openssl                            # mqtt tier: ledd-mqtt against a test broker; bench: fan-out
    file                                                           # bench: is ledd stripped?
    systemd                                                        # deb: systemd-analyze security
    mmdebstrap apt-utils gpg                                       # debian13, apt: chroots, apt repository
)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    # Some images carry a newer qemu-utils from backports, which the
    # archive's qemu-system packages refuse: take the archive's one with them.
    extra=()
    if dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null | grep -q bpo; then
        extra=(--allow-downgrades "qemu-utils/$(. /etc/os-release && echo "$VERSION_CODENAME")")
    fi
    # No service starts on install (policy-rc.d, as in Debian's chroots):
    # openssh-server would start sshd on every address, mosquitto a broker on
    # port 1883; the ssh and mqtt tiers start their own, on 127.0.0.1 only.
    policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod 0755 "$policy"
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${extra[@]}" "${missing[@]}" ||
        { [ -z "$policy" ] || $sudo rm -f "$policy"; exit 1; }
    [ -z "$policy" ] || $sudo rm -f "$policy"
    # Nor at the next boot: the mqtt tier and the fan-out bench start their own
    # brokers on free ports. (Without systemd there is no unit to disable.)
    if [[ " ${missing[*]} " == *" mosquitto "* ]] && [ -e /lib/systemd/system/mosquitto.service ]; then
        $sudo systemctl disable mosquitto.service 2>/dev/null ||
            echo "setup: could not disable mosquitto.service; it would start a broker on 127.0.0.1:1883 at boot"
    fi
fi
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
# The fuzz tier needs nightly (fuzz/run.sh installs cargo-fuzz itself). Where
# none can be fetched (no network to static.rust-lang.org), the fuzz tier
# reports itself SKIPPED by name: that is not a reason to stop here.
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal ||
        echo "setup: no nightly toolchain could be installed; the fuzz tier will be SKIPPED"
fi
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
