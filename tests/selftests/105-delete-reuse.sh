#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Delete frees exactly the chunks no other snapshot needs, and they are
# reused; an open snapshot cannot be deleted.
. "$(dirname "$0")/lib/shadow.sh"

require md5sum dd
trap cleanup_all EXIT
tap_header 8

make_disks 8 16
write_random $ORIGIN_DEV 0 8192
origin_up || { not_ok "origin table"; test_done; }
snap_create >/dev/null
write_random /dev/mapper/vol 0 4096
u1=$(store_used)
s2sum=$(sum_dev /dev/mapper/vol)
snap_create >/dev/null
write_random /dev/mapper/vol 0 8192
u2=$(store_used)
check "copies counted ($u1, $u2)" [ "$u1" -gt 0 ] && [ "$u2" -gt "$u1" ]
snap_up snap2 2
check "delete of an open snapshot refused" fails $DMSETUP message vol 0 delete 2
check "delete snapshot 1" $DMSETUP message vol 0 delete 1
u3=$(store_used)
check "delete of 1 frees only its chunks ($u2 -> $u3)" [ "$u3" -lt "$u2" ] && [ "$u3" -gt 0 ]
check "snapshot 2 intact after deleting 1" [ "$(sum_dev /dev/mapper/snap2)" = "$s2sum" ]
snap_down snap2
$DMSETUP message vol 0 delete 2
check "store empty after deleting all ($(store_used))" [ "$(store_used)" = 0 ]
total=$(origin_field 1 | cut -d/ -f2)
ok_reuse=1
for _ in 1 2 3 4; do
	snap_create >/dev/null
	write_random /dev/mapper/vol 0 8192
	id=$($DMSETUP message vol 0 list | awk '{print $1}' | head -1)
	$DMSETUP message vol 0 delete "$id" || ok_reuse=0
done
check "space reused over 4 rounds (used $(store_used)/$total)" [ $ok_reuse = 1 ] && [ "$(store_used)" = 0 ]
check "no snapshot dropped" [ "$(origin_field 3)" = 0 ]
test_done
