#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tables the targets cannot accept are refused with a message, and the
# refused device does not linger.

. "$(dirname "$0")/lib/test_common.sh"
require_guest
require_cmd dmsetup losetup

tap_header 4

img=$(mktemp /tmp/bad-tables.XXXXXX)
truncate -s 64M "$img"
loopdev=$(losetup -f --show "$img") || bail "losetup failed"
on_exit "losetup -d $loopdev; rm -f $img"

refused() {
	local name=$1 table=$2 out
	out=$(dm create "$name" --table "$table" 2>&1) && {
		dm_remove "$name"
		diag "accepted: $table"
		return 1
	}
	diag "$name: $(tr '\n' ' ' <<<"$out")"
	! dm info "$name" >/dev/null 2>&1
}

n=$(sectors "$loopdev")
check "shadow-origin with no arguments is refused" \
	refused bad0 "0 $n shadow-origin"
check "shadow-origin over a missing device is refused" \
	refused bad1 "0 $n shadow-origin /dev/does-not-exist $loopdev"
check "shadow with no arguments is refused" \
	refused bad2 "0 $n shadow"
check "dmsetup ls shows no leftover device" \
	bash -c '! dmsetup ls | grep -q "^bad"'

test_done
