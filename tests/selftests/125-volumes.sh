#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Declared volumes in shadowd (shadowctl volume, volume.* requests): a
# volume over a brd disk with its store in a file under /tmp (a loop
# device), ext4 on it, a snapshot; deactivate refused while mounted,
# deactivate (dm device and loop device gone), activate again (the
# snapshot is still there: the store was validated, not reformatted);
# across restarts of shadowd: a volume deactivated by hand stays
# inactive, an active auto volume whose device went away is activated
# again, a --no-auto volume is not; remove refused while active; an
# active origin that is not declared is listed as such; a corrupt store
# is refused at activation with the kernel's reason and the origin's
# data untouched; the exit codes: 1 duplicate name, 2 bad chunk size,
# 5 missing origin, 4 unprivileged caller, 3 no shadowd.
# timeout: 600

. "$(dirname "$0")/lib/shadow.sh"
. "$(dirname "$0")/lib/shadowctl.sh"

require python3 mkfs.ext4 setpriv losetup
SHADOWD=$SHADOW_TOP/build/shadowd
[ -x "$SHADOWD" ] || skip_all "build/shadowd not built (make user)"

W=/tmp/shd125
RUN=/run/shd125
SOCK=$RUN/shadowd.sock
V=vol125
V2=vol125b
U=tst125u

cleanup()
{
	local d l

	[ -n "${DPID:-}" ] && kill -9 "$DPID" 2>/dev/null
	umount "$W/mnt" 2>/dev/null
	for d in $($DMSETUP ls 2>/dev/null | awk '{ print $1 }'); do
		case $d in
		shadow-*) $DMSETUP remove "$d" >/dev/null 2>&1 ;;
		esac
	done
	for d in $V $V2 $U; do
		$DMSETUP remove "$d" >/dev/null 2>&1
	done
	for l in $(losetup -n -O NAME -j "$W/store.img" 2>/dev/null) \
		 $(losetup -n -O NAME -j "$W/b.img" 2>/dev/null); do
		losetup -d "$l" 2>/dev/null
	done
	rmmod brd 2>/dev/null
	rm -rf "$W" "$RUN"
}
trap cleanup EXIT
tap_header

rm -rf "$W" "$RUN"
mkdir -p "$W/mnt" "$W/state" "$RUN"
chmod 755 "$W"
rmmod brd 2>/dev/null
modprobe brd rd_nr=4 rd_size=65536 max_part=0 || skip_all "no brd"

install -m 0755 "$SHADOWCTL" "$W/shadowctl"

# vstate NAME: the volume_state of NAME in volume.list ("none" if absent)
vstate()
{
	sc volume list -J -o NAME,STATE |
		json "next((v['state'] for v in j['volumes'] if v['name'] == '$1'), 'none')"
}

state_is()
{
	local s

	s=$(vstate "$1")
	[ "$s" = "$2" ] || diag "$1 is $s, not $2"
	[ "$s" = "$2" ]
}

# no_loop FILE: no loop device serves FILE (autoclear may take a moment)
no_loop()
{
	for _ in $(seq 20); do
		[ -z "$(losetup -n -j "$1")" ] && return 0
		sleep 0.1
	done
	diag "still attached: $(losetup -j "$1")"
	return 1
}

one_loop()
{
	[ "$(losetup -n -j "$1" | wc -l)" = 1 ]
}

no_dm()
{
	! $DMSETUP info "$1" >/dev/null 2>&1 && [ ! -e "/dev/mapper/$1" ]
}

cat >"$W/shadowd.conf" <<EOF
socket = $SOCK
state_dir = $W/state
mount_dir = $RUN/mnt
log_level = debug
EOF

start_daemon()
{
	"$SHADOWD" -f -c "$W/shadowd.conf" >>"$W/shadowd.log" 2>&1 &
	DPID=$!
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && sc volume list >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	bail "shadowd did not start: $(tail -5 "$W/shadowd.log")"
}

stop_daemon()
{
	kill "$DPID"
	wait "$DPID" 2>/dev/null
	DPID=
}

# ---------------------------------------------------------- no daemon
check "no shadowd: volume list exits 3" rc_is 3 sc volume list
check "no shadowd: volume create exits 3" \
	rc_is 3 sc volume create $V --origin /dev/ram0 --store /dev/ram1

start_daemon

# --------------------------------------------------------- usage errors
check "volume create without --store: exit 2" \
	rc_is 2 sc volume create $V --origin /dev/ram0
check "volume create --chunk-size 3K: exit 2" \
	rc_is 2 sc volume create $V --origin /dev/ram0 --store "$W/store.img" \
	--store-size 64M --chunk-size 3K
