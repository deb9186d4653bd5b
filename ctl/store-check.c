// SPDX-License-Identifier: GPL-2.0
/*
 * shadowctl store check|dump: offline consistency check of a dm-shadow store.
 *
 * Reads both superblocks, takes the newest valid one, replays the active
 * journal region exactly as the kernel does (including the record
 * garbage collection of deletes) and checks every invariant the kernel
 * relies on.  Prints a summary; exit status 0 when the store is
 * consistent, 1 when it is not, 2 on usage or I/O errors.
 *
 *   shadowctl store check [-v] <store device or file>
 *   shadowctl store dump <store device or file>   (check -v)
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm-shadow-format.h"
#include "shadowctl.h"

#define NIL UINT32_MAX

static int verbose;
static unsigned long nr_errors;

#define problem(...)						\
	do {							\
		nr_errors++;					\
		fprintf(stderr, "store-check: " __VA_ARGS__);	\
	} while (0)

static uint32_t crc_table[256];

static void crc_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ (c & 1 ? 0x82f63b78U : 0);
		crc_table[i] = c;
	}
}

/* Same as the kernel's crc32c(): no final inversion. */
static uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

static uint32_t block_csum(const void *block, uint32_t xor)
{
	return crc32c(~0U, (const uint8_t *)block + 4,
		      SHADOW_BLOCK_SIZE - 4) ^ xor;
}

struct rec {
	uint32_t chunk;
	uint32_t hi;		/* 0: free; top bit: private */
	uint32_t list_next;
};

struct snap {
	uint32_t epoch;
	bool live;
	bool ro;
	bool invalid;
	uint32_t shared_head;
	uint32_t private_head;
	uint32_t prev, next;	/* live list, by epoch */
	uint64_t ctime;		/* ns since the Unix epoch, 0: unknown */
	char label[SHADOW_LABEL_LEN + 1];
};

static struct rec *recs;
static uint64_t nr_chunks;
static struct snap *snaps;	/* indexed by epoch */
static uint32_t snaps_cap;
static uint32_t oldest, newest, nr_live, cur_epoch;
static uint64_t nr_used;

static struct snap *snap_get(uint32_t epoch)
{
	if (epoch >= snaps_cap || !snaps[epoch].live)
		return NULL;
	return &snaps[epoch];
}

static uint32_t last_hi_below(uint32_t chunk, uint32_t below)
{
	uint32_t best = 0;
	uint64_t x;

	/* O(records): fine for an offline tool on test-sized stores */
	for (x = 0; x < nr_chunks; x++) {
		struct rec *r = &recs[x];

		if (!r->hi || r->chunk != chunk || (r->hi & 0x80000000U))
			continue;
		if (r->hi < below && r->hi > best)
			best = r->hi;
	}
	return best;
}

static void snap_delete(struct snap *s)
{
	struct snap *prev = s->prev ? &snaps[s->prev] : NULL;
	uint32_t x, next;

	for (x = s->shared_head; x != NIL; x = next) {
		next = recs[x].list_next;
		if (prev && last_hi_below(recs[x].chunk, s->epoch) < prev->epoch) {
			recs[x].hi = prev->epoch;
			recs[x].list_next = prev->shared_head;
			prev->shared_head = x;
			continue;
		}
		recs[x].hi = 0;
		nr_used--;
	}
	for (x = s->private_head; x != NIL; x = next) {
		next = recs[x].list_next;
		recs[x].hi = 0;
		nr_used--;
	}
	if (s->prev)
		snaps[s->prev].next = s->next;
	else
		oldest = s->next;
	if (s->next)
		snaps[s->next].prev = s->prev;
	else
		newest = s->prev;
	s->live = false;
	nr_live--;
}

