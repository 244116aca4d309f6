# Shared by tests/conformance/run.sh and run-bridged.sh (sourced; bash).

# True when process $1 (or a child of it) itself listens on TCP port $2:
# its own socket, found through its fds.  A bare connect to the port would
# take any listener for it (another run's, another user's), even when the
# process we started has died.
listens() {
	local pid=$1 hex inode p links
	hex=$(printf '%04X' "$2")
	for inode in $(awk -v port=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == port { print $10 }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null); do
		for p in "$pid" $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
			links=$'\n'$(readlink /proc/"$p"/fd/* 2>/dev/null)$'\n' || true
			[[ $links == *$'\n'"socket:[$inode]"$'\n'* ]] && return 0
		done
	done
	return 1
}
