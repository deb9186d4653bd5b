#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A copy that fails on a bad store chunk (the metadata still works) costs
# only the snapshots that read that chunk from the origin: an older
# snapshot that has the chunk in the store already stays valid and reads
# what it held.  The origin write succeeds, an event says which snapshots
# were lost, and the store is not failed.

. "$(dirname "$0")/lib/shadow.sh"

require md5sum dd python3
trap cleanup_all EXIT
tap_header

make_disks 16 32
write_random $ORIGIN_DEV 0 $((16 * 1024))
check "origin table created (8 KiB chunks)" origin_up chunk_size 16
check "snapshot 1" [ "$(snap_create)" = 1 ]
# chunk 0 is copied for snapshot 1: store chunk 0 holds it
write_random /dev/mapper/vol 0 8
check "snapshot 2" [ "$(snap_create)" = 2 ]
snap_up snap1 1
sum1=$(sum_dev /dev/mapper/snap1)
snap_down snap1

# From the second data chunk on, the store fails every I/O; the metadata
# and the first data chunk still work.  The data area starts at the
# superblock's data_start.
data_start=$(python3 -c '
import os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
sb = os.pread(fd, 4096, 0)
print(struct.unpack_from("<Q", sb, 56)[0])' "$STORE_DEV")
good=$((data_start + 16))
diag "data area from sector $data_start; errors from $good"
$DMSETUP suspend tst-sstore &&
	$DMSETUP reload tst-sstore --table "0 $good linear /dev/ram1 0
$good $((STORE_SECTORS - good)) error" &&
	$DMSETUP resume tst-sstore || bail "cannot put an error range under the store"

python3 - >/tmp/events <<'PY' &
import os, sys
sys.path.insert(0, os.path.join(os.environ["SHADOW_TOP"], "tests/selftests/lib"))
import genl
g = genl.Genl()
g.subscribe()
open("/tmp/listening", "w").close()
for e in g.events(timeout=20):
    print(e[1], e[3])
PY
lpid=$!
for _ in $(seq 1 100); do [ -e /tmp/listening ] && break; sleep 0.2; done

# chunk 0 again: snapshot 2 reads it from the origin, 1 from the store
check "origin write over a failing copy succeeds" \
	dd if=/dev/urandom of=/dev/mapper/vol bs=8K seek=0 count=1 oflag=direct conv=notrunc status=none
list=$($DMSETUP message vol 0 list)
diag "list: $(tr '\n' ';' <<<"$list")"
check "the store is not failed" fails grep -qw Fail <<<"$($DMSETUP status vol)"
check "snapshot 2 is invalid" grep -q '^2 rw invalid' <<<"$list"
check "snapshot 1, which has chunk 0 in the store, stays valid" \
	grep -q '^1 rw valid' <<<"$list"
snap_up snap1 1
check "and reads what it held" [ "$(sum_dev /dev/mapper/snap1)" = "$sum1" ]
snap_down snap1
# chunk 5: snapshot 1 reads it from the origin too
check "a second failing copy: the write still succeeds" \
	dd if=/dev/urandom of=/dev/mapper/vol bs=8K seek=5 count=1 oflag=direct conv=notrunc status=none
check "now snapshot 1 is invalid as well" \
	grep -q '^1 rw invalid' <<<"$($DMSETUP message vol 0 list)"
wait $lpid
diag "events: $(tr '\n' ';' < /tmp/events)"
check "an invalidation event names snapshot 2" grep -q "^$(python3 -c '
import sys; sys.path.insert(0, sys.argv[1]); import genl; print(genl.SHADOW_EVENT_SNAP_INVALID)' \
	"$SHADOW_TOP/tests/selftests/lib") 2\$" /tmp/events
test_done
