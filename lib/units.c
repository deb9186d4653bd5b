// SPDX-License-Identifier: GPL-2.0
#include "units.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char unit_letters[] = "KMGTPE";

int shadow_parse_size(const char *s, uint64_t *bytes)
{
	uint64_t v = 0;
	const char *p = s;
	unsigned int shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned int d = (unsigned int)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}

	if (*p) {
		const char *u = strchr(unit_letters, *p >= 'a' ? *p - 32 : *p);

		if (*p == 'B' || *p == 'b') {
			if (p[1])
				return -EINVAL;
			*bytes = v;
			return 0;
		}
		if (!u || !*u)
			return -EINVAL;
		shift = 10 * (unsigned int)(u - unit_letters + 1);
		p++;
		/* Accept K, KB, KiB (all binary, as lvm2 reads them). */
		if (*p == 'i' && p[1] == 'B')
			p += 2;
		else if (*p == 'B' || *p == 'b')
			p++;
		if (*p)
			return -EINVAL;
	}

	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = v << shift;
	return 0;
}

char *shadow_format_size(uint64_t bytes, char *buf, size_t len)
{
	unsigned int i = 0;
	uint64_t whole = bytes, rest = 0;

	while (whole >= 1024 && i < sizeof(unit_letters) - 1) {
		rest = whole % 1024;
		whole /= 1024;
		i++;
	}

	if (!i)
		snprintf(buf, len, "%lluB", (unsigned long long)whole);
	else if (rest * 10 / 1024)
		snprintf(buf, len, "%llu.%llu%c", (unsigned long long)whole,
			 (unsigned long long)(rest * 10 / 1024),
			 unit_letters[i - 1]);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)whole,
			 unit_letters[i - 1]);
	return buf;
}
