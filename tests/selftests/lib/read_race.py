#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Snapshot reads racing origin writes on the same chunks.

    read_race.py ORIGIN SNAP SECONDS SEED [MESSAGE_DEV]

SNAP must be a snapshot of ORIGIN taken while ORIGIN was idle, and ORIGIN
still idle when this starts: what SNAP must read is read from ORIGIN first.
Then, for SECONDS, writer threads write random data to ORIGIN (O_DIRECT,
4 KiB to 256 KiB, 4 KiB aligned, so that most writes span several chunks
and many need a copy first) while reader threads read SNAP (O_DIRECT, 512 B
to 2 MiB, 512 B aligned, so that reads cover runs of unchanged chunks,
preserved chunks and both) and compare every byte.  With MESSAGE_DEV (the
origin's dm name) more snapshots are cut during the run (every 2 s, at
most MAX_CUTS), so that writes are held at the creation gate while they
span several chunks.

Prints one line of counts; exits 1 on the first mismatch, with its offset
and the seed.  Python's threads release the GIL in os.preadv/os.pwritev,
so reads and writes are in flight at once.
"""
import mmap
import os
import random
import subprocess
import sys
import threading
import time

KiB = 1024
READERS, WRITERS = 3, 3
# Each cut may preserve the whole origin again: at most this many, so that
# the caller's store (129: 128 MiB for a 16 MiB origin) never fills and
# drops the snapshot being read, however fast the guest writes.
MAX_CUTS = 6


def dev_size(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def read_all(path, size):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 1 << 20)
    out = bytearray()
    try:
        while len(out) < size:
            n = os.preadv(fd, [buf], len(out))
            if n <= 0:
                raise OSError("short read of %s at %d" % (path, len(out)))
            out += buf[:n]
    finally:
        os.close(fd)
    return bytes(out[:size])


def main():
    origin, snap, secs, seed = (sys.argv[1], sys.argv[2], float(sys.argv[3]),
                                int(sys.argv[4]))
    vol = sys.argv[5] if len(sys.argv) > 5 else None
    size = min(dev_size(origin), dev_size(snap))
    want = read_all(origin, size)
    stop = threading.Event()
    bad = []
    counts = {"reads": 0, "read_bytes": 0, "writes": 0, "cuts": 0}
    lock = threading.Lock()

    def reader(k):
        rnd = random.Random(seed * 1000 + k)
        fd = os.open(snap, os.O_RDONLY | os.O_DIRECT)
        buf = mmap.mmap(-1, 2 << 20)
        try:
            while not stop.is_set():
                n = rnd.choice((1, 8, 64, 256, 1024, 4096)) * 512
                n = min(n, size)
                off = rnd.randrange(0, (size - n) // 512 + 1) * 512
                view = memoryview(buf)[:n]
                got = os.preadv(fd, [view], off)
                if got != n or view != want[off:off + n]:
                    i = next((j for j in range(got) if view[j] != want[off + j]),
                             got)
                    with lock:
                        bad.append("snapshot read at %d (+%d bytes) differs "
                                   "at byte %d (read %d)" % (off, n, off + i,
                                                             got))
                    stop.set()
                    return
                with lock:
                    counts["reads"] += 1
                    counts["read_bytes"] += n
        finally:
            os.close(fd)

    def writer(k):
        rnd = random.Random(seed * 1000 + 100 + k)
        fd = os.open(origin, os.O_WRONLY | os.O_DIRECT)
        buf = mmap.mmap(-1, 256 * KiB)
        try:
            while not stop.is_set():
                n = rnd.choice((1, 2, 4, 16, 64)) * 4 * KiB
                off = rnd.randrange(0, (size - n) // (4 * KiB) + 1) * 4 * KiB
                buf[:n] = rnd.randbytes(n)
                os.pwritev(fd, [memoryview(buf)[:n]], off)
                with lock:
                    counts["writes"] += 1
        finally:
            os.close(fd)

    threads = [threading.Thread(target=reader, args=(k,))
               for k in range(READERS)]
    threads += [threading.Thread(target=writer, args=(k,))
                for k in range(WRITERS)]
    for t in threads:
        t.start()
    end = time.monotonic() + secs
    while time.monotonic() < end and not stop.is_set():
        time.sleep(min(2.0, secs / 4))
        if vol and not stop.is_set() and counts["cuts"] < MAX_CUTS:
            r = subprocess.run(["dmsetup", "message", vol, "0", "create"],
                               capture_output=True, text=True, check=False)
            if r.returncode:
                bad.append("create during the run: " + r.stderr.strip())
                stop.set()
            else:
                counts["cuts"] += 1
    stop.set()
    for t in threads:
        t.join()
    print("reads %(reads)d (%(read_bytes)d bytes), writes %(writes)d, "
          "snapshots cut during the run %(cuts)d" % counts)
    if bad:
        print("FAIL (seed %d): %s" % (seed, bad[0]))
        return 1
    if counts["reads"] == 0 or counts["writes"] == 0:
        print("FAIL (seed %d): no reads or no writes ran" % seed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
