#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The guest side of `make bench`: dm-shadow against a plain dm-linear
device, dm-snapshot (one COW device per snapshot, as LVM builds it) and
dm-thin (a thin device with an external origin), on the same virtio disks,
in one process.  fio runs only for the measurements.

Disks (attached by tests/bench/run):
  /dev/vda  the origin            /dev/vdb  stores, COW devices, pool data
  /dev/vdc  dm-thin metadata

Writes raw.json to $VM_OUT (or the directory given with -o) after every
point, so that a run cut short still leaves what it measured.  Every figure
is for comparison within this run only: the guest is emulated (TCG)."""

import argparse
import json
import mmap
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.environ.get(
    "SHADOW_TOP", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "..", "..")), "tests", "selftests", "lib"))
import dmctl  # noqa: E402  pylint: disable=wrong-import-position

MiB = 1 << 20
GiB = 1 << 30
ORIGIN = "/dev/vda"
STOREDISK = "/dev/vdb"
METADISK = "/dev/vdc"
FIO_BATCH = 1024        # first-write I/Os per fio run (see first_write)

QUICK = dict(
    chunks_kib=[64], ladder=[1, 8], reps=2, runtime=4, region=16 * MiB,
    seq=16 * MiB, second_stage=8, delete_stage=8, pause_reps=3,
    mem_bytes={64: 64 * MiB}, cow_len=160 * MiB, store_len=512 * MiB,
    pool_len=512 * MiB, group_reps=5, act_reps=3,
)
FULL = dict(
    # the chunk sizes of the targets first: a run cut short by --budget
    # still has them
    chunks_kib=[4, 64, 16, 256], ladder=[1, 8, 32, 128], reps=2, runtime=6,
    region=16 * MiB, seq=32 * MiB, second_stage=8, delete_stage=32,
    pause_reps=5,
    # preserved data for the memory / activation figure, per chunk size
    # (1 Mi chunks of 4 KiB, 4 GiB, is the goal: `run --only mem` measures
    # that, with --mem-mib 4096; 2 GiB fits the time of the full matrix)
    mem_bytes={4: 2 * GiB, 16: 256 * MiB, 64: 256 * MiB, 256: 256 * MiB},
    cow_len=288 * MiB, store_len=1 * GiB, pool_len=1 * GiB, group_reps=15,
    # activations of the full store timed for the activation figure: the
    # first replays the journal of the fill, the others start from the
    # checkpoint the one before wrote (dm-snapshot: the same work each time)
    act_reps=3,
)

SYSTEMS = ["linear", "shadow", "snapshot", "thin"]

# the group pause figure: PAUSE_ORIGINS origins, each a slice of ORIGIN,
# with its own store (dm-shadow) or COW devices (dm-snapshot) on STOREDISK
PAUSE_ORIGINS = 4
PAUSE_SLICE = 64 * MiB
PAUSE_STORE = 128 * MiB
# as large as the slice: under write load a COW device must not overflow
PAUSE_COW = PAUSE_SLICE + 16 * MiB
PAUSE_CHUNK = 64 * 1024
# the cuts are also timed with writes under way: 4 KiB random writes to
# every origin at this rate each (queue depth 4), well below what the
# emulated disks take
PAUSE_LOAD_IOPS = 100


_t0 = time.monotonic()


def log(*a):
    print("bench: [%5.0f]" % (time.monotonic() - _t0), *a, flush=True)


def sectors(n):
    return n // 512


# ---------------------------------------------------------------- results
class Results:
    def __init__(self, path, meta):
        self.path = path
        self.data = {"meta": meta, "points": [], "notes": []}

    def add(self, **kw):
        self.data["points"].append(kw)
        where = "snaps=%s" % kw.get("snapshots", "-")
        if "origins" in kw and kw["figure"] == "group_pause_ms":
            where = "origins=%d%s" % (kw["origins"], " freeze"
                                      if kw.get("freeze") else "")
        log("%s %s chunk=%s %s: %s %s" % (kw["system"], kw["figure"],
                                          kw["chunk_kib"], where,
                                          kw["value"], kw["unit"]))
        self.save()

    def note(self, text):
        log("note:", text)
        self.data["notes"].append(text)
        self.save()

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1)
        os.replace(tmp, self.path)


# ---------------------------------------------------------------- I/O
_bufs = {}


def _buffer(zero):
    if zero not in _bufs:
        _bufs[zero] = mmap.mmap(-1, MiB)    # page aligned, zero filled
        if not zero:
            _bufs[zero].write(os.urandom(MiB))
    return _bufs[zero]


def write_direct(dev, offset, length, step=MiB, zero=False):
    """Sequential O_DIRECT writes (setup only, never timed)."""
    buf = _buffer(zero)
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    try:
        end = offset + length
        while offset < end:
            n = min(step, end - offset)
            os.pwrite(fd, memoryview(buf)[:n], offset)
            offset += n
    finally:
        os.close(fd)


def fio(dev, rw, bs, offset=0, size=None, iodepth=16, runtime=10,
        time_based=False, extra=()):
    args = ["fio", "--output-format=json", "--name=b", "--filename=" + dev,
            "--ioengine=libaio", "--direct=1", "--iodepth=%d" % iodepth,
            "--bs=%d" % bs, "--rw=" + rw, "--offset=%d" % offset,
            "--runtime=%d" % runtime, "--norandommap", "--randrepeat=0"]
    if size:
        args.append("--size=%d" % size)
    if time_based:
        args.append("--time_based")
    args += list(extra)
    return _fio_run(args, "read" if "read" in rw else "write")


def _fio_run(args, ddir):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       check=False, text=True)
    if p.returncode != 0:
        raise RuntimeError("fio failed: %s\n%s" % (" ".join(args), p.stderr))
    out = p.stdout
    j = json.loads(out[out.index("{"):])
    d = j["jobs"][0][ddir]
    return {"iops": d["iops"], "bw_bytes": d["bw_bytes"],
            "ios": d["total_ios"], "bytes": d["io_bytes"],
            "runtime_ms": d["runtime"]}


def fio_background(devs, iops):
    """Start 4 KiB random writes to each of DEVS at IOPS each, until
    stopped with fio_stop()."""
    procs = []
    for dev in devs:
        procs.append(subprocess.Popen(
            ["fio", "--name=load", "--filename=" + dev, "--ioengine=libaio",
             "--direct=1", "--iodepth=4", "--bs=4096", "--rw=randwrite",
             "--rate_iops=%d" % iops, "--time_based", "--runtime=36000",
             "--norandommap", "--randrepeat=0", "--output=/dev/null"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    return procs


def fio_stop(procs):
    """Stop fio_background()'s writers; raise if one had failed."""
    failed = [p for p in procs if p.poll() is not None]
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if failed:
        raise RuntimeError("background fio ended early: %s" %
                           failed[0].stderr.read().decode(errors="replace"))


