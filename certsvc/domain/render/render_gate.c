/*
 * render_gate.c: a counting semaphore (a mutex, a condition variable on
 * the monotonic clock and a count) over the process's full-page drawings,
 * and the malloc policy that returns their buffers (render_gate.h).
 */
#include "render_gate.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cs_err.h"
#include "timeutil.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
/* All under mu; limit 0 until the first use or cs_render_gate_configure. */
static long limit, wait_ms = CS_RENDER_WAIT_MS_DEFAULT;
static long in_flight, max_in_flight;
static unsigned long waits, refusals;

/* Tests (builds with -DCERTSVC_TEST_HOOKS=ON) hold each drawing this long
 * in its slot, to see others wait and be refused; nothing else looks. */
static void
test_delay(void)
{
#ifdef CS_TEST_HOOKS
	const char *v = getenv("CERTSVC_TEST_RENDER_DELAY_MS");
	long ms = v != NULL ? strtol(v, NULL, 10) : 0;

	if (ms > 0) {
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
#endif
}

static void
init_cv(void)
{
	cs_cond_init_mono(&cv);
}

/* The cores drawings may use: the online CPUs this process may run on
 * (taskset, a container's cpuset), 1 when unknown. */
static long
online_cpus(void)
{
	cpu_set_t set;
	long n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n < 1)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n >= 1 ? n : 1;
}

void
cs_render_gate_configure(long n, long ms)
{
	pthread_once(&once, init_cv);
	/* A fixed threshold also turns off glibc's dynamic one, which after
	 * the first large free() raises itself to that size (up to 32 MiB)
	 * and from then on serves every image buffer from a thread's arena,
	 * where it stays after the drawing: with one arena per worker
	 * thread, the resident size then grew with the threads. */
	mallopt(M_MMAP_THRESHOLD, CS_RENDER_MMAP_THRESHOLD);
	pthread_mutex_lock(&mu);
	limit = n >= 1 ? n : online_cpus();
	wait_ms = ms >= 0 ? ms : CS_RENDER_WAIT_MS_DEFAULT;
	/* A higher limit lets waiting drawings in now. */
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

int
cs_render_gate_enter(void)
{
	int64_t until;
	int rc = 0;

	pthread_once(&once, init_cv);
	pthread_mutex_lock(&mu);
	if (limit == 0)
		limit = online_cpus();
	if (in_flight >= limit) {
		waits++;
		until = cs_mono_ms() + wait_ms;
		while (in_flight >= limit) {
			struct timespec ts = cs_mono_timespec(until);

			/* Spurious wake-ups and lost races loop; the deadline
			 * stays the first one. */
			if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT &&
			    in_flight >= limit) {
				refusals++;
				rc = CS_EUNAVAIL;
				break;
			}
		}
	}
	if (rc == 0 && ++in_flight > max_in_flight)
		max_in_flight = in_flight;
	pthread_mutex_unlock(&mu);
	if (rc != 0)
		return cs_err_set(CS_EUNAVAIL, "every drawing slot "
		    "(render_concurrency) stayed busy for %ld ms", wait_ms);
	test_delay();
	return 0;
}

void
cs_render_gate_leave(void)
{
	pthread_mutex_lock(&mu);
	if (in_flight > 0)
		in_flight--;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

void
cs_render_gate_stats_get(cs_render_gate_stats *out)
{
	pthread_mutex_lock(&mu);
	out->limit = limit != 0 ? limit : online_cpus();
	out->in_flight = in_flight;
	out->max_in_flight = max_in_flight;
	out->waits = waits;
	out->refusals = refusals;
	pthread_mutex_unlock(&mu);
}
