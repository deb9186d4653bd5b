#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Crash states in write order, with dm-log-writes.  Origin and store sit
# on one logged device, so the log holds every write of both in the order
# it reached the disk, with the flushes.  A seeded workload writes the
# origin, creates and deletes snapshots and marks each one in the log once
# reported; then the log is replayed onto a scratch disk and, at sampled
# points just before a flush (every write completed so far is on the disk,
# as a power cut may leave it), the store is loaded read-only and checked:
# every snapshot reported created reads exactly what the origin held at
# its creation, no snapshot reported deleted is back, and the offline
# checker is clean.  An origin write that reached the disk before the copy
# and the record that preserve the old content shows up as a snapshot
# that reads new data.  SEED=n reproduces a run; POINTS=n checks more.
# timeout: 1200

. "$(dirname "$0")/lib/shadow.sh"

require python3 md5sum
command -v "$SHADOWCTL" >/dev/null || skip_all "no shadowctl"

ORIGIN_MB=8
STORE_MB=32
DISK=$(((ORIGIN_MB + STORE_MB) * SECTORS_PER_MB))

cleanup()
{
	local d

	for d in $($DMSETUP ls 2>/dev/null | awk '{print $1}'); do
		case $d in
		r*snap* | wsnap*) $DMSETUP remove "$d" >/dev/null 2>&1 ;;
		esac
	done
	dm_remove vol rvol ro-origin ro-store tst-ostore tst-sstore lw
	rmmod brd 2>/dev/null
}
trap cleanup EXIT
tap_header

rmmod brd 2>/dev/null
# ram0: the logged disk, ram1: the log, ram2: the replay
modprobe brd rd_nr=3 rd_size=$((256 * 1024)) max_part=0 || skip_all "no brd"
modprobe dm-log-writes 2>/dev/null
$DMSETUP targets | grep -q '^log-writes' || skip_all "no dm-log-writes"
$DMSETUP create lw --table "0 $DISK log-writes /dev/ram0 /dev/ram1" ||
	bail "log-writes table"
$DMSETUP create tst-ostore --table "0 $((ORIGIN_MB * SECTORS_PER_MB)) linear /dev/mapper/lw 0"
$DMSETUP create tst-sstore --table "0 $((STORE_MB * SECTORS_PER_MB)) linear /dev/mapper/lw $((ORIGIN_MB * SECTORS_PER_MB))"
ORIGIN_DEV=/dev/mapper/tst-ostore
STORE_DEV=/dev/mapper/tst-sstore
ORIGIN_SECTORS=$((ORIGIN_MB * SECTORS_PER_MB))
$DMSETUP mknodes >/dev/null 2>&1
check "origin table over the logged disk (8 KiB chunks)" origin_up chunk_size 16

export SEED=${SEED:-$RANDOM$RANDOM}
diag "seed $SEED (SEED=$SEED reproduces this run)"

# ------------------------------------------------------------ workload
python3 - >/tmp/lw-expect <<'PY'
import hashlib
import mmap
import os
import random
import sys

sys.path.insert(0, os.path.join(os.environ["SHADOW_TOP"], "tests/selftests/lib"))
from dmmsg import dm_message

rnd = random.Random(int(os.environ["SEED"]))
SIZE = 8 << 20
model = bytearray(SIZE)
fd = os.open("/dev/mapper/vol", os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 128 << 10)
live = []
for step in range(500):
    r = rnd.random()
    if r < 0.05 and len(live) < 10:
        sid = int(dm_message("vol", "create").strip())
        digest = hashlib.md5(model).hexdigest()
        # the expected content is known before the mark is logged
        print("snap %d %s" % (sid, digest), flush=True)
        dm_message("lw", "mark snap%d" % sid)
        live.append(sid)
    elif r < 0.07 and len(live) > 3:
        sid = live.pop(rnd.randrange(len(live) - 1))
        dm_message("vol", "delete %d" % sid)
        dm_message("lw", "mark del%d" % sid)
        print("del %d" % sid, flush=True)
    else:
        length = rnd.choice([1, 1, 2, 4, 8, 32]) * 4096
        off = rnd.randrange(0, SIZE - length, 4096)
        data = rnd.randbytes(length)
        buf[:length] = data
        os.pwritev(fd, [memoryview(buf)[:length]], off)
        model[off:off + length] = data
        if rnd.random() < 0.05:
            os.fsync(fd)
