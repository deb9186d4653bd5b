#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Stock Samba in front of dm-shadow, proven with Samba's own clients
# (Documentation/samba.rst).  smbd and samba-dcerpcd (rpcd_fsrvp) on
# loopback only; the share fsrvp_share is the root of an xfs filesystem on
# a shadow-origin; vfs_shell_snap runs `shadowctl samba check|create|
# delete` against shadowd; vfs_shadow_copy2 shows the @GMT mounts.
#
#   - rpcclient: fss_get_sup_version, fss_is_path_sup, fss_create_expose
#     (ro), fss_get_mapping, fss_has_shadow_copy, fss_recovery_complete,
#     fss_delete; the exposed share fsrvp_share@{COPY} reads, through
#     smbclient, the file as it was at the commit while the live share
#     has changed it; fss_delete removes the mount, device and snapshot;
#   - `smbclient -c 'allinfo FILE'` lists the copy as a previous version
#     and a get through its @GMT path returns the old content;
#   - a snapshot taken outside Samba (shadowctl over netlink, as a
#     schedule would) is a previous version too, and leaves the list when
#     it is deleted through shadowd;
#   - fss_create_expose rw, then fss_recovery_complete and fss_delete;
#   - shadowd's own FSRVP set (shadowctl set), published by the hook
#     contrib/samba/shadowd-samba-share as the registry share
#     fsrvp_share@{COPY}: smbclient reads the commit's content through
#     it, and it goes with delete-mapping; an auto-recovery set's share
#     is writable until recovery-complete, read-only after;
#   - smbtorture rpc.fsrvp, fss:sequence timeout=1: all ten tests pass;
#   - nothing is left frozen, no shadow device or mount outlives its
#     snapshot.
# The time of each create (commit) is printed as a diagnostic.
# timeout: 1800

. "$(dirname "$0")/lib/shadow.sh"

require python3 ip mkfs.xfs fsfreeze smbd rpcclient smbclient smbtorture \
	smbpasswd
DCERPCD=/usr/libexec/samba/samba-dcerpcd
SHADOWD=$SHADOW_TOP/build/shadowd
[ -x "$DCERPCD" ] || skip_all "no $DCERPCD (package samba)"
[ -x "$SHADOWD" ] && [ -x "$SHADOWCTL" ] ||
	skip_all "build/shadowd or build/shadowctl not built (make user)"
CLIENT=$SHADOW_TOP/tests/selftests/lib/shadowd_client.py

W=/tmp/smb124
RUN=/run/smb124
SOCK=$RUN/shadowd.sock
LIVE=$W/live
SNAPDIR=$LIVE/.snapshots
XFS_MB=320
STORE_MB=128
PW=dmshadow124
SRV=127.0.0.1
DPID=

cleanup()
{
	local m d

	[ -f /run/samba/smbd.pid ] && kill "$(cat /run/samba/smbd.pid)" 2>/dev/null
	pkill -f samba-dcerpcd 2>/dev/null
	pkill -f rpcd_ 2>/dev/null
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	sleep 0.5
	for m in $(awk -v p="$W/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m"
	done
	for d in $(dm ls 2>/dev/null | awk '{ print $1 }'); do
		case $d in
		shadow-*) dm_remove "$d" ;;
		esac
	done
	dm_remove vol_x ost_x sst_x
	for d in /etc/samba /var/lib/samba /var/cache/samba /var/log/samba; do
		umount "$d" 2>/dev/null
	done
	rmmod brd 2>/dev/null
	rm -rf "$W" "$RUN"
}
trap cleanup EXIT

# ------------------------------------------------------------ the volume
rm -rf "$W" "$RUN"
mkdir -p "$LIVE" "$W/state" "$W/torture" "$W/got" "$RUN"
rmmod brd 2>/dev/null
modprobe brd rd_nr=2 rd_size=$((XFS_MB * 1024)) max_part=0 || skip_all "no brd"
dm create ost_x --table "0 $((XFS_MB * SECTORS_PER_MB)) linear /dev/ram0 0" &&
dm create sst_x --table "0 $((STORE_MB * SECTORS_PER_MB)) linear /dev/ram1 0" &&
dm mknodes >/dev/null 2>&1 || bail "linear tables"
dd if=/dev/zero of=/dev/mapper/sst_x bs=4096 count=1 oflag=direct 2>/dev/null
dm create vol_x --table "0 $((XFS_MB * SECTORS_PER_MB)) shadow-origin /dev/mapper/ost_x /dev/mapper/sst_x 2 chunk_size 16" &&
dm mknodes >/dev/null 2>&1 || bail "origin table"
mkfs.xfs -q -f /dev/mapper/vol_x || bail "mkfs"
mount /dev/mapper/vol_x "$LIVE" || bail "mount"
chmod 777 "$LIVE"

