#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Samba's vfs_shell_snap commands and previous versions, without smbd:
# shadowctl samba check/create/delete run the way vfs_shell_snap runs
# them, as an unprivileged user of a configured snapshot group, against
# shadowd (Documentation/shadowd.rst, "Previous versions and Samba").
#
#   - ext4 and xfs origins, the share a subdirectory of each filesystem:
#     check exits 0; create prints SNAPDIR/@GMT-.../<share path>, which
#     holds what was synced before while the live file changes after; the
#     snapshot directory lists it; the copy is read-only, labelled
#     "samba"; two creates in a row get two names; nothing stays frozen;
#     the mount survives a restart of shadowd; delete removes mount,
#     device and snapshot, and a second delete is "not found" (5);
#   - a user outside the group is refused (4); a path off dm-shadow
#     fails check; bad command lines exit 2; no daemon exits 3;
#   - previous_versions = all: snapshots made by snapshot.create (shadowd)
#     and over netlink are mounted under the snapshot directory; a
#     snapshot.delete through shadowd removes its mount first; a snapshot
#     the kernel drops (store full, drop_oldest) is unmounted and its
#     device removed.
# timeout: 900

. "$(dirname "$0")/lib/shadow.sh"

require python3 mkfs.ext4 mkfs.xfs setpriv fsfreeze
SHADOWD=$SHADOW_TOP/build/shadowd
[ -x "$SHADOWD" ] && [ -x "$SHADOWCTL" ] ||
	skip_all "build/shadowd or build/shadowctl not built (make user)"
CLIENT=$SHADOW_TOP/tests/selftests/lib/shadowd_client.py

W=/tmp/shd122
RUN=/run/shd122
SOCK=$RUN/shadowd.sock
EXT_MB=96
XFS_MB=320
STORE_E_MB=32
STORE_X_MB=64
CTL=$W/bin/shadowctl
DPID=

cleanup()
{
	local m d

	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	for m in $(awk -v p="$W/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	for d in $(dm ls 2>/dev/null | awk '{ print $1 }'); do
		case $d in
		shadow-*) dm_remove "$d" ;;
		esac
	done
	dm_remove vol_e vol_x ost_e ost_x sst_e sst_x
	umount /etc/passwd /etc/group 2>/dev/null
	rmmod brd 2>/dev/null
	rm -rf "$W" "$RUN"
}
trap cleanup EXIT

# ------------------------------------------------------------ the setup
rm -rf "$W" "$RUN"
mkdir -p "$W/live_e" "$W/live_x" "$W/state" "$W/bin" "$RUN"
chmod 755 "$W" "$W/bin"
cp "$SHADOWCTL" "$CTL" && chmod 755 "$CTL" || bail "copy shadowctl"

# Two users (the guest's /etc is the host's, read-only: copies are bound
# over passwd and group): alice, in group smbsnap by a supplementary
# membership, as Samba's authenticated users are; mallory, in none.
cp /etc/passwd "$W/passwd" && cp /etc/group "$W/group" || bail "copy /etc"
echo "alice122:x:42201:100::/nonexistent:/usr/sbin/nologin" >>"$W/passwd"
echo "mallory122:x:42202:100::/nonexistent:/usr/sbin/nologin" >>"$W/passwd"
echo "smbsnap122:x:42200:alice122" >>"$W/group"
mount --bind "$W/passwd" /etc/passwd && mount --bind "$W/group" /etc/group ||
	bail "bind /etc/passwd, /etc/group"

