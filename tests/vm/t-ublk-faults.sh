#!/usr/bin/env bash
# VM test (runs inside the VM, as root): faults under a verifying load. A fault-injecting
# proxy (tests/src/bin/fault-proxy) sits between the device and tgtd; fio writes and verifies
# (crc32c, verify_backlog) throughout while the proxy swallows a SCSI Response, stalls the
# connection, resets it mid-PDU, every connection is cut with `ss -K`, and tgtd is killed
# and restarted. Then, with DataDigest on, bit flips in Data-In are caught and reissued; and
# with the target gone past a short replacement timeout, I/O fails cleanly, the device
# serves again once the target is back, and `ublk del` while it is down returns at once.
#
# Every scenario prints its figures ("# figures: ..."); a lost or failed I/O, a verify
# failure or a missing recovery fails the test. FAULT_ROUNDS (default 3) sets the rounds of
# the cut and restart scenarios.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

readonly TGT_PORT=3271
readonly PROXY_PORT=3272
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:faults
readonly LUN_MIB=64
readonly ROUNDS=${FAULT_ROUNDS:-3}
# Short supervision timeouts, so a lost response is aborted within seconds.
readonly TIMEOUTS=(--command-timeout 4 --abort-timeout 3 --lu-reset-timeout 5
	--noop-out-interval 2 --noop-out-timeout 3 --replacement-timeout 30)

proxy_bin=""
for build in debug release; do
	if [[ -x $root/target/$build/fault-proxy ]]; then
		proxy_bin=$root/target/$build/fault-proxy
		break
	fi
done
require "the fault proxy is built (cargo build -p cxgb3i-tests --bin fault-proxy)" test -x "$proxy_bin"

proxy_pid=""
control=$work_dir/proxy.sock
stop_proxy() {
	[[ -n $proxy_pid ]] || return 0
	kill "$proxy_pid" 2>/dev/null
	wait "$proxy_pid" 2>/dev/null
	proxy_pid=""
}
trap 'stop_proxy; cleanup' EXIT

ctl() {
	local reply
	reply=$("$proxy_bin" ctl "$control" "$@") || return 1
	[[ $reply != error* ]] || {
		echo "#   proxy: $reply"
		return 1
	}
	echo "$reply"
}

failure_context() {
	echo "# daemon log ($log):"
	grep -vE "connection counters|session counters|queue counters" "$log" | tail -40 | sed 's/^/#   /'
	[[ -s $work_dir/proxy.log ]] && tail -10 "$work_dir/proxy.log" | sed 's/^/#   proxy: /'
}

serve_lun() {
	start_tgtd $TGT_PORT && add_file_target 1 "$IQN" $LUN_MIB
}
require "tgtd serves a file LUN" serve_lun

start_proxy() {
	"$proxy_bin" --listen "127.0.0.1:$PROXY_PORT" --target "127.0.0.1:$TGT_PORT" \
		--control "$control" >"$work_dir/proxy.log" 2>&1 &
	proxy_pid=$!
	local deadline=$((SECONDS + 10))
	until grep -q "listening on" "$work_dir/proxy.log"; do
		((SECONDS < deadline)) && kill -0 "$proxy_pid" 2>/dev/null || return 1
		sleep 0.1
	done
}
require "the fault proxy listens in front of tgtd" start_proxy

log=$work_dir/daemon.log
start_faulted_daemon() {
	start_daemon "$log" -q 2 -d 16 "${TIMEOUTS[@]}" "iscsi://127.0.0.1:$PROXY_PORT/$IQN/1"
}
require "the device comes up through the proxy" start_faulted_daemon

start_fio() {
	start_verifying_fio --filename="$dev" --iodepth=16 --size=32M
}
require "fio writes and verifies on the device" start_fio

count() {
	grep -c "$1" "$log"
}

# wait_for_count PATTERN N SECONDS: until the daemon log has N lines matching PATTERN.
wait_for_count() {
	local deadline=$((SECONDS + $3))
	until (($(count "$1") >= $2)); do
		((SECONDS < deadline)) || {
			echo "#   '$1' seen $(count "$1") times, wanted $2"
			return 1
		}
		sleep 0.2
	done
}