# ---------------------------------------------------------------- shadowd
cat >"$W/shadowd.conf" <<EOF
socket = $SOCK
state_dir = $W/state
mount_dir = $RUN/mnt
log_level = debug
sequence_timeout = 0
previous_versions = vol_x
share.fsrvp_share = $LIVE
expose_command = $SHADOW_TOP/contrib/samba/shadowd-samba-share
EOF
"$SHADOWD" --foreground --config "$W/shadowd.conf" >>"$W/shadowd.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do
	python3 "$CLIENT" "$SOCK" version >/dev/null 2>&1 && break
	kill -0 "$DPID" 2>/dev/null || bail "shadowd did not start"
	sleep 0.2
done

# ------------------------------------------------------------------ Samba
# The guest's root is the host's, read-only: Samba's own directories get
# a tmpfs each.
for d in /etc/samba /var/lib/samba /var/cache/samba /var/log/samba; do
	mkdir -p "$d" 2>/dev/null
	mount -t tmpfs tmpfs "$d" || bail "tmpfs on $d"
done
mkdir -p /var/lib/samba/private /run/samba
ip link set lo up
CTL="$SHADOWCTL --socket $SOCK samba"
cat >/etc/samba/smb.conf <<EOF
[global]
	interfaces = lo
	bind interfaces only = yes
	disable netbios = yes
	smb ports = 445
	server role = standalone server
	registry shares = yes
	include = registry
	rpc start on demand helpers = no
	fss: sequence timeout = 1
	log level = 1

[fsrvp_share]
	path = $LIVE
	read only = no
	vfs objects = shadow_copy2 shell_snap
	shell_snap:check path command = $CTL check
	shell_snap:create command = $CTL create
	shell_snap:delete command = $CTL delete
	shadow:mountpoint = $LIVE
	shadow:snapdir = $SNAPDIR
	shadow:format = @GMT-%Y.%m.%d-%H.%M.%S
	shadow:localtime = no
	shadow:sort = desc
EOF
printf '%s\n%s\n' "$PW" "$PW" | smbpasswd -s -a root >/dev/null ||
	bail "smbpasswd"
"$DCERPCD" -D --libexec-rpcds || bail "samba-dcerpcd"
smbd -D || bail "smbd"

# rpc CMD...: one rpcclient command over signed SMB (FSRVP refuses a
# connection without packet integrity)
rpc()
{
	rpcclient -U "root%$PW" "ncacn_np:${SRV}[sign]" -c "$*" 2>&1
}

smb()
{
	local share=$1

	shift
	smbclient -U "root%$PW" "//$SRV/$share" "$@" 2>&1
}

# The first FSRVP call starts rpcd_fsrvp: give the emulated guest time.
ver=
for _ in $(seq 30); do
	ver=$(rpc fss_get_sup_version) && break
	sleep 2
done
tap_header
check "fss_get_sup_version: versions 1 to 1 ($ver)" \
	grep -q "supports FSRVP versions from 1 to 1" <<<"$ver"
out=$(rpc fss_is_path_sup fsrvp_share)
check "fss_is_path_sup fsrvp_share" \
	grep -q "supports shadow copy requests" <<<"$out"

not_frozen()
{
	fsfreeze -u "$LIVE" 2>&1 | grep -q "Invalid argument"
}

# not_listed NAME TEXT
not_listed()
{
	! grep -qx "$1" <<<"$2"
}

gmt_dirs()
{
	awk -v p="$SNAPDIR/" 'index($2, p) == 1 { print $2 }' /proc/mounts |
		sed 's|.*/||' | sort
}

