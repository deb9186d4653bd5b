#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# shadowctl against a running shadowd: set (the FSRVP operations one at a
# time, on an ext4 volume, through expose, mapping and delete-mapping),
# policy set/show, prune --dry-run then prune (it deletes exactly what the
# dry run said), pins (snapshot pin, create --pin, unpin), status --json
# and --metrics, simulate; and the exit codes: 2 bad arguments, 3 no
# shadowd, 4 an unprivileged caller, 5 no such set, copy, snapshot.
# timeout: 600

. "$(dirname "$0")/lib/shadow.sh"
. "$(dirname "$0")/lib/shadowctl.sh"

require python3 mkfs.ext4 setpriv
SHADOWD=$SHADOW_TOP/build/shadowd
[ -x "$SHADOWD" ] || skip_all "build/shadowd not built (make user)"

W=/tmp/shd123
RUN=/run/shd123
SOCK=$RUN/shadowd.sock

cleanup()
{
	local m d

	[ -n "${DPID:-}" ] && kill -9 "$DPID" 2>/dev/null
	for m in $(awk -v p="$RUN/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	umount "$W/live" 2>/dev/null
	for d in $($DMSETUP ls 2>/dev/null | awk '{ print $1 }'); do
		case $d in
		shadow-*) $DMSETUP remove "$d" >/dev/null 2>&1 ;;
		esac
	done
	cleanup_all
	rm -rf "$W" "$RUN"
}
trap cleanup EXIT
tap_header

rm -rf "$W" "$RUN"
mkdir -p "$W/live" "$W/state" "$W/metrics" "$RUN"
chmod 755 "$W"
make_disks 64 128
origin_up || bail "origin table"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/vol || bail "mkfs"
mount /dev/mapper/vol "$W/live" || bail "mount"

# A copy of shadowctl that the unprivileged user can run.
install -m 0755 "$SHADOWCTL" "$W/shadowctl"
GUID='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
NOGUID=01234567-89ab-cdef-0123-456789abcdef

# ---------------------------------------------------------- no daemon
check "no shadowd: set list exits 3" rc_is 3 sc set list
check "no shadowd: prune exits 3" rc_is 3 sc prune vol
check "and says so" grep -q 'is shadowd running' "$W/err"

cat >"$W/shadowd.conf" <<EOF
socket = $SOCK
state_dir = $W/state
mount_dir = $RUN/mnt
log_level = debug
sequence_timeout = 120
share.ext = $W/live
EOF
"$SHADOWD" -f -c "$W/shadowd.conf" >"$W/shadowd.log" 2>&1 &
DPID=$!
for _ in $(seq 50); do
	[ -S "$SOCK" ] && break
	sleep 0.1
done
[ -S "$SOCK" ] || bail "shadowd did not start: $(tail -5 "$W/shadowd.log")"

# --------------------------------------------------------- usage errors
check "set add without SHARE: exit 2" rc_is 2 sc set add "$NOGUID"
check "set abort with a bad GUID: exit 2" rc_is 2 sc set abort nope
check "set context with a bad context: exit 2" rc_is 2 sc set context bogus
check "set list -o BOGUS: exit 2" rc_is 2 sc set list -o BOGUS
check "policy set with an unknown setting: exit 2" \
	rc_is 2 sc policy set vol keep-bogus=3
check "and the engine's message" grep -q "keep-bogus" "$W/err"
check "prune without VOLUME: exit 2" rc_is 2 sc prune
check "prune --bogus: exit 2" rc_is 2 sc prune --bogus vol
check "snapshot pin with a bad id: exit 2" rc_is 2 sc snapshot pin vol x
check "status -o NOPE: exit 2" rc_is 2 sc status -o NOPE
check "simulate --every 0: exit 2" \
	rc_is 2 sc simulate --every 0 --for 1d keep-last=1
check "simulate without --for: exit 2" \
	rc_is 2 sc simulate --every 1h keep-last=1
check "simulate --start garbage: exit 2" \
	rc_is 2 sc simulate --every 1h --for 1d --start yesterday keep-last=1

