#!/usr/bin/env bash
# VM test (runs inside the VM, as root): session recovery (ERL 0). While a write runs, the
# target is killed and restarted: every queue holds its I/O, reconnects with backoff and
# reissues what was in flight, so the write finishes and the data reads back intact. Then
# the target is frozen (SIGSTOP): the NOP-Out keepalive notices, the connection is dropped,
# and I/O resumes once the target runs again.
#
# The daemon runs with --foreground (its log is the evidence); binaries, tgtd and cleanup:
# lib/common.sh.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

readonly PORT=3267
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:reconnect
readonly LUN_MIB=128

# A target over the same file, as often as needed.
serve_lun() {
	start_tgtd $PORT && add_file_target 1 "$IQN" $LUN_MIB
}
check "tgtd serves a file LUN" serve_lun

log=$work_dir/daemon.log
start_reconnecting_daemon() {
	start_daemon "$log" -q 2 -d 32 "iscsi://127.0.0.1:$PORT/$IQN/1"
}
check "the device comes up with two queues" start_reconnecting_daemon

head -c 64M /dev/urandom >"$work_dir/pattern"

# True while the block layer has a write of the device in flight (with the daemon).
write_in_flight() {
	local writes
	read -r _ writes <"/sys/block/${dev#/dev/}/inflight" && ((writes > 0))
}

# The writer rewrites the pattern back to back until the target has restarted, and tgtd is
# stopped only once a write is in flight: one 64 MiB pass can take under a second, so a
# single pass and a fixed delay could let the target stop with nothing to hold. The last
# pass runs whole after the restart; that is what must read back.
survives_target_restart() {
	local restarted=$work_dir/restarted writer status=0 tries
	rm -f "$restarted"
	(
		until [[ -e $restarted ]]; do
			dd if="$work_dir/pattern" of="$dev" bs=256k oflag=direct status=none || exit 1
		done
	) &
	writer=$!
	sleep 1
	for ((tries = 0; tries < 200; tries++)); do
		write_in_flight && break
		sleep 0.05
	done
	if ((tries == 200)); then
		echo "#   no write was in flight within 10 s"
		status=1
	fi
	stop_tgtd
	sleep 3
	serve_lun || status=1
	touch "$restarted"
	wait "$writer" || status=1
	((status == 0)) &&
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
	start_reconnecting_daemon || return 1
	stop_tgtd
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

failure_context() {
	echo "# daemon log:"
	grep -E "WARN|ERROR|recover|reconnect|held|dev id" "$log" | sed 's/^/#   /' | tail -40
}
finish