snap_ids()
{
	"$SHADOWCTL" snapshot list --raw --noheadings vol_x | awk '{ print $1 }'
}

# --------------------------------------------------- a read-only copy
printf 'old content\n' >"$LIVE/f1"
mkdir -p "$LIVE/dir" && printf 'nested old\n' >"$LIVE/dir/f2"
sync
t0=$(date +%s%N)
out=$(rpc fss_create_expose backup ro fsrvp_share)
t1=$(date +%s%N)
diag "fss_create_expose ro: $(( (t1 - t0) / 1000000 )) ms (start to expose, emulated guest)"
set_id=$(sed -n 's/^\([0-9a-f-]\{36\}\): shadow-copy set created$/\1/p' <<<"$out")
copy_id=$(sed -n 's/^[0-9a-f-]\{36\}(\([0-9a-f-]\{36\}\)).*exposed as a snapshot.*/\1/p' <<<"$out")
check "fss_create_expose ro: set $set_id, copy $copy_id exposed" \
	[ -n "$set_id" -a -n "$copy_id" ]
[ -n "$copy_id" ] || diag "$(tr '\n' ' ' <<<"$out")"
check "nothing is left frozen after the commit" not_frozen
gmt1=$(gmt_dirs | tail -n 1)
check "the copy is mounted at $SNAPDIR/${gmt1:-?}" [ -n "$gmt1" ]
id1=$(snap_ids | tail -n 1)

printf 'new content\n' >"$LIVE/f1"
rm "$LIVE/dir/f2"
sync
smb "fsrvp_share@{$copy_id}" -c "get f1 $W/got/exp_f1; get dir\\f2 $W/got/exp_f2" >/dev/null
check "the exposed share reads f1 as of the commit" \
	[ "$(cat "$W/got/exp_f1" 2>/dev/null)" = "old content" ]
check "and dir/f2, deleted live since" \
	[ "$(cat "$W/got/exp_f2" 2>/dev/null)" = "nested old" ]
smb fsrvp_share -c "get f1 $W/got/live_f1" >/dev/null
check "the live share reads the new f1" \
	[ "$(cat "$W/got/live_f1" 2>/dev/null)" = "new content" ]

out=$(rpc fss_get_mapping fsrvp_share "$set_id" "$copy_id"); rc=$?
check "fss_get_mapping names the exposed share" \
	grep -qi "fsrvp_share@{$copy_id}" <<<"$out"
diag "fss_get_mapping (exit $rc): $(tr '\n' ' ' <<<"$out")"
# Samba's server answers IsPathShadowCopied with FSRVP_E_NOT_SUPPORTED
# whatever the backend ("not yet supported" in srv_fss_agent.c): the call
# must reach it and come back with exactly that.
out=$(rpc fss_has_shadow_copy fsrvp_share)
diag "fss_has_shadow_copy: $(tr '\n' ' ' <<<"$out")"
check "fss_has_shadow_copy: Samba's own answer, FSRVP_E_NOT_SUPPORTED" \
	grep -q "response: 0x8004230c" <<<"$out"

# Previous versions (vfs_shadow_copy2) of the live share
out=$(smb fsrvp_share -c "allinfo f1")
check "allinfo f1 lists $gmt1 as a previous version" \
	grep -qx "$gmt1" <<<"$out"
diag "$(tr '\n' ' ' <<<"$out")"
smb fsrvp_share -c "get \"$gmt1\\f1\" $W/got/pv_f1" >/dev/null
check "get through $gmt1 returns the old content" \
	[ "$(cat "$W/got/pv_f1" 2>/dev/null)" = "old content" ]

out=$(rpc fss_recovery_complete "$set_id"); rc=$?
check "fss_recovery_complete" [ $rc = 0 ]; diag "$(tr '\n' ' ' <<<"$out")"
out=$(rpc fss_delete fsrvp_share "$set_id" "$copy_id"); rc=$?
check "fss_delete" [ $rc = 0 ]; diag "$(tr '\n' ' ' <<<"$out")"
check "fss_delete unmounted $gmt1" \
	sh -c "! mountpoint -q '$SNAPDIR/$gmt1'"
