/*
 * test_client_cache: the cache of authenticated clients (client_cache.h).
 *
 * What it proves: a miss is a miss (empty cache, another hash, ttl 0, an
 * expired entry); a hit is a deep copy equal to what was put in every
 * field (grants with and without an issuer, a client with no grants) and
 * owned by the caller alone (changing or freeing it, or the original, does
 * not reach the cache); the same hash put again is replaced, not doubled;
 * more distinct clients than the table holds keep it working, the newest
 * always found and every hit the right client; and 8 threads getting and
 * putting (with replacements and expiries under way) only ever see whole,
 * correct copies.  Run under ASan/LSan, it also proves no copy leaks.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "client_cache.h"
#include "store.h"
#include "testutil.h"
#include "timeutil.h"

/* --- helpers ----------------------------------------------------------- */

static char *
xstrdup(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		abort();
	return d;
}

static void
hash_of(unsigned k, uint8_t h[32])
{
	size_t i;

	/* Distinct for distinct k; every byte depends on k. */
	for (i = 0; i < 32; i++)
		h[i] = (uint8_t)((k * 131u + i * 7u + (k >> 8) * 17u) ^ (i * 29u));
	h[0] = (uint8_t)k;
	h[1] = (uint8_t)(k >> 8);
}

/*
 * Client k, version v: every field distinct per (k, v).  The number of
 * grants is (k + v) % 4 (so 0 happens); even grants are issuer grants,
 * odd ones are reader-style grants with NULL issuer fields.
 */
static cs_client *
make_client(unsigned k, unsigned v)
{
	cs_client *c = calloc(1, sizeof(*c));
	char buf[128];
	size_t i;

	if (c == NULL)
		abort();
	c->id = (int64_t)k * 1000 + v + ((int64_t)1 << 40);
	snprintf(buf, sizeof(buf), "client-%u-v%u 客户端", k, v);
	c->name = xstrdup(buf);
	c->role = xstrdup((k + v) % 3 == 0 ? "issuer" : (k + v) % 3 == 1 ?
	    "reader" : "admin");
	hash_of(k, c->token_hash);
	c->token_hash[31] ^= (uint8_t)v;
	c->created_at = 1700000000 + (int64_t)k * 10 + v;
	c->revoked_at = (k + v) % 2 ? 0 : 1800000000 + (int64_t)k;
	c->n_grants = (k + v) % 4;
	if (c->n_grants > 0 &&
	    (c->grants = calloc(c->n_grants, sizeof(*c->grants))) == NULL)
		abort();
	for (i = 0; i < c->n_grants; i++) {
		snprintf(buf, sizeof(buf), "T%u-%u-%zu,T%zu", k, v, i, i);
		c->grants[i].types = xstrdup(buf);
		if (i % 2 == 0) {
			snprintf(buf, sizeof(buf), "1144%06u%02u%06zu", k, v, i);
			c->grants[i].issuer_code = xstrdup(buf);
			snprintf(buf, sizeof(buf), "机关 %u/%u/%zu", k, v, i);
			c->grants[i].issuer_name = xstrdup(buf);
		}
	}
	return c;
}

/* Every field equal, and no pointer shared (a deep copy). */
static int
client_equal(const cs_client *a, const cs_client *b)
{
	size_t i;

	if (a == NULL || b == NULL)
		return 0;
	if (a->id != b->id || !str_same(a->name, b->name) ||
	    !str_same(a->role, b->role) ||
	    memcmp(a->token_hash, b->token_hash, 32) != 0 ||
	    a->created_at != b->created_at || a->revoked_at != b->revoked_at ||
	    a->n_grants != b->n_grants)
		return 0;
	for (i = 0; i < a->n_grants; i++) {
		if (!str_same(a->grants[i].types, b->grants[i].types) ||
		    !str_same(a->grants[i].issuer_code, b->grants[i].issuer_code) ||
		    !str_same(a->grants[i].issuer_name, b->grants[i].issuer_name))
			return 0;
	}
	return 1;
}

