/*
 * pg_maint: the health check of the PostgreSQL store (ping: the database
 * answers, is writable and carries this binary's schema) and backup,
 * which a server database does with its own tools.
 */
#include "store_pg_internal.h"

#include "cs_err.h"
#include "timeutil.h"

/* How long a write that found the disk full keeps ping() saying so when
 * no write has committed since: the Retry-After of the 503 it gave
 * (http_problem.c).  PostgreSQL tells a client nothing of its free space,
 * so without a write to try, the memory must fade: a node that stayed
 * "full" until its next write would, once a load balancer took it out
 * for its 503, never be sent that write. */
#define FULL_HOLD_MS 5000

/*
 * One query on a connection of the pool: PostgreSQL answers, is not a
 * standby in recovery (read-only: after a failover the URI may still
 * lead to the old primary, now a standby), and its schema is the version
 * this binary migrates to.  CS_EUNAVAIL when it does not answer or is
 * read-only: /healthz then says 503, and the node's load balancer turns
 * to another.  CS_EFULL while this node's last write found the server's
 * disk full (SQLSTATE 53100) less than FULL_HOLD_MS ago and none has
 * committed since: the server answers, but writes fail.
 */
int
pg_ping(cs_store *cs)
{
	struct pgstore *s = P(cs);
	struct pgq q;
	PGresult *r;
	int64_t v, full;
	int rc;

	pq_init(&q);
	if ((rc = pg_read(s, pg_st(PS_PING), &q, &r, "ping")) != 0)
		return rc;
	if (PQntuples(r) != 1 || PQnfields(r) != 2)
		rc = cs_err_set(CS_ESTORE, "store: ping: no answer");
	else if (pg_col_i64(r, 0, 0) != 0)
		rc = cs_err_set(CS_EUNAVAIL, "store: ping: %s is a standby in "
		    "recovery (read-only), not the primary", s->shown);
	else if ((v = pg_col_i64(r, 0, 1)) != pg_schema_version)
		rc = cs_err_set(CS_ESTORE, "store: ping: schema version is "
		    "%lld, expected %d", (long long)v, pg_schema_version);
	else if ((full = atomic_load(&s->full_at_ms)) != 0 &&
	    cs_mono_ms() - full < FULL_HOLD_MS)
		rc = cs_err_set(CS_EFULL, "store: the disk of %s is full: a "
		    "write found no space %lld ms ago and none has committed "
		    "since", s->shown, (long long)(cs_mono_ms() - full));
	PQclear(r);
	return rc;
}

/*
 * A server database is not a file certsvc could copy: PostgreSQL's own
 * tools make a consistent copy of it online, and its operators already
 * run them (base backups and WAL archiving, or pg_dump).  Refused with
 * the command to use instead.
 */
int
pg_backup(cs_store *cs, const char *path)
{
	return cs_err_set(CS_EUNSUPPORTED, "store: backup: certsvc backs up "
	    "SQLite files only; copy a PostgreSQL database with its own tools: "
	    "pg_dump --format=custom --file=%s '%s' (or a base backup with "
	    "WAL archiving)", path, P(cs)->shown);
}
