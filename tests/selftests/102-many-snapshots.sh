#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# 120 snapshots with writes in between; every snapshot verified against
# the checksum taken at its creation.  Also checks that the first write
# after many snapshots copies one chunk, not one per snapshot.
# timeout: 900

. "$(dirname "$0")/lib/shadow.sh"

N=${N:-120}
require md5sum dd
trap cleanup_all EXIT
tap_header 5

make_disks 4 64
write_random $ORIGIN_DEV 0 4096
origin_up chunk_size 8 || { not_ok "origin table"; test_done; }
declare -a sums
ok_create=1
for i in $(seq 1 $N); do
	sums[$i]=$(sum_dev /dev/mapper/vol)
	id=$(snap_create "s$i")
	[ "$id" = "$i" ] || ok_create=0
	write_random /dev/mapper/vol $(( (RANDOM % 1000) * 4 )) 8
done
check "$N snapshots created with ids 1..$N" [ $ok_create = 1 ]
check "status shows $N snapshots" [ "$(origin_field 3)" = "$N" ]

bad=0
for i in $(seq 1 $N); do
	snap_up snap "$i" || { bad=$((bad + 1)); continue; }
	[ "$(sum_dev /dev/mapper/snap)" = "${sums[$i]}" ] || {
		diag "snapshot $i differs"
		bad=$((bad + 1))
	}
	snap_down snap
done
check "all $N snapshots read their creation content" [ $bad = 0 ]

# one write to a fresh chunk with N snapshots live: exactly one copy
used=$(store_used)
write_random /dev/mapper/vol 4000 4
check "one copy for $N snapshots ($used -> $(store_used))" \
	[ $(( $(store_used) - used )) -le 1 ]
write_random /dev/mapper/vol 4000 4
check "rewrite of a preserved chunk copies nothing" \
	[ $(( $(store_used) - used )) -le 1 ]
test_done
