# SPDX-License-Identifier: GPL-2.0
"""The python part of 120-shadowd.sh: all of its TAP (see that file)."""

import hashlib
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Tap  # noqa: E402
from shadowd_client import (Client, Daemon, dm_names, mounts_under,  # noqa: E402
                            not_frozen)

W = os.environ["W"]
RUN = os.environ["RUN"]
LIVE = {"ext": W + "/live_e", "xfs": W + "/live_x"}
VOL = {"ext": "vol_e", "xfs": "vol_x"}
FS = {"ext": "ext4", "xfs": "xfs"}
MNT_DIR = RUN + "/mnt"
AUTO_RECOVERY = 0x00400000

t = Tap()
d = Daemon(os.environ["SHADOWD"], W + "/shadowd.conf", RUN + "/shadowd.sock",
           W + "/shadowd.log")


def sh(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


def ok(r):
    return isinstance(r, dict) and r.get("ok") is True


def tree(root):
    """{relative path: md5} of the regular files under root."""
    out = {}
    for dp, dns, fns in os.walk(root):
        dns[:] = [x for x in dns if x != "lost+found"]
        for fn in fns:
            p = os.path.join(dp, fn)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = hashlib.md5(f.read()).hexdigest()
    return out


def start_daemon():
    c = d.start()
    with open(W + "/shadowd.pid", "w") as f:
        f.write("%d\n" % d.proc.pid)
    return c


def sets(c):
    r = c.call("fsrvp.list")
    return r.get("sets", []) if ok(r) else None


def find_set(c, sid):
    for s in sets(c) or []:
        if s["set_id"] == sid:
            return s
    return None


def snaps(c, vol):
    r = c.call("snapshot.list", volume=vol)
    return r.get("snapshots", []) if ok(r) else None


def fsrvp_snaps(c):
    """(volume, id) of every snapshot labelled by an FSRVP set."""
    out = []
    for k, v in VOL.items():
        for s in snaps(c, v) or []:
            if s["label"].startswith("fsrvp-"):
                out.append((v, s["id"]))
    return out


def fsck_snapshot(vol, snap_id, fs, dirty_log_ok=False):
    """e2fsck -fn / xfs_repair -n on a read-only device of the snapshot of
    its own, which nothing mounts."""
    name = "fsck-%s-%d" % (vol, snap_id)
    size = sh("blockdev", "--getsz", "/dev/mapper/" + vol).stdout.strip()
    r = sh("dmsetup", "--noudevsync", "create", name, "--readonly",
           "--table", "0 %s shadow /dev/mapper/%s %d ro" % (size, vol, snap_id))
    if r.returncode:
        t.diag("fsck device: " + r.stderr.strip())
        return False
    sh("dmsetup", "mknodes", name)
    dev = "/dev/mapper/" + name
    r = sh("e2fsck", "-fn", dev) if fs == "ext4" else sh("xfs_repair", "-n", dev)
    out = r.stdout + r.stderr
    good = r.returncode == 0
    if not good and fs == "xfs" and dirty_log_ok and r.returncode == 1:
        # A copy of a frozen xfs that nothing mounted writable still
        # has its log; xfs_repair -n says so (exit 1) and must find
        # nothing else.
        complaints = [x for x in out.splitlines()
                      if "would" in x.lower() or "bad" in x.lower() or
                      "corrupt" in x.lower() or "error" in x.lower()]
        good = ("valuable metadata changes in a log" in out and
                not complaints)
        if good:
            t.diag("%s: only the log left by the freeze (not replayed on "
                   "a read-only copy)" % dev)
        else:
            t.diag("complaints: %s" % complaints[:5])
    if not good:
        t.diag("%s: %s" % (dev, out.strip()[:600]))
    sh("dmsetup", "--noudevsync", "remove", name)
    return good


def fsrvp_set(c, ctx, shares, expose=True, commit=True):
    """SetContext .. Expose; the set id and the replies."""
    rs = {}
    rs["set_context"] = c.call("fsrvp.set_context", context=ctx)
    rs["start"] = c.call("fsrvp.start")
    sid = rs["start"].get("set_id")
    for sh_ in shares:
        rs["add " + sh_] = c.call("fsrvp.add", set_id=sid,
                                  share="\\\\server\\" + sh_)
    rs["prepare"] = c.call("fsrvp.prepare", set_id=sid, timeout_ms=60000)
    if commit:
        rs["commit"] = c.call("fsrvp.commit", set_id=sid, timeout_ms=60000)
    if expose:
        rs["expose"] = c.call("fsrvp.expose", set_id=sid, timeout_ms=60000)
    return sid, rs


def all_ok(rs):
    bad = ["%s: %s" % (k, v) for k, v in rs.items() if not ok(v)]
    for b in bad:
        t.diag(b)
    return not bad


def copies_by_share(s):
    out = {}
    for cp in s["copies"]:
        for k in LIVE:
            if cp["share"].endswith("\\" + k):
                out[k] = cp
    return out


def writable(path):
    try:
        with open(os.path.join(path, ".probe"), "w") as f:
            f.write("x")
        os.unlink(os.path.join(path, ".probe"))
        return True
    except OSError:
        return False


def nothing_left(c, what):
    t.check(not mounts_under(MNT_DIR), "%s: no mount left under %s" % (what, MNT_DIR))
    t.check(not dm_names("shadow-"), "%s: no shadow-* device left" % what)
    left = fsrvp_snaps(c)
    t.check(left == [], "%s: no FSRVP snapshot left %s" % (what, left))


# ---------------------------------------------------------------- start
for k, p in LIVE.items():
    os.makedirs(p + "/static", exist_ok=True)
    for i in range(12):
        with open("%s/static/f%02d" % (p, i), "wb") as f:
            f.write(os.urandom(3000 * (i + 1)))
    os.makedirs(p + "/w", exist_ok=True)
os.sync()

try:
    c = start_daemon()
except RuntimeError as e:
    t.check(False, "shadowd starts: %s" % e)
    t.done()
t.check(True, "shadowd starts and answers on its socket")

# ----------------------------------------------- set A, while a writer runs
stop = threading.Event()
done = {k: [] for k in LIVE}     # numbers whose file was written and fsynced
started = {k: 0 for k in LIVE}   # next number to be written


def content(n):
    return (("%08d\n" % n) * (64 + n % 50)).encode()


def writer():
    n = 0
    while not stop.is_set():
        for k, p in LIVE.items():
            started[k] = n + 1
            path = "%s/w/%06d" % (p, n)
            with open(path, "wb") as f:
                f.write(content(n))
                f.flush()
                os.fsync(f.fileno())
            done[k].append(n)
        n += 1
        time.sleep(0.01)


wt = threading.Thread(target=writer)
wt.start()
time.sleep(1.0)
sid, rs = fsrvp_set(c, "backup", ["ext", "xfs"], commit=False, expose=False)
before = {k: tree(p + "/static") for k, p in LIVE.items()}
synced = {k: list(v) for k, v in done.items()}
rs["commit"] = c.call("fsrvp.commit", set_id=sid, timeout_ms=60000)
after = dict(started)
time.sleep(0.5)
stop.set()
wt.join()
t.diag("writer: %s files synced before the commit, next after it %s" %
       ({k: len(v) for k, v in synced.items()}, after))
# the live filesystems move on: a static file changes after the commit
for k, p in LIVE.items():
    with open(p + "/static/f00", "wb") as f:
        f.write(b"changed after the commit\n")
os.sync()
rs["expose"] = c.call("fsrvp.expose", set_id=sid, timeout_ms=60000)
t.check(all_ok(rs), "set A: set_context, start, add x2, prepare, commit, expose succeed")
s = find_set(c, sid)
if not t.check(s is not None and s["status"] == "Exposed" and
               len(s["copies"]) == 2, "set A is Exposed with 2 copies"):
    t.diag("cannot go on without set A")
    print("Bail out! set A was not exposed")
    sys.exit(1)
cps = copies_by_share(s) if s else {}
for k in LIVE:
    cp = cps.get(k)
    if not cp:
        t.check(False, "set A: %s copy exposed" % k)
        continue
    mp = cp.get("mount_point", "")
    t.check(os.path.ismount(mp) and cp.get("exposed_name", "").endswith(
            "%s@{%s}" % (k, cp["copy_id"])),
            "set A: %s copy mounted at %s as %s" % (k, mp, cp.get("exposed_name")))
    t.check(tree(mp + "/static") == before[k],
            "set A: %s copy holds the files as they were at the commit "
            "(f00 changed since)" % k)
    names = set(os.listdir(mp + "/w"))
    missing = [n for n in synced[k] if "%06d" % n not in names]
    late = [x for x in names if int(x) >= after[k]]
    badc = []
    for n in synced[k]:
        try:
            with open("%s/w/%06d" % (mp, n), "rb") as f:
                if f.read() != content(n):
                    badc.append(n)
        except OSError:
            pass
    t.check(not missing and not late and not badc,
            "set A: %s copy holds every file synced before the commit, none "
            "begun after it (missing %s, late %s, bad %s)" %
            (k, missing[:5], late[:5], badc[:5]))
    t.check(not writable(mp), "set A: %s copy is read-only" % k)
    t.check(not_frozen(mp) and not_frozen(LIVE[k]),
            "set A: %s: neither the copy nor the origin is frozen" % k)
    t.check(fsck_snapshot(VOL[k], cp["snapshot"], FS[k], dirty_log_ok=True),
            "set A: %s copy is clean (%s)" % (k, "e2fsck -fn" if k == "ext"
                                               else "xfs_repair -n"))
r = c.call("fsrvp.get_share_mapping", set_id=sid,
           copy_id=cps["ext"]["copy_id"] if "ext" in cps else None,
           share="\\\\server\\ext", level=1) if "ext" in cps else {}
t.check(ok(r) and r.get("exposed_name") == cps["ext"]["exposed_name"],
        "set A: get_share_mapping names the exposed share")
t.check(ok(c.call("fsrvp.recovery_complete", set_id=sid)),
        "set A: recovery_complete")
res = []
for k, cp in cps.items():
    res.append(c.call("fsrvp.delete_share_mapping", set_id=sid,
                      copy_id=cp["copy_id"], share="\\\\server\\" + k))
t.check(res and all(ok(x) for x in res) and find_set(c, sid) is None,
        "set A: delete_share_mapping x2 deletes the set")
nothing_left(c, "set A deleted")

# ----------------------------------------------- set B, auto-recovery
sid_b, rs = fsrvp_set(c, AUTO_RECOVERY, ["ext", "xfs"])
t.check(all_ok(rs), "set B (auto-recovery): created and exposed")
s = find_set(c, sid_b)
cps_b = copies_by_share(s) if s else {}
t.check(len(cps_b) == 2 and all(cp.get("writable") and
                                writable(cp["mount_point"])
                                for cp in cps_b.values()),
        "set B: the copies are writable before recovery_complete")
for cp in cps_b.values():
    with open(cp["mount_point"] + "/static/recovered", "w") as f:
        f.write("written by the recovery\n")
t.check(ok(c.call("fsrvp.recovery_complete", set_id=sid_b)),
        "set B: recovery_complete")
s = find_set(c, sid_b)
t.check(s is not None and s["status"] == "Recovered", "set B is Recovered")
t.check(all(not writable(cp["mount_point"]) and
            os.path.exists(cp["mount_point"] + "/static/recovered")
            for cp in cps_b.values()),
        "set B: the copies are read-only after, the recovery's writes kept")
ro = []
for k, cp in cps_b.items():
    for x in snaps(c, VOL[k]) or []:
        if x["id"] == cp["snapshot"]:
            ro.append(x["readonly"])
    r = sh("dmsetup", "table", cp["device"])
    ro.append(r.stdout.strip().endswith(" ro"))
t.check(ro == [True] * 4,
        "set B: snapshots read-only in the kernel, tables read-only %s" % ro)
for k, cp in cps_b.items():
    t.check(fsck_snapshot(VOL[k], cp["snapshot"], FS[k]),
            "set B: %s copy is clean after its recovery (%s)" %
            (k, "e2fsck -fn" if k == "ext" else "xfs_repair -n"))

# ----------------------------------------------- unauthorised, garbage
pid = os.fork()
if pid == 0:
    try:
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
        u = Client(RUN + "/shadowd.sock")
        r1 = u.call("fsrvp.set_context", context="backup")
        r2 = u.call("snapshot.create", volumes=["vol_e"])
        r3 = u.call("fsrvp.list")
        good = (r1.get("hresult") == "0x80070005" and
                r2.get("error") == "E_ACCESSDENIED" and not ok(r3))
        os._exit(0 if good else 1)
    except Exception:
        os._exit(2)
_, st = os.waitpid(pid, 0)
t.check(os.WEXITSTATUS(st) == 0,
        "uid 65534 is refused set_context, snapshot.create, fsrvp.list")

g = Client(RUN + "/shadowd.sock")
g.send_raw(b"this is not json\n")
r1 = g.read_line()
g.send_raw(b"\x00\xff{]\n")
r2 = g.read_line()
g.send_raw(b'{"op": 42}\n')
r3 = g.read_line()
t.check(not ok(r1) and not ok(r2) and not ok(r3) and ok(g.call("version")),
        "garbage lines get error replies; the connection still works")
g.close()
g = Client(RUN + "/shadowd.sock")
closed = False
try:
    g.send_raw(b"x" * 100000)
    r = g.read_line()
    try:
        g.read_line()
    except (EOFError, OSError):
        closed = True
except (EOFError, OSError):
    closed = True
    r = {}
g.close()
t.check(closed, "an oversized request closes its connection (%s)" % r.get("error"))
t.check(d.alive() and ok(c.call("version")),
        "shadowd still answers after garbage and an oversized request")

# ----------------------------------------------- kill -9 with a set Added
c.call("fsrvp.set_context", context="backup")
sid_d = c.call("fsrvp.start").get("set_id")
r = c.call("fsrvp.add", set_id=sid_d, share="\\\\server\\ext")
d.kill9()
c = start_daemon()
t.check(ok(r) and find_set(c, sid_d) is None and
        find_set(c, sid_b)["status"] == "Recovered",
        "kill -9 with a set Added: restart aborts it, keeps the Recovered set")

# ----------------------------------------------- kill -9 after commit
sid_c, rs = fsrvp_set(c, "backup", ["ext", "xfs"], expose=False)
committed = {k: tree(p + "/static") for k, p in LIVE.items()}
t.check(all_ok(rs), "set C committed")
for k, p in LIVE.items():
    with open(p + "/static/f01", "wb") as f:
        f.write(b"changed after set C\n")
d.kill9()
c = start_daemon()
s = find_set(c, sid_c)
t.check(s is not None and s["status"] == "Committed" and len(s["copies"]) == 2,
        "kill -9 after commit: set C is Committed after the restart")
ids = sorted(cp["snapshot"] for cp in (s or {"copies": []})["copies"])
t.check(len(fsrvp_snaps(c)) == 4 and all(i for i in ids),
        "kill -9 after commit: its snapshots are there (B's and C's)")
t.check(all(not_frozen(p) for p in LIVE.values()),
        "kill -9 after commit: no origin filesystem is frozen")
t.check(ok(c.call("fsrvp.expose", set_id=sid_c, timeout_ms=60000)),
        "set C: expose after the restart")

# ----------------------------------------------- kill -9 after expose
d.kill9()
c = start_daemon()
s = find_set(c, sid_c)
cps_c = copies_by_share(s) if s else {}
t.check(s is not None and s["status"] == "Exposed" and len(cps_c) == 2 and
        all(os.path.ismount(cp["mount_point"]) for cp in cps_c.values()),
        "kill -9 after expose: set C is Exposed and mounted after the restart")
t.check(all(tree(cps_c[k]["mount_point"] + "/static") == committed[k]
            for k in cps_c),
        "set C: its copies hold the files of its commit")
t.check(all(not_frozen(cp["mount_point"]) for cp in cps_c.values()) and
        all(not_frozen(p) for p in LIVE.values()),
        "kill -9 after expose: nothing is frozen")
t.check(len(mounts_under(MNT_DIR)) == 4 and len(dm_names("shadow-")) == 4,
        "mounts and devices: B's 2 and C's 2, no more (%d, %d)" %
        (len(mounts_under(MNT_DIR)), len(dm_names("shadow-"))))
b = find_set(c, sid_b)
t.check(b is not None and all(os.path.ismount(cp["mount_point"]) and
                              not writable(cp["mount_point"])
                              for cp in b["copies"]),
        "set B: still mounted read-only after two restarts")

# ----------------------------------------------- the timer deletes set C
SEQ = int(os.environ.get("SEQ_TIMEOUT", "60"))
t.diag("waiting for the sequence timer (%d s) to expire set C" % SEQ)
end = time.time() + SEQ + 90
while time.time() < end and find_set(c, sid_c) is not None:
    time.sleep(2)
t.check(find_set(c, sid_c) is None, "the sequence timer deleted set C")
t.check(find_set(c, sid_b) is not None, "... and kept the Recovered set B")
t.check(all(not os.path.exists(cp["mount_point"]) or
            not os.path.ismount(cp["mount_point"]) for cp in cps_c.values()) and
        all(not dm_names(cp["device"]) for cp in cps_c.values()),
        "set C: its mounts and devices are gone")

# ----------------------------------------------- set B deleted: nothing left
res = [c.call("fsrvp.delete_share_mapping", set_id=sid_b, copy_id=cp["copy_id"],
              share="\\\\server\\" + k) for k, cp in cps_b.items()]
t.check(all(ok(x) for x in res) and sets(c) == [],
        "set B deleted with delete_share_mapping; no set left")
nothing_left(c, "the end")
with open(W + "/state/fsrvp-sets.json") as f:
    t.check(json.load(f).get("sets") == [], "the state file has no set left")
t.check(all(not_frozen(p) for p in LIVE.values()),
        "the origin filesystems are not frozen")
d.stop()
t.check(d.proc.returncode == 0, "shadowd stops cleanly on SIGTERM")
t.done()