static int
shares_memory(const cs_client *a, const cs_client *b)
{
	size_t i;

	if (a == b || a->name == b->name || a->role == b->role)
		return 1;
	if (a->n_grants > 0 && a->grants == b->grants)
		return 1;
	for (i = 0; i < a->n_grants && i < b->n_grants; i++) {
		if (a->grants[i].types == b->grants[i].types ||
		    (a->grants[i].issuer_code != NULL &&
		    a->grants[i].issuer_code == b->grants[i].issuer_code) ||
		    (a->grants[i].issuer_name != NULL &&
		    a->grants[i].issuer_name == b->grants[i].issuer_name))
			return 1;
	}
	return 0;
}

/* 1 when hash is a hit whose copy equals want (and is a deep copy). */
static int
hit_equal(cs_client_cache *c, const uint8_t hash[32], const cs_client *want)
{
	cs_client *got = NULL;
	int ok;

	if (!cs_client_cache_get(c, hash, &got))
		return 0;
	ok = client_equal(got, want) && !shares_memory(got, want);
	cs_client_free(got);
	return ok;
}

static int
miss(cs_client_cache *c, const uint8_t hash[32])
{
	cs_client *got = NULL;
	int rc = cs_client_cache_get(c, hash, &got);

	cs_client_free(got);
	return rc == 0;
}

/* --- tests ------------------------------------------------------------- */

TEST(empty_misses)
{
	cs_client_cache *c = NULL;
	cs_client *got = NULL;
	uint8_t h[32];
	unsigned k;

	CHECK_INT_EQ(cs_client_cache_new(1000, &c), 0);
	CHECK(c != NULL);
	for (k = 0; k < 5; k++) {
		hash_of(k, h);
		CHECK_INT_EQ(cs_client_cache_get(c, h, &got), 0);
		CHECK(got == NULL);
	}
	memset(h, 0, sizeof(h));   /* a free slot's hash must not match */
	CHECK_INT_EQ(cs_client_cache_get(c, h, &got), 0);
	CHECK(got == NULL);
	cs_client_cache_free(c);
	cs_client_cache_free(NULL);
}

TEST(put_get_deep_copy)
{
	cs_client_cache *c = NULL;
	cs_client *cl[4], *got = NULL;
	uint8_t h[32];
	unsigned k;

	CHECK_INT_EQ(cs_client_cache_new(60000, &c), 0);
	/* k = 0..3 with v 0: 0, 1, 2 and 3 grants; 3 has an issuer grant,
	 * a grant with NULL issuer fields and another issuer grant. */
	for (k = 0; k < 4; k++) {
		cl[k] = make_client(k, 0);
		hash_of(100 + k, h);
		cs_client_cache_put(c, h, cl[k]);
	}
	CHECK_INT_EQ(cl[0]->n_grants, 0);
	CHECK(cl[3]->grants[1].issuer_code == NULL);
	for (k = 0; k < 4; k++) {
		hash_of(100 + k, h);
		got = NULL;
		CHECK_INT_EQ(cs_client_cache_get(c, h, &got), 1);
		if (got == NULL)
			continue;
		CHECK(got != cl[k]);
		CHECK(client_equal(got, cl[k]));
		CHECK(!shares_memory(got, cl[k]));
		/* The fields one by one, so a failure says which. */
		CHECK_INT_EQ(got->id, cl[k]->id);
		CHECK_STR_EQ(got->name, cl[k]->name);
		CHECK_STR_EQ(got->role, cl[k]->role);
		CHECK(memcmp(got->token_hash, cl[k]->token_hash, 32) == 0);
		CHECK_INT_EQ(got->created_at, cl[k]->created_at);
		CHECK_INT_EQ(got->revoked_at, cl[k]->revoked_at);
		CHECK_INT_EQ(got->n_grants, cl[k]->n_grants);
		if (k == 0)
			CHECK(got->n_grants == 0);
		if (k == 3 && got->n_grants == 3) {
			CHECK_STR_EQ(got->grants[0].types, cl[3]->grants[0].types);
			CHECK_STR_EQ(got->grants[0].issuer_code,
			    cl[3]->grants[0].issuer_code);
			CHECK_STR_EQ(got->grants[0].issuer_name,
			    cl[3]->grants[0].issuer_name);
			CHECK_STR_EQ(got->grants[1].types, cl[3]->grants[1].types);
			CHECK(got->grants[1].issuer_code == NULL);
			CHECK(got->grants[1].issuer_name == NULL);
			CHECK_STR_EQ(got->grants[2].issuer_code,
			    cl[3]->grants[2].issuer_code);
		}
		cs_client_free(got);
	}
	for (k = 0; k < 4; k++)
		cs_client_free(cl[k]);
	cs_client_cache_free(c);
}

