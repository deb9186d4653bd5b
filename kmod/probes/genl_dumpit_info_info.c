// SPDX-License-Identifier: GPL-2.0
/* A dump's parsed attributes in genl_dumpit_info(cb)->info.attrs. */
#include <net/genetlink.h>

struct nlattr **probe(struct netlink_callback *cb);
struct nlattr **probe(struct netlink_callback *cb)
{
	return genl_dumpit_info(cb)->info.attrs;
}
