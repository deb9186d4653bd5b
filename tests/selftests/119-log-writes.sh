#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Crash states in write order, with dm-log-writes.  Origin and store sit
# on one logged device, so the log holds every write of both in the order
# it reached the disk, with the flushes.  A seeded workload writes the
# origin, creates and deletes snapshots and marks each one in the log once
# reported; some snapshots are also activated writable and get O_DIRECT
# writes, whole-chunk and partial-chunk, each marked (chunk and content
# hash) before it is issued, and some followed by an fsync that is marked
# "ack" once it returned.  Then the log is replayed onto a scratch disk
# and, at sampled points just before a flush (every write completed so
# far on the disk, as a power cut may leave it) and just after a journal
# commit that follows a snapshot write, the store is loaded read-only and
# checked: every snapshot reported created reads exactly what the origin
# held at its creation, no snapshot reported deleted is back, and the
# offline checker is clean.  A chunk that a writable snapshot wrote reads
# its creation content or one written to it so far, never one older than
# the last acknowledged durable write, never garbage (a record durable
# before its data), and a partial write keeps the rest of the chunk; its
# other chunks read their creation content.  An origin write that reached
# the disk before the copy and the record that preserve the old content
# shows up as a snapshot that reads new data.  SEED=n reproduces a run;
# POINTS=n checks more.
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
import pickle
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["SHADOW_TOP"], "tests/selftests/lib"))
from dmmsg import dm_message

rnd = random.Random(int(os.environ["SEED"]))
SIZE = 8 << 20
CHUNK = 8192
fd = os.open("/dev/mapper/vol", os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 128 << 10)
# random content to start with: a chunk that reads zeros (or any stale
# content) is then never mistaken for the right one
model = bytearray(rnd.randbytes(SIZE))
for off in range(0, SIZE, len(buf)):
    buf[:] = model[off:off + len(buf)]
    os.pwritev(fd, [buf], off)
live = []
# writable snapshot devices: sid -> [fd, content at creation, {chunk: content}]
wsnaps = {}
nr_writable = 0
# what the crash-state check needs: per-chunk md5 at creation of each
# writable snapshot, and every snapshot write (sid, chunk, offset, length,
# chunk content before, chunk content after)
wexpect = {"creation": {}, "writes": {}}
nw = 0


def dmsetup(*args):
    subprocess.run(["dmsetup", "--noudevsync"] + list(args), check=True,
                   capture_output=True)


def make_writable(sid):
    name = "wsnap%d" % sid
    dmsetup("create", name, "--table",
            "0 %d shadow /dev/mapper/vol %d rw" % (SIZE >> 9, sid))
    subprocess.run(["dmsetup", "mknodes", name], capture_output=True)
    base = bytes(model)
    wexpect["creation"][sid] = [hashlib.md5(base[c:c + CHUNK]).hexdigest()
                                for c in range(0, SIZE, CHUNK)]
    wsnaps[sid] = [os.open("/dev/mapper/" + name, os.O_RDWR | os.O_DIRECT),
                   base, {}]


def drop_writable(sid):
    os.close(wsnaps.pop(sid)[0])
    dmsetup("remove", "wsnap%d" % sid)


