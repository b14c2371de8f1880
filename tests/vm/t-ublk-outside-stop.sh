#!/usr/bin/env bash
# VM test (runs inside the VM, as root): who deletes a stopped device. ublksrv's `ublk del`
# sends STOP_DEV, waits for the daemon's pid to exit, then sends DEL_DEV itself and fails
# (ENODEV) if the device is gone by then. So a daemon stopped from outside, without a signal,
# leaves the device to whoever stopped it: it removes its record and exits, and the device
# stays until that caller's DEL_DEV. A daemon that stops on its own signal (SIGTERM; our
# `ublk del` sends one first) deletes the device itself, and our `ublk del` works either way.
# `ublk.cxgb3i del --stop-only -n N` (hidden) sends STOP_DEV alone, as ublksrv's del does first.
#
# Binaries, tgtd and cleanup: lib/common.sh.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

readonly PORT=3275
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:outside-stop
readonly LUN_MIB=32
readonly EXIT_SECONDS=10

require "tgtd answers on 127.0.0.1:$PORT" start_tgtd $PORT
check "tgtd serves a file LUN" add_file_target 1 "$IQN" $LUN_MIB
url="iscsi://127.0.0.1:$PORT/$IQN/1"

# gone PID: the process exits within EXIT_SECONDS.
gone() {
	local deadline=$((SECONDS + EXIT_SECONDS))
	while kill -0 "$1" 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

check "ublk add -t cxgb3i: device up" add_device -q 2 "$url"
check "I/O works" pattern_round_trip 4
served_by=$(daemon_pid_of "$dev_id")

left_for_the_caller() {
	[[ -n $served_by ]] && "$ublk_cxgb3i" del --stop-only -n "$dev_id" || return 1
	gone "$served_by" || {
		echo "#   the daemon (pid $served_by) is still running"
		return 1
	}
	"$ublk" list -n "$dev_id" | sed 's/^/#   /'
	[[ -e /sys/class/ublk-char/ublkc$dev_id ]] &&
		[[ ! -e /run/ublksrvd/$dev_id.pid ]] &&
		"$ublk" list -n "$dev_id" | grep -q "state DEAD"
}
check "after a bare STOP_DEV the daemon exits and removes its record, leaving the device" \
	left_for_the_caller

deleted_by_the_caller() {
	"$ublk" del -n "$dev_id" && forget_device "$dev_id" &&
		[[ ! -e /sys/class/ublk-char/ublkc$dev_id && ! -e $dev ]]
}
check "the caller's DEL_DEV (ublk del) then removes it" deleted_by_the_caller

check "ublk add again: device up" add_device "$url"
served_by=$(daemon_pid_of "$dev_id")
own_del_works() {
	"$ublk" del -n "$dev_id" && forget_device "$dev_id" && gone "$served_by" &&
		[[ ! -e /sys/class/ublk-char/ublkc$dev_id && ! -e /run/ublksrvd/$dev_id.pid ]]
}
check "our ublk del (SIGTERM first) removes device, daemon and record" own_del_works

signalled_daemon_deletes() {
	start_daemon "$work_dir/daemon.log" "$url" || return 1
	local id=${dev#/dev/ublkb}
	stop_daemon
	[[ ! -e /sys/class/ublk-char/ublkc$id && ! -e /run/ublksrvd/$id.pid ]] || {
		tail -5 "$work_dir/daemon.log" | sed 's/^/#   /'
		return 1
	}
}
check "a foreground daemon stopped by SIGTERM deletes its device itself" signalled_daemon_deletes

finish
