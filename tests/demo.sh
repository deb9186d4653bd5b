#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: the whole system at work in a test guest.
#
# Boots one guest (tests/vm/vm-run), loads dm-shadow.ko and runs
# tests/demo/guest.sh: a volume under dm-shadow with a filesystem and
# files, shadowd, one FSRVP shadow copy set through every phase over the
# daemon's socket, the exposed copy against the live volume after
# changes, the store's use (shadowctl).  Exits non-zero when a step fails.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
echo "dm-shadow demo: booting the test guest (Debian 6.1 kernel, software emulation)"
"$top/tests/vm/vm-run" -t 600 -- "$top/tests/demo/guest.sh"
rc=$?
if [ $rc = 0 ]; then
	echo "dm-shadow demo: done"
else
	echo "dm-shadow demo: FAILED (exit $rc)" >&2
fi
exit $rc
