#!/usr/bin/env bash
# Install what mcpguard needs on Debian 12, only when it is missing.
#   scripts/install-deps.sh build   libraries and tools to build and run
#   scripts/install-deps.sh test    also what the tests need (cmocka, clang,
#                                   valgrind, Node.js) and the npm test peers
set -euo pipefail
cd "$(dirname "$0")/.."
# Everything said here goes to stderr: `make run` serves MCP on stdout.
exec >&2

mode="${1:-build}"
build_pkgs=(build-essential pkg-config libjansson-dev libuv1-dev libyaml-dev libsodium-dev
	libmicrohttpd-dev libcurl4-gnutls-dev libseccomp-dev libvectorscan-dev)
run_pkgs=(nodejs npm)   # the built-in catalog starts its servers with npx
test_pkgs=(libcmocka-dev clang libclang-rt-14-dev valgrind procps curl)

want=("${build_pkgs[@]}")
case "$mode" in
build) ;;
test) want+=("${test_pkgs[@]}") ;;
*) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere than Debian (nvm, nodesource): any
# node >= 18 with npm will do.
if ! command -v node >/dev/null || ! command -v npm >/dev/null ||
	[ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]; then
	missing+=("${run_pkgs[@]}")
fi

if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$mode" = test ]; then
	# Real MCP peers from npm, pinned by tests/package-lock.json.
	if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
		echo "install-deps: installing the npm test peers (tests/package.json)"
		npm ci --prefix tests --no-audit --no-fund --loglevel=error
	fi
fi