# --------------------------------------------------------- unprivileged
check "nobody: set start exits 4" rc_is 4 nobody "$W/shadowctl" --socket "$SOCK" set start
check "nobody: set list exits 4" rc_is 4 nobody "$W/shadowctl" --socket "$SOCK" set list
check "nobody: policy set exits 4" rc_is 4 nobody "$W/shadowctl" --socket "$SOCK" policy set vol keep-last=1
check "nobody: prune --dry-run exits 4" rc_is 4 nobody "$W/shadowctl" --socket "$SOCK" prune --dry-run vol
check "nobody: snapshot pin exits 4" rc_is 4 nobody "$W/shadowctl" --socket "$SOCK" snapshot pin vol 1
check "nobody: snapshot unpin exits 4" rc_is 4 nobody "$W/shadowctl" --socket "$SOCK" snapshot unpin vol 1

# ------------------------------------------------------------ FSRVP set
echo before >"$W/live/marker"
sync
check "set context backup" rc_is 0 sc set context backup
set_id=$(sc set start)
check "set start prints a GUID ($set_id)" grep -Eq "$GUID" <<<"$set_id"
copy_id=$(sc set add "$set_id" '\\fs1\ext')
check "set add prints a GUID ($copy_id)" grep -Eq "$GUID" <<<"$copy_id"
check "set start while one is in progress: exit 1 with the FSRVP name" \
	rc_is 1 sc set start
check "and the HRESULT" grep -q 'FSRVP_E_SHADOW_COPY_SET_IN_PROGRESS (0x80042316)' "$W/err"
check "set prepare" rc_is 0 sc set prepare "$set_id" --timeout 60000
check "set commit" rc_is 0 sc set commit "$set_id" --timeout 60000
echo after >"$W/live/marker"
sync
check "set expose" rc_is 0 sc set expose "$set_id" --timeout 60000
check "set commit of an unknown set: exit 5" rc_is 5 sc set commit "$NOGUID"
# GetShareMapping answers E_INVALIDARG for a copy not in the set (MS-FSRVP)
check "set mapping of an unknown copy: exit 1" \
	rc_is 1 sc set mapping "$set_id" "$NOGUID" '\\fs1\ext'
check "with the FSRVP name and HRESULT" grep -q 'E_INVALIDARG (0x80070057)' "$W/err"
out=$(sc set mapping --json "$set_id" "$copy_id" '\\fs1\ext')
mnt=$(json 'j["mount_point"]' <<<"$out")
check "set mapping --json: exposed name and a creation time" \
	[ "$(json 'bool(j["exposed_name"]) and j["created"] > 1600000000 and j["creation_ts"] > 10**17' <<<"$out")" = True ]
check "the mount point ($mnt) holds the file as it was at the commit" \
	[ "$(cat "$mnt/marker" 2>/dev/null)" = before ]
out=$(sc set mapping "$set_id" "$copy_id" '\\fs1\ext')
check "set mapping prints exposed_name, mount_point, created" \
	[ "$(sed 's/:.*//' <<<"$out" | tr '\n' ' ')" = "exposed_name mount_point created " ]
out=$(sc set list --json)
check "set list --json: the set is Exposed, its copy on snapshot 1" \
	[ "$(json '[(c["status"], c["snapshot"]) for c in j["sets"] if c["set"] == "'"$set_id"'"]' <<<"$out")" = "[('Exposed', 1)]" ]
out=$(sc set list -H -o status,copy)
check "set list -H -o STATUS,COPY: two columns, no header ($out)" \
	[ "$(awk '{ print NF, $1, $2 }' <<<"$out")" = "2 Exposed $copy_id" ]
# prune keeps the snapshot of an FSRVP set: keep-last=1 and a newer one
check "policy set vol keep-last=1" rc_is 0 sc policy set vol 'keep-last=1'
extra=$(sc snapshot create vol | awk '{ print $2 }')
out=$(sc prune --dry-run --json vol)
check "prune --dry-run keeps the FSRVP snapshot as pinned, $extra as last" \
	[ "$(json '[(s["id"], s["action"], s["reasons"]) for s in j["snapshots"]]' <<<"$out")" = "[(1, 'keep', ['pinned']), ($extra, 'keep', ['last'])]" ]
