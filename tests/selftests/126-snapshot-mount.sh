#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# shadowctl snapshot mount/unmount through shadowd (snapshot.mount,
# snapshot.unmount), on ext4 and xfs: a read-only mount holds the files
# as they were at the snapshot while the live filesystem changes, is
# ro,nosuid,nodev and refuses writes (EROFS); unmount (by ORIGIN ID and by
# DIR) removes the mount and the shadow-mnt- device; --rw on a writable
# snapshot takes writes that the origin never sees, and a read-only
# snapshot refuses --rw.  Refusals: a directory that is not empty or is a
# mount point (1), a snapshot mounted already (1), an unknown snapshot
# (5), an unprivileged caller (4), bad arguments (2).  snapshot.delete
# through shadowd, and prune, of a mounted snapshot unmount it first (the
# netlink delete, which does not, fails while it is mounted).
# timeout: 900

. "$(dirname "$0")/lib/shadow.sh"
. "$(dirname "$0")/lib/shadowctl.sh"

require python3 md5sum mkfs.ext4 mkfs.xfs setpriv
SHADOWD=$SHADOW_TOP/build/shadowd
[ -x "$SHADOWD" ] || skip_all "build/shadowd not built (make user)"

W=/tmp/shd126
RUN=/run/shd126
SOCK=$RUN/shadowd.sock

# every shadow-mnt- device
mnt_devs()
{
	$DMSETUP ls 2>/dev/null | awk '$1 ~ /^shadow-mnt-/ { print $1 }'
}

fs_down()
{
	local m d

	for m in $(awk -v p="$W/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	for d in $(mnt_devs); do
		$DMSETUP remove "$d" >/dev/null 2>&1
	done
	cleanup_all
}

cleanup()
{
	[ -n "${DPID:-}" ] && kill -9 "$DPID" 2>/dev/null
	fs_down
	rm -rf "$W" "$RUN"
}
trap cleanup EXIT
tap_header

rm -rf "$W" "$RUN"
mkdir -p "$W/state" "$RUN"
chmod 755 "$W"

install -m 0755 "$SHADOWCTL" "$W/shadowctl"

# req JSON: one raw request to shadowd, the reply on stdout
req()
{
	python3 - "$SOCK" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
print(s.makefile().readline().strip())
EOF
}

# the options of the mount on DIR ("" when none)
mopts()
{
	awk -v d="$1" '$2 == d { o = $4 } END { print o }' /proc/mounts
}

has_opt()
{
	case ",$(mopts "$1")," in
	*",$2,"*) return 0 ;;
	esac
	diag "$1: options '$(mopts "$1")' lack $2"
	return 1
}

mounted()
{
	[ -n "$(mopts "$1")" ]
}

not_mounted()
{
	! mounted "$1"
}

dev_is()
{
	[ "$(mnt_devs | tr '\n' ' ')" = "$1" ] ||
		{ diag "shadow-mnt- devices: '$(mnt_devs | tr '\n' ' ')', not '$1'"; false; }
}

sums()
{
	(cd "$1" && find . -path ./lost+found -prune -o -type f -print | sort |
		xargs md5sum)
}

same()
{
	[ "$1" = "$2" ] || { diag "differ: $(diff <(echo "$1") <(echo "$2") | head -5)"; false; }
}

cat >"$W/shadowd.conf" <<EOF
socket = $SOCK
state_dir = $W/state
mount_dir = $RUN/mnt
log_level = debug
EOF

