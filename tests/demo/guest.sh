#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of make demo.
set -u

step() {
	printf '\n== %s\n' "$*"
}

step "guest kernel"
uname -sr

step "module"
modinfo -F filename "$SHADOW_KO"
for f in version license description srcversion; do
	printf '%-12s %s\n' "$f:" "$(modinfo -F "$f" "$SHADOW_KO")"
done
grep '^dm_shadow ' /proc/modules

step "device-mapper targets registered (dmsetup targets)"
dmsetup targets

step "shadowctl version"
"$SHADOW_TOP/build/shadowctl" version

step "kernel log"
dmesg | grep -E 'device-mapper: (shadow|ioctl)'
