#!/usr/bin/env bash
# VM test: ext4, xfs, blkdiscard and fio verify on a 512-byte-block LUN, copy and zero copy.
set -uo pipefail
BLOCK=512
# shellcheck source-path=SCRIPTDIR source=lib/fs-test.sh
source "$(dirname "$0")/lib/fs-test.sh"
