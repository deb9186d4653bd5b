#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Create a snapshot, overwrite the origin, verify the snapshot still reads
# the content at creation; the origin reads the new content.
. "$(dirname "$0")/lib/shadow.sh"

require md5sum dd
trap cleanup_all EXIT
tap_header 9

make_disks 32 32
write_random $ORIGIN_DEV 0 $((32 * 1024))
check "origin table created" origin_up
before=$(sum_dev /dev/mapper/vol)
id=$(snap_create first)
check "create returns id 1 (got '$id')" [ "$id" = 1 ]
check "status shows one snapshot" [ "$(origin_field 3)" = 1 ]
write_random /dev/mapper/vol 100 2000
write_random /dev/mapper/vol 20000 64
after=$(sum_dev /dev/mapper/vol)
check "origin changed" [ "$before" != "$after" ]
check "store holds copies" [ "$(store_used)" -gt 0 ]
check "snapshot device created" snap_up snap1 1
check "snapshot reads creation content" [ "$(sum_dev /dev/mapper/snap1)" = "$before" ]
check "origin reads new content" [ "$(sum_dev /dev/mapper/vol)" = "$after" ]
check "snapshot write refused (ro)" fails dd if=/dev/zero of=/dev/mapper/snap1 bs=4k count=1 oflag=direct 2>/dev/null
$DMSETUP status vol | sed 's/^/# /'
$DMSETUP message vol 0 list | sed 's/^/# /'
test_done