os.close(fd)
PY
check "workload ran ($(grep -c '^snap' /tmp/lw-expect) snapshots, $(grep -c '^del' /tmp/lw-expect) deletes)" \
	[ "$(grep -c '^snap' /tmp/lw-expect)" -gt 3 ]
origin_down
dm_remove tst-ostore tst-sstore
check "log closed" $DMSETUP remove lw

# ------------------------------------------------------------ replay
$DMSETUP create --readonly ro-origin --table "0 $ORIGIN_SECTORS linear /dev/ram2 0"
$DMSETUP create --readonly ro-store --table "0 $((STORE_MB * SECTORS_PER_MB)) linear /dev/ram2 $ORIGIN_SECTORS"
$DMSETUP mknodes >/dev/null 2>&1
blkdiscard /dev/ram2 2>/dev/null

TAP_STATE=/tmp/tap-state TAP_START=$_tap_n TAP_FAILED=$_tap_failed \
	POINTS=${POINTS:-24} python3 - <<'PY'
import hashlib
import os
import random
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["SHADOW_TOP"], "tests/selftests/lib"))
from tap import Tap

t = Tap(header=False)
t.n = int(os.environ["TAP_START"])
t.failed = int(os.environ["TAP_FAILED"])
rnd = random.Random(int(os.environ["SEED"]) + 1)
SHADOWCTL = os.path.join(os.environ["SHADOW_TOP"], "build/shadowctl")
ORIGIN_SECTORS = 8 * 2048
LOG_FLUSH, LOG_FUA, LOG_DISCARD, LOG_MARK = 1, 2, 4, 8

expect = {}
for line in open("/tmp/lw-expect"):
    w = line.split()
    if w[0] == "snap":
        expect[int(w[1])] = w[2]

log = os.open("/dev/ram1", os.O_RDONLY)
magic, version, nr_entries, sectorsize = struct.unpack_from(
    "<QQQI", os.pread(log, 512, 0), 0)
t.check(magic == 0x6a736677736872 and version == 1 and nr_entries > 0,
        "log super: %d entries, %d-byte sectors" % (nr_entries, sectorsize))

# Index the entries: (offset of data, sector, nr_sectors, flags, mark)
entries = []
pos = sectorsize
for _ in range(nr_entries):
    hdr = os.pread(log, sectorsize, pos)
    sector, nr, flags, dlen = struct.unpack_from("<QQQQ", hdr, 0)
    mark = hdr[32:32 + dlen].split(b"\0")[0].decode() if flags & LOG_MARK else None
    pos += sectorsize
    entries.append((pos, sector, nr, flags, mark))
    if not (flags & LOG_DISCARD):
        pos += nr * sectorsize

# Check points: just before a flush, i.e. with every write completed so
# far on the disk.  Always the last one before each mark, then a sample.
flushes = [i for i, e in enumerate(entries) if e[3] & LOG_FLUSH]
marks = [i for i, e in enumerate(entries) if e[4]]
before_mark = set()
for m in marks:
    prior = [f for f in flushes if f < m]
    if prior:
        before_mark.add(prior[-1])
