#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Store full: origin writes never fail; drop_oldest drops the oldest
# snapshots only; invalidate drops all.
. "$(dirname "$0")/lib/shadow.sh"

require md5sum dd
trap cleanup_all EXIT
tap_header 7

make_disks 24 12
write_random $ORIGIN_DEV 0 24576
origin_up overflow drop_oldest high_water 80 || { not_ok "origin table"; test_done; }
total=$(origin_field 1 | cut -d/ -f2)
diag "store chunks: $total"
snap_create >/dev/null
write_random /dev/mapper/vol 0 6144
snap_create >/dev/null
s2=$(sum_dev /dev/mapper/vol)
ev0=$($DMSETUP info -c --noheadings -o events vol)
check "origin writes succeed on a full store" write_random /dev/mapper/vol 6144 8192
ev1=$($DMSETUP info -c --noheadings -o events vol)
check "oldest snapshot dropped" [ "$($DMSETUP message vol 0 list | awk '{print $1}' | tr '\n' ' ')" = "2 " ]
check "dm event raised ($ev0 -> $ev1)" [ "$ev1" -gt "$ev0" ]
snap_up snap2 2
check "newest snapshot intact" [ "$(sum_dev /dev/mapper/snap2)" = "$s2" ]
snap_down snap2
origin_down
# invalidate policy
dd if=/dev/zero of=$STORE_DEV bs=4096 count=1 oflag=direct 2>/dev/null
origin_up overflow invalidate
snap_create >/dev/null; write_random /dev/mapper/vol 0 4096
snap_create >/dev/null; write_random /dev/mapper/vol 4096 4096
check "origin writes succeed with invalidate policy" write_random /dev/mapper/vol 8192 8192
check "all snapshots gone" [ "$(origin_field 3)" = 0 ]
check "table line round-trips" [ "$($DMSETUP table vol | cut -d' ' -f6-)" = "4 chunk_size 128 overflow invalidate" ]
test_done
