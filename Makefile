# SPDX-License-Identifier: GPL-2.0
#
# dm-shadow top-level build.
#
#   make                 module (against KDIR) and userspace programs
#   make deps            install the Debian packages the project needs
#   make check [T=name]  unit tests, then the guest suite (T= one test)
#   make check-kernels [KERNEL=6.12|stable]  the guest suite on another kernel
#   make demo            the main job, in a guest
#   make bench [QUICK=1] fio: dm-shadow against dm-snapshot and dm-thin
#   make install         module, programs, man pages (DESTDIR honoured)
#
# KDIR defaults to the build tree of the newest Debian 6.1 kernel installed
# (the one the test guest boots); any other KDIR= works.

VERSION     := $(shell cat VERSION)
GUEST_KVER  ?= $(shell scripts/guest-kver)
KDIR        ?= /lib/modules/$(GUEST_KVER)/build
KVER        ?= $(or $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
			$(KDIR)/include/generated/utsrelease.h 2>/dev/null),$(GUEST_KVER))

PREFIX      ?= /usr
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
MODDIR      ?= /lib/modules/$(KVER)/extra
DESTDIR     ?=

B           := build
CC          ?= cc
PKGS        := devmapper libnl-genl-3.0 libnl-3.0 smartcols
CSTD        := -std=c11 -D_GNU_SOURCE
WARN        := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
	       -Wmissing-prototypes -Wno-unused-parameter
CFLAGS      ?= -O2 -g
ALL_CFLAGS  := $(CSTD) $(WARN) $(CFLAGS) -Iinclude -Ilib \
	       -DSHADOW_VERSION=\"$(VERSION)\" $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS      := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# lib/fsrvp.c (GUIDs) is in every program and the unit tests.
LDLIBS      += $(shell pkg-config --libs uuid 2>/dev/null)

SAN         := -fsanitize=address,undefined -fno-omit-frame-pointer \
	       -fno-sanitize-recover=all

