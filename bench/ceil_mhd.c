/*
 * ceil_mhd: the HTTP ceiling of the benchmark (bench/README.md).  A bare
 * libmicrohttpd server that answers every request with the same 600-byte
 * body, configured as certsvc serves: the epoll thread pool, keep-alive,
 * the answer queued on the handler's second call (NOTES.md: queuing on the
 * first makes 0.9.75 close the connection), and its threads under
 * SCHED_BATCH as `certsvc serve` runs them by default (sched_batch).
 * Nothing else happens per request, so its rate is what the HTTP layer
 * alone allows.
 *
 * Usage: ceil_mhd PORT [THREADS]   (PORT 0: any; prints "listening PORT";
 *        runs until SIGTERM or SIGINT)
 */
#include <microhttpd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char body[600];
static struct MHD_Response *resp;

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **state)
{
	static int first;

	(void)cls; (void)url; (void)method; (void)version; (void)upload;
	if (*state == NULL) {
		*state = &first;
		return MHD_YES;
	}
	*upload_size = 0;
	return MHD_queue_response(c, MHD_HTTP_OK, resp);
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	struct sched_param none = {0};
	sigset_t set;
	int sig, port = argc > 1 ? atoi(argv[1]) : 0;
	unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 2;

	/* Before the pool starts: its threads inherit it. */
	if (sched_setscheduler(0, SCHED_BATCH, &none) != 0)
		perror("ceil_mhd: SCHED_BATCH");
	memset(body, 'x', sizeof(body));
	body[0] = '{';
	body[sizeof(body) - 1] = '}';
	resp = MHD_create_response_from_buffer(sizeof(body), body,
	    MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC,
	    (uint16_t)port, NULL, NULL, handler, NULL,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_LIMIT, 512u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 15u,
	    MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "ceil_mhd: cannot listen on port %d\n", port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening %u\n", info != NULL ? (unsigned)info->port : 0u);
	fflush(stdout);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	MHD_destroy_response(resp);
	return 0;
}
