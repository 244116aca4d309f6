#!/usr/bin/env bash
# banned.h turns unsafe libc calls into compile errors; make sure no file
# takes the ban back.
set -euo pipefail
if grep -rnE '#\s*undef\s+(strcpy|strcat|strncpy|sprintf|vsprintf|gets|strtok|atoi|atol|atoll|tmpnam|mktemp)\b' \
	src tests --include='*.c' --include='*.h' | grep -v '^src/base/banned.h'; then
	echo "check-banned: a file re-enables a banned function" >&2
	exit 1
fi