def paired(dev, off, ref, ref_off, rw, bs, size, iodepth, rounds):
    """The same fio job on DEV at OFF and on the bare disk REF at REF_OFF,
    one second each, in turns (ABBA) for ROUNDS rounds.  The ratio of the
    two totals is taken between runs seconds apart, so it does not follow
    the drift of the emulated machine over the minutes between systems.
    Returns the totals of DEV and of REF."""
    tot = {dev: [0, 0, 0], ref: [0, 0, 0]}
    for k in range(rounds):
        order = [(dev, off), (ref, ref_off)]
        for d, o in order if k % 2 == 0 else order[::-1]:
            f = fio(d, rw, bs, o, size, iodepth, 1, True)
            t = tot[d]
            t[0] += f["ios"]
            t[1] += f["bytes"]
            t[2] += f["runtime_ms"]
    out = []
    for d in (dev, ref):
        ios, nbytes, ms = tot[d]
        ms = max(ms, 1)
        out.append({"iops": ios * 1000.0 / ms, "ios": ios, "bytes": nbytes,
                    "bw_bytes": nbytes * 1000.0 / ms, "runtime_ms": ms})
    return out[0], out[1]


def disk_fields(value, disk):
    return {"disk": round(disk, 3),
            "to_disk": round(value / disk, 4) if disk else None}


def first_write(dev, region_off, region_len, chunk, runtime, tmpdir):
    """4 KiB writes, one to each chunk of the region, in random order, at
    queue depth 16: every write is the first to its chunk since the newest
    snapshot.  fio replays a generated I/O log in batches of FIO_BATCH
    writes until the log is used up or RUNTIME seconds of fio time have
    passed (a replay does not stop on --runtime by itself)."""
    offs = list(range(region_off, region_off + region_len, chunk))
    random.Random(region_off ^ chunk).shuffle(offs)
    ios = 0
    ms = 0
    logf = os.path.join(tmpdir, "iolog")
    for i in range(0, len(offs), FIO_BATCH):
        with open(logf, "w") as f:
            f.write("fio version 2 iolog\ndev add\ndev open\n")
            for o in offs[i:i + FIO_BATCH]:
                f.write("dev write %d 4096\n" % o)
            f.write("dev close\n")
        r = _fio_run(["fio", "--output-format=json", "--name=fw",
                      "--read_iolog=" + logf, "--replay_no_stall=1",
                      "--replay_redirect=" + dev, "--ioengine=libaio",
                      "--direct=1", "--iodepth=16"], "write")
        ios += r["ios"]
        ms += r["runtime_ms"]
        if ms >= runtime * 1000:
            break
    return {"iops": ios * 1000.0 / max(ms, 1), "ios": ios, "runtime_ms": ms,
            "chunks_in_region": len(offs)}


def meminfo():
    m = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":")
            m[k] = int(v.split()[0]) * 1024
    return m


def slabinfo(names):
    out = {}
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                w = line.split()
                if w and w[0] in names:
                    out[w[0]] = {"objs": int(w[2]), "objsize": int(w[3]),
                                 "bytes": int(w[2]) * int(w[3])}
    except OSError:
        pass
    return out


KMEM_FIELDS = ("MemFree", "Slab", "SUnreclaim", "VmallocUsed", "Cached",
               "Buffers", "AnonPages", "PageTables")


def kmem(drops=3):
    """Kernel memory after dropping caches.  Slab + VmallocUsed is what a
    module allocates: kmalloc, kvmalloc (large kmallocs are counted in
    Slab) and vmalloc."""
    for _ in range(drops):
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        time.sleep(0.5)
    m = meminfo()
    out = {k: m.get(k, 0) for k in KMEM_FIELDS}
    out["dm_exception"] = slab_cache_bytes("dm_exception")
    return out


def slab_cache_bytes(name):
    """Bytes of objects in use in the (possibly merged) slab cache NAME,
    from SLUB's sysfs: far less noisy than the Slab total."""
    d = "/sys/kernel/slab/" + name
    try:
        with open(d + "/objects") as f:
            objs = int(f.read().split()[0])
        with open(d + "/object_size") as f:
            return objs * int(f.read())
    except OSError:
        return 0


def kdelta(a, b):
    d = {k: b[k] - a[k] for k in KMEM_FIELDS + ("dm_exception",)}
    d["kernel"] = d["Slab"] + d["VmallocUsed"]
    return d


