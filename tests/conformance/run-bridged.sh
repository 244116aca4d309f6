#!/usr/bin/env bash
# Runs the official MCP conformance suite (server scenarios) against a stdio
# MCP server command, through supergateway as a stdio -> streamable HTTP
# bridge (the suite speaks HTTP only).  tests/conformance/run.sh uses it
# twice: on the C fixture alone (the baseline) and on mcpguard fronting it.
#
# Environment:
#   NODE22         path to a Node 22 binary (the suite needs >= 22)
#   CONF_DIR       directory whose node_modules holds
#                  @modelcontextprotocol/conformance and supergateway
#   STDIO_CMD      the server command line, as one string for a shell
#   PORT           TCP port for the bridge on 127.0.0.1
#   EXPECTED_FAIL  optional, space-separated scenarios allowed to fail
#                  (the bridge fails dns-rebinding-protection, for one)
#   SUITE          optional, suite to run: all (default), active, pending
#   RESULTS_DIR    optional, where results and logs go (default: mktemp -d)
#   START_TIMEOUT  optional, seconds to wait for the bridge (default 30)
#   SUITE_TIMEOUT  optional, seconds the whole suite may take (default 600)
#   SUITE_ARGS     optional, instead of "--suite $SUITE" (e.g. "--requirements
#                  2025-11-25" for the pre-release runner)
#   RUNNER         optional, the suite's entry file (default: 0.1.16's)
#   SUMMARY_FILE   optional, where to write the "PASS|FAIL scenario" lines
#
# Exit status: 0 when every scenario passed or is listed in EXPECTED_FAIL,
# 1 when some other scenario failed, 2 on a setup problem.

set -euo pipefail
# shellcheck source=tests/conformance/lib.sh
. "$(dirname "$0")/lib.sh"

die() {
	echo "run-bridged: $*" >&2
	exit 2
}

for var in NODE22 CONF_DIR STDIO_CMD PORT; do
	[[ -n "${!var:-}" ]] || die "$var is not set"
done
[[ -x "$NODE22" ]] || die "NODE22=$NODE22 is not executable"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "PORT=$PORT is not a number"

SUITE="${SUITE:-all}"
START_TIMEOUT="${START_TIMEOUT:-30}"
SUITE_TIMEOUT="${SUITE_TIMEOUT:-600}"
EXPECTED_FAIL="${EXPECTED_FAIL:-}"

MODULES="$CONF_DIR/node_modules"
CONFORMANCE="${RUNNER:-$MODULES/@modelcontextprotocol/conformance/dist/index.js}"
BRIDGE="$MODULES/supergateway/dist/index.js"
[[ -f "$CONFORMANCE" ]] || die "conformance suite not found at $CONFORMANCE"
[[ -f "$BRIDGE" ]] || die "supergateway not found at $BRIDGE"

if [[ -z "${RESULTS_DIR:-}" ]]; then
	RESULTS_DIR="$(mktemp -d "${TMPDIR:-/tmp}/fixture-conformance.XXXXXX")"
fi
RUN_DIR="$RESULTS_DIR/run-$(date +%Y%m%dT%H%M%S)-$$"
mkdir -p "$RUN_DIR/checks"
BRIDGE_LOG="$RUN_DIR/bridge.log"
SUITE_LOG="$RUN_DIR/suite.log"

# True when something accepts connections on the port.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

BRIDGE_PID=""
OWN_GROUP=0

SUITE_PID=""

