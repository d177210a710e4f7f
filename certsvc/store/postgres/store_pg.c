/*
 * store_pg: the PostgreSQL implementation of cs_store (store.h, SPEC §8),
 * for any number of certsvc nodes sharing one database.
 *
 * Within a node it keeps the SQLite backend's model, so the service
 * above cannot tell them apart.  One writer connection, used only by the
 * holder of the writer token, from the outermost begin() to its commit()
 * or rollback(); nested levels are savepoints; each write call inside a
 * transaction is atomic on its own, as a statement is in SQLite
 * (pg_tx.c).  Reads outside a transaction run on a pool of connections in
 * autocommit, one per thread at a time, made when first needed, at most
 * POOL_MAX, kept for the next read (pg_conn.c); they see what is
 * committed, on this node or any other.
 *
 * Between nodes, the database keeps the rules: keys make ids, approval
 * refs and token hashes unique, a trigger makes numbers unique per type
 * and issuer, the numbering counter's row lock hands each serial out once,
 * and triggers refuse any rewrite of history (pg_schema.c).  The schema is
 * made or migrated at open, one node at a time under an advisory lock.
 *
 * Durability: commit() returns once PostgreSQL has confirmed the COMMIT,
 * which with synchronous_commit on (as the server has it) means it is in
 * the server's WAL on disk, and on a synchronous standby when one is
 * configured.  commit_window_ms is not used: there is no group commit in
 * this backend (pg_tx.c says why).  A connection lost while a COMMIT was
 * on its way makes that commit() CS_EUNAVAIL, never 0; the next call
 * connects again, waiting a short backoff after a failed attempt.
 *
 * Records are stored packed (zrecord.h), as the SQLite backend stores
 * them, and committed licence rows read are kept in the licence cache
 * (lcache.h): a stored licence never changes, on any node.  Their status
 * events are kept beside them, refreshed from the database often enough
 * that no status served is more than 1 s old (pg_status.c).
 *
 * Every value goes to the server as a parameter of a prepared statement,
 * and no message of the store carries the URI's password (pg_mask).
 *
 * The files: store_pg.c (open, close, the ops table), pg_schema.c (schema
 * and migrations), pg_conn.c (connections, the pool, reconnecting),
 * pg_tx.c (writer token, transactions), pg_status.c (the status cache),
 * pg_stmt.c (statements, columns,
 * errors), pg_licences.c, pg_clients.c, pg_audit.c (the records),
 * pg_maint.c (ping, backup); what they share is in store_pg_internal.h.
 */
#include "store_pg_internal.h"
#include "store_pg.h"

#include "cs_err.h"
#include "lcache.h"
#include "timeutil.h"
#include "zrecord.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The licence cache's bound (lcache.h). */
#define LCACHE_BYTES (32 << 20)

/* Close every connection.  No other thread may be using the store by
 * now; a transaction the calling thread left open is rolled back. */
static void
pg_close(cs_store *cs)
{
	struct pgstore *s = P(cs);

	if (s == NULL)
		return;
	if (s->has_key) {
		if (pg_holds(s))
			while (s->depth > 0)
				(void)pg_tx_end(s, 0);
		pthread_key_delete(s->key);
	}
	pg_pool_close(s);
	pg_conn_close(&s->writer);
	cs_zrecord_packer_free(s->packer);
	cs_lcache_free(s->lc);
	pg_status_free(s);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->tok_cv);
	pthread_mutex_destroy(&s->pool_mu);
	pthread_cond_destroy(&s->pool_cv);
	pthread_mutex_destroy(&s->bo_mu);
	free(s->uri);
	free(s->shown);
	free(s->password);
	free(s);
}

