// SPDX-License-Identifier: GPL-2.0
/*
 * shadowd: load dm-shadow through libkmod at start, as modprobe would
 * (its dependencies, dm-mod and dm-bufio, come first; options from
 * /etc/modprobe.d apply).  A module that is loaded or built in is left
 * alone.  Failing to load is not fatal: shadowd still answers FSRVP
 * queries, and the netlink requests report the family missing.
 */
#include <errno.h>
#include <string.h>

#include <libkmod.h>

#include "shadowd.h"

#define SHADOWD_MODULE	"dm-shadow"

int shadowd_load_module(void)
{
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	int r;

	ctx = kmod_new(NULL, NULL);
	if (!ctx) {
		log_warn("libkmod: cannot read the module configuration");
		return -ENOMEM;
	}
	r = kmod_module_new_from_name(ctx, SHADOWD_MODULE, &mod);
	if (r < 0) {
		log_warn("libkmod: %s: %s", SHADOWD_MODULE, strerror(-r));
		kmod_unref(ctx);
		return r;
	}
	switch (kmod_module_get_initstate(mod)) {
	case KMOD_MODULE_BUILTIN:
	case KMOD_MODULE_LIVE:
	case KMOD_MODULE_COMING:
		r = 0;
		break;
	default:
		r = kmod_module_probe_insert_module(mod,
						    KMOD_PROBE_IGNORE_LOADED,
						    NULL, NULL, NULL, NULL);
		if (r == 0)
			log_info("loaded the %s module", SHADOWD_MODULE);
		else if (r > 0)	/* KMOD_PROBE_APPLY_BLACKLIST* */
			log_warn("%s is blacklisted: not loaded",
				 SHADOWD_MODULE);
		else
			log_warn("cannot load the %s module: %s",
				 SHADOWD_MODULE, r == -ENOENT ?
				 "not installed for this kernel" :
				 strerror(-r));
		break;
	}
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return r;
}
