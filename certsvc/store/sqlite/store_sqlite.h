/*
 * store_sqlite: the embedded SQLite backend of store.h.  The service
 * opens it through cs_store_open(); these are for that dispatch and for
 * the tests of this backend (group commit counters).
 */
#ifndef CS_STORE_SQLITE_H
#define CS_STORE_SQLITE_H

#include <stdint.h>

#include "store.h"

/* Open (creating and migrating) the SQLite store at path. */
int cs_store_open_sqlite(const char *path, cs_store **out);
/* How long, at most, a group commit waits for writers queued behind it
 * to join (audit_flush_ms; 20 by default, 0: never waits for them). */
void cs_store_sqlite_set_window(cs_store *s, long ms);
/* Group commits made and transactions they carried. */
void cs_store_sqlite_stats(cs_store *s, uint64_t *groups, uint64_t *members);

#endif