#define bad_entry(fmt, ...)						\
	do {								\
		problem("journal block %u entry %u: " fmt "\n", seq, idx,	\
			##__VA_ARGS__);					\
		return -1;						\
	} while (0)

static int apply(const struct shadow_disk_jentry *e, uint32_t seq,
		 unsigned int idx)
{
	uint32_t epoch = le32toh(e->epoch), flags = le16toh(e->flags);
	uint64_t chunk, st;
	struct snap *s;

	switch (le16toh(e->type)) {
	case SHADOW_JE_EPOCH:
		if (le64toh(e->val.value) > cur_epoch)
			cur_epoch = le64toh(e->val.value);
		return 0;
	case SHADOW_JE_SNAP_CREATE:
		if (!epoch || epoch > SHADOW_MAX_EPOCH || epoch <= newest)
			bad_entry("snapshot created with epoch %u, not above the newest live %u",
				  epoch, newest);
		if (epoch >= snaps_cap) {
			uint32_t cap = epoch * 2 + 16;

			snaps = realloc(snaps, cap * sizeof(*snaps));
			if (!snaps) {
				perror("realloc");
				exit(2);
			}
			memset(snaps + snaps_cap, 0,
			       (cap - snaps_cap) * sizeof(*snaps));
			snaps_cap = cap;
		}
		s = &snaps[epoch];
		memset(s, 0, sizeof(*s));
		s->epoch = epoch;
		s->live = true;
		s->ro = flags & SHADOW_JEF_READONLY;
		s->invalid = flags & SHADOW_JEF_INVALID;
		s->shared_head = s->private_head = NIL;
		memcpy(s->label, e->snap.label, SHADOW_LABEL_LEN);
		s->prev = newest;
		if (newest)
			snaps[newest].next = epoch;
		else
			oldest = epoch;
		newest = epoch;
		nr_live++;
		if (epoch > cur_epoch)
			cur_epoch = epoch;
		return 0;
	case SHADOW_JE_SNAP_DELETE:
		s = snap_get(epoch);
		if (!s)
			bad_entry("delete of snapshot %u, which is not live", epoch);
		snap_delete(s);
		return 0;
	case SHADOW_JE_SNAP_SET_RO:
		s = snap_get(epoch);
		if (!s)
			bad_entry("set-read-only of snapshot %u, which is not live",
				  epoch);
		s->ro = true;
		return 0;
	case SHADOW_JE_SNAP_TIME:
		s = snap_get(epoch);
		if (!s)
			bad_entry("creation time of snapshot %u, which is not live",
				  epoch);
		s->ctime = le64toh(e->val.value);
		return 0;
	case SHADOW_JE_INVALIDATE:
		for (s = oldest ? &snaps[oldest] : NULL; s;
		     s = s->next ? &snaps[s->next] : NULL)
			if (s->epoch > le64toh(e->rec.chunk) && s->epoch <= epoch)
				s->invalid = true;
		return 0;
	case SHADOW_JE_RECORD:
		chunk = le64toh(e->rec.chunk);
		st = le64toh(e->rec.store);
		s = snap_get(epoch);
		if (!s)
			bad_entry("record of origin chunk %llu for snapshot %u, which is not live",
				  (unsigned long long)chunk, epoch);
		if (chunk >= UINT32_MAX)
			bad_entry("origin chunk %llu out of range",
				  (unsigned long long)chunk);
		if (st >= nr_chunks)
			bad_entry("store chunk %llu beyond the data area (%llu chunks)",
				  (unsigned long long)st,
				  (unsigned long long)nr_chunks);
		if (recs[st].hi)
			bad_entry("store chunk %llu holds two records (origin chunks %u and %llu)",
				  (unsigned long long)st, recs[st].chunk,
				  (unsigned long long)chunk);
		recs[st].chunk = chunk;
		nr_used++;
		if (flags & SHADOW_JEF_PRIVATE) {
			recs[st].hi = epoch | 0x80000000U;
			recs[st].list_next = s->private_head;
			s->private_head = st;
		} else {
			if (last_hi_below(chunk, UINT32_MAX) >= epoch &&
			    verbose)
				fprintf(stderr, "note: record of chunk %llu at %u not newest\n",
					(unsigned long long)chunk, epoch);
			recs[st].hi = epoch;
			recs[st].list_next = s->shared_head;
			s->shared_head = st;
		}
		return 0;
	}
	bad_entry("unknown entry type %u", le16toh(e->type));
}

static int read_block(int fd, uint64_t block, void *buf)
{
	ssize_t n = pread(fd, buf, SHADOW_BLOCK_SIZE,
			  (off_t)block * SHADOW_BLOCK_SIZE);

	return n == SHADOW_BLOCK_SIZE ? 0 : -1;
}

static const char *sb_check(const struct shadow_disk_sb *sb)
{
	if (le32toh(sb->magic) != SHADOW_SB_MAGIC)
		return "bad magic";
	if (le32toh(sb->csum) != block_csum(sb, SHADOW_SB_CSUM_XOR))
		return "bad checksum";
	if (le32toh(sb->version) < SHADOW_FORMAT_VERSION_MIN ||
	    le32toh(sb->version) > SHADOW_FORMAT_VERSION_MAX)
		return "unsupported version";
	return NULL;
}

static int store_check(int argc, char **argv)
{
	static uint8_t sbuf[2][SHADOW_BLOCK_SIZE], jbuf[SHADOW_BLOCK_SIZE];
	struct shadow_disk_sb *sb[2], *best = NULL;
	uint64_t base, nonce, cp_gen, x, dev_size;
	uint32_t region_blocks, seq, i, dead_hi = 0;
	unsigned long nr_entries = 0;
	int fd, opt;

	while ((opt = getopt(argc, argv, "v")) != -1) {
		if (opt == 'v')
			verbose = 1;
		else
			goto usage;
	}
	if (optind != argc - 1)
		goto usage;
	crc_init();

	fd = open(argv[optind], O_RDONLY);
	if (fd < 0) {
		perror(argv[optind]);
		return 2;
	}
	dev_size = lseek(fd, 0, SEEK_END);
	if (read_block(fd, 0, sbuf[0]) || read_block(fd, 1, sbuf[1])) {
		fprintf(stderr, "store-check: cannot read superblocks\n");
		return 2;
	}
	for (i = 0; i < SHADOW_BLOCK_SIZE && !sbuf[0][i]; i++)
		;
	if (i == SHADOW_BLOCK_SIZE) {
		printf("unformatted (first block is zero)\nclean\n");
		return 0;
	}
	for (i = 0; i < 2; i++) {
		const char *why;

		sb[i] = (struct shadow_disk_sb *)sbuf[i];
		why = sb_check(sb[i]);
		if (why) {
			printf("superblock %c: %s\n", 'A' + i, why);
			continue;
		}
		printf("superblock %c: generation %llu\n", 'A' + i,
		       (unsigned long long)le64toh(sb[i]->generation));
		if (!best || le64toh(sb[i]->generation) >
			     le64toh(best->generation))
			best = sb[i];
	}
	if (!best) {
		problem("no valid superblock\n");
		return 1;
	}

	nr_chunks = le64toh(best->nr_data_chunks);
	region_blocks = le32toh(best->region_blocks);
	base = le64toh(best->region_start[le32toh(best->active_region) & 1]);
	nonce = le64toh(best->nonce);
	cp_gen = le64toh(best->cp_gen);
	cur_epoch = le64toh(best->cur_epoch);
	if (le64toh(best->data_start) +
	    nr_chunks * le32toh(best->chunk_sectors) > dev_size / 512)
		problem("data area extends past the end of the store\n");
	recs = calloc(nr_chunks ? nr_chunks : 1, sizeof(*recs));
	if (!recs) {
		perror("calloc");
		return 2;
	}

	for (seq = 0; seq < region_blocks; seq++) {
		struct shadow_disk_jblock *b = (void *)jbuf;

		if (read_block(fd, base + seq, jbuf))
			break;
		if (le32toh(b->magic) != SHADOW_JBLOCK_MAGIC ||
		    le64toh(b->nonce) != nonce ||
		    le64toh(b->cp_gen) != cp_gen || le32toh(b->seq) != seq ||
		    le16toh(b->nr_entries) > SHADOW_JENTRIES_PER_BLOCK ||
		    le32toh(b->csum) != block_csum(b, SHADOW_JBLOCK_CSUM_XOR))
			break;
		for (i = 0; i < le16toh(b->nr_entries); i++) {
			nr_entries++;
			if (apply(&b->entries[i], seq, i))
				goto report;
		}
	}
report:
	/* invariant: every shared record's upper epoch is a live snapshot */
	for (x = 0; x < nr_chunks; x++) {
		uint32_t hi = recs[x].hi & ~0x80000000U;

		if (recs[x].hi && !snap_get(hi)) {
			dead_hi++;
			if (verbose)
				fprintf(stderr, "record %llu has dead epoch %u\n",
					(unsigned long long)x, hi);
		}
	}
	if (dead_hi)
		problem("%u records refer to deleted snapshots\n", dead_hi);

	printf("chunk size: %u sectors\n", le32toh(best->chunk_sectors));
	printf("journal: region %u, %u/%u blocks, %lu entries\n",
	       le32toh(best->active_region), seq, region_blocks, nr_entries);
	printf("data chunks: %llu used / %llu\n", (unsigned long long)nr_used,
	       (unsigned long long)nr_chunks);
	printf("snapshots: %u live, epoch %u\n", nr_live, cur_epoch);
	if (le32toh(best->flags) & SHADOW_SB_FAILED)
		printf("state: Fail (the target failed this store: every snapshot is invalid)\n");
	if (le32toh(best->flags) & ~SHADOW_SB_KNOWN_FLAGS)
		problem("superblock has unknown flags 0x%x\n",
			le32toh(best->flags) & ~SHADOW_SB_KNOWN_FLAGS);
	if (verbose)
		for (i = oldest; i; i = snaps[i].next)
			printf("  %u %s %s %llu %.24s\n", i,
			       snaps[i].ro ? "ro" : "rw",
			       snaps[i].invalid ? "invalid" : "valid",
			       (unsigned long long)(snaps[i].ctime / 1000000000),
			       snaps[i].label);
	printf("%s\n", nr_errors ? "INCONSISTENT" : "clean");
	return nr_errors ? 1 : 0;
usage:
	fprintf(stderr, "usage: shadowctl store check [-v] <store>\n"
		"       shadowctl store dump <store>\n");
	return 2;
}

int cmd_store(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: shadowctl store check [-v] <store>\n"
		       "       shadowctl store dump <store>\n\n"
		       "Check a dm-shadow store offline: both superblocks, the\n"
		       "journal replayed as the kernel replays it, and every\n"
		       "invariant of the record index.  dump also lists the\n"
		       "snapshots.  Exit 0 when clean, 1 when inconsistent,\n"
		       "2 on a usage or I/O error.\n");
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "check")) {
		optind = 1;
		return store_check(argc - 1, argv + 1);
	}
	if (argc == 3 && !strcmp(argv[1], "dump")) {
		verbose = 1;
		optind = 1;
		return store_check(argc - 1, argv + 1);
	}
	ctl_err("store: expected 'check [-v] <store>' or 'dump <store>'");
	return 2;
}
