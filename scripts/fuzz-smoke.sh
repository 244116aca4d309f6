#!/usr/bin/env bash
# Run every fuzz harness for a short while over its seed corpus: a crash,
# a sanitizer report or a leak fails the build.  Long runs: see docs/testing.md.
set -euo pipefail
secs="${FUZZ_SECONDS:-20}"
for f in "$@"; do
	name="$(basename "$f")"
	target="${name#fuzz_}"
	corpus="tests/fuzz/corpus/$target"
	work="build/fuzz/corpus-$target"
	mkdir -p "$work"
	[ -d "$corpus" ] && cp -n "$corpus"/* "$work"/ 2>/dev/null || true
	dict=()
	[ -f "tests/fuzz/$target.dict" ] && dict=(-dict="tests/fuzz/$target.dict")
	echo "  FUZZ  $name (${secs}s)"
	"$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
		"${dict[@]}" "$work" >"build/fuzz/$name.log" 2>&1 || {
		tail -n 40 "build/fuzz/$name.log"
		echo "fuzz: $name failed (log: build/fuzz/$name.log)"
		exit 1
	}
done
echo "fuzz: $# harnesses ran clean"
