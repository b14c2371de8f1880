#!/usr/bin/env bash
# VM test (runs inside the VM, as root): `ublk add -t cxgb3i -r 1` keeps the device when its
# daemon dies (SIGKILL): the device goes QUIESCED, and `ublk recover -n N` starts a new daemon
# from the URL and initiator name in the ublksrv record, which logs in again and serves the
# same /dev/ublkbN with the data intact.
#
# Binaries, tgtd and cleanup: lib/common.sh.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

readonly PORT=3268
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:recover
readonly LUN_MIB=64

require "tgtd answers on 127.0.0.1:$PORT" start_tgtd $PORT
check "tgtd serves a file LUN" add_file_target 1 "$IQN" $LUN_MIB

add_recoverable() {
	local output
	output=$("$ublk" add -t cxgb3i -r 1 -q 2 "iscsi://127.0.0.1:$PORT/$IQN/1" \
		--initiator-name iqn.2026-11.org.ublk-cxgb3i:recover-test 2>&1) || {
		echo "$output"
		return 1
	}
	dev_id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' <<<"$output" | head -1)
	[[ -n $dev_id ]] && track_device "$dev_id"
}
check "ublk add -r 1 creates a recoverable device" add_recoverable
dev=/dev/ublkb${dev_id:-none}

state_is() {
	local wanted=$1 deadline=$((SECONDS + 15))
	until "$ublk" list -n "$dev_id" 2>/dev/null | grep -q "state $wanted"; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

write_pattern() {
	head -c 8M /dev/urandom >"$work_dir/pattern" &&
		dd if="$work_dir/pattern" of="$dev" bs=1M oflag=direct status=none
}
check "data is written" write_pattern

old_pid=""
daemon_killed() {
	old_pid=$(daemon_pid_of "$dev_id")
	[[ -n $old_pid ]] && kill -KILL "$old_pid" && state_is QUIESCED &&
		[[ -b $dev && -e /run/ublksrvd/$dev_id.pid ]]
}
check "SIGKILL to the daemon leaves the device QUIESCED with its record" daemon_killed

recovered() {
	local output new_pid
	output=$(timeout 60 "$ublk" recover -n "$dev_id" 2>&1) || {
		printf '#   %s\n' "${output//$'\n'/$'\n'#   }"
		return 1
	}
	new_pid=$(daemon_pid_of "$dev_id")
	grep -q "state LIVE" <<<"$output" &&
		grep -q "recover-test" <<<"$output" &&
		[[ -n $new_pid && $new_pid != "$old_pid" ]] && kill -0 "$new_pid"
}
check "ublk recover -n N brings the device back LIVE under a new daemon" recovered

data_intact() {
	dd if="$dev" of="$work_dir/back" bs=1M count=8 iflag=direct status=none &&
		cmp "$work_dir/pattern" "$work_dir/back" &&
		dd if="$work_dir/pattern" of="$dev" bs=1M seek=16 oflag=direct status=none &&
		dd if="$dev" of="$work_dir/back" bs=1M skip=16 count=8 iflag=direct status=none &&
		cmp "$work_dir/pattern" "$work_dir/back"
}
check "the recovered device reads the old data and takes new writes" data_intact

deleted() {
	"$ublk" del -n "$dev_id" && [[ ! -e $dev && ! -e /run/ublksrvd/$dev_id.pid ]] &&
		forget_device "$dev_id"
}
check "ublk del removes the recovered device" deleted

# Under a mounted ext4 with a verifying writer: the daemon killed -9 and recovered (-r 1 -i 1:
# the requests in flight at the kill are reissued) RECOVER_ROUNDS times (default 3).
readonly ROUNDS=${RECOVER_ROUNDS:-3}
mnt=$work_dir/mnt

add_reissuing() {
	local output
	output=$("$ublk" add -t cxgb3i -r 1 -i 1 -q 2 "iscsi://127.0.0.1:$PORT/$IQN/1" 2>&1) || {
		echo "$output"
		return 1
	}
	dev_id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' <<<"$output" | head -1)
	[[ -n $dev_id ]] && track_device "$dev_id" && dev=/dev/ublkb$dev_id &&
		wait_for_block_device "$dev" &&
		mkfs.ext4 -q -F "$dev" && mount "$dev" "$mnt"
}
check "ublk add -r 1 -i 1, ext4 mounted on it" add_reissuing

start_fio() {
	start_verifying_fio --directory="$mnt" --iodepth=8 --size=16M
}
check "fio writes and verifies a file on the mounted ext4" start_fio

kills_and_recovers() {
	local round start output
	for ((round = 1; round <= ROUNDS; round++)); do
		old_pid=$(daemon_pid_of "$dev_id")
		kill -KILL "$old_pid" && state_is QUIESCED || return 1
		start=$SECONDS
		output=$(timeout 60 "$ublk" recover -n "$dev_id" 2>&1) || {
			printf '#   %s\n' "${output//$'\n'/$'\n'#   }"
			return 1
		}
		state_is LIVE || return 1
		echo "# figures: kill -9 $round/$ROUNDS: recovered in $((SECONDS - start)) s"
		sleep 2
		fio_alive || return 1
	done
}
check "daemon killed -9 and recovered $ROUNDS times under fio: fio keeps going" kills_and_recovers

fio_clean_and_fsck() {
	stop_verifying_fio && umount "$mnt" && fsck.ext4 -n -f "$dev" >/dev/null
}
check "no I/O error, no verify failure, fsck clean" fio_clean_and_fsck
check "ublk del removes the device" deleted

# A daemon that dies while its target is down: `ublk recover` does not wait for the target.
# The new daemon serves at once, holds I/O, fails it past the replacement timeout (8 s here)
# instead of leaving it hanging, and serves the same data again once the target is back.
readonly SHORT_REPLACEMENT=8

add_short_replacement() {
	local output
	output=$("$ublk" add -t cxgb3i -r 1 -i 1 --replacement-timeout $SHORT_REPLACEMENT \
		"iscsi://127.0.0.1:$PORT/$IQN/1" 2>&1) || {
		echo "$output"
		return 1
	}
	dev_id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' <<<"$output" | head -1)
	[[ -n $dev_id ]] && track_device "$dev_id" && dev=/dev/ublkb$dev_id &&
		wait_for_block_device "$dev" && write_pattern
}
check "ublk add -r 1 --replacement-timeout $SHORT_REPLACEMENT, data written" add_short_replacement

killed_with_the_target() {
	kill -KILL "$(daemon_pid_of "$dev_id")" && state_is QUIESCED && stop_tgtd
}
check "the daemon and the target are both killed" killed_with_the_target

recovered_without_target() {
	local output start=$SECONDS
	output=$(timeout 60 "$ublk" recover -n "$dev_id" 2>&1) || {
		printf '#   %s\n' "${output//$'\n'/$'\n'#   }"
		return 1
	}
	state_is LIVE && echo "# figures: recovered without a target in $((SECONDS - start)) s"
}
check "ublk recover succeeds while the target is down" recovered_without_target

io_fails_not_hangs() {
	local start=$SECONDS
	if timeout 60 dd if="$dev" of=/dev/null bs=4k count=1 skip=4096 iflag=direct status=none; then
		echo "#   the read succeeded with no target"
		return 1
	fi
	echo "# figures: held read failed after $((SECONDS - start)) s"
	((SECONDS - start < 50))
}
check "a read with no target fails after the replacement timeout, it does not hang" io_fails_not_hangs

serves_again() {
	start_tgtd $PORT && add_file_target 1 "$IQN" $LUN_MIB || return 1
	local deadline=$((SECONDS + 60))
	until dd if="$dev" of="$work_dir/back" bs=1M count=8 iflag=direct status=none 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 1
	done
	cmp "$work_dir/pattern" "$work_dir/back"
}
check "once the target is back the device serves the same data" serves_again
check "ublk del removes it" deleted

failure_context() {
	dmesg | tail -20 | sed 's/^/#   dmesg: /'
}
finish
