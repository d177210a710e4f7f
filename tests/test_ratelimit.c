/* ratelimit: the per-address token bucket, with the time passed in. */
#include <stdio.h>

#include "check.h"
#include "ratelimit.h"

TEST(burst_then_refuse)
{
	cs_ratelimit *rl = NULL;
	int64_t retry = -1;
	int i;

	CHECK_INT_EQ(cs_ratelimit_new(5, 5, 64, &rl), 0);
	for (i = 0; i < 5; i++)
		CHECK_INT_EQ(cs_ratelimit_take(rl, "10.0.0.1", 1000, &retry), 1);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "10.0.0.1", 1000, &retry), 0);
	/* One token every 200 ms. */
	CHECK_INT_EQ(retry, 200);
	cs_ratelimit_free(rl);
}

TEST(refill_over_time)
{
	cs_ratelimit *rl = NULL;
	int64_t retry = 0;
	int i;

	CHECK_INT_EQ(cs_ratelimit_new(10, 10, 64, &rl), 0);
	for (i = 0; i < 10; i++)
		CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 0, NULL), 1);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 0, &retry), 0);
	CHECK_INT_EQ(retry, 100);
	/* 50 ms: half a token, still refused, 50 ms to go. */
	CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 50, &retry), 0);
	CHECK_INT_EQ(retry, 50);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 100, NULL), 1);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 100, NULL), 0);
	/* A long pause refills to the burst, never beyond. */
	for (i = 0; i < 10; i++)
		CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 60000, NULL), 1);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 60000, NULL), 0);
	cs_ratelimit_free(rl);
}

TEST(addresses_are_independent)
{
	cs_ratelimit *rl = NULL;

	CHECK_INT_EQ(cs_ratelimit_new(1, 1, 64, &rl), 0);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "192.0.2.1", 0, NULL), 1);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "192.0.2.1", 0, NULL), 0);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "192.0.2.2", 0, NULL), 1);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "2001:db8::1", 0, NULL), 1);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "192.0.2.2", 0, NULL), 0);
	cs_ratelimit_free(rl);
}

TEST(clock_going_back_does_not_refill)
{
	cs_ratelimit *rl = NULL;
	int64_t retry = 0;

	CHECK_INT_EQ(cs_ratelimit_new(1, 1, 64, &rl), 0);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 5000, NULL), 1);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 1000, &retry), 0);
	CHECK(retry >= 1);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 6000, NULL), 1);
	cs_ratelimit_free(rl);
}

TEST(memory_is_bounded)
{
	cs_ratelimit *rl = NULL;
	char key[32];
	int i, allowed = 0;

	CHECK_INT_EQ(cs_ratelimit_new(1, 1, 64, &rl), 0);
	for (i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "10.%d.%d.%d", i >> 16, (i >> 8) & 255,
		    i & 255);
		allowed += cs_ratelimit_take(rl, key, i, NULL);
	}
	/* Every new address starts with a full bucket ... */
	CHECK_INT_EQ(allowed, 10000);
	/* ... and the table never holds more than its slots. */
	CHECK(cs_ratelimit_count(rl) <= 64);
	CHECK(cs_ratelimit_count(rl) > 0);
	cs_ratelimit_free(rl);
}

TEST(busy_address_survives_a_flood)
{
	cs_ratelimit *rl = NULL;
	char key[32];
	int i, refused = 0;

	/* The busy address is refused at every step but one per second; the
	 * others are seen once each, so eviction picks them, not it. */
	CHECK_INT_EQ(cs_ratelimit_new(1, 1, 64, &rl), 0);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "busy", 0, NULL), 1);
	for (i = 1; i < 2000; i++) {
		snprintf(key, sizeof(key), "flood-%d", i);
		cs_ratelimit_take(rl, key, i, NULL);
		refused += !cs_ratelimit_take(rl, "busy", i, NULL);
	}
	/* 2 seconds: one more token at 1000 ms, the rest refused. */
	CHECK_INT_EQ(refused, 1998);
	cs_ratelimit_free(rl);
}

/* The failure budget's use: take one before the work, give it back when
 * the work did not fail.  Concurrent takers cannot overdraw the bucket. */
TEST(give_back)
{
	cs_ratelimit *rl = NULL;
	int64_t retry = 0;
	int i;

	/* 3 failures, one back a second. */
	CHECK_INT_EQ(cs_ratelimit_new(1, 3, 64, &rl), 0);
	/* Successes cost nothing however many. */
	for (i = 0; i < 10; i++) {
		CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 0, NULL), 1);
		cs_ratelimit_give(rl, "a", 0);
	}
	/* Three taken at once (in flight): the fourth is refused. */
	for (i = 0; i < 3; i++)
		CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 0, NULL), 1);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 0, &retry), 0);
	CHECK_INT_EQ(retry, 1000);
	/* One of them gives back: one more may go. */
	cs_ratelimit_give(rl, "a", 100);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 100, NULL), 1);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 100, &retry), 0);
	CHECK_INT_EQ(retry, 900);
	/* Giving never fills beyond the burst. */
	for (i = 0; i < 10; i++)
		cs_ratelimit_give(rl, "a", 200);
	for (i = 0; i < 3; i++)
		CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 200, NULL), 1);
	CHECK_INT_EQ(cs_ratelimit_take(rl, "a", 200, NULL), 0);
	/* An address never seen is not added by a give. */
	cs_ratelimit_give(rl, "b", 200);
	CHECK_INT_EQ(cs_ratelimit_count(rl), 1);
	cs_ratelimit_free(rl);
}

TEST(bad_arguments)
{
	cs_ratelimit *rl = NULL;

	CHECK(cs_ratelimit_new(0, 1, 64, &rl) != 0);
	CHECK(rl == NULL);
	CHECK(cs_ratelimit_new(1, 0, 64, &rl) != 0);
	CHECK(cs_ratelimit_new(1, 1, 0, &rl) != 0);
	cs_ratelimit_free(NULL);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(burst_then_refuse);
	RUN(refill_over_time);
	RUN(addresses_are_independent);
	RUN(clock_going_back_does_not_refill);
	RUN(memory_is_bounded);
	RUN(busy_address_survives_a_flood);
	RUN(give_back);
	RUN(bad_arguments);
	return check_summary();
}
