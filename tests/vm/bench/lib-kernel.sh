# shellcheck shell=bash
# The kernel initiator: open-iscsi's iscsid + iscsiadm driving iscsi_tcp, with the
# settings a user gets from Debian's iscsid.conf (one session, queue_depth 32,
# cmds_max 128, MaxRecvDataSegmentLength 262144, no digests).
#
# The guest's root is the host's, read-only: /etc and /var are throw-away overlays there,
# but whatever the host keeps in /etc/iscsi (its initiator name, any node records) must
# neither leak in nor be written. So /etc/iscsi becomes a tmpfs holding only a copy of the
# host's iscsid.conf and an initiator name of our own; iscsiadm and iscsid keep their
# node, send_targets and iface records there, and their locks in /run/lock/iscsi (/run is
# the guest's own tmpfs). This open-iscsi (2.1.8) uses no /var/lib/iscsi.

# In the private /etc/iscsi for the whole boot: ublk.cxgb3i reads the same file, so both
# initiators log in under one name, as they would on one host.
readonly KERNEL_INITIATOR_NAME=iqn.2026-11.org.ublk-cxgb3i:bench-vm-initiator
readonly KERNEL_LOGIN_SECONDS=60
readonly KERNEL_SCAN_SECONDS=30
KERNEL_ISCSID_PID=""
KERNEL_ETC_MOUNTED=0
KERNEL_LOGGED_IN=0
# The LUN's disk once kernel_attach succeeded.
KERNEL_DEVICE=""

iscsid_listens() {
	grep -q '@ISCSIADM_ABSTRACT_NAMESPACE' /proc/net/unix
}

# kernel_setup: the private /etc/iscsi, iscsi_tcp and a running iscsid; on failure, why
# is in BENCH_REASON.
kernel_setup() {
	[[ -n $KERNEL_ISCSID_PID ]] && return 0
	{ command -v iscsid && command -v iscsiadm; } >/dev/null ||
		{ BENCH_REASON="open-iscsi is not installed"; return 1; }
	[[ -r /etc/iscsi/iscsid.conf ]] || { BENCH_REASON="no /etc/iscsi/iscsid.conf"; return 1; }
	modprobe iscsi_tcp || { BENCH_REASON="modprobe iscsi_tcp failed"; return 1; }
	cp /etc/iscsi/iscsid.conf "$BENCH_WORK/iscsid.conf" || { BENCH_REASON="cannot copy iscsid.conf"; return 1; }
	mount -t tmpfs -o mode=0755 bench-etc-iscsi /etc/iscsi ||
		{ BENCH_REASON="cannot mount a tmpfs on /etc/iscsi"; return 1; }
	KERNEL_ETC_MOUNTED=1
	# iscsid runs before any iscsiadm call: iscsiadm must never try the host's way of
	# starting it (systemctl, which the guest does not run).
	sed 's|^[[:space:]]*iscsid\.startup[[:space:]]*=.*|iscsid.startup = /bin/false|' \
		"$BENCH_WORK/iscsid.conf" >/etc/iscsi/iscsid.conf
	echo "InitiatorName=$KERNEL_INITIATOR_NAME" >/etc/iscsi/initiatorname.iscsi
	chmod 0600 /etc/iscsi/initiatorname.iscsi
	mkdir -p /run/lock/iscsi
	# Its own session: on SIGTERM iscsid signals its whole process group (killpg), which
	# would otherwise be ours and the VM runner's.
	setsid iscsid -f >"$BENCH_WORK/iscsid.log" 2>&1 &
	KERNEL_ISCSID_PID=$!
	wait_for 20 iscsid_listens ||
		{ BENCH_REASON="iscsid did not start: $(tail -3 "$BENCH_WORK/iscsid.log" | tr '\n' ' ')"; return 1; }
}

# Prints the sysfs name (sessionN) of the kernel's session to our target.
kernel_session() {
	local session
	for session in /sys/class/iscsi_session/session*; do
		[[ -e $session/targetname && $(<"$session/targetname") == "$TGTD_IQN" ]] || continue
		echo "${session##*/}"
		return 0
	done
	return 1
}

# Prints the block device (sdX) the session's LUN became.
kernel_disk() {
	local block
	for block in /sys/class/iscsi_session/"$1"/device/target*/*/block/*; do
		[[ -e $block ]] || continue
		echo "${block##*/}"
		return 0
	done
	return 1
}

