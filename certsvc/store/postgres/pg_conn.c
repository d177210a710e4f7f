/*
 * pg_conn: the connections of the PostgreSQL store: the URI as messages
 * may show it (never its password), connecting with a short backoff once
 * an attempt has failed, noticing a connection the server has dropped and
 * making a new one, preparing and running statements, and the pool of
 * connections that reads outside a transaction run on.
 */
#include "store_pg_internal.h"

#include "config.h"
#include "cs_err.h"
#include "timeutil.h"

#include <ctype.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Readers' connections, at most; a reader finding none idle waits. */
#define POOL_MAX 16

/* After a failed attempt to connect, the next waits this long, doubling
 * up to the maximum: a node whose database is down answers 503 at once
 * instead of every request waiting for a connect to time out. */
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

/* --- messages ------------------------------------------------------- */

/*
 * in into out with every password masked: the store's own (the URI's,
 * wherever libpq repeats it), and as a second line of defence any
 * "user:secret@" of a URI and any "password=secret" of a connection
 * string (cs_config_db_shown, the mask every layer uses), so a message
 * of ours never carries a secret into a log or a response.  Newlines and tabs (libpq's multi-line messages) become
 * spaces, and trailing space goes.
 */
void
pg_mask(const struct pgstore *s, const char *in, char *out, size_t len)
{
	const char *pw = s != NULL ? s->password : NULL;
	size_t o = 0, pwlen = pw != NULL ? strlen(pw) : 0;
	char flat[1024];
	const char *p;

	for (p = in; *p != '\0' && o + 5 < sizeof(flat);) {
		if (pwlen > 0 && strncmp(p, pw, pwlen) == 0) {
			memcpy(flat + o, "****", 4);
			o += 4;
			p += pwlen;
		} else {
			flat[o++] = (*p == '\n' || *p == '\t') ? ' ' : *p;
			p++;
		}
	}
	while (o > 0 && isspace((unsigned char)flat[o - 1]))
		o--;
	flat[o] = '\0';
	cs_config_db_shown(flat, out, len);
}

/*
 * Parse s->uri (libpq's own parser) into what messages show of it,
 * "postgresql://user:****@host:port/dbname", and the password to mask
 * in libpq's messages.  CS_EINVAL when libpq cannot parse it.
 */
int
pg_uri_parse(struct pgstore *s)
{
	PQconninfoOption *opts, *o;
	const char *user = NULL, *host = NULL, *port = NULL, *db = NULL;
	char *err = NULL, masked[400], shown[600];
	int rc = 0;

	if ((opts = PQconninfoParse(s->uri, &err)) == NULL) {
		pg_mask(s, err ? err : "out of memory", masked, sizeof(masked));
		rc = cs_err_set(err ? CS_EINVAL : CS_ENOMEM, "store: the "
		    "PostgreSQL URI does not parse: %s", masked);
		PQfreemem(err);
		return rc;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "user") == 0)
			user = o->val;
		else if (strcmp(o->keyword, "host") == 0 ||
		    (strcmp(o->keyword, "hostaddr") == 0 && host == NULL))
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
		else if (strcmp(o->keyword, "password") == 0 &&
		    (s->password = strdup(o->val)) == NULL)
			rc = pg_nomem();
	}
	snprintf(shown, sizeof(shown), "postgresql://%s%s%s%s%s%s/%s",
	    user ? user : "", user && s->password ? ":****" : "",
	    user ? "@" : "", host ? host : "(local socket)", port ? ":" : "",
	    port ? port : "", db ? db : "");
	pg_mask(s, shown, masked, sizeof(masked));
	if (rc == 0 && (s->shown = strdup(masked)) == NULL)
		rc = pg_nomem();
	PQconninfoFree(opts);
	return rc;
}

/* --- connecting ----------------------------------------------------- */

/* libpq prints notices (a NOTICE from the server) on stderr by default;
 * the store has no use for them. */
static void
quiet(void *arg, const char *message)
{
}

/*
 * A new connection to the store's database.  The URI's own settings win
 * over the defaults before it (a connect timeout, TCP keepalives that find
 * a dead server within about a minute, the application name); the client
 * encoding after it is always UTF-8, what the store's strings are.
 */
static int
connect_new(struct pgstore *s, PGconn **out)
{
	static const char *const keys[] = {"connect_timeout", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
		"application_name", "dbname", "client_encoding", NULL};
	const char *vals[] = {"10", "1", "30", "10", "3", "certsvc", s->uri,
		"UTF8", NULL};
	char masked[400];
	PGconn *pg;
	int64_t now = cs_mono_ms();
	int rc;

	*out = NULL;
	pthread_mutex_lock(&s->bo_mu);
	if (now < s->retry_at_ms) {
		rc = cs_err_set(CS_EUNAVAIL, "%s (next attempt in %lld ms)",
		    s->down_msg, (long long)(s->retry_at_ms - now));
		pthread_mutex_unlock(&s->bo_mu);
		return rc;
	}
	pthread_mutex_unlock(&s->bo_mu);
	if ((pg = PQconnectdbParams(keys, vals, 1)) == NULL)
		return pg_nomem();
	if (PQstatus(pg) != CONNECTION_OK) {
		pg_mask(s, PQerrorMessage(pg), masked, sizeof(masked));
		rc = cs_err_set(CS_EUNAVAIL, "store: cannot connect to "
		    "PostgreSQL at %s: %s", s->shown, masked);
		PQfinish(pg);
		pthread_mutex_lock(&s->bo_mu);
		s->backoff_ms = s->backoff_ms == 0 ? BACKOFF_MIN_MS :
		    s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    s->backoff_ms * 2;
		s->retry_at_ms = cs_mono_ms() + s->backoff_ms;
		snprintf(s->down_msg, sizeof(s->down_msg), "%s", cs_err_msg());
		pthread_mutex_unlock(&s->bo_mu);
		return rc;
	}
	pthread_mutex_lock(&s->bo_mu);
	s->backoff_ms = 0;
	s->retry_at_ms = 0;
	pthread_mutex_unlock(&s->bo_mu);
	PQsetNoticeProcessor(pg, quiet, NULL);
	*out = pg;
	return 0;
}

