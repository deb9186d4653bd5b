#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Retention policies per consistency group (shadowctl group, @GROUP):
# two origins, a group of both, cuts made through shadowd (snapshot
# create @GROUP, and a snapshot.create request naming both volumes), one
# snapshot outside any cut; a policy on the group: prune --dry-run shows
# one line per cut with both members, keep-last counts cuts, a pin on one
# volume keeps the whole cut, the snapshot in no cut is kept (no volume
# policy) or judged by its volume's policy; prune deletes whole cuts on
# both volumes, exactly what the dry run said; prune of a member alone is
# refused; groups and cuts survive a restart of shadowd; space pressure
# on one member (its high-water event) removes whole cuts, oldest first,
# never a cut with a pinned member on the other volume, until the store is
# under store-low; and the exit codes: 2 bad arguments, 4 an unprivileged
# caller, 5 no such group, 1 a volume already in another group.
# timeout: 900

. "$(dirname "$0")/lib/shadow.sh"
. "$(dirname "$0")/lib/shadowctl.sh"

require python3 setpriv
SHADOWD=$SHADOW_TOP/build/shadowd
[ -x "$SHADOWD" ] || skip_all "build/shadowd not built (make user)"

W=/tmp/shd127
RUN=/run/shd127
SOCK=$RUN/shadowd.sock
A=g127a
B=g127b
MB=32
SECT=$((MB * SECTORS_PER_MB))

cleanup()
{
	local d

	[ -n "${DPID:-}" ] && kill -9 "$DPID" 2>/dev/null
	for d in $($DMSETUP ls 2>/dev/null | awk '{ print $1 }'); do
		case $d in
		shadow-*) $DMSETUP remove "$d" >/dev/null 2>&1 ;;
		esac
	done
	$DMSETUP remove $A >/dev/null 2>&1
	$DMSETUP remove $B >/dev/null 2>&1
	rmmod brd 2>/dev/null
	rm -rf "$W" "$RUN"
}
trap cleanup EXIT
tap_header

rm -rf "$W" "$RUN"
mkdir -p "$W/state" "$RUN"
chmod 755 "$W"
rmmod brd 2>/dev/null
modprobe brd rd_nr=4 rd_size=$((MB * 1024)) max_part=0 || skip_all "no brd"
$DMSETUP create $A --table "0 $SECT shadow-origin /dev/ram0 /dev/ram2" ||
	bail "origin $A"
$DMSETUP create $B --table "0 $SECT shadow-origin /dev/ram1 /dev/ram3" ||
	bail "origin $B"
$DMSETUP mknodes >/dev/null 2>&1
install -m 0755 "$SHADOWCTL" "$W/shadowctl"

cat >"$W/shadowd.conf" <<EOF
socket = $SOCK
state_dir = $W/state
mount_dir = $RUN/mnt
log_level = debug
EOF

start_daemon()
{
	"$SHADOWD" -f -c "$W/shadowd.conf" >>"$W/shadowd.log" 2>&1 &
	DPID=$!
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && sc group list >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	bail "shadowd did not start: $(tail -5 "$W/shadowd.log")"
}

stop_daemon()
{
	kill "$DPID"
	wait "$DPID" 2>/dev/null
	DPID=
}

# req JSON: one request to shadowd, the reply on stdout
req()
{
	python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(65536)
    if not d:
        break
    buf += d
print(buf.decode().strip())
PY
}

# ids VOL: the ids of VOL's snapshots, as a Python list
ids()
{
	sc snapshot list --json "$1" | json '[s["id"] for s in j["snapshots"]]'
}

# pct VOL: store use of VOL, whole percent
pct()
{
	sc origin show --json --bytes "$1" |
		json 'int(100 * (j.get("origins") or [j])[0]["used"] / (j.get("origins") or [j])[0]["total"])'
}

# overwrite VOL MIB: new data over the first MIB MiB of VOL
overwrite()
{
	dd if=/dev/urandom of="/dev/mapper/$1" bs=1M count="$2" oflag=direct \
		conv=notrunc 2>/dev/null
}

start_daemon

# --------------------------------------------------------- usage errors
check "group set without a volume: exit 2" rc_is 2 sc group set db
check "group set with a bad name: exit 2" rc_is 2 sc group set 'a b' $A
check "and says why" grep -q 'is not a group name' "$W/err"
check "group set NAME @OTHER: exit 2" rc_is 2 sc group set db @x
check "group remove without NAME: exit 2" rc_is 2 sc group remove
check "group list -o BOGUS: exit 2" rc_is 2 sc group list -o BOGUS
check "policy set @ with a bad name: exit 2" rc_is 2 sc policy set '@-x' keep-last=1
check "policy set @db with an unknown setting: exit 2" \
	rc_is 2 sc policy set @db keep-bogus=1
