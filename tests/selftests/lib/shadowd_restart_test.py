# SPDX-License-Identifier: GPL-2.0
"""The python part of 128-shadowd-restart.sh: all of its TAP."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Tap  # noqa: E402
from shadowd_client import (Client, Daemon, dm_names,  # noqa: E402
                            mounts_under, not_frozen, wait_for)

W = os.environ["W"]
RUN = os.environ["RUN"]
LIVE = W + "/live"
VOL, OTH = "vol128", "oth128"
CONF = W + "/shadowd.conf"
SOCK = RUN + "/shadowd.sock"
MNT_DIR = RUN + "/mnt"
SNAPDIR = LIVE + "/.snapshots"
SHARE = "\\\\server\\live"

t = Tap()
d = Daemon(os.environ["SHADOWD"], CONF, SOCK, W + "/shadowd.log")
log_text = d.log_text


def ok(r):
    return isinstance(r, dict) and r.get("ok") is True


def sh(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


def write_conf(extra="", sock=SOCK):
    text = ("socket = %s\nstate_dir = %s/state\nmount_dir = %s\n"
            "log_level = debug\nsequence_timeout = 0\n"
            "client_timeout_ms = 20000\nidle_timeout_ms = 600000\n"
            "share.live = %s\n" %
            (sock, W, MNT_DIR, LIVE)) + extra
    with open(CONF + ".tmp", "w") as f:
        f.write(text)
    os.replace(CONF + ".tmp", CONF)


def start():
    c = d.start()
    with open(W + "/shadowd.pid", "w") as f:
        f.write("%d\n" % d.proc.pid)
    return c


def hup(what):
    """SIGHUP; wait until shadowd has logged the outcome of the reload."""
    start_at = len(log_text())
    os.kill(d.proc.pid, signal.SIGHUP)
    if not wait_for(lambda: "reload:" in log_text()[start_at:], 60):
        t.diag("%s: no reload logged" % what)
    time.sleep(1)   # the resync that follows a good reload
    return log_text()[start_at:]


def tree(root):
    out = {}
    for dp, dns, fns in os.walk(root):
        dns[:] = [x for x in dns if x not in ("lost+found", ".snapshots")]
        for fn in fns:
            p = os.path.join(dp, fn)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = \
                    hashlib.md5(f.read()).hexdigest()
    return out


def snaps(c, vol):
    r = c.call("snapshot.list", volume=vol)
    return r.get("snapshots", []) if ok(r) else None


def find_set(c, sid):
    r = c.call("fsrvp.list")
    for s in r.get("sets", []) if ok(r) else []:
        if s["set_id"] == sid:
            return s
    return None


def devno(name):
    r = sh("dmsetup", "info", "-c", "--noheadings", "-o", "major,minor",
           name)
    return r.stdout.strip() if r.returncode == 0 else None


def gmt_mounts():
    return [m for m in mounts_under(SNAPDIR) if "/@GMT-" in m]


def policy_text(c):
    r = c.call("policy.show", volume=VOL)
    p = r.get("policy") if ok(r) else None
    return (p or {}).get("policy", ""), (p or {}).get("source")


def state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def write_files(sub, tag):
    os.makedirs(LIVE + "/" + sub, exist_ok=True)
    for i in range(6):
        with open("%s/%s/f%d" % (LIVE, sub, i), "wb") as f:
            f.write((tag + str(i)).encode() * (500 * (i + 1)))
    os.sync()


# ---------------------------------------------------------------- SIGHUP
BASE = "policy.%s = keep-last=2 keep-daily=7\n" % VOL
write_conf("policy.%s = keep-last=5\n" % VOL)
try:
    c = start()
except RuntimeError as e:
    t.check(False, "shadowd starts: %s" % e)
    t.done()
plain = []
for i in range(2):
    write_files("p", "plain%d-" % i)
    r = c.call("snapshot.create", volumes=[VOL], label="plain%d" % i)
    t.check(ok(r), "snapshot plain%d: %s" % (i, r.get("message", "ok")))
    plain += [x["id"] for x in r.get("snapshots", [])]
    time.sleep(1.2)     # previous versions mount one snapshot a second
pol, src = policy_text(c)
t.check("keep-last=5" in pol and src == "config",
        "the configuration's policy: %s (%s)" % (pol, src))
t.check(not gmt_mounts(), "previous_versions = none: no @GMT mount")

write_conf(BASE + "previous_versions = %s\n" % VOL)
out = hup("good file")
pol, src = policy_text(c)
t.check("read" in out and "keep-last=2" in pol and "keep-daily=7" in pol and
        "keep-last=5" not in pol and src == "config",
        "SIGHUP: the new policy is in force: %s" % pol)
t.check(wait_for(lambda: len(gmt_mounts()) == 2, 60),
        "SIGHUP: previous_versions took effect: %d @GMT mounts" %
        len(gmt_mounts()))
t.check(sorted(tree(m).get("p/f0") for m in gmt_mounts()) ==
        sorted(hashlib.md5(("plain%d-0" % i).encode() * 500).hexdigest()
               for i in range(2)),
        "each @GMT mount holds its snapshot's files")

write_conf(BASE + "previous_versions = %s\nno_such_key = 1\n" % VOL)
out = hup("bad file")
pol, _ = policy_text(c)
t.check("unknown key 'no_such_key'" in out and "has errors" in out,
        "SIGHUP with an error in the file: logged")
t.check(d.alive() and "keep-last=2" in pol and len(gmt_mounts()) == 2,
        "... and nothing changed: policy %s, %d @GMT mounts" %
        (pol, len(gmt_mounts())))

write_conf(BASE + "previous_versions = %s\n" % VOL, sock=RUN + "/other.sock")
out = hup("socket changed")
t.check("socket changed" in out and "restarts" in out,
        "SIGHUP with a new socket path: a warning that it needs a restart")
try:
    c2 = Client(SOCK)
    alive = ok(c2.call("version"))
    c2.close()
except OSError:
    alive = False
t.check(alive and not os.path.exists(RUN + "/other.sock"),
        "... and the old socket still answers")

write_conf(BASE)
hup("previous versions off")
t.check(wait_for(lambda: not gmt_mounts(), 60),
        "SIGHUP: previous_versions = none again unmounts them")
res = [c.call("snapshot.delete", volume=VOL, id=i) for i in plain]
t.check(plain and all(ok(x) for x in res), "plain snapshots deleted")

# ------------------------------------------------ kill -9 during a commit
c.call("fsrvp.set_context", context="backup")
sid = c.call("fsrvp.start").get("set_id")
rs = [c.call("fsrvp.add", set_id=sid, share=SHARE),
      c.call("fsrvp.prepare", set_id=sid, timeout_ms=60000)]
t.check(sid and all(ok(x) for x in rs), "set K started, added, prepared")
with open(LIVE + "/dirty", "wb") as f:
    f.write(os.urandom(1 << 20))        # left for the freeze to write
r = sh("dmsetup", "suspend", "ost128")
t.check(r.returncode == 0, "the origin's disk is suspended")
pid = d.proc.pid
c2 = Client(SOCK)
c2.send_raw(json.dumps({"op": "fsrvp.commit", "set_id": sid,
                        "timeout_ms": 120000}).encode() + b"\n")
in_kernel = wait_for(lambda: state(pid) == "D", 60)
os.kill(pid, signal.SIGKILL)
time.sleep(2)
t.check(in_kernel and d.proc.poll() is None,
        "kill -9 lands while the commit waits in the kernel (state %s)" %
        state(pid))
r = sh("dmsetup", "resume", "ost128")
t.check(r.returncode == 0, "the origin's disk is resumed")
try:
    d.proc.wait(120)
except subprocess.TimeoutExpired:
    pass
t.check(d.proc.poll() is not None, "shadowd is gone once the cut returns")
c2.close()
c = start()
t.check(find_set(c, sid) is None, "restart: the set is aborted")
left = [s for s in snaps(c, VOL) or [] if s["label"].startswith("fsrvp-")]
t.check(snaps(c, VOL) is not None and not left,
        "restart: the snapshot the interrupted commit made is deleted (%s)" %
        [s["id"] for s in left])
t.check(("state: deleted %s snapshot" % devno(VOL)) in log_text(),
        "restart: ... the cut did complete in the kernel, and that "
        "snapshot was deleted")
t.check(not_frozen(LIVE), "restart: the origin filesystem is not frozen")
with open(LIVE + "/after", "wb") as f:
    f.write(b"writable\n")
    f.flush()
    os.fsync(f.fileno())
t.check(True, "the origin filesystem takes a synced write")
t.check("was being made" in log_text() and not dm_names("shadow-") and
        not mounts_under(MNT_DIR), "restart: logged; no device, no mount")

# --------------------------------- a set whose volume changes its number
write_files("e", "setE-")
committed = tree(LIVE + "/e")
c.call("fsrvp.set_context", context="backup")
sid = c.call("fsrvp.start").get("set_id")
rs = [c.call("fsrvp.add", set_id=sid, share=SHARE),
      c.call("fsrvp.prepare", set_id=sid, timeout_ms=60000),
      c.call("fsrvp.commit", set_id=sid, timeout_ms=60000)]
s = find_set(c, sid)
t.check(all(ok(x) for x in rs) and s and s["status"] == "Committed",
        "set E committed")
cp = s["copies"][0] if s else {}
old_dev, snap_id = cp.get("volume"), cp.get("snapshot", 0)
write_files("e", "later-")
d.stop()
r = sh("umount", LIVE)
r2 = sh("dmsetup", "remove", VOL)
t.check(r.returncode == 0 and r2.returncode == 0, "%s unmounted, removed" % VOL)
r = sh("dmsetup", "create", OTH, "--table", os.environ["OTH_TABLE"])
sh("dmsetup", "mknodes")
t.check(r.returncode == 0 and devno(OTH) == old_dev,
        "%s now has the old number %s (%s)" % (OTH, old_dev, devno(OTH)))
oth_ids = []
for i in range(snap_id + 1):
    r = sh("dmsetup", "message", OTH, "0", "create", "other")
    if r.returncode == 0 and r.stdout.strip().isdigit():
        oth_ids.append(int(r.stdout.strip()))
t.check(snap_id and snap_id in oth_ids,
        "%s has a snapshot %s too (%s)" % (OTH, snap_id, oth_ids))
r = sh("dmsetup", "create", VOL, "--table", os.environ["VOL_TABLE"])
sh("dmsetup", "mknodes")
new_dev = devno(VOL)
r2 = sh("mount", "/dev/mapper/" + VOL, LIVE)
t.check(r.returncode == 0 and r2.returncode == 0 and new_dev != old_dev,
        "%s is back as %s" % (VOL, new_dev))
c = start()
s = find_set(c, sid)
cp = s["copies"][0] if s and s["copies"] else {}
t.check(s is not None and s["status"] == "Committed" and
        cp.get("volume") == new_dev and cp.get("snapshot") == snap_id,
        "restart: set E follows %s to %s (%s)" % (VOL, new_dev, cp))
t.check(("volume %s is %s now (was %s)" % (VOL, new_dev, old_dev))
        in log_text(), "... and says so in its log")
r = c.call("fsrvp.expose", set_id=sid, timeout_ms=60000)
s = find_set(c, sid)
cp = s["copies"][0] if s and s["copies"] else {}
mp = cp.get("mount_point", "")
t.check(ok(r) and mp and tree(mp + "/e") == committed,
        "set E exposes the content of its commit, from %s" % VOL)
t.check(sorted(x["id"] for x in snaps(c, OTH) or []) == sorted(oth_ids),
        "%s's snapshots are untouched" % OTH)
r = c.call("fsrvp.delete_share_mapping", set_id=sid,
           copy_id=cp.get("copy_id"), share=SHARE)
t.check(ok(r) and find_set(c, sid) is None and not mounts_under(MNT_DIR) and
        not dm_names("shadow-"), "set E deleted: nothing left")
d.stop()
t.check(d.proc.returncode == 0, "shadowd stops cleanly")
t.done()