def snap_write():
    """One O_DIRECT write to a writable snapshot: a whole chunk or part of
    one, marked in the log (chunk and content hash) before it is issued,
    and "ack" marked once an fsync after it returned."""
    global nw
    sid = rnd.choice(sorted(wsnaps))
    wfd, base, chunks = wsnaps[sid]
    if chunks and rnd.random() < 0.4:
        c = rnd.choice(sorted(chunks))      # again: an in-place overwrite
    else:
        c = rnd.randrange(SIZE // CHUNK)
    cur = chunks.get(c, base[c * CHUNK:(c + 1) * CHUNK])
    if rnd.random() < 0.5:
        off, length = 0, CHUNK
    else:
        off = rnd.randrange(16) * 512
        length = rnd.randrange(1, 17 - off // 512) * 512
        if length == CHUNK:
            length -= 512
    data = rnd.randbytes(length)
    new = cur[:off] + data + cur[off + length:]
    nw += 1
    h = hashlib.md5(new).hexdigest()
    wexpect["writes"][nw] = (sid, c, off, length, cur, new)
    dm_message("lw", "mark w%d:%d:%d:%s" % (nw, sid, c, h))
    buf[:length] = data
    os.pwritev(wfd, [memoryview(buf)[:length]], c * CHUNK + off)
    chunks[c] = new
    if rnd.random() < 0.4:
        os.fsync(wfd)
        # every write to sid up to nw is acknowledged durable
        dm_message("lw", "mark ack%d:%d" % (sid, nw))


for step in range(500):
    r = rnd.random()
    if r < 0.05 and len(live) < 10:
        sid = int(dm_message("vol", "create").strip())
        digest = hashlib.md5(model).hexdigest()
        # the expected content is known before the mark is logged
        print("snap %d %s" % (sid, digest), flush=True)
        dm_message("lw", "mark snap%d" % sid)
        live.append(sid)
        if len(wsnaps) < 3 and nr_writable < 5 and \
                (rnd.random() < 0.5 or (nr_writable == 0 and len(live) >= 2)):
            make_writable(sid)
            nr_writable += 1
            print("writable %d" % sid, flush=True)
    elif r < 0.07 and len(live) > 3:
        sid = live.pop(rnd.randrange(len(live) - 1))
        if sid in wsnaps:
            drop_writable(sid)      # a snapshot with an open device stays
        dm_message("vol", "delete %d" % sid)
        dm_message("lw", "mark del%d" % sid)
        print("del %d" % sid, flush=True)
    elif r < 0.13 and wsnaps:
        snap_write()
    else:
        length = rnd.choice([1, 1, 2, 4, 8, 32]) * 4096
        off = rnd.randrange(0, SIZE - length, 4096)
        data = rnd.randbytes(length)
        buf[:length] = data
        os.pwritev(fd, [memoryview(buf)[:length]], off)
        model[off:off + length] = data
        if rnd.random() < 0.05:
            os.fsync(fd)
for sid in sorted(wsnaps):
    drop_writable(sid)
os.close(fd)
print("writes %d" % nw, flush=True)
with open("/tmp/lw-wexpect.pkl", "wb") as f:
    pickle.dump(wexpect, f)
PY
check "workload ran ($(grep -c '^snap' /tmp/lw-expect) snapshots, $(grep -c '^del' /tmp/lw-expect) deletes, $(grep -c '^writable' /tmp/lw-expect) writable with $(sed -n 's/^writes //p' /tmp/lw-expect) writes)" \
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
import pickle
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
CHUNK = 8192
LOG_FLUSH, LOG_FUA, LOG_DISCARD, LOG_MARK = 1, 2, 4, 8

expect = {}
for line in open("/tmp/lw-expect"):
    w = line.split()
    if w[0] == "snap":
        expect[int(w[1])] = w[2]
wexpect = pickle.load(open("/tmp/lw-wexpect.pkl", "rb"))
creation = wexpect["creation"]      # writable sid -> md5 of each chunk
writes = wexpect["writes"]          # n -> (sid, chunk, off, len, old, new)
ZERO = bytes(CHUNK)

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
# far on the disk.  Always the last one before each snapshot mark, then
# states around writable-snapshot writes (below) and a sample, POINTS in
# all.
flushes = [i for i, e in enumerate(entries) if e[3] & LOG_FLUSH]
marks = [i for i, e in enumerate(entries)
         if e[4] and e[4].startswith(("snap", "del"))]
before_mark = set()
for m in marks:
    prior = [f for f in flushes if f < m]
    if prior:
        before_mark.add(prior[-1])
rest = [f for f in flushes if f not in before_mark]
want = int(os.environ["POINTS"])
points = sorted(before_mark)[:want // 2]
# Writes to writable snapshots: the state just after the first FUA write
# (a journal commit: the record of a new private chunk; its preflush is
# logged as an empty flush before it) that follows a write's mark: a
# record durable before its data reads garbage there.  And the state just
# before the first flush after an "ack" mark, where the acknowledged
# content must be there.
fuas = [i for i, e in enumerate(entries) if e[3] & LOG_FUA and e[2]]
allmarks = [i for i, e in enumerate(entries) if e[4]] + [len(entries)]
wpoints, apoints = [], []
for j, m in enumerate(allmarks[:-1]):
    inside = [f for f in fuas if m < f < allmarks[j + 1]]
    if entries[m][4].startswith("w") and inside:
        wpoints.append(inside[0] + 1)
    elif entries[m][4].startswith("ack"):
        after = [f for f in flushes if f > m]
        if after:
            apoints.append(after[0])
nw, na = min(len(wpoints), want // 4), min(len(apoints), want // 8)
points += rnd.sample(wpoints, nw) + rnd.sample(apoints, na)
points += rnd.sample(rest, max(0, min(len(rest), want - len(points))))
points = sorted(set(points) | {len(entries)})
t.diag("%d entries, %d flushes, %d marks; checking %d points "
       "(%d after a snapshot write, %d after an ack)" %
       (len(entries), len(flushes), len(marks), len(points), nw, na))

disk = os.open("/dev/ram2", os.O_WRONLY)


def dm(*args, check=True):
    return subprocess.run(["dmsetup", "--noudevsync"] + list(args),
                          capture_output=True, text=True, check=check)


wchecks = 0


def check_writable(sid, img, issued, acked):
    """The chunks of writable snapshot sid as read from the crash state:
    a chunk it wrote reads its content at creation or a content written
    to it (by a write marked so far), never one older than the newest
    acknowledged durable; a chunk it never wrote reads its creation
    content."""
    global wchecks
    problems = []
    for c in range(len(creation[sid])):
        got = img[c * CHUNK:(c + 1) * CHUNK]
        h = hashlib.md5(got).hexdigest()
        ns = issued.get((sid, c))
        if not ns:
            if h != creation[sid][c]:
                problems.append("snapshot %d chunk %d, never written, does not "
                                "read its creation content" % (sid, c))
            continue
        wchecks += 1
        # content 0 is the creation one, then each write in order
        seq = [(0, creation[sid][c])] + [(n, hashlib.md5(writes[n][5]).hexdigest())
                                         for n in ns]
        low = max(i for i, (n, _) in enumerate(seq) if n <= acked.get(sid, 0))
        if h in [x[1] for x in seq[low:]]:
            continue
        what = "snapshot %d chunk %d" % (sid, c)
        older = [n for n, x in seq[:low] if x == h]
        if older:
            problems.append("%s reads %s, older than write %d that was "
                            "acknowledged durable" %
                            (what, "write %d" % older[-1] if older[-1]
                             else "its creation content", seq[low][0]))
            continue
        _, _, off, length, old, new = writes[ns[-1]]
        if got == ZERO:
            problems.append("%s reads zeros (writes %s marked)" % (what, ns))
        elif length < CHUNK and got[off:off + length] == new[off:off + length]:
            problems.append("%s: the part that partial write %d did not "
                            "touch lost its previous content" % (what, ns[-1]))
        else:
            problems.append("%s reads garbage: neither its creation content "
                            "nor any write %s" % (what, ns))
    return problems


def check_point(k):
    """Load the disk as it is after entries [0, k); [] if all is well."""
    reported, deleted = set(), set()
    issued, acked = {}, {}
    for e in entries[:k]:
        if e[4] and e[4].startswith("snap"):
            reported.add(int(e[4][4:]))
        elif e[4] and e[4].startswith("del"):
            deleted.add(int(e[4][3:]))
        elif e[4] and e[4].startswith("w"):
            n, sid, c, h = e[4][1:].split(":")
            n, sid, c = int(n), int(sid), int(c)
            if hashlib.md5(writes[n][5]).hexdigest() != h or writes[n][:2] != (sid, c):
                return ["mark %s does not match the workload's record" % e[4]]
            issued.setdefault((sid, c), []).append(n)
        elif e[4] and e[4].startswith("ack"):
            sid, n = e[4][3:].split(":")
            acked[int(sid)] = int(n)
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
            img = bytearray()
            while True:
                b = os.read(fd, 1 << 20)
                if not b:
                    break
                img += b
            os.close(fd)
            dm("remove", name)
            if sid in creation:
                problems += check_writable(sid, img, issued, acked)
            elif hashlib.md5(img).hexdigest() != expect[sid]:
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
t.diag("%d writable-snapshot chunk checks (%d snapshot writes)" %
       (wchecks, len(writes)))
t.check(wchecks > 0, "writable-snapshot chunks checked in the crash states")
t.done(state=os.environ["TAP_STATE"])
PY
read -r _tap_n _tap_failed < /tmp/tap-state || bail "replay did not finish"
test_done
