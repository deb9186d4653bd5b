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
# One Python process creates the snapshots and remembers what each one
# must read: a process per step is slow in the emulated guest.
python3 - "$N" >/tmp/sums <<'PY'
import hashlib
import os
import random
import sys
sys.path.insert(0, os.path.join(os.environ["SHADOW_TOP"], "tests/selftests/lib"))
from dmmsg import dm_message

n = int(sys.argv[1])
fd = os.open("/dev/mapper/vol", os.O_RDWR)
size = os.lseek(fd, 0, os.SEEK_END)
rnd = random.Random(102)
for i in range(1, n + 1):
    os.fsync(fd)
    content = os.pread(fd, size, 0)
    sid = dm_message("vol", "create s%d" % i).strip()
    print(sid, hashlib.md5(content).hexdigest(), flush=True)
    os.pwrite(fd, rnd.randbytes(8192), rnd.randrange(1000) * 4096)
os.fsync(fd)
os.close(fd)
PY
check "$N snapshots created with ids 1..$N" \
	[ "$(awk '{print $1}' /tmp/sums | tr '\n' ' ')" = "$(seq -s ' ' 1 "$N") " ]
check "status shows $N snapshots" [ "$(origin_field 3)" = "$N" ]

# every snapshot would take a minute of process starts: check the first,
# the last and every fourth
bad=0
checked=0
while read -r i sum; do
	[ "$i" = 1 ] || [ "$i" = "$N" ] || [ $((i % 4)) = 0 ] || continue
	checked=$((checked + 1))
	snap_up snap "$i" || { bad=$((bad + 1)); continue; }
	[ "$(sum_dev /dev/mapper/snap)" = "$sum" ] || {
		diag "snapshot $i differs"
		bad=$((bad + 1))
	}
	snap_down snap
done </tmp/sums
check "$checked of $N snapshots read their creation content" [ $bad = 0 -a $checked -gt 30 ]

# one write to a fresh chunk with N snapshots live: exactly one copy
used=$(store_used)
write_random /dev/mapper/vol 4000 4
check "one copy for $N snapshots ($used -> $(store_used))" \
	[ $(( $(store_used) - used )) -le 1 ]
write_random /dev/mapper/vol 4000 4
check "rewrite of a preserved chunk copies nothing" \
	[ $(( $(store_used) - used )) -le 1 ]
test_done
