#!/usr/bin/env bash
# VM test (runs inside the VM, as root): the udev rule contrib/udev/60-ublk-cxgb3i.rules under
# a real systemd-udevd. A device gets /dev/disk/by-id/ublk-cxgb3i-3<NAA> -> ../../ublkbN from
# its LU's VPD 0x83 identity (what `ublk.cxgb3i probe` reports), a partition of it
# ...-part1 -> ../../ublkbNp1, and both links go with the device. The guest's udevd is used
# if it runs; otherwise the test starts one (with /run/udev as its database) and stops it.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

readonly PORT=3274
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:udev
readonly LUN_MIB=64
readonly RULE=60-ublk-cxgb3i.rules
readonly LINK_WAIT_SECONDS=20

own_udevd=""
rule_copy=/run/udev/rules.d/$RULE

stop_own_udevd() {
	rm -f "$rule_copy"
	if [[ -n $own_udevd ]]; then
		udevadm control --exit 2>/dev/null || kill "$own_udevd" 2>/dev/null
		own_udevd=""
	elif command -v udevadm >/dev/null; then
		udevadm control --reload 2>/dev/null
	fi
}

failure_context() {
	echo "# udevd: $(pgrep -a udevd | head -3)"
	echo "# by-id: $(find /dev/disk/by-id -name "ublk-cxgb3i-*" -printf "%f -> %l " 2>/dev/null)"
	[[ -n $dev ]] && udevadm info --query=property --name="$dev" 2>&1 | sed 's/^/#   /' | head -20
}

# The rule as scripts/install fills it in, with this test's binaries.
install_rule() {
	mkdir -p /run/udev/rules.d &&
		sed "s|@sbindir@|$work_dir/bin|g" "$UBLK_REPO_ROOT/contrib/udev/$RULE" >"$rule_copy"
}

start_udevd() {
	install_rule || return 1
	if pgrep -x systemd-udevd >/dev/null || pgrep -x udevd >/dev/null; then
		echo "# the guest runs udevd: $(pgrep -a udevd | head -1)"
		udevadm control --reload
		return
	fi
	local udevd
	for udevd in /lib/systemd/systemd-udevd /usr/lib/systemd/systemd-udevd; do
		[[ -x $udevd ]] && break
	done
	echo "# no udevd in the guest: starting $udevd --daemon"
	"$udevd" --daemon || return 1
	own_udevd=$(pgrep -x systemd-udevd | head -1)
	[[ -n $own_udevd ]] && udevadm control --ping --timeout=10
}
# After common.sh's cleanup (devices deleted): our udevd stopped, or the rule dropped from
# the guest's.
trap 'cleanup; stop_own_udevd' EXIT
require "systemd-udevd runs with the rule" start_udevd

serve_lu() {
	start_tgtd $PORT && add_file_target 1 "$IQN" $LUN_MIB
}
require "tgtd serves the LU" serve_lu
url="iscsi://127.0.0.1:$PORT/$IQN/1"

naa=$("$ublk_cxgb3i" probe --json "$url" | sed -nE 's/.*"device_id": *"naa\.([0-9a-f]+)".*/\1/p')
require "the LU has an NAA designator (probe: naa.$naa)" test -n "$naa"
link=/dev/disk/by-id/ublk-cxgb3i-3$naa
echo "# expected link: $link"

require "the device comes up" add_device -q 1 -d 16 "$url"

# wait_for_link LINK TARGET: LINK resolves to TARGET within LINK_WAIT_SECONDS.
wait_for_link() {
	local deadline=$((SECONDS + LINK_WAIT_SECONDS))
	udevadm settle --timeout="$LINK_WAIT_SECONDS"
	until [[ $(readlink "$1") == "$2" ]]; do
		((SECONDS < deadline)) || {
			echo "#   $1 -> '$(readlink "$1")', expected $2"
			return 1
		}
		sleep 0.2
	done
}
check "the disk's link: $link -> ../../ublkb$dev_id" wait_for_link "$link" "../../ublkb$dev_id"

disk_properties_match_the_lu() {
	local properties
	properties=$(udevadm info --query=property --name="$dev")
	grep -qx "ID_SERIAL=3$naa" <<<"$properties" &&
		grep -qx "ID_WWN=0x${naa:0:16}" <<<"$properties" &&
		grep -qx "UBLK_CXGB3I_DEVICE_ID=naa.$naa" <<<"$properties"
}
check "udev's database has the LU's identity (ID_SERIAL, ID_WWN)" disk_properties_match_the_lu

# write_mbr DEVICE: an MBR with one Linux partition, sectors 2048 to 18431 (written by hand:
# sfdisk is in Debian's fdisk package, which the host need not have).
write_mbr() {
	{
		head -c 446 /dev/zero
		# status, CHS first (unused), type 0x83, CHS last (unused), LBA 2048, 16384 sectors
		printf '\x00\x00\x00\x00\x83\x00\x00\x00\x00\x08\x00\x00\x00\x40\x00\x00'
		head -c 48 /dev/zero
		printf '\x55\xaa'
	} | dd of="$1" bs=512 count=1 iflag=fullblock oflag=direct status=none &&
		blockdev --rereadpt "$1"
}

partition_gets_its_link() {
	write_mbr "$dev" || return 1
	wait_for_link "$link-part1" "../../ublkb${dev_id}p1"
}
check "a partition's link: $link-part1 -> ../../ublkb${dev_id}p1" partition_gets_its_link

links_go_with_the_device() {
	del_device || return 1
	udevadm settle --timeout="$LINK_WAIT_SECONDS"
	[[ ! -e $link && ! -L $link && ! -L $link-part1 ]]
}
check "the links go with the device" links_go_with_the_device

finish