check "fss_delete deleted snapshot $id1 in the kernel" \
	sh -c "! $SHADOWCTL snapshot list --raw --noheadings vol_x | awk '{print \$1}' | grep -qx '$id1'"
out=$(smb "fsrvp_share@{$copy_id}" -c ls)
check "the exposed share is gone" grep -q "NT_STATUS_BAD_NETWORK_NAME" <<<"$out"

# ------------------------------------- a scheduled snapshot is a version
sync
sleep 1
out=$("$SHADOWCTL" snapshot create --freeze --json vol_x)
sid=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshots"][0]["id"])' <<<"$out")
printf 'newer content\n' >"$LIVE/f1"
sync
for _ in $(seq 50); do
	gmt2=$(gmt_dirs | tail -n 1)
	[ -n "$gmt2" ] && break
	sleep 0.2
done
out=$(smb fsrvp_share -c "allinfo f1")
check "a snapshot taken over netlink with --freeze ($sid) is listed: ${gmt2:-none}" \
	grep -qx "${gmt2:-none}" <<<"$out"
smb fsrvp_share -c "get \"$gmt2\\f1\" $W/got/pv2_f1" >/dev/null
check "and reads the content at its time" \
	[ "$(cat "$W/got/pv2_f1" 2>/dev/null)" = "new content" ]
python3 "$CLIENT" "$SOCK" snapshot.delete volume=vol_x id="$sid" >/dev/null
out=$(smb fsrvp_share -c "allinfo f1")
check "deleted through shadowd, it leaves the list" \
	not_listed "$gmt2" "$out"

# ----------------------------------------------- a writable (rw) request
out=$(rpc fss_create_expose backup rw fsrvp_share)
set_id=$(sed -n 's/^\([0-9a-f-]\{36\}\): shadow-copy set created$/\1/p' <<<"$out")
copy_id=$(sed -n 's/^[0-9a-f-]\{36\}(\([0-9a-f-]\{36\}\)).*exposed as a snapshot.*/\1/p' <<<"$out")
check "fss_create_expose rw" [ -n "$copy_id" ]
diag "$(tr '\n' ' ' <<<"$out")"
smb "fsrvp_share@{$copy_id}" -c "get f1 $W/got/rw_f1" >/dev/null
check "the rw copy reads f1 as of its commit" \
	[ "$(cat "$W/got/rw_f1" 2>/dev/null)" = "newer content" ]
out=$(rpc fss_recovery_complete "$set_id"); rc=$?
check "fss_recovery_complete (rw)" [ $rc = 0 ]; diag "$(tr '\n' ' ' <<<"$out")"
out=$(rpc fss_delete fsrvp_share "$set_id" "$copy_id"); rc=$?
check "fss_delete (rw)" [ $rc = 0 ]; diag "$(tr '\n' ' ' <<<"$out")"
check "no @GMT mount is left" [ -z "$(gmt_dirs)" ]

# ------------------- shadowd's own set, published by the Samba hook
# (contrib/samba/shadowd-samba-share as expose_command): the copy becomes
# the registry share fsrvp_share@{COPY}, read-only, until it is deleted.
SET="$SHADOWCTL --socket $SOCK set"
printf 'hook old\n' >"$LIVE/f3"
sync
$SET context backup >/dev/null
sid=$($SET start)
cid=$($SET add "$sid" '\\localhost\fsrvp_share')
$SET prepare "$sid" >/dev/null && $SET commit "$sid" >/dev/null &&
	$SET expose "$sid" >/dev/null
rc=$?
[ $rc = 0 ] && [ -n "$cid" ]
check "shadowctl set: $sid, copy $cid exposed" [ $? = 0 ]
printf 'hook new\n' >"$LIVE/f3"
hshare="fsrvp_share@{$cid}"
has_share()
{
	net conf showshare "$1" >/dev/null 2>&1
}
no_share()
{
	! has_share "$1"
}
# not_written SMBCLIENT-OUTPUT: the put was refused
not_written()
{
	grep -q "NT_STATUS_" <<<"$1"
}
check "the hook defined the registry share $hshare" has_share "$hshare"
check "... read-only" grep -Eqi 'read only = yes|writ(e)?able = no' \
	<<<"$(net conf showshare "$hshare" 2>&1)"
