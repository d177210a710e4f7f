/*
 * test_render_gate: the bound on drawings at once
 * (certsvc/domain/render/render_gate.c): the limit holds, a drawing past
 * its wait is refused with CS_EUNAVAIL and takes nothing, a waiting one
 * gets the slot another leaves, and the counters say so.
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cs_err.h"
#include "render_gate.h"
#include "timeutil.h"

static cs_render_gate_stats
stats(void)
{
	cs_render_gate_stats st;

	cs_render_gate_stats_get(&st);
	return st;
}

TEST(default_limit_is_the_cpus)
{
	cpu_set_t set;
	long cpus = 1;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		cpus = CPU_COUNT(&set);
	cs_render_gate_configure(0, 100);
	CHECK_INT_EQ(stats().limit, cpus);
	cs_render_gate_configure(3, 100);
	CHECK_INT_EQ(stats().limit, 3);
}

TEST(limit_holds)
{
	cs_render_gate_stats before, st;
	int64_t t0;

	cs_render_gate_configure(2, 100);
	before = stats();
	CHECK_INT_EQ(cs_render_gate_enter(), 0);
	CHECK_INT_EQ(cs_render_gate_enter(), 0);
	t0 = cs_mono_ms();
	CHECK_INT_EQ(cs_render_gate_enter(), CS_EUNAVAIL);
	/* It waited its whole wait (a lower bound: no scheduler makes it
	 * shorter). */
	CHECK(cs_mono_ms() - t0 >= 100);
	CHECK_CONTAINS(cs_err_msg(), "render_concurrency");
	st = stats();
	CHECK_INT_EQ(st.in_flight, 2);
	CHECK(st.max_in_flight >= 2);
	CHECK_INT_EQ((long)(st.waits - before.waits), 1);
	CHECK_INT_EQ((long)(st.refusals - before.refusals), 1);
	/* The refusal took no slot: one leaving lets the next in at once. */
	cs_render_gate_leave();
	CHECK_INT_EQ(cs_render_gate_enter(), 0);
	CHECK_INT_EQ((long)(stats().waits - before.waits), 1);
	cs_render_gate_leave();
	cs_render_gate_leave();
	CHECK_INT_EQ(stats().in_flight, 0);
}

static void *
waiter(void *arg)
{
	int *rc = arg;

	*rc = cs_render_gate_enter();
	if (*rc == 0)
		cs_render_gate_leave();
	return NULL;
}

TEST(waiter_gets_the_slot_left)
{
	cs_render_gate_stats before;
	pthread_t t;
	int rc = 1;
	int64_t end;

	/* A wait far longer than the test: the waiter must be woken by the
	 * leave, not by its deadline. */
	cs_render_gate_configure(1, 600000);
	before = stats();
	CHECK_INT_EQ(cs_render_gate_enter(), 0);
	CHECK_INT_EQ(pthread_create(&t, NULL, waiter, &rc), 0);
	end = cs_mono_ms() + 60000;
	while (stats().waits == before.waits && cs_mono_ms() < end) {
		struct timespec ts = {0, 5 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	CHECK_INT_EQ((long)(stats().waits - before.waits), 1);
	CHECK_INT_EQ(stats().in_flight, 1);
	cs_render_gate_leave();
	pthread_join(t, NULL);
	CHECK_INT_EQ(rc, 0);
	CHECK_INT_EQ(stats().in_flight, 0);
	CHECK_INT_EQ((long)(stats().refusals - before.refusals), 0);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(default_limit_is_the_cpus);
	RUN(limit_holds);
	RUN(waiter_gets_the_slot_left);
	return check_summary();
}
