#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the tests of the dm-shadow targets: ram disks, origin and
# snapshot tables, status fields.  Sources test_common.sh for TAP.
# shellcheck disable=SC2034

. "$(dirname "${BASH_SOURCE[0]}")/test_common.sh"

export DM_DISABLE_UDEV=1
DMSETUP="dmsetup --noudevsync"
SECTORS_PER_MB=2048
SHADOWCTL=$SHADOW_TOP/build/shadowctl

require()
{
	local t

	[ "$(id -u)" -eq 0 ] || skip_all "needs root"
	[ -e /dev/mapper/control ] || modprobe dm-mod 2>/dev/null
	[ -e /dev/mapper/control ] || skip_all "no device-mapper"
	$DMSETUP targets | grep -q '^shadow-origin' ||
		skip_all "dm-shadow not loaded"
	for t in "$@"; do
		command -v "$t" >/dev/null || skip_all "missing $t"
	done
	kmsg "start"
}

# ram disks: make_disks ORIGIN_MB STORE_MB -> $ORIGIN_DEV $STORE_DEV
make_disks()
{
	local size=$(( $1 > $2 ? $1 : $2 ))

	rmmod brd 2>/dev/null
	modprobe brd rd_nr=2 rd_size=$((size * 1024)) max_part=0 ||
		skip_all "no brd"
	ORIGIN_DEV=/dev/ram0
	STORE_DEV=/dev/ram1
	# brd devices are as large as the largest request; trim with dm-linear
	ORIGIN_SECTORS=$(($1 * SECTORS_PER_MB))
	STORE_SECTORS=$(($2 * SECTORS_PER_MB))
	$DMSETUP create tst-ostore --table "0 $ORIGIN_SECTORS linear $ORIGIN_DEV 0"
	$DMSETUP create tst-sstore --table "0 $STORE_SECTORS linear $STORE_DEV 0"
	ORIGIN_DEV=/dev/mapper/tst-ostore
	STORE_DEV=/dev/mapper/tst-sstore
	$DMSETUP mknodes >/dev/null 2>&1
	dd if=/dev/zero of=$STORE_DEV bs=4096 count=1 oflag=direct 2>/dev/null
}

# origin_up [FEATURES...]: shadow-origin "vol" over the disks
origin_up()
{
	local feat=""

	if [ $# -gt 0 ]; then
		feat="$# $*"
	fi
	$DMSETUP create vol --table \
		"0 $ORIGIN_SECTORS shadow-origin $ORIGIN_DEV $STORE_DEV $feat" &&
		$DMSETUP mknodes vol >/dev/null 2>&1
}

origin_down()
{
	$DMSETUP remove vol
}

# snap_create [LABEL] -> prints the id
snap_create()
{
	$DMSETUP message vol 0 create "$@"
}

# snap_up NAME ID [ro|rw]
snap_up()
{
	$DMSETUP create "$1" --table \
		"0 $ORIGIN_SECTORS shadow /dev/mapper/vol $2 ${3:-ro}" &&
		$DMSETUP mknodes "$1" >/dev/null 2>&1
}

snap_down()
{
	$DMSETUP remove "$1"
}

# status field N of the origin's INFO status (1 = store used/total)
origin_field()
{
	$DMSETUP status vol | awk -v n="$1" '{ print $(3 + n) }'
}

store_used()
{
	origin_field 1 | cut -d/ -f1
}

sum_dev()
{
	md5sum < "$1" | cut -d' ' -f1
}

# write_random DEV OFFSET_KB LEN_KB
write_random()
{
	dd if=/dev/urandom of="$1" bs=1K seek="$2" count="$3" \
		oflag=direct conv=notrunc 2>/dev/null
}

cleanup_all()
{
	local d

	for d in $($DMSETUP ls 2>/dev/null | awk '{print $1}'); do
		case $d in
		snap*) $DMSETUP remove "$d" >/dev/null 2>&1 ;;
		esac
	done
	$DMSETUP remove vol >/dev/null 2>&1
	$DMSETUP remove tst-ostore >/dev/null 2>&1
	$DMSETUP remove tst-sstore >/dev/null 2>&1
	rmmod brd >/dev/null 2>&1
}

# fails CMD...: succeeds when CMD fails
fails()
{
	! "$@"
}
