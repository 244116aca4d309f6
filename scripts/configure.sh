#!/usr/bin/env bash
# Write build/config.mk: the compiler and linker flags of mcpguard's
# libraries, read from pkg-config once the packages are installed
# (the Makefile makes this file before it builds anything, and again
# when one of the recorded .pc files disappears).
#   scripts/configure.sh OUT MODULE...
# A module pkg-config does not know is an error that names the Debian
# package to install; nothing falls back silently.
set -euo pipefail
out="$1"
shift

# pkg-config module -> Debian package (scripts/install-deps.sh installs them).
declare -A deb=(
	[jansson]=libjansson-dev [libuv]=libuv1-dev [yaml-0.1]=libyaml-dev
	[libsodium]=libsodium-dev [libmicrohttpd]=libmicrohttpd-dev
	[libcurl]=libcurl4-gnutls-dev [libseccomp]=libseccomp-dev
	[libhs]=libvectorscan-dev
)

command -v pkg-config >/dev/null || {
	echo "configure: pkg-config is missing: install the Debian package pkg-config" \
		"(scripts/install-deps.sh build)" >&2
	exit 1
}
missing=()
pcfiles=()
for m in "$@"; do
	if ! pkg-config --exists "$m"; then
		missing+=("$m (Debian package ${deb[$m]:-unknown})")
		continue
	fi
	pcfiles+=("$(pkg-config --variable=pcfiledir "$m")/$m.pc")
done
if [ ${#missing[@]} -gt 0 ]; then
	for m in "${missing[@]}"; do echo "configure: pkg-config module $m not found" >&2; done
	echo "configure: install them with scripts/install-deps.sh build" >&2
	exit 1
fi

mkdir -p "$(dirname "$out")"
{
	echo "# Made by scripts/configure.sh; remade when a .pc file below disappears."
	echo "PKG_CFLAGS := $(pkg-config --cflags "$@")"
	echo "PKG_LIBS := $(pkg-config --libs "$@")"
	echo "PKG_FILES := ${pcfiles[*]}"
	echo "$out: \$(PKG_FILES)"
	echo "\$(PKG_FILES):"
} >"$out.tmp"
mv "$out.tmp" "$out"
