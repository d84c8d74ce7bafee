#!/bin/sh
# What running the flash firmware in simavr needs, installed idempotently (Debian 12):
#   - gcc-avr, avr-libc, binutils-avr: to build the firmware (make -C firmware_protocol/firmware)
#   - libsimavr2 (simavr 1.6, about 1 MB with libelf): the AVR emulator the harness links
#   - the headers of libsimavr-dev, unpacked into sim/build/simavr-dev/ (git-ignored), never
#     installed system-wide: the package itself depends on libsimavrparts1, which pulls in Mesa.
# Run it as root or with sudo available; does nothing when everything is already there.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dest="$here/build/simavr-dev"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

have_lib() { ldconfig -p 2>/dev/null | grep -q 'libsimavr\.so\.2 '; }

need=""
command -v avr-gcc >/dev/null 2>&1 || need="$need gcc-avr"
[ -f /usr/lib/avr/include/avr/io.h ] || need="$need avr-libc"
command -v avr-objcopy >/dev/null 2>&1 || need="$need binutils-avr"
command -v gcc >/dev/null 2>&1 || need="$need gcc"
command -v make >/dev/null 2>&1 || need="$need make"
have_lib || need="$need libsimavr2"
updated=""
if [ -n "$need" ]; then
    echo "install-simavr: installing$need (Debian packages)"
    $SUDO apt-get update -qq
    updated=1
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq $need
fi

if [ ! -f "$dest/usr/include/simavr/sim_avr.h" ]; then
    # The headers of the installed libsimavr2's exact version.
    version=$(dpkg-query -W -f='${Version}' libsimavr2)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "install-simavr: unpacking libsimavr-dev $version headers into $dest"
    fetch() {
        (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" \
            "libsimavr-dev=$version")
    }
    if ! fetch; then
        [ -n "$updated" ] || $SUDO apt-get update -qq
        fetch || {
            echo "install-simavr: cannot download libsimavr-dev $version, the headers of the" \
                 "installed libsimavr2 (they must match it exactly)" >&2
            exit 1
        }
    fi
    mkdir -p "$here/build"
    rm -rf "$dest.tmp"
    dpkg -x "$tmp"/libsimavr-dev_*.deb "$dest.tmp"
    rm -rf "$dest.tmp/usr/lib" "$dest.tmp/usr/share"  # the headers are all the harness needs
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
fi
