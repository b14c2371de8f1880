#!/usr/bin/env bash
# VM smoke test (runs inside the VM, as root): the kernel has ublk, and tgtd serves an
# iSCSI target on loopback that libiscsi's tools can discover and read.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail

readonly PORTAL=127.0.0.1:3261
readonly TARGET_IQN=iqn.2024-01.org.ublk-cxgb3i:smoke
readonly TGTD_START_SECONDS=20

# shellcheck source-path=SCRIPTDIR source=lib/check.sh
source "$(dirname "$0")/lib/check.sh"

# Scratch in /dev/shm: the guest's own tmpfs (/tmp is an overlay of the host's /tmp).
work_dir=$(mktemp -d /dev/shm/smoke.XXXXXX)
tgtd_pid=""
cleanup() {
	# tgtd ignores SIGTERM while it has targets; SIGKILL is what the tests use anyway.
	if [[ -n $tgtd_pid ]]; then
		kill -KILL "$tgtd_pid" 2>/dev/null
		wait "$tgtd_pid" 2>/dev/null
	fi
	rm -rf "$work_dir"
}
trap cleanup EXIT

echo "# kernel $(uname -r)"

check "modprobe ublk_drv" modprobe ublk_drv
check "/dev/ublk-control is a character device" test -c /dev/ublk-control

# Our own tgtd instance: its control socket in the scratch dir, its portal on loopback.
export TGT_IPC_SOCKET=$work_dir/tgtd.socket
ip link set lo up
tgtd -f --iscsi portal="$PORTAL" >"$work_dir/tgtd.log" 2>&1 &
tgtd_pid=$!

tgtd_answers() {
	local deadline=$((SECONDS + TGTD_START_SECONDS))
	until tgtadm --lld iscsi --mode target --op show >/dev/null 2>&1; do
		((SECONDS < deadline)) && kill -0 "$tgtd_pid" 2>/dev/null || return 1
		sleep 0.2
	done
}
check "tgtd answers tgtadm on $TGT_IPC_SOCKET" tgtd_answers

create_null_target() {
	tgtadm --lld iscsi --mode target --op new --tid 1 --targetname "$TARGET_IQN" &&
		tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 \
			--bstype null --backing-store null-lun &&
		tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL
}
check "tgtadm creates target $TARGET_IQN with a null LUN" create_null_target

discovery_lists_target() {
	local listing
	listing=$(iscsi-ls "iscsi://$PORTAL") || return 1
	grep -qF "$TARGET_IQN" <<<"$listing"
}
check "iscsi-ls discovers $TARGET_IQN on $PORTAL" discovery_lists_target

lun_reports_capacity() {
	local capacity
	capacity=$(iscsi-readcapacity16 "iscsi://$PORTAL/$TARGET_IQN/1") || return 1
	# tgt's null backing store: 512-byte blocks, 1 TiB.
	grep -qx 'LOGICAL BLOCK LENGTH IN BYTES:512' <<<"$capacity" &&
		grep -qx 'Total size:1099511627776' <<<"$capacity"
}
check "iscsi-readcapacity16 reads the null LUN's capacity" lun_reports_capacity

tgtd_killed() {
	kill -KILL "$tgtd_pid" && wait "$tgtd_pid" 2>/dev/null
	tgtd_pid=""
	! tgtadm --lld iscsi --mode target --op show >/dev/null 2>&1
}
check "tgtd stops on SIGKILL" tgtd_killed

if ((failures > 0)); then
	echo "# tgtd log:"
	sed 's/^/#   /' "$work_dir/tgtd.log"
	echo "# $failures check(s) failed"
	exit 1
fi
echo "# all checks passed"
