#!/usr/bin/env bash
# VM test (runs inside the VM, as root): `ublk add -t cxgb3i -r 1` keeps the device when its
# daemon dies (SIGKILL): the device goes QUIESCED, and `ublk recover -n N` starts a new daemon
# from the URL and initiator name in the ublksrv record, which logs in again and serves the
# same /dev/ublkbN with the data intact.
#
# Binaries: as tests/vm/t-ublk-basic.sh.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail

readonly PORT=3268
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:recover
readonly LUN_MIB=64
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
first_executable() {
	local candidate
	for candidate in "$@"; do
		[[ -x $candidate ]] && {
			echo "$candidate"
			return 0
		}
	done
	return 1
}
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
front_bin=${UBLK_BIN:-$(first_executable "$root/target/debug/ublk" "$root/target/release/ublk")} ||
	{
		echo "not ok - no ublk build under $root/target"
		exit 1
	}

work_dir=$(mktemp -d /dev/shm/ublk-recover.XXXXXX)
mkdir -p "$work_dir/bin"
cp "$target_bin" "$work_dir/bin/ublk.cxgb3i"
cp "$front_bin" "$work_dir/bin/ublk"
ublk=$work_dir/bin/ublk
tgtd_pid=""
dev_id=""

cleanup() {
	[[ -n $dev_id ]] && timeout 20 "$ublk" del -n "$dev_id" >/dev/null 2>&1
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
			--backing-store "$work_dir/lun.img" &&
		tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL
}
check "tgtd serves a file LUN" tgtd_ready

add_recoverable() {
	local output
	output=$("$ublk" add -t cxgb3i -r 1 -q 2 "iscsi://127.0.0.1:$PORT/$IQN/1" \
		--initiator-name iqn.2026-11.org.ublk-cxgb3i:recover-test 2>&1) || {
		echo "$output"
		return 1
	}
	dev_id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' <<<"$output" | head -1)
	[[ -n $dev_id ]]
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
	old_pid=$(head -c 32 "/run/ublksrvd/$dev_id.pid" | tr -d '\0' | head -1)
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
	new_pid=$(head -c 32 "/run/ublksrvd/$dev_id.pid" | tr -d '\0' | head -1)
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
	"$ublk" del -n "$dev_id" && [[ ! -e $dev && ! -e /run/ublksrvd/$dev_id.pid ]] && dev_id=""
}
check "ublk del removes the recovered device" deleted

if ((failures > 0)); then
	echo "# $failures check(s) failed"
	exit 1
fi
echo "# all checks passed"
