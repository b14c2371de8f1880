#!/usr/bin/env bash
# VM test (runs inside the VM, as root): `ublk list --json` (both front ends) shows a live
# device's sessions from its daemon: the JSON parses, its counters grow with I/O, its
# reconnect count grows when `ss -K` cuts the connections, and no CHAP secret is in it. A
# device whose daemon was killed (-r 1, QUIESCED) is still listed from its record, saying
# the live part is unavailable; `ublk recover` brings it back and `ublk del` removes it.
#
# Binaries, tgtd and cleanup: lib/common.sh. The document: docs/list-json.md.
# Prints one "ok"/"not ok" line per check; exits 0 only if every check passed.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

readonly PORT=3276
readonly IQN=iqn.2026-11.org.ublk-cxgb3i:list
readonly LUN_MIB=128
readonly QUEUES=2
readonly CHAP_USER=listuser
readonly CHAP_SECRET=listsecret98765

require "tgtd answers on 127.0.0.1:$PORT" start_tgtd $PORT
serve_lun() {
	add_file_target 1 "$IQN" $LUN_MIB && add_chap_account 1 "$CHAP_USER" "$CHAP_SECRET"
}
check "tgtd serves a ${LUN_MIB} MiB file LUN with CHAP" serve_lun

# `ublk recover` finds the secret in the environment (the record keeps none).
export LIBISCSI_CHAP_USERNAME=$CHAP_USER LIBISCSI_CHAP_PASSWORD=$CHAP_SECRET
require "a recoverable device with $QUEUES queues comes up" \
	add_device -r 1 -q $QUEUES -d 32 "iscsi://$CHAP_USER%$CHAP_SECRET@127.0.0.1:$PORT/$IQN/1"

# json FRONT_END: `list -n ID --json` through `ublk` or `ublk.cxgb3i`, saved as $work_dir/FRONT_END.json.
json() {
	"$1" list -n "$dev_id" --json >"$work_dir/$(basename "$1").json"
}

# field FILE EXPR: a Python expression over the document `d` (the device is `dev`).
field() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
dev = d["devices"][0]
print(eval(sys.argv[2]))' "$1" "$2"
}

# total FILE KEY: the sum of a queue counter over the live queues.
total() {
	field "$1" "sum(q[\"live\"][\"$2\"] for q in dev[\"queues\"])"
}

show() {
	sed 's/^/#   /' "$1"
}

live_document() {
	local front file
	for front in "$ublk" "$ublk_cxgb3i"; do
		json "$front" || return 1
		file=$work_dir/$(basename "$front").json
		[[ $(field "$file" 'd["version"]') == 1 ]] &&
			[[ $(field "$file" 'dev["id"]') == "$dev_id" ]] &&
			[[ $(field "$file" 'dev["state"]') == LIVE ]] &&
			[[ $(field "$file" 'dev["url"]') == "iscsi://$CHAP_USER@127.0.0.1:$PORT/$IQN/1" ]] &&
			[[ $(field "$file" 'dev["portal"]') == "127.0.0.1:$PORT" ]] &&
			[[ $(field "$file" 'dev["device_id"] is not None') == True ]] &&
			[[ $(field "$file" 'dev["live_unavailable"]') == None ]] &&
			[[ $(field "$file" 'dev["summary"]') == "serving: $QUEUES/$QUEUES sessions up" ]] &&
			[[ $(field "$file" 'len(dev["queues"])') == "$QUEUES" ]] &&
			[[ $(field "$file" 'all(q["live"]["session_state"] == "up" for q in dev["queues"])') == True ]] &&
			[[ $(field "$file" 'all(q["live"]["tsih"] is not None for q in dev["queues"])') == True ]] &&
			[[ $(field "$file" 'dev["queues"][1]["live"]["isid"][-4:]') == 0001 ]] &&
			[[ $(field "$file" 'dev["queues"][0]["live"]["negotiated"]["max_burst_length"] > 0') == True ]] || {
			show "$file"
			return 1
		}
	done
}
check "list --json through ublk and ublk.cxgb3i: LIVE, every session up, with its parameters" live_document

no_secret_anywhere() {
	local listing
	json "$ublk" && json "$ublk_cxgb3i" && listing=$("$ublk" list -n "$dev_id") || return 1
	! grep -qF "$CHAP_SECRET" "$work_dir/ublk.json" "$work_dir/ublk.cxgb3i.json" &&
		! grep -qF "$CHAP_SECRET" <<<"$listing" &&
		grep -q "status: serving: $QUEUES/$QUEUES sessions up" <<<"$listing" &&
		grep -q "session 1: up" <<<"$listing" || {
		printf '#   %s\n' "${listing//$'\n'/$'\n'#   }"
		return 1
	}
}
check "neither the JSON nor the plain listing holds the CHAP secret" no_secret_anywhere

