#!/usr/bin/env bash
# VM test (runs inside the VM, as root): `ublk.cxgb3i add -z` on a thin-provisioned LUN with
# 4096-byte blocks. The request pages are registered in the queue ring by the kernel and
# payload moves between them and the socket with READ_FIXED / WRITE_FIXED: data reads back,
# fio's crc32c verification passes, discard and write-zeroes reach the LUN (UNMAP, WRITE
# SAME), and the daemon's counters show no payload byte copied in userspace. Copy mode
# registers its per-tag buffers as fixed buffers and places reads with READ_FIXED too. With
# DataDigest negotiated, -z falls back to copy mode and says so.
#
# The daemon runs with --foreground (its log is the evidence); binaries, tgtd and cleanup:
# lib/common.sh.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

readonly PORT=3266
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:zerocopy
readonly LUN_MIB=128

require "tgtd answers on 127.0.0.1:$PORT" start_tgtd $PORT
check "tgtd serves a thin 4096-byte-block LUN" \
	add_file_target 1 "$IQN" $LUN_MIB 4096 thin_provisioning=1

url="iscsi://127.0.0.1:$PORT/$IQN/1"
log=$work_dir/daemon.log
check "ublk.cxgb3i add -z --foreground brings the device up" start_daemon "$log" -z -q 2 "$url"

zero_copy_on() {
	grep -q "device is live.*zero_copy=true" "$log" &&
		[[ $(cat "/sys/block/${dev#/dev/}/queue/logical_block_size") -eq 4096 ]]
}
check "the device is live in zero-copy mode with 4096-byte blocks" zero_copy_on

check "32 MiB of random data reads back" pattern_round_trip 32

fio_verify() {
	fio --name=verify --filename="$dev" --direct=1 --ioengine=io_uring --rw=randwrite \
		--bs=4k --bsrange=4k-256k --size=64M --offset=32M --iodepth=32 --numjobs=1 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 >"$work_dir/fio.log" 2>&1 &&
		grep -q "err= 0" "$work_dir/fio.log"
}
check "fio randwrite 4k-256k QD32 with crc32c verify" fio_verify

all_zero() {
	[[ $(dd if="$dev" bs=1M skip="$1" count=1 iflag=direct status=none | tr -d '\0' | wc -c) -eq 0 ]]
}
discard_reaches_lun() {
	blkdiscard -o $((4 << 20)) -l $((1 << 20)) "$dev" && all_zero 4
}
check "blkdiscard (UNMAP) deallocates: the range reads as zeros" discard_reaches_lun
write_zeroes_reaches_lun() {
	blkdiscard -z -o $((8 << 20)) -l $((1 << 20)) "$dev" && all_zero 8 &&
		cmp -n $((1 << 20)) -i $((9 << 20)) "$work_dir/pattern" "$dev"
}
check "blkdiscard -z (WRITE SAME) zeroes the range and nothing after it" write_zeroes_reaches_lun

# connection_counters LOG: asks the foreground daemon for its counters and prints its two
# queues' connection counter lines (also as # comments on stderr for the record).
connection_counters() {
	local log=$1
	kill -USR1 "$daemon_pid" || return 1
	local deadline=$((SECONDS + 5))
	until [[ $(grep -c "connection counters.*when=\"requested\"" "$log") -ge 2 ]]; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
	grep "connection counters" "$log" | sed 's/^/#   /' | cut -c 1-400 >&2
	grep "connection counters" "$log"
}

counters() {
	local lines
	lines=$(connection_counters "$log") || return 1
	! grep -q "payload_copied_bytes=[1-9]" <<<"$lines" &&
		! grep -q "reads_not_ddp=[1-9]" <<<"$lines" &&
		grep -q "read_fixed_calls=[1-9]" <<<"$lines" &&
		grep -q "write_fixed_calls=[1-9]" <<<"$lines"
}
check "counters: reads placed with READ_FIXED, writes sent with WRITE_FIXED, no payload copied" counters

sigterm_removes() {
	local id=${dev#/dev/ublkb}
	stop_daemon
	[[ ! -e $dev && ! -e /dev/ublkc$id && ! -e /run/ublksrvd/$id.pid ]] &&
		grep -q "logged out" "$log"
}
check "SIGTERM drains, logs out and removes the device and its record" sigterm_removes

copy_buffers_are_fixed() {
	start_daemon "$work_dir/copy.log" -q 2 "$url" || return 1
	local lines ok=1
	if pattern_round_trip 8 && lines=$(connection_counters "$work_dir/copy.log"); then
		grep -q "device is live.*zero_copy=false" "$work_dir/copy.log" &&
			[[ $(grep -c "fixed_copy_bufs=true" <<<"$lines") -eq 2 ]] &&
			! grep -q "payload_copied_bytes=[1-9]" <<<"$lines" &&
			grep -q "read_fixed_calls=[1-9]" <<<"$lines" &&
			! grep -q "write_fixed_calls=[1-9]" <<<"$lines" && ok=0
	fi
	stop_daemon
	return $ok
}
check "copy mode: reads placed in the fixed per-tag buffers with READ_FIXED, writes sent without WRITE_FIXED, data reads back" copy_buffers_are_fixed

digest_falls_back() {
	tgtadm --lld iscsi --mode target --op update --tid 1 -n DataDigest -v CRC32C || return 1
	start_daemon "$work_dir/digest.log" -z "$url?data_digest=crc32c" || {
		sed 's/^/#   /' "$work_dir/digest.log"
		return 1
	}
	local ok=0
	if ! {
		grep -q "DataDigest was negotiated: zero copy is off" "$work_dir/digest.log" &&
			grep -q "device is live.*zero_copy=false" "$work_dir/digest.log" &&
			dd if="$work_dir/pattern" of="$dev" bs=1M count=8 oflag=direct status=none &&
			dd if="$dev" of="$work_dir/back" bs=1M count=8 iflag=direct status=none &&
			cmp -n $((8 << 20)) "$work_dir/pattern" "$work_dir/back"
	}; then
		ok=1
		sed 's/^/#   /' "$work_dir/digest.log"
	fi
	stop_daemon
	return $ok
}
check "with DataDigest, -z falls back to copy mode, says so, and reads correctly" digest_falls_back

failure_context() {
	echo "# daemon log:"
	sed 's/^/#   /' "$log" | tail -30
}
finish
