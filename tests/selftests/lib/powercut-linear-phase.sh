#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of 010-powercut-linear.host.
#   write          endless numbered fsync'd writes to a dm-linear over vda,
#                  each acknowledged one appended to $VM_OUT/acked
#   verify ACKED   every block named in ACKED holds its number

. "$(dirname "$0")/test_common.sh"

dev=/dev/vda
n=$(sectors $dev)
dm create pcl --table "0 $n linear $dev 0" || bail "dmsetup create failed"
on_exit "dm_remove pcl"

exec python3 - "$1" /dev/mapper/pcl "${2:-$VM_OUT/acked}" <<'PY'
import os
import sys

mode, dev, acked = sys.argv[1:4]
BS = 4096


def stamp(i):
    s = b"dm-shadow powercut block %08d\n" % i
    return s + b"\0" * (BS - len(s))


fd = os.open(dev, os.O_RDWR)
blocks = os.lseek(fd, 0, os.SEEK_END) // BS
if mode == "write":
    with open(acked, "w", buffering=1) as log, open("/dev/console", "w") as con:
        con.write("powercut-linear: writing\n")
        con.flush()
        for i in range(blocks):
            os.pwrite(fd, stamp(i), i * BS)
            os.fsync(fd)
            log.write("%d\n" % i)
    print("wrote the whole device before the power cut")
    sys.exit(0)

done = [int(x) for x in open(acked)]
lost = [i for i in done if os.pread(fd, BS, i * BS) != stamp(i)]
print("# %d acknowledged blocks checked, %d lost %s" % (len(done), len(lost), lost[:10]))
sys.exit(1 if lost or not done else 0)
PY
