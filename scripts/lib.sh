# shellcheck shell=bash
# Shared helpers for scripts/install-deps, scripts/vm-run and tests/vm/run-suite.
# Source it; it defines functions and variables only.

# Everything install-deps fetches by itself (private apt state, unpacked kernels, the
# virtme-ng venv) lives here, so the system's own apt state is never touched.
UBLK_CACHE_DIR=${UBLK_CXGB3I_CACHE:-/var/cache/ublk-cxgb3i}

# install-deps records the kernel it installed here (one line: the kernel release,
# e.g. 7.3.4+deb13-amd64).
UBLK_KERNEL_RECORD="$UBLK_CACHE_DIR/kernel-release"

# virtme-ng lives in its own venv built from the system python (/usr/bin/python3), so
# neither pyenv nor PEP 668 "externally managed" rules decide where `vng` ends up.
UBLK_VENV_DIR="$UBLK_CACHE_DIR/venv"

ublk_die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# Prints the release of the kernel install-deps installed (the name of its directory in
# /usr/lib/modules). Fails if there is none.
ublk_kernel_release() {
	local release
	[[ -r $UBLK_KERNEL_RECORD ]] || return 1
	release=$(<"$UBLK_KERNEL_RECORD")
	[[ -n $release && -r /usr/lib/modules/$release/vmlinuz ]] || return 1
	printf '%s\n' "$release"
}

# Prints the path of the `vng` entry point, preferring our venv over anything on PATH.
ublk_vng_path() {
	if [[ -x $UBLK_VENV_DIR/bin/vng ]]; then
		printf '%s\n' "$UBLK_VENV_DIR/bin/vng"
	else
		command -v vng
	fi
}