void
pg_conn_close(struct pconn *c)
{
	PQfinish(c->pg);
	c->pg = NULL;
	memset(c->prepared, 0, sizeof(c->prepared));
}

/*
 * Whether an idle connection still looks alive, without a round trip.
 * The server sends an idle connection nothing unasked but its farewell
 * (an error saying why, then the end of the stream) when it ends the
 * session: a restart, a failover, an administrator.  So anything to read
 * on the socket means the connection is gone or going.
 */
static int
idle_alive(PGconn *pg)
{
	struct pollfd p;

	if (pg == NULL || PQstatus(pg) != CONNECTION_OK ||
	    PQpipelineStatus(pg) != PQ_PIPELINE_OFF ||
	    (p.fd = PQsocket(pg)) < 0)
		return 0;
	p.events = POLLIN;
	p.revents = 0;
	return poll(&p, 1, 0) == 0;
}

/* c connected: with a new connection if it has none or the one it has
 * is dead (idle_alive).  Statements are prepared again on the new one as
 * they are used. */
int
pg_conn_ensure(struct pgstore *s, struct pconn *c)
{
	if (idle_alive(c->pg))
		return 0;
	pg_conn_close(c);
	return connect_new(s, &c->pg);
}

/* --- statements ----------------------------------------------------- */

/* st prepared on c (once per connection). */
int
pg_prepare(struct pgstore *s, struct pconn *c, const struct pstmt *st)
{
	PGresult *r;
	char name[16];
	int rc = 0;

	if (c->prepared[st->slot])
		return 0;
	snprintf(name, sizeof(name), "cs%d", st->slot);
	r = PQprepare(c->pg, name, st->sql, st->ntypes, st->types);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_fail(s, c->pg, r, "prepare");
	else
		c->prepared[st->slot] = 1;
	PQclear(r);
	return rc;
}

/* Run st with q on c; *out its result (rows or none), for the caller to
 * clear. */
int
pg_exec_on(struct pgstore *s, struct pconn *c, const struct pstmt *st,
    const struct pgq *q, PGresult **out, const char *what)
{
	PGresult *r;
	char name[16];
	int rc;

	*out = NULL;
	if ((rc = pg_prepare(s, c, st)) != 0)
		return rc;
	snprintf(name, sizeof(name), "cs%d", st->slot);
	r = PQexecPrepared(c->pg, name, q->n, q->v, q->len, q->fmt, 1);
	if (r != NULL && (PQresultStatus(r) == PGRES_TUPLES_OK ||
	    PQresultStatus(r) == PGRES_COMMAND_OK)) {
		*out = r;
		return 0;
	}
	rc = pg_fail(s, c->pg, r, what);
	PQclear(r);
	return rc;
}

/* --- the readers' pool ---------------------------------------------- */

/* An idle connection of the pool, or a new slot (connected by the caller)
 * while there are fewer than POOL_MAX; else wait for one. */
int
pg_pool_take(struct pgstore *s, struct pconn **out)
{
	struct pconn *c = NULL;
	int rc = 0;

	pthread_mutex_lock(&s->pool_mu);
	while (s->idle == NULL && s->n_conns >= POOL_MAX)
		pthread_cond_wait(&s->pool_cv, &s->pool_mu);
	if ((c = s->idle) != NULL)
		s->idle = c->next;
	else if ((c = calloc(1, sizeof(*c))) != NULL)
		s->n_conns++;
	else
		rc = pg_nomem();
	pthread_mutex_unlock(&s->pool_mu);
	*out = c;
	return rc;
}

void
pg_pool_give(struct pgstore *s, struct pconn *c)
{
	pthread_mutex_lock(&s->pool_mu);
	c->next = s->idle;
	s->idle = c;
	pthread_cond_signal(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_mu);
}

/* Close every connection of the pool: no thread uses the store now. */
void
pg_pool_close(struct pgstore *s)
{
	struct pconn *c, *next;

	for (c = s->idle; c != NULL; c = next) {
		next = c->next;
		pg_conn_close(c);
		free(c);
	}
	s->idle = NULL;
	s->n_conns = 0;
}

/*
 * A read: on the writer when this thread holds it (it sees its own
 * transaction's writes), else on a connection of the pool in autocommit,
 * which sees what is committed.  A pooled connection found dead when the
 * statement ran (the server went away while it sat idle) is replaced and
 * the read tried once more: a read changes nothing, so trying it again is
 * safe.
 */
int
pg_read(struct pgstore *s, const struct pstmt *st, const struct pgq *q,
    PGresult **out, const char *what)
{
	struct pconn *c;
	int rc, tries;

	*out = NULL;
	if (pg_holds(s))
		return pg_writer_read(s, st, q, out, what);
	if ((rc = pg_pool_take(s, &c)) != 0)
		return rc;
	for (tries = 0; tries < 2; tries++) {
		if ((rc = pg_conn_ensure(s, c)) != 0)
			break;
		rc = pg_exec_on(s, c, st, q, out, what);
		if (rc == 0 || PQstatus(c->pg) != CONNECTION_BAD)
			break;
	}
	pg_pool_give(s, c);
	return rc;
}
