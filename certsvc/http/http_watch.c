/*
 * http_watch: slow requests.  Every connection is watched, and one that
 * has not sent a whole request within connection_timeout seconds of
 * opening (or of its last answer) is cut (http_internal.h).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "http_internal.h"
#include "log.h"
#include "timeutil.h"

/*
 * MHD's connection timeout counts seconds without progress, and a client
 * that sends a byte now and then (slowloris: a request head a byte a
 * second, or a body) is making progress: it holds its slot and its memory
 * pool for as long as it likes, and a few hundred such sockets take every
 * slot.  So each connection is watched (MHD_OPTION_NOTIFY_CONNECTION):
 * from the moment it opens or its last answer has gone out, a whole request
 * must arrive within connection_timeout seconds.  The main loop shuts down
 * the socket of one that does not; MHD reads the end of file and closes it
 * in its own thread.  The lock also keeps the socket open while it is shut
 * down: MHD notifies the close (and we unlink) before it closes the socket.
 */
struct cs_http_watched {
	struct cs_http_watched *prev, *next;
	struct cs_http_watch *w;
	MHD_socket fd;
	int64_t since_ms;   /* waiting for a whole request since (monotonic) */
	int busy;           /* a request has arrived: no deadline */
	int cut;
	char remote[64];
};

void
cs_http_watch_notify(void *cls, struct MHD_Connection *conn, void **ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct cs_http_watch *w = cls;
	struct cs_http_watched *c = *ctx;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		/* Stopping: the listening socket stays open (see cs_http_run),
		 * so a connection that arrives now is cut before it costs a
		 * request; MHD sees it closed and frees it. */
		if (ci != NULL && w->draining != NULL &&
		    atomic_load(w->draining)) {
			shutdown(ci->connect_fd, SHUT_RDWR);
			return;
		}
		/* Out of memory: unwatched, MHD's own timeout still holds. */
		if (ci == NULL || (c = calloc(1, sizeof(*c))) == NULL)
			return;
		c->w = w;
		c->fd = ci->connect_fd;
		c->since_ms = cs_mono_ms();
		cs_http_remote_text(conn, c->remote, sizeof(c->remote));
		pthread_mutex_lock(&w->lock);
		if ((c->next = w->head) != NULL)
			c->next->prev = c;
		w->head = c;
		pthread_mutex_unlock(&w->lock);
		*ctx = c;
		return;
	}
	if (c == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&w->lock);
	free(c);
	*ctx = NULL;
}

/* A request of conn has arrived whole (busy: before its handler runs, or
 * when it is answered early) or its answer has gone out. */
void
cs_http_watch_mark(struct MHD_Connection *conn, int busy)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct cs_http_watched *c = ci != NULL ? ci->socket_context : NULL;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->w->lock);
	c->busy = busy;
	c->since_ms = cs_mono_ms();
	pthread_mutex_unlock(&c->w->lock);
}

void
cs_http_watch_sweep(struct cs_http_watch *w)
{
	int64_t now = cs_mono_ms();
	struct cs_http_watched *c;

	pthread_mutex_lock(&w->lock);
	for (c = w->head; c != NULL; c = c->next) {
		if (c->busy || c->cut || now - c->since_ms <= w->limit_ms)
			continue;
		shutdown(c->fd, SHUT_RDWR);
		c->cut = 1;
		cs_log_msg("certsvc: closed a connection from %s: no whole request "
		    "in %lld s", c->remote, (long long)(w->limit_ms / 1000));
	}
	pthread_mutex_unlock(&w->lock);
}
