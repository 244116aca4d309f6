#!/usr/bin/env bash
# bench/sandbox.sh: what `make bench-sandbox` runs, and the last section of
# `make bench`.  Sandbox creation (create plus the first exec of /bin/true,
# until it exited) and exec of /bin/true in a running sandbox: mcpguard
# against bwrap, unshare and nsenter doing comparable work, interleaved in
# one run (build/bench/sandbox_bench; see the top of bench/sandbox_bench.c).
# Root only; without root it says so and exits 0.  Timings never fail it.
#
#   bench/sandbox.sh            results in build/bench/results-sandbox/, printed
#   bench/sandbox.sh DIR        results added to DIR (bench/run.sh's), not printed
#
# Knobs (environment):
#   BENCH_SBX_ROUNDS=200   measured rounds (each runs every variant once)
#   BENCH_SBX_WARMUP=20    unmeasured rounds first
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${BENCH_SBX_ROUNDS:-200}
WARMUP=${BENCH_SBX_WARMUP:-20}
BIN=build/bench/sandbox_bench
say() { printf '%s\n' "$*" >&2; }

standalone=1
OUT=build/bench/results-sandbox
if [ $# -gt 0 ]; then
	OUT=$1
	standalone=0
fi
if [ "$(id -u)" != 0 ]; then
	say "bench: the sandbox benchmark needs root (namespaces, id maps, cgroups): skipped"
	exit 0
fi
[ -x "$BIN" ] || { say "bench: build $BIN first (make bench-sandbox does)"; exit 1; }
command -v bwrap >/dev/null ||
	say "bench: no bwrap (Debian: apt-get install bubblewrap): its rows are skipped"
command -v unshare >/dev/null && command -v nsenter >/dev/null ||
	say "bench: no unshare/nsenter (util-linux): their rows are skipped"

. bench/lib.sh

mkdir -p "$OUT"
B=$(cpu_busy)
[ "$B" -le 10 ] || say "bench: warning: the machine is ${B}% busy before the sandbox run; figures will be noisy"
say "bench: sandbox creation and exec, $ROUNDS rounds after $WARMUP, interleaved"
T0=$(date +%s)
rc=0
"$BIN" --rounds "$ROUNDS" --warmup "$WARMUP" >"$OUT/sandbox.jsonl" 2>"$OUT/sandbox.txt" || rc=$?
{
	echo "sbx.bwrap=$(bwrap --version 2>/dev/null | head -1 || echo none)"
	echo "sbx.util_linux=$(unshare --version 2>/dev/null | head -1 || echo none)"
	echo "sbx.settings=rounds=$ROUNDS warmup=$WARMUP, unpinned"
	echo "sbx.busy=${B}% of the CPUs busy with other work before the sandbox run"
	echo "sbx.elapsed_s=$(($(date +%s) - T0))"
} >"$OUT/sandbox-meta.txt"
if [ "$rc" != 0 ]; then
	say "bench: sandbox_bench reported a failure:"
	cat "$OUT/sandbox.txt" >&2
fi
if [ "$standalone" = 1 ]; then
	{
		echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
		echo "cores=$(nproc)"
		echo "kernel=$(uname -sr)"
		echo "git=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo '+dirty')"
	} >"$OUT/meta.txt"
	python3 bench/report.py "$OUT"
fi
exit "$rc"
