# shellcheck shell=bash
# The TAP-like check every VM test uses (source it): `check DESCRIPTION COMMAND...` runs the
# command, prints ok / not ok and counts failures in $failures.

failures=0
check() {
	local description=$1
	shift
	if "$@"; then
		echo "ok - $description"
	else
		echo "not ok - $description"
		failures=$((failures + 1))
		return 1
	fi
}
