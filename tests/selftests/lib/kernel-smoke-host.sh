#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kernel-smoke-host.sh NAME: the tests named kernel-*.  For the kernel NAME
# of scripts/kernels ("6.1", "6.12", "stable"): fetch it once (image,
# modules and headers from Debian's registry, cached outside the tree),
# build dm-shadow.ko against it with W=1 and sparse, and check there is no
# warning; then boot it in the test guest and run kernel-smoke.sh there
# (load, origin, snapshot, first write, snapshot read, netlink, frozen
# cut, unload).  The guest's kernel log is judged by vm-run as always.
. "$(dirname "$0")/test_common.sh"

name=${1:?kernel-smoke-host.sh needs a kernel name}
kernels=$SHADOW_TOP/scripts/kernels
out=$SHADOW_TOP/build/kernels/$name
mkdir -p "$out"

tap_header 5

if ! "$kernels" fetch "$name" >"$out/fetch.log" 2>&1; then
	sed 's/^/# /' "$out/fetch.log"
	bail "cannot fetch the kernel $name"
fi
eval "$("$kernels" env "$name")" || bail "no environment for $name"
diag "kernel $name: $KVER, headers $KDIR"
ok "Linux $KVER and its headers are at hand"

# W=1 and sparse: kbuild prints CHECK for each file sparse looked at.
"$kernels" build "$name" "$out/mod" W=1 C=2 >"$out/build.log" 2>&1
rc=$?
ko=$out/mod/kmod/dm-shadow.ko
if [ $rc = 0 ] && [ -s "$ko" ]; then
	ok "dm-shadow.ko builds against $KVER"
else
	not_ok "dm-shadow.ko builds against $KVER"
	tail -n 30 "$out/build.log" | sed 's/^/# /'
	test_done
fi
grep '^#define HAVE_' "$out/mod/kmod/shadow-probes.h" | sed 's/^/# probe: /'
warn=$(grep -E 'warning:|error:' "$out/build.log")
checked=$(grep -c '^  CHECK ' "$out/build.log")
if [ -z "$warn" ] && [ "$checked" -gt 0 ]; then
	ok "no warning at W=1 and from sparse ($checked files checked)"
else
	not_ok "no warning at W=1 and from sparse ($checked files checked)"
	sed 's/^/# /' <<<"$warn"
fi

# A kernel that lacks what the module needs stops the build at one line
# that names it: made up here by probes that cannot compile (6.1 only;
# the mechanism is the same on every kernel).
if [ "$name" = 6.1 ]; then
	lack=$out/lacking
	rm -rf "$lack"
	mkdir -p "$lack"
	cp -r "$SHADOW_TOP/Kbuild" "$SHADOW_TOP/VERSION" "$SHADOW_TOP/include" "$SHADOW_TOP/kmod" "$lack/"
	rm -f "$lack"/kmod/*.o "$lack"/kmod/*.ko "$lack"/kmod/*.mod* "$lack"/kmod/.*.cmd \
		"$lack"/kmod/shadow-probes.h
	for p in bdev_freeze freeze_bdev; do
		printf '// SPDX-License-Identifier: GPL-2.0\n#error "not in this kernel"\n' \
			>"$lack/kmod/probes/$p.c"
	done
	make -C "$KDIR" M="$lack" modules >"$out/lacking.log" 2>&1
	rc=$?
	said=$(grep -c '^dm-shadow: this kernel lacks bdev_freeze() or freeze_bdev(), which the module needs$' "$out/lacking.log")
	compiled=$(grep -c '^  CC \[M\]' "$out/lacking.log")
	if [ $rc != 0 ] && [ "$said" = 1 ] && [ "$compiled" = 0 ]; then
		ok "a kernel without either freeze stops the build at one line saying so"
	else
		not_ok "a kernel without either freeze stops the build at one line saying so (status $rc, said $said times, $compiled files compiled)"
		tail -n 10 "$out/lacking.log" | sed 's/^/# /'
	fi
else
	ok "# SKIP the missing-interface check runs on 6.1"
fi

# The guest: the other kernel through vm-run's VM_KERNEL and VM_MODROOT;
# Debian's own 6.1 is vm-run's default.
export VM_KERNEL VM_MODROOT
[ -n "$VM_KERNEL" ] || unset VM_KERNEL VM_MODROOT
vm_run -o "$out/guest" -t 300 --module "$ko" -- \
	"$SHADOW_TOP/tests/selftests/lib/kernel-smoke.sh" "$KVER"
rc=$?
if [ $rc = 0 ]; then
	ok "the smoke test passes in a guest running $KVER, with a clean kernel log"
else
	not_ok "the smoke test passes in a guest running $KVER, with a clean kernel log (vm-run: $rc)"
fi
test_done
