/*
 * store_pg: the PostgreSQL backend of store.h (SPEC §8), for any number of
 * nodes sharing one database.  The service opens it through
 * cs_store_open() with a postgresql:// or postgres:// URI; this is for
 * that dispatch only.
 */
#ifndef CS_STORE_PG_H
#define CS_STORE_PG_H

#include "store.h"

/*
 * Open the PostgreSQL store the libpq connection URI names, creating or
 * migrating its schema (one node at a time, under an advisory lock).
 * CS_EUNAVAIL when the server cannot be reached, CS_EINVAL when the URI
 * does not parse, CS_ESTORE for anything else; the message names the host
 * and says what failed, with any password in the URI masked.  uri is
 * borrowed for the call.
 */
int cs_store_open_pg(const char *uri, cs_store **out);

#endif