check "snapshot delete vol $extra" rc_is 0 sc snapshot delete vol "$extra"
check "set recovery-complete" rc_is 0 sc set recovery-complete "$set_id"
check "set delete-mapping" \
	rc_is 0 sc set delete-mapping "$set_id" "$copy_id" '\\fs1\ext'
check "the exposed copy is unmounted" fails grep -q " $mnt " /proc/mounts
check "and its snapshot deleted" \
	[ "$(sc snapshot list --json vol | json 'len(j["snapshots"])')" = 0 ]
check "set delete-mapping again: exit 5" \
	rc_is 5 sc set delete-mapping "$set_id" "$copy_id" '\\fs1\ext'

# ----------------------------------------------------------- policies
check "policy set vol keep-last=2" rc_is 0 sc policy set vol 'keep-last=2'
check "policy show vol" [ "$(sc policy show vol)" = "keep-last=2" ]
out=$(sc policy show --json)
check "policy show --json: typed" \
	[ "$(json '[(p["volume"], p["source"], p["high"]) for p in j["policies"]]' <<<"$out")" = "[('vol', 'state', 0)]" ]
check "policies.json in the state directory" grep -q keep-last "$W/state/policies.json"

# ------------------------------------------------------- pins and prune
for _ in 1 2 3 4 5; do
	sc snapshot create vol >/dev/null || bail "snapshot create"
	sleep 1
done
ids()
{
	sc snapshot list --json vol | json '[s["id"] for s in j["snapshots"]]'
}
first=$(ids | json 'j[0]')
check "five snapshots ($(ids))" [ "$(ids | json 'len(j)')" = 5 ]
s1=$first s2=$((first + 1)) s3=$((first + 2)) s4=$((first + 3)) s5=$((first + 4))
check "snapshot pin vol $s2" rc_is 0 sc snapshot pin vol $s2
check "pins.json names the volume and the snapshot" \
	[ "$(json '[(p["volume"], p["id"]) for p in j["pins"]]' <"$W/state/pins.json")" = "[('vol', $s2)]" ]
check "snapshot pin of an unknown snapshot: exit 5" rc_is 5 sc snapshot pin vol 999
out=$(sc snapshot create --pin vol)
s6=$(awk '{ print $2 }' <<<"$out")
check "snapshot create --pin reports the snapshot ($out)" [ "$s6" = $((s5 + 1)) ]

# keep-last=2 keeps s5 and s6; s2 and s6 are pinned; s1 s3 s4 go.
out=$(sc prune --dry-run --json vol)
plan=$(json '[(s["id"], s["action"]) for s in j["snapshots"]]' <<<"$out")
check "prune --dry-run: a decision for every snapshot ($plan)" \
	[ "$plan" = "[($s1, 'remove'), ($s2, 'keep'), ($s3, 'remove'), ($s4, 'remove'), ($s5, 'keep'), ($s6, 'keep')]" ]
check "with reasons: pinned, last, no-rule" \
	[ "$(json '[s["reasons"] for s in j["snapshots"]][:3]' <<<"$out")" = "[['no-rule'], ['pinned'], ['no-rule']]" ]
check "and typed counts" \
	[ "$(json '(j["dry_run"], j["kept"], j["removed"], j["failed"])' <<<"$out")" = "(True, 3, 3, 0)" ]
check "prune --dry-run deleted nothing" [ "$(ids | json 'len(j)')" = 6 ]
out=$(sc prune --dry-run -H -o id,action vol)
check "prune --dry-run table, -H -o ID,ACTION" \
	[ "$(tr -s ' \n' ' ' <<<"$out" | sed 's/^ //')" = "$s1 remove $s2 keep $s3 remove $s4 remove $s5 keep $s6 keep " ]
removed_plan=$(json '[s["id"] for s in j["snapshots"] if s["action"] == "remove"]' <<<"$(sc prune --dry-run --json vol)")
out=$(sc prune --json vol)
check "prune deleted what the dry run said ($removed_plan)" \
	[ "$(json '[s["id"] for s in j["snapshots"] if s.get("deleted")]' <<<"$out")" = "$removed_plan" ]
