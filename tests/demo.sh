#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: the whole system at work in a test guest.
#
# For now (the target is being written) it boots the guest, loads
# dm-shadow.ko, and shows the module and the targets it registers.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
echo "dm-shadow demo: booting the test guest (Debian 6.1 kernel, software emulation)"
exec "$top/tests/vm/vm-run" -t 300 -- "$top/tests/demo/guest.sh"
