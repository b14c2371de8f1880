# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file
# Shared by scripts/install and scripts/uninstall (source it): their options and where each
# installed file goes. Defines functions and variables only.

# Options (set by parse_install_options).
prefix=/usr/local
destdir=
build=1
bin_dir=

install_usage() {
	cat <<EOF
usage: ${0##*/} [--prefix DIR] [--destdir DIR] [--no-build] [--bin-dir DIR]
  --prefix DIR    installation prefix (default /usr/local); configuration goes to /etc
  --destdir DIR   stage everything under DIR (for packaging and tests): nothing is reloaded
  --no-build      (install) use the binaries already built instead of running cargo
  --bin-dir DIR   (install) take ublk-cxgb3i and ublk from DIR (default target/release)
EOF
}

install_die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

parse_install_options() {
	while (($#)); do
		case $1 in
		--prefix | --destdir | --bin-dir)
			(($# >= 2)) || install_die "$1 needs a value"
			case $1 in
			--prefix) prefix=$2 ;;
			--destdir) destdir=$2 ;;
			--bin-dir) bin_dir=$2 ;;
			esac
			shift
			;;
		--prefix=*) prefix=${1#*=} ;;
		--destdir=*) destdir=${1#*=} ;;
		--bin-dir=*) bin_dir=${1#*=} ;;
		--no-build) build=0 ;;
		-h | --help)
			install_usage
			exit 0
			;;
		*)
			install_usage >&2
			install_die "unknown option: $1"
			;;
		esac
		shift
	done
	[[ $prefix == /* ]] || install_die "--prefix must be an absolute path: $prefix"
	# /usr/local/ and /usr/local name the same place; "/" stays "/".
	[[ $prefix == / ]] || prefix=${prefix%/}
	if [[ -n $destdir ]]; then
		mkdir -p "$destdir"
		destdir=$(cd "$destdir" && pwd)
		[[ $destdir != / ]] || destdir=
	fi
	set_install_layout
}

# Where everything goes, for $prefix (paths without $destdir).
set_install_layout() {
	local base=${prefix%/}
	sbindir=$base/sbin
	bindir=$base/bin
	man8dir=$base/share/man/man8
	bash_completion_dir=$base/share/bash-completion/completions
	zsh_completion_dir=$base/share/zsh/site-functions
	fish_completion_dir=$base/share/fish/vendor_completions.d
	data_dir=$base/share/ublk-cxgb3i
	manifest=$data_dir/installed-files
	# The programs read their configuration from /etc/ublk-cxgb3i whatever the prefix.
	config_dir=/etc/ublk-cxgb3i
	# systemd-udevd (Debian 12's systemd 252) reads rules from /etc/udev/rules.d,
	# /run/udev/rules.d, /usr/local/lib/udev/rules.d and /usr/lib/udev/rules.d only, and
	# systemd looks for units and generators in the same places: under another prefix the
	# rule, units and generators go to /etc, where they are found.
	case $prefix in
	/usr | /usr/local)
		udev_rules_dir=$prefix/lib/udev/rules.d
		systemd_unit_dir=$prefix/lib/systemd/system
		systemd_generator_dir=$prefix/lib/systemd/system-generators
		;;
	*)
		udev_rules_dir=/etc/udev/rules.d
		systemd_unit_dir=/etc/systemd/system
		systemd_generator_dir=/etc/systemd/system-generators
		;;
	esac
}

# After a real install or uninstall (no --destdir): systemd and udevd read what changed, if
# they are running here; otherwise nothing to do.
reload_system_managers() {
	[[ -z $destdir ]] || return 0
	if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
		systemctl daemon-reload && echo "${0##*/}: systemctl daemon-reload"
	fi
	if command -v udevadm >/dev/null 2>&1 && udevadm control --ping --timeout=2 >/dev/null 2>&1; then
		udevadm control --reload && echo "${0##*/}: udevadm control --reload"
	fi
	return 0
}
