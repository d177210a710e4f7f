/*
 * client_cache.c: a small table of authenticated clients (client_cache.h).
 * A deployment has tens of API clients, not thousands: a fixed table
 * scanned in full keeps the comparison constant-time and needs no hashing.
 */
#include "client_cache.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs_err.h"

#define SLOTS 64

struct slot {
	uint8_t hash[32];
	cs_client *client;    /* NULL: free */
	int64_t until_ms;     /* monotonic */
};

struct cs_client_cache {
	long ttl_ms;
	pthread_mutex_t mu;
	struct slot slots[SLOTS];
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *
dup_str(const char *s, int *bad)
{
	char *d = NULL;

	if (s != NULL && (d = strdup(s)) == NULL)
		*bad = 1;
	return d;
}

/* A deep copy, NULL when out of memory. */
static cs_client *
client_dup(const cs_client *c)
{
	cs_client *d;
	size_t i;
	int bad = 0;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	*d = *c;
	d->name = dup_str(c->name, &bad);
	d->role = dup_str(c->role, &bad);
	d->grants = NULL;
	d->n_grants = 0;
	if (c->n_grants > 0 &&
	    (d->grants = calloc(c->n_grants, sizeof(*d->grants))) == NULL)
		bad = 1;
	for (i = 0; i < c->n_grants && !bad; i++) {
		d->n_grants = i + 1;  /* a partly copied grant is freed too */
		d->grants[i].types = dup_str(c->grants[i].types, &bad);
		d->grants[i].issuer_code = dup_str(c->grants[i].issuer_code, &bad);
		d->grants[i].issuer_name = dup_str(c->grants[i].issuer_name, &bad);
	}
	if (bad) {
		cs_client_free(d);
		return NULL;
	}
	return d;
}

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
	int64_t now = mono_ms();
	struct slot *hit = NULL;
	size_t i;

	*out = NULL;
	if (c->ttl_ms <= 0)
		return 0;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < SLOTS; i++) {
		struct slot *s = &c->slots[i];
		int same = CRYPTO_memcmp(s->hash, hash, 32) == 0;

		if (s->client != NULL && same && s->until_ms > now)
			hit = s;
	}
	if (hit != NULL)
		*out = client_dup(hit->client);
	pthread_mutex_unlock(&c->mu);
	return *out != NULL;
}

void
cs_client_cache_put(cs_client_cache *c, const uint8_t hash[32],
    const cs_client *cl)
{
	struct slot *victim = NULL;
	cs_client *copy, *old = NULL;
	size_t i;

	if (c->ttl_ms <= 0 || (copy = client_dup(cl)) == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	/* The same token's slot, else a free one, else the one that
	 * expires first. */
	for (i = 0; i < SLOTS; i++) {
		struct slot *s = &c->slots[i];

		if (s->client != NULL && CRYPTO_memcmp(s->hash, hash, 32) == 0) {
			victim = s;
			break;
		}
		if (victim == NULL || (victim->client != NULL &&
		    (s->client == NULL || s->until_ms < victim->until_ms)))
			victim = s;
	}
	old = victim->client;
	memcpy(victim->hash, hash, 32);
	victim->client = copy;
	victim->until_ms = mono_ms() + c->ttl_ms;
	pthread_mutex_unlock(&c->mu);
	cs_client_free(old);
}
