/* lcache.c: the licence cache (lcache.h). */
#include "lcache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 16          /* a power of 2 */
#define SHARD_BUCKETS 1024 /* a power of 2 */

struct entry {
	struct entry *hnext;        /* hash chain */
	struct entry *prev, *next;  /* recency list */
	cs_licence_row *row;        /* packed right behind the entry */
	size_t bytes;
	uint32_t hash;
};

struct shard {
	pthread_mutex_t mu;
	struct entry *buckets[SHARD_BUCKETS];
	struct entry lru;           /* sentinel: lru.next is the newest */
	size_t bytes, cap;
};

struct cs_lcache {
	struct shard shards[SHARDS];
};

static uint32_t
hash_id(const char *s)
{
	uint32_t h = 2166136261u;  /* FNV-1a */

	while (*s != '\0')
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* The shard by the hash's top bits, the bucket by its bottom bits. */
static struct shard *
shard_of(cs_lcache *c, uint32_t h)
{
	return &c->shards[h >> 28 & (SHARDS - 1)];
}

static struct entry **
bucket_of(struct shard *s, uint32_t h)
{
	return &s->buckets[h & (SHARD_BUCKETS - 1)];
}

static struct entry *
find(struct shard *s, uint32_t h, const char *id)
{
	struct entry *e;

	for (e = *bucket_of(s, h); e != NULL; e = e->hnext)
		if (e->hash == h && strcmp(e->row->id, id) == 0)
			break;
	return e;
}

static void
lru_unlink(struct entry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void
lru_push_front(struct shard *s, struct entry *e)
{
	e->prev = &s->lru;
	e->next = s->lru.next;
	s->lru.next->prev = e;
	s->lru.next = e;
}

static void
evict(struct shard *s, struct entry *e)
{
	struct entry **pp = bucket_of(s, e->hash);

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(e);
	s->bytes -= e->bytes;
	free(e);
}

cs_lcache *
cs_lcache_new(size_t bytes)
{
	cs_lcache *c = calloc(1, sizeof(*c));
	size_t i;

	for (i = 0; c != NULL && i < SHARDS; i++) {
		pthread_mutex_init(&c->shards[i].mu, NULL);
		c->shards[i].lru.prev = c->shards[i].lru.next = &c->shards[i].lru;
		c->shards[i].cap = bytes / SHARDS;
	}
	return c;
}

void
cs_lcache_free(cs_lcache *c)
{
	struct entry *e, *next;
	size_t i;

	for (i = 0; c != NULL && i < SHARDS; i++) {
		for (e = c->shards[i].lru.next; e != &c->shards[i].lru; e = next) {
			next = e->next;
			free(e);
		}
		pthread_mutex_destroy(&c->shards[i].mu);
	}
	free(c);
}

int
cs_lcache_get(cs_lcache *c, const char *id, cs_licence_row **out)
{
	uint32_t h = hash_id(id);
	struct shard *s = shard_of(c, h);
	struct entry *e;

	*out = NULL;
	pthread_mutex_lock(&s->mu);
	if ((e = find(s, h, id)) != NULL) {
		lru_unlink(e);
		lru_push_front(s, e);
		*out = cs_licence_row_copy(e->row);
	}
	pthread_mutex_unlock(&s->mu);
	return *out != NULL;
}

void
cs_lcache_put(cs_lcache *c, const cs_licence_row *r)
{
	uint32_t h;
	struct shard *s;
	struct entry *e, *old;
	size_t bytes;

	if (r->id == NULL)
		return;
	h = hash_id(r->id);
	s = shard_of(c, h);
	/* The entry and the row in one allocation: the bytes counted against
	 * the bound are the bytes used. */
	bytes = sizeof(*e) + cs_licence_row_size(r);
	if (bytes > s->cap / 4 || (e = malloc(bytes)) == NULL)
		return;
	e->row = cs_licence_row_pack(r, e + 1);
	e->bytes = bytes;
	e->hash = h;
	pthread_mutex_lock(&s->mu);
	if (find(s, h, r->id) != NULL) {
		/* Another thread read it meanwhile: the same row. */
		pthread_mutex_unlock(&s->mu);
		free(e);
		return;
	}
	e->hnext = *bucket_of(s, h);
	*bucket_of(s, h) = e;
	lru_push_front(s, e);
	s->bytes += bytes;
	while (s->bytes > s->cap && (old = s->lru.prev) != e)
		evict(s, old);
	pthread_mutex_unlock(&s->mu);
}
