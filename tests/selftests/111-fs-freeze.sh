#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ext4 and xfs on the origin: a snapshot taken with the filesystem frozen
# is clean (e2fsck -fn, xfs_repair -n), mounts read-only, and holds exactly
# the files as they were at the freeze while the live filesystem changes.

# timeout: 900

. "$(dirname "$0")/lib/shadow.sh"

require md5sum mkfs.ext4 mkfs.xfs e2fsck xfs_repair fsfreeze
mnt=$(mktemp -d)
live=$mnt/live
snapmnt=$mnt/snap
mkdir -p "$live" "$snapmnt"
trap 'umount "$live" "$snapmnt" 2>/dev/null; cleanup_all; rm -rf "$mnt"' EXIT
tap_header 10

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
	ext4) mkfs.ext4 -q -F /dev/mapper/vol ;;
	xfs) mkfs.xfs -q -f /dev/mapper/vol ;;
	esac
	mount /dev/mapper/vol "$live" || { not_ok "$fs: mount origin"; return; }
	for i in $(seq 1 20); do
		head -c $((i * 7000)) /dev/urandom >"$live"/file$i
	done
	mkdir -p "$live"/dir && cp "$live"/file1* "$live"/dir/

	fsfreeze -f "$live"
	id=$(snap_create "$fs-frozen")
	fsfreeze -u "$live"
	sums_then=$(cd "$live" && find . -type f | sort | xargs md5sum)

	# The live filesystem moves on.
	for i in $(seq 1 10); do
		head -c 50000 /dev/urandom >"$live"/file$i
	done
	rm -f "$live"/file20
	sync

	snap_up snap1 "$id" || { not_ok "$fs: snapshot device"; return; }
	check "$fs: the snapshot is clean (e2fsck -fn / xfs_repair -n)" \
		fs_clean "$fs" /dev/mapper/snap1
	local opts=ro
	[ "$fs" = xfs ] && opts=ro,nouuid
	check "$fs: snapshot mounts read-only" mount -o "$opts" /dev/mapper/snap1 "$snapmnt"
	sums_snap=$(cd "$snapmnt" && find . -type f | sort | xargs md5sum)
	check "$fs: snapshot holds the files as they were at the freeze" \
		[ "$sums_snap" = "$sums_then" ]
	check "$fs: the live filesystem has changed" \
		[ "$(cd "$live" && find . -type f | sort | xargs md5sum)" != "$sums_then" ]
	umount "$snapmnt"
	umount "$live"
	snap_down snap1
	check "$fs: origin filesystem is clean after the test" \
		fs_clean "$fs" /dev/mapper/vol
	cleanup_all
}

fs_round ext4
fs_round xfs
test_done
