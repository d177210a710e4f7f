/*
 * store_rows: freeing and copying the rows the store hands out (store.h),
 * for every backend: events, change events, clients and their grants, bundles, audit
 * records.  Licence rows are one allocation each (licence_row.c).
 */
#include "store_backend.h"

#include <stdlib.h>
#include <string.h>

void
cs_grant_clear(cs_grant *g)
{
	free(g->types);
	free(g->issuer_code);
	free(g->issuer_name);
	memset(g, 0, sizeof(*g));
}

void
cs_grants_free(cs_grant *g, size_t n)
{
	size_t i;

	for (i = 0; g != NULL && i < n; i++)
		cs_grant_clear(&g[i]);
	free(g);
}

static char *
dup_or_null(const char *s, int *bad)
{
	char *d = NULL;

	if (s != NULL && (d = strdup(s)) == NULL)
		*bad = 1;
	return d;
}

/* --- free functions ------------------------------------------------- */

void
cs_event_free(cs_event *e)
{
	if (e != NULL) {
		free(e->licence_id);
		free(e->actor);
		free(e->action);
		free(e->kind);
		free(e->reason);
		free(e->ref);
		free(e);
	}
}

void
cs_events_free(cs_event **evs, size_t n)
{
	size_t i;

	for (i = 0; evs != NULL && i < n; i++)
		cs_event_free(evs[i]);
	free(evs);
}

void
cs_change_free(cs_change *c)
{
	if (c != NULL) {
		free(c->event_id);
		free(c->type);
		free(c->licence_type);
		free(c->licence_id);
		free(c->body);
		free(c);
	}
}

void
cs_changes_free(cs_change **cs, size_t n)
{
	size_t i;

	for (i = 0; cs != NULL && i < n; i++)
		cs_change_free(cs[i]);
	free(cs);
}

void
cs_sub_row_free(cs_sub_row *r)
{
	if (r != NULL) {
		free(r->name);
		free(r->url);
		free(r->types);
		free(r->events);
		free(r->secret);
		free(r);
	}
}

void
cs_sub_rows_free(cs_sub_row **rows, size_t n)
{
	size_t i;

	for (i = 0; rows != NULL && i < n; i++)
		cs_sub_row_free(rows[i]);
	free(rows);
}

void
cs_sub_progress_clear(cs_sub_progress *p)
{
	if (p != NULL) {
		free(p->last.result);
		memset(p, 0, sizeof(*p));
	}
}

void
cs_client_free(cs_client *c)
{
	if (c != NULL) {
		free(c->name);
		free(c->role);
		cs_grants_free(c->grants, c->n_grants);
		free(c);
	}
}

cs_client *
cs_client_dup(const cs_client *c)
{
	cs_client *d;
	size_t i;
	int bad = 0;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	*d = *c;
	d->name = dup_or_null(c->name, &bad);
	d->role = dup_or_null(c->role, &bad);
	d->grants = NULL;
	d->n_grants = 0;
	if (c->n_grants > 0 &&
	    (d->grants = calloc(c->n_grants, sizeof(*d->grants))) == NULL)
		bad = 1;
	for (i = 0; i < c->n_grants && !bad; i++) {
		d->n_grants = i + 1;  /* a partly copied grant is freed too */
		d->grants[i].types = dup_or_null(c->grants[i].types, &bad);
		d->grants[i].issuer_code = dup_or_null(c->grants[i].issuer_code,
		    &bad);
		d->grants[i].issuer_name = dup_or_null(c->grants[i].issuer_name,
		    &bad);
	}
	if (bad) {
		cs_client_free(d);
		return NULL;
	}
	return d;
}

cs_event *
cs_event_dup(const cs_event *e)
{
	cs_event *d;
	int bad = 0;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	*d = *e;
	d->licence_id = dup_or_null(e->licence_id, &bad);
	d->actor = dup_or_null(e->actor, &bad);
	d->action = dup_or_null(e->action, &bad);
	d->kind = dup_or_null(e->kind, &bad);
	d->reason = dup_or_null(e->reason, &bad);
	d->ref = dup_or_null(e->ref, &bad);
	if (bad) {
		cs_event_free(d);
		return NULL;
	}
	return d;
}

void
cs_clients_free(cs_client **cs, size_t n)
{
	size_t i;

	for (i = 0; cs != NULL && i < n; i++)
		cs_client_free(cs[i]);
	free(cs);
}

void
cs_client_tokens_free(cs_client_token **ts, size_t n)
{
	size_t i;

	for (i = 0; ts != NULL && i < n; i++) {
		if (ts[i] != NULL)
			free(ts[i]->client);
		free(ts[i]);
	}
	free(ts);
}

void
cs_bundle_rows_free(cs_bundle_row **bs, size_t n)
{
	size_t i;

	for (i = 0; bs != NULL && i < n; i++)
		cs_bundle_row_free(bs[i]);
	free(bs);
}

void
cs_bundle_row_free(cs_bundle_row *b)
{
	if (b != NULL) {
		free(b->id);
		free(b->client);
		free(b->approval_ref);
		free(b->request_hash);
		free(b);
	}
}

void
cs_copy_rows_free(cs_copy_row **cs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cs_copy_row_free(cs[i]);
	free(cs);
}

void
cs_peer_rows_free(cs_peer_row **ps, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cs_peer_row_free(ps[i]);
	free(ps);
}

void
cs_peer_row_free(cs_peer_row *p)
{
	if (p != NULL) {
		free(p->name);
		free(p->trust_list);
		free(p->status_list);
		free(p->actor);
		free(p);
	}
}

void
cs_copy_row_free(cs_copy_row *c)
{
	if (c != NULL) {
		free(c->id);
		free(c->licence_id);
		free(c->client);
		free(c->purpose);
		free(c->used_by_name);
		free(c->used_by_code);
		free(c);
	}
}

void
cs_hact_row_free(cs_hact_row *r)
{
	if (r != NULL) {
		free(r->key);
		free(r->kind);
		free(r->holder);
		free(r->body);
		free(r);
	}
}

void
cs_hact_rows_free(cs_hact_row **rs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cs_hact_row_free(rs[i]);
	free(rs);
}

void
cs_audit_rec_free(cs_audit_rec *r)
{
	if (r != NULL) {
		free(r->client);
		free(r->action);
		free(r->target);
		free(r->holder);
		free(r->purpose);
		free(r->service_item);
		free(r->case_ref);
		free(r->remote);
		free(r->request_id);
		free(r->result);
		free(r);
	}
}

void
cs_audit_recs_free(cs_audit_rec **rs, size_t n)
{
	size_t i;

	for (i = 0; rs != NULL && i < n; i++)
		cs_audit_rec_free(rs[i]);
	free(rs);
}

