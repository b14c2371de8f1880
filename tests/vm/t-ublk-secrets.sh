#!/usr/bin/env bash
# VM test (runs inside the VM, as root): CHAP secrets stay private with a device up. Given in
# the URL on the command line (initiator and mutual CHAP), they reach no process's
# /proc/PID/cmdline (the `ublk` front end pipes them to ublk.cxgb3i), no ublksrv record, no
# `ublk list` output and no daemon log line (RUST_LOG=trace, to syslog, captured on a
# /dev/log of our own); `ublk recover` then needs them again and says where to give them
# (LIBISCSI_CHAP_*). A device from a configuration file with secret files gets them back on
# recover from that file; a secret file others can read is refused.
#
# Binaries, tgtd and cleanup: lib/common.sh.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

readonly PORT=3274
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:secrets
readonly LUN_MIB=64
readonly CHAP_USER=secretsuser
readonly CHAP_SECRET=initiatorsecret4711
readonly TARGET_USER=secretstarget
readonly TARGET_SECRET=targetsecret0815
readonly SYSLOG_SECONDS=5

# The secrets as grep patterns, so no grep process carries them in its argv.
patterns=$work_dir/secrets.pattern
printf '%s\n' "$CHAP_SECRET" "$TARGET_SECRET" >"$patterns"
chmod 600 "$patterns"

# /dev/log of our own, if the guest has none: the daemon logs there once it is live.
syslog_pid=""
syslog_file=$work_dir/syslog
stop_syslog() {
	[[ -n $syslog_pid ]] || return 0
	kill "$syslog_pid" 2>/dev/null
	wait "$syslog_pid" 2>/dev/null
	rm -f /dev/log
	syslog_pid=""
}
trap 'stop_syslog; cleanup' EXIT
start_syslog() {
	[[ -e /dev/log ]] && {
		echo "# /dev/log exists already: its messages go elsewhere"
		return 1
	}
	python3 -c '
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("/dev/log")
out = open(sys.argv[1], "ab", buffering=0)
while True:
    out.write(sock.recv(65536) + b"\n")
' "$syslog_file" &
	syslog_pid=$!
	local deadline=$((SECONDS + SYSLOG_SECONDS))
	until [[ -S /dev/log ]]; do
		((SECONDS < deadline)) && kill -0 "$syslog_pid" 2>/dev/null || return 1
		sleep 0.1
	done
}
# Without it the daemon-log check below fails; the other checks still run.
check "a syslog socket at /dev/log captures the daemon's log" start_syslog

require "tgtd answers on 127.0.0.1:$PORT" start_tgtd $PORT
serve_lun() {
	add_file_target 1 "$IQN" $LUN_MIB &&
		add_chap_account 1 "$CHAP_USER" "$CHAP_SECRET" &&
		tgtadm --lld iscsi --mode account --op new --user "$TARGET_USER" --password "$TARGET_SECRET" &&
		tgtadm --lld iscsi --mode account --op bind --tid 1 --user "$TARGET_USER" --outgoing
}
check "tgtd serves a file LUN with CHAP and mutual CHAP" serve_lun

