#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Host side of `make bench`: turn the guest's raw.json into a table of
ratios (printed and written to results.txt), results.json (raw points,
ratios and the MET / NOT MET verdict of every target) and a PNG plot
(gnuplot, when installed).

  report.py RAW.JSON OUTDIR [MORE-RAW.JSON...] [--over RAW.JSON]...

The group pause of 1 and 4 origins (figure group_pause_ms, from
`tests/bench/run --only pause` or the pause phase of a full run) gets a
table of its own and decides the group pause target.

Further raw files (a second guest run for the chunk sizes a first run did
not reach, or an --only pause run) are merged in: their points and notes are added, and their
meta is kept under "runs".  Where two runs measured the same figure, the
first run's point is reported, except that the points of a raw file given
with --over (a later, larger measurement of some figures, such as
`tests/bench/run --only mem`) are reported in place of every other run's
points of the same system, figure and chunk size; those stay in
results.json, marked "superseded".  Ratios are only ever taken between
points of one chunk size, which one run measures together."""

import json
import os
import shutil
import subprocess
import sys

SYSTEMS = ["linear", "shadow", "snapshot", "thin"]
NAMES = {"linear": "dm-linear", "shadow": "dm-shadow",
         "snapshot": "dm-snapshot", "thin": "dm-thin"}
FIGURES = [
    ("first_write_iops", "first 4 KiB write after a snapshot (IOPS)"),
    ("overwrite_iops", "4 KiB overwrite of preserved chunks (IOPS)"),
    ("seq_write_mibps", "sequential 1 MiB first writes (MiB/s)"),
    ("snap_read_unchanged_mibps", "snapshot read, unchanged chunks (MiB/s)"),
    ("snap_read_changed_mibps", "snapshot read, changed chunks (MiB/s)"),
]

SHORT = {"overwrite_iops": "overwrite", "seq_write_mibps": "seq write",
         "snap_read_unchanged_mibps": "read unchanged",
         "snap_read_changed_mibps": "read changed"}


class Points:
    def __init__(self, raw):
        self.p = raw["points"]

    def get(self, system, figure, chunk, snaps=None):
        for q in self.p:
            if (q["system"] == system and q["figure"] == figure and
                    q["chunk_kib"] == chunk and
                    (snaps is None or q.get("snapshots") == snaps)):
                return q
        return None

    def val(self, *a, **kw):
        q = self.get(*a, **kw)
        return None if q is None else q["value"]

    def chunks(self):
        return sorted({q["chunk_kib"] for q in self.p
                       if q["figure"] != "group_pause_ms"})

    def snaps(self, figure, chunk):
        return sorted({q["snapshots"] for q in self.p
                       if q["figure"] == figure and q["chunk_kib"] == chunk
                       and q.get("snapshots") is not None})


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(x, spec="%.2f"):
    return "-" if x is None else spec % x


def fmtv(x):
    if x is None:
        return "-"
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def to_disk(q):
    """A point's ratio to the bare disk measured in turns with it (the
    overwrite and read figures since the paired measurement), or None."""
    return None if q is None else q.get("to_disk")


def build_tables(P):
    """Ratios to dm-linear for the throughput figures, plus the raw
    values of the pause, delete, memory and activation figures."""
    lines = []
    ratios = []
    for ck in P.chunks():
        lines.append("")
        lines.append("chunk %d KiB" % ck)
        lines.append("%-44s %5s %9s %8s %8s %8s %8s %8s" %
                     ("figure", "snaps", "linear", "shadow", "snapshot",
                      "thin", "sh/snap", "sh/thin"))
        for fig, title in FIGURES:
            for n in P.snaps(fig, ck):
                lin = P.val("linear", fig, ck, n)
                v = {s: P.val(s, fig, ck, n) for s in SYSTEMS}
                if all(v[s] is None for s in SYSTEMS[1:]):
                    continue
                r = {s: ratio(v[s], lin) for s in SYSTEMS[1:]}
                r_snap = ratio(v["shadow"], v["snapshot"])
                r_thin = ratio(v["shadow"], v["thin"])
                ratios.append({"chunk_kib": ck, "figure": fig,
                               "snapshots": n, "linear": lin,
                               "values": v, "to_linear": r,
                               "shadow_to_snapshot": r_snap,
                               "shadow_to_thin": r_thin})
                lines.append("%-44s %5d %9s %8s %8s %8s %8s %8s" %
                             (title, n, fmtv(lin), fmt(r["shadow"]),
                              fmt(r["snapshot"]), fmt(r["thin"]),
                              fmt(r_snap), fmt(r_thin)))
                d = {s: to_disk(P.get(s, fig, ck, n)) for s in SYSTEMS}
                if any(d[s] is not None for s in SYSTEMS):
                    ratios[-1]["to_disk"] = d
                    lines.append("%-44s %5d %9s %8s %8s %8s %8s %8s" %
                                 ("  the same, to the bare disk in turns", n,
                                  fmt(d["linear"]), fmt(d["shadow"]),
                                  fmt(d["snapshot"]), fmt(d["thin"]),
                                  fmt(ratio(d["shadow"], d["snapshot"])),
                                  fmt(ratio(d["shadow"], d["thin"]))))
        lines.append("  (linear: absolute figure in the guest; the other "
                     "columns: ratio to linear, then dm-shadow to the others;")
        lines.append("  'to the bare disk in turns': every column is the "
                     "system's ratio to the same job on the bare")
        lines.append("  disk, run in alternation with it, second by second)")
        for fig, title, unit in (
                ("create_pause_ms", "snapshot creation pause, 1 origin",
                 "ms"),
                ("delete_oldest_ms", "delete the oldest snapshot", "ms"),
                ("delete_freed_mib", "space returned by that delete", "MiB"),
                ("kmem_per_chunk_bytes", "kernel memory per preserved chunk",
                 "B"),
                ("kmem_growth_per_scattered_chunk_bytes",
                 "growth per scattered preserved chunk", "B"),
                ("dm_exception_per_scattered_chunk_bytes",
                 "dm_exception cache per scattered chunk", "B"),
                ("activation_ms", "activation, store full of preserved chunks",
                 "ms"),
                ("activation_again_ms",
                 "activation again (median of the next)", "ms")):
            v = {s: P.get(s, fig, ck) for s in SYSTEMS[1:]}
            if fig == "activation_again_ms":
                v = {s: again(P.get(s, "activation_ms", ck))
                     for s in SYSTEMS[1:]}
            if all(q is None for q in v.values()):
                continue
            extra = ""
            q = v["shadow"] or v["snapshot"]
            if "preserved_chunks" in q:
                extra = " (%d chunks)" % q["preserved_chunks"]
            elif q.get("snapshots"):
                extra = " (%d snapshots)" % q["snapshots"]
            lines.append("%-44s %5s %9s %8s %8s %8s %8s %8s" %
                         ((title + extra)[:44], unit, "",
                          fmtv(v["shadow"] and v["shadow"]["value"]),
                          fmtv(v["snapshot"] and v["snapshot"]["value"]),
                          fmtv(v["thin"] and v["thin"]["value"]),
                          fmt(ratio(v["shadow"] and v["shadow"]["value"],
                                    v["snapshot"] and
                                    v["snapshot"]["value"])),
                          fmt(ratio(v["shadow"] and v["shadow"]["value"],
                                    v["thin"] and v["thin"]["value"]))))
    return lines, ratios


def again(q):
    """The median of the activations after the first of an activation_ms
    point, as a point of its own, or None."""
    later = sorted((q or {}).get("all_ms", [])[1:])
    if not later:
        return None
    return {"value": later[len(later) // 2], "activations": len(later)}


def group_points(P, system, origins, freeze=None, load=False):
    """The group pause point of SYSTEM for ORIGINS origins (dm-shadow:
    with or without the freeze flag; idle origins, or with LOAD, under
    write load), the first run's when several."""
    for q in P.p:
        if (q["system"] == system and q["figure"] == "group_pause_ms" and
                q.get("origins") == origins and q.get("freeze") == freeze
                and bool(q.get("load_iops")) == load):
            return q
    return None