rmmod brd 2>/dev/null
modprobe brd rd_nr=4 rd_size=$((XFS_MB * 1024)) max_part=0 || skip_all "no brd"
dm create ost_e --table "0 $((EXT_MB * SECTORS_PER_MB)) linear /dev/ram0 0" &&
dm create ost_x --table "0 $((XFS_MB * SECTORS_PER_MB)) linear /dev/ram1 0" &&
dm create sst_e --table "0 $((STORE_E_MB * SECTORS_PER_MB)) linear /dev/ram2 0" &&
dm create sst_x --table "0 $((STORE_X_MB * SECTORS_PER_MB)) linear /dev/ram3 0" &&
dm mknodes >/dev/null 2>&1 || bail "linear tables"
dd if=/dev/zero of=/dev/mapper/sst_e bs=4096 count=1 oflag=direct 2>/dev/null
dd if=/dev/zero of=/dev/mapper/sst_x bs=4096 count=1 oflag=direct 2>/dev/null
dm create vol_e --table "0 $((EXT_MB * SECTORS_PER_MB)) shadow-origin /dev/mapper/ost_e /dev/mapper/sst_e 4 chunk_size 16 overflow drop_oldest" &&
dm create vol_x --table "0 $((XFS_MB * SECTORS_PER_MB)) shadow-origin /dev/mapper/ost_x /dev/mapper/sst_x 2 chunk_size 16" &&
dm mknodes >/dev/null 2>&1 || bail "origin tables"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/vol_e && mkfs.xfs -q -f /dev/mapper/vol_x ||
	bail "mkfs"
mount /dev/mapper/vol_e "$W/live_e" && mount /dev/mapper/vol_x "$W/live_x" ||
	bail "mount"
mkdir -p "$W/live_e/shares/data" "$W/live_x/shares/data" "$W/plain"

# write_config PREVIOUS_VERSIONS
write_config()
{
	cat >"$W/shadowd.conf" <<-EOF
	socket = $SOCK
	state_dir = $W/state
	mount_dir = $RUN/mnt
	log_level = debug
	sequence_timeout = 0
	snapshot_groups = smbsnap122
	previous_versions = $1
	EOF
}

start_daemon()
{
	local _

	"$SHADOWD" --foreground --config "$W/shadowd.conf" \
		>>"$W/shadowd.log" 2>&1 &
	DPID=$!
	for _ in $(seq 100); do
		python3 "$CLIENT" "$SOCK" version >/dev/null 2>&1 && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.2
	done
	bail "shadowd did not start"
}

stop_daemon()
{
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}

# as USER CMD...: run as a user with its groups, the way smbd runs
# vfs_shell_snap's commands for an authenticated client.
as()
{
	local u=$1

	shift
	setpriv --reuid="$u" --regid=100 --init-groups -- "$@"
}

# req OP [KEY=VALUE...]: one shadowd request as root; the reply on stdout
req()
{
	python3 "$CLIENT" "$SOCK" "$@"
}

# wait_until SECONDS CMD...: poll a condition
wait_until()
{
	local end=$((SECONDS + $1))

	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
	return 0
}

is_mounted()
{
	mountpoint -q "$1"
}

not_mounted()
{
	! mountpoint -q "$1" 2>/dev/null
}

# not_frozen DIR: fsfreeze -u fails with EINVAL on a thawed filesystem
not_frozen()
{
	fsfreeze -u "$1" 2>&1 | grep -q "Invalid argument"
}

# snap_ids VOLUME: the kernel's snapshot ids, one a line, with labels
snap_labels()
{
	"$SHADOWCTL" snapshot list --raw --noheadings "$1" |
		awk '{ print $1, $NF }'
}

dev_exists()
{
	dm info "$1" >/dev/null 2>&1
}

tap_header
write_config none
start_daemon

