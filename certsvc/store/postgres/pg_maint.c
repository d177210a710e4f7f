/*
 * pg_maint: the health check of the PostgreSQL store (ping: the database
 * answers, is writable and carries this binary's schema) and backup,
 * which a server database does with its own tools.
 */
#include "store_pg_internal.h"

#include "cs_err.h"

/*
 * One query on a connection of the pool: PostgreSQL answers, is not a
 * standby in recovery (read-only: after a failover the URI may still
 * lead to the old primary, now a standby), and its schema is the version
 * this binary migrates to.  CS_EUNAVAIL when it does not answer or is
 * read-only: /healthz then says 503, and the node's load balancer turns
 * to another.
 */
int
pg_ping(cs_store *cs)
{
	struct pgstore *s = P(cs);
	struct pgq q;
	PGresult *r;
	int64_t v;
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
