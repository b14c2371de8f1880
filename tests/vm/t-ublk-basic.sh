#!/usr/bin/env bash
# VM test (runs inside the VM, as root): `ublk add -t cxgb3i` through the ublk front end
# creates /dev/ublkbN backed by a tgtd LUN; data written reads back, ext4 works on it,
# `ublk list` shows the URL (without its password), `ss` shows one session per queue, and
# `ublk del` leaves nothing behind.
#
# Binaries, tgtd and cleanup: lib/common.sh.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

readonly PORT=3263
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:basic
readonly LUN_MIB=256
readonly QUEUES=2
readonly CHAP_USER=basicuser
readonly CHAP_SECRET=basicsecret1234

require "tgtd answers on 127.0.0.1:$PORT" start_tgtd $PORT
serve_lun() {
	add_file_target 1 "$IQN" $LUN_MIB && add_chap_account 1 "$CHAP_USER" "$CHAP_SECRET"
}
check "tgtd serves a ${LUN_MIB} MiB file LUN with CHAP" serve_lun

url="iscsi://$CHAP_USER%$CHAP_SECRET@127.0.0.1:$PORT/$IQN/1"
add_live_device() {
	local output
	output=$("$ublk" add -t cxgb3i -q "$QUEUES" -d 64 "$url" 2>"$work_dir/add.err") || {
		cat "$work_dir/add.err"
		return 1
	}
	echo "$output" >"$work_dir/add.out"
	dev_id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' <<<"$output" | head -1)
	[[ -n $dev_id ]] && track_device "$dev_id" && grep -q "state LIVE" <<<"$output"
}
check "ublk add -t cxgb3i returns with a LIVE device" add_live_device
dev=/dev/ublkb${dev_id:-none}
check "$dev appears" wait_for_block_device "$dev"
check "the device has the LUN's size" test "$(blockdev --getsize64 "$dev")" -eq $((LUN_MIB << 20))
check "the device has 512-byte sectors" test "$(blockdev --getss "$dev")" -eq 512
# The default 1 MiB request buffer; tgtd's 256 KiB MaxBurstLength does not cap a command.
max_io_is_one_mib() {
	local queue=/sys/block/ublkb$dev_id/queue
	[[ $(cat "$queue/max_hw_sectors_kb") == 1024 && $(cat "$queue/max_sectors_kb") == 1024 ]] || {
		echo "#   max_hw_sectors_kb $(cat "$queue/max_hw_sectors_kb"), max_sectors_kb $(cat "$queue/max_sectors_kb")"
		return 1
	}
	# dd's buffer is fresh anonymous memory, physically scattered: 256 segments, which the
	# block layer's default limit (128) would split into two requests.
	local stat=/sys/block/ublkb$dev_id/stat before after
	udevadm settle 2>/dev/null # no udev probe reads in between
	read -r before _ <"$stat"
	dd if="$dev" of=/dev/null bs=1M count=1 skip=3 iflag=direct status=none || return 1
	read -r after _ <"$stat"
	((after - before == 1)) || { echo "#   a 1 MiB direct read took $((after - before)) requests"; return 1; }
}
check "a 1 MiB I/O is one request (max_sectors_kb 1024, no segment split)" max_io_is_one_mib

list_shows_url() {
	local listing
	listing=$("$ublk" list -n "$dev_id") || return 1
	printf '#   %s\n' "${listing//$'\n'/$'\n'#   }"
	grep -qF "iscsi://$CHAP_USER@127.0.0.1:$PORT/$IQN/1" <<<"$listing" &&
		! grep -qF "$CHAP_SECRET" <<<"$listing" &&
		grep -q "queue $((QUEUES - 1)): tid [1-9]" <<<"$listing"
}
check "ublk list shows the URL without its secret" list_shows_url

record_is_private() {
	local record=/run/ublksrvd/$dev_id.pid
	[[ $(stat -c %a "$record") == 600 ]] &&
		grep -qaF "iscsi://$CHAP_USER@127.0.0.1:$PORT/$IQN/1" "$record" &&
		! grep -qaF "$CHAP_SECRET" "$record"
}
check "the ublksrv record keeps the URL for recovery without its secret, mode 0600" record_is_private

sessions() {
	ss -Htn state established "( dport = :$PORT )" | wc -l
}
check "ss shows one iSCSI connection per queue" test "$(sessions)" -eq "$QUEUES"

check "16 MiB of random data reads back (O_DIRECT, 1 MiB I/O)" pattern_round_trip 16

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

served_by=$(daemon_pid_of "$dev_id")
del_leaves_nothing() {
	"$ublk" del -n "$dev_id" || return 1
	local deadline=$((SECONDS + 10))
	while [[ -e $dev || -e /dev/ublkc$dev_id ]] || kill -0 "$served_by" 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
	[[ ! -e /run/ublksrvd/$dev_id.pid ]] && [[ $(sessions) -eq 0 ]] &&
		! "$ublk" list -n "$dev_id" >/dev/null 2>&1
}
check "ublk del removes the device, the daemon, its record and its sessions" del_leaves_nothing
forget_device "$dev_id"

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
	track_device 3
	# The target serves in this process; it never forks when given --eventfd.
	(
		exec 0<&- 1>&- 2>&-
		exec "$ublk_cxgb3i" add -t cxgb3i -n 3 "$url" --eventfd 3
	) 3>"$work_dir/verdict.fifo" &
	wait "$reader" || return 1
	value=$(tr -d ' \n' <"$work_dir/verdict")
	[[ $value == 4 ]] || {
		echo "#   read '$value' from the pipe"
		return 1
	}
	"$ublk" list -n 3 | grep -q "state LIVE" &&
		dd if=/dev/ublkb3 of=/dev/null bs=1M count=4 iflag=direct status=none &&
		"$ublk" del -n 3 && forget_device 3 && [[ ! -e /dev/ublkb3 ]]
}
check "ublksrv's protocol: stdio closed, --eventfd gets dev_id + 1" external_protocol

# Without the front end and without --foreground, the target forks its daemon off itself.
target_alone() {
	local output
	output=$("$ublk_cxgb3i" add -t cxgb3i -n 4 "$url") || return 1
	track_device 4
	[[ $output == "dev id 4: /dev/ublkb4" ]] &&
		"$ublk_cxgb3i" list -n 4 | grep -q "state LIVE" &&
		"$ublk_cxgb3i" del -n 4 && forget_device 4 && [[ ! -e /dev/ublkb4 ]]
}
check "ublk.cxgb3i add returns once its daemon has the device live; its del removes it" target_alone

finish
