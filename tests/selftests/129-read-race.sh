#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Snapshot reads that go to the origin as one bio over a run of chunks
# (Documentation/admin-guide/dm-shadow.rst, "Snapshot reads") racing
# origin writes of the same chunks, at 4 KiB and 64 KiB chunks: every byte
# a snapshot read returns is what the origin held at the cut, while
# multi-chunk origin writes are copied out and more snapshots are cut
# (lib/read_race.py).  Then the origin's own multi-chunk reads and writes
# with no snapshot.  SEED may be set; it is printed.
# timeout: 600

. "$(dirname "$0")/lib/shadow.sh"

require python3 md5sum
trap cleanup_all EXIT
tap_header 9

SEED=${SEED:-$RANDOM}
SECS=${RACE_SECS:-20}
diag "seed $SEED, $SECS s per chunk size"
RACE=$(dirname "$0")/lib/read_race.py

for cs in 8 128; do
	make_disks 16 128
	write_random "$ORIGIN_DEV" 0 16384
	origin_up chunk_size "$cs" ||
		{ not_ok "origin table, chunk_size $cs"; continue; }
	snap_create >/dev/null
	snap_up snap1 1
	out=$(python3 "$RACE" /dev/mapper/vol /dev/mapper/snap1 "$SECS" \
		"$SEED" vol 2>&1)
	rc=$?
	printf '%s\n' "$out" | while read -r l; do diag "$l"; done
	check "chunk_size $cs: snapshot reads racing origin writes read the cut" \
		[ $rc -eq 0 ]
	st=$($DMSETUP status snap1)
	check "chunk_size $cs: the first snapshot is still valid ($st)" \
		fails grep -qw Invalid <<<"$st"
	# a snapshot of the idle origin reads it exactly, in large reads
	sync
	id=$(snap_create)
	snap_up snapl "$id"
	check "chunk_size $cs: a new snapshot reads what the origin holds" \
		[ "$(sum_dev /dev/mapper/snapl)" = "$(sum_dev /dev/mapper/vol)" ]
	$DMSETUP remove snapl snap1
	origin_down
	cleanup_all
done

# no snapshot: writes of many chunks go down whole and read back
make_disks 16 32
origin_up chunk_size 8 || not_ok "origin table"
dd if=/dev/urandom of=/tmp/race129 bs=1M count=4 2>/dev/null
dd if=/tmp/race129 of=/dev/mapper/vol bs=1M seek=3 oflag=direct conv=notrunc 2>/dev/null
check "1 MiB writes and reads with no snapshot" \
	cmp -s /tmp/race129 <(dd if=/dev/mapper/vol bs=1M skip=3 count=4 iflag=direct 2>/dev/null)
snap_create >/dev/null
snap_up snap1 1
dd if=/dev/urandom of=/dev/mapper/vol bs=1M seek=3 count=4 oflag=direct conv=notrunc 2>/dev/null
check "after a snapshot, the same range rewritten in 1 MiB writes: the snapshot keeps it" \
	cmp -s /tmp/race129 <(dd if=/dev/mapper/snap1 bs=1M skip=3 count=4 iflag=direct 2>/dev/null)
check "the snapshot's unchanged chunks read the origin" \
	[ "$(dd if=/dev/mapper/snap1 bs=1M count=3 iflag=direct 2>/dev/null | md5sum)" = \
	  "$(dd if=/dev/mapper/vol bs=1M count=3 iflag=direct 2>/dev/null | md5sum)" ]
rm -f /tmp/race129
test_done
