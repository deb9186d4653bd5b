#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kernel-smoke.sh KVER: the guest half of the tests named kernel-* (see
# kernel-smoke-host.sh).  On whatever kernel the guest booted, with the
# module built for it loaded by vm-run: an origin, a snapshot, a first
# write, a read of the snapshot, the netlink interface (a dump and a frozen
# group cut of a mounted ext4), then the module unloaded.  Each step goes
# through one of the interfaces that moved between kernels (see
# kmod/shadow-compat.h).
. "$(dirname "$0")/shadow.sh"

want_kver=${1:?kernel-smoke.sh needs the kernel release}

require md5sum dd python3 mkfs.ext4 fsfreeze
trap cleanup_all EXIT
tap_header 14

check "the guest runs $want_kver (uname -r: $(uname -r))" [ "$(uname -r)" = "$want_kver" ]
check "dm-shadow.ko was built for this kernel" \
	[ "$(modinfo -F vermagic "$SHADOW_KO" | awk '{ print $1 }')" = "$want_kver" ]

make_disks 32 32
write_random $ORIGIN_DEV 0 $((32 * 1024))
before=$(sum_dev $ORIGIN_DEV)
check "origin table loads" origin_up
id=$(snap_create smoke)
check "a snapshot is created (id '$id')" [ "$id" = 1 ]
# The snapshot table opens the origin's mapped device: a block device
# opened by device number, which changed form in 6.9.
check "the snapshot device loads" snap_up snap1 1
write_random /dev/mapper/vol 100 2000
after=$(sum_dev /dev/mapper/vol)
check "the first write reached the origin" [ "$before" != "$after" ]
# The copy and its record reached the store through dm_io(), whose
# arguments changed in 7.x.
check "the store holds the copies" [ "$(store_used)" -gt 0 ]
check "the snapshot reads the content at its creation" \
	[ "$(sum_dev /dev/mapper/snap1)" = "$before" ]
dmsetup --noudevsync table snap1 | sed 's/^/# /'

# A netlink dump: its parsed attributes moved in 6.2.
out=$("$SHADOWCTL" snapshot list --json vol 2>&1)
check "shadowctl lists the snapshot over netlink" \
	python3 -c 'import json, sys; j = json.loads(sys.argv[1]); sys.exit(j["snapshots"][0]["id"] != 1)' "$out"
diag "$out"

# A group cut with the filesystem frozen: freeze_bdev() became
# bdev_freeze() in 6.8.
snap_down snap1
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/vol >/dev/null 2>&1 ||
	bail "mkfs.ext4 on the origin"
mkdir -p /tmp/smoke
mount /dev/mapper/vol /tmp/smoke || bail "mount the origin"
dd if=/dev/urandom of=/tmp/smoke/data bs=64K count=16 status=none
sum=$(md5sum </tmp/smoke/data)
out=$(python3 - /dev/mapper/vol <<'PY'
import os
import sys
sys.path.insert(0, os.path.join(os.environ["SHADOW_TOP"], "tests/selftests/lib"))
import genl
nl = genl.Genl()
dev = genl.devnum(sys.argv[1])
try:
    ids, pause = nl.create([dev], freeze=True, timeout_ms=30000)
except genl.NetlinkError as e:
    print("error %d %s" % (e.errno, e.msg))
    sys.exit(1)
print("ok %d" % ids[dev])
PY
)
diag "frozen cut: $out"
check "a frozen cut of the mounted ext4 succeeds" [ "${out%% *}" = ok ]
check "the filesystem is not left frozen" fails fsfreeze -u /tmp/smoke
id=${out##* }
snap_up snap2 "$id" || bail "snapshot $id"
mkdir -p /tmp/smoke2
check "the frozen cut mounts clean and holds the data written before it" \
	sh -c 'mount -o ro,noload /dev/mapper/snap2 /tmp/smoke2 &&
		[ "$(md5sum </tmp/smoke2/data)" = "$1" ]' _ "$sum"
umount /tmp/smoke2 2>/dev/null
umount /tmp/smoke
snap_down snap2

cleanup_all
check "the module unloads" rmmod dm_shadow
check "and is gone" fails grep -q '^dm_shadow ' /proc/modules
test_done
