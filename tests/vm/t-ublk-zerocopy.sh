#!/usr/bin/env bash
# VM test (runs inside the VM, as root): `ublk.cxgb3i add -z` on a thin-provisioned LUN with
# 4096-byte blocks. The request pages are registered in the queue ring by the kernel and
# payload moves between them and the socket with READ_FIXED / WRITE_FIXED: data reads back,
# fio's crc32c verification passes, discard and write-zeroes reach the LUN (UNMAP, WRITE
# SAME), and the daemon's counters show no payload byte copied in userspace. With
# DataDigest negotiated, -z falls back to copy mode and says so.
#
# The daemon runs with --foreground (its log is the evidence); binaries as in
# tests/vm/t-ublk-basic.sh.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail

readonly PORT=3266
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:zerocopy
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

work_dir=$(mktemp -d /dev/shm/ublk-zc.XXXXXX)
mkdir -p "$work_dir/bin"
cp "$target_bin" "$work_dir/bin/ublk.cxgb3i"
target=$work_dir/bin/ublk.cxgb3i
tgtd_pid=""
daemon_pid=""

stop_daemon() {
	[[ -n $daemon_pid ]] || return 0
	kill -TERM "$daemon_pid" 2>/dev/null
	wait "$daemon_pid" 2>/dev/null
	daemon_pid=""
}
cleanup() {
	stop_daemon
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
tgtd -f --iscsi portal="127.0.0.1:$PORT" >"$work_dir/tgtd.log" 2>&1 &
tgtd_pid=$!
tgtd_ready() {
	local deadline=$((SECONDS + TGTD_START_SECONDS))
	until tgtadm --lld iscsi --mode target --op show >/dev/null 2>&1; do
		((SECONDS < deadline)) && kill -0 "$tgtd_pid" 2>/dev/null || return 1
		sleep 0.2
	done
	truncate -s "${LUN_MIB}M" "$work_dir/lun.img" &&
		tgtadm --lld iscsi --mode target --op new --tid 1 --targetname "$IQN" &&
		tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 \
			--backing-store "$work_dir/lun.img" --blocksize 4096 &&
		tgtadm --lld iscsi --mode logicalunit --op update --tid 1 --lun 1 \
			--params thin_provisioning=1 &&
		tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL
}
check "tgtd serves a thin 4096-byte-block LUN" tgtd_ready

url="iscsi://127.0.0.1:$PORT/$IQN/1"
log=$work_dir/daemon.log
# start_daemon LOG ARGS...: runs the daemon in the foreground (in the background of this
# script) and waits for its device.
dev=""
start_daemon() {
	local daemon_log=$1
	shift
	RUST_LOG=info "$target" add -t cxgb3i --foreground "$@" >"$daemon_log" 2>&1 &
	daemon_pid=$!
	local deadline=$((SECONDS + 30)) id
	until id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' "$daemon_log") && [[ -n $id ]]; do
		if ((SECONDS >= deadline)) || ! kill -0 "$daemon_pid" 2>/dev/null; then
			tail -5 "$daemon_log"
			return 1
		fi
		sleep 0.1
	done
	dev=/dev/ublkb$id
	deadline=$((SECONDS + 10))
	until [[ -b $dev ]]; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}
check "ublk.cxgb3i add -z --foreground brings the device up" start_daemon "$log" -z -q 2 "$url"

zero_copy_on() {
	grep -q "device is live.*zero_copy=true" "$log" &&
		[[ $(cat "/sys/block/${dev#/dev/}/queue/logical_block_size") -eq 4096 ]]
}
check "the device is live in zero-copy mode with 4096-byte blocks" zero_copy_on

pattern_round_trip() {
	head -c 32M /dev/urandom >"$work_dir/pattern" &&
		dd if="$work_dir/pattern" of="$dev" bs=1M oflag=direct status=none &&
		dd if="$dev" of="$work_dir/back" bs=1M count=32 iflag=direct status=none &&
		cmp "$work_dir/pattern" "$work_dir/back"
}
check "32 MiB of random data reads back" pattern_round_trip

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

counters() {
	kill -USR1 "$daemon_pid" || return 1
	local deadline=$((SECONDS + 5))
	until [[ $(grep -c "when=\"requested\".*connection counters\|connection counters.*when=\"requested\"" "$log") -ge 2 ]]; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
	grep "connection counters" "$log" | sed 's/^/#   /' | cut -c 1-400
	local lines
	lines=$(grep "connection counters" "$log")
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

if ((failures > 0)); then
	echo "# daemon log:"
	sed 's/^/#   /' "$log" | tail -30
	echo "# $failures check(s) failed"
	exit 1
fi
echo "# all checks passed"
