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
 *
 * Beside each row its licence's status events may be kept (the status
 * cache).  Unlike the row they change, so the cache only keeps them and
 * hands them back: when they may be trusted, and which a change makes
 * stale, is its user's to say (the PostgreSQL backend, pg_status.c).  A
 * drop takes effect on puts already under way too: the epoch, read before
 * the database is, makes a put of events read before a drop a no-op.
 */
#ifndef CS_LCACHE_H
#define CS_LCACHE_H

#include <stddef.h>
#include <stdint.h>

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

/* Copy note (CS_ROW_NOTE_WORDS words) into the cached row of id, when
 * there is one (cs_store_licence_note). */
void cs_lcache_note(cs_lcache *c, const char *id, const uint32_t *note);

/* --- the status cache ------------------------------------------------ */

/* The epoch: read it before reading a licence's events from the database,
 * and hand it to cs_lcache_events_put. */
uint64_t cs_lcache_epoch(cs_lcache *c);

/* 1 and copies of the events kept beside id's row into *out, *n
 * (cs_events_free; *out NULL when there are none) when they were read at
 * or after since_ms (the caller's clock); 0 when not (or out of memory). */
int cs_lcache_events_get(cs_lcache *c, const char *id, int64_t since_ms,
    cs_event ***out, size_t *n);

/* Keep copies of id's n events evs, read from the database at read_ms
 * after the epoch was epoch, beside id's row: nothing when the row is not
 * cached, when out of memory, or when a drop or clear came since epoch. */
void cs_lcache_events_put(cs_lcache *c, const char *id,
    cs_event *const *evs, size_t n, uint64_t epoch, int64_t read_ms);

/* Forget the events of id (its row stays), or of every licence. */
void cs_lcache_events_drop(cs_lcache *c, const char *id);
void cs_lcache_events_clear(cs_lcache *c);

#endif