kernel_login() {
	iscsiadm -m discovery -t sendtargets -p "$TGTD_PORTAL" >"$BENCH_WORK/discovery.log" 2>&1 ||
		{ BENCH_REASON="discovery failed: $(tail -2 "$BENCH_WORK/discovery.log" | tr '\n' ' ')"; return 1; }
	timeout "$KERNEL_LOGIN_SECONDS" iscsiadm -m node -T "$TGTD_IQN" -p "$TGTD_PORTAL" --login \
		>"$BENCH_WORK/login.log" 2>&1 ||
		{ BENCH_REASON="login failed: $(tail -2 "$BENCH_WORK/login.log" | tr '\n' ' ')"; return 1; }
	KERNEL_LOGGED_IN=1
}

kernel_logout() {
	((KERNEL_LOGGED_IN)) || return 0
	iscsiadm -m node -T "$TGTD_IQN" -p "$TGTD_PORTAL" --logout >"$BENCH_WORK/logout.log" 2>&1 ||
		bench_log "kernel: logout failed: $(tail -2 "$BENCH_WORK/logout.log" | tr '\n' ' ')"
	wait_for 20 eval '! kernel_session >/dev/null' || bench_log "kernel: the session outlived logout"
	KERNEL_LOGGED_IN=0
}

# kernel_record SESSION DISK: what the kernel initiator negotiated and its queue limits.
kernel_record() {
	local session=$1 disk=$2 attribute connection host
	for attribute in initial_r2t immediate_data first_burst_len max_burst_len \
		max_outstanding_r2t erl data_pdu_in_order data_seq_in_order; do
		record_info kernel "session.$attribute" "$(cat "/sys/class/iscsi_session/$session/$attribute" 2>/dev/null)"
	done
	connection=/sys/class/iscsi_connection/connection${session#session}:0
	for attribute in max_recv_dlength max_xmit_dlength header_digest data_digest; do
		record_info kernel "connection.$attribute" "$(cat "$connection/$attribute" 2>/dev/null)"
	done
	host=$(basename "$(readlink -f "/sys/class/iscsi_session/$session/device/..")")
	record_info kernel "scsi_host.can_queue" "$(cat "/sys/class/scsi_host/$host/can_queue" 2>/dev/null)"
	record_info kernel "scsi_host.cmd_per_lun" "$(cat "/sys/class/scsi_host/$host/cmd_per_lun" 2>/dev/null)"
	record_info kernel "device.queue_depth" "$(cat "/sys/block/$disk/device/queue_depth" 2>/dev/null)"
	record_info kernel "iscsid.conf" "$(grep -E '^node\.(session\.(cmds_max|queue_depth|nr_sessions)|conn\[0\]\.iscsi\.MaxRecvDataSegmentLength)' /etc/iscsi/iscsid.conf | tr -s ' ' | paste -sd ';')"
	record_block_queue kernel "/dev/$disk"
	iscsiadm -m session -P 3 >"$BENCH_RAW/kernel.session.txt" 2>&1
}

# kernel_attach: logs in and prints the LUN's block device (/dev/sdX); on failure, why is
# in BENCH_REASON. Run it in this shell (not in $(...)): it starts iscsid.
kernel_attach() {
	local session disk
	BENCH_REASON=""
	kernel_setup && kernel_login || return 1
	if ! session=$(wait_for "$KERNEL_SCAN_SECONDS" kernel_session) ||
		! disk=$(wait_for "$KERNEL_SCAN_SECONDS" kernel_disk "$session") ||
		! wait_for 10 test -b "/dev/$disk"; then
		kernel_logout
		BENCH_REASON="logged in, but no disk appeared"
		return 1
	fi
	kernel_record "$session" "$disk"
	KERNEL_DEVICE=/dev/$disk
}

kernel_detach() {
	kernel_logout
}

kernel_cleanup() {
	kernel_logout
	if [[ -n $KERNEL_ISCSID_PID ]]; then
		kill "$KERNEL_ISCSID_PID" 2>/dev/null
		wait "$KERNEL_ISCSID_PID" 2>/dev/null
		KERNEL_ISCSID_PID=""
	fi
	if ((KERNEL_ETC_MOUNTED)); then
		umount /etc/iscsi && KERNEL_ETC_MOUNTED=0
	fi
}
