#!/usr/bin/env bash
# VM test (runs inside the VM, as root): `ublk add -t cxgb3i` through the ublk front end
# creates /dev/ublkbN backed by a tgtd LUN; data written reads back, ext4 works on it,
# `ublk list` shows the URL (password redacted), `ss` shows one session per queue, and
# `ublk del` leaves nothing behind.
#
# Binaries come from the host build (build first, on the host):
#   cargo build --bin ublk && cargo build -p ublk-target --example ublk-cxgb3i
# ublk.cxgb3i is target/debug/ublk-cxgb3i once src/main.rs carries the subcommands, else the
# stand-in target/debug/examples/ublk-cxgb3i (release builds are used when there is no debug
# one); UBLK_BIN / UBLK_CXGB3I_BIN override. Both are copied to /dev/shm as `ublk`
# and `ublk.cxgb3i`, which is how ublksrv's front end finds its targets.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail

readonly PORT=3263
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:basic
readonly LUN_MIB=256
readonly QUEUES=2
readonly TGTD_START_SECONDS=20
readonly CHAP_USER=basicuser
readonly CHAP_SECRET=basicsecret1234

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

work_dir=$(mktemp -d /dev/shm/ublk-basic.XXXXXX)
mkdir -p "$work_dir/bin" "$work_dir/mnt"
cp "$target_bin" "$work_dir/bin/ublk.cxgb3i"
cp "$front_bin" "$work_dir/bin/ublk"
ublk=$work_dir/bin/ublk
tgtd_pid=""
dev_id=""

cleanup() {
	mountpoint -q "$work_dir/mnt" && umount "$work_dir/mnt"
	[[ -n $dev_id ]] && "$ublk" del -n "$dev_id" >/dev/null 2>&1
	if [[ -n $tgtd_pid ]]; then
		kill -KILL "$tgtd_pid" 2>/dev/null
		wait "$tgtd_pid" 2>/dev/null
	fi
	rm -rf "$work_dir"
}
trap cleanup EXIT

echo "# kernel $(uname -r); ublk.cxgb3i from $target_bin"
modprobe ublk_drv || {
	echo "not ok - modprobe ublk_drv"
	exit 1
}
ip link set lo up

export TGT_IPC_SOCKET=$work_dir/tgtd.socket
tgtd -f --iscsi portal="127.0.0.1:$PORT" >"$work_dir/tgtd.log" 2>&1 &
tgtd_pid=$!
tgtd_answers() {
	local deadline=$((SECONDS + TGTD_START_SECONDS))
	until tgtadm --lld iscsi --mode target --op show >/dev/null 2>&1; do
		((SECONDS < deadline)) && kill -0 "$tgtd_pid" 2>/dev/null || return 1
		sleep 0.2
	done
}
check "tgtd answers on $TGT_IPC_SOCKET" tgtd_answers

create_target() {
	truncate -s "${LUN_MIB}M" "$work_dir/lun.img" &&
		tgtadm --lld iscsi --mode target --op new --tid 1 --targetname "$IQN" &&
		tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 \
			--backing-store "$work_dir/lun.img" &&
		tgtadm --lld iscsi --mode account --op new --user "$CHAP_USER" --password "$CHAP_SECRET" &&
		tgtadm --lld iscsi --mode account --op bind --tid 1 --user "$CHAP_USER" &&
		tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL
}
check "tgtd serves a ${LUN_MIB} MiB file LUN with CHAP" create_target

url="iscsi://$CHAP_USER%$CHAP_SECRET@127.0.0.1:$PORT/$IQN/1"
add_device() {
	local output
	output=$("$ublk" add -t cxgb3i -q "$QUEUES" -d 64 "$url" 2>"$work_dir/add.err") || {
		cat "$work_dir/add.err"
		return 1
	}
	echo "$output" >"$work_dir/add.out"
	dev_id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' <<<"$output" | head -1)
	[[ -n $dev_id ]] && grep -q "state LIVE" <<<"$output"
}
check "ublk add -t cxgb3i returns with a LIVE device" add_device
dev=/dev/ublkb${dev_id:-none}

device_appears() {
	local deadline=$((SECONDS + 10))
	until [[ -b $dev ]]; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}
check "$dev appears" device_appears
check "the device has the LUN's size" test "$(blockdev --getsize64 "$dev")" -eq $((LUN_MIB << 20))
check "the device has 512-byte sectors" test "$(blockdev --getss "$dev")" -eq 512
# The default 1 MiB request buffer; tgtd's 256 KiB MaxBurstLength does not cap a command.
max_io_is_one_mib() {
	local queue=/sys/block/ublkb$dev_id/queue
	[[ $(cat "$queue/max_hw_sectors_kb") == 1024 && $(cat "$queue/max_sectors_kb") == 1024 ]] || {
		echo "#   max_hw_sectors_kb $(cat "$queue/max_hw_sectors_kb"), max_sectors_kb $(cat "$queue/max_sectors_kb")"
		return 1
	}
}
check "a 1 MiB I/O is one request (max_sectors_kb 1024)" max_io_is_one_mib

list_shows_url() {
	local listing
	listing=$("$ublk" list -n "$dev_id") || return 1
	printf '#   %s\n' "${listing//$'\n'/$'\n'#   }"
	grep -qF "iscsi://$CHAP_USER%<redacted>@127.0.0.1:$PORT/$IQN/1" <<<"$listing" &&
		! grep -qF "$CHAP_SECRET" <<<"$listing" &&
		grep -q "queue $((QUEUES - 1)): tid [1-9]" <<<"$listing"
}
check "ublk list shows the URL with its secret redacted" list_shows_url