# ---------------------------------------------------------------- systems
class System:
    """One snapshot implementation over ORIGIN (first LENGTH bytes)."""
    name = "?"

    def __init__(self, cfg, chunk, length):
        self.cfg = cfg
        self.chunk = chunk
        self.length = length
        self.devs = []
        self.snaps = []          # live snapshot ids, oldest first
        self.dev = None          # the origin as the benchmark writes it

    def mk(self, name, length, ttype, params, readonly=False):
        node = dmctl.create(name, sectors(length), ttype, params, readonly)
        self.devs.append(name)
        return node

    def rm(self, name):
        dmctl.remove(name)
        self.devs.remove(name)

    def teardown(self):
        for name in reversed(list(self.devs)):
            try:
                self.rm(name)
            except OSError as e:
                log("cannot remove %s: %s" % (name, e))

    def snap(self):
        raise NotImplementedError

    def used(self):
        return 0


class Linear(System):
    name = "linear"

    def setup(self):
        self.dev = self.mk("blin", self.length, "linear", ORIGIN + " 0")


class Shadow(System):
    name = "shadow"

    def setup(self, store_len=None):
        store_len = store_len or self.cfg["store_len"]
        self.store = self.mk("bstore", store_len, "linear", STOREDISK + " 0")
        self.dev = self.mk("bvol", self.length, "shadow-origin",
                           "%s %s 2 chunk_size %d" %
                           (ORIGIN, self.store, sectors(self.chunk)))

    def snap(self):
        t0 = time.monotonic()
        sid = int(dmctl.message("bvol", "create"))
        self.last_pause = time.monotonic() - t0
        self.snaps.append(sid)
        return sid

    def open_snap(self):
        return self.mk("bshsnap", self.length, "shadow",
                       "/dev/mapper/bvol %d ro" % self.snaps[-1])

    def close_snap(self):
        self.rm("bshsnap")

    def used(self):
        return int(dmctl.status("bvol").split()[0].split("/")[0]) * self.chunk

    def preserved(self):
        """Data chunks in use and live snapshots, from the status line:
        <store used>/<store chunks> <meta used>/<meta blocks> <live> ..."""
        st = dmctl.status("bvol").split()
        return {"status": " ".join(st),
                "data_chunks": int(st[0].split("/")[0]),
                "store_chunks": int(st[0].split("/")[1]),
                "live_snapshots": int(st[2])}

    def activate(self, store_len):
        self.store = self.mk("bstore", store_len, "linear", STOREDISK + " 0")
        self.mk("bvol", self.length, "shadow-origin",
                "%s %s 2 chunk_size %d" % (ORIGIN, self.store,
                                           sectors(self.chunk)))

    def delete_oldest(self):
        sid = self.snaps.pop(0)
        t0 = time.monotonic()
        dmctl.message("bvol", "delete %d" % sid)
        return time.monotonic() - t0


class Snapshot(System):
    """dm-snapshot as LVM builds it: snapshot-origin over the origin, one
    persistent snapshot target with its own COW device per snapshot."""
    name = "snapshot"

    def setup(self, cow_len=None):
        self.cow_len = cow_len or self.cfg["cow_len"]
        self.next = 0
        self.dev = self.mk("borig", self.length, "snapshot-origin", ORIGIN)

    def snap(self):
        i = self.next
        self.next += 1
        cow = self.mk("bcow%d" % i, self.cow_len, "linear",
                      "%s %d" % (STOREDISK, sectors(i * self.cow_len)))
        # the COW header must read zero: a new persistent store
        write_direct(cow, 0, 4096, 4096, zero=True)
        t0 = time.monotonic()
        dmctl.suspend("borig")
        try:
            self.mk("bsnap%d" % i, self.length, "snapshot",
                    "%s %s P %d" % (ORIGIN, cow, sectors(self.chunk)))
        finally:
            dmctl.resume("borig")
        self.last_pause = time.monotonic() - t0
        self.snaps.append(i)
        return i

    def open_snap(self):
        return "/dev/mapper/bsnap%d" % self.snaps[-1]

    def close_snap(self):
        pass

    def cow_used(self, i):
        st = dmctl.status("bsnap%d" % i).split()
        return int(st[0].split("/")[0]) * 512

    def used(self):
        return sum(self.cow_used(i) for i in self.snaps)

    def preserved(self):
        """Data chunks in the first COW device, from its status line:
        <allocated>/<total> <metadata> (sectors; allocated includes the
        metadata: the header and one chunk per area of exceptions)."""
        st = dmctl.status("bsnap0").split()
        if st[0] == "Invalid" or len(st) < 2:
            return {"status": " ".join(st), "data_chunks": 0,
                    "store_chunks": 0, "live_snapshots": 0}
        alloc, total = (int(x) for x in st[0].split("/"))
        meta = int(st[1])
        cs = sectors(self.chunk)
        return {"status": " ".join(st),
                "data_chunks": (alloc - meta) // cs,
                "store_chunks": total // cs,
                "live_snapshots": 1}

    def activate(self, store_len):
        cow = self.mk("bcow0", store_len, "linear", STOREDISK + " 0")
        self.mk("borig", self.length, "snapshot-origin", ORIGIN)
        dmctl.suspend("borig")
        try:
            self.mk("bsnap0", self.length, "snapshot", "%s %s P %d" %
                    (ORIGIN, cow, sectors(self.chunk)))
        finally:
            dmctl.resume("borig")

    def delete_oldest(self):
        i = self.snaps.pop(0)
        t0 = time.monotonic()
        dmctl.suspend("borig")
        try:
            self.rm("bsnap%d" % i)
        finally:
            dmctl.resume("borig")
        dt = time.monotonic() - t0
        self.rm("bcow%d" % i)
        return dt