GROUP_ROWS = [("shadow", False, "dm-shadow group cut"),
              ("shadow", True, "dm-shadow group cut, freeze flag"),
              ("snapshot", None, "dm-snapshot suspend/reload/resume"),
              ("thin", None, "dm-thin suspend/create_snap/resume")]


def group_table(P):
    """The snapshot creation pause of 1 and 4 origins, in ms: the pause
    (dm-shadow: the kernel's SHADOW_A_PAUSE_US) and the wall time of the
    request, medians; then each pause as a ratio to dm-snapshot's."""
    if not any(q["figure"] == "group_pause_ms" for q in P.p):
        return []
    origins = sorted({q["origins"] for q in P.p
                      if q["figure"] == "group_pause_ms"})
    q0 = next(q for q in P.p if q["figure"] == "group_pause_ms")
    lines = ["", "snapshot creation pause, group cut (%d KiB chunks, idle "
             "origins, no filesystem, median of %d, ms)" %
             (q0["chunk_kib"], q0.get("reps", 0)),
             "%-44s %7s %9s %7s %9s %8s" %
             ("system", "origins", "pause", "wall", "/snapshot",
              "wall/sn")]
    rates = {q["load_iops"] for q in P.p
             if q["figure"] == "group_pause_ms" and q.get("load_iops")}
    for load in (False, True):
        if load and not rates:
            continue
        if load:
            lines.append("under write load: 4 KiB random writes to every "
                         "origin, %s IOPS each, queue depth 4" %
                         "/".join(str(r) for r in sorted(rates)))
        for n in origins:
            ref = group_points(P, "snapshot", n, load=load)
            for sy, fr, title in GROUP_ROWS:
                if load and fr:
                    continue
                q = group_points(P, sy, n, fr, load)
                if q is None:
                    continue
                lines.append("%-44s %7d %9s %7s %9s %8s" % (
                    title, n, fmtv(q["value"]), fmtv(q.get("wall_ms")),
                    fmt(ratio(q["value"], ref and ref["value"])),
                    fmt(ratio(q.get("wall_ms"), ref and ref["value"]))))
    lines.append("  (dm-shadow's pause: the kernel's SHADOW_A_PAUSE_US; its "
                 "wall: the netlink request; the others: first suspend to "
                 "last resume)")
    return lines


