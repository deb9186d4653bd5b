#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Consistency groups over netlink.  A snapshot of 4 origins taken while 4
# writers stamp a global sequence number into their blocks holds exactly
# the writes before one cut point.  With the freeze flag, ext4 on two
# origins is frozen by the kernel around the cut and both snapshots are
# clean.  A filesystem that cannot freeze in time (its device slowed
# with dm-delay) fails the request with ETIMEDOUT, is thawed, and no
# snapshot is left on any origin of the group.
# timeout: 900

. "$(dirname "$0")/lib/shadow.sh"

require python3 mkfs.ext4 e2fsck fsfreeze
MB=8
SECT=$((MB * SECTORS_PER_MB))

cleanup()
{
	local i

	for i in 0 1 2 3; do
		umount "/tmp/m$i" 2>/dev/null
	done
	for i in 0 1 2 3; do
		dm_remove "s$i"
	done
	for i in 0 1 2 3; do
		dm_remove "o$i"
	done
	dm_remove slow
	rmmod brd 2>/dev/null
}
trap cleanup EXIT
tap_header

rmmod brd 2>/dev/null
modprobe brd rd_nr=8 rd_size=$((2 * MB * 1024)) max_part=0 || skip_all "no brd"
# o2 sits on dm-delay so that its writes can be slowed down later
dm create slow --table "0 $SECT delay /dev/ram2 0 0 /dev/ram2 0 0" ||
	bail "dm-delay table"
for i in 0 1 2 3; do
	dev=/dev/ram$i
	[ $i = 2 ] && dev=/dev/mapper/slow
	dm create "o$i" --table "0 $SECT shadow-origin $dev /dev/ram$((i + 4)) 2 chunk_size 8" ||
		bail "origin o$i"
done
dm mknodes >/dev/null 2>&1

TAP_STATE=/tmp/tap-state python3 - <<'PY'
import mmap
import os
import random
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ["SHADOW_TOP"], "tests/selftests/lib"))
import genl
from tap import Tap

t = Tap(header=False)
nl = genl.Genl()
devs = ["/dev/mapper/o%d" % i for i in range(4)]
nums = [genl.devnum(d) for d in devs]
SLOTS = 64
BS = 4096

lock = threading.Lock()
counter = [0]
log = []           # (seq, dev, slot, start_ns, done_ns)
stop = threading.Event()


def writer(d):
    fd = os.open(devs[d], os.O_WRONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, BS)
    rnd = random.Random(d)
    while not stop.is_set():
        slot = rnd.randrange(SLOTS)
        with lock:
            counter[0] += 1
            seq = counter[0]
        start = time.monotonic_ns()
        buf.seek(0)
        buf.write(struct.pack("=QII", seq, d, slot) + b"w" * 16)
        os.pwrite(fd, buf, slot * BS * 2)
        done = time.monotonic_ns()
        with lock:
            log.append((seq, d, slot, start, done))
    os.close(fd)


def read_snapshot(d, sid, name):
    """Slot -> seq (0: never written) of one snapshot of origin d."""
    os.system("dmsetup --noudevsync create %s --table '0 %d shadow %s %d ro'"
              % (name, 8 * 2048, devs[d], sid))
    os.system("dmsetup --noudevsync mknodes %s >/dev/null 2>&1" % name)
    fd = os.open("/dev/mapper/" + name, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, BS)
    out = {}
    for slot in range(SLOTS):
        os.preadv(fd, [buf], slot * BS * 2)
        seq, dd, ss = struct.unpack_from("=QII", buf, 0)
        out[slot] = seq
        if seq and (dd != d or ss != slot):
            out[slot] = -1
    os.close(fd)
    os.system("dmsetup --noudevsync remove %s" % name)
    return out


def consistent(views, writes):
    """Is there one instant that explains all four snapshots?

    Writes to one slot are sequential (one writer per device).  A write
    that completed before some visible write started was acknowledged
    before the cut, so it must be visible (or overwritten by a later
    visible write to its slot).  A cut that is not one instant shows a
    write on one origin that started after a write on another completed,
    with only the later one in its snapshot."""
    by_seq = {w[0]: w for w in writes}
    latest_start = 0
    for d, v in enumerate(views):
        for slot, seq in v.items():
            if seq < 0 or (seq and seq not in by_seq):
                return False, "origin %d slot %d holds garbage (%d)" % (d, slot, seq)
            if seq:
                latest_start = max(latest_start, by_seq[seq][3])
    for seq, d, slot, start, done in writes:
        if done < latest_start and views[d][slot] < seq:
            return False, ("write %d to origin %d slot %d completed before a "
                           "visible write started, but is missing" % (seq, d, slot))
    return True, "%d writes, cut after the write started at %d" % (len(writes), latest_start)


threads = [threading.Thread(target=writer, args=(d,)) for d in range(4)]
for th in threads:
    th.start()
cuts = []
for n in range(3):
    time.sleep(1.5)
    ids, pause = nl.create(nums, label="group%d" % n)
    cuts.append(ids)
    t.diag("cut %d: ids %s, pause %d us" % (n, sorted(ids.values()), pause))
time.sleep(1)
stop.set()
for th in threads:
    th.join()
