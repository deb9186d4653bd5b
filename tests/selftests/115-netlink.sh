#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The dm_shadow generic netlink family: every command's success path and
# its refusals (missing and malformed attributes, unknown origin or
# snapshot, a caller without CAP_NET_ADMIN), changed-block diffs against
# the chunks the test wrote, store space per snapshot, and events in
# order with a deliberately missed one detected through the sequence.
# timeout: 600

. "$(dirname "$0")/lib/shadow.sh"

require python3 dd
trap cleanup_all EXIT

make_disks 16 32
dd if=/dev/zero of=$ORIGIN_DEV bs=1M count=16 oflag=direct status=none
origin_up || bail "origin table"

python3 - <<'PY'
import errno
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["SHADOW_TOP"], "tests/selftests/lib"))
import genl
from genl import *  # noqa: F401,F403  constants of the UAPI header
from tap import Tap

t = Tap()
nl = genl.Genl()
vol = genl.devnum("/dev/mapper/vol")
CH = 128  # default chunk size, sectors


def write_chunks(chunks, byte=None):
    fd = os.open("/dev/mapper/vol", os.O_WRONLY)
    for c in chunks:
        os.pwrite(fd, os.urandom(4096), c * CH * 512 + 4096)
    os.fsync(fd)
    os.close(fd)


def extents(chunks):
    """Sorted chunk numbers -> [(start sector, length)] runs."""
    out = []
    for c in sorted(chunks):
        if out and out[-1][0] + out[-1][1] == c * CH:
            out[-1] = (out[-1][0], out[-1][1] + CH)
        else:
            out.append((c * CH, CH))
    return out


def refused(name, fn, want_errno, want_msg=None):
    """fn() must fail with want_errno and carry an extended-ack message."""
    try:
        fn()
    except genl.NetlinkError as e:
        good = e.errno in (want_errno if isinstance(want_errno, tuple) else (want_errno,))
        good = good and e.msg is not None and (want_msg is None or want_msg in e.msg)
        t.check(good, "%s refused: %s" % (name, e))
        return
    t.check(False, "%s refused (it succeeded)" % name)


# --------------------------------------------------------------- origins
origins = nl.origins()
t.check(len(origins) == 1 and origins[0]["name"] == "vol" and
        (origins[0]["major"], origins[0]["minor"]) == vol,
        "origin dump lists vol with its device number")
o = nl.origin(*vol)
st = os.popen("dmsetup status vol").read().split()
used, total = map(int, st[3].split("/"))
t.check(o["store_used"] == used and o["store_total"] == total and
        o["chunk_sectors"] == CH and o["state"] == SHADOW_STATE_RW and
        o["nr_snaps"] == 0 and o["sectors"] == 16 * 2048 and
        (o["store_major"], o["store_minor"]) == genl.devnum(os.environ.get("STORE_DEV", "/dev/mapper/tst-sstore")),
        "origin get matches the status line: %s" % o)

# --------------------------------------------------------------- create
t0 = time.time_ns()
ids, pause = nl.create([vol], label="first")
t1 = time.time_ns()
t.check(ids == {vol: 1} and pause > 0, "create on one origin: id 1, pause %d us" % pause)
s = nl.snap(vol, 1)
t.check(s["label"] == "first" and not s["readonly"] and not s["invalid"] and
        t0 - 10**9 <= s["ctime"] <= t1 + 10**9 and s["open"] == 0,
        "snapshot get: label, mode, creation time %d" % s["ctime"])

write_chunks([0, 5, 6])
t.check(nl.diff(vol, 1) == extents([0, 5, 6]),
        "diff 1..live is the chunks written: %s" % nl.diff(vol, 1))
ids, _ = nl.create([vol])
write_chunks([10, 5])
t.check(nl.diff(vol, 1, 2) == extents([0, 5, 6]), "diff 1..2 is what was written between")
t.check(nl.diff(vol, 2) == extents([5, 10]), "diff 2..live: %s" % nl.diff(vol, 2))
t.check(nl.diff(vol, 1) == extents([0, 5, 6, 10]), "diff 1..live covers both")
snaps = nl.snaps(vol)
t.check([x["id"] for x in snaps] == [1, 2], "snapshot dump lists 1 and 2")
# chunk 10 was not written between 1 and 2: snapshot 2's copy of it
# serves 1 too, so only chunk 5's second copy is 2's alone
t.check(snaps[0]["exclusive"] == 3 and snaps[1]["exclusive"] == 1,
        "space held alone: snapshot 1 three chunks, 2 one: %s" %
        [(x["id"], x["exclusive"]) for x in snaps])

