#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ext4 and xfs on the origin: snapshots taken with the filesystem frozen
# hold exactly the files as they were at the freeze while the live
# filesystem changes; a read-only one mounts read-only (xfs: norecovery,
# its log is not clean after a freeze), a writable one mounts, replays its
# log and is then clean (e2fsck -fn, xfs_repair -n).

# timeout: 900

. "$(dirname "$0")/lib/shadow.sh"

require md5sum mkfs.ext4 mkfs.xfs e2fsck xfs_repair fsfreeze
mnt=$(mktemp -d)
live=$mnt/live
snapmnt=$mnt/snap
mkdir -p "$live" "$snapmnt"
trap 'umount "$live" "$snapmnt" 2>/dev/null; cleanup_all; rm -rf "$mnt"' EXIT
tap_header 14

fs_clean() {
	case $1 in
	ext4) e2fsck -fn "$2" >/dev/null 2>&1 ;;
	xfs) xfs_repair -n "$2" >/dev/null 2>&1 ;;
	esac
}

fs_round() {
	local fs=$1 sums_then sums_snap

	umount "$live" "$snapmnt" 2>/dev/null
	cleanup_all
	make_disks 320 128
	origin_up chunk_size 32 || { not_ok "$fs: origin table"; return; }
	case $fs in
	ext4) mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/vol ;;
	xfs) mkfs.xfs -q -f /dev/mapper/vol ;;
	esac
	mount /dev/mapper/vol "$live" || { not_ok "$fs: mount origin"; return; }
	for i in $(seq 1 20); do
		head -c $((i * 7000)) /dev/urandom >"$live"/file$i
	done
	mkdir -p "$live"/dir && cp "$live"/file1* "$live"/dir/

	fsfreeze -f "$live"
	ro_id=$(snap_create "$fs-ro")
	rw_id=$(snap_create "$fs-rw")
	fsfreeze -u "$live"
	sums_then=$(cd "$live" && find . -type f | sort | xargs md5sum)

	# The live filesystem moves on.
	for i in $(seq 1 10); do
		head -c 50000 /dev/urandom >"$live"/file$i
	done
	rm -f "$live"/file20
	sync

	# Read-only copy.  A frozen xfs still has a log to replay, which a
	# read-only device cannot take: mount it without recovery (the data
	# is complete, the freeze wrote it).
	snap_up snapro "$ro_id" ro || { not_ok "$fs: read-only snapshot device"; return; }
	local opts=ro
	[ "$fs" = xfs ] && opts=ro,nouuid,norecovery
	check "$fs: read-only snapshot mounts ($opts)" mount -o "$opts" /dev/mapper/snapro "$snapmnt"
	sums_snap=$(cd "$snapmnt" && find . -type f | sort | xargs md5sum)
	check "$fs: read-only snapshot holds the files as they were at the freeze" \
		[ "$sums_snap" = "$sums_then" ]
	umount "$snapmnt"
	snap_down snapro

	# Writable copy: the filesystem replays its log into the snapshot's
	# private chunks, and is clean afterwards.
	snap_up snaprw "$rw_id" rw || { not_ok "$fs: writable snapshot device"; return; }
	opts=rw
	[ "$fs" = xfs ] && opts=rw,nouuid
	check "$fs: writable snapshot mounts and recovers" mount -o "$opts" /dev/mapper/snaprw "$snapmnt"
	sums_snap=$(cd "$snapmnt" && find . -type f | sort | xargs md5sum)
	check "$fs: writable snapshot holds the files as they were at the freeze" \
		[ "$sums_snap" = "$sums_then" ]
	umount "$snapmnt"
	check "$fs: the snapshot is clean (e2fsck -fn / xfs_repair -n)" \
		fs_clean "$fs" /dev/mapper/snaprw
	snap_down snaprw

	check "$fs: the live filesystem has changed" \
		[ "$(cd "$live" && find . -type f | sort | xargs md5sum)" != "$sums_then" ]
	umount "$live"
	check "$fs: origin filesystem is clean after the test" \
		fs_clean "$fs" /dev/mapper/vol
	cleanup_all
}

fs_round ext4
fs_round xfs
test_done
