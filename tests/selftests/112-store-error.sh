#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A store that fails under the origin: the origin keeps working and keeps
# its data, the snapshots that depended on the store are invalidated (their
# reads fail), and the status says so.

. "$(dirname "$0")/lib/shadow.sh"

require md5sum dd
trap cleanup_all EXIT
tap_header

make_disks 16 32
write_random $ORIGIN_DEV 0 $((16 * 1024))
check "origin table created" origin_up chunk_size 16
id=$(snap_create before-error)
check "snapshot created" [ "$id" = 1 ]
check "snapshot device created" snap_up snap1 "$id"
snap_sum=$(sum_dev /dev/mapper/snap1)

# The store now fails every I/O, as a dead disk does.
$DMSETUP suspend tst-sstore &&
	$DMSETUP reload tst-sstore --table "0 $STORE_SECTORS error" &&
	$DMSETUP resume tst-sstore || bail "cannot replace the store with an error target"

pattern=$(mktemp)
dd if=/dev/urandom of="$pattern" bs=64K count=4 2>/dev/null
check "origin write needing a copy succeeds" \
	dd if="$pattern" of=/dev/mapper/vol bs=64K seek=10 oflag=direct conv=notrunc status=none
check "origin reads back what was written" \
	cmp -s "$pattern" <(dd if=/dev/mapper/vol bs=64K skip=10 count=4 iflag=direct status=none)
check "later origin writes succeed too" \
	dd if=/dev/urandom of=/dev/mapper/vol bs=4K seek=100 count=8 oflag=direct conv=notrunc status=none

st=$($DMSETUP status snap1)
diag "snapshot status: $st"
check "snapshot status says Invalid" grep -qw Invalid <<<"$st"
check "snapshot read fails with an I/O error" \
	fails dd if=/dev/mapper/snap1 of=/dev/null bs=64K count=16 iflag=direct status=none
diag "origin status: $($DMSETUP status vol)"
diag "snapshot content was $snap_sum before the store died"
ost=$($DMSETUP message vol 0 list 2>&1)
diag "list: $ost"
check "the origin reports the snapshot invalid or the store failed" \
	bash -c "grep -qw invalid <<<'$ost' || $DMSETUP status vol | grep -qw Fail"
rm -f "$pattern"

# The disk comes back.  The failure must survive a reload: origin writes
# went unpreserved while the store was failed, so snapshot 1 would read
# wrong data if the store were trusted again.
$DMSETUP remove snap1
$DMSETUP suspend tst-sstore &&
	$DMSETUP reload tst-sstore --table "0 $STORE_SECTORS linear /dev/ram1 0" &&
	$DMSETUP resume tst-sstore || bail "cannot bring the store back"
check "origin removed (the failure is recorded on the way)" origin_down
check "origin loads again over the failed store" origin_up
st=$($DMSETUP status vol)
diag "status after reload: $st"
check "status still says Fail" grep -qw Fail <<<"$st"
check "snapshot 1 is still listed, invalid" \
	grep -q '^1 rw invalid' <<<"$($DMSETUP message vol 0 list)"
check "snapshot 1 cannot be activated" fails snap_up snap1 1
check "no new snapshot on a failed store" fails snap_create
check "origin writes still succeed" \
	dd if=/dev/urandom of=/dev/mapper/vol bs=4K seek=200 count=8 oflag=direct conv=notrunc status=none
origin_down
out=$("$SHADOWCTL" store check "$STORE_DEV")
diag "$out"
check "store check reports the Fail state" grep -q '^state: Fail' <<<"$out"
test_done