class Thin(System):
    """dm-thin: a thin device (id 0) with the origin as its external
    origin; snapshots are create_snap messages to the pool."""
    name = "thin"

    def setup(self):
        pool_len = self.cfg["pool_len"]
        meta = self.mk("bmeta", 64 * MiB, "linear", METADISK + " 0")
        data = self.mk("bdata", pool_len, "linear", STOREDISK + " 0")
        self.mk("bpool", pool_len, "thin-pool", "%s %s %d 1" %
                (meta, data, sectors(self.chunk)))
        dmctl.message("bpool", "create_thin 0")
        self.next = 1
        self.dev = self.mk("bthin", self.length, "thin",
                           "/dev/mapper/bpool 0 " + ORIGIN)

    def snap(self):
        i = self.next
        self.next += 1
        t0 = time.monotonic()
        dmctl.suspend("bthin")
        try:
            dmctl.message("bpool", "create_snap %d 0" % i)
        finally:
            dmctl.resume("bthin")
        self.last_pause = time.monotonic() - t0
        self.snaps.append(i)
        return i

    def open_snap(self):
        return self.mk("bthsnap", self.length, "thin",
                       "/dev/mapper/bpool %d %s" % (self.snaps[-1], ORIGIN))

    def close_snap(self):
        self.rm("bthsnap")

    def used(self):
        st = dmctl.status("bpool").split()
        return int(st[2].split("/")[0]) * self.chunk

    def delete_oldest(self):
        i = self.snaps.pop(0)
        t0 = time.monotonic()
        dmctl.message("bpool", "delete %d" % i)
        return time.monotonic() - t0


CLASSES = {"linear": Linear, "shadow": Shadow, "snapshot": Snapshot,
           "thin": Thin}


def set_write_cache(mode):
    """"write through" makes the block layer drop flushes and FUA to the
    disks, as for a disk without a volatile cache (or one with power-loss
    protection); "write back" is what virtio reports for cache=unsafe."""
    for dev in (ORIGIN, STOREDISK, METADISK):
        name = os.path.basename(dev)
        with open("/sys/block/%s/queue/write_cache" % name, "w") as f:
            f.write(mode)


def fresh_disks():
    """Every system starts on empty store and metadata disks."""
    dmctl.discard(STOREDISK)
    dmctl.discard(METADISK)


# ---------------------------------------------------------------- phases
class Layout:
    """Where the ladder writes and reads on the origin (byte offsets)."""

    def __init__(self, cfg):
        r = cfg["region"]
        nfw = len(cfg["ladder"]) * cfg["reps"]
        self.fw_regions = [i * r for i in range(nfw)]
        base = nfw * r
        self.ow = base               # overwritten after the snapshots
        self.unch = base + r         # never written: unchanged reads
        self.seq = base + 2 * r      # sequential first writes
        self.length = self.seq + cfg["seq"]
        # what a system's device takes in its store: every region but the
        # unchanged one
        self.written = self.length - r
        # on the bare ORIGIN disk, beyond every system's device: the
        # reference overwrite region of paired()
        self.ref = self.length
        self.prefill_len = self.ref + r