check "volume create --overflow bogus: exit 2" \
	rc_is 2 sc volume create $V --origin /dev/ram0 --store "$W/store.img" \
	--store-size 64M --overflow bogus
check "volume bogus: exit 2" rc_is 2 sc volume bogus
check "volume list -o NOPE: exit 2" rc_is 2 sc volume list -o NOPE
check "volume activate --help: exit 0" rc_is 0 sc volume activate --help

# --------------------------------------------------------- unprivileged
check "nobody: volume create exits 4" \
	rc_is 4 nobody "$W/shadowctl" --socket "$SOCK" volume create $V \
	--origin /dev/ram0 --store "$W/store.img" --store-size 64M
check "nobody: volume list exits 4" \
	rc_is 4 nobody "$W/shadowctl" --socket "$SOCK" volume list
check "nobody: created no file" test ! -e "$W/store.img"

# ------------------------------------------------------- missing things
check "missing origin path: exit 5" \
	rc_is 5 sc volume create $V --origin /dev/nonexistent \
	--store "$W/store.img" --store-size 64M
check "and says which" grep -q "/dev/nonexistent" "$W/err"
check "and created no store file" test ! -e "$W/store.img"
check "missing store file without --store-size: exit 5" \
	rc_is 5 sc volume create $V --origin /dev/ram0 --store "$W/nofile"
check "unknown volume status: exit 5" rc_is 5 sc volume status nosuch
check "unknown volume activate: exit 5" rc_is 5 sc volume activate nosuch

# --------------------------------------------------------------- create
check "volume create over /dev/ram0, store a new 64M file" \
	rc_is 0 sc volume create $V --origin /dev/ram0 --store "$W/store.img" \
	--store-size 64M --chunk-size 16K
check "the store file is 64M and sparse" \
	test "$(stat -c %s "$W/store.img")" = $((64 << 20))
check "/dev/mapper/$V is a block device" test -b /dev/mapper/$V
check "its table is shadow-origin with chunk_size 32" \
	grep -q "shadow-origin .* chunk_size 32 overflow drop_oldest" \
	<<<"$($DMSETUP table $V)"
check "one loop device serves the store file" one_loop "$W/store.img"
check "volumes.json declares it" \
	grep -Eq "\"name\": ?\"$V\"" "$W/state/volumes.json"
check "volume list: $V active" state_is $V active
sc volume status $V -J >"$W/status.json"
check "volume status: declared, open_count 0, a loop device" \
	json "j['declared'] and j['open_count'] == 0 and j['loop_device'].startswith('/dev/loop') and j['chunk_kib'] == 16" \
	<"$W/status.json" | grep -qx True

check "duplicate name: exit 1" \
	rc_is 1 sc volume create $V --origin /dev/ram1 --store /dev/ram2
check "error exists" grep -q "(exists)" "$W/err"
check "the same origin again: exit 1 (in_use)" \
	rc_is 1 sc volume create $V2 --origin /dev/ram0 --store /dev/ram2
check "error in_use" grep -q "(in_use)" "$W/err"
check "the same store file again: exit 1 (in_use)" \
	rc_is 1 sc volume create $V2 --origin /dev/ram1 --store "$W/store.img"
check "a store that is the origin: exit 1" \
	rc_is 1 sc volume create $V2 --origin /dev/ram1 --store /dev/ram1
check "nothing declared by the refusals" \
	test "$(grep -c '"name":' "$W/state/volumes.json")" = 1

# ----------------------------------------------- filesystem, snapshot
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/$V || bail "mkfs"
mount /dev/mapper/$V "$W/mnt" || bail "mount"
echo hello >"$W/mnt/file"
sync
snap=$(sc snapshot create $V | awk '{ print $2 }')
check "snapshot create on the volume ($snap)" test -n "$snap"

check "deactivate while mounted: exit 1" rc_is 1 sc volume deactivate $V
check "error busy" grep -q "(busy)" "$W/err"
check "the device is still there and mounted" \
	sh -c "test -b /dev/mapper/$V && mountpoint -q $W/mnt"
check "and writable" sh -c "echo more >>$W/mnt/file && sync"
check "volume status: open_count 1" \
	sh -c "'$W/shadowctl' --socket '$SOCK' volume status $V -J | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)[\"open_count\"] != 1)'"

umount "$W/mnt"
check "deactivate after unmount" rc_is 0 sc volume deactivate $V
check "the dm device is gone" no_dm $V
check "the loop device is gone" no_loop "$W/store.img"
check "volume list: $V inactive" state_is $V inactive
check "deactivate again is fine" rc_is 0 sc volume deactivate $V

