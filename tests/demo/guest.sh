#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of make demo: a volume under dm-shadow with ext4 and files,
# shadowd, one FSRVP shadow copy set through every phase over shadowd's
# socket, the exposed copy against the live volume after changes, the
# store's use, and everything removed at the end.  Exits non-zero at the
# first step that fails.
set -u

top=$SHADOW_TOP
SHADOWD=$top/build/shadowd
SHADOWCTL=$top/build/shadowctl
W=/tmp/demo
RUN=/run/demo
SOCK=$RUN/shadowd.sock
export DM_DISABLE_UDEV=1
failed=0
DPID=

step() {
	printf '\n== %s\n' "$*"
}

# run CMD...: show it, run it, stop the demo if it fails.
run() {
	printf '$ %s\n' "$*"
	"$@" || fail "'$*' failed"
}

fail() {
	printf '\nDEMO FAILED: %s\n' "$*"
	if [ -r "$W/shadowd.log" ]; then
		echo "-- shadowd's log (last 30 lines):"
		tail -30 "$W/shadowd.log"
	fi
	failed=1
	exit 1
}

cleanup() {
	local m
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	for m in $(awk -v p="$RUN/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	umount "$W/live" 2>/dev/null
	for m in $(dmsetup ls 2>/dev/null | awk '/^shadow-/ { print $1 }'); do
		dmsetup --noudevsync remove "$m"
	done
	dmsetup --noudevsync remove data 2>/dev/null
	rmmod brd 2>/dev/null
}
trap 'cleanup; [ $failed = 0 ] || echo "(the demo failed)"' EXIT

# fsrvp OP [KEY=VALUE...]: one request to shadowd, reply shown and kept
# in $REPLY_FILE; a failed request stops the demo.
REPLY_FILE=$W/reply.json
fsrvp() {
	printf '> %s %s\n' "$1" "${*:2}"
	python3 "$top/tests/selftests/lib/shadowd_client.py" "$SOCK" "$@" >"$REPLY_FILE"
	local rc=$?
	sed 's/^/< /' "$REPLY_FILE" | head -40
	[ $rc = 0 ] || fail "$1 failed"
}

# jget EXPR: a value from the last reply (python expression on r).
jget() {
	python3 -c "import json,sys; r=json.load(open('$REPLY_FILE')); print($1)"
}

step "the module in the guest kernel"
uname -sr
printf 'dm_shadow %s, targets: %s\n' "$(modinfo -F version "$SHADOW_KO")" \
	"$(dmsetup targets | awk '/^shadow/ { printf "%s ", $1 }')"
dmsetup targets | grep -q '^shadow-origin' || fail "dm-shadow is not loaded"

step "a 64 MiB volume: ram disk origin + store, shadow-origin 'data', ext4"
rm -rf "$W" "$RUN"
mkdir -p "$W/live" "$RUN"
rmmod brd 2>/dev/null
run modprobe brd rd_nr=2 rd_size=65536 max_part=0
run dd if=/dev/zero of=/dev/ram1 bs=4096 count=1 status=none
run dmsetup --noudevsync create data --table "0 131072 shadow-origin /dev/ram0 /dev/ram1 2 chunk_size 16"
run dmsetup mknodes data
run mkfs.ext4 -q /dev/mapper/data
run mount /dev/mapper/data "$W/live"
mkdir -p "$W/live/reports"
echo "quarterly report, first draft" >"$W/live/reports/q1.txt"
echo "budget: 100" >"$W/live/budget.txt"
echo "to be deleted" >"$W/live/old.txt"
head -c 200000 /dev/urandom >"$W/live/blob.bin"
sync
run ls -lR "$W/live"

step "shadowd, configured with share 'data' = $W/live"
cat >"$W/shadowd.conf" <<EOC
socket = $SOCK
state_dir = $W/state
mount_dir = $RUN/mnt
share.data = $W/live
EOC
cat "$W/shadowd.conf"
"$SHADOWD" --foreground --config "$W/shadowd.conf" 2>"$W/shadowd.log" &
DPID=$!
for _ in $(seq 1 100); do
	[ -S "$SOCK" ] && break
	sleep 0.2
done
[ -S "$SOCK" ] || fail "shadowd did not start"
echo "shadowd running, pid $DPID"

step "FSRVP: a shadow copy set of \\\\server\\data, phase by phase"
fsrvp fsrvp.is_path_supported share='\\server\data'
fsrvp fsrvp.set_context context=backup
fsrvp fsrvp.start
SET=$(jget 'r["set_id"]')
fsrvp fsrvp.add set_id="$SET" share='\\server\data'
COPY=$(jget 'r["copy_id"]')
fsrvp fsrvp.prepare set_id="$SET" timeout_ms=60000
fsrvp fsrvp.commit set_id="$SET" timeout_ms=60000

step "the live volume changes after the commit"
run sh -c "echo 'budget: 250 (revised)' > $W/live/budget.txt"
run rm "$W/live/old.txt"
run sh -c "echo 'quarterly report, final' > $W/live/reports/q1.txt"
run sh -c "echo 'new after the copy' > $W/live/new.txt"
sync

step "expose, and where the copy is"
fsrvp fsrvp.expose set_id="$SET" timeout_ms=60000
fsrvp fsrvp.get_share_mapping set_id="$SET" copy_id="$COPY" share='\\server\data' level=1
fsrvp fsrvp.list
MNT=$(jget 'r["sets"][0]["copies"][0]["mount_point"]')
DEV=$(jget 'r["sets"][0]["copies"][0]["device"]')
run findmnt "$MNT"
run dmsetup table "$DEV"

step "the copy against the live volume"
echo "-- live: $W/live"
ls -l "$W/live" "$W/live/reports"
echo "-- copy: $MNT"
ls -l "$MNT" "$MNT/reports"
echo "-- diff -r copy live"
diff -r "$MNT" "$W/live"
[ $? = 1 ] || fail "the copy should differ from the live volume"
printf -- '-- budget.txt: copy "%s", live "%s"\n' "$(cat "$MNT/budget.txt")" "$(cat "$W/live/budget.txt")"
[ "$(cat "$MNT/budget.txt")" = "budget: 100" ] || fail "the copy does not hold the old budget.txt"
[ -e "$MNT/old.txt" ] && [ ! -e "$MNT/new.txt" ] || fail "old.txt/new.txt wrong in the copy"
cmp "$MNT/blob.bin" "$W/live/blob.bin" || fail "blob.bin differs"
echo "blob.bin: identical (unchanged, its blocks are shared with the origin)"
if touch "$MNT/x" 2>/dev/null; then fail "the copy is writable"; fi
echo "the copy is read-only: touch fails"

step "store use: shadowctl origin list, snapshot list"
run "$SHADOWCTL" origin list
run "$SHADOWCTL" snapshot list data

step "RecoveryComplete, then DeleteShareMapping"
fsrvp fsrvp.recovery_complete set_id="$SET"
fsrvp fsrvp.delete_share_mapping set_id="$SET" copy_id="$COPY" share='\\server\data'
fsrvp fsrvp.list
[ "$(jget 'len(r["sets"])')" = 0 ] || fail "a set is left"
if findmnt "$MNT" >/dev/null; then fail "the copy is still mounted"; fi
if dmsetup info "$DEV" >/dev/null 2>&1; then fail "$DEV still exists"; fi
echo "no set, no mount, no device left"
run "$SHADOWCTL" snapshot list data

step "shadowd stops"
kill "$DPID" && wait "$DPID" || fail "shadowd did not stop cleanly"
DPID=
echo "-- shadowd's log:"
cat "$W/shadowd.log"

printf '\nDEMO OK: one FSRVP shadow copy set through every phase\n'