# --------------------------------------------------------------- set-ro, delete
nl.set_ro(vol, 1)
t.check(nl.snap(vol, 1)["readonly"], "set read-only shows in the snapshot")
rc = os.system("dmsetup --noudevsync create snapw --table "
               "'0 32768 shadow /dev/mapper/vol 1 rw' 2>/dev/null")
t.check(rc != 0, "read-only snapshot cannot be activated rw")
before = nl.origin(*vol)["store_used"]
nl.delete(vol, 2)
after = nl.origin(*vol)["store_used"]
t.check([x["id"] for x in nl.snaps(vol)] == [1] and before - after == 1,
        "delete frees what only it held (%d -> %d chunks)" % (before, after))
t.check(nl.diff(vol, 1) == extents([0, 5, 6, 10]),
        "after the delete, snapshot 1 still differs from live in chunk 10")

# --------------------------------------------------------------- water
nl.set_water(vol, low=1, high=90)
o = nl.origin(*vol)
t.check(o["low_water"] == 1 and o["high_water"] == 90, "thresholds set")
nl.set_water(vol, high=0)
t.check(nl.origin(*vol)["high_water"] == 0 and nl.origin(*vol)["low_water"] == 1,
        "one threshold changed, the other kept")
refused("low above high", lambda: nl.set_water(vol, low=50, high=40), errno.EINVAL,
        "Low threshold")
refused("threshold above 100", lambda: nl.set_water(vol, low=101), (errno.EINVAL, errno.ERANGE))
refused("set-water without a threshold", lambda: nl.cmd(SHADOW_CMD_SET_WATER, genl.origin(*vol)),
        errno.EINVAL)

# --------------------------------------------------------------- refusals
refused("create without origin", lambda: nl.cmd(SHADOW_CMD_SNAP_CREATE), errno.EINVAL,
        "Missing origin")
refused("unknown origin", lambda: nl.create([(vol[0], vol[1] + 100)]), errno.ENODEV,
        "No active shadow-origin")
refused("origin that is not a shadow-origin",
        lambda: nl.create([genl.devnum("/dev/mapper/tst-ostore")]), errno.ENODEV)
refused("origin without minor",
        lambda: nl.cmd(SHADOW_CMD_SNAP_CREATE,
                       genl.nest(SHADOW_A_ORIGIN, genl.u32(SHADOW_ORIGIN_A_MAJOR, vol[0]))),
        errno.EINVAL, "major and a minor")
refused("major of the wrong size",
        lambda: nl.cmd(SHADOW_CMD_SNAP_CREATE,
                       genl.nest(SHADOW_A_ORIGIN,
                                 genl.attr(SHADOW_ORIGIN_A_MAJOR, b"\x01\x00"),
                                 genl.u32(SHADOW_ORIGIN_A_MINOR, vol[1]))),
        (errno.EINVAL, errno.ERANGE))
refused("unknown attribute in the origin nest",
        lambda: nl.cmd(SHADOW_CMD_SNAP_CREATE,
                       genl.nest(SHADOW_A_ORIGIN, genl.u32(SHADOW_ORIGIN_A_MAJOR, vol[0]),
                                 genl.u32(SHADOW_ORIGIN_A_MINOR, vol[1]),
                                 genl.u32(SHADOW_ORIGIN_A_EPOCH, 1))),
        errno.EINVAL)
refused("unknown top-level attribute",
        lambda: nl.cmd(SHADOW_CMD_SNAP_CREATE, genl.origin(*vol), genl.u32(200, 1)),
        errno.EINVAL)
refused("unknown flag", lambda: nl.cmd(SHADOW_CMD_SNAP_CREATE, genl.origin(*vol),
                                       genl.u32(SHADOW_A_FLAGS, 0x80)), (errno.EINVAL, errno.ERANGE))
refused("timeout 0", lambda: nl.create([vol], timeout_ms=0), (errno.EINVAL, errno.ERANGE))
refused("label with a blank", lambda: nl.create([vol], label="a b"), errno.EINVAL, "Label")
refused("label too long", lambda: nl.create([vol], label="x" * 40), (errno.EINVAL, errno.ERANGE))
refused("origin and origin list together",
        lambda: nl.cmd(SHADOW_CMD_SNAP_CREATE, genl.origin(*vol),
                       genl.nest(SHADOW_A_ORIGINS, genl.origin(*vol))), errno.EINVAL, "not both")
refused("origin twice in a group", lambda: nl.create([vol, vol]), errno.EINVAL, "twice")
refused("empty group", lambda: nl.cmd(SHADOW_CMD_SNAP_CREATE, genl.nest(SHADOW_A_ORIGINS)),
        errno.EINVAL)
