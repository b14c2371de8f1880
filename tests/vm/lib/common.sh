# shellcheck shell=bash
# Shared by the VM tests (source it): checks, binaries, a private tgtd and its LUNs, ublk
# devices and foreground daemons, and the cleanup of all of them on exit.
# Runs inside the VM as root; scratch in $work_dir under /dev/shm. Binaries come from the
# host build (`cargo build --bins`; scripts/test does it): target/debug, else target/release;
# UBLK_BIN / UBLK_CXGB3I_BIN override them. They are copied to $work_dir/bin as `ublk` and
# `ublk.cxgb3i` (how ublksrv's front end finds its targets), which is first on PATH; $ublk and
# $ublk_cxgb3i name them.

readonly TGTD_START_SECONDS=20
readonly DEVICE_APPEAR_SECONDS=10
readonly DAEMON_START_SECONDS=30

# shellcheck source-path=SCRIPTDIR source=check.sh
source "$(dirname "${BASH_SOURCE[0]}")/check.sh"

# require DESCRIPTION COMMAND...: a check the rest of the test cannot do without; the test
# ends here if it fails.
require() {
	check "$@" && return 0
	finish
	exit 1
}

# finish: the verdict. On failure also the test's own context (a `failure_context` function,
# if it defines one) and tgtd's log. Its status is the test's: end the test with it.
finish() {
	if ((failures > 0)); then
		if declare -F failure_context >/dev/null; then
			failure_context
		fi
		if [[ -s $work_dir/tgtd.log ]]; then
			echo "# tgtd log:"
			tail -40 "$work_dir/tgtd.log" | sed 's/^/#   /'
		fi
		echo "# $failures check(s) failed"
		return 1
	fi
	echo "# all checks passed"
}

root=${UBLK_REPO_ROOT:-$PWD}
work_dir=$(mktemp -d /dev/shm/ublk-test.XXXXXX)
mkdir -p "$work_dir/bin" "$work_dir/mnt"
target_bin=${UBLK_CXGB3I_BIN:-}
front_bin=${UBLK_BIN:-}
for build in debug release; do
	if [[ -x $root/target/$build/ublk-cxgb3i && -x $root/target/$build/ublk ]]; then
		target_bin=${target_bin:-$root/target/$build/ublk-cxgb3i}
		front_bin=${front_bin:-$root/target/$build/ublk}
		break
	fi
done
[[ -x $target_bin && -x $front_bin ]] || {
	echo "not ok - no ublk / ublk-cxgb3i build under $root/target"
	exit 1
}
# Cargo cannot name a binary with a dot; ublksrv's front end looks for ublk.<type>.
cp "$target_bin" "$work_dir/bin/ublk.cxgb3i"
cp "$front_bin" "$work_dir/bin/ublk"
readonly ublk=$work_dir/bin/ublk ublk_cxgb3i=$work_dir/bin/ublk.cxgb3i
export PATH=$work_dir/bin:$PATH
echo "# kernel $(uname -r); ublk.cxgb3i from $target_bin"

tgtd_pid=""
daemon_pid=""
# The device a test works on: its id and block device.
dev_id=""
dev=""
# Ids of devices created through `ublk add`, deleted on exit unless forgotten.
devices=()

track_device() {
	devices+=("$1")
}

forget_device() {
	local id kept=()
	for id in "${devices[@]}"; do
		[[ $id == "$1" ]] || kept+=("$id")
	done
	devices=("${kept[@]}")
}

cleanup() {
	local mnt id
	[[ -n ${fio_pid:-} ]] && kill "$fio_pid" 2>/dev/null
	for mnt in "$work_dir"/mnt*; do
		mountpoint -q "$mnt" && umount "$mnt"
	done
	# A frozen target would keep a daemon from logging out.
	[[ -n $tgtd_pid ]] && kill -CONT "$tgtd_pid" 2>/dev/null
	stop_daemon
	for id in "${devices[@]}"; do
		timeout 20 "$ublk" del -n "$id" >/dev/null 2>&1
	done
	stop_tgtd
	rm -rf "$work_dir"
}
trap cleanup EXIT

