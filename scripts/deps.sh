#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages listed in scripts/debian-packages that are not
# installed yet.  Quiet and quick when everything is present; safe to run
# again at any time.
#
#   scripts/deps.sh [LIST]          install what is missing (needs root)
#   scripts/deps.sh --check [LIST]  exit 1 and list what is missing
#
# LIST is a package list beside this script (default: debian-packages).

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
list="$here/${1:-debian-packages}"
[ -r "$list" ] || { echo "deps: no package list $list" >&2; exit 2; }

mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')

# One dpkg-query for the whole list: a package it does not know at all is
# missing from its output, so compare names rather than trusting line count.
declare -A have=()
while read -r name status; do
	[ "$status" = installed ] && have[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${wanted[@]}" 2>/dev/null || true)

missing=()
for pkg in "${wanted[@]}"; do
	[ -n "${have[$pkg]:-}" ] || missing+=("$pkg")
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ $check = 1 ]; then
	echo "missing packages: ${missing[*]}" >&2
	exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: these packages are missing and installing them needs root:" >&2
	echo "  apt-get install ${missing[*]}" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/dm-shadow-deps.XXXXXX)
# Services in the list (smbd, for the guest's Samba test) are for the guest:
# without a policy of the machine's own, refuse their start while apt runs.
rcd=/usr/sbin/policy-rc.d
own_rcd=
if [ ! -e "$rcd" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$rcd" && chmod 755 "$rcd" && own_rcd=1
	trap '[ -n "$own_rcd" ] && rm -f "$rcd"' EXIT
fi
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends \
	"${missing[@]}"; } >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "deps: apt-get failed; full log in $log" >&2
	exit 1
fi
rm -f "$log"
echo "deps: done"
