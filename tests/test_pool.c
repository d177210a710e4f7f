/*
 * test_pool: contexts kept for their next use (pool.c): an item comes back
 * only for the key it was kept under, at most CS_POOL_MAX are kept and the
 * one past that is handed back to be freed, and threads taking and keeping
 * at once never get one item twice.
 */
#include "check.h"
#include "pool.h"

#include <stdint.h>
#include <stdlib.h>

TEST(keys_and_bound)
{
	cs_pool p = CS_POOL_INIT;
	int items[CS_POOL_MAX + 1], i;

	CHECK(cs_pool_take(&p, 0) == NULL);
	for (i = 0; i < CS_POOL_MAX; i++)
		CHECK(cs_pool_keep(&p, i % 2 ? 9 : 6, &items[i]) == NULL);
	CHECK(cs_pool_keep(&p, 6, &items[CS_POOL_MAX]) == &items[CS_POOL_MAX]);
	CHECK(cs_pool_take(&p, 1) == NULL);
	for (i = 0; i < CS_POOL_MAX / 2; i++) {
		int *got = cs_pool_take(&p, 9);

		CHECK(got != NULL && (got - items) % 2 == 1);
	}
	CHECK(cs_pool_take(&p, 9) == NULL);
	for (i = 0; i < CS_POOL_MAX / 2; i++) {
		int *got = cs_pool_take(&p, 6);

		CHECK(got != NULL && (got - items) % 2 == 0);
	}
	CHECK(cs_pool_take(&p, 6) == NULL);
}

enum { THREADS = 8, ROUNDS = 20000 };
static cs_pool shared = CS_POOL_INIT;
static _Atomic int in_use[CS_POOL_MAX * 2];

/* Take an item (or make one of the 32), mark it in use, keep it again. */
static void *
churn(void *arg)
{
	intptr_t twice = 0;
	int k, *it;

	(void)arg;
	for (k = 0; k < ROUNDS; k++) {
		if ((it = cs_pool_take(&shared, 0)) == NULL)
			continue;
		twice += in_use[*it]++ != 0;
		in_use[*it]--;
		if (cs_pool_keep(&shared, 0, it) != NULL)
			twice++;  /* never full: only pool items circulate */
	}
	return (void *)twice;
}

TEST(threads)
{
	static int items[CS_POOL_MAX];
	pthread_t t[THREADS];
	void *r;
	long bad = 0;
	int i;

	for (i = 0; i < CS_POOL_MAX; i++) {
		items[i] = i;
		CHECK(cs_pool_keep(&shared, 0, &items[i]) == NULL);
	}
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], &r);
		bad += (long)(intptr_t)r;
	}
	CHECK(bad == 0);
	for (i = 0; i < CS_POOL_MAX; i++)
		CHECK(cs_pool_take(&shared, 0) != NULL);
	CHECK(cs_pool_take(&shared, 0) == NULL);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(keys_and_bound);
	RUN(threads);
	return check_summary();
}
