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
# MODE -> /dev/ublkbN, for the devices added and not yet deleted.
declare -A OURS_DEVICE=()

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

# ours_del ID: `ublk del -n ID`, then waits for the device nodes to go.
ours_del() {
	local id=$1
	"$OURS_BIN_DIR/ublk" del -n "$id" >"$BENCH_WORK/del.log" 2>&1 ||
		bench_log "ublk del -n $id failed: $(tail -2 "$BENCH_WORK/del.log" | tr '\n' ' ')"
	wait_for "$OURS_DEL_SECONDS" ours_device_gone "$id" ||
		bench_log "/dev/ublkb$id outlived ublk del"
}

# ours_attach MODE QUEUES: MODE copy or zerocopy; `ublk add -t cxgb3i -q QUEUES -d DEPTH
# [-z] URL`, and waits for the block device it reports. Sets OURS_DEVICE[MODE]; on
# failure, why is in BENCH_REASON.
ours_attach() {
	local mode=$1 queues=$2 status=0 id
	BENCH_REASON=""
	if [[ -n $OURS_UNAVAILABLE ]]; then
		BENCH_REASON=$OURS_UNAVAILABLE
		return 1
	fi
	local args=(add -t cxgb3i -q "$queues" -d "$OURS_DEPTH")
	[[ $mode == zerocopy ]] && args+=(-z)
	args+=("$TGTD_URL")
	timeout "$OURS_ADD_SECONDS" "$OURS_BIN_DIR/ublk" "${args[@]}" \
		>"$BENCH_WORK/add.out" 2>"$BENCH_WORK/add.err" || status=$?
	if ((status != 0)); then
		BENCH_REASON="ublk ${args[*]} exited $status: $(tail -2 "$BENCH_WORK/add.err" | tr '\n' ' ')"
		return 1
	fi
	id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' "$BENCH_WORK/add.out" | head -1)
	if [[ -z $id ]]; then
		BENCH_REASON="ublk add printed no 'dev id N:' line"
		return 1
	fi
	if ! wait_for 20 test -b "/dev/ublkb$id"; then
		BENCH_REASON="/dev/ublkb$id did not appear"
		ours_del "$id"
		return 1
	fi
	OURS_DEVICE[$mode]=/dev/ublkb$id
	record_info "$mode" "ublk.add" "ublk ${args[*]/#iscsi:\/\/*/URL}"
	record_info "$mode" "ublk.list" "$("$OURS_BIN_DIR/ublk" list -n "$id" 2>&1)"
	"$OURS_BIN_DIR/ublk" list -v -n "$id" >"$BENCH_RAW/$mode.list.txt" 2>&1
	record_block_queue "$mode" "/dev/ublkb$id"
}

# ours_detach MODE: deletes the device ours_attach MODE added.
ours_detach() {
	local device=${OURS_DEVICE[$1]:-}
	[[ -n $device ]] || return 0
	ours_del "${device#/dev/ublkb}"
	unset "OURS_DEVICE[$1]"
}

ours_cleanup() {
	local mode
	for mode in "${!OURS_DEVICE[@]}"; do
		ours_detach "$mode"
	done
}

# Seconds to wait after a run for the daemon's counters to be published: the queues publish
# every 0.1 s while busy and at least once a second when idle.
readonly OURS_PUBLISH_WAIT=1.2

# ours_status_snapshot DEVICE FILE [after]: for one of our devices, `ublk list -n ID --json`
# into FILE (the daemon's live counters: payload bytes moved, placed by DDP and copied in
# user space); with "after", first waits until the run's last counters are published.
# Nothing for the kernel initiator's device.
ours_status_snapshot() {
	local device=$1 file=$2
	[[ $device == /dev/ublkb* ]] || return 0
	[[ ${3:-} == after ]] && sleep "$OURS_PUBLISH_WAIT"
	"$OURS_BIN_DIR/ublk" list -n "${device#/dev/ublkb}" --json >"$file" 2>"$file.err" ||
		bench_log "ublk list -n ${device#/dev/ublkb} --json failed: $(tail -2 "$file.err" | tr '\n' ' ')"
	[[ -s $file.err ]] || rm -f "$file.err"
}