check "prune @ without a name: exit 2" rc_is 2 sc prune @
check "prune -o ID (a volume's column) on a group: exit 2" \
	rc_is 2 sc prune --dry-run -o ID @db
check "snapshot create @db with another origin: exit 2" \
	rc_is 2 sc snapshot create @db $A

# ------------------------------------------------------ unknown group
check "group list nope: exit 5" rc_is 5 sc group list nope
check "group remove nope: exit 5" rc_is 5 sc group remove nope
check "policy show @nope: exit 5" rc_is 5 sc policy show @nope
check "policy set @nope: exit 5" rc_is 5 sc policy set @nope keep-last=1
check "prune @nope: exit 5" rc_is 5 sc prune --dry-run @nope
check "snapshot create @nope: exit 5" rc_is 5 sc snapshot create @nope
check "group set with a volume that is no origin: exit 5" \
	rc_is 5 sc group set db $A nosuchvol

# ---------------------------------------------------------------- groups
check "group set db $A $B" rc_is 0 sc group set db $A $B
check "group list -H -o NAME,VOLUMES,CUTS" \
	[ "$(sc group list -H -o NAME,VOLUMES,CUTS | tr -s ' ')" = "db $A,$B 0" ]
check "groups.json in the state directory" \
	[ "$(json '[(g["name"], g["volumes"]) for g in j["groups"]]' <"$W/state/groups.json")" = "[('db', ['$A', '$B'])]" ]
check "a volume in another group: exit 1" rc_is 1 sc group set other $A
check "and says which" grep -q "in group db already" "$W/err"
check "group list other: exit 5 (not made)" rc_is 5 sc group list other

# ---------------------------------------------------------- unprivileged
NB=(nobody "$W/shadowctl" --socket "$SOCK")
check "nobody: group set exits 4" rc_is 4 "${NB[@]}" group set x $B
check "nobody: group list exits 4" rc_is 4 "${NB[@]}" group list
check "nobody: group remove exits 4" rc_is 4 "${NB[@]}" group remove db
check "nobody: snapshot create @db exits 4" rc_is 4 "${NB[@]}" snapshot create @db
check "nobody: policy set @db exits 4" rc_is 4 "${NB[@]}" policy set @db keep-last=1
check "nobody: prune --dry-run @db exits 4" rc_is 4 "${NB[@]}" prune --dry-run @db

# ------------------------------------------------------------------ cuts
declare -a CA CB
for k in 1 2 3 4; do
	out=$(sc snapshot create @db) || bail "snapshot create @db: $out"
	CA[k]=$(awk -v v=$A '$1 == v { print $2 }' <<<"$out")
	CB[k]=$(awk -v v=$B '$1 == v { print $2 }' <<<"$out")
	overwrite $A 1
	sleep 1
done
check "snapshot create @db prints one line per member (${CA[*]} / ${CB[*]})" \
	[ -n "${CA[4]}" ] && [ -n "${CB[4]}" ]
# a cut made by naming both volumes is recorded too
out=$(req '{"op":"snapshot.create","volumes":["'$A'","'$B'"],"freeze":false}')
CA[5]=$(json '[s["id"] for s in j["snapshots"]][0]' <<<"$out")
CB[5]=$(json '[s["id"] for s in j["snapshots"]][1]' <<<"$out")
sleep 1
# and a snapshot of one member alone is in no cut
LONE=$(sc snapshot create $B | awk '{ print $2 }')
out=$(sc snapshot create --json @db)
check "snapshot create --json @db: the group and the cut number" \
	[ "$(json '(j["group"], j["cut"], len(j["snapshots"]))' <<<"$out")" = "('db', 6, 2)" ]
CA[6]=$(json '[s["id"] for s in j["snapshots"] if s["origin"] == "'$A'"][0]' <<<"$out")
CB[6]=$(json '[s["id"] for s in j["snapshots"] if s["origin"] == "'$B'"][0]' <<<"$out")
check "group list: 6 cuts recorded" \
	[ "$(sc group list -H -o CUTS db | tr -d ' ')" = 6 ]
check "each cut recorded with both members" \
	[ "$(json '[len(c["members"]) for c in j["groups"][0]["cuts"]]' <"$W/state/groups.json")" = "[2, 2, 2, 2, 2, 2]" ]

# -------------------------------------------------------------- policy
check "policy set @db keep-last=2" rc_is 0 sc policy set @db keep-last=2
check "policy show @db" [ "$(sc policy show @db)" = "keep-last=2" ]
check "policy show lists @db" \
	[ "$(sc policy show --json | json '[(p["volume"], p["source"]) for p in j["policies"]]')" = "[('@db', 'state')]" ]