t.check(len(log) > 200, "writers wrote %d blocks across the cuts" % len(log))
t.check(all(set(c.values()) == {n + 1} for n, c in enumerate(cuts)),
        "every origin got the same snapshot id in each group cut")
for n, ids in enumerate(cuts):
    views = [read_snapshot(d, ids[nums[d]], "s%d" % d) for d in range(4)]
    good, why = consistent(views, log)
    t.check(good, "group cut %d is one instant: %s" % (n, why))
    # the cut must not be empty or hold everything: writes on both sides
    seen = sum(1 for v in views for s in v.values() if s > 0)
    t.check(seen > 0, "group cut %d holds writes (%d slots)" % (n, seen))

# a single-origin list goes through the same path
ids, _ = nl.create([nums[3]])
t.check(ids == {nums[3]: 4}, "a group of one: %s" % ids)
nl.delete(nums[3], 4)
t.done(state=os.environ["TAP_STATE"])
PY
read -r _tap_n _tap_failed < /tmp/tap-state || bail "group cut part did not finish"

# ------------------------------------------------------------- freeze
for i in 0 2; do
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "/dev/mapper/o$i" >/dev/null 2>&1 || bail "mkfs o$i"
	mkdir -p "/tmp/m$i"
	mount "/dev/mapper/o$i" "/tmp/m$i" || bail "mount o$i"
done

nlcreate()
{
	python3 - "$@" <<'PY'
import os
import sys
import time
sys.path.insert(0, os.path.join(os.environ["SHADOW_TOP"], "tests/selftests/lib"))
import genl
nl = genl.Genl()
timeout = int(sys.argv[1])
devs = [genl.devnum(d) for d in sys.argv[2:]]
t0 = time.monotonic()
try:
    ids, pause = nl.create(devs, freeze=True, timeout_ms=timeout)
except genl.NetlinkError as e:
    print("error %d %.1f %s" % (e.errno, time.monotonic() - t0, e.msg))
    sys.exit(1)
print("ok %.1f %d %s" % (time.monotonic() - t0, pause,
                         " ".join(str(ids[d]) for d in devs)))
PY
}

# dirty data in the page cache: the freeze must write it into the cut
for i in 0 2; do
	dd if=/dev/urandom of="/tmp/m$i/data" bs=64K count=16 status=none
done
sum0=$(md5sum < /tmp/m0/data)
out=$(nlcreate 10000 /dev/mapper/o0 /dev/mapper/o2)
diag "freeze cut: $out"
check "frozen group cut of two ext4 origins succeeds" [ "${out%% *}" = ok ]
read -r _ _ pause id0 id2 <<<"$out"
check "pause reported ($pause us)" [ "${pause:-0}" -gt 0 ]
check "o0 not left frozen" fails fsfreeze -u /tmp/m0
check "o2 not left frozen" fails fsfreeze -u /tmp/m2
for i in 0 2; do
	id=$id0
	[ $i = 2 ] && id=$id2
	dm create "s$i" --table "0 $SECT shadow /dev/mapper/o$i $id ro"
	dm mknodes "s$i" >/dev/null 2>&1
	check "snapshot of o$i is a clean ext4 (e2fsck -fn)" \
		e2fsck -fn "/dev/mapper/s$i"
done
mkdir -p /tmp/s0
mount -o ro,noload /dev/mapper/s0 /tmp/s0
check "the dirty file is in the frozen snapshot" \
	[ "$(md5sum < /tmp/s0/data)" = "$sum0" ]
umount /tmp/s0
dm_remove s0 s2

# slow o2 down: every write waits 4 s, so its freeze cannot finish in 1 s
before0=$(dmsetup message o0 0 list | wc -l)
before2=$(dmsetup message o2 0 list | wc -l)
dd if=/dev/urandom of=/tmp/m2/more bs=64K count=16 status=none
dm suspend slow && dm load slow --table "0 $SECT delay /dev/ram2 0 0 /dev/ram2 0 4000" &&
	dm resume slow
out=$(nlcreate 1000 /dev/mapper/o0 /dev/mapper/o2)
diag "slow freeze: $out"
read -r st err secs _ <<<"$out"
check "a freeze that cannot finish in time fails with ETIMEDOUT" \
	test "$st" = error -a "$err" = 110
check "the request returned at the bound (${secs}s), not after the slow device" \
	[ "$(echo "${secs:-99} < 3.5" | bc)" = 1 ]
check "o0, frozen in time, was thawed" fails fsfreeze -u /tmp/m0
# a write blocks while o2 is frozen: it completes once the late freeze
# has thawed itself
check "o2, frozen late, thawed itself and takes writes" \
	timeout 120 dd if=/dev/zero of=/tmp/m2/after bs=4K count=1 conv=fsync status=none
check "o2 is not frozen" fails fsfreeze -u /tmp/m2
check "no snapshot left on o0" [ "$(dmsetup message o0 0 list | wc -l)" = "$before0" ]
check "no snapshot left on o2" [ "$(dmsetup message o2 0 list | wc -l)" = "$before2" ]
dm suspend slow && dm load slow --table "0 $SECT delay /dev/ram2 0 0 /dev/ram2 0 0" &&
	dm resume slow
out=$(nlcreate 10000 /dev/mapper/o0 /dev/mapper/o2)
check "once the device is fast again the frozen cut succeeds ($out)" [ "${out%% *}" = ok ]
test_done
