#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# shadowctl against the module: origin list/show, snapshot create (one
# origin and a group), list, set-readonly, delete, diff, set-water and
# monitor, with their JSON output, and the refusals a sysadmin meets
# (unknown origin, unknown snapshot, bad arguments) with their exit codes.
# timeout: 600

. "$(dirname "$0")/lib/shadow.sh"

require python3 dd
cleanup()
{
	dm_remove vol2 tst-s2 tst-o2
	cleanup_all
}
trap cleanup EXIT
tap_header

make_disks 16 32
dd if=/dev/zero of=$ORIGIN_DEV bs=1M count=16 oflag=direct status=none
origin_up || bail "origin table"
S=$SHADOWCTL

# json EXPR: evaluate a Python expression on stdin's JSON as `j`
json()
{
	python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

out=$($S origin list --json)
check "origin list --json names vol" \
	[ "$(json 'j["origins"][0]["name"]' <<<"$out")" = vol ]
check "origin list shows rw and no snapshot" \
	[ "$(json '(j["origins"][0]["state"], j["origins"][0]["snaps"])' <<<"$out")" = "('rw', 0)" ]
check "origin show by path" $S origin show /dev/mapper/vol
dev=$(json 'j["origins"][0]["dev"]' <<<"$out")
check "origin show by major:minor ($dev)" $S origin show "$dev"

out=$($S snapshot create --label nightly vol)
check "snapshot create prints the origin and the id ($out)" [ "$out" = "vol 1" ]
write_random /dev/mapper/vol 0 4
write_random /dev/mapper/vol 640 4
out=$($S snapshot create --json -v vol 2>/dev/null)
check "snapshot create --json gives id 2" \
	[ "$(json 'j["snapshots"][0]["id"]' <<<"$out")" = 2 ]
check "and a pause" [ "$(json 'j["pause_us"] > 0' <<<"$out")" = True ]
out=$($S snapshot list --json vol)
check "snapshot list has 1 and 2, label kept" \
	[ "$(json '[(s["id"], s["label"]) for s in j["snapshots"]]' <<<"$out")" = "[(1, 'nightly'), (2, None)]" ]

# 64 KiB chunks: 0 KiB and 640 KiB are chunks 0 and 10
out=$($S diff vol 1 2)
check "diff 1 2 is the two chunks written ($out)" \
	[ "$out" = "$(printf '0 128\n1280 128')" ]
check "diff 2 live is empty" [ -z "$($S diff vol 2 live)" ]
check "diff --bytes" [ "$($S diff --bytes vol 1 2 | head -n 1)" = "0 65536" ]
# 16 MiB in 64 KiB chunks: 256 bits, 32 bytes; chunks 0 and 10 set
bm=$(mktemp /tmp/bitmap.XXXXXX)
$S diff --bitmap "$bm" vol 1 2
check "diff --bitmap: 32 bytes, bits 0 and 10 ($(od -An -tx1 "$bm" | tr -s ' \n' ' '))" \
	[ "$(od -An -v -tx1 "$bm" | tr -s ' \n' ' ')" = " 01 04$(printf ' 00%.0s' $(seq 30)) " ]
$S diff --bitmap "$bm" vol 2 live
check "diff --bitmap of nothing changed: all zero" \
	[ "$(od -An -v -tx1 "$bm" | tr -s ' \n' ' ')" = "$(printf ' 00%.0s' $(seq 32)) " ]
$S diff --bitmap "$bm" --json vol 1 2 2>/dev/null; rc=$?
check "diff --bitmap with --json is a usage error" [ $rc = 2 ]
rm -f "$bm"

check "set-readonly" $S snapshot set-readonly vol 1
check "the mark shows in the list" \
	[ "$($S snapshot list --json vol | json 'j["snapshots"][0]["mode"]')" = ro ]
check "set-water" $S origin set-water --low 10 --high 80 vol
check "thresholds show" \
	[ "$($S origin show --json vol | json '(j["origins"][0]["low"], j["origins"][0]["high"])')" = "(10, 80)" ]

# a monitor sees the create and delete that follow it
mon=/tmp/monitor.out
$S monitor --count 2 -v >"$mon" 2>/tmp/monitor.err &
mpid=$!
for _ in $(seq 1 50); do
	grep -q listening /tmp/monitor.err 2>/dev/null && break
	sleep 0.2
done
$S snapshot create vol >/dev/null
$S snapshot delete vol 3
wait $mpid
check "monitor prints create then delete" \
	[ "$(awk '{print $2, $4}' "$mon" | tr '\n' ,)" = "snap-create 3,snap-delete 3," ]

# group of two: a second origin on its own disks
# (ram0 is 32 MiB and vol uses its first 16)
dm create tst-o2 --table "0 8192 linear /dev/ram0 32768" &&
	dm create tst-s2 --table "0 16384 linear /dev/ram0 40960" &&
	dd if=/dev/zero of=/dev/mapper/tst-s2 bs=4096 count=1 oflag=direct status=none &&
	dm create vol2 --table "0 8192 shadow-origin /dev/mapper/tst-o2 /dev/mapper/tst-s2" ||
	bail "second origin"
dm mknodes >/dev/null 2>&1
out=$($S snapshot create vol vol2)
check "group create of two origins ($out)" [ "$out" = "$(printf 'vol 4\nvol2 1')" ]
check "origin list shows both" [ "$($S origin list --noheadings | wc -l)" = 2 ]
dm remove vol2
dm remove tst-s2
dm remove tst-o2

# refusals
# refused CODE PATTERN: the last command exited CODE with PATTERN on stderr
refused()
{
	[ "$rc" = "$1" ] && grep -q "$2" /tmp/err
}
$S snapshot create nosuchvol >/dev/null 2>/tmp/err; rc=$?
check "unknown origin: exit 1 with a message ($(cat /tmp/err))" \
	refused 1 'shadowctl: '
$S snapshot delete vol 77 2>/tmp/err; rc=$?
check "unknown snapshot: exit 1, the kernel's reason ($(cat /tmp/err))" \
	refused 1 'No live snapshot'
$S snapshot delete vol abc 2>/dev/null; rc=$?
check "bad id: usage error" [ $rc = 2 ]
$S snapshot create --label 'a b' vol 2>/dev/null; rc=$?
check "label with a blank: usage error" [ $rc = 2 ]
$S diff vol 2 1 2>/tmp/err; rc=$?
check "diff backwards: refused ($(cat /tmp/err))" refused 1 later
$S origin set-water --low 90 --high 10 vol 2>/tmp/err; rc=$?
check "low above high: refused ($(cat /tmp/err))" refused 1 'Low threshold'
check "and nothing changed: snapshots 1 2 4" \
	[ "$($S snapshot list --json vol | json '[s["id"] for s in j["snapshots"]]')" = "[1, 2, 4]" ]
test_done
