#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# An origin table loaded read-only (dmsetup --readonly) never writes its
# store: create, delete and set_readonly are refused, a writable snapshot
# over it is refused, a read-only snapshot still reads, and the store is
# byte-identical afterwards.

. "$(dirname "$0")/lib/shadow.sh"

require md5sum dd
trap cleanup_all EXIT
tap_header 8

make_disks 16 32
write_random $ORIGIN_DEV 0 $((16 * 1024))
origin_up chunk_size 16 || bail "origin table"
snap_sum=$(sum_dev /dev/mapper/vol)
id=$(snap_create kept)
write_random /dev/mapper/vol 0 512
$DMSETUP remove vol || bail "cannot remove the origin"

store_before=$(sum_dev "$STORE_DEV")
check "read-only origin table loads" \
	$DMSETUP create vol --readonly --table \
	"0 $ORIGIN_SECTORS shadow-origin $ORIGIN_DEV $STORE_DEV 2 chunk_size 16"
$DMSETUP mknodes vol >/dev/null 2>&1
check "create is refused" fails $DMSETUP message vol 0 create
check "delete is refused" fails $DMSETUP message vol 0 delete "$id"
check "set_readonly is refused" fails $DMSETUP message vol 0 set_readonly "$id"
check "a writable snapshot is refused" fails snap_up snaprw "$id" rw
check "a read-only snapshot loads" snap_up snapro "$id" ro
check "the read-only snapshot reads its creation content" \
	[ "$(sum_dev /dev/mapper/snapro)" = "$snap_sum" ]
snap_down snapro
$DMSETUP remove vol
check "the store is byte-identical" [ "$(sum_dev "$STORE_DEV")" = "$store_before" ]
test_done