check "activate again" rc_is 0 sc volume activate $V
check "the snapshot is still listed (store validated, not reformatted)" \
	grep -qw "$snap" <<<"$(sc snapshot list $V -H -o ID)"
mount /dev/mapper/$V "$W/mnt" || bail "mount again"
check "the file is intact" \
	test "$(cat "$W/mnt/file")" = "$(printf 'hello\nmore')"
umount "$W/mnt"

# ------------------------------------------------------------- restart
check "deactivate by hand" rc_is 0 sc volume deactivate $V
stop_daemon
start_daemon
check "restart: a volume deactivated by hand stays inactive" \
	state_is $V inactive
check "and has no loop device" no_loop "$W/store.img"

check "activate it" rc_is 0 sc volume activate $V
check "a --no-auto volume on /dev/ram1, store /dev/ram2" \
	rc_is 0 sc volume create $V2 --origin /dev/ram1 --store /dev/ram2 \
	--no-auto --overflow invalidate --low-water 50 --high-water 80
check "its table has the policy and water marks" \
	grep -q "overflow invalidate low_water 50 high_water 80" \
	<<<"$($DMSETUP table $V2)"
stop_daemon
# the devices went away without shadowd (as at a reboot)
$DMSETUP remove $V2
$DMSETUP remove $V
no_loop "$W/store.img" >/dev/null
start_daemon
check "restart: the auto volume is activated again" state_is $V active
check "with its snapshot" \
	grep -qw "$snap" <<<"$(sc snapshot list $V -H -o ID)"
check "and its loop device" one_loop "$W/store.img"
check "restart: the --no-auto volume stays inactive" state_is $V2 inactive

# ------------------------------------------------------------ undeclared
dd if=/dev/zero of=/dev/ram3 bs=4096 count=2 2>/dev/null
$DMSETUP create $U --table "0 8192 shadow-origin /dev/ram2 /dev/ram3" &&
	$DMSETUP mknodes $U >/dev/null 2>&1
check "an active origin not declared is listed, declared false" \
	sh -c "'$W/shadowctl' --socket '$SOCK' volume list -J | python3 -c 'import json,sys; sys.exit(not any(v[\"name\"] == \"$U\" and v[\"declared\"] is False for v in json.load(sys.stdin)[\"volumes\"]))'"
check "volume status of it: exit 0" rc_is 0 sc volume status $U
check "and remove of it: exit 5 (not declared)" rc_is 5 sc volume remove $U
$DMSETUP remove $U

# -------------------------------------------------------------- remove
check "remove while active: exit 1" rc_is 1 sc volume remove $V
check "error active" grep -q "(active)" "$W/err"
check "remove of an inactive volume" rc_is 0 sc volume remove $V2
check "it is not listed any more" state_is $V2 none
check "deactivate and remove $V" \
	sh -c "'$W/shadowctl' --socket '$SOCK' volume deactivate $V && '$W/shadowctl' --socket '$SOCK' volume remove $V"
check "volumes.json declares nothing" \
	sh -c "! grep -q '\"name\":' '$W/state/volumes.json'"
check "the store file is kept" test -s "$W/store.img"

# ------------------------------------------------------- corrupt store
check "declare it again over the existing store, --no-activate" \
	rc_is 0 sc volume create $V --origin /dev/ram0 --store "$W/store.img" \
	--chunk-size 16K --no-activate
check "inactive" state_is $V inactive
check "activate: the existing store is accepted" rc_is 0 sc volume activate $V
check "with its snapshot" \
	grep -qw "$snap" <<<"$(sc snapshot list $V -H -o ID)"
check "deactivate" rc_is 0 sc volume deactivate $V
origin_sum=$(sum_dev /dev/ram0)
# Both superblock copies (blocks 0 and 1): with only block 0 damaged,
# the target takes copy B, by design.
dd if=/dev/urandom of="$W/store.img" bs=4096 count=2 conv=notrunc 2>/dev/null
check "activate over a corrupt store: exit 1" rc_is 1 sc volume activate $V
check "with the kernel's reason" \
	grep -Eq "the kernel refused the table: Store (has a bad superblock magic|superblock checksum mismatch)" "$W/err"
diag "$(cat "$W/err")"
check "no dm device left" no_dm $V
check "no loop device left" no_loop "$W/store.img"
check "the origin's data is untouched" test "$(sum_dev /dev/ram0)" = "$origin_sum"
check "volume list: $V inactive" state_is $V inactive
check "remove it" rc_is 0 sc volume remove $V

stop_daemon
check "shadowd logged no volume error but the corrupt store" \
	sh -c "! grep 'error: volume' '$W/shadowd.log' | grep -v 'refused the table'"
test_done