class Bench(Layout):
    def __init__(self, cfg, res, tmpdir, deadline):
        super().__init__(cfg)
        self.cfg = cfg
        self.res = res
        self.tmp = tmpdir
        self.deadline = deadline

    def point(self, sysname, chunk, figure, value, unit, **kw):
        self.res.add(system=sysname, chunk_kib=chunk // 1024, figure=figure,
                     value=round(value, 3), unit=unit, **kw)

    def run_system(self, sysname, chunk):
        cfg = self.cfg
        ck = chunk // 1024
        if sysname == "thin" and chunk < 64 * 1024:
            self.res.note("dm-thin not measured at %d KiB chunks: its block "
                          "size is at least 64 KiB" % ck)
            return
        fresh_disks()
        s = CLASSES[sysname](cfg, chunk, self.length)
        s.setup()
        rt = cfg["runtime"]
        try:
            for k, n in enumerate(cfg["ladder"]):
                while len(s.snaps) < n and sysname != "linear":
                    s.snap()
                # REPS fresh regions, each a separate measurement
                ios = ms = 0
                each = []
                for rep in range(cfg["reps"]):
                    r = first_write(s.dev,
                                    self.fw_regions[k * cfg["reps"] + rep],
                                    cfg["region"], chunk, rt, self.tmp)
                    ios += r["ios"]
                    ms += r["runtime_ms"]
                    each.append(round(r["iops"], 1))
                self.point(sysname, chunk, "first_write_iops",
                           ios * 1000.0 / max(ms, 1), "IOPS", snapshots=n,
                           ios=ios, runtime_ms=ms, each=each,
                           chunks_in_region=r["chunks_in_region"])
                if n == cfg["second_stage"]:
                    self.secondary(s, sysname, chunk, n)
                if n == cfg["delete_stage"] and sysname != "linear":
                    self.delete(s, sysname, chunk, n)
            if sysname != "linear":
                self.pause(s, sysname, chunk)
        finally:
            s.teardown()
        log("%s at %d KiB done" % (sysname, ck))

    def secondary(self, s, sysname, chunk, n):
        cfg = self.cfg
        rt = cfg["runtime"]
        r = cfg["region"]
        # overwrite of chunks already preserved since the newest snapshot,
        # in turns with the same job on a region of the bare disk
        write_direct(s.dev, self.ow, r)
        f, d = paired(s.dev, self.ow, ORIGIN, self.ref, "randwrite", 4096,
                      r, 16, rt)
        self.point(sysname, chunk, "overwrite_iops", f["iops"], "IOPS",
                   snapshots=n, ios=f["ios"], runtime_ms=f["runtime_ms"],
                   **disk_fields(f["iops"], d["iops"]))
        # sequential first writes, 1 MiB at queue depth 4
        f = fio(s.dev, "write", MiB, self.seq, cfg["seq"], 4, rt)
        self.point(sysname, chunk, "seq_write_mibps", f["bw_bytes"] / MiB,
                   "MiB/s", snapshots=n, bytes=f["bytes"],
                   runtime_ms=f["runtime_ms"])
        # snapshot reads (the linear device reads the same origin ranges)
        dev = s.open_snap() if sysname != "linear" else s.dev
        try:
            for fig, off in (("snap_read_unchanged_mibps", self.unch),
                             ("snap_read_changed_mibps", self.ow)):
                # the range over and over, in turns with the same range
                # of the bare origin disk
                f, d = paired(dev, off, ORIGIN, off, "read", MiB, r, 4, rt)
                self.point(sysname, chunk, fig, f["bw_bytes"] / MiB, "MiB/s",
                           snapshots=n, bytes=f["bytes"],
                           runtime_ms=f["runtime_ms"],
                           **disk_fields(f["bw_bytes"] / MiB,
                                         d["bw_bytes"] / MiB))
        finally:
            if sysname != "linear":
                s.close_snap()

    def delete(self, s, sysname, chunk, n):
        before = s.used()
        if sysname == "snapshot":
            # removing the COW device returns all it holds
            freed = s.cow_used(s.snaps[0])
            dt = s.delete_oldest()
        else:
            dt = s.delete_oldest()
            freed = before - s.used()
        self.point(sysname, chunk, "delete_oldest_ms", dt * 1000, "ms",
                   snapshots=n)
        self.point(sysname, chunk, "delete_freed_mib", freed / MiB, "MiB",
                   snapshots=n, used_before_mib=round(before / MiB, 3))

    def pause(self, s, sysname, chunk):
        times = []
        for _ in range(self.cfg["pause_reps"]):
            s.snap()
            times.append(s.last_pause * 1000)
        times.sort()
        self.point(sysname, chunk, "create_pause_ms",
                   times[len(times) // 2], "ms",
                   snapshots=len(s.snaps), all_ms=[round(t, 3) for t in times],
                   origins=1)

    def memory(self, sysname, chunk):
        """Kernel memory per preserved chunk and activation time of a store
        that holds many preserved chunks.  Two fills after one snapshot:
        first every other chunk of a separate span, one chunk per write
        (dm-snapshot cannot merge consecutive exceptions there), then the
        whole volume with sequential 1 MiB writes (the many-chunk store).
        The status line's count of data chunks in use must then be the
        number of chunks written, and stay so after every activation."""
        vol = self.cfg["mem_bytes"][chunk // 1024]
        n_str = {4: 16384, 16: 8192, 64: 4096}.get(chunk // 1024, 1024)
        if vol < 256 * MiB:         # quick: a small span
            n_str = min(n_str, 1024)
        span = 2 * n_str * chunk
        length = vol + span
        nchunks = vol // chunk + n_str
        store_len = (nchunks * chunk * 17 // 16 + 64 * MiB) // MiB * MiB
        fresh_disks()
        m0 = kmem()
        s = (Shadow if sysname == "shadow" else Snapshot)(self.cfg, chunk,
                                                           length)
        s.setup(store_len)
        checks = []

        def check(when):
            p = s.preserved()
            p["when"] = when
            p["expected"] = nchunks
            p["ok"] = (p["data_chunks"] == nchunks and
                       p["live_snapshots"] == 1)
            checks.append(p)
            log("%s %d KiB %s: %d data chunks in use, %d expected, %d live "
                "snapshot(s)%s" % (sysname, chunk // 1024, when,
                                   p["data_chunks"], nchunks,
                                   p["live_snapshots"],
                                   "" if p["ok"] else ": MISMATCH"))
            if not p["ok"]:
                self.res.note("%s at %d KiB, memory figure, %s: the status "
                              "shows %d preserved chunks and %d live "
                              "snapshots, not %d and 1 (%s)" %
                              (sysname, chunk // 1024, when,
                               p["data_chunks"], p["live_snapshots"],
                               nchunks, p["status"]))

        act_ms = []
        try:
            s.snap()
            m1 = kmem()
            log("%s %d KiB: scattered fill, %d chunks" %
                (sysname, chunk // 1024, n_str))
            t0 = time.monotonic()
            fio(s.dev, "write:%d" % chunk, chunk, vol, span, 16, 100000)
            t_str = time.monotonic() - t0
            m_str = kmem()
            log("%s %d KiB: sequential fill, %d MiB" %
                (sysname, chunk // 1024, vol // MiB))
            t0 = time.monotonic()
            f = fio(s.dev, "write", MiB, 0, vol, 4, 100000)
            t_fill = time.monotonic() - t0
            m2 = kmem()
            slab = slabinfo(("dm_exception", "dm_snap_pending_exception",
                             "kcopyd_job"))
            held = s.used()
            check("after the fill")
            # deactivate, then time the activation of the full store, as
            # many times as act_reps says
            m3 = m4 = held_after = None
            for k in range(self.cfg.get("act_reps", 1)):
                s.teardown()
                s.devs = []
                if k == 0:
                    m3 = kmem()
                t0 = time.monotonic()
                s.activate(store_len)
                act_ms.append((time.monotonic() - t0) * 1000)
                log("%s %d KiB: activation %d: %.0f ms" %
                    (sysname, chunk // 1024, k + 1, act_ms[-1]))
                if k == 0:
                    m4 = kmem()
                    held_after = s.used() if sysname == "shadow" else \
                        s.cow_used(0)
                check("after activation %d" % (k + 1))
        finally:
            s.teardown()
        d_all = kdelta(m0, m2)
        d_str = kdelta(m1, m_str)
        ok = all(c["ok"] for c in checks)
        self.point(sysname, chunk, "kmem_per_chunk_bytes",
                   d_all["kernel"] / nchunks, "B",
                   preserved_chunks=nchunks, store_bytes=store_len,
                   held_bytes=held, held_after_activation=held_after,
                   status_checks=checks, status_ok=ok,
                   total=d_all, after_activation_and_snapshot=kdelta(m0, m1),
                   growth_scattered=d_str, scattered_chunks=n_str,
                   growth_sequential=kdelta(m_str, m2),
                   reactivated=kdelta(m3, m4), slab=slab,
                   scattered_fill_s=round(t_str, 2),
                   fill_s=round(t_fill, 2),
                   fill_mibps=round(f["bw_bytes"] / MiB, 2),
                   fill_fio_ms=f["runtime_ms"])
        self.point(sysname, chunk, "kmem_growth_per_scattered_chunk_bytes",
                   d_str["kernel"] / n_str, "B", preserved_chunks=n_str)
        if sysname == "snapshot":
            # the exception cache alone (it may be merged with others)
            self.point(sysname, chunk, "dm_exception_per_scattered_chunk_bytes",
                       d_str["dm_exception"] / n_str, "B",
                       preserved_chunks=n_str,
                       per_sequential_chunk=round(
                           kdelta(m_str, m2)["dm_exception"] /
                           max(nchunks - n_str, 1), 3),
                       after_fill=m2["dm_exception"],
                       after_activation=m4["dm_exception"])
        self.point(sysname, chunk, "activation_ms", act_ms[0], "ms",
                   preserved_chunks=nchunks, store_bytes=store_len,
                   all_ms=[round(t, 3) for t in act_ms],
                   status_ok=ok, reactivated=kdelta(m3, m4))

    # ---------------------------------------------------------- group pause
    def group_pause(self, sysname):
        """Snapshot creation pause of 1 and of 4 origins cut together, each
        origin a PAUSE_SLICE of ORIGIN behind a dm-linear device, on idle
        origins, every cut with no other snapshot live (the previous cut is
        deleted, untimed).  dm-shadow: one netlink SHADOW_CMD_SNAP_CREATE
        over all origins, without and with SHADOW_F_FREEZE; the pause is
        the kernel's SHADOW_A_PAUSE_US, the wall time that of the request.
        dm-snapshot: what LVM does for a snapshot of several LVs: suspend
        every snapshot-origin, reload its table and create each new
        snapshot device (COW devices made beforehand), resume every origin.
        dm-thin: 4 thin devices of one pool; suspend them all, one
        create_snap per device, resume them all.  For those two the pause
        is the wall time from the first suspend to the last resume.
        Then the same cuts again (without the freeze flag) with 4 KiB
        random writes under way on every origin, PAUSE_LOAD_IOPS each."""
        cfg = self.cfg
        chunk = PAUSE_CHUNK
        cs = sectors(chunk)
        reps = cfg["group_reps"]
        fresh_disks()
        g = System(cfg, chunk, PAUSE_SLICE)
        lin = [g.mk("blin%d" % i, PAUSE_SLICE, "linear",
                    "%s %d" % (ORIGIN, sectors(i * PAUSE_SLICE)))
               for i in range(PAUSE_ORIGINS)]
        variants = [(n, f) for n in (1, PAUSE_ORIGINS)
                    for f in ((False, True) if sysname == "shadow"
                              else (None,))]
        # under write load: the same cuts, no freeze
        loaded = [(n, "load") for n in (1, PAUSE_ORIGINS)]
        times = {v: [] for v in variants + loaded}
        walls = {v: [] for v in variants + loaded}

        def rounds(vs):
            # interleaved, so that drift in the guest hits every variant
            for _ in range(reps):
                for n, f in vs:
                    pause, wall = cut(n, f is True)
                    undo()
                    times[(n, f)].append(pause * 1000)
                    walls[(n, f)].append(wall * 1000)

        try:
            if sysname == "shadow":
                cut, undo, devs = self._shadow_group(g, lin, cs)
            elif sysname == "snapshot":
                cut, undo, devs = self._snapshot_group(g, lin, cs)
            else:
                cut, undo, devs = self._thin_group(g, lin, cs)
            cut(1, False)           # warm-up, not counted
            undo()
            rounds(variants)
            load = fio_background(devs, PAUSE_LOAD_IOPS)
            try:
                time.sleep(2)
                rounds(loaded)
            finally:
                fio_stop(load)
        finally:
            g.teardown()
        for n, f in variants + loaded:
            t = sorted(times[(n, f)])
            w = sorted(walls[(n, f)])
            if f == "load":
                kw = {"load_iops": PAUSE_LOAD_IOPS}
                if sysname == "shadow":
                    kw["freeze"] = False
            else:
                kw = {} if f is None else {"freeze": f}
            self.point(sysname, chunk, "group_pause_ms", t[len(t) // 2],
                       "ms", origins=n, wall_ms=round(w[len(w) // 2], 3),
                       all_ms=[round(x, 3) for x in t],
                       all_wall_ms=[round(x, 3) for x in w],
                       reps=reps, filesystem=False, **kw)

    def _shadow_group(self, g, lin, cs):
        import genl  # pylint: disable=import-outside-toplevel
        nl = genl.Genl()
        nums = []
        for i, dev in enumerate(lin):
            store = g.mk("bstore%d" % i, PAUSE_STORE, "linear", "%s %d" %
                         (STOREDISK, sectors(i * PAUSE_STORE)))
            vol = g.mk("bvol%d" % i, PAUSE_SLICE, "shadow-origin",
                       "%s %s 2 chunk_size %d" % (dev, store, cs))
            nums.append(genl.devnum(vol))
        live = []

        def cut(n, freeze):
            t0 = time.monotonic()
            ids, pause_us = nl.create(nums[:n], freeze=bool(freeze))
            wall = time.monotonic() - t0
            live.extend(ids.items())
            return pause_us / 1e6, wall

        def undo():
            while live:
                nl.delete(*live.pop())
        devs = ["/dev/mapper/bvol%d" % i for i in range(len(lin))]
        return cut, undo, devs

    def _snapshot_group(self, g, lin, cs):
        for i, dev in enumerate(lin):
            g.mk("borig%d" % i, PAUSE_SLICE, "snapshot-origin", dev)
        live = []
        seq = [0]

        def cut(n, _freeze):
            k = seq[0]
            seq[0] += 1
            cows = []
            for i in range(n):      # before the suspend, as LVM does
                cow = g.mk("bcow%d_%d" % (i, k), PAUSE_COW, "linear",
                           "%s %d" % (STOREDISK,
                                      sectors(i * PAUSE_COW)))
                write_direct(cow, 0, 4096, 4096, zero=True)
                cows.append(cow)
            t0 = time.monotonic()
            for i in range(n):
                dmctl.suspend("borig%d" % i)
            try:
                for i in range(n):
                    dmctl.load("borig%d" % i, [(0, sectors(PAUSE_SLICE),
                                                "snapshot-origin", lin[i])])
                    g.mk("bsnap%d_%d" % (i, k), PAUSE_SLICE, "snapshot",
                         "%s %s P %d" % (lin[i], cows[i], cs))
                    live.append((i, k))
            finally:
                for i in range(n):
                    dmctl.resume("borig%d" % i)
            dt = time.monotonic() - t0
            return dt, dt

        def undo():
            while live:
                i, k = live.pop()
                dmctl.suspend("borig%d" % i)
                try:
                    g.rm("bsnap%d_%d" % (i, k))
                finally:
                    dmctl.resume("borig%d" % i)
                g.rm("bcow%d_%d" % (i, k))
        devs = ["/dev/mapper/borig%d" % i for i in range(len(lin))]
        return cut, undo, devs

    def _thin_group(self, g, lin, cs):
        meta = g.mk("bmeta", 64 * MiB, "linear", METADISK + " 0")
        # room for every origin written whole, and as much again for the
        # blocks a live snapshot keeps under write load
        pool = 2 * PAUSE_ORIGINS * PAUSE_SLICE
        data = g.mk("bdata", pool, "linear", STOREDISK + " 0")
        g.mk("bpool", pool, "thin-pool", "%s %s %d 1" % (meta, data, cs))
        for i, dev in enumerate(lin):
            dmctl.message("bpool", "create_thin %d" % i)
            g.mk("bthin%d" % i, PAUSE_SLICE, "thin",
                 "/dev/mapper/bpool %d %s" % (i, dev))
        live = []
        seq = [PAUSE_ORIGINS]

        def cut(n, _freeze):
            ids = list(range(seq[0], seq[0] + n))
            seq[0] += n
            t0 = time.monotonic()
            for i in range(n):
                dmctl.suspend("bthin%d" % i)
            try:
                for i in range(n):
                    dmctl.message("bpool", "create_snap %d %d" % (ids[i], i))
                    live.append(ids[i])
            finally:
                for i in range(n):
                    dmctl.resume("bthin%d" % i)
            dt = time.monotonic() - t0
            return dt, dt

        def undo():
            while live:
                dmctl.message("bpool", "delete %d" % live.pop())
        devs = ["/dev/mapper/bthin%d" % i for i in range(len(lin))]
        return cut, undo, devs

    def over_time(self, what):
        if time.monotonic() > self.deadline:
            self.res.note("not measured (out of time): " + what)
            return True
        return False

    def run(self, systems, phases):
        chunks = [c * 1024 for c in self.cfg["chunks_kib"]]
        # the group pause first: short, and it needs no prefilled origin
        work = [("pause", sy, PAUSE_CHUNK) for sy in systems
                if "pause" in phases and sy != "linear"]
        for i, chunk in enumerate(chunks):
            if "ladder" in phases:
                work += [("ladder", sy, chunk) for sy in systems]
            # the memory figure at the first chunk size (4 KiB, the goal)
            # right after its ladder, the others at the end
            if "mem" in phases and (i == 0 or chunk == chunks[-1]):
                for c in chunks if i == 0 else chunks[1:]:
                    if i == 0 and c != chunk:
                        continue
                    work += [("mem", sy, c) for sy in ("shadow", "snapshot")
                             if sy in systems]
        for phase, sysname, chunk in work:
            what = "%s %s at %d KiB" % (phase, sysname, chunk // 1024)
            if self.over_time(what):
                continue
            try:
                if phase == "ladder":
                    self.run_system(sysname, chunk)
                elif phase == "pause":
                    self.group_pause(sysname)
                else:
                    self.memory(sysname, chunk)
            except Exception as e:  # pylint: disable=broad-except
                self.res.note("%s failed: %s" % (what, e))
            for name in leftover_devices():
                self.res.note("removing leftover device " + name)
                try:
                    dmctl.remove(name)
                except OSError:
                    pass


def leftover_devices():
    p = subprocess.run(["dmsetup", "ls"], stdout=subprocess.PIPE, text=True,
                       check=False)
    names = [line.split()[0] for line in p.stdout.splitlines()
             if line.split() and line.split()[0].startswith("b")]
    # snapshots and thin devices before what they sit on
    order = ("bsnap", "bshsnap", "bthsnap", "bthin", "bvol", "borig", "bpool",
             "bcow", "bstore", "bdata", "bmeta", "blin")
    return sorted(names, key=lambda n: [n.startswith(o)
                                        for o in order].index(True)
                  if any(n.startswith(o) for o in order) else 99)


def dev_bytes(dev):
    p = subprocess.run(["blockdev", "--getsize64", dev],
                       stdout=subprocess.PIPE, text=True, check=True)
    return int(p.stdout)


def fit_ladder(cfg, systems):
    """Size the stores, the pool and the COW devices of the ladder for what
    it writes (more regions with --reps write more), and check that the
    disks hold them.  Returns an error message, or None."""
    lay = Layout(cfg)
    need = (lay.written * 17 // 16 + 64 * MiB + MiB - 1) // MiB * MiB
    for k in ("store_len", "pool_len", "cow_len"):
        cfg[k] = max(cfg[k], need)
    origin_disk = dev_bytes(ORIGIN)
    if origin_disk < lay.prefill_len:
        return ("the origin disk holds %d MiB, the ladder needs %d MiB" %
                (origin_disk // MiB, lay.prefill_len // MiB))
    store_disk = dev_bytes(STOREDISK)
    want = {"shadow": cfg["store_len"], "thin": cfg["pool_len"],
            # one COW device per snapshot: the ladder's and the pauses'
            "snapshot": cfg["cow_len"] * (max(cfg["ladder"]) +
                                          cfg["pause_reps"])}
    for sysname in systems:
        if sysname in want and store_disk < want[sysname]:
            return ("the store disk holds %d MiB, %s needs %d MiB for "
                    "the ladder" % (store_disk // MiB, sysname,
                                    want[sysname] // MiB))
    return None


def prefill(length):
    """Give the origin real data where the benchmark reads it."""
    write_direct(ORIGIN, 0, length)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("-o", "--out", default=os.environ.get("VM_OUT", "."))
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--chunks", help="comma-separated KiB, overrides")
    ap.add_argument("--phases", default="pause,ladder,mem",
                    help="any of pause (group pause), ladder, mem")
    ap.add_argument("--mem-mib", type=int,
                    help="preserved MiB for the memory figure, overrides")
    ap.add_argument("--budget", type=int, default=0,
                    help="seconds; skip what would start after that")
    ap.add_argument("--reps", type=int,
                    help="regions per first-write point, overrides")
    ap.add_argument("--write-cache", choices=["write back", "write through"],
                    help="set every disk's queue/write_cache first")
    a = ap.parse_args()
    cfg = dict(QUICK if a.quick else FULL)
    if a.reps is not None:
        if a.reps < 1:
            ap.error("--reps must be at least 1")
        cfg["reps"] = a.reps
    if a.write_cache:
        cfg["write_cache"] = a.write_cache
        set_write_cache(a.write_cache)
    if a.chunks:
        cfg["chunks_kib"] = [int(c) for c in a.chunks.split(",")]
    if a.mem_mib:
        cfg["mem_bytes"] = {c: a.mem_mib * MiB for c in cfg["chunks_kib"]}
    systems = a.systems.split(",")
    if "ladder" in a.phases.split(","):
        why = fit_ladder(cfg, systems)
        if why:
            sys.exit("guest.py: %s; use fewer --reps, or larger disks" %
                     why)
    subprocess.run(["modprobe", "-a", "dm-snapshot", "dm-thin-pool"],
                   check=False)
    uname = os.uname()
    meta = {
        "mode": ("quick" if a.quick else "full") + (
            "" if a.phases == "pause,ladder,mem" else " (%s)" % a.phases),
        "kernel": uname.release + " " + uname.version,
        "cpus": os.cpu_count(),
        "mem_total": meminfo()["MemTotal"],
        "fio": subprocess.run(["fio", "--version"], stdout=subprocess.PIPE,
                              text=True, check=False).stdout.strip(),
        "config": {k: v for k, v in cfg.items()},
        "targets": dm_targets(),
        "module": module_info(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    os.makedirs(a.out, exist_ok=True)
    res = Results(os.path.join(a.out, "raw.json"), meta)
    tmp = "/tmp/bench"
    os.makedirs(tmp, exist_ok=True)
    t0 = time.monotonic()
    b = Bench(cfg, res, tmp, t0 + a.budget if a.budget else float("inf"))
    phases = a.phases.split(",")
    if "ladder" in phases:
        log("prefill origin (%d MiB)" % (b.prefill_len // MiB))
        prefill(b.prefill_len)
    b.run(systems, phases)
    res.data["meta"]["elapsed_s"] = round(time.monotonic() - t0, 1)
    res.save()
    log("done in %.0f s" % (time.monotonic() - t0))


def module_info():
    """Version and srcversion of the dm-shadow module under test."""
    out = {}
    for k in ("version", "srcversion"):
        try:
            with open("/sys/module/dm_shadow/" + k) as f:
                out[k] = f.read().strip()
        except OSError:
            pass
    return out


def dm_targets():
    p = subprocess.run(["dmsetup", "targets"], stdout=subprocess.PIPE,
                       text=True, check=False)
    return dict(line.split()[:2] for line in p.stdout.splitlines()
                if len(line.split()) >= 2)


if __name__ == "__main__":
    main()