def group_target(P):
    """4 origins: the larger of dm-shadow's two kernel pauses (with and
    without the freeze flag) at most 1/10 of dm-snapshot's pause."""
    name = ("group pause for 4 origins <= 1/10 of dm-snapshot's "
            "suspend/reload/resume")
    sn = group_points(P, "snapshot", 4)
    sh = [group_points(P, "shadow", 4, f) for f in (False, True)]
    if sn is None or any(q is None for q in sh):
        return dict(name=name, **verdict(None, "not measured in this run"))
    worst = max(q["value"] for q in sh)
    wall = max(q["wall_ms"] for q in sh)
    return dict(name=name, **verdict(
        worst <= sn["value"] / 10,
        "dm-shadow %s ms (no freeze %s, freeze %s; request wall time %s), "
        "dm-snapshot %s ms: %.3fx (wall %.3fx)" %
        (fmtv(worst), fmtv(sh[0]["value"]), fmtv(sh[1]["value"]),
         fmtv(wall), fmtv(sn["value"]), worst / sn["value"],
         wall / sn["value"])))


def verdict(ok, detail):
    if ok is None:
        return {"status": "NOT MEASURED", "detail": detail}
    return {"status": "MET" if ok else "NOT MET", "detail": detail}


def all_of(checks):
    """None if nothing could be checked, else the conjunction."""
    c = [x for x in checks if x is not None]
    return None if not c else all(c)


def targets(P):
    fw = "first_write_iops"
    out = []

    def cmp(a, b, factor=1.0):
        if a is None or b is None:
            return None
        return a >= factor * b

    s4, n4 = P.val("shadow", fw, 4, 1), P.val("snapshot", fw, 4, 1)
    s64, t64 = P.val("shadow", fw, 64, 1), P.val("thin", fw, 64, 1)
    out.append(dict(
        name="1 snapshot: first-write IOPS >= dm-snapshot at 4 KiB",
        **verdict(cmp(s4, n4), "dm-shadow %s, dm-snapshot %s IOPS" %
                  (fmtv(s4), fmtv(n4)))))
    out.append(dict(
        name="1 snapshot: first-write IOPS >= dm-thin at 64 KiB",
        **verdict(cmp(s64, t64), "dm-shadow %s, dm-thin %s IOPS" %
                  (fmtv(s64), fmtv(t64)))))
    for n in (32, 128):
        checks, det = [], []
        for ck in P.chunks():
            one, many = P.val("shadow", fw, ck, 1), P.val("shadow", fw, ck, n)
            c = cmp(many, one, 0.9)
            checks.append(c)
            if c is not None:
                det.append("%d KiB: %.2fx" % (ck, many / one))
        out.append(dict(
            name="%d snapshots: first-write IOPS >= 0.9x dm-shadow's own "
                 "1-snapshot figure (every chunk size)" % n,
            **verdict(all_of(checks), ", ".join(det) or
                      "not in this run (quick mode)")))
        sn, tn = P.val("shadow", fw, 64, n), P.val("thin", fw, 64, n)
        out.append(dict(
            name="%d snapshots: first-write IOPS >= dm-thin at 64 KiB" % n,
            **verdict(cmp(sn, tn), "dm-shadow %s, dm-thin %s IOPS" %
                      (fmtv(sn), fmtv(tn)) if sn is not None else
                      "not in this run (quick mode)")))
    for fig, factor, name in (
            ("overwrite_iops", 0.95,
             "overwrite of preserved chunks >= 0.95x linear"),
            ("snap_read_unchanged_mibps", 0.9,
             "unchanged snapshot reads >= 0.9x linear")):
        # Where the run measured each system in turns with the bare disk,
        # dm-shadow's ratio to the disk over dm-linear's: the drift of the
        # emulated machine between the two systems' turns cancels out.
        checks, det = [], []
        paired_any = False
        for ck in P.chunks():
            for n in P.snaps(fig, ck):
                d = ratio(to_disk(P.get("shadow", fig, ck, n)),
                          to_disk(P.get("linear", fig, ck, n)))
                if d is not None:
                    paired_any = True
                    c = d >= factor
                    checks.append(c)
                    det.append("%d KiB: %.2fx" % (ck, d))
                    continue
                s, lin = P.val("shadow", fig, ck, n), P.val("linear", fig,
                                                           ck, n)
                c = cmp(s, lin, factor)
                checks.append(c)
                if c is not None:
                    det.append("%d KiB: %.2fx" % (ck, s / lin))
        if paired_any:
            name += ", each to the bare disk in turns"
        out.append(dict(name=name + " (every chunk size)",
                        **verdict(all_of(checks), ", ".join(det))))
    out.append(group_target(P))
    return out


