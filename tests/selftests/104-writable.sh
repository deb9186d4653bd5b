#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Writable snapshots: writes land in private chunks; the origin and other
# snapshots are not affected; the data survives a reload.
. "$(dirname "$0")/lib/shadow.sh"

require md5sum dd cmp
trap cleanup_all EXIT
tap_header 8

make_disks 8 32
write_random $ORIGIN_DEV 0 8192
origin_up || { not_ok "origin table"; test_done; }
s0=$(sum_dev /dev/mapper/vol)
snap_create >/dev/null
snap_create >/dev/null
same_as_pat()
{
	dd if=/dev/mapper/snapw of=/tmp/got bs=1K skip=10 count=100 iflag=direct 2>/dev/null
	cmp /tmp/pat /tmp/got
}
check "writable snapshot device" snap_up snapw 1 rw
dd if=/dev/urandom of=/tmp/pat bs=1K count=100 2>/dev/null
dd if=/tmp/pat of=/dev/mapper/snapw bs=1K seek=10 conv=notrunc oflag=direct 2>/dev/null
dd if=/tmp/pat of=/dev/mapper/snapw bs=1K seek=4096 count=64 conv=notrunc oflag=direct 2>/dev/null
check "snapshot reads back its write" same_as_pat
check "origin unchanged by snapshot write" [ "$(sum_dev /dev/mapper/vol)" = "$s0" ]
snap_up snap2 2
check "other snapshot unchanged" [ "$(sum_dev /dev/mapper/snap2)" = "$s0" ]
# origin write after snapshot write: snapshot keeps its own data
write_random /dev/mapper/vol 0 8192
check "snapshot keeps its write after origin overwrite" same_as_pat
check "other snapshot still creation content" [ "$(sum_dev /dev/mapper/snap2)" = "$s0" ]
sw=$(sum_dev /dev/mapper/snapw)
snap_down snapw; snap_down snap2; origin_down
origin_up
snap_up snapw 1 rw
check "writable snapshot survives reload" [ "$(sum_dev /dev/mapper/snapw)" = "$sw" ]
$DMSETUP message vol 0 set_readonly 2
snap_down snapw
check "rw activation of a read-only snapshot refused" fails snap_up snapx 2 rw
test_done