static const struct cs_store_ops pg_ops = {
	.name = "postgresql",
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.licence_put = pg_licence_put,
	.licence_get = pg_licence_get,
	.licence_cache = pg_licence_cache,
	.licence_by_ref = pg_licence_by_ref,
	.licences_by_holder = pg_licences_by_holder,
	.licences_by_bundle = pg_licences_by_bundle,
	.licences_by_number = pg_licences_by_number,
	.licences_by_client = pg_licences_by_client,
	.licence_next_seq = pg_licence_next_seq,
	.licence_number_taken = pg_licence_number_taken,
	.licence_count = pg_licence_count,
	.status_scan = pg_status_scan,
	.status_mark = pg_status_mark,
	.event_append = pg_event_append,
	.events_for = pg_events_for,
	.events_for_many = pg_events_for_many,
	.bundle_put = pg_bundle_put,
	.bundle_by_ref = pg_bundle_by_ref,
	.change_append = pg_change_append,
	.changes_page = pg_changes_page,
	.changes_import = pg_changes_import,
	.sub_put = pg_sub_put,
	.subs_page = pg_subs_page,
	.subs_import = pg_subs_import,
	.sub_attempt_append = pg_sub_attempt_append,
	.sub_progress = pg_sub_progress,
	.sub_lease = pg_sub_lease,
	.copy_put = pg_copy_put,
	.copy_get = pg_copy_get,
	.copies_page = pg_copies_page,
	.hact_put = pg_hact_put,
	.hacts_get = pg_hacts_get,
	.hacts_page = pg_hacts_page,
	.peer_put = pg_peer_put,
	.peers_page = pg_peers_page,
	.client_add = pg_client_add,
	.client_get = pg_client_get,
	.client_by_token_hash = pg_client_by_token_hash,
	.client_list = pg_client_list,
	.client_revoke = pg_client_revoke,
	.grant_add = pg_grant_add,
	.client_rotate = pg_client_rotate,
	.client_tokens_page = pg_client_tokens_page,
	.client_tokens_import = pg_client_tokens_import,
	.audit_append = pg_audit_append,
	.audit_append_many = pg_audit_append_many,
	.audit_query = pg_audit_query,
	.licences_page = pg_licences_page,
	.events_page = pg_events_page,
	.bundles_page = pg_bundles_page,
	.licences_import = pg_licences_import,
	.events_import = pg_events_import,
	.client_import = pg_client_import,
	.audit_import = pg_audit_import,
	.import_done = pg_import_done,
	.ping = pg_ping,
	.backup = pg_backup,
	.close = pg_close,
};

int
cs_store_open_pg(const char *uri, cs_store **out)
{
	struct pgstore *s = NULL;
	char *p;
	int rc = 0;

	*out = NULL;
	if (!PQisthreadsafe())
		return cs_err_set(CS_ESTORE, "store: libpq is built without "
		    "thread support");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return pg_nomem();
	s->base.ops = &pg_ops;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->tok_cv, NULL);
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_cond_init(&s->pool_cv, NULL);
	pthread_mutex_init(&s->bo_mu, NULL);
	pg_status_init(s);
	if (pthread_key_create(&s->key, pg_thread_exit) != 0) {
		rc = cs_err_set(CS_ESTORE, "store: no thread key left");
		goto out;
	}
	s->has_key = 1;
	if ((s->uri = strdup(uri)) == NULL ||
	    (s->lc = cs_lcache_new(LCACHE_BYTES)) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	/* RFC 3986 schemes ignore case (store_open.c), libpq's do not. */
	for (p = s->uri; *p != '\0' && *p != ':'; p++)
		*p = (char)tolower((unsigned char)*p);
	if ((rc = pg_uri_parse(s)) != 0)
		goto out;
	/* Without a packer (out of memory) records are stored as text. */
	s->packer = cs_zrecord_packer_new();
	if ((rc = pg_conn_ensure(s, &s->writer)) == 0)
		rc = pg_migrate(s, s->writer.pg);
out:
	if (rc == 0)
		*out = &s->base;
	else
		pg_close(&s->base);
	return rc;
}