# no_process_shows_secrets: no /proc/PID/cmdline holds a secret (read and compared in bash:
# a grep would hold the secret in its own argv).
no_process_shows_secrets() {
	local file content pid leaks=0
	for file in /proc/[0-9]*/cmdline; do
		content=$(tr '\0' ' ' <"$file" 2>/dev/null) || continue
		if [[ $content == *"$CHAP_SECRET"* || $content == *"$TARGET_SECRET"* ]]; then
			pid=${file#/proc/}
			echo "#   pid ${pid%/cmdline}: ${content//$CHAP_SECRET/<secret>}"
			leaks=$((leaks + 1))
		fi
	done
	((leaks == 0))
}

# record_keeps_no_secret ID EXPECTED...: the ublksrv record of device ID is mode 0600, holds
# no secret, and holds each EXPECTED text.
record_keeps_no_secret() {
	local record=/run/ublksrvd/$1.pid text
	shift
	[[ -f $record && $(stat -c %a "$record") == 600 ]] || return 1
	! grep -qaFf "$patterns" "$record" || {
		echo "#   the record holds a secret"
		return 1
	}
	for text in "$@"; do
		grep -qaF "$text" "$record" || {
			echo "#   no $text in: $(tail -c +33 "$record" | tr -d '\0' | head -c 600)"
			return 1
		}
	done
}

listing_keeps_no_secret() {
	local listing
	listing=$("$ublk" list -n "$1") && listing+=$("$ublk" list -n "$1" -v) || return 1
	! grep -qFf "$patterns" <<<"$listing"
}

state_is() {
	local wanted=$1 deadline=$((SECONDS + 15))
	until "$ublk" list -n "$dev_id" 2>/dev/null | grep -q "state $wanted"; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

url="iscsi://$CHAP_USER%$CHAP_SECRET@127.0.0.1:$PORT/$IQN/1?target_user=$TARGET_USER&target_password=$TARGET_SECRET"
# Until the device is live the daemon logs to stderr (kept in add.err), then to syslog.
add_with_url() {
	local output
	output=$(RUST_LOG=trace "$ublk" add -t cxgb3i -r 1 -q 2 "$url" 2>"$work_dir/add.err") || {
		grep -avFf "$patterns" "$work_dir/add.err" | tail -5 | sed 's/^/#   /'
		return 1
	}
	dev_id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' <<<"$output" | head -1)
	[[ -n $dev_id ]] && track_device "$dev_id" && dev=/dev/ublkb$dev_id &&
		wait_for_block_device "$dev"
}
check "ublk add -t cxgb3i -r 1 with both secrets in the URL: device up" add_with_url
stderr_keeps_no_secret() {
	echo "#   $(grep -c . "$work_dir/add.err") lines on stderr before the device was live"
	[[ -s $work_dir/add.err ]] && ! grep -qaFf "$patterns" "$work_dir/add.err"
}
check "what the daemon logged on stderr (trace level) holds no secret" stderr_keeps_no_secret

check "I/O works (the secrets logged both queues in)" pattern_round_trip 4
check "no process's cmdline holds a secret" no_process_shows_secrets
check "the record holds no secret, but the user names and where the secrets came from" \
	record_keeps_no_secret "$dev_id" "iscsi://$CHAP_USER@127.0.0.1:$PORT/$IQN/1" \
	"target_user=$TARGET_USER" '"secret_source":"command_line"'
check "ublk list and list -v show no secret" listing_keeps_no_secret "$dev_id"

daemon_log_keeps_no_secret() {
	[[ -n $syslog_pid ]] || return 1
	# syslog lines are sent as they happen; give the socket a moment.
	sleep 1
	local lines
	lines=$(grep -ac "ublksrvd-cxgb3i" "$syslog_file" 2>/dev/null)
	echo "#   $lines daemon log lines"
	((lines > 0)) && ! grep -qaFf "$patterns" "$syslog_file"
}
check "the daemon's log (trace level) holds no secret" daemon_log_keeps_no_secret

old_pid=""
kill_daemon() {
	old_pid=$(daemon_pid_of "$dev_id")
	[[ -n $old_pid ]] && kill -KILL "$old_pid" && state_is QUIESCED
}
check "SIGKILL to the daemon leaves the device QUIESCED" kill_daemon

recover_says_where() {
	local status=0
	env -u LIBISCSI_CHAP_PASSWORD -u LIBISCSI_CHAP_TARGET_PASSWORD \
		timeout 60 "$ublk" recover -n "$dev_id" >"$work_dir/out" 2>"$work_dir/err" || status=$?
	echo "#   exit $status: $(cat "$work_dir/err")"
	((status != 0)) &&
		grep -q "on the command line" "$work_dir/err" &&
		grep -q "LIBISCSI_CHAP_PASSWORD" "$work_dir/err" &&
		[[ $(grep -c . "$work_dir/err") -eq 1 ]] &&
		state_is QUIESCED
}
check "recover without the secret fails, saying it must come from LIBISCSI_CHAP_* or a file" \
	recover_says_where

recover_with_env() {
	local output
	output=$(LIBISCSI_CHAP_PASSWORD=$CHAP_SECRET LIBISCSI_CHAP_TARGET_PASSWORD=$TARGET_SECRET \
		timeout 60 "$ublk" recover -n "$dev_id" 2>&1) || {
		echo "#   $output" | grep -vFf "$patterns"
		return 1
	}
	state_is LIVE && dd if="$dev" of="$work_dir/back" bs=1M count=4 iflag=direct status=none &&
		cmp "$work_dir/pattern" "$work_dir/back"
}
check "recover with LIBISCSI_CHAP_PASSWORD and _TARGET_PASSWORD: LIVE, data intact" recover_with_env
check "no process's cmdline holds a secret after recover" no_process_shows_secrets
check "the recovered device's record holds no secret" record_keeps_no_secret "$dev_id" \
	"iscsi://$CHAP_USER@127.0.0.1:$PORT/$IQN/1"

del_it() {
	"$ublk" del -n "$dev_id" && forget_device "$dev_id" && [[ ! -e /dev/ublkc$dev_id ]]
}
check "ublk del removes it" del_it

# The same LUN from a configuration file whose secrets are in secret files.
conf=$work_dir/conf
mkdir -m 700 "$conf"
export UBLK_CXGB3I_CONFIG_DIR=$conf
printf '%s\n' "$CHAP_SECRET" >"$conf/initiator.secret"
printf '%s\n' "$TARGET_SECRET" >"$conf/target.secret"
chmod 600 "$conf/initiator.secret" "$conf/target.secret"
cat >"$conf/disk.toml" <<EOF
portal = "127.0.0.1:$PORT"
target = "$IQN"
lun = 1
chap_user = "$CHAP_USER"
chap_secret_file = "initiator.secret"
target_chap_user = "$TARGET_USER"
target_chap_secret_file = "target.secret"
queues = 2
user_recovery = true

[timeouts]
replacement = 30
EOF
cat >"$conf/defaults.toml" <<EOF
depth = 64
EOF

add_from_config() {
	add_device --config disk &&
		"$ublk" list -n "$dev_id" | grep -q "nr_hw_queues 2 queue_depth 64"
}
check "ublk add -t cxgb3i --config disk (secret files, depth from defaults.toml): device up" \
	add_from_config
check "I/O works" pattern_round_trip 4
check "no process's cmdline holds a secret" no_process_shows_secrets
check "the record names the configuration file and holds no secret" \
	record_keeps_no_secret "$dev_id" "\"config\":\"$conf/disk.toml\"" \
	'"secret_source":"config_file"' '"replacement":30'
check "SIGKILL to the daemon leaves the device QUIESCED" kill_daemon
recover_from_config() {
	local output
	output=$(env -u LIBISCSI_CHAP_PASSWORD -u LIBISCSI_CHAP_TARGET_PASSWORD \
		timeout 60 "$ublk" recover -n "$dev_id" 2>&1) || {
		echo "#   $output"
		return 1
	}
	state_is LIVE && dd if="$dev" of="$work_dir/back" bs=1M count=4 iflag=direct status=none &&
		cmp "$work_dir/pattern" "$work_dir/back"
}
check "ublk recover reads the secrets from the device's configuration file again" \
	recover_from_config
check "ublk del removes it" del_it

open_secret_refused() {
	local status=0
	chmod 644 "$conf/initiator.secret"
	timeout 60 "$ublk" add -t cxgb3i --config disk >"$work_dir/out" 2>"$work_dir/err" ||
		status=$?
	echo "#   exit $status: $(cat "$work_dir/err")"
	((status != 0)) &&
		grep -q "$conf/disk.toml:5: chap_secret_file: refusing to read $conf/initiator.secret: it is mode 0644" \
			"$work_dir/err" &&
		! grep -qaFf "$patterns" "$work_dir/err" &&
		[[ -z $(find /sys/class/ublk-char -mindepth 1 -maxdepth 1 2>/dev/null) ]]
}
check "a secret file others can read is refused, naming it and its mode" open_secret_refused

stop_syslog
finish
