# shellcheck shell=bash
# One tgtd on loopback for the whole boot: a free port, its control socket in scratch, one
# target with one LUN that every configuration uses.
#   file: a preallocated file in /dev/shm (RAM) behind tgt's default rdwr backing store;
#         the same bytes for reads and writes, so the write rows store real data.
#   null: tgt's null backing store (no storage, reads return zeros): the cheapest target.

readonly TGTD_IQN=iqn.2026-11.org.ublk-cxgb3i:bench-vm
readonly TGTD_START_SECONDS=20
TGTD_PID=""
TGTD_PORT=""
TGTD_PORTAL=""
TGTD_URL=""

free_loopback_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

tgtd_answers() {
	kill -0 "$TGTD_PID" 2>/dev/null && tgtadm --lld iscsi --mode target --op show >/dev/null 2>&1
}

# tgtd_start BACKING LUN_MIB: sets TGTD_PORT, TGTD_PORTAL and TGTD_URL.
tgtd_start() {
	local backing=$1 lun_mib=$2 store
	export TGT_IPC_SOCKET=$BENCH_WORK/tgtd.socket
	TGTD_PORT=$(free_loopback_port) || return 1
	TGTD_PORTAL=127.0.0.1:$TGTD_PORT
	tgtd -f --iscsi portal="$TGTD_PORTAL" >"$BENCH_WORK/tgtd.log" 2>&1 &
	TGTD_PID=$!
	wait_for "$TGTD_START_SECONDS" tgtd_answers || return 1
	tgtadm --lld iscsi --mode target --op new --tid 1 --targetname "$TGTD_IQN" || return 1
	if [[ $backing == null ]]; then
		tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 \
			--bstype null --backing-store null-lun || return 1
	else
		store=$BENCH_WORK/lun.img
		# Preallocated: the first configuration's writes must not pay for tmpfs page
		# allocation that later ones skip.
		fallocate -l "${lun_mib}M" "$store" || return 1
		tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 \
			--backing-store "$store" || return 1
	fi
	tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL || return 1
	TGTD_URL=iscsi://$TGTD_PORTAL/$TGTD_IQN/1
}

# Prints how many sessions (I_T nexuses) tgtd has now. (tgtadm 1.0.85 shows no
# negotiated parameters: `--mode session --op show` is an invalid request.)
tgtd_session_count() {
	tgtadm --lld iscsi --mode target --op show | grep -c '^ *I_T nexus:'
}

tgtd_stop() {
	[[ -n $TGTD_PID ]] || return 0
	# tgtd ignores SIGTERM while it has targets; nothing here needs a clean stop.
	kill -KILL "$TGTD_PID" 2>/dev/null
	wait "$TGTD_PID" 2>/dev/null
	TGTD_PID=""
}