def plot(P, outdir):
    """PNG: first-write IOPS relative to dm-linear against the number of
    snapshots, one panel per chunk size, and one panel with the other
    throughput figures at the default chunk size."""
    gp = shutil.which("gnuplot")
    if not gp:
        print("bench: gnuplot not installed, no plot")
        return None
    chunks = [ck for ck in P.chunks() if P.snaps("first_write_iops", ck)]
    if not chunks:
        print("bench: no throughput figures, no plot")
        return None
    dat = os.path.join(outdir, "plot.dat")
    with open(dat, "w") as f:
        for ck in chunks:
            f.write("# chunk %d KiB: snaps shadow snapshot thin "
                    "(first-write IOPS / linear)\n" % ck)
            for n in P.snaps("first_write_iops", ck):
                lin = P.val("linear", "first_write_iops", ck, n)
                row = [ratio(P.val(s, "first_write_iops", ck, n), lin)
                       for s in SYSTEMS[1:]]
                f.write("%d %s\n" % (n, " ".join(
                    "NaN" if r is None else "%.4f" % r for r in row)))
            f.write("\n\n")
        dck = 64 if 64 in chunks else chunks[0]
        present = {q["system"] for q in P.p if q["chunk_kib"] == dck and
                   q["figure"] in dict(FIGURES[1:])}
        f.write("# other figures at %d KiB: label shadow snapshot thin "
                "(/ linear)\n" % dck)
        for fig, title in FIGURES[1:]:
            ns = P.snaps(fig, dck)
            if not ns:
                continue
            lin = P.val("linear", fig, dck, ns[0])
            row = [ratio(P.val(s, fig, dck, ns[0]), lin) for s in SYSTEMS[1:]]
            label = SHORT[fig]
            f.write("\"%s\" %s\n" % (label, " ".join(
                "NaN" if r is None else "%.4f" % r for r in row)))
    png = os.path.join(outdir, "results.png")
    panels = len(chunks) + 1
    cols = min(panels, 3)
    rows = (panels + cols - 1) // cols
    script = [
        "set terminal pngcairo size %d,%d font ',9' noenhanced" %
        (cols * 420, rows * 330)
        if b"pngcairo" in subprocess.run([gp, "-e", "set terminal"],
                                         stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT).stdout
        else "set terminal png size %d,%d noenhanced" %
        (cols * 420, rows * 330),
        "set output '%s'" % png,
        "set multiplot layout %d,%d title 'dm-shadow bench (ratios to "
        "dm-linear within one emulated run)'" % (rows, cols),
        "set key top right",
        "set grid",
        "set logscale x 2",
        "set yrange [0:*]",
        "set xlabel 'live snapshots'",
        "set ylabel 'first-write IOPS / linear'",
    ]
    for i, ck in enumerate(chunks):
        script += [
            "set title 'first 4 KiB write, chunk %d KiB'" % ck,
            "plot '%s' index %d using 1:2 with linespoints title "
            "'dm-shadow', '' index %d using 1:3 with linespoints title "
            "'dm-snapshot', '' index %d using 1:4 with linespoints title "
            "'dm-thin'" % (dat, i, i, i),
        ]
    script += [
        "unset logscale x",
        "set xlabel ''",
        "set ylabel 'ratio to linear'",
        "set title 'other figures, chunk %d KiB'" % dck,
        "set style data histograms",
        "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1",
        "set boxwidth 0.9",
        "set xtics font ',7'",
        "plot " + ", ".join(
            "'%s' index %d using %d%s title '%s'" %
            (dat, len(chunks), col, ":xtic(1)" if i == 0 else "", NAMES[sy])
            for i, (col, sy) in enumerate(
                c for c in enumerate(SYSTEMS[1:], 2) if c[1] in present)),
        "unset multiplot",
    ]
    p = subprocess.run([gp], input="\n".join(script) + "\n", text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       check=False)
    if p.returncode != 0 or not os.path.exists(png):
        print("bench: gnuplot failed:\n" + p.stderr)
        return None
    return png


