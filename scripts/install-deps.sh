#!/bin/sh
# Installs the Debian packages that building, running and testing need, and
# only those that are missing. Runs apt-get update once, when something is.
set -eu

PACKAGES="build-essential clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool iproute2
libcmocka-dev python3 python3-pytest python3-pymemcache memcached libmemcached-tools
valgrind gnuplot-nox libclang-rt-14-dev mandoc prometheus nutcracker php-cli php-memcached"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