# proxy_stat NAME: one of the proxy's counters.
proxy_stat() {
	ctl stats | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# wait_for_stat NAME N SECONDS: until the proxy's counter NAME reaches N.
wait_for_stat() {
	local deadline=$((SECONDS + $3)) value
	until value=$(proxy_stat "$1") && ((value >= $2)); do
		((SECONDS < deadline)) || {
			echo "#   proxy: $1 is ${value:-unknown} after $3 s, wanted $2; $(ctl stats)"
			return 1
		}
		sleep 0.2
	done
}

# The proxy swallows the next SCSI Response, which comes with the writer's next write: the
# command must be aborted within the command timeout (4 s) of it, plus a tick and the
# emulator's slack; then the writer carries on.
lost_response_is_aborted() {
	local aborts answered dropped start=$SECONDS dropped_at
	aborts=$(count "ABORT TASK sent")
	answered=$(count "ABORT TASK answered")
	dropped=$(proxy_stat dropped_responses) &&
		ctl drop-response >/dev/null &&
		wait_for_stat dropped_responses $((dropped + 1)) 60 || return 1
	dropped_at=$SECONDS
	wait_for_count "ABORT TASK sent" $((aborts + 1)) 15 || {
		grep -E "timed out|ABORT|RESET|dropping|recovered" "$log" | tail -5 | cut -c1-240 | sed 's/^/#   /'
		return 1
	}
	wait_for_count "ABORT TASK answered" $((answered + 1)) 15 &&
		sleep 2 && fio_alive &&
		echo "# figures: lost response: dropped after $((dropped_at - start)) s, aborted and answered within $((SECONDS - dropped_at - 2)) s of it"
}
check "a swallowed SCSI Response is aborted and reissued" lost_response_is_aborted

stall_is_ridden_out() {
	ctl stall 2 >/dev/null && sleep 4 && fio_alive
}
check "a 2 s stall of both directions passes without an error" stall_is_ridden_out

reset_mid_pdu_reconnects() {
	local recovered start=$SECONDS
	recovered=$(count "session recovered")
	ctl reset-mid-pdu >/dev/null &&
		wait_for_count "session recovered" $((recovered + 1)) 60 && sleep 1 && fio_alive &&
		echo "# figures: reset mid-PDU: recovered in $((SECONDS - start)) s"
}
check "a connection reset in the middle of a PDU is recovered" reset_mid_pdu_reconnects

cuts_are_recovered() {
	local round recovered start
	for ((round = 1; round <= ROUNDS; round++)); do
		recovered=$(count "session recovered")
		start=$SECONDS
		ss -K dst 127.0.0.1 dport = ":$PROXY_PORT" >/dev/null || return 1
		wait_for_count "session recovered" $((recovered + 2)) 60 || return 1
		echo "# figures: cut $round/$ROUNDS: both queues recovered in $((SECONDS - start)) s"
		sleep 1
		fio_alive || return 1
	done
}
check "every connection cut with ss -K, $ROUNDS times: no I/O error" cuts_are_recovered

target_restarts_are_recovered() {
	local round recovered start
	for ((round = 1; round <= ROUNDS; round++)); do
		recovered=$(count "session recovered")
		start=$SECONDS
		stop_tgtd
		sleep 2
		serve_lun || return 1
		wait_for_count "session recovered" $((recovered + 2)) 90 || return 1
		echo "# figures: tgtd kill -9 $round/$ROUNDS: both queues recovered in $((SECONDS - start)) s"
		sleep 1
		fio_alive || return 1
	done
}
check "tgtd killed -9 and restarted $ROUNDS times: no I/O error" target_restarts_are_recovered

check "fio saw no I/O error and no verify failure" stop_verifying_fio

failed_requests() {
	count "request failed"
}
no_request_failed() {
	local n
	n=$(failed_requests)
	echo "# figures: aborts $(count "ABORT TASK sent"), resets $(count "LOGICAL UNIT RESET sent"), reconnects $(count "session recovered"), failed requests $n"
	((n == 0))
}
check "the daemon failed no request" no_request_failed

check "fsck-free raw check: the LUN reads back through the device" pattern_round_trip 8

# DataDigest: a flipped Data-In bit is caught by the digest, the connection dropped and the
# read reissued: the data that reaches the reader is the data written.
digest_device() {
	stop_daemon
	tgtadm --lld iscsi --mode target --op update --tid 1 -n DataDigest -v CRC32C,None || return 1
	log=$work_dir/daemon-digest.log
	start_daemon "$log" -q 1 -d 16 "${TIMEOUTS[@]}" \
		"iscsi://127.0.0.1:$PROXY_PORT/$IQN/1?data_digest=crc32c"
}
check "a device with DataDigest comes up through the proxy" digest_device

bit_flips_are_caught() {
	local flips=3 detected start=$SECONDS
	head -c 16M /dev/urandom >"$work_dir/pattern" &&
		dd if="$work_dir/pattern" of="$dev" bs=1M oflag=direct status=none || return 1
	ctl flip-data-in $flips >/dev/null || return 1
	dd if="$dev" of="$work_dir/back" bs=64k count=256 iflag=direct status=none || return 1
	cmp "$work_dir/pattern" "$work_dir/back" || return 1
	detected=$(count "data digest mismatch")
	echo "# figures: bit flips armed $flips, detected $detected, corrupt blocks read 0, $((SECONDS - start)) s"
	((detected >= 1)) && (($(count "request failed") == 0))
}
check "Data-In bit flips with DataDigest: detected, reissued, nothing corrupt read" bit_flips_are_caught

# Past the replacement timeout I/O fails (no hang); the device stays and serves again when
# the target is back; `ublk del` while the target is down returns at once.
replacement_device() {
	stop_daemon
	log=$work_dir/daemon-replacement.log
	start_daemon "$log" -q 1 -d 16 --replacement-timeout 3 --noop-out-interval 1 \
		--noop-out-timeout 1 "iscsi://127.0.0.1:$PROXY_PORT/$IQN/1"
}
check "a device with a 3 s replacement timeout comes up" replacement_device

outage_fails_cleanly_and_heals() {
	local start status
	stop_tgtd
	sleep 5
	start=$SECONDS
	timeout 60 dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null
	status=$?
	echo "# figures: read during the outage: status $status after $((SECONDS - start)) s"
	((status != 0 && status != 124)) || return 1
	serve_lun || return 1
	wait_for_count "session recovered" 1 60 &&
		dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct status=none
}
check "past the replacement timeout: EIO, no hang, and serving again after" outage_fails_cleanly_and_heals

del_while_down_is_quick() {
	local id start
	id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' "$log")
	stop_tgtd
	sleep 3
	# A request held for the session when del comes.
	dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null &
	sleep 1
	start=$SECONDS
	timeout 30 "$ublk" del -n "$id" || return 1
	wait "$daemon_pid" 2>/dev/null
	daemon_pid=""
	echo "# figures: ublk del with the target down took $((SECONDS - start)) s"
	((SECONDS - start < 10)) && [[ ! -e $dev ]]
}
check "ublk del while the target is down removes the device within seconds" del_while_down_is_quick

finish
