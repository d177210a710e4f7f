/*
 * ratelimit.c: token buckets per remote address.  Their use: ratelimit.h.
 */
#include "ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cs_err.h"

#define WAYS 8          /* slots per set: the eviction choice */
#define KEYLEN 64       /* an IPv6 address text is at most 45 bytes */

struct slot {
	char key[KEYLEN];   /* "" = free */
	double tokens;
	int64_t last_ms;    /* last refill, also the recency for eviction */
};

struct set {
	pthread_mutex_t lock;
	struct slot slots[WAYS];
};

struct cs_ratelimit {
	double rate, burst;
	size_t nsets;       /* a power of two */
	uint64_t seed[2];   /* the hash key */
	struct set *sets;
};

/* SipHash-1-3 would do; an FNV-1a keyed at both ends and finished with a
 * strong mixer is enough here: the attacker does not see the set index. */
static uint64_t
keyed_hash(const uint64_t seed[2], const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed[0];

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= seed[1];
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

int
cs_ratelimit_new(double rate, double burst, size_t slots, cs_ratelimit **out)
{
	cs_ratelimit *rl = NULL;
	size_t i, want;
	int rc = 0;

	*out = NULL;
	if (!(rate > 0) || !(burst >= 1) || slots == 0)
		return cs_err_set(CS_EINVAL,
		    "rate limit: rate and burst must be positive");
	if ((rl = calloc(1, sizeof(*rl))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "rate limit: out of memory");
		goto out;
	}
	rl->rate = rate;
	rl->burst = burst;
	want = (slots + WAYS - 1) / WAYS;
	for (rl->nsets = 1; rl->nsets < want; rl->nsets <<= 1)
		;
	if (getrandom(rl->seed, sizeof(rl->seed), 0) != sizeof(rl->seed)) {
		/* Only the flooding resistance depends on it. */
		rl->seed[0] = (uint64_t)(uintptr_t)rl;
		rl->seed[1] = (uint64_t)(uintptr_t)&rl;
	}
	if ((rl->sets = calloc(rl->nsets, sizeof(*rl->sets))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "rate limit: out of memory");
		goto out;
	}
	for (i = 0; i < rl->nsets; i++)
		pthread_mutex_init(&rl->sets[i].lock, NULL);
	*out = rl;
	rl = NULL;
out:
	if (rl != NULL) {
		free(rl->sets);
		free(rl);
	}
	return rc;
}

void
cs_ratelimit_free(cs_ratelimit *rl)
{
	size_t i;

	if (rl == NULL)
		return;
	for (i = 0; i < rl->nsets; i++)
		pthread_mutex_destroy(&rl->sets[i].lock);
	free(rl->sets);
	free(rl);
}

/* The slot of key in its set (locked by the caller), refilled to now_ms;
 * NULL when the set does not hold key and create is 0.  A new or forgotten
 * address starts with a full bucket. */
static struct slot *
find_slot(cs_ratelimit *rl, struct set *set, const char *k, int64_t now_ms,
    int create)
{
	struct slot *sl = NULL, *oldest = NULL;
	int i;

	for (i = 0; i < WAYS; i++) {
		struct slot *s = &set->slots[i];

		if (s->key[0] != '\0' && strcmp(s->key, k) == 0) {
			sl = s;
			break;
		}
		if (oldest == NULL || s->key[0] == '\0' ||
		    (oldest->key[0] != '\0' && s->last_ms < oldest->last_ms))
			oldest = s;
	}
	if (sl == NULL) {
		if (!create)
			return NULL;
		sl = oldest;
		memcpy(sl->key, k, KEYLEN);
		sl->tokens = rl->burst;
		sl->last_ms = now_ms;
	} else if (now_ms > sl->last_ms) {
		/* A clock that steps back only delays the refill. */
		sl->tokens += (double)(now_ms - sl->last_ms) * rl->rate / 1000.0;
		if (sl->tokens > rl->burst)
			sl->tokens = rl->burst;
		sl->last_ms = now_ms;
	}
	return sl;
}

/* The set of key, locked; k: the key as stored (an empty one is "-"). */
static struct set *
lock_set(cs_ratelimit *rl, const char *key, char k[KEYLEN])
{
	struct set *set;

	snprintf(k, KEYLEN, "%s", key != NULL && key[0] != '\0' ? key : "-");
	set = &rl->sets[keyed_hash(rl->seed, k) & (rl->nsets - 1)];
	pthread_mutex_lock(&set->lock);
	return set;
}

int
cs_ratelimit_take(cs_ratelimit *rl, const char *key, int64_t now_ms,
    int64_t *retry_ms)
{
	char k[KEYLEN];
	struct set *set;
	struct slot *sl;
	double need;
	int allowed = 1;

	set = lock_set(rl, key, k);
	sl = find_slot(rl, set, k, now_ms, 1);
	if (sl->tokens >= 1.0) {
		sl->tokens -= 1.0;
	} else {
		need = (1.0 - sl->tokens) * 1000.0 / rl->rate;
		if (retry_ms != NULL)
			*retry_ms = (int64_t)ceil(need) > 0 ? (int64_t)ceil(need) : 1;
		allowed = 0;
	}
	pthread_mutex_unlock(&set->lock);
	return allowed;
}

void
cs_ratelimit_give(cs_ratelimit *rl, const char *key, int64_t now_ms)
{
	char k[KEYLEN];
	struct set *set;
	struct slot *sl;

	set = lock_set(rl, key, k);
	/* A forgotten address has a full bucket already. */
	if ((sl = find_slot(rl, set, k, now_ms, 0)) != NULL) {
		sl->tokens += 1.0;
		if (sl->tokens > rl->burst)
			sl->tokens = rl->burst;
	}
	pthread_mutex_unlock(&set->lock);
}

size_t
cs_ratelimit_count(cs_ratelimit *rl)
{
	size_t i, n = 0;
	int j;

	for (i = 0; i < rl->nsets; i++) {
		pthread_mutex_lock(&rl->sets[i].lock);
		for (j = 0; j < WAYS; j++)
			n += rl->sets[i].slots[j].key[0] != '\0';
		pthread_mutex_unlock(&rl->sets[i].lock);
	}
	return n;
}