LIB_SRCS    := $(wildcard lib/*.c)
CTL_SRCS    := $(wildcard ctl/*.c)
UNIT_SRCS   := $(wildcard tests/unit/*.c)

.PHONY: all module user deps check check-unit check-vm demo install \
	install-module install-user install-dkms clean help

all: module user

help:
	@sed -n '3,14p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@scripts/deps.sh

# ---------------------------------------------------------------- module
module:
	@test -d "$(KDIR)" || { echo "KDIR=$(KDIR) does not exist (run make deps)" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# ---------------------------------------------------------------- userspace
user: $(B)/shadowctl

$(B)/%.o: %.c $(wildcard include/*.h lib/*.h ctl/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# shadowctl talks to shadowd in JSON too.
CTL_OBJS    := $(patsubst %.c,$(B)/%.o,$(CTL_SRCS))
$(CTL_OBJS): ALL_CFLAGS += $(shell pkg-config --cflags json-c 2>/dev/null)

$(B)/shadowctl: $(CTL_OBJS) $(patsubst %.c,$(B)/%.o,$(LIB_SRCS))
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs json-c 2>/dev/null)

# shadowd: daemon/ and lib/, with json-c and libmount besides.
DAEMON_SRCS := $(wildcard daemon/*.c)
DAEMON_OBJS := $(patsubst %.c,$(B)/%.o,$(DAEMON_SRCS))
DAEMON_PKGS := json-c mount libkmod
user: $(B)/shadowd

$(DAEMON_OBJS): ALL_CFLAGS += $(shell pkg-config --cflags $(DAEMON_PKGS) 2>/dev/null)
$(DAEMON_OBJS): $(wildcard daemon/*.h)

$(B)/shadowd: $(DAEMON_OBJS) $(patsubst %.c,$(B)/%.o,$(LIB_SRCS))
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(DAEMON_PKGS) 2>/dev/null)

# Unit tests: every lib/ source and the tests, built with ASan and UBSan.
$(B)/san/%.o: %.c $(wildcard include/*.h lib/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -Itests/unit -c -o $@ $<

# test_prune.c tests daemon/prune.c by including it
$(B)/san/tests/unit/test_prune.o: daemon/prune.c $(wildcard daemon/*.h)

# Every ctl/ source too, but shadowctl.c (main()): test_ctl.c runs the
# commands in-process against 006-ctl-output's golden files.
CTL_UNIT_SRCS := $(filter-out ctl/shadowctl.c,$(CTL_SRCS))
CTL_SAN_OBJS  := $(patsubst %.c,$(B)/san/%.o,$(CTL_UNIT_SRCS))
$(CTL_SAN_OBJS): ALL_CFLAGS += $(shell pkg-config --cflags json-c 2>/dev/null)
$(CTL_SAN_OBJS): $(wildcard ctl/*.h)
$(B)/san/tests/unit/test_ctl.o: ALL_CFLAGS += -Ictl
$(B)/san/tests/unit/test_ctl.o: $(wildcard ctl/*.h)

$(B)/unit-tests: $(patsubst %.c,$(B)/san/%.o,$(UNIT_SRCS) $(LIB_SRCS)) $(CTL_SAN_OBJS)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS) \
		$(shell pkg-config --libs cunit json-c 2>/dev/null)

# ---------------------------------------------------------------- tests
# The guest suite needs the module and the programs; unit tests need only
# userspace.  tests/run-all prints the closing "N passed, N failed" line.
#
# Each entry point installs what is missing first, then runs the rest in a
# second make, so that KDIR and the pkg-config flags are worked out after
# the packages they come from are there.
check check-unit check-vm demo:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory $@-run

check-run: all $(B)/unit-tests
	@tests/run-all $(if $(T),-t $(T))

check-unit-run: $(B)/unit-tests
	@tests/run-all --unit-only

check-vm-run: all
	@tests/run-all --vm-only $(if $(T),-t $(T))

demo-run: all
	@tests/demo.sh

.PHONY: check-run check-unit-run check-vm-run demo-run

# The debug tier: the guest suite on a kernel built with KASAN, lockdep and
# kmemleak (built once, cached outside the tree).  Not part of make check.
check-debug:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory user build/unit-tests
	@scripts/check-debug $(if $(T),-t $(T))
.PHONY: check-debug

# The guest suite on the other kernels of scripts/kernels.list (fetched
# from Debian's registry once, cached outside the tree).  Not part of make
# check, which builds, loads and uses the module on each of them in the
# kernel-* tests.  KERNEL= chooses ("6.12", "stable", "6.1"); T= one test.
KERNELS     ?= 6.12 stable
check-kernels:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory user
	@rc=0; for k in $(or $(KERNEL),$(KERNELS)); do \
		scripts/check-kernel $$k $(if $(T),-t $(T)) || rc=1; \
	done; exit $$rc
.PHONY: check-kernels

# The benchmark: fio in one guest, dm-shadow against dm-linear, dm-snapshot
# and dm-thin (tests/bench/run, Documentation/benchmarks.rst).  Not part of
# make check.  QUICK=1: one chunk size, 1 and 8 snapshots, a few minutes.
bench:
	@scripts/deps.sh
	@scripts/deps.sh debian-packages-bench
	@$(MAKE) --no-print-directory bench-run

bench-run: all
	@tests/bench/run $(if $(filter 1,$(QUICK)),--quick)
.PHONY: bench bench-run

# ---------------------------------------------------------------- install
install: install-module install-user

install-module: module
	install -D -m 0644 kmod/dm-shadow.ko $(DESTDIR)$(MODDIR)/dm-shadow.ko
ifeq ($(DESTDIR),)
	-depmod -a $(KVER)
endif

install-user: user
	install -D -m 0755 $(B)/shadowctl $(DESTDIR)$(SBINDIR)/shadowctl
	for m in Documentation/man/*.[1-8]; do \
		[ -e "$$m" ] || continue; \
		s=$${m##*.}; \
		install -D -m 0644 "$$m" $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$m); \
	done
	install -D -m 0644 contrib/bash-completion/shadowctl $(DESTDIR)$(PREFIX)/share/bash-completion/completions/shadowctl

# shadowd, its systemd unit, and an example configuration (an existing
# /etc/dm-shadow/shadowd.conf is left alone).
UNITDIR     ?= /lib/systemd/system
SYSCONFDIR  ?= /etc
LIBEXECDIR  ?= $(PREFIX)/libexec/dm-shadow
install-user: install-daemon
install-daemon: $(B)/shadowd
	install -D -m 0755 $(B)/shadowd $(DESTDIR)$(SBINDIR)/shadowd
	install -D -m 0644 daemon/shadowd.service $(DESTDIR)$(UNITDIR)/shadowd.service
	install -D -m 0755 contrib/samba/shadowd-samba-share $(DESTDIR)$(LIBEXECDIR)/shadowd-samba-share
	for u in contrib/systemd/*.service contrib/systemd/*.timer; do \
		install -D -m 0644 "$$u" $(DESTDIR)$(UNITDIR)/$$(basename "$$u"); \
	done
	[ -e $(DESTDIR)$(SYSCONFDIR)/dm-shadow/shadowd.conf ] || \
		install -D -m 0644 daemon/shadowd.conf $(DESTDIR)$(SYSCONFDIR)/dm-shadow/shadowd.conf
.PHONY: install-daemon

# DKMS source tree: the module rebuilds itself on a kernel upgrade.
DKMS_SRC    := $(DESTDIR)/usr/src/dm-shadow-$(VERSION)
install-dkms:
	install -d $(DKMS_SRC)/kmod/probes
	install -m 0644 Kbuild VERSION $(DKMS_SRC)/
	install -m 0644 kmod/Kbuild $(filter-out %.mod.c kmod/shadow-probes.h,$(wildcard kmod/*.[ch])) $(DKMS_SRC)/kmod/
	install -m 0644 $(wildcard kmod/probes/*.c) kmod/probes/needs $(DKMS_SRC)/kmod/probes/
	install -m 0755 kmod/probes/run.sh $(DKMS_SRC)/kmod/probes/
	for h in $$(find include -name '*.h'); do \
		install -D -m 0644 $$h $(DKMS_SRC)/$$h; done
	sed 's/@VERSION@/$(VERSION)/' dkms.conf > $(DKMS_SRC)/dkms.conf

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null
	rm -rf $(B)

# ---------------------------------------------------------------- Debian
# make deb: the Debian packages dm-shadow (programs, systemd units, man
# pages) and dm-shadow-dkms (the module's source, built by DKMS for every
# kernel) in build/deb/, checked by lintian: an error or a warning fails.
# dpkg-buildpackage runs on an export of the tree as it stands (the files
# git tracks or would track, none of the build output) in
# build/deb/dm-shadow-<version>/ and writes the packages beside it.
DEB_OUT     ?= $(B)/deb
DEB_SRC     := $(DEB_OUT)/dm-shadow-$(VERSION)
deb:
	@scripts/deps.sh debian-packages-deb
	@test "$$(dpkg-parsechangelog -S Version)" = "$(VERSION)" || \
		{ echo "debian/changelog: the last entry is not version $(VERSION)" >&2; exit 1; }
	@git rev-parse --is-inside-work-tree >/dev/null 2>&1 || \
		{ echo "make deb: works on a git checkout (or run dpkg-buildpackage here)" >&2; exit 1; }
	rm -rf $(DEB_OUT)/dm-shadow[-_]*
	mkdir -p $(DEB_SRC)
	git ls-files -z --cached --others --exclude-standard | \
		xargs -0 sh -c 'for f; do [ ! -e "$$f" ] || printf "%s\0" "$$f"; done' - | \
		tar -c --null -T - -f - | tar -x -C $(DEB_SRC) -f -
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -J
	rm -rf $(DEB_SRC)
	lintian -I --fail-on error,warning $(DEB_OUT)/dm-shadow_$(VERSION)_*.changes
.PHONY: deb