check "prune of a member alone is refused: exit 1" rc_is 1 sc prune --dry-run $A
check "and names the group" grep -q "prune @db" "$W/err"

out=$(sc prune --dry-run --json @db)
plan=$(json '[(c["cut"], c["action"], [(m["volume"], m["id"]) for m in c["members"]]) for c in j["cuts"]]' <<<"$out")
want="[(1, 'remove', [('$A', ${CA[1]}), ('$B', ${CB[1]})]), (2, 'remove', [('$A', ${CA[2]}), ('$B', ${CB[2]})]), (3, 'remove', [('$A', ${CA[3]}), ('$B', ${CB[3]})]), (4, 'remove', [('$A', ${CA[4]}), ('$B', ${CB[4]})]), (5, 'keep', [('$A', ${CA[5]}), ('$B', ${CB[5]})]), (None, 'keep', [('$B', $LONE)]), (6, 'keep', [('$A', ${CA[6]}), ('$B', ${CB[6]})])]"
[ "$plan" = "$want" ] || diag "plan: $plan"
check "prune --dry-run: one entry per cut, oldest first, both members" \
	[ "$plan" = "$want" ]
got=$(json '[(c["judged_by"], c["reasons"]) for c in j["cuts"]][3:]' <<<"$out")
[ "$got" = "[('group', ['no-rule']), ('group', ['last']), ('none', ['no-cut']), ('group', ['last'])]" ] || diag "got: $got"
check "keep-last=2 keeps the two newest cuts; the lone snapshot kept, no volume policy" \
	[ "$got" = "[('group', ['no-rule']), ('group', ['last']), ('none', ['no-cut']), ('group', ['last'])]" ]
check "counts are snapshots: 5 kept, 8 removed" \
	[ "$(json '(j["group"], j["dry_run"], j["kept"], j["removed"], j["failed"])' <<<"$out")" = "('db', True, 5, 8, 0)" ]
out=$(sc prune --dry-run -H -o CUT,ACTION,MEMBERS @db)
check "prune --dry-run table: CUT ACTION MEMBERS" \
	[ "$(head -1 <<<"$out" | tr -s ' ' | sed 's/^ //')" = "1 remove $A/${CA[1]} $B/${CB[1]}" ]
check "the lone snapshot: CUT -" \
	grep -Eq "^ +- keep +$B/$LONE\$" <<<"$out"
check "prune --dry-run table" rc_is 0 sc prune --dry-run @db
check "its header: no RESULT column" \
	[ "$(head -1 "$W/out" | tr -s ' ')" = "CUT CREATED ACTION REASONS MEMBERS" ]
check "the lone snapshot's reason in the table" \
	grep -q 'in no cut, no volume policy' "$W/out"

# a pin on one member keeps the whole cut
check "snapshot pin $B ${CB[2]}" rc_is 0 sc snapshot pin $B "${CB[2]}"
out=$(sc prune --dry-run --json @db)
check "cut 2 kept on both volumes: pinned" \
	[ "$(json '[(c["cut"], c["action"], c["reasons"]) for c in j["cuts"] if c["cut"] == 2]' <<<"$out")" = "[(2, 'keep', ['pinned'])]" ]
removed_plan=$(json 'sorted((m["volume"], m["id"]) for c in j["cuts"] if c["action"] == "remove" for m in c["members"])' <<<"$out")

out=$(sc prune --json @db)
check "prune deleted what the dry run said ($removed_plan)" \
	[ "$(json 'sorted((m["volume"], m["id"]) for c in j["cuts"] for m in c["members"] if m.get("deleted"))' <<<"$out")" = "$removed_plan" ]
check "on $A: cuts 2, 5, 6 left" \
	[ "$(ids $A)" = "[${CA[2]}, ${CA[5]}, ${CA[6]}]" ]
check "on $B: cuts 2, 5, 6 and the lone snapshot left" \
	[ "$(ids $B)" = "[${CB[2]}, ${CB[5]}, $LONE, ${CB[6]}]" ]
check "group list: 3 cuts left" \
	[ "$(sc group list -H -o CUTS db | tr -d ' ')" = 3 ]
check "prune again removes nothing" \
	[ "$(sc prune --json @db | json 'j["removed"]')" = 0 ]