# ------------------------------------------------- vfs_shell_snap: both fs
declare -A KIND=([e]=ext4 [x]=xfs) OTHER=([e]=x [x]=e)
for k in e x; do
	live=$W/live_$k
	share=$live/shares/data
	fs=${KIND[$k]}
	vol=vol_$k

	echo before >"$share/file"
	sync -f "$share/file"

	check "$fs: samba check of the share exits 0 (member of the group)" \
		as alice122 "$CTL" --socket "$SOCK" samba check "$share"

	t0=$(date +%s%N)
	out=$(as alice122 "$CTL" --socket "$SOCK" samba create --verbose \
		"$share" 2>"$W/create.err")
	rc=$?
	t1=$(date +%s%N)
	diag "$fs: samba create took $(( (t1 - t0) / 1000000 )) ms" \
		"(shadowctl included; shadowd: $(sed -n 's/.* in \([0-9]*\) ms$/\1/p' "$W/create.err") ms)"
	check "$fs: samba create exits 0 and prints one line" \
		test "$rc" = 0 -a "$(printf '%s\n' "$out" | wc -l)" = 1
	gmt=$(basename "$(dirname "$(dirname "$out")")")
	check "$fs: the path is SNAPDIR/@GMT-YYYY.MM.DD-HH.MM.SS/shares/data ($out)" \
		grep -qE "^$live/\.snapshots/@GMT-[0-9]{4}\.[0-9]{2}\.[0-9]{2}-[0-9]{2}\.[0-9]{2}\.[0-9]{2}/shares/data\$" <<<"$out"
	# the name is the snapshot's creation time in UTC, within a second
	# or two of now
	when=$(sed 's/@GMT-\(....\)\.\(..\)\.\(..\)-\(..\)\.\(..\)\.\(..\)/\1-\2-\3 \4:\5:\6/' <<<"$gmt")
	age=$(( $(date -u +%s) - $(date -u -d "$when UTC" +%s 2>/dev/null || echo 0) ))
	check "$fs: $gmt is the creation time in UTC (${age}s ago)" \
		test "$age" -ge 0 -a "$age" -le 5
	check "$fs: the printed path exists and holds the data synced before" \
		grep -qx before "$out/file"
	echo after >"$share/file"
	sync -f "$share/file"
	check "$fs: the live file changed after, the snapshot did not" \
		test "$(cat "$share/file"):$(cat "$out/file")" = "after:before"
	check "$fs: the snapshot directory lists $gmt" \
		grep -qx -- "$gmt" <(ls "$live/.snapshots")
	check "$fs: the copy is read-only" \
		bash -c "! touch '$out/x' 2>/dev/null"
	check "$fs: nothing is left frozen" not_frozen "$live"
	id=$(snap_labels "$vol" | awk '$2 == "samba" { print $1 }' | tail -n 1)
	check "$fs: the kernel snapshot $id is labelled samba" test -n "$id"
	check "$fs: its device shadow-pv-$vol-$id is active" \
		dev_exists "shadow-pv-$vol-$id"
	check "$fs: samba list shows it (origin samba)" \
		grep -q "\"gmt\":\"$gmt\".*\"origin\":\"samba\"" \
		<("$CTL" --socket "$SOCK" samba list --json | tr -d ' \n')

	# two at once (shadowd serves them one after the other): the
	# second waits for a second of its own
	as alice122 "$CTL" --socket "$SOCK" samba create "$share" >"$W/c2" &
	as alice122 "$CTL" --socket "$SOCK" samba create "$share" >"$W/c3"
	wait $!
	out2=$(cat "$W/c2")
	out3=$(cat "$W/c3")
	gmt2=$(basename "$(dirname "$(dirname "$out2")")")
	gmt3=$(basename "$(dirname "$(dirname "$out3")")")
	check "$fs: two creates at once get names of their own ($gmt2, $gmt3)" \
		test -n "$out2" -a -n "$out3" -a "$gmt2" != "$gmt" -a \
		"$gmt3" != "$gmt" -a "$gmt2" != "$gmt3" -a -d "$out2" -a -d "$out3"
	check "$fs: both hold the later data" \
		test "$(cat "$out2/file" "$out3/file" 2>/dev/null)" = "$(printf 'after\nafter')"

	check "$fs: a user outside the group is refused create (exit 4)" \
		test "$(as mallory122 "$CTL" --socket "$SOCK" samba create "$share" 2>/dev/null; echo $?)" = 4
	check "$fs: ... and check (exit 4)" \
		test "$(as mallory122 "$CTL" --socket "$SOCK" samba check "$share" 2>/dev/null; echo $?)" = 4
	check "$fs: ... and delete (exit 4), the copy stays" \
		test "$(as mallory122 "$CTL" --socket "$SOCK" samba delete "$share" "$out" 2>/dev/null; echo $?)" = 4 -a -d "$out/"

	if [ $k = e ]; then
		stop_daemon
		start_daemon
		check "$fs: after a restart of shadowd the copies are still mounted" \
			is_mounted "$(dirname "$(dirname "$out")")"
		check "$fs: ... and listed" \
			test "$("$CTL" --socket "$SOCK" samba list --raw --noheadings "$vol" | wc -l)" = 3
	fi

	check "$fs: samba delete BASE SNAPSHOT exits 0" \
		as alice122 "$CTL" --socket "$SOCK" samba delete "$share" "$out"
	mnt=$live/.snapshots/$gmt
	check "$fs: the mount and its directory are gone" \
		test ! -e "$mnt"
	check "$fs: the device is removed" \
		bash -c "! dmsetup info shadow-pv-$vol-$id >/dev/null 2>&1"
	check "$fs: the kernel snapshot $id is deleted" \
		bash -c "! '$SHADOWCTL' snapshot list --raw --noheadings $vol | awk '{ print \$1 }' | grep -qx $id"
	check "$fs: deleting it again is not found (exit 5)" \
		test "$(as alice122 "$CTL" --socket "$SOCK" samba delete "$share" "$out" 2>/dev/null; echo $?)" = 5
	check "$fs: the second copy is still there" grep -qx after "$out2/file"
	check "$fs: a copy of another volume is refused as base's (exit 5)" \
		test "$(as alice122 "$CTL" --socket "$SOCK" samba delete "$W/live_${OTHER[$k]}/shares/data" "$out2" 2>/dev/null; echo $?)" = 5
	check "$fs: samba delete of the other two exits 0 (1/2)" \
		as alice122 "$CTL" --socket "$SOCK" samba delete "$share" "$out2"
	check "$fs: samba delete of the other two exits 0 (2/2)" \
		as alice122 "$CTL" --socket "$SOCK" samba delete "$share" "$out3"
	check "$fs: no pv device, no samba snapshot left" \
		test -z "$(dm ls | grep "shadow-pv-$vol-")" -a \
		-z "$(snap_labels "$vol" | awk '$2 == "samba"')"
