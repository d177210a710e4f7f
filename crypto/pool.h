/*
 * pool: large library contexts (a compressor, an inflater) kept for their
 * next use.  Setting one up allocates tens to hundreds of KB, which glibc
 * hands back to the kernel when it is freed, so every token or record would
 * page-fault it in afresh and clear it.  A pool, not one per thread: what
 * is kept stays reachable from here until exit, whichever thread used it
 * last.  Thread-safe.
 */
#ifndef CS_POOL_H
#define CS_POOL_H

#include <pthread.h>
#include <stddef.h>

#define CS_POOL_MAX 16

typedef struct cs_pool {
	pthread_mutex_t mu;
	void *items[CS_POOL_MAX];
	int keys[CS_POOL_MAX];   /* what each was set up for (a level), or 0 */
	size_t n;
} cs_pool;

#define CS_POOL_INIT {PTHREAD_MUTEX_INITIALIZER, {0}, {0}, 0}

/* A kept item set up for key, taken out of the pool; NULL when none is. */
void *cs_pool_take(cs_pool *p, int key);

/* Keep item, set up for key: NULL when kept, else item itself (the pool
 * is full), for the caller to free. */
void *cs_pool_keep(cs_pool *p, int key, void *item);

#endif
