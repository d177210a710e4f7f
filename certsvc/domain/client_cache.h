/*
 * client_cache: clients recently authenticated, by the SHA-256 of their
 * bearer token, so that a busy API client costs no database queries per
 * request.  An entry is trusted for ttl_ms (auth_cache_ms, 1 s by
 * default): a client revoked or granted from the CLI, another process, is
 * seen by a running server within that time.  Only successes are kept;
 * a wrong token always reaches the database (and the failure budget).
 *
 * Hashes are compared in constant time, every entry every time.
 * Thread-safe.
 */
#ifndef CS_CLIENT_CACHE_H
#define CS_CLIENT_CACHE_H

#include <stdint.h>

#include "store.h"

typedef struct cs_client_cache cs_client_cache;

/* ttl_ms 0: a cache that keeps nothing. */
int cs_client_cache_new(long ttl_ms, cs_client_cache **out);
void cs_client_cache_free(cs_client_cache *c);

/* 1 and a copy of the client in *out (caller frees) when hash is cached
 * and fresh; 0 otherwise (out of memory too). */
int cs_client_cache_get(cs_client_cache *c, const uint8_t hash[32],
    cs_client **out);
/* Keep a copy of cl, just read from the store, for hash. */
void cs_client_cache_put(cs_client_cache *c, const uint8_t hash[32],
    const cs_client *cl);

#endif