rest = [f for f in flushes if f not in before_mark]
want = int(os.environ["POINTS"])
points = sorted(before_mark)[:want // 2]
points += rnd.sample(rest, min(len(rest), want - len(points)))
points = sorted(set(points)) + [len(entries)]
t.diag("%d entries, %d flushes, %d marks; checking %d points" %
       (len(entries), len(flushes), len(marks), len(points)))

disk = os.open("/dev/ram2", os.O_WRONLY)


def dm(*args, check=True):
    return subprocess.run(["dmsetup", "--noudevsync"] + list(args),
                          capture_output=True, text=True, check=check)


def check_point(k):
    """Load the disk as it is after entries [0, k); [] if all is well."""
    reported, deleted = set(), set()
    for e in entries[:k]:
        if e[4] and e[4].startswith("snap"):
            reported.add(int(e[4][4:]))
        elif e[4] and e[4].startswith("del"):
            deleted.add(int(e[4][3:]))
    if not reported:
        return None
    r = dm("create", "--readonly", "rvol", "--table",
           "0 %d shadow-origin /dev/mapper/ro-origin /dev/mapper/ro-store"
           % ORIGIN_SECTORS, check=False)
    if r.returncode:
        return ["store does not load: %s" % r.stderr.strip()]
    problems = []
    try:
        listing = dm("message", "rvol", "0", "list").stdout.split("\n")
        present = {}
        for line in listing:
            w = line.split()
            if w:
                present[int(w[0])] = w[2]
        for sid in sorted(reported - deleted):
            if sid not in present:
                problems.append("snapshot %d was reported but is gone" % sid)
        for sid in sorted(deleted):
            if sid in present and sid in reported:
                # its delete mark is in the log: the delete was durable
                problems.append("snapshot %d was reported deleted but is back" % sid)
        for sid, state in sorted(present.items()):
            if sid not in expect:
                problems.append("unknown snapshot %d" % sid)
                continue
            if state != "valid":
                problems.append("snapshot %d is %s" % (sid, state))
                continue
            name = "r%dsnap" % sid
            dm("create", "--readonly", name, "--table",
               "0 %d shadow /dev/mapper/rvol %d ro" % (ORIGIN_SECTORS, sid))
            dm("mknodes", name, check=False)
            fd = os.open("/dev/mapper/" + name, os.O_RDONLY)
            h = hashlib.md5()
            while True:
                b = os.read(fd, 1 << 20)
                if not b:
                    break
                h.update(b)
            os.close(fd)
            dm("remove", name)
            if h.hexdigest() != expect[sid]:
                problems.append("snapshot %d does not read what the origin held "
                                "at its creation" % sid)
    finally:
        dm("remove", "rvol", check=False)
    # the checker reads through the page cache: drop what it cached
    subprocess.run(["blockdev", "--flushbufs", "/dev/mapper/ro-store"])
    c = subprocess.run([SHADOWCTL, "store", "check", "/dev/mapper/ro-store"],
                       capture_output=True, text=True)
    if c.returncode:
        problems.append("store check: %s" % (c.stdout + c.stderr).strip()[-300:])
    return problems


applied = 0
checked = bad = 0
for k in points:
    while applied < k:
        off, sector, nr, flags, _ = entries[applied]
        if nr and not (flags & (LOG_DISCARD | LOG_MARK)):
            os.pwrite(disk, os.pread(log, nr * sectorsize, off), sector * sectorsize)
        elif nr and flags & LOG_DISCARD:
            os.pwrite(disk, bytes(nr * sectorsize), sector * sectorsize)
        applied += 1
    os.fsync(disk)
    problems = check_point(k)
    if problems is None:
        continue
    checked += 1
    if problems:
        bad += 1
        t.diag("after entry %d: %s" % (k, "; ".join(problems)))
t.check(checked >= min(10, len(points) - 1),
        "%d crash states loaded and checked" % checked)
t.check(bad == 0, "every crash state holds every reported snapshot intact "
        "(%d bad; seed %s)" % (bad, os.environ["SEED"]))
t.done(state=os.environ["TAP_STATE"])
PY
read -r _tap_n _tap_failed < /tmp/tap-state || bail "replay did not finish"
test_done
