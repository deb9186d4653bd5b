#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Snapshots survive removal and re-creation of the origin table, a table
# reload (swap), and many journal commits (checkpoint), with their ids,
# labels and creation times.
# timeout: 900

. "$(dirname "$0")/lib/shadow.sh"

require md5sum dd
trap cleanup_all EXIT
tap_header 9

make_disks 8 32
write_random $ORIGIN_DEV 0 8192
origin_up chunk_size 8 || { not_ok "origin table"; test_done; }
declare -a sums
for i in 1 2 3 4 5; do
	sums[$i]=$(sum_dev /dev/mapper/vol)
	snap_create "r$i" >/dev/null
	write_random /dev/mapper/vol $((i * 700)) 900
done
$DMSETUP message vol 0 delete 3
list1=$($DMSETUP message vol 0 list)
used1=$(store_used)

# ctimes: "id created" of each snapshot, as the netlink listing gives them
# (the creation time is journalled: SNAP_TIME entries, then checkpoints)
ctimes()
{
	"$SHADOWCTL" snapshot list --json vol | python3 -c '
import json, sys
for s in json.load(sys.stdin)["snapshots"]:
    print(s["id"], s["created"])'
}
# same_times BEFORE N: the listing now is BEFORE, which has N lines or more
same_times()
{
	[ "$(grep -c . <<<"$1")" -ge "$2" ] && [ "$(ctimes)" = "$1" ]
}
times1=$(ctimes)
origin_down
check "origin table re-created" origin_up
check "snapshot list identical after reload" [ "$($DMSETUP message vol 0 list)" = "$list1" ]
check "creation times identical after reload ($(wc -l <<<"$times1") snapshots)" \
	same_times "$times1" 4
check "store usage identical after reload" [ "$(store_used)" = "$used1" ]
bad=0
for i in 1 2 4 5; do
	snap_up snap "$i" && [ "$(sum_dev /dev/mapper/snap)" = "${sums[$i]}" ] || bad=$((bad + 1))
	snap_down snap
done
check "snapshots read their content after reload" [ $bad = 0 ]
# table swap with a snapshot open
snap_up snap4 4
$DMSETUP table vol | $DMSETUP reload vol && $DMSETUP resume vol
check "table swap keeps the snapshot readable" [ "$(sum_dev /dev/mapper/snap4)" = "${sums[4]}" ]
snap_down snap4
# many small commits: forces journal checkpoints
for i in $(seq 1 300); do
	write_random /dev/mapper/vol $(( (RANDOM % 2048) * 4 )) 4
	if [ $((i % 30)) = 0 ]; then snap_create >/dev/null; fi
done
list2=$($DMSETUP message vol 0 list)
times2=$(ctimes)
origin_down
origin_up
check "list identical after many commits and reload" [ "$($DMSETUP message vol 0 list)" = "$list2" ]
check "creation times identical after checkpoints and reload" \
	same_times "$times2" 10
snap_up snap5 5
check "old snapshot still intact" [ "$(sum_dev /dev/mapper/snap5)" = "${sums[5]}" ]
$DMSETUP status vol | sed 's/^/# /'
test_done
