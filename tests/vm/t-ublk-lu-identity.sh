#!/usr/bin/env bash
# VM test (runs inside the VM, as root): what a queue checks on every new session. The
# target comes back with the LUN grown: the device follows (READ CAPACITY after the relogin,
# UPDATE_SIZE). The target comes back presenting another LU under the same URL (another
# tgtd target id, so another VPD 0x83 designator): no request reaches it, held I/O fails at
# the replacement timeout, and once the device's own LU is back it serves again with its
# data intact.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

readonly PORT=3273
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:identity
readonly LUN_MIB=64
readonly GROWN_MIB=96

failure_context() {
	echo "# daemon log:"
	grep -vE "connection counters|session counters|queue counters" "$log" | tail -30 | sed 's/^/#   /'
}

serve_own_lu() {
	start_tgtd $PORT && add_file_target 1 "$IQN" $LUN_MIB
}
require "tgtd serves the device's LU" serve_own_lu

log=$work_dir/daemon.log
require "the device comes up" start_daemon "$log" -q 1 -d 16 --replacement-timeout 5 \
	--noop-out-interval 1 --noop-out-timeout 2 "iscsi://127.0.0.1:$PORT/$IQN/1"

check "a pattern goes to the device" pattern_round_trip 8

wait_for_log() {
	local deadline=$((SECONDS + $2))
	until grep -q "$1" "$log"; do
		((SECONDS < deadline)) || {
			echo "#   no '$1' in the daemon log within $2 s"
			return 1
		}
		sleep 0.2
	done
}

grown_lun_resizes_the_device() {
	stop_tgtd
	truncate -s "${GROWN_MIB}M" "$work_dir/lun-1.img" &&
		start_tgtd $PORT && add_file_target 1 "$IQN" $GROWN_MIB || return 1
	wait_for_log "device resized" 60 || return 1
	local size
	size=$(blockdev --getsize64 "$dev")
	echo "# figures: device size after the relogin: $size bytes"
	((size == GROWN_MIB << 20)) &&
		dd if="$dev" of=/dev/null bs=1M skip=$((GROWN_MIB - 1)) count=1 iflag=direct status=none
}
check "the LUN grown while the target was down: the device follows" grown_lun_resizes_the_device

# Another target id under the same IQN is another LU (another NAA designator).
other_lu_gets_nothing() {
	stop_tgtd
	start_tgtd $PORT && add_file_target 2 "$IQN" $GROWN_MIB || return 1
	wait_for_log "another LU under this URL" 60 || return 1
	local start=$SECONDS status
	timeout 60 dd if="$work_dir/pattern" of="$dev" bs=4k count=16 oflag=direct status=none 2>/dev/null
	status=$?
	echo "# figures: write while another LU answers: status $status after $((SECONDS - start)) s"
	((status != 0 && status != 124)) || return 1
	# Nothing was written to the other LU's file.
	cmp -n $((GROWN_MIB << 20)) "$work_dir/lun-2.img" /dev/zero
}
check "another LU under the same URL gets no request; I/O fails cleanly" other_lu_gets_nothing

own_lu_serves_again() {
	stop_tgtd
	start_tgtd $PORT && add_file_target 1 "$IQN" $GROWN_MIB || return 1
	local deadline=$((SECONDS + 60))
	until dd if="$dev" of="$work_dir/back" bs=1M count=8 iflag=direct status=none 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
	cmp "$work_dir/pattern" "$work_dir/back"
}
check "the device's own LU back: served again, data intact" own_lu_serves_again

finish
