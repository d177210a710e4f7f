/*
 * client_cache.c: a small table of authenticated clients (client_cache.h).
 * A deployment has tens of API clients, not thousands: a fixed table,
 * filled from the front and scanned over its filled part, needs no
 * hashing, and every lookup compares every cached hash in constant time.
 */
#include "client_cache.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs_err.h"
#include "timeutil.h"

#define SLOTS 64

struct slot {
	uint8_t hash[32];
	cs_client *client;
	int64_t until_ms;     /* monotonic */
};

struct cs_client_cache {
	long ttl_ms;
	pthread_mutex_t mu;
	size_t used;          /* slots[0..used) have been filled */
	struct slot slots[SLOTS];
};

int
cs_client_cache_new(long ttl_ms, cs_client_cache **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	(*out)->ttl_ms = ttl_ms;
	pthread_mutex_init(&(*out)->mu, NULL);
	return 0;
}

void
cs_client_cache_free(cs_client_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < SLOTS; i++)
		cs_client_free(c->slots[i].client);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int
cs_client_cache_get(cs_client_cache *c, const uint8_t hash[32],
    cs_client **out)
{
	int64_t now = cs_mono_ms();
	struct slot *hit = NULL;
	size_t i;

	*out = NULL;
	if (c->ttl_ms <= 0)
		return 0;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->used; i++) {
		struct slot *s = &c->slots[i];
		int same = CRYPTO_memcmp(s->hash, hash, 32) == 0;

		if (same && s->until_ms > now)
			hit = s;
	}
	if (hit != NULL)
		*out = cs_client_dup(hit->client);
	pthread_mutex_unlock(&c->mu);
	return *out != NULL;
}

void
cs_client_cache_put(cs_client_cache *c, const uint8_t hash[32],
    const cs_client *cl)
{
	struct slot *victim, *same = NULL, *oldest = NULL;
	cs_client *copy, *old;
	size_t i;

	if (c->ttl_ms <= 0 || (copy = cs_client_dup(cl)) == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	/* The same token's slot, else an unused one, else the one that
	 * expires first. */
	for (i = 0; i < c->used && same == NULL; i++) {
		struct slot *s = &c->slots[i];

		if (CRYPTO_memcmp(s->hash, hash, 32) == 0)
			same = s;
		else if (oldest == NULL || s->until_ms < oldest->until_ms)
			oldest = s;
	}
	victim = same != NULL ? same :
	    c->used < SLOTS ? &c->slots[c->used++] : oldest;
	old = victim->client;
	memcpy(victim->hash, hash, 32);
	victim->client = copy;
	victim->until_ms = cs_mono_ms() + c->ttl_ms;
	pthread_mutex_unlock(&c->mu);
	cs_client_free(old);
}