TEST(copies_are_independent)
{
	cs_client_cache *c = NULL;
	cs_client *orig = make_client(7, 0), *want = make_client(7, 0);
	cs_client *got = NULL;
	uint8_t h[32];

	CHECK_INT_EQ(orig->n_grants, 3);
	CHECK_INT_EQ(cs_client_cache_new(60000, &c), 0);
	hash_of(7, h);
	cs_client_cache_put(c, h, orig);

	/* The original changed, then freed: the cache kept its own copy. */
	orig->name[0] = 'X';
	orig->role[0] = 'X';
	orig->id = -1;
	orig->grants[0].types[0] = 'X';
	orig->grants[0].issuer_code[0] = 'X';
	cs_client_free(orig);
	CHECK(hit_equal(c, h, want));

	/* A copy changed every way, then freed: the next get is intact. */
	CHECK_INT_EQ(cs_client_cache_get(c, h, &got), 1);
	if (got != NULL) {
		got->name[0] = 'Y';
		got->role[0] = 'Y';
		got->id = 0;
		got->revoked_at = 42;
		got->token_hash[0] ^= 0xff;
		got->grants[0].types[0] = 'Y';
		got->grants[0].issuer_code[0] = 'Y';
		got->grants[0].issuer_name[0] = 'Y';
		got->grants[2].types[1] = 'Y';
	}
	CHECK(hit_equal(c, h, want));
	cs_client_free(got);
	CHECK(hit_equal(c, h, want));

	/* Two copies out at once are two copies. */
	{
		cs_client *a = NULL, *b = NULL;

		CHECK_INT_EQ(cs_client_cache_get(c, h, &a), 1);
		CHECK_INT_EQ(cs_client_cache_get(c, h, &b), 1);
		if (a != NULL && b != NULL)
			CHECK(!shares_memory(a, b));
		cs_client_free(a);
		CHECK(hit_equal(c, h, want));
		cs_client_free(b);
	}
	CHECK(hit_equal(c, h, want));
	cs_client_free(want);
	cs_client_cache_free(c);
}

TEST(other_hash_misses)
{
	cs_client_cache *c = NULL;
	cs_client *cl = make_client(3, 1);
	uint8_t h[32], o[32];
	size_t i;

	CHECK_INT_EQ(cs_client_cache_new(60000, &c), 0);
	hash_of(3, h);
	cs_client_cache_put(c, h, cl);
	CHECK(hit_equal(c, h, cl));
	/* One bit different anywhere in the 32 bytes: a miss. */
	for (i = 0; i < 32; i++) {
		memcpy(o, h, 32);
		o[i] ^= (uint8_t)(1u << (i % 8));
		CHECK(miss(c, o));
	}
	hash_of(4, o);
	CHECK(miss(c, o));
	memset(o, 0, sizeof(o));
	CHECK(miss(c, o));
	CHECK(hit_equal(c, h, cl));
	cs_client_free(cl);
	cs_client_cache_free(c);
}