refused("delete without id", lambda: nl.cmd(SHADOW_CMD_SNAP_DELETE, genl.origin(*vol)),
        errno.EINVAL)
refused("snapshot id 0", lambda: nl.delete(vol, 0), (errno.EINVAL, errno.ERANGE))
refused("delete of an unknown snapshot", lambda: nl.delete(vol, 77), errno.ENOENT,
        "No live snapshot")
refused("set-ro of an unknown snapshot", lambda: nl.set_ro(vol, 77), errno.ENOENT)
refused("get of an unknown snapshot", lambda: nl.snap(vol, 77), errno.ENOENT)
refused("snapshot dump with an id", lambda: nl.cmd(SHADOW_CMD_SNAP_GET, genl.origin(*vol),
                                                 genl.u32(SHADOW_A_SNAP_ID, 1), dump=True),
        errno.EINVAL, "drop SHADOW_A_SNAP_ID")
refused("diff to an earlier snapshot", lambda: nl.diff(vol, 1, 1), errno.EINVAL, "later")
refused("diff of an unknown snapshot", lambda: nl.diff(vol, 9), errno.ENOENT)
refused("diff without snapshot", lambda: nl.cmd(SHADOW_CMD_DIFF_GET, genl.origin(*vol), dump=True),
        errno.EINVAL, "Missing snapshot")
os.system("dmsetup --noudevsync create snapo --table '0 32768 shadow %d:%d 1 ro'" % vol)
table = os.popen("dmsetup table snapo").read().strip()
t.check(table == "0 32768 shadow %d:%d 1 ro" % vol,
        "snapshot table names its origin by major:minor and reads back: %s" % table)
rc = os.system("dmsetup --noudevsync create snapo2 --table '%s'" % table)
t.check(rc == 0, "the table line read back builds a second device")
refused("delete of an open snapshot", lambda: nl.delete(vol, 1), errno.EBUSY, "open")
t.check(nl.snap(vol, 1)["open"] == 2, "open count shows both snapshot devices")
os.system("dmsetup --noudevsync remove snapo2")
os.system("dmsetup --noudevsync remove snapo")

# --------------------------------------------------------------- no capability
pid = os.fork()
if pid == 0:
    code = 0
    try:
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
        u = genl.Genl()
        for fn in (lambda: u.create([vol]), lambda: u.origins(),
                   lambda: u.delete(vol, 1), lambda: u.diff(vol, 1)):
            try:
                fn()
                code |= 1
            except genl.NetlinkError as e:
                if e.errno != errno.EPERM:
                    code |= 2
        try:
            u.subscribe()
            code |= 8
        except PermissionError:
            pass
    except Exception as e:  # noqa: BLE001
        print("# child: %r" % e)
        code |= 4
    os._exit(code)
_, status = os.waitpid(pid, 0)
t.check(os.WEXITSTATUS(status) == 0,
        "a caller without CAP_NET_ADMIN gets EPERM for every command and the events group (%d)" % os.WEXITSTATUS(status))
t.check([x["id"] for x in nl.snaps(vol)] == [1], "and nothing changed")

# --------------------------------------------------------------- events
ev = genl.Genl()
ev.subscribe()
ids, _ = nl.create([vol])
a = ids[vol]
nl.set_ro(vol, a)
nl.delete(vol, a)
got = ev.events(timeout=3)
types = [(e[1], e[3]) for e in got]
seqs = [e[0] for e in got]
t.check(types == [(SHADOW_EVENT_SNAP_CREATE, a), (SHADOW_EVENT_SNAP_SET_RO, a),
                  (SHADOW_EVENT_SNAP_DELETE, a)] and all(e[2] == vol for e in got),
        "create, set-ro, delete arrive in order: %s" % got)
t.check(seqs == list(range(seqs[0], seqs[0] + 3)) if seqs else False,
        "sequence numbers are consecutive: %s" % seqs)
ev.unsubscribe()
ids, _ = nl.create([vol])           # this one is missed on purpose
ev.subscribe()
ids2, _ = nl.create([vol])
got = ev.events(timeout=3)
gap = bool(got) and seqs and got[0][0] > seqs[-1] + 1
t.check(gap and got[0][0] == seqs[-1] + 2 and got[0][3] == ids2[vol],
        "a missed event shows as a gap in the sequence: %s after %s" % (got, seqs[-1:]))
resync = {x["id"] for x in ev.snaps(vol)}
t.check(ids[vol] in resync and ids2[vol] in resync and
        ev.origin(*vol)["event_seq"] == got[-1][0],
        "resync by listing finds the missed snapshot, and the origin reports the last sequence")
t.done()
PY
