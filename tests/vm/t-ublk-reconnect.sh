#!/usr/bin/env bash
# VM test (runs inside the VM, as root): session recovery (ERL 0). While a write runs, the
# target is killed and restarted: every queue holds its I/O, reconnects with backoff and
# reissues what was in flight, so the write finishes and the data reads back intact. Then
# the target is frozen (SIGSTOP): the NOP-Out keepalive notices, the connection is dropped,
# and I/O resumes once the target runs again.
#
# The daemon runs with --foreground (its log is the evidence); binaries as in
# tests/vm/t-ublk-basic.sh.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail

readonly PORT=3267
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:reconnect
readonly LUN_MIB=128
readonly TGTD_START_SECONDS=20

failures=0
check() {
	local description=$1
	shift
	if "$@"; then
		echo "ok - $description"
	else
		echo "not ok - $description"
		failures=$((failures + 1))
	fi
}

root=${UBLK_REPO_ROOT:-$PWD}
# The ublk-cxgb3i binary once src/main.rs carries the subcommands, else the stand-in example.
has_subcommands() {
	"$1" add --help 2>/dev/null | grep -q -- --max_io_buf_bytes
}
target_bin=${UBLK_CXGB3I_BIN:-}
if [[ -z $target_bin ]]; then
	for candidate in "$root/target/debug/ublk-cxgb3i" "$root/target/release/ublk-cxgb3i" \
		"$root/target/debug/examples/ublk-cxgb3i" "$root/target/release/examples/ublk-cxgb3i"; do
		if [[ -x $candidate ]] && has_subcommands "$candidate"; then
			target_bin=$candidate
			break
		fi
	done
fi
[[ -n $target_bin ]] || {
	echo "not ok - no ublk-cxgb3i build with the add subcommand under $root/target"
	exit 1
}

work_dir=$(mktemp -d /dev/shm/ublk-reconnect.XXXXXX)
mkdir -p "$work_dir/bin"
cp "$target_bin" "$work_dir/bin/ublk.cxgb3i"
tgtd_pid=""
daemon_pid=""
log=$work_dir/daemon.log

cleanup() {
	[[ -n $tgtd_pid ]] && kill -CONT "$tgtd_pid" 2>/dev/null
	if [[ -n $daemon_pid ]]; then
		kill -TERM "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
	if [[ -n $tgtd_pid ]]; then
		kill -KILL "$tgtd_pid" 2>/dev/null
		wait "$tgtd_pid" 2>/dev/null
	fi
	rm -rf "$work_dir"
}
trap cleanup EXIT

modprobe ublk_drv || {
	echo "not ok - modprobe ublk_drv"
	exit 1
}
ip link set lo up
export TGT_IPC_SOCKET=$work_dir/tgtd.socket
truncate -s "${LUN_MIB}M" "$work_dir/lun.img"

# A target over the same file, as often as needed.
start_tgtd() {
	tgtd -f --iscsi portal="127.0.0.1:$PORT" >>"$work_dir/tgtd.log" 2>&1 &
	tgtd_pid=$!
	local deadline=$((SECONDS + TGTD_START_SECONDS))
	until tgtadm --lld iscsi --mode target --op show >/dev/null 2>&1; do
		((SECONDS < deadline)) && kill -0 "$tgtd_pid" 2>/dev/null || return 1
		sleep 0.2
	done
	tgtadm --lld iscsi --mode target --op new --tid 1 --targetname "$IQN" &&
		tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 \
			--backing-store "$work_dir/lun.img" &&
		tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL
}
check "tgtd serves a file LUN" start_tgtd

dev=""
start_daemon() {
	RUST_LOG=info "$work_dir/bin/ublk.cxgb3i" add -t cxgb3i --foreground -q 2 -d 32 \
		"iscsi://127.0.0.1:$PORT/$IQN/1" >"$log" 2>&1 &
	daemon_pid=$!
	local deadline=$((SECONDS + 30)) id
	until id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' "$log") && [[ -n $id ]]; do
		((SECONDS < deadline)) && kill -0 "$daemon_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	dev=/dev/ublkb$id
	deadline=$((SECONDS + 10))
	until [[ -b $dev ]]; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}
check "the device comes up with two queues" start_daemon

head -c 64M /dev/urandom >"$work_dir/pattern"

survives_target_restart() {
	dd if="$work_dir/pattern" of="$dev" bs=256k oflag=direct status=none &
	local writer=$!
	sleep 2
	kill -KILL "$tgtd_pid"
	wait "$tgtd_pid" 2>/dev/null
	sleep 3
	start_tgtd || return 1
	wait "$writer" || return 1
	dd if="$dev" of="$work_dir/back" bs=1M count=64 iflag=direct status=none &&
		cmp "$work_dir/pattern" "$work_dir/back"
}
check "a write running while the target restarts completes and reads back" survives_target_restart

recovered_in_log() {
	grep -q "holding I/O and reconnecting" "$log" &&
		[[ $(grep -c "session recovered" "$log") -ge 1 ]] &&
		! grep -q "replacement timeout" "$log"
}
check "the log shows the held I/O and the recovery" recovered_in_log

keepalive_notices_frozen_target() {
	local writer status=0
	kill -STOP "$tgtd_pid"
	dd if="$work_dir/pattern" of="$dev" bs=64k count=64 seek=512 oflag=direct status=none &
	writer=$!
	sleep 14
	kill -CONT "$tgtd_pid"
	wait "$writer" || status=1
	grep -q "no answer to a NOP-Out" "$log" &&
		((status == 0)) &&
		dd if="$dev" of="$work_dir/back" bs=64k count=64 skip=512 iflag=direct status=none &&
		cmp -n $((4 << 20)) "$work_dir/pattern" "$work_dir/back"
}
check "a frozen target is detected by NOP-Out, and I/O completes once it runs again" \
	keepalive_notices_frozen_target

clean_stop() {
	kill -TERM "$daemon_pid" && wait "$daemon_pid" && daemon_pid="" && [[ ! -e $dev ]]
}
check "SIGTERM still removes the device cleanly" clean_stop

stop_with_target_gone() {
	start_daemon || return 1
	kill -KILL "$tgtd_pid"
	wait "$tgtd_pid" 2>/dev/null
	tgtd_pid=""
	local writer writer_status=0 started=$SECONDS
	dd if="$work_dir/pattern" of="$dev" bs=64k count=16 oflag=direct status=none 2>/dev/null &
	writer=$!
	sleep 3
	kill -TERM "$daemon_pid"
	wait "$daemon_pid"
	daemon_pid=""
	wait "$writer" || writer_status=$?
	echo "#   stopped after $((SECONDS - started)) s; the held write ended with status $writer_status"
	((SECONDS - started < 30 && writer_status != 0)) && [[ ! -e $dev ]] &&
		grep -q "device is being stopped while the session is down" "$log"
}
check "SIGTERM with the target gone fails the held I/O and removes the device promptly" \
	stop_with_target_gone

if ((failures > 0)); then
	echo "# daemon log:"
	grep -E "WARN|ERROR|recover|reconnect|held|dev id" "$log" | sed 's/^/#   /' | tail -40
	echo "# $failures check(s) failed"
	exit 1
fi
echo "# all checks passed"
