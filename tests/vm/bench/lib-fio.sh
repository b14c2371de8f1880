# shellcheck shell=bash
# The fio rows every configuration runs, and how one row runs. Each row leaves
# BENCH_RAW/CONFIG.rROUND.ROW.json (fio's JSON), .cpu ("busy_ticks total_ticks" of all
# vCPUs over the run, from /proc/stat: the whole guest's CPU, initiator and tgtd included)
# and .threads (tgtd's and our daemons' threads over the run: lib-threads.sh).

# id rw block-size iodepth-per-job
readonly BENCH_ROWS=(
	"randread-4k-qd32 randread 4k 32"
	"randwrite-4k-qd32 randwrite 4k 32"
	"read-1m-qd8 read 1M 8"
	"write-1m-qd8 write 1M 8"
)
# Beyond the run itself, time fio may take before it is declared stuck.
readonly FIO_GRACE_SECONDS=60

cpu_ticks() {
	# user nice system idle iowait irq softirq steal (guest time is already in user/nice).
	awk '/^cpu / { total = 0; for (i = 2; i <= 9; i++) total += $i; print total - $5 - $6, total }' /proc/stat
}

# fio_row CONFIG ROUND DEVICE NUMJOBS RUNTIME RAMP ROW: runs one row (ROW: a BENCH_ROWS
# entry); a failure is left in BENCH_RAW/CONFIG.rROUND.ID.failed, and the status is fio's.
fio_row() {
	local config=$1 round=$2 device=$3 numjobs=$4 runtime=$5 ramp=$6
	local id rw block_size iodepth
	read -r id rw block_size iodepth <<<"$7"
	local base=$BENCH_RAW/$config.r$round.$id
	# Each job gets its own slice of the device: sequential jobs do not read each
	# other's blocks, random ones spread over all of it.
	local size job_bytes
	size=$(blockdev --getsize64 "$device") || return 1
	job_bytes=$((size / numjobs / 1048576 * 1048576))
	local before after busy_before total_before busy_after total_after status=0
	thread_snapshot "$BENCH_WORK/threads.before"
	before=$(cpu_ticks)
	timeout --kill-after=10 $((runtime + ramp + FIO_GRACE_SECONDS)) \
		fio --name="$id" --filename="$device" --ioengine=io_uring --direct=1 \
		--rw="$rw" --bs="$block_size" --iodepth="$iodepth" --numjobs="$numjobs" \
		--size="$job_bytes" --offset_increment="$job_bytes" --randrepeat=0 --norandommap \
		--time_based --runtime="$runtime" --ramp_time="$ramp" --group_reporting \
		--output-format=json --output="$base.json" 2>"$base.err" || status=$?
	after=$(cpu_ticks)
	thread_snapshot "$BENCH_WORK/threads.after"
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