/* Put cl under h and get it back: whether that was a hit, asked of a
 * round that took under ms (a loaded machine may stop this thread between
 * two lines for longer than a short ttl); 0 if no round was that quick. */
static int
put_then_hit(cs_client_cache *c, const uint8_t *h, cs_client *cl, int64_t ms)
{
	int i, hit;

	for (i = 0; i < 20; i++) {
		int64_t t0 = cs_mono_ms();

		cs_client_cache_put(c, h, cl);
		hit = hit_equal(c, h, cl);
		if (cs_mono_ms() - t0 < ms)
			return hit;
	}
	return 0;
}

TEST(entries_expire)
{
	cs_client_cache *c = NULL;
	cs_client *a = make_client(1, 0), *b = make_client(2, 0);
	uint8_t ha[32], hb[32];
	int i;

	CHECK_INT_EQ(cs_client_cache_new(50, &c), 0);
	hash_of(1, ha);
	hash_of(2, hb);
	/* The hits are asked of a round that ran within the 50 ms ttl: a
	 * loaded machine may stop this thread for longer between two lines. */
	CHECK(put_then_hit(c, ha, a, 40));
	sleep_ms(120);
	CHECK(miss(c, ha));
	/* Asking again does not bring it back; putting it again does. */
	CHECK(miss(c, ha));
	CHECK(put_then_hit(c, ha, a, 40));
	cs_client_cache_free(c);

	/* Each entry has its own clock.  A loaded machine wakes late: b's
	 * hit is only asked of a round whose sleeps came out close to what
	 * was asked, measured (a: past its ttl, b: well within). */
	CHECK_INT_EQ(cs_client_cache_new(300, &c), 0);
	for (i = 0; i < 20; i++) {
		int64_t t1;

		cs_client_cache_put(c, ha, a);
		sleep_ms(200);
		t1 = cs_mono_ms();
		cs_client_cache_put(c, hb, b);
		sleep_ms(150);    /* a: 350 ms old, b: 150 ms */
		CHECK(miss(c, ha));
		if (cs_mono_ms() - t1 < 250) {
			CHECK(hit_equal(c, hb, b));
			break;
		}
	}
	CHECK(i < 20);
	sleep_ms(350);
	CHECK(miss(c, hb));
	cs_client_free(a);
	cs_client_free(b);
	cs_client_cache_free(c);
}

TEST(ttl_zero_keeps_nothing)
{
	cs_client_cache *c = NULL;
	cs_client *cl = make_client(5, 0), *got = NULL;
	uint8_t h[32];
	unsigned k;

	CHECK_INT_EQ(cs_client_cache_new(0, &c), 0);
	CHECK(c != NULL);
	for (k = 0; k < 100; k++) {
		hash_of(k, h);
		cs_client_cache_put(c, h, cl);
		CHECK_INT_EQ(cs_client_cache_get(c, h, &got), 0);
		CHECK(got == NULL);
		cs_client_free(got);
		got = NULL;
	}
	cs_client_free(cl);
	cs_client_cache_free(c);
}

