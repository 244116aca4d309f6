# Shared by bench/run.sh and bench/sandbox.sh (sourced).

# Share of the CPUs that others used over one second (this VM may be shared
# with other work: the figures are only as quiet as the machine).
cpu_busy() {
	local a b
	read -ra a < <(grep '^cpu ' /proc/stat)
	sleep 1
	read -ra b < <(grep '^cpu ' /proc/stat)
	local ta=0 tb=0 i
	for i in 1 2 3 4 5 6 7 8; do ta=$((ta + a[i])); tb=$((tb + b[i])); done
	local idle=$(((b[4] + b[5]) - (a[4] + a[5]))) total=$((tb - ta))
	echo $((total > 0 ? 100 - 100 * idle / total : 0))
}