fs_round()
{
	local fs=$1 at_snap live_before ro rw out

	fs_down
	[ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	rm -rf "${W:?}/state" && mkdir -p "$W/state"
	make_disks 320 128
	origin_up chunk_size 32 || bail "$fs: origin table"
	case $fs in
	ext4) mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/vol ;;
	xfs) mkfs.xfs -q -f /dev/mapper/vol ;;
	esac || bail "$fs: mkfs"
	mkdir -p "$W/live"
	mount /dev/mapper/vol "$W/live" || bail "$fs: mount"
	"$SHADOWD" -f -c "$W/shadowd.conf" >>"$W/shadowd.log" 2>&1 &
	DPID=$!
	for _ in $(seq 50); do
		[ -S "$SOCK" ] && break
		sleep 0.1
	done
	[ -S "$SOCK" ] || bail "shadowd did not start: $(tail -5 "$W/shadowd.log")"

	for i in $(seq 1 12); do
		head -c $((i * 5000)) /dev/urandom >"$W/live/file$i"
	done
	at_snap=$(sums "$W/live")
	ro=$(sc snapshot create --freeze vol | awk '{ print $2 }')
	rw=$(sc snapshot create --freeze vol | awk '{ print $2 }')
	[ -n "$ro" ] && [ -n "$rw" ] || bail "$fs: snapshot create"
	sc snapshot set-readonly vol "$ro" || bail "$fs: set-readonly"
	# the live filesystem moves on
	for i in $(seq 1 6); do
		head -c 40000 /dev/urandom >"$W/live/file$i"
	done
	rm -f "$W/live/file12"
	sync
	check "$fs: the live files changed" \
		[ "$(sums "$W/live")" != "$at_snap" ]

	# ------------------------------------------------ read-only mount
	rm -rf "$W/ro"
	check "$fs: snapshot mount (DIR made)" rc_is 0 sc snapshot mount vol "$ro" "$W/ro"
	check "$fs: DIR is mounted" mounted "$W/ro"
	check "$fs: read-only" has_opt "$W/ro" ro
	check "$fs: nosuid" has_opt "$W/ro" nosuid
	check "$fs: nodev" has_opt "$W/ro" nodev
	check "$fs: device shadow-mnt-vol-$ro" dev_is "shadow-mnt-vol-$ro "
	check "$fs: the files as they were at the snapshot" \
		same "$(sums "$W/ro")" "$at_snap"
	check "$fs: a write fails" rc_is 1 touch "$W/ro/new"
	check "$fs: with EROFS" grep -q "Read-only file system" "$W/err"

	# -------------------------------------------------------- refusals
	mkdir -p "$W/full" && touch "$W/full/x"
	check "$fs: a DIR that is not empty: exit 1" \
		rc_is 1 sc snapshot mount vol "$rw" "$W/full"
	check "$fs: says so" grep -q "not an empty directory" "$W/err"
	mkdir -p "$W/tm" && mount -t tmpfs tmpfs "$W/tm"
	check "$fs: an empty DIR that is a mount point: exit 1" \
		rc_is 1 sc snapshot mount vol "$rw" "$W/tm"
	check "$fs: says so" grep -q "is a mount point" "$W/err"
	umount "$W/tm"
	check "$fs: mounted already: exit 1" \
		rc_is 1 sc snapshot mount vol "$ro" "$W/ro2"
	check "$fs: says where" grep -q "mounted already.*$W/ro" "$W/err"
	check "$fs: read-only snapshot --rw: exit 1" \
		rc_is 1 sc snapshot mount --rw vol "$ro" "$W/ro3"
	check "$fs: says it is read-only" grep -q "is read-only" "$W/err"
	check "$fs: an unknown snapshot: exit 5" \
		rc_is 5 sc snapshot mount vol 9999 "$W/nope"
	check "$fs: an unknown origin: exit 5" \
		rc_is 5 sc snapshot mount nosuchvol 1 "$W/nope"
	check "$fs: unprivileged: exit 4" \
		rc_is 4 nobody "$W/shadowctl" --socket "$SOCK" snapshot mount vol "$rw" "$W/nope"
	check "$fs: unprivileged unmount: exit 4" \
		rc_is 4 nobody "$W/shadowctl" --socket "$SOCK" snapshot unmount vol "$ro"
	check "$fs: missing DIR: exit 2" rc_is 2 sc snapshot mount vol "$rw"
	check "$fs: a bad ID: exit 2" rc_is 2 sc snapshot mount vol x "$W/nope"
	check "$fs: unmount with three arguments: exit 2" \
		rc_is 2 sc snapshot unmount vol 1 2
	check "$fs: a bad path in the request: E_INVALIDARG" \
		grep -q E_INVALIDARG <(req '{"op":"snapshot.mount","volume":"vol","id":'"$rw"',"path":"/tmp/../x"}')
	check "$fs: the refusals left no device, no mount, no DIR" \
		eval 'dev_is "shadow-mnt-vol-$ro " && not_mounted "$W/full" &&
		      [ ! -e "$W/ro2" ] && [ ! -e "$W/ro3" ] && [ ! -e "$W/nope" ]'

	# --------------------------------------------------------- unmount
	check "$fs: snapshot unmount ORIGIN ID" rc_is 0 sc snapshot unmount vol "$ro"
	check "$fs: the mount is gone" not_mounted "$W/ro"
	check "$fs: the device is gone" dev_is ""
	check "$fs: unmount again: exit 5" rc_is 5 sc snapshot unmount vol "$ro"
	check "$fs: unmount of a DIR it did not mount: exit 5" \
		rc_is 5 sc snapshot unmount "$W/live"
	check "$fs: the live filesystem is still mounted" mounted "$W/live"

	# ----------------------------------------------- writable mount
	live_before=$(sums "$W/live")
	check "$fs: snapshot mount --rw of a writable snapshot" \
		rc_is 0 sc snapshot mount --rw vol "$rw" "$W/ro"
	check "$fs: read-write" has_opt "$W/ro" rw
	check "$fs: nosuid (rw)" has_opt "$W/ro" nosuid
	check "$fs: the files as they were at the snapshot (rw)" \
		same "$(sums "$W/ro")" "$at_snap"
	check "$fs: a write succeeds" \
		eval 'echo hello >"$W/ro/new" && rm "$W/ro/file1" && sync'
	check "$fs: and reads back" grep -qx hello "$W/ro/new"
	check "$fs: the origin is unchanged" same "$(sums "$W/live")" "$live_before"
	check "$fs: the origin has no new file" [ ! -e "$W/live/new" ]
	check "$fs: snapshot unmount DIR" rc_is 0 sc snapshot unmount "$W/ro"
	check "$fs: the rw mount is gone" not_mounted "$W/ro"
	check "$fs: its device is gone" dev_is ""
	check "$fs: mount it again: the write is in the snapshot" \
		eval 'sc snapshot mount vol "$rw" "$W/ro" && grep -qx hello "$W/ro/new" &&
		      [ ! -e "$W/ro/file1" ]'

	# ---------------------------------------- delete of a mounted one
	check "$fs: the netlink delete of a mounted snapshot fails" \
		rc_is 1 sc snapshot delete vol "$rw"
	out=$(req '{"op":"snapshot.delete","volume":"vol","id":'"$rw"'}')
	check "$fs: snapshot.delete through shadowd of a mounted snapshot" \
		grep -q '"ok": *true' <<<"$out"
	[ -n "$out" ] && diag "$out"
	check "$fs: it was unmounted first" not_mounted "$W/ro"
	check "$fs: and its device removed" dev_is ""
	check "$fs: the snapshot is gone" \
		eval '! sc snapshot list -H -o ID vol | grep -qw "$rw"'
	check "$fs: the read-only one is still there" \
		eval 'sc snapshot list -H -o ID vol | grep -qw "$ro"'
	check "$fs: shadowd logged the release" \
		grep -q "shadow-mnt-vol-$rw removed (snapshot deleted)" "$W/shadowd.log"

	# ----------------------------------------- prune of a mounted one
	check "$fs: mount the read-only one again" \
		rc_is 0 sc snapshot mount vol "$ro" "$W/ro"
	sc snapshot create vol >/dev/null || bail "$fs: snapshot create"
	check "$fs: policy keep-last=1" rc_is 0 sc policy set vol keep-last=1
	check "$fs: prune with the old snapshot mounted" rc_is 0 sc prune vol
	check "$fs: prune unmounted it" not_mounted "$W/ro"
	check "$fs: and removed its device" dev_is ""
	check "$fs: and deleted it" \
		eval '[ "$(sc snapshot list -H -o ID vol | wc -l)" = 1 ] &&
		      ! sc snapshot list -H -o ID vol | grep -qw "$ro"'
	sc policy set vol "" >/dev/null 2>&1
}

fs_round ext4
fs_round xfs
kill "$DPID" 2>/dev/null && wait "$DPID"
check "shadowd stopped cleanly" [ $? = 0 ]
DPID=
test_done
