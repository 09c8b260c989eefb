#!/bin/sh
# Set up a fresh Debian machine for the tracker: the sandbox and diff tools, then nox.
# ./setup.sh           what checks and the nightly need
# ./setup.sh --tests   also Chromium, for the site's browser tests
set -eu
packages="bubblewrap faketime disorderfs diffoscope-minimal util-linux git gcc libc6-dev"
if [ "${1:-}" = "--tests" ]; then
    packages="$packages chromium chromium-driver"
fi
missing=""
for package in $packages; do
    dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "setup.sh: please install these Debian packages as root:$missing" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# a system Python marked externally-managed refuses plain installs; this machine is the tracker's
python3 -m pip install --quiet --disable-pip-version-check "nox==2026.10.20" 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "nox==2026.10.20"
