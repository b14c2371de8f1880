#!/usr/bin/env bash
# VM test, one boot of two (tests/vm/service/run boots the VM twice): the device of a
# configuration file run as the systemd unit ublk-cxgb3i@NAME.service, under unit-runner
# (the VM's init is not systemd; the runner speaks the notify protocol and runs the unit's
# commands as systemd would). STATE is a host directory that outlives the VM: the
# configuration, the LU's backing file and the checksum of what boot 1 wrote.
#
# Both boots install as the README says (scripts/install into /usr/local, laid over the
# guest's read-only one). Boot 1: the generator makes the unit wanted (startup = "automatic"); the unit starts and
# sends READY=1 only once /dev/ublkbN is live; a second `service start` is refused; ext4 is
# made and mounted and a verifying fio writes; the daemon is killed (SIGKILL) and the unit's
# restart recovers the device with the file system still mounted and fio still running;
# the stop (ExecStop) drains, logs out and deletes the device: no session is left on the
# target. The CHAP secret appears in no process's command line and no log. udev's rule names
# the disk by its LU in /dev/disk/by-id.
# Boot 2 ("after a reboot"): with the same configuration and LU, the generator and the unit
# bring the device back under the same by-id name, and the file written in boot 1 reads back
# intact through it; fsck is clean.
#
# usage: boot.sh 1|2 STATE
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"

readonly PHASE=${1:?phase 1 or 2} STATE=${2:?state directory}
readonly PORT=3276
readonly IQN=iqn.2026-12.org.ublk-cxgb3i:service
readonly NAME=disk-1 INSTANCE='disk\x2d1'
readonly DEV_NUMBER=5 LUN_MIB=96
readonly CHAP_USER=svcuser CHAP_SECRET=svc-secret-7c1e9a42
readonly READY_SECONDS=60

dev=/dev/ublkb$DEV_NUMBER
events=$work_dir/events
runner_pid=""
runner_bin=$(dirname "$target_bin")/unit-runner
sbin=/usr/local/sbin
units=/usr/local/lib/systemd/system
generator=/usr/local/lib/systemd/system-generators/ublk-cxgb3i-generator
export UBLK_CXGB3I_CONFIG_DIR=$STATE/etc

stop_runner() {
	[[ -n $runner_pid ]] || return 0
	kill -TERM "$runner_pid" 2>/dev/null
	wait "$runner_pid"
	local status=$?
	runner_pid=""
	return $status
}
trap 'stop_runner; cleanup; umount /usr/local 2>/dev/null' EXIT

failure_context() {
	echo "# unit-runner events:"
	sed 's/^/#   /' "$events" 2>/dev/null
	echo "# daemon output (journal):"
	tail -30 "$work_dir/unit.log" 2>/dev/null | sed 's/^/#   /'
}

# Installed as the README says (scripts/install, prefix /usr/local), into a staging root laid
# over the guest's read-only /usr/local: the units, the generator, the udev rule and the
# binaries are where systemd and udevd look for them.
install_like_a_user() {
	"$root/scripts/install" --destdir "$work_dir/root" --no-build \
		--bin-dir "$(dirname "$target_bin")" >"$work_dir/install.log" 2>&1 &&
		mount -t overlay overlay -o "lowerdir=$work_dir/root/usr/local:/usr/local" /usr/local &&
		[[ -x $sbin/ublk.cxgb3i && -f $units/ublk-cxgb3i@.service ]] &&
		udevadm control --reload
}

write_config() {
	mkdir -p "$STATE/etc" && chmod 700 "$STATE/etc" &&
		truncate -s ${LUN_MIB}M "$STATE/lun.img" &&
		cat >"$STATE/etc/$NAME.toml" <<-CONFIG &&
			# The LU of the service test.
			url = "iscsi://$CHAP_USER@127.0.0.1:$PORT/$IQN/1"
			chap_secret = "$CHAP_SECRET"
			initiator_name = "iqn.2026-12.org.ublk-cxgb3i:service-test"
			number = $DEV_NUMBER
			queues = 2
			user_recovery = true
			user_recovery_reissue = true
			startup = "automatic"
		CONFIG
		chmod 600 "$STATE/etc/$NAME.toml"
}

target_up() {
	start_tgtd $PORT &&
		tgtadm --lld iscsi --mode target --op new --tid 1 --targetname "$IQN" &&
		tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --bstype rdwr \
			--backing-store "$STATE/lun.img" &&
		tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL &&
		add_chap_account 1 "$CHAP_USER" "$CHAP_SECRET"
}

