#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# shadowd across reloads and restarts (Documentation/shadowd.rst,
# "Signals" and "State"): an ext4 origin vol128 and a second origin
# oth128, the daemon driven over its socket.
#
#   - SIGHUP: a new retention policy and previous_versions take effect
#     at once (@GMT mounts appear, then go); a file with an error changes
#     nothing; a new socket path is refused until a restart, with a
#     warning; the daemon answers throughout;
#   - kill -9 in the middle of a commit (the origin's disk suspended, so
#     the kernel's freeze waits): the kill lands while the cut runs; on
#     restart the set is aborted, its snapshots deleted, nothing frozen;
#   - a Committed set whose volume comes back under another device
#     number, its old number taken by another origin that has snapshots
#     with the same ids: after the restart the set follows its volume by
#     name, exposes the right content, and the other origin is untouched.
# timeout: 900

. "$(dirname "$0")/lib/shadow.sh"

require python3 mkfs.ext4 fsfreeze
SHADOWD=$SHADOW_TOP/build/shadowd
[ -x "$SHADOWD" ] || skip_all "build/shadowd not built (make user)"

W=/tmp/shd128
RUN=/run/shd128
VOL_MB=64
STORE_MB=64

cleanup()
{
	local m d pid

	if [ -r "$W/shadowd.pid" ]; then
		pid=$(cat "$W/shadowd.pid")
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	fi
	dmsetup resume ost128 2>/dev/null
	for m in $(awk -v w="$W/" -v r="$RUN/" 'index($2, w) == 1 || index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	for d in $(dm ls 2>/dev/null | awk '{ print $1 }'); do
		case $d in
		shadow-*) dm_remove "$d" ;;
		esac
	done
	dm_remove vol128 oth128 ost128 sst128 oto128 sto128
	rmmod brd 2>/dev/null
	rm -rf "$W" "$RUN"
}
trap cleanup EXIT

rm -rf "$W" "$RUN"
mkdir -p "$W/live" "$W/state" "$RUN"
rmmod brd 2>/dev/null
modprobe brd rd_nr=4 rd_size=$((VOL_MB * 1024)) max_part=0 || skip_all "no brd"
dm create ost128 --table "0 $((VOL_MB * SECTORS_PER_MB)) linear /dev/ram0 0" &&
dm create sst128 --table "0 $((STORE_MB * SECTORS_PER_MB)) linear /dev/ram1 0" &&
dm create oto128 --table "0 $((VOL_MB * SECTORS_PER_MB)) linear /dev/ram2 0" &&
dm create sto128 --table "0 $((STORE_MB * SECTORS_PER_MB)) linear /dev/ram3 0" &&
dm mknodes >/dev/null 2>&1 || bail "linear tables"
dd if=/dev/zero of=/dev/mapper/sst128 bs=4096 count=1 oflag=direct 2>/dev/null
dd if=/dev/zero of=/dev/mapper/sto128 bs=4096 count=1 oflag=direct 2>/dev/null
VOL_TABLE="0 $((VOL_MB * SECTORS_PER_MB)) shadow-origin /dev/mapper/ost128 /dev/mapper/sst128 2 chunk_size 16"
OTH_TABLE="0 $((VOL_MB * SECTORS_PER_MB)) shadow-origin /dev/mapper/oto128 /dev/mapper/sto128 2 chunk_size 16"
dm create vol128 --table "$VOL_TABLE" && dm mknodes >/dev/null 2>&1 ||
	bail "origin table"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/vol128 || bail "mkfs"
mount /dev/mapper/vol128 "$W/live" || bail "mount"

W=$W RUN=$RUN SHADOWD=$SHADOWD VOL_TABLE=$VOL_TABLE OTH_TABLE=$OTH_TABLE \
	python3 "$(dirname "$0")/lib/shadowd_restart_test.py"
rc=$?
if [ $rc -ne 0 ] && [ -r "$W/shadowd.log" ]; then
	diag "shadowd's log (last 60 lines):"
	tail -60 "$W/shadowd.log" | sed 's/^/#   /'
fi
exit $rc
