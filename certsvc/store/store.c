/*
 * store.c: the store's front door.  The cs_store_* functions forward each
 * call to the backend's op, so no code above the store touches a
 * backend's vtable.  cs_store_open(), which picks the backend, is in
 * store_open.c.
 */
#include "store_backend.h"

void
cs_store_close(cs_store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

/* --- calls ------------------------------------------------------------ */

int
cs_store_begin(cs_store *s)
{
	return s->ops->begin(s);
}

int
cs_store_commit(cs_store *s)
{
	return s->ops->commit(s);
}

int
cs_store_rollback(cs_store *s)
{
	return s->ops->rollback(s);
}

int
cs_store_licence_put(cs_store *s, const cs_licence_row *row)
{
	return s->ops->licence_put(s, row);
}

int
cs_store_licence_get(cs_store *s, const char *id, cs_licence_row **out)
{
	return s->ops->licence_get(s, id, out);
}

int
cs_store_licence_by_ref(cs_store *s, const char *client,
    const char *approval_ref, cs_licence_row **out)
{
	return s->ops->licence_by_ref(s, client, approval_ref, out);
}

int
cs_store_licences_by_holder(cs_store *s, const char *holder_code,
    const char *type, int64_t *pos, size_t limit, cs_licence_row ***out,
    size_t *n)
{
	return s->ops->licences_by_holder(s, holder_code, type, pos, limit, out,
	    n);
}

int
cs_store_licences_by_number(cs_store *s, const char *number,
    const char *holder_code, cs_licence_row ***out, size_t *n)
{
	return s->ops->licences_by_number(s, number, holder_code, out, n);
}

int
cs_store_licences_by_bundle(cs_store *s, const char *bundle_id,
    cs_licence_row ***out, size_t *n)
{
	return s->ops->licences_by_bundle(s, bundle_id, out, n);
}

int
cs_store_licence_next_seq(cs_store *s, const char *type,
    const char *issuer_code, int64_t *out)
{
	return s->ops->licence_next_seq(s, type, issuer_code, out);
}

int
cs_store_licence_number_taken(cs_store *s, const char *type,
    const char *issuer_code, const char *number, const char *serial,
    int *taken)
{
	return s->ops->licence_number_taken(s, type, issuer_code, number, serial,
	    taken);
}

int
cs_store_licence_count(cs_store *s, int64_t *out)
{
	return s->ops->licence_count(s, out);
}

int
cs_store_event_append(cs_store *s, const cs_event *ev)
{
	return s->ops->event_append(s, ev);
}

int
cs_store_events_for(cs_store *s, const char *licence_id, cs_event ***out,
    size_t *n)
{
	return s->ops->events_for(s, licence_id, out, n);
}

int
cs_store_bundle_put(cs_store *s, const cs_bundle_row *b)
{
	return s->ops->bundle_put(s, b);
}

int
cs_store_bundle_by_ref(cs_store *s, const char *client,
    const char *approval_ref, cs_bundle_row **out)
{
	return s->ops->bundle_by_ref(s, client, approval_ref, out);
}

int
cs_store_client_add(cs_store *s, const cs_client *c)
{
	return s->ops->client_add(s, c);
}

int
cs_store_client_get(cs_store *s, const char *name, cs_client **out)
{
	return s->ops->client_get(s, name, out);
}

int
cs_store_client_by_token_hash(cs_store *s, const uint8_t hash[32],
    cs_client **out)
{
	return s->ops->client_by_token_hash(s, hash, out);
}

int
cs_store_client_list(cs_store *s, cs_client ***out, size_t *n)
{
	return s->ops->client_list(s, out, n);
}

int
cs_store_client_revoke(cs_store *s, const char *name, int64_t at)
{
	return s->ops->client_revoke(s, name, at);
}

int
cs_store_grant_add(cs_store *s, const char *client_name, const cs_grant *g)
{
	return s->ops->grant_add(s, client_name, g);
}

int
cs_store_copy_put(cs_store *s, const cs_copy_row *c)
{
	return s->ops->copy_put(s, c);
}

int
cs_store_copy_get(cs_store *s, const char *id, cs_copy_row **out)
{
	return s->ops->copy_get(s, id, out);
}

int
cs_store_audit_append(cs_store *s, const cs_audit_rec *rec)
{
	return s->ops->audit_append(s, rec);
}

/* The fallback for backends whose appends cost no round trip (SQLite):
 * the loop, in a level of its own (nested in the caller's) so that a failure leaves none of them. */
static int
append_each(cs_store *s, const cs_audit_rec *const *recs, size_t n)
{
	size_t i;
	int rc;

	if ((rc = cs_store_begin(s)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++)
		rc = s->ops->audit_append(s, recs[i]);
	if (rc != 0) {
		(void)cs_store_rollback(s);
		return rc;
	}
	return cs_store_commit(s);
}

int
cs_store_audit_append_many(cs_store *s, const cs_audit_rec *const *recs,
    size_t n)
{
	if (s->ops->audit_append_many == NULL)
		return append_each(s, recs, n);
	return s->ops->audit_append_many(s, recs, n);
}

int
cs_store_audit_query(cs_store *s, const cs_audit_filter *f,
    cs_audit_rec ***out, size_t *n)
{
	return s->ops->audit_query(s, f, out, n);
}

int
cs_store_licences_page(cs_store *s, int64_t *pos, size_t limit,
    cs_licence_row ***out, size_t *n)
{
	return s->ops->licences_page(s, pos, limit, out, n);
}

int
cs_store_events_page(cs_store *s, int64_t after_seq, size_t limit,
    cs_event ***out, size_t *n)
{
	return s->ops->events_page(s, after_seq, limit, out, n);
}

int
cs_store_bundles_page(cs_store *s, const char *after_id, size_t limit,
    cs_bundle_row ***out, size_t *n)
{
	return s->ops->bundles_page(s, after_id, limit, out, n);
}

int
cs_store_copies_page(cs_store *s, const char *after_id, size_t limit,
    cs_copy_row ***out, size_t *n)
{
	return s->ops->copies_page(s, after_id, limit, out, n);
}

int
cs_store_licences_import(cs_store *s, cs_licence_row *const *rows, size_t n)
{
	return s->ops->licences_import(s, rows, n);
}

int
cs_store_events_import(cs_store *s, cs_event *const *evs, size_t n)
{
	return s->ops->events_import(s, evs, n);
}

int
cs_store_client_import(cs_store *s, const cs_client *c)
{
	return s->ops->client_import(s, c);
}

int
cs_store_audit_import(cs_store *s, cs_audit_rec *const *recs, size_t n)
{
	return s->ops->audit_import(s, recs, n);
}

int
cs_store_import_done(cs_store *s)
{
	return s->ops->import_done(s);
}

int
cs_store_status_scan(cs_store *s, cs_status_fn fn, void *ctx)
{
	return s->ops->status_scan(s, fn, ctx);
}

int
cs_store_status_mark(cs_store *s, int64_t mark[2])
{
	return s->ops->status_mark(s, mark);
}

int
cs_store_ping(cs_store *s)
{
	return s->ops->ping(s);
}

int
cs_store_backup(cs_store *s, const char *path)
{
	return s->ops->backup(s, path);
}

const char *
cs_store_backend(const cs_store *s)
{
	return s->ops->name;
}