record_is_private() {
	local record=/run/ublksrvd/$dev_id.pid
	[[ $(stat -c %a "$record") == 600 ]] && grep -qaF "$CHAP_SECRET" "$record"
}
check "the ublksrv record keeps the URL for recovery, mode 0600" record_is_private

sessions() {
	ss -Htn state established "( dport = :$PORT )" | wc -l
}
check "ss shows one iSCSI connection per queue" test "$(sessions)" -eq "$QUEUES"

pattern_round_trip() {
	head -c 16M /dev/urandom >"$work_dir/pattern" &&
		dd if="$work_dir/pattern" of="$dev" bs=1M oflag=direct status=none &&
		dd if="$dev" of="$work_dir/back" bs=1M count=16 iflag=direct status=none &&
		cmp "$work_dir/pattern" "$work_dir/back"
}
check "16 MiB of random data reads back (O_DIRECT, 1 MiB I/O)" pattern_round_trip

small_unaligned_round_trip() {
	# Buffered 4 KiB writes at an odd offset, several queues' worth of requests.
	head -c 1M /dev/urandom >"$work_dir/small" &&
		dd if="$work_dir/small" of="$dev" bs=4k seek=12345 conv=fsync status=none &&
		echo 3 >/proc/sys/vm/drop_caches &&
		dd if="$dev" of="$work_dir/small.back" bs=4k skip=12345 count=256 status=none &&
		cmp "$work_dir/small" "$work_dir/small.back"
}
check "buffered 4 KiB writes with fsync read back" small_unaligned_round_trip

filesystem_round_trip() {
	mkfs.ext4 -q -F "$dev" &&
		mount "$dev" "$work_dir/mnt" &&
		cp "$work_dir/pattern" "$work_dir/mnt/pattern" &&
		sync &&
		umount "$work_dir/mnt" &&
		fsck.ext4 -n "$dev" >"$work_dir/fsck.log" 2>&1 &&
		mount "$dev" "$work_dir/mnt" &&
		cmp "$work_dir/pattern" "$work_dir/mnt/pattern" &&
		umount "$work_dir/mnt"
}
check "mkfs.ext4, mount, write, umount, fsck -n, read back" filesystem_round_trip

daemon_pid=$(head -c 32 "/run/ublksrvd/$dev_id.pid" 2>/dev/null | tr -d '\0' | head -1)
del_leaves_nothing() {
	"$ublk" del -n "$dev_id" || return 1
	local deadline=$((SECONDS + 10))
	while [[ -e $dev || -e /dev/ublkc$dev_id ]] || kill -0 "$daemon_pid" 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
	[[ ! -e /run/ublksrvd/$dev_id.pid ]] && [[ $(sessions) -eq 0 ]] &&
		! "$ublk" list -n "$dev_id" >/dev/null 2>&1
}
check "ublk del removes the device, the daemon, its record and its sessions" del_leaves_nothing
dev_id=""

features_listed() {
	"$ublk" features | grep -q "^ublk_drv features: 0x" &&
		"$ublk" features | grep -q "AUTO_ZC"
}
check "ublk features lists ublk_drv's features" features_listed

# ublksrv's front end runs targets with stdin, stdout and stderr closed and reads dev_id + 1
# (native-endian u64) from the --eventfd pipe: do the same by hand.
external_protocol() {
	local reader value
	mkfifo "$work_dir/verdict.fifo" || return 1
	od -An -tu8 -N8 <"$work_dir/verdict.fifo" >"$work_dir/verdict" &
	reader=$!
	# The target serves in this process; it never forks when given --eventfd.
	(
		exec 0<&- 1>&- 2>&-
		exec "$work_dir/bin/ublk.cxgb3i" add -t cxgb3i -n 3 "$url" --eventfd 3
	) 3>"$work_dir/verdict.fifo" &
	wait "$reader" || return 1
	value=$(tr -d ' \n' <"$work_dir/verdict")
	[[ $value == 4 ]] || {
		echo "#   read '$value' from the pipe"
		return 1
	}
	dev_id=3
	"$ublk" list -n 3 | grep -q "state LIVE" &&
		dd if=/dev/ublkb3 of=/dev/null bs=1M count=4 iflag=direct status=none &&
		"$ublk" del -n 3 && dev_id="" && [[ ! -e /dev/ublkb3 ]]
}
check "ublksrv's protocol: stdio closed, --eventfd gets dev_id + 1" external_protocol

# Without the front end and without --foreground, the target forks its daemon off itself.
target_alone() {
	local output
	output=$("$work_dir/bin/ublk.cxgb3i" add -t cxgb3i -n 4 "$url") || return 1
	[[ $output == "dev id 4: /dev/ublkb4" ]] && dev_id=4 &&
		"$work_dir/bin/ublk.cxgb3i" list -n 4 | grep -q "state LIVE" &&
		"$work_dir/bin/ublk.cxgb3i" del -n 4 && dev_id="" && [[ ! -e /dev/ublkb4 ]]
}
check "ublk.cxgb3i add returns once its daemon has the device live; its del removes it" target_alone

if ((failures > 0)); then
	echo "# tgtd log:"
	sed 's/^/#   /' "$work_dir/tgtd.log"
	echo "# $failures check(s) failed"
	exit 1
fi
echo "# all checks passed"
