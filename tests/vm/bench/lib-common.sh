# shellcheck shell=bash
# Shared by guest-bench and its lib-*.sh: logging and the raw-result files report reads.
# BENCH_RAW (results, on the host-writable dir) and BENCH_WORK (scratch in /dev/shm) are
# set by guest-bench before any of these run.

# Log lines carry the seconds since guest-bench started (bash's SECONDS).
bench_log() {
	printf 'bench [%4ss]: %s\n' "$SECONDS" "$*" >&2
}

bench_die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

# record_context KEY VALUE [KEY VALUE]...: facts about this boot, for the report's header.
record_context() {
	while (($# >= 2)); do
		printf '%s\t%s\n' "$1" "${2//$'\n'/ }" >>"$BENCH_RAW/context.tsv"
		shift 2
	done
}

# record_info CONFIG KEY VALUE: a setting the device under test ran with (negotiated iSCSI
# parameters, queue limits). A later round's value replaces an earlier one's.
record_info() {
	local file=$BENCH_RAW/$1.info.tsv
	touch "$file"
	awk -F '\t' -v key="$2" '$1 != key' "$file" >"$file.new"
	printf '%s\t%s\n' "$2" "${3//$'\n'/ }" >>"$file.new"
	mv "$file.new" "$file"
}

# record_status CONFIG TEXT: the device it runs on, or why it could not be measured.
record_status() {
	printf '%s\n' "$2" >>"$BENCH_RAW/$1.status"
	bench_log "$1: $2"
}

# wait_for SECONDS COMMAND [ARG]...: polls COMMAND every 0.2 s until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

# record_block_queue CONFIG DEVICE: the block layer's view of the device under test.
record_block_queue() {
	local config=$1 name=${2#/dev/} attribute
	for attribute in scheduler nr_requests max_sectors_kb max_hw_sectors_kb \
		logical_block_size rotational; do
		record_info "$config" "queue.$attribute" \
			"$(cat "/sys/block/$name/queue/$attribute" 2>/dev/null || echo '?')"
	done
	record_info "$config" "queue.nr_hw_queues" "$(find "/sys/block/$name/mq" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)"
	record_info "$config" "size_bytes" "$(blockdev --getsize64 "$2")"
}

# Why the last setup step that failed could not be done (set by the step itself, so it
# runs in this shell, not in a command substitution).
BENCH_REASON=""