TEST(same_hash_replaces)
{
	cs_client_cache *c = NULL;
	cs_client *old = make_client(9, 0), *new = make_client(9, 1);
	cs_client *others[63];
	uint8_t h[32], o[32];
	unsigned k, hits = 0;

	/* old has 1 grant (an issuer's), new 2 (the second without issuer). */
	CHECK_INT_EQ(old->n_grants, 1);
	CHECK_INT_EQ(new->n_grants, 2);
	CHECK_INT_EQ(cs_client_cache_new(60000, &c), 0);
	hash_of(9, h);
	cs_client_cache_put(c, h, old);
	CHECK(hit_equal(c, h, old));
	cs_client_cache_put(c, h, new);
	CHECK(hit_equal(c, h, new));
	CHECK(!hit_equal(c, h, old));
	/* Back again, and to a client with no grants at all. */
	cs_client_cache_put(c, h, old);
	CHECK(hit_equal(c, h, old));
	{
		cs_client *none = make_client(9, 3);

		CHECK_INT_EQ(none->n_grants, 0);
		cs_client_cache_put(c, h, none);
		CHECK(hit_equal(c, h, none));
		cs_client_free(none);
	}
	cs_client_cache_put(c, h, new);
	CHECK(hit_equal(c, h, new));
	cs_client_cache_free(c);

	/* Replaced in place, not added beside: a full table of 63 others and
	 * h, then h put again (twice).  A replacement taking a slot of its
	 * own would push one of the others out of the 64 slots, and a stale
	 * copy left in another slot could be the one found. */
	CHECK_INT_EQ(cs_client_cache_new(60000, &c), 0);
	for (k = 0; k < 63; k++) {
		others[k] = make_client(200 + k, 0);
		hash_of(200 + k, o);
		cs_client_cache_put(c, o, others[k]);
	}
	cs_client_cache_put(c, h, old);
	CHECK(hit_equal(c, h, old));
	cs_client_cache_put(c, h, new);
	CHECK(hit_equal(c, h, new));
	for (k = 0; k < 63; k++) {
		hash_of(200 + k, o);
		hits += hit_equal(c, o, others[k]);
	}
	CHECK_INT_EQ(hits, 63);
	cs_client_cache_put(c, h, old);
	cs_client_cache_put(c, h, new);
	CHECK(hit_equal(c, h, new));
	for (hits = 0, k = 0; k < 63; k++) {
		hash_of(200 + k, o);
		hits += hit_equal(c, o, others[k]);
	}
	CHECK_INT_EQ(hits, 63);
	for (k = 0; k < 63; k++)
		cs_client_free(others[k]);
	cs_client_free(old);
	cs_client_free(new);
	cs_client_cache_free(c);
}

#define MANY 200

TEST(more_clients_than_slots)
{
	cs_client_cache *c = NULL;
	cs_client *cl[MANY];
	uint8_t h[32];
	unsigned k, j, hits, wrong;
	int newest_ok = 1;

	for (k = 0; k < MANY; k++)
		cl[k] = make_client(1000 + k, k % 4);
	CHECK_INT_EQ(cs_client_cache_new(60000, &c), 0);
	for (k = 0; k < MANY; k++) {
		hash_of(1000 + k, h);
		cs_client_cache_put(c, h, cl[k]);
		/* The client just put is always found, whole. */
		if (!hit_equal(c, h, cl[k])) {
			newest_ok = 0;
			fprintf(stderr, "client %u not found right after its put\n", k);
		}
		if (k == 64 || k == 65 || k == MANY - 1) {
			/* Among the older ones: at most the table's worth of
			 * hits, and every hit is the client of that hash. */
			hits = wrong = 0;
			for (j = 0; j < k; j++) {
				cs_client *got = NULL;

				hash_of(1000 + j, h);
				if (cs_client_cache_get(c, h, &got)) {
					hits++;
					if (!client_equal(got, cl[j]))
						wrong++;
				}
				cs_client_free(got);
			}
			CHECK(hits <= 64);
			CHECK_INT_EQ(wrong, 0);
			printf("     after %u puts: %u of the %u older ones cached\n",
			    k + 1, hits, k);
		}
	}
	CHECK(newest_ok);
	/* Still working: a replacement and an unknown hash. */
	hash_of(1000 + MANY - 1, h);
	cs_client_cache_put(c, h, cl[0]);
	CHECK(hit_equal(c, h, cl[0]));
	hash_of(5000, h);
	CHECK(miss(c, h));
	for (k = 0; k < MANY; k++)
		cs_client_free(cl[k]);
	cs_client_cache_free(c);
}

/* --- concurrency ------------------------------------------------------- */

#define KEYS 100          /* more than the table holds: evictions too */
#define THREADS 8