modprobe ublk_drv || {
	echo "not ok - modprobe ublk_drv"
	exit 1
}
ip link set lo up

# start_tgtd PORT: a private tgtd on 127.0.0.1:PORT (TGT_IPC_SOCKET in $work_dir, its log
# appended to $work_dir/tgtd.log); fails unless it answers tgtadm within 20 s.
start_tgtd() {
	export TGT_IPC_SOCKET=$work_dir/tgtd.socket
	tgtd -f --iscsi portal="127.0.0.1:$1" >>"$work_dir/tgtd.log" 2>&1 &
	tgtd_pid=$!
	local deadline=$((SECONDS + TGTD_START_SECONDS))
	until tgtadm --lld iscsi --mode target --op show >/dev/null 2>&1; do
		((SECONDS < deadline)) && kill -0 "$tgtd_pid" 2>/dev/null || return 1
		sleep 0.2
	done
}

# stop_tgtd: SIGKILL (tgtd ignores SIGTERM while it has targets); how a crash is simulated.
stop_tgtd() {
	[[ -n $tgtd_pid ]] || return 0
	kill -KILL "$tgtd_pid" 2>/dev/null
	wait "$tgtd_pid" 2>/dev/null
	tgtd_pid=""
}

# add_file_target TID IQN MIB [BLOCK_SIZE [PARAMS]]: target TID with LUN 1 backed by
# $work_dir/lun-TID.img (created at MIB MiB, its data kept when called again), open to all
# initiators; PARAMS go to the LUN's --params (e.g. thin_provisioning=1).
add_file_target() {
	local tid=$1 iqn=$2 mib=$3 bs=${4:-} params=${5:-}
	truncate -s "${mib}M" "$work_dir/lun-$tid.img" &&
		tgtadm --lld iscsi --mode target --op new --tid "$tid" --targetname "$iqn" &&
		tgtadm --lld iscsi --mode logicalunit --op new --tid "$tid" --lun 1 --bstype rdwr \
			--backing-store "$work_dir/lun-$tid.img" ${bs:+--blocksize "$bs"} &&
		{
			[[ -z $params ]] ||
				tgtadm --lld iscsi --mode logicalunit --op update --tid "$tid" --lun 1 \
					--params "$params"
		} &&
		tgtadm --lld iscsi --mode target --op bind --tid "$tid" --initiator-address ALL
}

# add_chap_account TID USER SECRET: initiators of target TID must log in with CHAP.
add_chap_account() {
	tgtadm --lld iscsi --mode account --op new --user "$2" --password "$3" &&
		tgtadm --lld iscsi --mode account --op bind --tid "$1" --user "$2"
}

