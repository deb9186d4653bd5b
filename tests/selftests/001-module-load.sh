#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dm-shadow.ko loads, registers its target types, and unloads and
# reloads cleanly.

. "$(dirname "$0")/lib/test_common.sh"
require_guest
require_cmd dmsetup modinfo

tap_header 7

ko=${SHADOW_KO:?}
check "modinfo reports license GPL" \
	test "$(modinfo -F license "$ko")" = GPL
check "modinfo reports a version" \
	test -n "$(modinfo -F version "$ko")"

# The harness has loaded it already; start from a clean state.
if grep -q '^dm_shadow ' /proc/modules; then
	rmmod dm_shadow || bail "cannot unload the module the harness loaded"
fi
check "dmsetup targets lists neither target before loading" \
	bash -c '! dmsetup targets | grep -q "^shadow"'

check "insmod succeeds" insmod "$ko"
targets=$(dmsetup targets)
check "shadow-origin target is registered" grep -q '^shadow-origin ' <<<"$targets"
check "shadow target is registered" grep -q '^shadow ' <<<"$targets"

for _ in 1 2 3; do
	rmmod dm_shadow && insmod "$ko" || break
done
rmmod dm_shadow
check "rmmod leaves no shadow target registered" \
	bash -c '! dmsetup targets | grep -q "^shadow"'
insmod "$ko"

test_done