# Stops the suite if it still runs, then the bridge and, through its
# process group, every fixture the bridge spawned.
cleanup() {
	local pid="$BRIDGE_PID"

	if [[ -n "$SUITE_PID" ]]; then
		# timeout(1) passes the signal on to the suite.
		kill -TERM "$SUITE_PID" 2>/dev/null || true
		wait "$SUITE_PID" 2>/dev/null || true
		SUITE_PID=""
	fi
	[[ -n "$pid" ]] || return 0
	BRIDGE_PID=""
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	# Only when the bridge got a group of its own (setsid) is the group ours
	# to signal.
	if [[ "$OWN_GROUP" == 1 ]]; then
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_open && die "port $PORT is already in use"

# --stdio is run by a shell.
FIXTURE_CMD="$STDIO_CMD"
if command -v setsid >/dev/null 2>&1; then
	OWN_GROUP=1
	setsid "$NODE22" "$BRIDGE" --stdio "$FIXTURE_CMD" \
		--outputTransport streamableHttp --stateful --port "$PORT" \
		--logLevel info </dev/null >"$BRIDGE_LOG" 2>&1 &
else
	"$NODE22" "$BRIDGE" --stdio "$FIXTURE_CMD" \
		--outputTransport streamableHttp --stateful --port "$PORT" \
		--logLevel info </dev/null >"$BRIDGE_LOG" 2>&1 &
fi
BRIDGE_PID=$!

deadline=$((SECONDS + START_TIMEOUT))
until listens "$BRIDGE_PID" "$PORT"; do
	if ! kill -0 "$BRIDGE_PID" 2>/dev/null; then
		tail -n 20 "$BRIDGE_LOG" >&2 || true
		die "the bridge exited before listening (log: $BRIDGE_LOG)"
	fi
	((SECONDS < deadline)) || die "the bridge did not listen within ${START_TIMEOUT}s"
	sleep 0.2
done

echo "run-bridged: bridge on 127.0.0.1:$PORT, results in $RUN_DIR"

# In the background, so that a signal to this script is handled at once
# (bash defers traps while a foreground child runs).
suite_rc=0
timeout --kill-after=10 "$SUITE_TIMEOUT" "$NODE22" "$CONFORMANCE" server \
	--url "http://127.0.0.1:$PORT/mcp" ${SUITE_ARGS:---suite $SUITE} \
	-o "$RUN_DIR/checks" >"$SUITE_LOG" 2>&1 &
SUITE_PID=$!
wait "$SUITE_PID" || suite_rc=$?
SUITE_PID=""
# The suite exits 1 whenever a check fails; only other codes mean it broke.
if ((suite_rc != 0 && suite_rc != 1)); then
	echo "run-bridged: the suite exited with status $suite_rc" \
		"(124: timed out); see $SUITE_LOG" >&2
fi

cleanup

# One line per scenario: "PASS|FAIL <scenario> <detail>". A scenario is
# taken from its checks.json, or from the suite's summary when the runner
# failed before writing one.
summary="$("$NODE22" - "$RUN_DIR/checks" "$SUITE_LOG" <<'EOF'
const fs = require('fs');
const path = require('path');
const [dir, log] = process.argv.slice(2);
const results = new Map();
for (const entry of fs.readdirSync(dir).sort()) {
  const m = /^server-(.+)-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/.exec(entry);
  const file = path.join(dir, entry, 'checks.json');
  if (!m || !fs.existsSync(file)) continue;
  let checks;
  try {
    checks = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    results.set(m[1], { ok: false, detail: 'unreadable checks.json' });
    continue;
  }
  const count = (s) => checks.filter((c) => c.status === s).length;
  const failed = checks.filter((c) => c.status === 'FAILURE');
  let detail = `${count('SUCCESS')} passed, ${failed.length} failed, ` +
    `${count('WARNING')} warnings`;
  if (failed.length)
    detail += ' [' + failed.map((c) => `${c.id}: ${c.errorMessage || ''}`)
      .join('; ') + ']';
  results.set(m[1], { ok: failed.length === 0, detail });
}
let text = '';
try { text = fs.readFileSync(log, 'utf8'); } catch (e) { /* no log */ }
for (const line of text.split('\n')) {
  const m = /^([✓✗]) (\S+): (\d+) passed, (\d+) failed/.exec(line);
  if (m && !results.has(m[2]))
    results.set(m[2], { ok: m[1] === '✓', detail: 'no checks.json; ' +
      `${m[3]} passed, ${m[4]} failed` });
}
for (const [name, r] of results)
  console.log(`${r.ok ? 'PASS' : 'FAIL'} ${name} ${r.detail}`);
EOF
)" || die "cannot read the results in $RUN_DIR/checks"

[[ -n "$summary" ]] || {
	echo "run-bridged: no scenario results; see $SUITE_LOG" >&2
	exit 1
}

echo "$summary"
[[ -z "${SUMMARY_FILE:-}" ]] || echo "$summary" >"$SUMMARY_FILE"

status=0
while read -r verdict scenario _; do
	expected=0
	for name in $EXPECTED_FAIL; do
		[[ "$name" == "$scenario" ]] && expected=1
	done
	if [[ "$verdict" == FAIL && "$expected" == 0 ]]; then
		echo "run-bridged: unexpected failure: $scenario" >&2
		status=1
	elif [[ "$verdict" == PASS && "$expected" == 1 ]]; then
		echo "run-bridged: note: $scenario passed although" \
			"listed in EXPECTED_FAIL" >&2
	fi
done <<<"$summary"

if ((suite_rc != 0 && suite_rc != 1)); then
	status=1
fi
((status == 0)) && echo "run-bridged: OK"
exit "$status"
