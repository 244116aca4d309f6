#!/usr/bin/env bash
# Run each cmocka unit test binary in its own process with a time limit,
# under ASan+UBSan (LeakSanitizer on), and summarise.
set -uo pipefail
pass=0
fail=0
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
for t in "$@"; do
	if timeout 120 "$t" >"$t.log" 2>&1; then
		pass=$((pass + 1))
		echo "  PASS  $(basename "$t")"
	else
		fail=$((fail + 1))
		echo "  FAIL  $(basename "$t") (log: $t.log)"
		tail -n 30 "$t.log"
	fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