done

# --------------------------------------------------------- off dm-shadow
rc=$(as alice122 "$CTL" --socket "$SOCK" samba check "$W/plain" 2>/dev/null; echo $?)
check "a path on tmpfs: check exits non-zero ($rc)" test "$rc" != 0 -a "$rc" != 2
rc=$(as alice122 "$CTL" --socket "$SOCK" samba check "$W/no/such/dir" 2>/dev/null; echo $?)
check "a path that does not exist: check exits non-zero ($rc)" test "$rc" != 0
rc=$(as alice122 "$CTL" --socket "$SOCK" samba create "$W/plain" 2>/dev/null; echo $?)
check "a path on tmpfs: create exits non-zero ($rc), nothing made" \
	test "$rc" != 0 -a -z "$(dm ls | grep shadow-pv-)"

# ------------------------------------------------------- bad command lines
for args in "" "check" "create" "delete $W/live_e/shares/data" \
	"create relative/path" "check a b" "create --bogus $W/live_e" \
	"delete x y" "frob" "list a b"; do
	# shellcheck disable=SC2086
	rc=$("$CTL" --socket "$SOCK" samba $args >/dev/null 2>&1; echo $?)
	check "samba $args: exit 2 ($rc)" test "$rc" = 2
done
check "samba create --help exits 0" \
	bash -c "'$CTL' samba create --help | grep -q Usage"
rc=$("$CTL" --socket "$W/nosock" samba check "$W/live_e" 2>/dev/null; echo $?)
check "no shadowd at the socket: exit 3 ($rc)" test "$rc" = 3

