#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers for the dm-shadow selftests.  Source it first thing:
#
#   . "$(dirname "$0")/lib/test_common.sh"
#
# A test prints TAP 13 through these helpers, exits 0 when every case
# passed, 1 when one failed, and 4 (KSFT_SKIP) with "1..0 # SKIP reason"
# when a prerequisite is missing.  Guest tests (*.sh) run inside the test
# guest; host tests (*.host) run on the host and boot guests themselves
# through vm_run.

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

SHADOW_TOP=${SHADOW_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
VM_RUN=$SHADOW_TOP/tests/vm/vm-run
TEST_NAME=$(basename "$0")
export SHADOW_TOP

_tap_n=0
_tap_failed=0
_cleanups=()

tap_header() {
	echo "TAP version 13"
	[ $# -gt 0 ] && echo "1..$1"
	return 0
}

# kmsg MESSAGE: line the kernel log up with the test.
kmsg() {
	[ -w /dev/kmsg ] && echo "$TEST_NAME: $*" >/dev/kmsg
	return 0
}

ok() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $*"
	kmsg "ok $_tap_n - $*"
}

not_ok() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $*"
	kmsg "not ok $_tap_n - $*"
}

# check DESC CMD...: one TAP case from a command's status.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

diag() {
	echo "# $*"
}

skip_all() {
	echo "TAP version 13"
	echo "1..0 # SKIP $*"
	exit $KSFT_SKIP
}

# bail REASON: stop the test here; what is not done counts as failed.
bail() {
	echo "Bail out! $*"
	exit $KSFT_FAIL
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "$c is not installed"
	done
}

require_guest() {
	[ "${VM_GUEST:-0}" = 1 ] || skip_all "runs only in the test guest"
}

# on_exit CMD: run CMD (eval'd) when the test ends, last registered first.
on_exit() {
	_cleanups=("$1" "${_cleanups[@]}")
}

_run_cleanups() {
	local c
	for c in "${_cleanups[@]}"; do
		eval "$c" >/dev/null 2>&1
	done
}
trap _run_cleanups EXIT

# test_done: the last line of every test.
test_done() {
	[ "$_tap_failed" -eq 0 ] && exit $KSFT_PASS
	diag "$_tap_failed of $_tap_n failed"
	exit $KSFT_FAIL
}

# dm: dmsetup without udev (there is none in the guest).
dm() {
	dmsetup --noudevsync "$@"
}

# dm_remove NAME...: remove devices, retrying briefly while they are busy.
dm_remove() {
	local n
	for n in "$@"; do
		for _ in 1 2 3 4 5; do
			dm info "$n" >/dev/null 2>&1 || break
			dm remove "$n" 2>/dev/null && break
			sleep 0.2
		done
	done
}

# sectors DEV: size of a block device in 512-byte sectors.
sectors() {
	blockdev --getsz "$1"
}

# vm_run ARGS...: boot a guest (host tests only); see tests/vm/vm-run --help.
# The guest's output becomes TAP diagnostics of the host test.
vm_run() {
	"$VM_RUN" "$@" 2>&1 | sed -u 's/^/# /'
	return "${PIPESTATUS[0]}"
}
