#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bad table lines are refused and nothing is written to the store; a
# damaged store is refused with a clear error.
. "$(dirname "$0")/lib/shadow.sh"

require md5sum dd
trap cleanup_all EXIT

make_disks 8 16
dd if=/dev/zero of=$STORE_DEV bs=1M count=16 oflag=direct 2>/dev/null
zsum=$(sum_dev $STORE_DEV)
O="0 $ORIGIN_SECTORS shadow-origin $ORIGIN_DEV $STORE_DEV"
bad_lines=(
	"0 $ORIGIN_SECTORS shadow-origin $ORIGIN_DEV"
	"$O 2 chunk_size 12"
	"$O 2 chunk_size 4"
	"$O 2 chunk_size 4096"
	"$O 2 overflow sometimes"
	"$O 1 chunk_size"
	"$O 3 chunk_size 8"
	"$O 2 frobnicate 1"
	"$O 2 low_water 0"
	"$O 4 low_water 90 high_water 80"
	"$O 4 chunk_size 8 chunk_size 16"
	"$O 2 chunk_size 8 extra"
	"0 $ORIGIN_SECTORS shadow-origin $ORIGIN_DEV $ORIGIN_DEV"
	"0 $((ORIGIN_SECTORS * 2)) shadow-origin $ORIGIN_DEV $STORE_DEV"
	"0 $ORIGIN_SECTORS shadow-origin /dev/nonexistent $STORE_DEV"
)
tap_header $(( ${#bad_lines[@]} + 7 ))
for l in "${bad_lines[@]}"; do
	check "refused: ${l#0 $ORIGIN_SECTORS }" fails $DMSETUP create vol --table "$l" 2>/dev/null
	$DMSETUP remove vol >/dev/null 2>&1
done
check "store untouched by refused tables" [ "$(sum_dev $STORE_DEV)" = "$zsum" ]
check "snapshot of a non-origin refused" fails $DMSETUP create snapx --table "0 1024 shadow $ORIGIN_DEV 1" 2>/dev/null
origin_up chunk_size 16
check "unknown snapshot id refused" fails snap_up snapx 7 2>/dev/null
check "chunk size mismatch with store refused" bash -c "$DMSETUP remove vol; ! $DMSETUP create vol --table '$O 2 chunk_size 32' 2>/dev/null"
# damage superblock copy A: copy B still loads
dd if=/dev/urandom of=$STORE_DEV bs=4096 count=1 seek=0 conv=notrunc oflag=direct 2>/dev/null
check "one damaged superblock tolerated" origin_up
origin_down
dd if=/dev/urandom of=$STORE_DEV bs=4096 count=1 seek=1 conv=notrunc oflag=direct 2>/dev/null
check "two damaged superblocks refused" fails origin_up 2>/dev/null
dmesg | grep 'shadow' | tail -3 | sed 's/^/# /'
dd if=/dev/zero of=$STORE_DEV bs=4096 count=1 oflag=direct 2>/dev/null
check "zeroed store is formatted again" origin_up
test_done
