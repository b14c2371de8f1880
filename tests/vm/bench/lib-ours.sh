# shellcheck shell=bash
# Our device: `ublk add -t cxgb3i -q QUEUES -d DEPTH [-z] URL` through the ublksrv-style
# front end, with binaries built on the host. They are copied to /dev/shm/bin as `ublk`
# and `ublk.cxgb3i` (the front end runs the target found next to itself). When they are
# missing or cannot add a device, the configuration is recorded as not available, with
# the reason, and the kernel rows still run.

readonly OURS_BIN_DIR=/dev/shm/bin
readonly OURS_ADD_SECONDS=120
readonly OURS_DEL_SECONDS=30
OURS_UNAVAILABLE=""
OURS_DEPTH=128
OURS_DEV_ID=""

# ours_prepare UBLK_PATH UBLK_CXGB3I_PATH DEPTH: installs the binaries, or records why not.
ours_prepare() {
	local front=$1 target=$2
	OURS_DEPTH=$3
	if [[ -z $front || ! -x $front ]]; then
		OURS_UNAVAILABLE="no ublk front-end binary${front:+ at $front}"
	elif [[ -z $target || ! -x $target ]]; then
		OURS_UNAVAILABLE="no ublk-cxgb3i binary${target:+ at $target}"
	elif ! mkdir -p "$OURS_BIN_DIR" || ! cp "$front" "$OURS_BIN_DIR/ublk" ||
		! cp "$target" "$OURS_BIN_DIR/ublk.cxgb3i"; then
		OURS_UNAVAILABLE="cannot install the binaries in $OURS_BIN_DIR"
	elif ! "$OURS_BIN_DIR/ublk.cxgb3i" add --help >/dev/null 2>&1; then
		OURS_UNAVAILABLE="$target has no 'add' subcommand"
	elif ! modprobe ublk_drv; then
		OURS_UNAVAILABLE="modprobe ublk_drv failed"
	fi
	if [[ -z $OURS_UNAVAILABLE ]]; then
		record_context ublk_cxgb3i "$target" ublk "$front"
	fi
}

ours_device_gone() {
	[[ ! -e /dev/ublkb$1 && ! -e /dev/ublkc$1 ]]
}

ours_del() {
	[[ -n $OURS_DEV_ID ]] || return 0
	"$OURS_BIN_DIR/ublk" del -n "$OURS_DEV_ID" >"$BENCH_WORK/del.log" 2>&1 ||
		bench_log "ublk del -n $OURS_DEV_ID failed: $(tail -2 "$BENCH_WORK/del.log" | tr '\n' ' ')"
	wait_for "$OURS_DEL_SECONDS" ours_device_gone "$OURS_DEV_ID" ||
		bench_log "/dev/ublkb$OURS_DEV_ID outlived ublk del"
	OURS_DEV_ID=""
}

# ours_add MODE QUEUES: sets OURS_DEV_ID; on failure, why is in BENCH_REASON.
ours_add() {
	local mode=$1 queues=$2 status=0
	local args=(add -t cxgb3i -q "$queues" -d "$OURS_DEPTH")
	[[ $mode == zerocopy ]] && args+=(-z)
	args+=("$TGTD_URL")
	timeout "$OURS_ADD_SECONDS" "$OURS_BIN_DIR/ublk" "${args[@]}" \
		>"$BENCH_WORK/add.out" 2>"$BENCH_WORK/add.err" || status=$?
	if ((status != 0)); then
		BENCH_REASON="ublk ${args[*]} exited $status: $(tail -2 "$BENCH_WORK/add.err" | tr '\n' ' ')"
		return 1
	fi
	OURS_DEV_ID=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' "$BENCH_WORK/add.out" | head -1)
	if [[ -z $OURS_DEV_ID ]]; then
		BENCH_REASON="ublk add printed no 'dev id N:' line"
		return 1
	fi
	if ! wait_for 20 test -b "/dev/ublkb$OURS_DEV_ID"; then
		BENCH_REASON="/dev/ublkb$OURS_DEV_ID did not appear"
		ours_del
		return 1
	fi
}

# bench_ours MODE ROUND QUEUES RUNTIME RAMP: MODE copy or zerocopy; adds the device, runs
# the rows on it (numjobs = queues), deletes it.
bench_ours() {
	local mode=$1 round=$2 queues=$3 runtime=$4 ramp=$5 device status=0
	if [[ -n $OURS_UNAVAILABLE ]]; then
		record_status "$mode" "$round" "not available ($OURS_UNAVAILABLE)"
		return 1
	fi
	BENCH_REASON=""
	if ! ours_add "$mode" "$queues"; then
		record_status "$mode" "$round" "not available ($BENCH_REASON)"
		return 1
	fi
	device=/dev/ublkb$OURS_DEV_ID
	bench_log "$mode (round $round): $device"
	record_info "$mode" "ublk.add" "ublk add -t cxgb3i -q $queues -d $OURS_DEPTH$([[ $mode == zerocopy ]] && echo ' -z') URL"
	record_info "$mode" "ublk.list" "$("$OURS_BIN_DIR/ublk" list -n "$OURS_DEV_ID" 2>&1)"
	"$OURS_BIN_DIR/ublk" list -v -n "$OURS_DEV_ID" >"$BENCH_RAW/$mode.list.txt" 2>&1
	record_block_queue "$mode" "$device"
	tgtd_record_sessions "$mode"
	fio_rows "$mode" "$round" "$device" "$queues" "$runtime" "$ramp" || status=1
	ours_del
	if ((status)); then
		record_status "$mode" "$round" "some rows failed"
	else
		record_status "$mode" "$round" ok
	fi
	return "$status"
}

ours_cleanup() {
	ours_del
}