static cs_client *proto[KEYS][2];   /* two versions per hash, read-only */
static uint8_t proto_hash[KEYS][32];
static cs_client_cache *shared;
static atomic_int stop_flag;
static atomic_long n_gets, n_hits, n_puts, n_bad;

static void *
worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;

	while (!atomic_load(&stop_flag)) {
		unsigned r = (unsigned)rand_r(&seed);
		unsigned k = r % KEYS;

		if ((r >> 8) % 3 == 0) {
			cs_client_cache_put(shared, proto_hash[k],
			    proto[k][(r >> 12) & 1]);
			atomic_fetch_add(&n_puts, 1);
		} else {
			cs_client *got = NULL;

			atomic_fetch_add(&n_gets, 1);
			if (cs_client_cache_get(shared, proto_hash[k], &got)) {
				atomic_fetch_add(&n_hits, 1);
				/* Either version, whole: never a mix, never
				 * another key's client. */
				if (!client_equal(got, proto[k][0]) &&
				    !client_equal(got, proto[k][1]))
					atomic_fetch_add(&n_bad, 1);
				/* The copy is the caller's: scribble on it. */
				if (got->name != NULL)
					got->name[0] = '#';
				cs_client_free(got);
			} else if (got != NULL) {
				atomic_fetch_add(&n_bad, 1);
				cs_client_free(got);
			}
		}
	}
	return NULL;
}

static void
run_threads(long ttl_ms, long run_ms)
{
	pthread_t th[THREADS];
	int i;

	atomic_store(&stop_flag, 0);
	atomic_store(&n_gets, 0);
	atomic_store(&n_hits, 0);
	atomic_store(&n_puts, 0);
	atomic_store(&n_bad, 0);
	CHECK_INT_EQ(cs_client_cache_new(ttl_ms, &shared), 0);
	for (i = 0; i < THREADS; i++)
		CHECK_INT_EQ(pthread_create(&th[i], NULL, worker,
		    (void *)(uintptr_t)(i + 1 + ttl_ms)), 0);
	sleep_ms(run_ms);
	atomic_store(&stop_flag, 1);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	printf("     ttl %ld ms: %ld gets (%ld hits), %ld puts from %d threads, "
	    "%ld bad\n", ttl_ms, atomic_load(&n_gets), atomic_load(&n_hits),
	    atomic_load(&n_puts), THREADS, atomic_load(&n_bad));
	CHECK_INT_EQ(atomic_load(&n_bad), 0);
	CHECK(atomic_load(&n_gets) > 1000);
	CHECK(atomic_load(&n_puts) > 500);
	if (ttl_ms > 0)
		CHECK(atomic_load(&n_hits) > 0);
	else
		CHECK_INT_EQ(atomic_load(&n_hits), 0);
	/* Still sound afterwards. */
	cs_client_cache_put(shared, proto_hash[0], proto[0][1]);
	if (ttl_ms >= 1000)
		CHECK(hit_equal(shared, proto_hash[0], proto[0][1]));
	cs_client_cache_free(shared);
	shared = NULL;
}

TEST(concurrent)
{
	unsigned k;

	for (k = 0; k < KEYS; k++) {
		proto[k][0] = make_client(3000 + k, 0);
		proto[k][1] = make_client(3000 + k, 1);
		hash_of(3000 + k, proto_hash[k]);
	}
	/* A long ttl: hits, replacements and evictions (KEYS > 64). */
	run_threads(60000, 300);
	/* A 2 ms ttl: entries expiring while others read them. */
	run_threads(2, 200);
	for (k = 0; k < KEYS; k++) {
		cs_client_free(proto[k][0]);
		cs_client_free(proto[k][1]);
	}
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(empty_misses);
	RUN(put_get_deep_copy);
	RUN(copies_are_independent);
	RUN(other_hash_misses);
	RUN(entries_expire);
	RUN(ttl_zero_keeps_nothing);
	RUN(same_hash_replaces);
	RUN(more_clients_than_slots);
	RUN(concurrent);
	return check_summary();
}
