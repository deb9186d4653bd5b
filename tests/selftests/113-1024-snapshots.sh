#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# 1024 live snapshots of one origin.  Between two snapshots the test stamps
# one 4 KiB block with the number of the snapshot about to follow, so every
# snapshot has its own content; a sample of snapshots is read back, and a
# first write with all 1024 live copies one chunk, not 1024.
# timeout: 1200

. "$(dirname "$0")/lib/shadow.sh"

require dd
trap cleanup_all EXIT
N=${SNAPSHOTS:-1024}
tap_header 6

make_disks 16 64
dd if=/dev/zero of=$ORIGIN_DEV bs=1M count=16 oflag=direct status=none
check "origin table created (4 KiB chunks)" origin_up chunk_size 8

stamp() {
	printf 'snapshot %05d\n' "$1"
}

# Block i holds stamp(i) from just before snapshot i+1 on.  One Python
# process does the 1024 rounds: a process per step is slow in the guest.
created=$(python3 - "$N" <<'PY'
import os
import sys
sys.path.insert(0, os.path.join(os.environ["SHADOW_TOP"], "tests/selftests/lib"))
from dmmsg import dm_message

n = int(sys.argv[1])
fd = os.open("/dev/mapper/vol", os.O_WRONLY)
created = 0
for i in range(1, n + 1):
    b = b"snapshot %05d\n" % i
    os.pwrite(fd, b + b"\0" * (4096 - len(b)), i * 4096)
    os.fsync(fd)
    got = dm_message("vol", "create").strip()
    if got != str(i):
        print("# snapshot %d got id '%s'" % (i, got), file=sys.stderr)
        break
    created = i
print(created)
PY
)
check "$N snapshots created (ids 1..$N)" [ "$created" = "$N" ]
check "status counts $N live snapshots" [ "$(origin_field 3)" = "$N" ]

# Snapshot k sees blocks 1..k stamped and block k+1 still zero.
sample="1 2 $((N / 2)) $((N - 1)) $N $((RANDOM % N + 1)) $((RANDOM % N + 1))"
bad=0
for k in $sample; do
	snap_up snapk "$k" || { bad=$((bad + 1)); continue; }
	got=$(dd if=/dev/mapper/snapk bs=4096 skip="$k" count=1 iflag=direct status=none |
	      head -c 15)
	[ "$got" = "$(stamp "$k" | head -c 15)" ] || { diag "snapshot $k block $k: '$got'"; bad=$((bad + 1)); }
	if [ "$k" -lt "$N" ]; then
		next=$(dd if=/dev/mapper/snapk bs=4096 skip=$((k + 1)) count=1 iflag=direct \
		       status=none | tr -d '\0' | wc -c)
		[ "$next" = 0 ] || { diag "snapshot $k sees block $((k + 1))"; bad=$((bad + 1)); }
	fi
	snap_down snapk
done
check "sampled snapshots ($sample) each read their own content" [ $bad = 0 ]

used0=$(store_used)
dd if=/dev/urandom of=/dev/mapper/vol bs=4096 seek=2000 count=1 oflag=direct status=none
used1=$(store_used)
diag "store chunks used: $used0 before, $used1 after one first write"
check "a first write with $N live snapshots copies one chunk" [ $((used1 - used0)) = 1 ]

id=$($DMSETUP message vol 0 delete 1 && echo deleted)
check "the oldest of $N can be deleted" [ "$id" = deleted ]
test_done