# ---------------------------------------------- previous_versions = all
stop_daemon
write_config all
start_daemon
live=$W/live_e
echo v1 >"$live/shares/data/file"
sync -f "$live/shares/data/file"
id1=$(req snapshot.create 'volumes=["vol_e"]' | sed -n 's/.*"id": *\([0-9]*\).*/\1/p' | head -n 1)
check "snapshot.create through shadowd: snapshot $id1" test -n "$id1"
pv_mnt()
{
	"$CTL" --socket "$SOCK" samba list --raw --noheadings vol_e |
		awk -v id="$1" '$2 == id { print $5 }'
}
has_pv()
{
	[ -n "$(pv_mnt "$1")" ] && mountpoint -q "$(pv_mnt "$1")"
}
no_pv()
{
	[ -z "$(pv_mnt "$1")" ] && ! dev_exists "shadow-pv-vol_e-$1"
}
check "it is mounted under $live/.snapshots" wait_until 10 has_pv "$id1"
m1=$(pv_mnt "$id1")
check "... as $(basename "$m1"), holding the data (policy)" \
	test "$(dirname "$m1")" = "$live/.snapshots" -a \
	"$(cat "$m1/shares/data/file" 2>/dev/null)" = v1
check "samba list says origin policy" \
	bash -c "'$CTL' --socket '$SOCK' samba list --raw --noheadings | grep -q ' policy '"
echo v2 >"$live/shares/data/file"
sync -f "$live/shares/data/file"
sleep 1.1
id2=$("$SHADOWCTL" snapshot create --freeze vol_e | awk '{ print $2 }')
check "a snapshot made over netlink ($id2) is mounted too" \
	wait_until 10 has_pv "$id2"
m2=$(pv_mnt "$id2")
check "... with its own data" test "$(cat "$m2/shares/data/file" 2>/dev/null)" = v2
sleep 1.1
# no freeze: the journal needs a replay, mounted with noload
id3=$("$SHADOWCTL" snapshot create vol_e | awk '{ print $2 }')
check "an ext4 snapshot cut without a freeze ($id3) is mounted too" \
	wait_until 10 has_pv "$id3"
m3=$(pv_mnt "$id3")
check "... and readable" ls "$m3/shares/data"
rc=$(as alice122 "$CTL" --socket "$SOCK" samba delete "$live/shares/data" \
	"$m3/shares/data" 2>/dev/null; echo $?)
check "samba delete of a snapshot samba did not make: refused to the snapshot class ($rc)" \
	test "$rc" = 4 -a -d "$m3/shares/data"
check "... done for root (admin)" \
	"$CTL" --socket "$SOCK" samba delete "$live/shares/data" "$m3/shares/data"
check "... its mount and device are gone" no_pv "$id3"
check "snapshot.delete through shadowd unmounts it first" \
	bash -c "python3 '$CLIENT' '$SOCK' snapshot.delete volume=vol_e id=$id1 >/dev/null"
check "... its mount and device are gone" no_pv "$id1"
check "... the other one stays" has_pv "$id2"
check "... nothing left behind in the snapshot directory" \
	test ! -e "$m1"

# the kernel drops it: more new data than the store holds
dd if=/dev/urandom of="$live/big" bs=1M count=$((STORE_E_MB + 8)) \
	conv=fsync oflag=direct 2>/dev/null
check "the store overflowed: the kernel dropped snapshot $id2" \
	wait_until 20 bash -c "! '$SHADOWCTL' snapshot list --raw --noheadings vol_e | awk '{ print \$1 }' | grep -qx $id2"
check "its previous-versions mount and device went with it" \
	wait_until 30 no_pv "$id2"
check "... and its directory" wait_until 10 test ! -e "$m2"
check "shadowd logged the drop" grep -q "snap-drop" "$W/shadowd.log"
check "shadowd is still running" kill -0 "$DPID"
check "the live filesystem was never left frozen" not_frozen "$live"

stop_daemon
if [ "$_tap_failed" -gt 0 ]; then
	diag "shadowd's log (last 60 lines):"
	tail -60 "$W/shadowd.log" | sed 's/^/#   /'
fi
test_done
