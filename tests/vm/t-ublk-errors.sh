#!/usr/bin/env bash
# VM test (runs inside the VM, as root): `ublk add -t cxgb3i` refuses what cannot work with
# one clear line on stderr and a non-zero exit, and leaves no device and no record behind:
# malformed URL, unreachable portal, unknown target, missing LUN, wrong CHAP secret, and a
# device id already in use (which must not disturb the device that has it). `ublk del` of a
# missing device fails clearly, and del succeeds while the daemon removes its device itself.
#
# Binaries, tgtd and cleanup: lib/common.sh.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

readonly PORT=3264
readonly CLOSED_PORT=3265
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:errors
readonly CHAP_USER=erruser
readonly CHAP_SECRET=errsecret123456

require "tgtd answers on 127.0.0.1:$PORT" start_tgtd $PORT
serve_lun() {
	add_file_target 1 "$IQN" 32 && add_chap_account 1 "$CHAP_USER" "$CHAP_SECRET"
}
check "tgtd serves $IQN with CHAP" serve_lun

devices() {
	find /sys/class/ublk-char -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}
records() {
	find /run/ublksrvd -maxdepth 1 -name '*.pid' 2>/dev/null | wc -l
}

# refused DESCRIPTION EXPECTED_TEXT ADD_ARGS...: the add fails with one line naming the
# problem, and neither a device nor a record appears.
refused() {
	local expected=$1
	shift
	local devices_before records_before status=0
	devices_before=$(devices)
	records_before=$(records)
	timeout 60 "$ublk" add -t cxgb3i "$@" >"$work_dir/out" 2>"$work_dir/err" || status=$?
	echo "#   exit $status: $(head -c 300 "$work_dir/err")"
	((status != 0)) &&
		[[ $(grep -c . "$work_dir/err") -eq 1 ]] &&
		grep -qiE "$expected" "$work_dir/err" &&
		! grep -qF "$CHAP_SECRET" "$work_dir/err" &&
		[[ ! -s $work_dir/out ]] &&
		[[ $(devices) -eq $devices_before ]] &&
		[[ $(records) -eq $records_before ]]
}

good="iscsi://$CHAP_USER%$CHAP_SECRET@127.0.0.1:$PORT/$IQN/1"
check "malformed URL" refused "invalid URL" "iscsi://127.0.0.1:$PORT"
check "unreachable portal" refused "refused" "iscsi://$CHAP_USER%$CHAP_SECRET@127.0.0.1:$CLOSED_PORT/$IQN/1"
check "unknown target" refused "not found|target" "iscsi://$CHAP_USER%$CHAP_SECRET@127.0.0.1:$PORT/$IQN-nope/1"
check "missing LUN" refused "no LUN 7" "iscsi://$CHAP_USER%$CHAP_SECRET@127.0.0.1:$PORT/$IQN/7"
check "wrong CHAP secret" refused "auth" "iscsi://$CHAP_USER%wrongsecret12345@127.0.0.1:$PORT/$IQN/1"
check "no CHAP credentials" refused "auth" "iscsi://127.0.0.1:$PORT/$IQN/1"

target_alone_refuses() {
	local status=0
	timeout 60 "$ublk_cxgb3i" add -t cxgb3i \
		"iscsi://$CHAP_USER%wrongsecret12345@127.0.0.1:$PORT/$IQN/1" 2>"$work_dir/err" || status=$?
	echo "#   exit $status: $(cat "$work_dir/err")"
	((status == 1)) && [[ $(grep -c . "$work_dir/err") -eq 1 ]] &&
		grep -q "authentication failed" "$work_dir/err" && [[ $(devices) -eq 0 ]]
}
check "ublk.cxgb3i add on its own reports the failure of its daemon" target_alone_refuses

add_kept() {
	local output
	output=$("$ublk" add -t cxgb3i -n 5 "$good" 2>"$work_dir/err") || {
		cat "$work_dir/err"
		return 1
	}
	grep -q "^dev id 5:" <<<"$output" && track_device 5
}
check "a device with id 5 comes up" add_kept
check "device id already in use" refused "already in use" -n 5 "$good"

kept_device_works() {
	head -c 1M /dev/urandom >"$work_dir/pattern" &&
		dd if="$work_dir/pattern" of=/dev/ublkb5 bs=64k oflag=direct status=none &&
		dd if=/dev/ublkb5 of="$work_dir/back" bs=64k count=16 iflag=direct status=none &&
		cmp "$work_dir/pattern" "$work_dir/back" &&
		"$ublk" list -n 5 | grep -q "state LIVE"
}
check "the device holding the id is untouched" kept_device_works

unknown_type() {
	local status=0
	"$ublk" add -t nope "$good" 2>"$work_dir/err" || status=$?
	echo "#   exit $status: $(cat "$work_dir/err")"
	((status == 234)) && grep -q "ublk.nope" "$work_dir/err" && [[ $(devices) -eq 1 ]]
}
check "ublk add -t TYPE without ublk.TYPE fails like ublksrv (exit 234)" unknown_type

del_kept() {
	"$ublk" del -n 5 && forget_device 5 && [[ $(devices) -eq 0 ]] && [[ $(records) -eq 0 ]]
}
check "ublk del -n 5 leaves nothing" del_kept

del_missing() {
	local status=0
	"$ublk" del -n 5 2>"$work_dir/err" || status=$?
	echo "#   exit $status: $(cat "$work_dir/err")"
	((status != 0)) && grep -q "dev info from 5" "$work_dir/err" &&
		[[ $(grep -c . "$work_dir/err") -eq 1 ]]
}
check "ublk del of a device that does not exist fails in one line" del_missing

# After del's STOP_DEV the daemon removes its device itself, racing del's own DEL_DEV (both
# delete libublk's JSON file of it): whichever wins, del succeeds. A few rounds, since the
# race is a matter of timing.
del_rounds() {
	local round status
	for round in 1 2 3 4 5; do
		"$ublk" add -t cxgb3i -n 6 "$good" >/dev/null 2>"$work_dir/err" || {
			echo "#   round $round: add failed: $(cat "$work_dir/err")"
			return 1
		}
		track_device 6
		status=0
		"$ublk" del -n 6 2>"$work_dir/err" || status=$?
		if ((status != 0)) || [[ $(devices) -ne 0 || $(records) -ne 0 ]]; then
			echo "#   round $round: del exit $status: $(cat "$work_dir/err")"
			return 1
		fi
		forget_device 6
	done
}
check "ublk del succeeds in 5 add/del rounds (racing the daemon's own removal)" del_rounds

finish
