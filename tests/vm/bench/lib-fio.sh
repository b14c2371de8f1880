# shellcheck shell=bash
# The fio rows every configuration runs, and how one row runs. Each row leaves
# BENCH_RAW/CONFIG.rROUND.ROW.json (fio's JSON, with clat percentiles 50/99/99.9), .cpu
# ("busy_ticks total_ticks" of all vCPUs over the run, from /proc/stat: the whole guest's
# CPU, initiator and tgtd included), .threads (tgtd's and our daemons' threads over the run:
# lib-threads.sh) and, on our devices, .status-before.json and .status-after.json (`ublk list
# -n ID --json` around the run: the daemon's byte counters, lib-ours.sh).

# id rw block-size iodepth-per-job numjobs ("-": one job per ublk queue). rw "randrw:70" is
# a random mix with 70% reads, reported as one (fio's unified_rw_reporting=mixed). The QD1
# rows run one job: one I/O in flight on the whole device, a latency measurement.
readonly BENCH_ROWS=(
	"randread-4k-qd1 randread 4k 1 1"
	"randwrite-4k-qd1 randwrite 4k 1 1"
	"randread-4k-qd32 randread 4k 32 -"
	"randwrite-4k-qd32 randwrite 4k 32 -"
	"randrw70-4k-qd32 randrw:70 4k 32 -"
	"read-1m-qd8 read 1M 8 -"
	"write-1m-qd8 write 1M 8 -"
)
# Beyond the run itself, time fio may take before it is declared stuck.
readonly FIO_GRACE_SECONDS=60

cpu_ticks() {
	# user nice system idle iowait irq softirq steal (guest time is already in user/nice).
	awk '/^cpu / { total = 0; for (i = 2; i <= 9; i++) total += $i; print total - $5 - $6, total }' /proc/stat
}

# fio_row CONFIG ROUND DEVICE NUMJOBS RUNTIME RAMP ROW: runs one row (ROW: a BENCH_ROWS
# entry; NUMJOBS unless the row names its own); a failure is left in
# BENCH_RAW/CONFIG.rROUND.ID.failed, and the status is fio's.
fio_row() {
	local config=$1 round=$2 device=$3 numjobs=$4 runtime=$5 ramp=$6
	local id rw block_size iodepth row_jobs
	read -r id rw block_size iodepth row_jobs <<<"$7"
	[[ ${row_jobs:--} == - ]] || numjobs=$row_jobs
	local base=$BENCH_RAW/$config.r$round.$id
	local mix=()
	if [[ $rw == *:* ]]; then
		mix=(--rwmixread="${rw#*:}" --unified_rw_reporting=mixed)
		rw=${rw%%:*}
	fi
	# Each job gets its own slice of the device: sequential jobs do not read each
	# other's blocks, random ones spread over all of it.
	local size job_bytes
	size=$(blockdev --getsize64 "$device") || return 1
	job_bytes=$((size / numjobs / 1048576 * 1048576))
	local before after busy_before total_before busy_after total_after status=0
	ours_status_snapshot "$device" "$base.status-before.json"
	thread_snapshot "$BENCH_WORK/threads.before"
	before=$(cpu_ticks)
	timeout --kill-after=10 $((runtime + ramp + FIO_GRACE_SECONDS)) \
		fio --name="$id" --filename="$device" --ioengine=io_uring --direct=1 \
		--rw="$rw" "${mix[@]}" --bs="$block_size" --iodepth="$iodepth" --numjobs="$numjobs" \
		--size="$job_bytes" --offset_increment="$job_bytes" --randrepeat=0 --norandommap \
		--time_based --runtime="$runtime" --ramp_time="$ramp" --group_reporting \
		--percentile_list=50:99:99.9 \
		--output-format=json --output="$base.json" 2>"$base.err" || status=$?
	after=$(cpu_ticks)
	thread_snapshot "$BENCH_WORK/threads.after"
	ours_status_snapshot "$device" "$base.status-after.json" after
	thread_delta "$BENCH_WORK/threads.before" "$BENCH_WORK/threads.after" "$base.threads"
	read -r busy_before total_before <<<"$before"
	read -r busy_after total_after <<<"$after"
	echo "$((busy_after - busy_before)) $((total_after - total_before))" >"$base.cpu"
	if ((status != 0)); then
		echo "fio exited $status: $(tail -3 "$base.err" | tr '\n' ' ')" >"$base.failed"
		return 1
	fi
	[[ -s $base.err ]] || rm -f "$base.err"
}