counters_grow() {
	json "$ublk" || return 1
	local file=$work_dir/ublk.json reads_before writes_before bytes_before ddp_before
	reads_before=$(total "$file" reads)
	writes_before=$(total "$file" writes)
	bytes_before=$(total "$file" bytes_read)
	ddp_before=$(total "$file" ddp_bytes)
	fio --name=grow --filename="$dev" --direct=1 --ioengine=libaio --rw=randrw --bs=64k \
		--iodepth=8 --numjobs=2 --size=16M --runtime=5 --time_based --group_reporting \
		--output="$work_dir/fio-grow.log" || return 1
	# An idle queue publishes at its one-second tick.
	sleep 2
	json "$ublk" || return 1
	echo "#   reads $reads_before -> $(total "$file" reads), writes $writes_before -> $(total "$file" writes), ddp bytes $ddp_before -> $(total "$file" ddp_bytes)"
	(($(total "$file" reads) > reads_before)) &&
		(($(total "$file" writes) > writes_before)) &&
		(($(total "$file" bytes_read) > bytes_before)) &&
		(($(total "$file" ddp_bytes) > ddp_before)) &&
		(($(total "$file" failed) == 0)) || {
		show "$file"
		return 1
	}
}
check "I/O and DDP counters grow with a short fio" counters_grow

reconnects_counted() {
	json "$ublk" || return 1
	local file=$work_dir/ublk.json before deadline=$((SECONDS + 60))
	before=$(total "$file" reconnects)
	ss -K dst 127.0.0.1 dport = ":$PORT" >/dev/null 2>&1 || return 1
	until json "$ublk" && (($(total "$file" reconnects) >= before + QUEUES)) &&
		[[ $(field "$file" 'dev["summary"]') == "serving: $QUEUES/$QUEUES sessions up" ]]; do
		if ((SECONDS >= deadline)); then
			show "$file"
			return 1
		fi
		sleep 0.5
	done
	echo "#   reconnects $before -> $(total "$file" reconnects), total outage $(total "$file" total_outage_ms) ms"
	dd if="$dev" of=/dev/null bs=1M count=4 iflag=direct status=none
}
check "ss -K: every queue's reconnect count grows and the device serves again" reconnects_counted

old_pid=""
quiesced_listing() {
	old_pid=$(daemon_pid_of "$dev_id")
	[[ -n $old_pid ]] && kill -KILL "$old_pid" || return 1
	local deadline=$((SECONDS + 15)) front file
	until "$ublk" list -n "$dev_id" 2>/dev/null | grep -q "state QUIESCED"; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
	for front in "$ublk" "$ublk_cxgb3i"; do
		json "$front" || return 1
		file=$work_dir/$(basename "$front").json
		[[ $(field "$file" 'dev["state"]') == QUIESCED ]] &&
			[[ $(field "$file" 'dev["url"]') == "iscsi://$CHAP_USER@127.0.0.1:$PORT/$IQN/1" ]] &&
			[[ $(field "$file" 'dev["device_id"] is not None') == True ]] &&
			[[ $(field "$file" '"not running" in dev["live_unavailable"]') == True ]] &&
			[[ $(field "$file" 'dev["summary"]') == None ]] &&
			[[ $(field "$file" 'all(q["live"] is None for q in dev["queues"])') == True ]] &&
			! grep -qF "$CHAP_SECRET" "$file" || {
			show "$file"
			return 1
		}
	done
	"$ublk" list -n "$dev_id" | grep -q "live data unavailable: the daemon (pid $old_pid) is not running"
}
check "list of a QUIESCED device (daemon killed) shows the record and says live data is unavailable" quiesced_listing

recovered_and_listed() {
	local output
	output=$(timeout 60 "$ublk" recover -n "$dev_id" 2>&1) || {
		printf '#   %s\n' "${output//$'\n'/$'\n'#   }"
		return 1
	}
	local deadline=$((SECONDS + 30)) file=$work_dir/ublk.json
	until json "$ublk" && [[ $(field "$file" 'dev["summary"]') == "serving: $QUEUES/$QUEUES sessions up" ]]; do
		if ((SECONDS >= deadline)); then
			show "$file"
			return 1
		fi
		sleep 0.5
	done
	[[ $(field "$file" 'dev["state"]') == LIVE ]] &&
		[[ $(daemon_pid_of "$dev_id") != "$old_pid" ]]
}
check "ublk recover brings it back and list shows its sessions live again" recovered_and_listed

deleted() {
	del_device && [[ ! -e /run/ublk-cxgb3i/$dev_id.sock ]]
}
check "ublk del removes the device and its status socket" deleted

finish
