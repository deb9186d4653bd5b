# SPDX-License-Identifier: GPL-2.0
"""The python part of 121-shadowd-events.sh: all of its TAP."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Tap  # noqa: E402
import shadowd_client  # noqa: E402
from shadowd_client import Daemon, dm_names, mounts_under  # noqa: E402

W = os.environ["W"]
RUN = os.environ["RUN"]
SHADOWCTL = os.environ["SHADOWCTL"]
LIVE = W + "/live"
VOL = "vol121"
MNT_DIR = RUN + "/mnt"
LOW, HIGH = 40, 70
REGION = 5 << 20

t = Tap()
d = Daemon(os.environ["SHADOWD"], W + "/shadowd.conf", RUN + "/shadowd.sock",
           W + "/shadowd.log")


def ok(r):
    return isinstance(r, dict) and r.get("ok") is True


def sh(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


def usage():
    """(used, total) bytes from shadowctl origin show --json --bytes."""
    r = sh(SHADOWCTL, "origin", "show", "--json", "--bytes", VOL)
    if r.returncode:
        t.diag("shadowctl: " + r.stderr.strip())
        return None
    o = json.loads(r.stdout)
    row = (o.get("origins") or [o])[0]
    return int(row["used"]), int(row["total"])


def pct():
    u = usage()
    return 100.0 * u[0] / u[1] if u else -1


def snaps(c):
    r = c.call("snapshot.list", volume=VOL)
    return r.get("snapshots", []) if ok(r) else []


def by_label(c):
    return {s["label"]: s["id"] for s in snaps(c)}


def overwrite(path, size, seed):
    """Overwrite the file in place (ext4 keeps its blocks), O_DIRECT."""
    r = sh("dd", "if=/dev/urandom", "of=" + path, "bs=1M",
           "count=%d" % (size >> 20), "conv=notrunc,fsync", "oflag=direct")
    if r.returncode:
        t.diag("dd: " + r.stderr.strip())


log_text = d.log_text


def wait_for(cond, secs):
    return shadowd_client.wait_for(cond, secs, step=1)


c = d.start()
with open(W + "/shadowd.pid", "w") as f:
    f.write("%d\n" % d.proc.pid)

# ------------------------------------------- prune on the high-water event
data = LIVE + "/data"
overwrite(data, REGION, 0)
sh("sync")
ids = {}
for name in ("s1", "s2", "P", "s3", "s4"):
    if name == "P":
        rs = [c.call("fsrvp.set_context", context="backup")]
        rs.append(c.call("fsrvp.start"))
        sid = rs[-1].get("set_id")
        rs.append(c.call("fsrvp.add", set_id=sid, share="\\\\server\\ext"))
        rs.append(c.call("fsrvp.prepare", set_id=sid, timeout_ms=60000))
        rs.append(c.call("fsrvp.commit", set_id=sid, timeout_ms=60000))
        rs.append(c.call("fsrvp.expose", set_id=sid, timeout_ms=60000))
        good = all(ok(r) for r in rs)
        if not good:
            t.diag("fsrvp: %s" % rs)
        t.check(good, "FSRVP set committed and exposed")
        cp = [s for s in c.call("fsrvp.list")["sets"]
              if s["set_id"] == sid][0]["copies"][0]
        ids["P"] = cp["snapshot"]
        p_mnt = cp.get("mount_point", "")
        p_dev = cp.get("device", "")
    else:
        r = c.call("snapshot.create", volumes=[VOL], label=name)
        if not ok(r):
            t.diag("snapshot.create: %s" % r)
        ids[name] = r["snapshots"][0]["id"] if ok(r) else None
    overwrite(data, REGION, name)
t.diag("snapshots %s; store %.1f%% used" % (ids, pct()))
t.check(None not in ids.values() and pct() >= HIGH,
        "5 snapshots, store at or above %d%% (%.1f%%)" % (HIGH, pct()))
t.check(p_mnt in mounts_under(MNT_DIR), "P is mounted on %s" % p_mnt)
t.check("prune" not in log_text(), "no prune before the marks are set")

r = sh(SHADOWCTL, "origin", "set-water", "--low", str(LOW), "--high",
       str(HIGH), VOL)
t.check(r.returncode == 0, "set-water %d/%d over netlink %s" %
        (LOW, HIGH, r.stderr.strip()))
t.check(wait_for(lambda: "snapshot(s) deleted" in log_text(), 120),
        "shadowd pruned on the high-water event")
left = by_label(c)
now = pct()
t.diag("left %s; store %.1f%% used" % (left, now))
t.check(now < LOW, "store use under the low mark: %.1f%% < %d%%" % (now, LOW))
t.check(ids["P"] in left.values(), "the exposed FSRVP snapshot is kept")
t.check("s1" not in left and "s2" not in left,
        "the oldest unpinned snapshots s1, s2 were deleted")
t.check("s4" in left, "the newest snapshot s4 was not needed and is kept")
deleted = [n for n in ("s1", "s2", "s3") if n not in left]
logs = log_text()
t.check(all("prune: deleted" in logs and
            ("snapshot %d: no retention policy" % ids[n]) in logs
            for n in deleted),
        "each deletion is logged with its reason")
order = [logs.find("snapshot %d: no retention" % ids[n]) for n in deleted]
t.check(order == sorted(order), "oldest first: %s" % deleted)
t.check(p_mnt in mounts_under(MNT_DIR), "P is still mounted")

# ------------------------------------------------------------ policies
r = c.call("policy.set", volume="other", policy="keep-daily=7 store-high=90 store-low=60")
t.check(ok(r), "policy.set %s" % r)
r = c.call("policy.set", volume="other", policy="store-high=20 store-low=60")
t.check(not ok(r) and "store-low" in r.get("message", ""),
        "policy.set refuses a bad policy: %s" % r.get("message"))
r = c.call("policy.show")
pols = {p["volume"]: p for p in r.get("policies", [])}
t.check(ok(r) and pols.get("other", {}).get("store_high") == 90,
        "policy.show lists it")
with open(W + "/state/policies.json") as f:
    saved = json.load(f)
t.check(any(p["volume"] == "other" and "keep-daily=7" in p["policy"]
            for p in saved["policies"]), "policy persisted in state_dir")
r = c.call("policy.set", volume="other", policy="")
t.check(ok(r) and not c.call("policy.show").get("policies"),
        "policy removed with an empty text")

# ------------------------------------ the kernel drops the exposed copy
r = sh(SHADOWCTL, "origin", "set-water", "--low", "0", "--high", "0", VOL)
t.check(r.returncode == 0, "marks off")
before = log_text().count("prune: deleted")
big = LIVE + "/big"
r = sh("dd", "if=/dev/urandom", "of=" + big, "bs=1M", "count=36",
       "conv=fsync", "oflag=direct")
if r.returncode:
    t.diag("dd: " + r.stderr.strip().replace("\n", " ")[-200:])
t.check(r.returncode == 0, "36 MiB written into a 32 MiB store")
t.check(wait_for(lambda: p_mnt not in mounts_under(MNT_DIR), 120),
        "the dropped copy P is unmounted")
t.check(p_dev not in dm_names("shadow-"), "its device %s is removed" % p_dev)
t.check(ids["P"] not in by_label(c).values(),
        "the kernel dropped P (drop_oldest)")
sets = c.call("fsrvp.list").get("sets", [])
cps = [x for s in sets for x in s["copies"]]
t.check(cps and cps[0].get("gone") is True and "dropped" in
        cps[0].get("gone_reason", ""), "fsrvp.list: the copy is gone (%s)" %
        (cps[0].get("gone_reason") if cps else None))
with open(W + "/state/fsrvp-sets.json") as f:
    st = json.load(f)
t.check(any(x.get("gone") for s in st["sets"] for x in s["copies"]),
        "the gone copy is persisted")
t.check("dropped the snapshot" in log_text(), "shadowd logged why")
t.check(log_text().count("prune: deleted") == before,
        "no pruning with the marks off")
t.check(d.alive() and ok(c.call("version")), "shadowd is still running")

# a restart forgets the gone copy
d.stop()
c = d.start()
with open(W + "/shadowd.pid", "w") as f:
    f.write("%d\n" % d.proc.pid)
r = c.call("fsrvp.list")
t.check(ok(r) and not r.get("sets"), "after a restart the set is forgotten")
d.stop()
t.done()
