# shellcheck shell=bash
# Where a row's CPU went, thread by thread: the CPU time and context switches of tgtd's
# threads and of our daemons' over one fio run. On two vCPUs shared with the target, how
# often tgtd's event loop (the bottleneck of the 1 MiB rows) is switched out while
# runnable says as much as the throughput. The kernel initiator's own work runs in
# softirq and kworkers and is not attributed here; it shows in the whole-guest CPU.

# thread_snapshot FILE: one line per thread of tgtd and ublk.cxgb3i:
# "TID ROLE VOLUNTARY INVOLUNTARY TICKS" (ticks: utime + stime, in clock ticks).
# ROLE: tgtd-loop (tgtd's main thread, its event loop), tgtd-worker, daemon.
thread_snapshot() {
	# Bash builtins only: under TCG each fork and exec costs tens of milliseconds, and
	# tgtd and two daemons have dozens of threads between them.
	local pid task tid role comm stat key value voluntary involuntary
	local -a fields
	{
		for pid in $(pgrep -x tgtd) $(pgrep -x ublk.cxgb3i); do
			read -r comm 2>/dev/null <"/proc/$pid/comm" || continue
			for task in /proc/"$pid"/task/*; do
				tid=${task##*/}
				case $comm in
				tgtd) if [[ $tid == "$pid" ]]; then role=tgtd-loop; else role=tgtd-worker; fi ;;
				*) role=daemon ;;
				esac
				# The fields after the command name, which may hold spaces and parentheses:
				# state is the first of them, utime and stime the 12th and 13th.
				read -r stat 2>/dev/null <"$task/stat" || continue
				read -ra fields <<<"${stat##*) }"
				voluntary="" involuntary=""
				while read -r key value _; do
					case $key in
					voluntary_ctxt_switches:) voluntary=$value ;;
					nonvoluntary_ctxt_switches:) involuntary=$value ;;
					esac
				done 2>/dev/null <"$task/status"
				[[ -n $voluntary && -n $involuntary ]] || continue
				echo "$tid $role $voluntary $involuntary $((fields[11] + fields[12]))"
			done
		done
	} >"$1"
}

# thread_delta BEFORE AFTER OUT: per-role sums of what changed between two snapshots, for
# threads present in both: "ROLE THREADS VOLUNTARY INVOLUNTARY TICKS", after a first line
# "clk_tck N".
thread_delta() {
	local before=$1 after=$2 out=$3
	{
		echo "clk_tck $(getconf CLK_TCK)"
		awk 'NR == FNR { vol[$1] = $3; invol[$1] = $4; ticks[$1] = $5; next }
			($1 in vol) {
				role = $2; threads[role]++
				v[role] += $3 - vol[$1]; i[role] += $4 - invol[$1]; t[role] += $5 - ticks[$1]
			}
			END { for (role in threads) print role, threads[role], v[role], i[role], t[role] }' \
			"$before" "$after" | sort
	} >"$out"
}