check "the pinned snapshot survived: $s2 $s5 $s6 left" \
	[ "$(ids)" = "[$s2, $s5, $s6]" ]
check "prune again removes nothing" \
	[ "$(sc prune --json vol | json 'j["removed"]')" = 0 ]
check "snapshot unpin vol $s2" rc_is 0 sc snapshot unpin vol $s2
check "after unpin, prune --dry-run removes $s2" \
	[ "$(sc prune --dry-run --json vol | json '[s["id"] for s in j["snapshots"] if s["action"] == "remove"]')" = "[$s2]" ]
check "prune of an unknown volume: exit 5" rc_is 5 sc prune nosuchvol

# --------------------------------------------------------------- status
out=$(sc status --json)
check "status --json: vol, 3 snapshots, numbers typed" \
	[ "$(json '[(o["name"], o["snaps"], type(o["use%"]).__name__, type(o["used"]).__name__, 0 < o["size"] <= 128 * 2**20) for o in j["origins"]]' <<<"$out")" = "[('vol', 3, 'int', 'int', True)]" ]
check "status --json: oldest and newest, no problems" \
	[ "$(json '[(o["oldest"] is not None, o["newest"] is not None, o["problems"]) for o in j["origins"]]' <<<"$out")" = "[(True, True, None)]" ]
size=$(json 'j["origins"][0]["size"]' <<<"$out")
check "status -H -o NAME,SNAPS,STATE" \
	[ "$(sc status -H -o NAME,SNAPS,STATE | tr -s ' ')" = "vol 3 rw" ]
out=$(LC_ALL=de_DE.UTF-8 LANG=de_DE.UTF-8 sc status -q --metrics "$W/metrics/dm-shadow.prom")
check "status --metrics --quiet prints nothing" [ -z "$out" ]
M=$W/metrics/dm-shadow.prom
check "metrics: HELP and TYPE lines" \
	grep -q '^# TYPE dm_shadow_store_used_bytes gauge$' "$M"
check "metrics: dm_shadow_snapshots{volume=\"vol\"} 3" \
	grep -qx 'dm_shadow_snapshots{volume="vol"} 3' "$M"
check "metrics: store size in bytes, as status --json" \
	grep -qx "dm_shadow_store_size_bytes{volume=\"vol\"} $size" "$M"
check "metrics: state rw 1, Fail 0" \
	[ "$(grep -c -x -e 'dm_shadow_state{volume="vol",state="rw"} 1' -e 'dm_shadow_state{volume="vol",state="Fail"} 0' "$M")" = 2 ]
check "metrics: oldest snapshot timestamp" \
	grep -Eq '^dm_shadow_oldest_snapshot_timestamp_seconds\{volume="vol"\} 1[0-9]{9}$' "$M"
check "metrics: every sample is a plain integer (locale ignored)" \
	[ "$(grep -v '^#' "$M" | grep -cvE '^[a-z_]+(\{[^}]*\})? [0-9]+$')" = 0 ]
check "metrics: no temporary file left" \
	[ "$(ls -A "$W/metrics")" = dm-shadow.prom ]

# ------------------------------------------------------------- simulate
out=$(sc simulate --json --every 1h --for 1d --start 2024-01-01T00:00:00Z --tz UTC keep-last=3)
check "simulate keep-last=3 hourly for a day: 3 left, peak 4" \
	[ "$(json '(j["taken"], j["left"], j["peak"], [s["id"] for s in j["snapshots"]])' <<<"$out")" = "(24, 3, 4, [24, 23, 22])" ]

# ---------------------------------------------------- no policy, no daemon
check "policy set vol '' removes the policy" rc_is 0 sc policy set vol ''
check "prune without a policy: exit 1" rc_is 1 sc prune vol
kill "$DPID"
wait "$DPID" 2>/dev/null
DPID=
check "shadowd stopped: policy show exits 3" rc_is 3 sc policy show
diag "shadowd's log (last 20 lines):"
tail -20 "$W/shadowd.log" | sed 's/^/#   /'
test_done
