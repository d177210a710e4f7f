/* lcache.c: the licence cache (lcache.h). */
#include "lcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 16          /* a power of 2 */
#define SHARD_BUCKETS 1024 /* a power of 2 */

struct entry {
	struct entry *hnext;        /* hash chain */
	struct entry *prev, *next;  /* recency list */
	cs_licence_row *row;        /* packed right behind the entry */
	size_t bytes;               /* the entry's and its events' */
	uint32_t hash;
	/* The status cache: the licence's events, when has_evs. */
	int has_evs;
	cs_event **evs;
	size_t n_evs, ev_bytes;
	int64_t ev_read_ms;
};

struct shard {
	pthread_mutex_t mu;
	struct entry *buckets[SHARD_BUCKETS];
	struct entry lru;           /* sentinel: lru.next is the newest */
	size_t bytes, cap;
};

struct cs_lcache {
	struct shard shards[SHARDS];
	_Atomic uint64_t epoch;     /* moved by every drop and clear */
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

/* Forget e's events; the shard's mutex is held. */
static void
events_forget(struct shard *s, struct entry *e)
{
	if (!e->has_evs)
		return;
	cs_events_free(e->evs, e->n_evs);
	s->bytes -= e->ev_bytes;
	e->bytes -= e->ev_bytes;
	e->evs = NULL;
	e->n_evs = e->ev_bytes = 0;
	e->has_evs = 0;
}

static void
evict(struct shard *s, struct entry *e)
{
	struct entry **pp = bucket_of(s, e->hash);

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(e);
	events_forget(s, e);
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
			cs_events_free(e->evs, e->n_evs);
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
	memset(e, 0, sizeof(*e));
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

void
cs_lcache_note(cs_lcache *c, const char *id, const uint32_t *note)
{
	uint32_t h = hash_id(id);
	struct shard *s = shard_of(c, h);
	struct entry *e;

	pthread_mutex_lock(&s->mu);
	if ((e = find(s, h, id)) != NULL)
		memcpy(e->row->note, note, sizeof(e->row->note));
	pthread_mutex_unlock(&s->mu);
}

/* --- the status cache ------------------------------------------------ */

uint64_t
cs_lcache_epoch(cs_lcache *c)
{
	return atomic_load(&c->epoch);
}

/* Copies of the n events evs into *out (NULL when n is 0); -1 when out
 * of memory. */
static int
events_copy(cs_event *const *evs, size_t n, cs_event ***out)
{
	cs_event **d = NULL;
	size_t i;

	*out = NULL;
	if (n == 0)
		return 0;
	if ((d = calloc(n, sizeof(*d))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if ((d[i] = cs_event_dup(evs[i])) == NULL) {
			cs_events_free(d, n);
			return -1;
		}
	*out = d;
	return 0;
}

static size_t
str_bytes(const char *s)
{
	return s != NULL ? strlen(s) + 1 + 16 : 0;  /* 16: malloc's own */
}

/* What the n events take, counted against the bound. */
static size_t
events_bytes(cs_event *const *evs, size_t n)
{
	size_t i, b = n * (sizeof(cs_event *) + sizeof(cs_event) + 16);

	for (i = 0; i < n; i++)
		b += str_bytes(evs[i]->licence_id) + str_bytes(evs[i]->actor) +
		    str_bytes(evs[i]->action) + str_bytes(evs[i]->kind) +
		    str_bytes(evs[i]->reason) + str_bytes(evs[i]->ref);
	return b;
}

int
cs_lcache_events_get(cs_lcache *c, const char *id, int64_t since_ms,
    cs_event ***out, size_t *n)
{
	uint32_t h = hash_id(id);
	struct shard *s = shard_of(c, h);
	struct entry *e;
	int hit = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->mu);
	if ((e = find(s, h, id)) != NULL && e->has_evs &&
	    e->ev_read_ms >= since_ms && events_copy(e->evs, e->n_evs, out) == 0) {
		*n = e->n_evs;
		hit = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return hit;
}

void
cs_lcache_events_put(cs_lcache *c, const char *id, cs_event *const *evs,
    size_t n, uint64_t epoch, int64_t read_ms)
{
	uint32_t h = hash_id(id);
	struct shard *s = shard_of(c, h);
	struct entry *e, *old;
	cs_event **copy = NULL;
	size_t bytes = events_bytes(evs, n);

	if (bytes > s->cap / 4 || events_copy(evs, n, &copy) != 0)
		return;
	pthread_mutex_lock(&s->mu);
	/* A drop that came after epoch was read bumped it before taking this
	 * mutex: the events may be older than the change it was for. */
	if ((e = find(s, h, id)) == NULL || atomic_load(&c->epoch) != epoch) {
		pthread_mutex_unlock(&s->mu);
		cs_events_free(copy, n);
		return;
	}
	events_forget(s, e);
	e->evs = copy;
	e->n_evs = n;
	e->ev_bytes = bytes;
	e->ev_read_ms = read_ms;
	e->has_evs = 1;
	e->bytes += bytes;
	s->bytes += bytes;
	while (s->bytes > s->cap && (old = s->lru.prev) != e &&
	    old != &s->lru)
		evict(s, old);
	pthread_mutex_unlock(&s->mu);
}

void
cs_lcache_events_drop(cs_lcache *c, const char *id)
{
	uint32_t h = hash_id(id);
	struct shard *s = shard_of(c, h);
	struct entry *e;

	atomic_fetch_add(&c->epoch, 1);
	pthread_mutex_lock(&s->mu);
	if ((e = find(s, h, id)) != NULL)
		events_forget(s, e);
	pthread_mutex_unlock(&s->mu);
}

void
cs_lcache_events_clear(cs_lcache *c)
{
	struct entry *e;
	size_t i;

	atomic_fetch_add(&c->epoch, 1);
	for (i = 0; i < SHARDS; i++) {
		pthread_mutex_lock(&c->shards[i].mu);
		for (e = c->shards[i].lru.next; e != &c->shards[i].lru;
		    e = e->next)
			events_forget(&c->shards[i], e);
		pthread_mutex_unlock(&c->shards[i].mu);
	}
}
