#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Writes after a snapshot never change it: repeated, partial, unaligned
# and multi-chunk writes, and discards.
. "$(dirname "$0")/lib/shadow.sh"

require md5sum dd
trap cleanup_all EXIT
tap_header 6

make_disks 16 32
write_random $ORIGIN_DEV 0 16384
origin_up || { not_ok "origin table"; test_done; }
s1=$(sum_dev /dev/mapper/vol)
snap_create >/dev/null
snap_up snap1 1
check "snapshot equals origin at creation" [ "$(sum_dev /dev/mapper/snap1)" = "$s1" ]
for _ in 1 2 3; do
	write_random /dev/mapper/vol 0 4
	write_random /dev/mapper/vol 61 3
	dd if=/dev/urandom of=/dev/mapper/vol bs=512 seek=1001 count=3 conv=notrunc 2>/dev/null
	write_random /dev/mapper/vol 1000 300
done
sync
check "repeated partial writes leave the snapshot alone" [ "$(sum_dev /dev/mapper/snap1)" = "$s1" ]
s2=$(sum_dev /dev/mapper/vol)
snap_create >/dev/null
blkdiscard -o 0 -l 4194304 /dev/mapper/vol 2>/dev/null
write_random /dev/mapper/vol 8000 1024
snap_up snap2 2
check "first snapshot still intact" [ "$(sum_dev /dev/mapper/snap1)" = "$s1" ]
check "second snapshot intact after discard and writes" [ "$(sum_dev /dev/mapper/snap2)" = "$s2" ]
# concurrent writers to the same chunks while a snapshot is read
s3=$(sum_dev /dev/mapper/vol)
snap_create >/dev/null
snap_up snap3 3
for _ in 1 2 3 4; do
	( for _ in $(seq 1 20); do write_random /dev/mapper/vol $(( (RANDOM % 64) * 4 )) 4; done ) &
done
r=$(sum_dev /dev/mapper/snap3)
wait
check "snapshot read during concurrent origin writes" [ "$r" = "$s3" ]
check "snapshot stable after writers finished" [ "$(sum_dev /dev/mapper/snap3)" = "$s3" ]
test_done
