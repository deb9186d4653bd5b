#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Model-based random test of dm-shadow: a seeded random sequence of origin
writes, snapshot creates, deletes, writable-snapshot writes, reloads and
verifications, checked against an in-memory reference model.  TAP output."""
import mmap
import os
import random
import subprocess
import sys

DM = ["dmsetup", "--noudevsync"]
SECTOR = 512


def dm(*args, check=True):
    r = subprocess.run(DM + list(args), capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("dmsetup %s: %s" % (" ".join(args), r.stderr))
    return r.stdout.strip()


class Dev:
    """O_DIRECT access with an aligned bounce buffer."""

    def __init__(self, path, size):
        self.fd = os.open(path, os.O_RDWR | os.O_DIRECT)
        self.buf = mmap.mmap(-1, size)

    def write(self, off, data):
        self.buf.seek(0)
        self.buf.write(data)
        n = os.pwritev(self.fd, [memoryview(self.buf)[:len(data)]], off)
        assert n == len(data), "short write"

    def read(self, off, length):
        n = os.preadv(self.fd, [memoryview(self.buf)[:length]], off)
        assert n == length, "short read"
        return bytes(self.buf[:length])

    def close(self):
        os.close(self.fd)
        self.buf.close()


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else random.randrange(1 << 30)
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    origin_dev, store_dev, size = sys.argv[3], sys.argv[4], int(sys.argv[5])
    chunk = 16 * SECTOR
    rng = random.Random(seed)
    print("TAP version 13")
    print("1..3")
    print("# seed %d steps %d" % (seed, steps))
    sectors = size // SECTOR
    table = "0 %d shadow-origin %s %s 2 chunk_size 16" % (sectors, origin_dev,
                                                           store_dev)

    def origin_up():
        dm("create", "vol", "--table", table)
        dm("mknodes", "vol")
        return Dev("/dev/mapper/vol", 1 << 20)

    model = bytearray(Dev(origin_dev, size).read(0, size))
    origin = origin_up()
    snaps = {}      # id -> bytearray
    devs = {}       # id -> Dev (active snapshot devices, all rw)
    failures = []
    counts = {}

    def snap_dev(sid):
        if sid not in devs:
            name = "snap%d" % sid
            dm("create", name, "--table",
               "0 %d shadow /dev/mapper/vol %d rw" % (sectors, sid))
            dm("mknodes", name)
            devs[sid] = Dev("/dev/mapper/" + name, 1 << 20)
        return devs[sid]

    def snap_down(sid):
        if sid in devs:
            devs.pop(sid).close()
            dm("remove", "snap%d" % sid)

    def verify(sid, what):
        d = snap_dev(sid)
        for off in range(0, size, 1 << 20):
            n = min(1 << 20, size - off)
            if d.read(off, n) != bytes(snaps[sid][off:off + n]):
                failures.append("step %d: snapshot %d differs (%s)" %
                                (step, sid, what))
                return

    def rand_extent():
        off = rng.randrange(0, sectors) * SECTOR
        n = rng.choice([1, 3, 8, 16, 17, 40]) * SECTOR
        if rng.random() < 0.3:
            off -= off % chunk
            n = chunk * rng.choice([1, 2])
        n = min(n, size - off)
        return off, n

    for step in range(steps):
        op = rng.random()
        if op < 0.45:
            off, n = rand_extent()
            data = rng.randbytes(n)
            origin.write(off, data)
            model[off:off + n] = data
            kind = "owrite"
        elif op < 0.55 and len(snaps) < 8:
            sid = int(dm("message", "vol", "0", "create", "m%d" % step))
            snaps[sid] = bytearray(model)
            kind = "create"
        elif op < 0.62 and snaps:
            sid = rng.choice(list(snaps))
            snap_down(sid)
            dm("message", "vol", "0", "delete", str(sid))
            del snaps[sid]
            kind = "delete"
        elif op < 0.77 and snaps:
            sid = rng.choice(list(snaps))
            off, n = rand_extent()
            data = rng.randbytes(n)
            snap_dev(sid).write(off, data)
            snaps[sid][off:off + n] = data
            kind = "swrite"
        elif op < 0.92 and snaps:
            sid = rng.choice(list(snaps))
            verify(sid, "random check")
            kind = "verify"
        elif op < 0.96:
            for sid in list(devs):
                snap_down(sid)
            origin.close()
            dm("remove", "vol")
            origin = origin_up()
            kind = "reload"
        else:
            for sid in list(devs):
                snap_down(sid)
            kind = "close"
        counts[kind] = counts.get(kind, 0) + 1
        if failures:
            break

    print("# ops: %s" % " ".join("%s=%d" % kv for kv in sorted(counts.items())))
    print("# status: %s" % dm("status", "vol"))
    for sid in list(snaps):
        verify(sid, "final")
    ok = not failures
    print("%s 1 - every snapshot matches the model (seed %d)" %
          ("ok" if ok else "not ok", seed))
    for f in failures[:10]:
        print("# " + f)
    cur = b"".join(origin.read(off, min(1 << 20, size - off))
                   for off in range(0, size, 1 << 20))
    ok2 = cur == bytes(model)
    print("%s 2 - origin matches the model" % ("ok" if ok2 else "not ok"))
    for sid in list(devs):
        snap_down(sid)
    origin.close()
    dm("remove", "vol")
    shadowctl = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "../../../build/shadowctl")
    r = subprocess.run([shadowctl, "store", "check", store_dev],
                       capture_output=True, text=True)
    for line in (r.stdout + r.stderr).splitlines():
        print("# " + line)
    ok3 = r.returncode == 0
    print("%s 3 - offline store check" % ("ok" if ok3 else "not ok"))
    return 0 if ok and ok2 and ok3 else 1


if __name__ == "__main__":
    sys.exit(main())
