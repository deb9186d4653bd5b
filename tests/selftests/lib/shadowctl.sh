# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the guest tests that drive shadowd through shadowctl (123,
# 125, 126).  Sourced after lib/shadow.sh; the test sets W (its work
# directory, holding a copy of shadowctl that every user may run) and SOCK
# (shadowd's socket) before calling them.

# sc ARGS...: shadowctl against the test's shadowd
sc()
{
	"$W/shadowctl" --socket "$SOCK" "$@"
}

# nobody CMD...: CMD as uid 65534, outside every shadowd group
nobody()
{
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# json EXPR: evaluate a Python expression on stdin's JSON as `j`
json()
{
	python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

# rc_is N CMD...: CMD exits with N (its output in $W/out, stderr in
# $W/err; a mismatch is a diagnostic line)
rc_is()
{
	local want=$1 rc

	shift
	"$@" >"$W/out" 2>"$W/err"
	rc=$?
	[ "$rc" = "$want" ] || diag "exit $rc, not $want: $* ($(cat "$W/err"))"
	[ "$rc" = "$want" ]
}
