/*
 * lcache: licence rows by id, kept after a read.  A committed licence row
 * never changes (the table is append-only, and triggers enforce it), so the
 * next read of that id can be answered from a copy, sparing SQLite's lookup
 * and the record's inflate.  The store puts only committed rows in: a row
 * its writer sees may still be rolled back with its group.
 *
 * Bounded in bytes, least recently used first out.  The cache is split
 * into shards by id, each under its own mutex, and a lookup holds its
 * shard's mutex only to find the row and copy it in one allocation: with
 * one mutex, readers preempted while holding it kept the others waiting in
 * futex calls (bench/README.md).  Thread-safe.
 */
#ifndef CS_LCACHE_H
#define CS_LCACHE_H

#include <stddef.h>

#include "store.h"

typedef struct cs_lcache cs_lcache;

/* A cache of at most bytes (rows, strings and bookkeeping); NULL when out
 * of memory. */
cs_lcache *cs_lcache_new(size_t bytes);
void cs_lcache_free(cs_lcache *c);

/* A copy of the cached row of id into *out (cs_licence_row_free): 1 when
 * there is one, 0 when not (or out of memory: read the database instead). */
int cs_lcache_get(cs_lcache *c, const char *id, cs_licence_row **out);

/* Keep a copy of r, a committed row (nothing when out of memory, when it is
 * there already, or when r is over a quarter of a shard). */
void cs_lcache_put(cs_lcache *c, const cs_licence_row *r);

#endif