# wait_for_block_device PATH: up to 10 s for the block device node.
wait_for_block_device() {
	local deadline=$((SECONDS + DEVICE_APPEAR_SECONDS))
	until [[ -b $1 ]]; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# add_device ARGS...: `ublk add -t cxgb3i ARGS`; sets $dev_id and $dev and tracks the device.
add_device() {
	local out
	out=$("$ublk" add -t cxgb3i "$@") || {
		echo "# ublk add $* failed"
		return 1
	}
	dev_id=$(sed -nE 's/^dev id ([0-9]+).*/\1/p' <<<"$out" | head -1)
	[[ -n $dev_id ]] || {
		echo "# no device id in: $out"
		return 1
	}
	track_device "$dev_id"
	dev=/dev/ublkb$dev_id
	wait_for_block_device "$dev" || {
		echo "# $dev did not appear"
		return 1
	}
}

# del_device: `ublk del` the current device and check nothing is left.
del_device() {
	"$ublk" del -n "$dev_id" && forget_device "$dev_id" &&
		[[ ! -e $dev && ! -e /dev/ublkc$dev_id && ! -e /run/ublksrvd/$dev_id.pid ]]
}

# daemon_pid_of ID: the pid in device ID's ublksrv record.
daemon_pid_of() {
	head -c 32 "/run/ublksrvd/$1.pid" 2>/dev/null | tr -d '\0' | head -1
}

# start_daemon LOG ARGS...: `ublk.cxgb3i add -t cxgb3i --foreground ARGS` in the background
# of this script with RUST_LOG=info, logging to LOG; waits for its device and sets
# $daemon_pid and $dev. On failure shows the end of LOG.
start_daemon() {
	local daemon_log=$1
	shift
	RUST_LOG=info "$ublk_cxgb3i" add -t cxgb3i --foreground "$@" >"$daemon_log" 2>&1 &
	daemon_pid=$!
	local deadline=$((SECONDS + DAEMON_START_SECONDS)) id
	until id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' "$daemon_log") && [[ -n $id ]]; do
		if ((SECONDS >= deadline)) || ! kill -0 "$daemon_pid" 2>/dev/null; then
			tail -5 "$daemon_log" | sed 's/^/#   /'
			return 1
		fi
		sleep 0.1
	done
	dev=/dev/ublkb$id
	wait_for_block_device "$dev" || {
		echo "#   $dev did not appear; ublk nodes: $(echo /dev/ublk*)"
		return 1
	}
}

# stop_daemon: SIGTERM the foreground daemon (it removes its device) and wait for it.
stop_daemon() {
	[[ -n $daemon_pid ]] || return 0
	kill -TERM "$daemon_pid" 2>/dev/null
	wait "$daemon_pid" 2>/dev/null
	daemon_pid=""
}

# pattern_round_trip MIB: MIB MiB of random data written to $dev and read back with 1 MiB
# O_DIRECT I/O, compared byte for byte.
pattern_round_trip() {
	local mib=$1
	head -c "${mib}M" /dev/urandom >"$work_dir/pattern" &&
		dd if="$work_dir/pattern" of="$dev" bs=1M oflag=direct status=none &&
		dd if="$dev" of="$work_dir/back" bs=1M count="$mib" iflag=direct status=none &&
		cmp "$work_dir/pattern" "$work_dir/back"
}

# A verifying writer for fault tests: 4 KiB random writes whose blocks are read back and
# crc32c-checked as it goes (verify_backlog); an I/O error or a mismatch stops it.
fio_pid=""
fio_log=$work_dir/fio.log

# start_verifying_fio FIO_ARGS...: the writer in the background (FIO_ARGS name the file or
# directory, depth and size); true once it runs.
start_verifying_fio() {
	fio --name=verify "$@" --direct=1 --ioengine=libaio --rw=randwrite --bs=4k \
		--time_based --runtime=3600 --verify=crc32c --verify_backlog=64 --verify_fatal=1 \
		--output="$fio_log" &
	fio_pid=$!
	sleep 2
	kill -0 "$fio_pid"
}

# fio_alive: the writer has hit no error so far.
fio_alive() {
	kill -0 "$fio_pid" 2>/dev/null || {
		echo "#   fio stopped early:"
		tail -20 "$fio_log" | sed 's/^/#     /'
		return 1
	}
}

# stop_verifying_fio: stops the writer; true if it saw no I/O error and no verify failure.
# fio's exit status after SIGINT is not its verdict; its summary's err= fields are.
stop_verifying_fio() {
	fio_alive || return 1
	kill -INT "$fio_pid"
	wait "$fio_pid"
	fio_pid=""
	grep -E "err= *[0-9]+" "$fio_log" | sed 's/^/#   /'
	grep -qE "err= *0" "$fio_log" &&
		! grep -qE "err= *[1-9]|verify: bad|crc32c: verify failed" "$fio_log"
}
