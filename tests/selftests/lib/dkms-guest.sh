#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms-guest.sh DEBS KERNEL_DEBS: the guest half of 033-kernel-dkms.  Runs
# under vm-run --systemd: systemd is PID 1, the root is the host's under a
# writable overlay whose upper layer is /vm-upper.  As an administrator
# would: the kernel's image and headers packages installed, then
# `apt install ./dm-shadow-dkms_*.deb ./dm-shadow_*.deb` (DKMS builds the
# module for the running kernel), the module loaded and used, shadowd
# running under systemd and answering; then `apt remove` and `apt purge`,
# after which nothing of dm-shadow is left (the overlay's upper layer is
# compared with what it held before the install).
. "$(dirname "$0")/shadow.sh"

debs=${1:?dkms-guest.sh needs the directory of the dm-shadow packages}
kdebs=${2:?dkms-guest.sh needs the directory of the kernel packages}
kver=$(uname -r)
V=$(cat "$SHADOW_TOP/VERSION")
export DEBIAN_FRONTEND=noninteractive

tap_header 16
[ "$(ps -o comm= -p 1)" = systemd ] || bail "PID 1 is not systemd"
[ -d /vm-upper ] && [ -d /vm-lower ] || bail "no overlay layers at /vm-upper, /vm-lower"
# The build machine's image forbids maintainer scripts to start or stop
# services (a policy-rc.d made for container builds); a node has none.
rm -f /usr/sbin/policy-rc.d

# vm-run laid the kernel's modules over /lib/modules; the packages bring
# them now, as on a machine that runs this kernel.
umount "/lib/modules/$kver" 2>/dev/null
umount /lib/modules 2>/dev/null
# The packages' maintainer scripts and the journal write where apt does.
apt_log=/run/dkms-test-apt.log
if INITRD=No apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-unsafe-io \
	"$kdebs"/linux-*.deb >"$apt_log" 2>&1; then
	ok "the kernel's image and headers packages install ($kver)"
else
	not_ok "the kernel's image and headers packages install ($kver)"
	tail -n 20 "$apt_log" | sed 's/^/# /'
	test_done
fi

# What the overlay holds before dm-shadow: compared after the purge.
# dpkg's, apt's and systemd's own records and the logs are left out, and
# so is the key DKMS makes to sign modules the first time it builds one
# (DKMS's, kept for Secure Boot, whatever module it built).
upper_list() {
	(cd /vm-upper && find . -mindepth 1 \( -path ./var/lib/dpkg -o -path ./var/log \
		-o -path ./var/cache -o -path ./var/lib/apt -o -path ./var/lib/systemd \
		-o -path ./run -o -path ./tmp -o -path ./etc/ld.so.cache \
		-o -path ./var/lib/man-db -o -path ./var/lib/ucf \
		-o -path ./var/lib/dkms/mok.key -o -path ./var/lib/dkms/mok.pub \) \
		-prune -o -print) | sort
}
upper_list >/run/upper-before
t0=$SECONDS

if apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-unsafe-io \
	"$debs/dm-shadow-dkms_${V}_all.deb" "$debs"/dm-shadow_"${V}"_*.deb >"$apt_log" 2>&1; then
	ok "apt install ./dm-shadow-dkms_${V}_all.deb ./dm-shadow_${V}_*.deb"
else
	not_ok "apt install ./dm-shadow-dkms_${V}_all.deb ./dm-shadow_${V}_*.deb"
fi
diag "the install took $((SECONDS - t0)) s"
grep -iE 'dkms|error|warn' "$apt_log" | head -n 30 | sed 's/^/# /'
dkms status -m dm-shadow >/run/dkms-status 2>&1
diag "dkms status: $(cat /run/dkms-status)"
check "DKMS built and installed dm-shadow $V for $kver" \
	sh -c 'grep -F "dm-shadow/$1, $2, " /run/dkms-status | grep -q ": installed\$"' _ "$V" "$kver"
ko=$(modinfo -n dm-shadow 2>/dev/null)
check "modinfo finds the DKMS module ($ko)" [ -n "$ko" ] && [ -e "$ko" ]
check "modprobe dm-shadow" modprobe dm-shadow
check "it is the module DKMS built for this kernel" \
	[ "$(modinfo -F vermagic dm-shadow | awk '{ print $1 }')" = "$kver" ]

make_disks 32 32
write_random $ORIGIN_DEV 0 1024
before=$(sum_dev $ORIGIN_DEV)
origin_up || bail "origin table on the DKMS module"
id=$(snap_create dkms)
snap_up snap1 "$id" || bail "snapshot table"
write_random /dev/mapper/vol 0 1024
check "a snapshot on the DKMS-built module reads its creation content" \
	[ "$(sum_dev /dev/mapper/snap1)" = "$before" ]
cleanup_all

# shadowd: the package enabled and started it; the module may have been
# built after it started, so start it again as the README says.
check "shadowd.service is enabled" systemctl is-enabled --quiet shadowd.service
check "the package started shadowd.service" systemctl is-active --quiet shadowd.service
systemctl restart shadowd.service
check "shadowd.service is active after a restart" systemctl is-active --quiet shadowd.service
out=$(shadowctl version 2>&1)
diag "$out"
check "shadowctl reaches the module's targets" grep -q 'shadow-origin' <<<"$out"
out=$(shadowctl volume list 2>&1)
rc=$?
diag "shadowctl volume list: $out"
check "shadowd answers shadowctl on its socket" [ $rc = 0 ]

rmmod dm_shadow 2>/dev/null
if apt-get remove -y -q dm-shadow dm-shadow-dkms >"$apt_log" 2>&1; then
	ok "apt remove dm-shadow dm-shadow-dkms"
else
	not_ok "apt remove dm-shadow dm-shadow-dkms"
	tail -n 20 "$apt_log" | sed 's/^/# /'
fi
check "shadowd is stopped" fails systemctl is-active --quiet shadowd.service
left=$(ls -d /usr/src/dm-shadow-* /var/lib/dkms/dm-shadow /usr/sbin/shadowd \
	/usr/sbin/shadowctl "/lib/modules/$kver"/updates/dkms/dm-shadow.ko* 2>/dev/null)
check "the module, its DKMS tree and the programs are gone${left:+ (left: $left)}" [ -z "$left" ]

apt-get purge -y -q dm-shadow dm-shadow-dkms >"$apt_log" 2>&1 ||
	tail -n 20 "$apt_log" | sed 's/^/# /'
upper_list >/run/upper-after
# A directory of the host root that a package wrote into and emptied again
# is copied up by the overlay and stays in its upper layer: not left over.
extra=$(comm -13 /run/upper-before /run/upper-after | while read -r p; do
	[ -d "/vm-upper/$p" ] && [ -d "/vm-lower/$p" ] && continue
	echo "$p"
done)
diag "after the purge, new in the overlay: ${extra:-nothing}"
check "after apt purge nothing of dm-shadow is left behind" [ -z "$extra" ]
test_done