# the volume's own policy judges what is in no cut
sleep 1
LONE2=$(sc snapshot create $B | awk '{ print $2 }')
check "policy set $B keep-last=1" rc_is 0 sc policy set $B keep-last=1
out=$(sc prune --dry-run --json @db)
check "in no cut: $LONE removed, $LONE2 kept, by $B's policy" \
	[ "$(json '[(c["members"][0]["id"], c["action"], c["judged_by"], c["reason_text"]) for c in j["cuts"] if c["cut"] is None]' <<<"$out")" = "[($LONE, 'remove', 'volume', 'volume policy: matches no rule'), ($LONE2, 'keep', 'volume', 'volume policy: last snapshot')]" ]
check "policy set $B '' removes it" rc_is 0 sc policy set $B ''

# ---------------------------------------------------- across a restart
stop_daemon
start_daemon
check "after a restart: the group, its policy and its 3 cuts" \
	[ "$(sc group list -H -o NAME,CUTS,POLICY | tr -s ' ')" = "db 3 keep-last=2" ]
check "and the dry run is the same" \
	[ "$(sc prune --dry-run --json @db | json '[(c["cut"], c["action"]) for c in j["cuts"]]')" = "[(2, 'keep'), (5, 'keep'), (None, 'keep'), (6, 'keep'), (None, 'keep')]" ]

# ------------------------------------------------------- space pressure
# New cuts, each followed by 4 MiB of new data on $A (12.5% of its
# store): each cut's snapshot there holds its own chunks (the data before
# the first of them is overwritten first, so that the pinned cut 2 and
# cuts 5 and 6 hold it, not cut 7).  Then the group's policy gets
# store-high/store-low and $A's water marks are set: the high-water event
# makes shadowd remove whole cuts, oldest first, but not cut 2 (pinned on
# $B), until $A's store is under store-low: 5 and 6 (they free nothing),
# 7, 8, 9; cut 10 is not needed.
sc snapshot delete $B "$LONE" "$LONE2" >/dev/null
overwrite $A 4
for k in 7 8 9 10; do
	out=$(sc snapshot create @db) || bail "snapshot create @db: $out"
	CA[k]=$(awk -v v=$A '$1 == v { print $2 }' <<<"$out")
	CB[k]=$(awk -v v=$B '$1 == v { print $2 }' <<<"$out")
	overwrite $A 4
done
use=$(pct $A)
diag "store of $A: $use% used; $A ${CA[*]}; $B ${CB[*]}"
check "store of $A at 60% or more ($use%)" [ "$use" -ge 60 ]
check "policy set @db with store-high=50 store-low=40" \
	rc_is 0 sc policy set @db keep-last=10 store-high=50 store-low=40
check "origin set-water 40/50 on $A" \
	rc_is 0 sc origin set-water --low 40 --high 50 $A
for _ in $(seq 120); do
	grep -q "policy of group db" "$W/shadowd.log" && break
	sleep 1
done
sleep 2
check "shadowd pruned on the high-water event, by the group's policy" \
	grep -q "policy of group db" "$W/shadowd.log"
use=$(pct $A)
la=$(ids $A)
lb=$(ids $B)
diag "after: $use% used; $A $la; $B $lb"
grep 'prune' "$W/shadowd.log" | grep -v 'debug' | sed 's/^/  /' | while read -r l; do diag "$l"; done
check "store of $A under store-low ($use% < 40%)" [ "$use" -lt 40 ]
check "cut 2, pinned on $B, is still whole" \
	[ "$(json "(${CA[2]} in j)" <<<"$la")$(json "(${CB[2]} in j)" <<<"$lb")" = TrueTrue ]
whole=yes
for k in 5 6 7 8 9 10; do
	ina=$(json "(${CA[k]} in j)" <<<"$la")
	inb=$(json "(${CB[k]} in j)" <<<"$lb")
	[ "$ina" = "$inb" ] || { whole=no; diag "cut $k: $A $ina, $B $inb"; }
done
check "every cut is whole on both volumes or gone from both" [ $whole = yes ]
check "the oldest unpinned cut (5) went first" \
	[ "$(json "(${CA[5]} in j)" <<<"$la")" = False ]
check "cut 9 went, the newest cut (10) is kept" \
	[ "$(json "(${CA[9]} in j, ${CA[10]} in j)" <<<"$la")" = "(False, True)" ]
check "each deletion logged with its cut" \
	grep -q "cut [0-9]* of group db, removed whole" "$W/shadowd.log"

# ---------------------------------------------------------------- remove
check "group remove db" rc_is 0 sc group remove db
check "group list is empty" [ -z "$(sc group list -H)" ]
check "the snapshots stay" [ "$(ids $A)" = "$la" ]
check "prune $A is allowed again (no policy: exit 1)" rc_is 1 sc prune $A
check "and says no policy" grep -q "no retention policy" "$W/err"
stop_daemon
diag "shadowd's log (last 10 lines):"
tail -10 "$W/shadowd.log" | sed 's/^/#   /'
test_done