def point_key(q):
    return (q["system"], q["figure"], q["chunk_kib"])


def parse_args(argv):
    """RAW OUTDIR [MORE...] with --over FILE anywhere (repeatable)."""
    pos, over = [], []
    i = 0
    while i < len(argv):
        if argv[i] == "--over":
            if i + 1 >= len(argv):
                sys.exit("report.py: --over needs a raw.json")
            over.append(argv[i + 1])
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    if len(pos) < 2:
        sys.exit("usage: report.py RAW.JSON OUTDIR [MORE-RAW.JSON...] "
                 "[--over RAW.JSON]...")
    return pos[0], pos[1], pos[2:], over


def main():
    raw_path, outdir, more_paths, over_paths = parse_args(sys.argv[1:])
    with open(raw_path) as f:
        raw = json.load(f)
    raw["runs"] = [raw["meta"]]
    for q in raw["points"]:
        q.setdefault("run", 0)
    over_points = []
    for more in more_paths + over_paths:
        with open(more) as f:
            r2 = json.load(f)
        raw["runs"].append(r2["meta"])
        for q in r2["points"]:
            q["run"] = len(raw["runs"]) - 1
        if more in over_paths:
            over_points += r2["points"]
        else:
            # a figure both runs measured is reported from the first
            raw["points"] += r2["points"]
        raw["notes"] += [n for n in r2["notes"] if n not in raw["notes"]]
    if over_points:
        # reported in place of the others: first in the list, and the
        # points they replace marked
        keys = {point_key(q) for q in over_points}
        for q in raw["points"]:
            if point_key(q) in keys:
                q["superseded"] = True
        raw["points"] = over_points + raw["points"]
    P = Points(raw)
    meta = raw["meta"]
    head = ["dm-shadow benchmark, %s run, %s" % (meta["mode"],
                                                 meta.get("started", "")),
            "guest: %s, %s CPUs, %d MiB, fio %s, TCG (emulated): ratios only"
            % (meta["kernel"].split()[0], meta["cpus"],
               meta["mem_total"] >> 20, meta.get("fio", "?")),
            "guest time: %s s" % " + ".join(
                str(m.get("elapsed_s", "? (cut short)")) for m in raw["runs"])]
    wc = meta.get("config", {}).get("write_cache")
    if wc:
        head.append("disks' write_cache set to \"%s\" (flushes and FUA "
                    "%s)" % (wc, "dropped" if wc == "write through"
                             else "sent"))
    lines, ratios = build_tables(P)
    lines += group_table(P)
    if any(q["figure"] == "group_pause_ms" for q in P.p):
        # earlier runs could not measure it and said so
        raw["notes"] = [n for n in raw["notes"] if not n.startswith(
            "group pause for 4 origins: not measured")]
    tg = targets(P)
    lines += ["", "targets"]
    for t in tg:
        lines.append("  %-12s %s: %s" % (t["status"], t["name"], t["detail"]))
    if raw.get("notes"):
        lines += ["", "notes"] + ["  " + n for n in raw["notes"]]
    text = "\n".join(head + lines) + "\n"
    print(text)
    with open(os.path.join(outdir, "results.txt"), "w") as f:
        f.write(text)
    png = plot(P, outdir)
    res = dict(raw, ratios=ratios, targets=tg)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("bench: wrote %s%s" % (os.path.join(outdir, "results.json"),
                                 ", " + png if png else ""))


if __name__ == "__main__":
    main()
