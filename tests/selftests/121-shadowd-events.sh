#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# shadowd reacts to the kernel's events (Documentation/shadowd.rst,
# "Kernel events"): an ext4 origin with a small store, shadowd running.
#
#   - snapshots s1, s2, an exposed FSRVP copy P, s3, s4, each followed by
#     an overwrite of the same 5 MiB, so that each holds its own chunks;
#     then the water marks (40/70) are set over netlink: the high-water
#     event makes shadowd delete the oldest snapshots that are not pinned
#     (s1, s2, s3) until store use is under 40% (shadowctl origin show),
#     and P is kept, still mounted;
#   - policy.set / policy.show, persisted in the state directory;
#   - marks off, the store overfilled: the kernel's drop_oldest drops P,
#     shadowd unmounts it, removes its device and marks the copy gone
#     (fsrvp.list and the state file).
# timeout: 900

. "$(dirname "$0")/lib/shadow.sh"

require python3 mkfs.ext4
SHADOWD=$SHADOW_TOP/build/shadowd
SHADOWCTL=$SHADOW_TOP/build/shadowctl
[ -x "$SHADOWD" ] && [ -x "$SHADOWCTL" ] ||
	skip_all "build/shadowd or build/shadowctl not built (make user)"

W=/tmp/shd121
RUN=/run/shd121
ORIGIN_MB=64
STORE_MB=32

cleanup()
{
	local m d

	if [ -r "$W/shadowd.pid" ]; then
		kill -9 "$(cat "$W/shadowd.pid")" 2>/dev/null
	fi
	for m in $(awk -v p="$RUN/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	umount "$W/live" 2>/dev/null
	for d in $(dm ls 2>/dev/null | awk '{ print $1 }'); do
		case $d in
		shadow-*) dm_remove "$d" ;;
		esac
	done
	dm_remove vol121 ost121 sst121
	rmmod brd 2>/dev/null
	rm -rf "$W" "$RUN"
}
trap cleanup EXIT

rm -rf "$W" "$RUN"
mkdir -p "$W/live" "$W/state" "$RUN"
rmmod brd 2>/dev/null
modprobe brd rd_nr=2 rd_size=$((ORIGIN_MB * 1024)) max_part=0 || skip_all "no brd"
dm create ost121 --table "0 $((ORIGIN_MB * SECTORS_PER_MB)) linear /dev/ram0 0" &&
dm create sst121 --table "0 $((STORE_MB * SECTORS_PER_MB)) linear /dev/ram1 0" &&
dm mknodes >/dev/null 2>&1 || bail "linear tables"
dd if=/dev/zero of=/dev/mapper/sst121 bs=4096 count=1 oflag=direct 2>/dev/null
# No water marks in the table: the test sets them once the data is there.
dm create vol121 --table "0 $((ORIGIN_MB * SECTORS_PER_MB)) shadow-origin /dev/mapper/ost121 /dev/mapper/sst121 4 chunk_size 16 overflow drop_oldest" &&
dm mknodes >/dev/null 2>&1 || bail "origin table"
# Inode tables and journal zeroed now: ext4lazyinit would otherwise zero
# them in the background, at a moment of its own choosing, and preserve
# up to 2 MiB more in whichever snapshot was newest then, which moves
# the store use the pruning checks below count on.
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/vol121 || bail "mkfs"
mount /dev/mapper/vol121 "$W/live" || bail "mount"

cat >"$W/shadowd.conf" <<EOC
socket = $RUN/shadowd.sock
state_dir = $W/state
mount_dir = $RUN/mnt
log_level = debug
sequence_timeout = 0
client_timeout_ms = 20000
share.ext = $W/live
EOC

W=$W RUN=$RUN SHADOWD=$SHADOWD SHADOWCTL=$SHADOWCTL \
	python3 "$(dirname "$0")/lib/shadowd_events_test.py"
rc=$?
if [ $rc -ne 0 ] && [ -r "$W/shadowd.log" ]; then
	diag "shadowd's log (last 60 lines):"
	tail -60 "$W/shadowd.log" | sed 's/^/#   /'
fi
exit $rc
