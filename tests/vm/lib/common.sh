# Shared by the VM tests (source it): checks, binaries, a private tgtd, device add/del.
# Runs inside the VM as root; scratch in /dev/shm. Binaries come from the host build
# (`cargo build --bins`; scripts/test does it): target/debug, else target/release.

failures=0
# check DESCRIPTION COMMAND...: runs the command, prints ok / not ok, counts failures.
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

# finish: exit status of the test.
finish() {
	echo "# $failures failed check(s)"
	exit $((failures > 0))
}

root=${UBLK_REPO_ROOT:-$PWD}
work_dir=$(mktemp -d /dev/shm/ublk-test.XXXXXX)
mkdir -p "$work_dir/bin" "$work_dir/mnt"
tgtd_pid=""
devices=()

for build in debug release; do
	if [[ -x $root/target/$build/ublk-cxgb3i && -x $root/target/$build/ublk ]]; then
		# Cargo cannot name a binary with a dot; ublksrv's front end looks for ublk.<type>.
		cp "$root/target/$build/ublk-cxgb3i" "$work_dir/bin/ublk.cxgb3i"
		cp "$root/target/$build/ublk" "$work_dir/bin/ublk"
		break
	fi
done
[[ -x $work_dir/bin/ublk ]] || { echo "not ok - no ublk / ublk-cxgb3i build under $root/target"; exit 1; }
export PATH=$work_dir/bin:$PATH

cleanup() {
	local dev
	for dev in "$work_dir"/mnt*; do mountpoint -q "$dev" && umount "$dev"; done
	for dev in "${devices[@]}"; do ublk del -n "$dev" >/dev/null 2>&1; done
	if [[ -n $tgtd_pid ]]; then
		kill -KILL "$tgtd_pid" 2>/dev/null
		wait "$tgtd_pid" 2>/dev/null
	fi
	rm -rf "$work_dir"
}
trap cleanup EXIT

modprobe ublk_drv || { echo "not ok - modprobe ublk_drv"; exit 1; }

# start_tgtd PORT: a private tgtd on 127.0.0.1:PORT.
start_tgtd() {
	export TGT_IPC_SOCKET=$work_dir/tgt-socket
	tgtd -f --iscsi portal=127.0.0.1:$1 >"$work_dir/tgtd.log" 2>&1 &
	tgtd_pid=$!
	local _
	for _ in $(seq 200); do
		tgtadm --lld iscsi --mode target --op show >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "not ok - tgtd did not start"; cat "$work_dir/tgtd.log"; exit 1
}

# add_file_target TID IQN MIB [BLOCK_SIZE]: a file-backed LUN 1 in /dev/shm, open to all.
add_file_target() {
	local tid=$1 iqn=$2 mib=$3 bs=${4:-}
	truncate -s "${mib}M" "$work_dir/lun-$tid.img"
	tgtadm --lld iscsi --mode target --op new --tid "$tid" --targetname "$iqn"
	tgtadm --lld iscsi --mode logicalunit --op new --tid "$tid" --lun 1 --bstype rdwr \
		--backing-store "$work_dir/lun-$tid.img" ${bs:+--blocksize "$bs"}
	tgtadm --lld iscsi --mode logicalunit --op update --tid "$tid" --lun 1 \
		--params thin_provisioning=1
	tgtadm --lld iscsi --mode target --op bind --tid "$tid" --initiator-address ALL
}

# add_device ARGS...: `ublk add -t cxgb3i ARGS`; sets $dev_id and $dev.
add_device() {
	local out
	out=$(ublk add -t cxgb3i "$@") || { echo "not ok - ublk add $*"; return 1; }
	dev_id=$(sed -nE 's/^dev id ([0-9]+).*/\1/p' <<<"$out" | head -1)
	[[ -n $dev_id ]] || { echo "not ok - no device id in: $out"; return 1; }
	devices+=("$dev_id")
	dev=/dev/ublkb$dev_id
	local _
	for _ in $(seq 100); do [[ -b $dev ]] && return 0; sleep 0.1; done
	echo "not ok - $dev did not appear"; return 1
}

# del_device: `ublk del` the current device and check nothing is left.
del_device() {
	ublk del -n "$dev_id" && devices=("${devices[@]/$dev_id/}") &&
		[[ ! -e $dev && ! -e /dev/ublkc$dev_id && ! -e /run/ublksrvd/$dev_id.pid ]]
}
