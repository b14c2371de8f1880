# shellcheck shell=bash
# The body of t-fs-512.sh and t-fs-4k.sh (source it with BLOCK set): file systems and data
# integrity on /dev/ublkbN, in copy mode and zero copy, on a LUN of BLOCK-byte blocks:
# mkfs.ext4 and mkfs.xfs, a tree of files, umount, fsck -n clean, remount, every checksum
# matches; blkdiscard; fio crc32c-verified random writes then a verify pass, numjobs = queues.
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

readonly PORT=$((3280 + BLOCK / 512)) QUEUES=2
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:fs$BLOCK
require "tgtd answers on 127.0.0.1:$PORT" start_tgtd $PORT
require "tgtd serves a thin 320 MiB LUN of $BLOCK-byte blocks" \
	add_file_target 1 "$IQN" 320 "$BLOCK" thin_provisioning=1

# make_tree DIR: 200 files of assorted sizes in nested directories; records their checksums.
make_tree() {
	local dir=$1 i
	for i in $(seq 120); do
		mkdir -p "$dir/d$((i % 7))/e$((i % 3))"
		head -c $(((i * 7919) % 300000 + 1)) /dev/urandom >"$dir/d$((i % 7))/e$((i % 3))/f$i"
	done
	(cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$work_dir/sums"
}

verify_tree() {
	(cd "$1" && sha256sum --quiet -c "$work_dir/sums")
}

# fs_round FS: mkfs, tree, umount, fsck -n, remount, verify.
fs_round() {
	local fs=$1
	case $fs in
	ext4) mkfs.ext4 -q -F "$dev" ;;
	xfs) mkfs.xfs -q -f "$dev" ;;
	esac || return 1
	mount "$dev" "$work_dir/mnt" || return 1
	make_tree "$work_dir/mnt" && sync && umount "$work_dir/mnt" || return 1
	case $fs in
	ext4) fsck.ext4 -n -f "$dev" >/dev/null ;;
	xfs) xfs_repair -n "$dev" >/dev/null 2>&1 ;;
	esac || { echo "# fsck found problems on $fs"; return 1; }
	mount "$dev" "$work_dir/mnt" && verify_tree "$work_dir/mnt"
	local status=$?
	umount "$work_dir/mnt"
	return "$status"
}

fio_verify() {
	fio --name=verify --filename="$dev" --direct=1 --ioengine=io_uring --rw=randwrite \
		--bs=4k --bsrange=4k-128k --size=32M --iodepth=16 --numjobs="$QUEUES" --offset_increment=32M \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting \
		--output="$work_dir/fio.log" && grep -q "err= 0" "$work_dir/fio.log"
}

for mode in copy zerocopy; do
	flags=(-q "$QUEUES")
	[[ $mode == zerocopy ]] && flags+=(-z)
	echo "# $BLOCK-byte blocks, $mode"
	check "[$mode] ublk add -t cxgb3i ${flags[*]}" \
		add_device "${flags[@]}" "iscsi://127.0.0.1:$PORT/$IQN/1" || continue
	check "[$mode] logical block size is $BLOCK" test "$(blockdev --getss "$dev")" = "$BLOCK"
	check "[$mode] ext4: tree survives umount, fsck -n, remount" fs_round ext4
	check "[$mode] xfs: tree survives umount, xfs_repair -n, remount" fs_round xfs
	check "[$mode] blkdiscard" blkdiscard "$dev"
	check "[$mode] fio crc32c verify, numjobs=$QUEUES" fio_verify
	check "[$mode] ublk list shows the URL" \
		bash -c "ublk list -n $dev_id | grep -q 'iscsi://127.0.0.1:$PORT/$IQN/1'"
	check "[$mode] one iSCSI connection per queue in ss -tn" \
		test "$(ss -tn state established "( dport = :$PORT )" | tail -n +2 | wc -l)" -eq $QUEUES
	check "[$mode] ublk del leaves nothing behind" del_device
done
finish