# What systemd does at boot: run the generator, start what ublk-cxgb3i.target wants.
generated_instance=""
generator_wants_the_unit() {
	local out=$work_dir/generator link
	rm -rf "$out" && mkdir -p "$out" &&
		"$generator" "$out" "$out" "$out" &&
		link=$(echo "$out"/ublk-cxgb3i.target.wants/ublk-cxgb3i@*.service) &&
		[[ $(readlink "$link") == "$units/ublk-cxgb3i@.service" ]] &&
		[[ $(readlink "$out/remote-fs.target.wants/ublk-cxgb3i.target") == "$units/ublk-cxgb3i.target" ]] &&
		generated_instance=$(basename "$link" .service) &&
		generated_instance=${generated_instance#ublk-cxgb3i@} &&
		[[ $generated_instance == "$INSTANCE" ]]
}

# count_events EVENT [DETAIL]: how many times the runner logged EVENT (with DETAIL).
count_events() {
	awk -v event="$1" -v detail="${2:-}" \
		'$2 == event && (detail == "" || $3 == detail) { n++ } END { print n + 0 }' "$events"
}

# wait_event EVENT COUNT SECONDS: until the runner has logged EVENT COUNT times.
wait_event() {
	local deadline=$((SECONDS + $3))
	until (($(count_events "$1") >= $2)); do
		((SECONDS < deadline)) && [[ -n $runner_pid ]] && kill -0 "$runner_pid" 2>/dev/null ||
			return 1
		sleep 0.2
	done
}

# start_unit: the generated instance under the runner, in the background ($runner_pid).
start_unit() {
	: >"$events"
	RUST_LOG=info "$runner_bin" --unit "$units/ublk-cxgb3i@.service" --instance "$generated_instance" \
		--events "$events" \
		--ready-check "test -b $dev && $sbin/ublk list -n $DEV_NUMBER | grep -q 'state LIVE'" \
		>>"$work_dir/unit.log" 2>&1 &
	runner_pid=$!
}

unit_starts() {
	start_unit && wait_event READY-CHECK 1 $READY_SECONDS
}

ready_only_once_live() {
	[[ $(count_events READY-CHECK ok) == "$1" && $(count_events READY-CHECK failed) == 0 ]]
}

main_pid() {
	sed -n 's/^[0-9.]* STARTED pid=\([0-9]*\)$/\1/p' "$events" | tail -1
}

the_daemon_is_the_main_process() {
	[[ -n $(main_pid) && $(daemon_pid_of $DEV_NUMBER) == "$(main_pid)" ]]
}

secret_nowhere() {
	local pid_dir found=0
	for pid_dir in /proc/[0-9]*; do
		if tr '\0' ' ' <"$pid_dir/cmdline" 2>/dev/null | grep -qF "$CHAP_SECRET"; then
			echo "#   the secret is in $pid_dir/cmdline"
			found=1
		fi
	done
	! grep -rqF "$CHAP_SECRET" "$work_dir/unit.log" "$events" /run/ublksrvd/ && ((found == 0))
}

# The connections are cut while tgtd is frozen (SIGSTOP), so the outage lasts the 3 s until it
# thaws: a reconnect to a live tgtd can take less than the daemon's status poll.
status_follows_an_outage() {
	local deadline=$((SECONDS + 30))
	grep -q "STATUS /dev/ublkb$DEV_NUMBER: serving: 2/2 sessions up" "$events" &&
		kill -STOP "$tgtd_pid" || return 1
	ss -K dst 127.0.0.1 dport = :$PORT >/dev/null 2>&1
	sleep 3
	kill -CONT "$tgtd_pid"
	until sed -n '/STATUS .*reconnecting/,$p' "$events" | grep -q "serving: 2/2 sessions up"; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

second_start_is_refused() {
	local output
	output=$("$sbin/ublk.cxgb3i" service start "$NAME" 2>&1) && return 1
	grep -q "already served by pid $(main_pid)" <<<"$output" || {
		echo "#   $output"
		return 1
	}
}

write_file_system() {
	mkfs.ext4 -q -F "$dev" && mount "$dev" "$work_dir/mnt" &&
		head -c 16M /dev/urandom >"$work_dir/mnt/data" && sync &&
		(cd "$work_dir/mnt" && sha256sum data) >"$STATE/data.sha256"
}

crash_recovered_under_io() {
	local old_pid
	old_pid=$(main_pid)
	kill -KILL "$old_pid" || return 1
	wait_event RESTART 1 30 && wait_event READY-CHECK 2 $READY_SECONDS || return 1
	# systemd runs ExecStop after the crash too (SERVICE_RESULT=signal): it must leave the
	# device to the restart.
	grep -q "EXEC-STOP-AFTER-EXIT code=0 SERVICE_RESULT=signal" "$events" || return 1
	[[ $(main_pid) != "$old_pid" ]] && mountpoint -q "$work_dir/mnt" &&
		the_daemon_is_the_main_process
}

data_intact() {
	(cd "$work_dir/mnt" && sha256sum -c --quiet "$STATE/data.sha256")
}

unmounted_clean() {
	umount "$work_dir/mnt" && fsck.ext4 -n "$dev" >/dev/null
}

# The udev rule's stable name for the LU, what /etc/fstab would name.
by_id_link() {
	local link
	for link in /dev/disk/by-id/ublk-cxgb3i-*; do
		[[ $(readlink -f "$link") == "$dev" ]] && echo "$link" && return 0
	done
	return 1
}

mount_by_id_and_verify() {
	local link
	udevadm settle && link=$(by_id_link) && mount "$link" "$work_dir/mnt" && data_intact &&
		[[ $link == "$(cat "$STATE/by-id")" ]]
}

# With the target down the start fails (exit 1) and the unit restarts; once the target is
# up, a restart brings the device up.
restarts_until_the_target_is_up() {
	start_unit && wait_event RESTART 1 60 || return 1
	grep -q "EXITED code=1" "$events" && target_up && wait_event READY-CHECK 1 $READY_SECONDS
}

# A configuration whose CHAP secret is wrong: the start fails with exit status 78, which
# RestartPreventExitStatus keeps from being restarted.
a_wrong_secret_is_not_retried() {
	local wrong_events=$work_dir/wrong-events runner
	sed -e "s/^chap_secret = .*/chap_secret = \"not-the-secret-123\"/" \
		-e "s/^number = .*/number = $((DEV_NUMBER + 1))/" -e "s/^startup = .*/startup = \"manual\"/" \
		"$STATE/etc/$NAME.toml" >"$STATE/etc/wrong.toml" && chmod 600 "$STATE/etc/wrong.toml" || return 1
	"$runner_bin" --unit "$units/ublk-cxgb3i@.service" --instance wrong --events "$wrong_events" \
		>>"$work_dir/unit.log" 2>&1 &
	runner=$!
	timeout 60 tail --pid=$runner -f /dev/null
	rm -f "$STATE/etc/wrong.toml"
	sed 's/^/#   /' "$wrong_events"
	grep -q "EXITED code=78" "$wrong_events" && ! grep -q RESTART "$wrong_events" &&
		grep -q "authentication" "$work_dir/unit.log"
}

no_session_on_target() {
	! tgtadm --lld iscsi --mode target --op show | grep -q "I_T nexus:"
}

stopped_and_gone() {
	stop_runner && grep -q "EXEC-STOP code=0" "$events" && grep -q "STOPPED " "$events" &&
		[[ ! -e $dev && ! -e /dev/ublkc$DEV_NUMBER && ! -e /run/ublksrvd/$DEV_NUMBER.pid ]]
}

require "scripts/install puts everything under /usr/local" install_like_a_user
case $PHASE in
1)
	require "a configuration with startup = automatic" write_config
	require "tgtd serves the LU with CHAP on 127.0.0.1:$PORT" target_up
	require "the generator makes ublk-cxgb3i.target want ublk-cxgb3i@$INSTANCE.service" \
		generator_wants_the_unit
	require "the unit starts and sends READY=1" unit_starts
	check "READY=1 came once the device was live" ready_only_once_live 1
	check "the daemon is the unit's main process" the_daemon_is_the_main_process
	check "a second service start of the same configuration is refused" second_start_is_refused
	check "STATUS= says serving, reconnecting while the connections are cut (ss -K), serving again" \
		status_follows_an_outage
	check "the CHAP secret is in no command line, log or record" secret_nowhere
	require "ext4 on the device holds a file" write_file_system
	check "udev names the device by its LU (/dev/disk/by-id/ublk-cxgb3i-...)" \
		eval 'udevadm settle && by_id_link >"$STATE/by-id"'
	require "a verifying fio writes on the file system" \
		start_verifying_fio --filename="$work_dir/mnt/fio.dat" --size=24M --iodepth=8
	check "after a SIGKILL of the daemon: ExecStop leaves the device, the restart recovers it, READY=1" \
		crash_recovered_under_io
	check "READY=1 came once the device was live, both times" ready_only_once_live 2
	sleep 3
	check "fio saw no error and no verify failure across the crash" stop_verifying_fio
	check "the file written before the crash is intact" data_intact
	check "unmounted; fsck finds the file system clean" unmounted_clean
	check "the stop (ExecStop) deletes the device" stopped_and_gone
	check "no session is left on the target" no_session_on_target
	;;
2)
	require "boot 1 left its configuration and checksum" test -s "$STATE/data.sha256"
	require "the generator wants the unit again" generator_wants_the_unit
	require "started before its target, the unit restarts until tgtd serves the LU again" \
		restarts_until_the_target_is_up
	check "READY=1 came once the device was live" ready_only_once_live 1
	check "a wrong CHAP secret fails the start with status 78, not restarted" \
		a_wrong_secret_is_not_retried
	check "the same by-id name mounts it; the file written in the first boot reads back intact" \
		mount_by_id_and_verify
	check "unmounted; fsck finds the file system clean" unmounted_clean
	check "the stop deletes the device" stopped_and_gone
	check "no session is left on the target" no_session_on_target
	;;
*)
	echo "not ok - phase $PHASE: 1 or 2"
	exit 2
	;;
esac
finish