rm -f "$W/got/hook_f3"
out=$(smb "$hshare" -c "get f3 $W/got/hook_f3")
check "smbclient reads f3 as of the commit through it" \
	[ "$(cat "$W/got/hook_f3" 2>/dev/null)" = "hook old" ]
[ -s "$W/got/hook_f3" ] || diag "$(tr '\n' ' ' <<<"$out")"
$SET delete-mapping "$sid" "$cid" '\\localhost\fsrvp_share' >/dev/null
rc=$?
check "delete-mapping" [ $rc = 0 ]
check "... removed the registry share" no_share "$hshare"
out=$(smb "$hshare" -c ls)
check "... and smbclient no longer finds it" \
	grep -q "NT_STATUS_BAD_NETWORK_NAME" <<<"$out"

# An auto-recovery copy: a writable share until RecoveryComplete, then the
# hook runs again and the share is read-only like its copy.
$SET context 0x00400000 >/dev/null
sid=$($SET start)
cid=$($SET add "$sid" '\\localhost\fsrvp_share')
$SET prepare "$sid" >/dev/null && $SET commit "$sid" >/dev/null &&
	$SET expose "$sid" >/dev/null
rc=$?
hshare="fsrvp_share@{$cid}"
[ $rc = 0 ] && [ -n "$cid" ]
check "auto-recovery set through shadowctl set: exposed" [ $? = 0 ]
check "... its share is writable" grep -Eqi 'read only = no|writ(e)?able = yes' \
	<<<"$(net conf showshare "$hshare" 2>&1)"
printf 'recovered\n' >"$W/got/put_me"
out=$(smb "$hshare" -c "put $W/got/put_me put_me")
check "... smbclient writes a file into the copy" \
	[ "$(cat "$RUN/mnt/$sid/fsrvp_share/put_me" 2>/dev/null)" = recovered ]
[ -s "$RUN/mnt/$sid/fsrvp_share/put_me" ] || diag "$(tr '\n' ' ' <<<"$out")"
$SET recovery-complete "$sid" >/dev/null
rc=$?
check "recovery-complete" [ $rc = 0 ]
check "... the share is read-only now" grep -Eqi 'read only = yes|writ(e)?able = no' \
	<<<"$(net conf showshare "$hshare" 2>&1)"
out=$(smb "$hshare" -c "put $W/got/put_me again")
check "... and a write through it fails" not_written "$out"
$SET delete-mapping "$sid" "$cid" '\\localhost\fsrvp_share' >/dev/null
rc=$?
[ $rc = 0 ] && no_share "$hshare"
check "delete-mapping; the share is gone" [ $? = 0 ]

# ----------------------------------------------------------- smbtorture
cd "$W/torture" || bail "cd"
timeout 900 smbtorture "//$SRV/fsrvp_share" -U "root%$PW" \
	--option='fss:sequence timeout=1' rpc.fsrvp >"$W/torture.log" 2>&1
cd / || bail "cd /"
for t in share_sd enum_created sc_share_io bad_id sc_set_abort \
	 create_simple set_ctx get_version is_path_supported seq_timeout; do
	check "smbtorture rpc.fsrvp: $t" grep -qx "success: fsrvp.$t" "$W/torture.log"
done
if grep -q '^failure:\|^error:' "$W/torture.log"; then
	diag "smbtorture failures:"
	grep -A3 '^failure:\|^error:' "$W/torture.log" | sed 's/^/#   /' | head -40
fi

# ------------------------------------------------------------- leftovers
sleep 3
check "nothing is frozen at the end" not_frozen
left=$(snap_ids | tr '\n' ' ')
mounts=$(gmt_dirs | tr '\n' ' ')
devs=$(dm ls 2>/dev/null | awk '$1 ~ /^shadow-/ { print $1 }' | tr '\n' ' ')
diag "left: snapshots [$left] mounts [$mounts] devices [$devs]"
n_snap=$(snap_ids | grep -c .)
n_mnt=$(gmt_dirs | grep -c .)
check "every @GMT mount has its snapshot ($n_mnt mounts, $n_snap snapshots)" \
	[ "$n_mnt" -le "$n_snap" ]
check "shadowd is still running" kill -0 "$DPID"
test_done
