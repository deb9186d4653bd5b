#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Power-cut test, guest side of 110-powercut.host.  Needs three virtio
# disks: /dev/vda origin, /dev/vdb store, /dev/vdc log of created snapshots.
#   crash-phase.sh load   write, snapshot, record "id md5" durably, until cut
#   crash-phase.sh check  offline store check, reload, verify every recorded
#                         snapshot
. "$(dirname "$0")/shadow.sh"

phase=$1
[ -n "$phase" ] || bail "usage: crash-phase.sh load|check"
[ -b /dev/vdc ] || skip_all "needs /dev/vda, /dev/vdb, /dev/vdc"
require md5sum dd
ORIGIN_DEV=/dev/vda
STORE_DEV=/dev/vdb
ORIGIN_SECTORS=$(blockdev --getsz $ORIGIN_DEV)
LOG=/dev/vdc

if [ "$phase" = load ]; then
	tap_header 1
	dd if=/dev/zero of=$STORE_DEV bs=4096 count=1 oflag=direct 2>/dev/null
	dd if=/dev/zero of=$LOG bs=1M count=2 oflag=direct 2>/dev/null
	write_random $ORIGIN_DEV 0 2048
	origin_up chunk_size 16 || { not_ok "origin"; test_done; }
	ok "origin up, loading until the power is cut"
	echo "CRASH-LOAD-RUNNING"
	for i in $(seq 1 100000); do
		sum=$(sum_dev /dev/mapper/vol)
		id=$(snap_create) || break
		printf '%-511s\n' "$id $sum" |
			dd of=$LOG bs=512 seek="$id" oflag=direct,dsync conv=notrunc 2>/dev/null
		for _ in $(seq 1 $((RANDOM % 20 + 1))); do
			write_random /dev/mapper/vol $(( (RANDOM % (ORIGIN_SECTORS / 8)) * 4 )) $((RANDOM % 64 + 1))
		done
		if [ $((i % 7)) = 0 ]; then
			old=$($DMSETUP message vol 0 list | awk 'NR == 2 {print $1}')
			# logged before the delete: after a cut either outcome is fine
			[ -n "$old" ] && printf '%-511s\n' "$old deleted" |
				dd of=$LOG bs=512 seek="$old" oflag=direct,dsync conv=notrunc 2>/dev/null &&
				$DMSETUP message vol 0 delete "$old"
		fi
	done
	test_done
fi

tap_header 3
check "offline store check after the cut" "$SHADOWCTL" store check $STORE_DEV
check "origin loads after the cut" origin_up chunk_size 16
dd if=$LOG bs=512 count=4096 2>/dev/null | tr -d '\0' | grep . > /tmp/crash-log.txt
bad=0 n=0
while read -r id sum; do
	[ -n "$id" ] || continue
	[ "$sum" = deleted ] && continue
	n=$((n + 1))
	if ! snap_up snap "$id" 2>/dev/null; then
		diag "snapshot $id missing"
		bad=$((bad + 1))
		continue
	fi
	[ "$(sum_dev /dev/mapper/snap)" = "$sum" ] || {
		diag "snapshot $id differs"
		bad=$((bad + 1))
	}
	snap_down snap
done < /tmp/crash-log.txt
diag "$($DMSETUP status vol)"
check "$n recorded snapshots read their creation content" [ $bad = 0 ]
test_done
