#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# shadowd end to end: ext4 and xfs on two shadow-origin devices, the
# daemon in the foreground, driven over its socket by one python client.
#
#   - a full FSRVP set over both volumes while a writer runs: each exposed
#     copy is mounted read-only, holds exactly the files synced before the
#     commit, is fsck-clean; DeleteShareMapping removes mounts, devices and
#     snapshots;
#   - an auto-recovery set: the copies are writable until
#     RecoveryComplete, read-only (mount, table, kernel flag) after;
#   - kill -9 of shadowd with a set Added (restart aborts it), Committed
#     (restart keeps it, it can be exposed) and Exposed (restart exposes
#     it again); nothing is ever left frozen; the sequence timer (short,
#     from the configuration) then deletes it with its mounts, devices
#     and snapshots;
#   - an unprivileged caller is refused; garbage and an oversized request
#     do not hurt the daemon.
# timeout: 900

. "$(dirname "$0")/lib/shadow.sh"

require python3 mkfs.ext4 mkfs.xfs e2fsck xfs_repair fsfreeze
SHADOWD=$SHADOW_TOP/build/shadowd
[ -x "$SHADOWD" ] || skip_all "build/shadowd not built (make user)"

W=/tmp/shd120
RUN=/run/shd120
EXT_MB=64
XFS_MB=320
STORE_MB=128

cleanup()
{
	local m d

	[ -n "${DPID:-}" ] && kill -9 "$DPID" 2>/dev/null
	pkill_pidfile "$W/shadowd.pid"
	for m in $(awk -v p="$RUN/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	umount "$W/live_e" "$W/live_x" 2>/dev/null
	for d in $(dm ls 2>/dev/null | awk '{ print $1 }'); do
		case $d in
		shadow-*|fsck-*) dm_remove "$d" ;;
		esac
	done
	dm_remove vol_e vol_x ost_e ost_x sst_e sst_x
	rmmod brd 2>/dev/null
	rm -rf "$W" "$RUN"
}

# pkill_pidfile FILE: kill -9 the shadowd whose pid the python part wrote.
pkill_pidfile()
{
	local pid

	[ -r "$1" ] || return 0
	pid=$(cat "$1")
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	return 0
}
trap cleanup EXIT

rm -rf "$W" "$RUN"
mkdir -p "$W/live_e" "$W/live_x" "$W/state" "$RUN"
rmmod brd 2>/dev/null
modprobe brd rd_nr=4 rd_size=$((XFS_MB * 1024)) max_part=0 || skip_all "no brd"
# origins and stores trimmed with dm-linear (brd disks are all one size)
dm create ost_e --table "0 $((EXT_MB * SECTORS_PER_MB)) linear /dev/ram0 0" &&
dm create ost_x --table "0 $((XFS_MB * SECTORS_PER_MB)) linear /dev/ram1 0" &&
dm create sst_e --table "0 $((STORE_MB * SECTORS_PER_MB)) linear /dev/ram2 0" &&
dm create sst_x --table "0 $((STORE_MB * SECTORS_PER_MB)) linear /dev/ram3 0" &&
dm mknodes >/dev/null 2>&1 || bail "linear tables"
dd if=/dev/zero of=/dev/mapper/sst_e bs=4096 count=1 oflag=direct 2>/dev/null
dd if=/dev/zero of=/dev/mapper/sst_x bs=4096 count=1 oflag=direct 2>/dev/null
dm create vol_e --table "0 $((EXT_MB * SECTORS_PER_MB)) shadow-origin /dev/mapper/ost_e /dev/mapper/sst_e 2 chunk_size 16" &&
dm create vol_x --table "0 $((XFS_MB * SECTORS_PER_MB)) shadow-origin /dev/mapper/ost_x /dev/mapper/sst_x 2 chunk_size 16" &&
dm mknodes >/dev/null 2>&1 || bail "origin tables"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/vol_e && mkfs.xfs -q -f /dev/mapper/vol_x ||
	bail "mkfs"
mount /dev/mapper/vol_e "$W/live_e" && mount /dev/mapper/vol_x "$W/live_x" ||
	bail "mount"

# The sequence timer runs out in the middle of the test: longer on a slow
# (debug) kernel, whose fsck of a copy alone can take a minute.
SEQ_TIMEOUT=$((60 * ${TIMEOUT_SCALE:-1}))
cat >"$W/shadowd.conf" <<EOF
socket = $RUN/shadowd.sock
state_dir = $W/state
mount_dir = $RUN/mnt
log_level = debug
sequence_timeout = $SEQ_TIMEOUT
client_timeout_ms = 20000
idle_timeout_ms = 600000
max_request_bytes = 4096
share.ext = $W/live_e
share.xfs = $W/live_x
EOF

W=$W RUN=$RUN SHADOWD=$SHADOWD SEQ_TIMEOUT=$SEQ_TIMEOUT python3 "$(dirname "$0")/lib/shadowd_test.py"
rc=$?
if [ $rc -ne 0 ] && [ -r "$W/shadowd.log" ]; then
	diag "shadowd's log (last 60 lines):"
	tail -60 "$W/shadowd.log" | sed 's/^/#   /'
fi
exit $rc
