/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sizes as people write them and as tools print them.  Binary multiples
 * throughout (K = KiB), as lvm2 and util-linux do.  Nothing here depends on
 * the locale.
 */
#ifndef SHADOW_UNITS_H
#define SHADOW_UNITS_H

#include <stddef.h>
#include <stdint.h>

/**
 * shadow_parse_size() - parse "4096", "64k", "64K", "64KiB", "1G", "512B".
 * @s:     the text; no leading or trailing blanks, no sign.
 * @bytes: result.
 *
 * Return: 0, or -EINVAL for malformed text, -ERANGE when it overflows.
 */
int shadow_parse_size(const char *s, uint64_t *bytes);

/**
 * shadow_format_size() - human form: "512B", "64K", "1.5G".
 * @bytes: the size.
 * @buf:   where to write.
 * @len:   size of @buf; 16 bytes always suffice.
 *
 * One decimal, rounded down, shown only when the value is not a whole
 * number of the unit.
 *
 * Return: @buf.
 */
char *shadow_format_size(uint64_t bytes, char *buf, size_t len);

#endif
