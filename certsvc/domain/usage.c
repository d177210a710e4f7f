/*
 * usage: the holder's own record (用证记录, SPEC §10): every use of the
 * holder's licences (a read by a partner agency with its grant or with a
 * use authorisation, a holder lookup, a presentation shown, an annotated
 * copy made or downloaded), newest first, paged, for a portal to show the
 * holder.  No remote addresses, no codes.
 *
 * The record is a view of the audit log, not a second copy of it
 * (docs/design.md, "The holder's record"): every use is already audited
 * with the holder's code, in the same transaction or writer batch as the
 * use itself, so a line cannot be missing from one and present in the
 * other, and the read path writes nothing more.  A page reads the holder's
 * audit records newest first (the holder key of the audit index, both
 * backends) and keeps the uses.  The cursor is an audit sequence number.
 */
#include "holder_loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "rfc3339.h"

#define USAGE_PAGE_DEFAULT 50
#define USAGE_PAGE_MAX 500
/* Audit records read per store query, and at most per page: a holder's
 * log also holds what is not a use (the portal's own acts, its reads of
 * this record, refusals), and a page stops after this many records even
 * when short, its "next" resuming after them. */
#define USAGE_BATCH 500
#define USAGE_SCAN_MAX 5000
/* How far behind a read or lookup its request's authorised_read record
 * is looked for: both are put by one thread back to back, so they lie
 * next to each other unless other reads of the same holder interleave. */
#define USAGE_LOOKAHEAD 32

/* The audit actions that are uses of a holder's licences. */
static int
is_use(const char *action)
{
	static const char *const uses[] = {"read", "holder_lookup",
		"authorised_read", "presentation_shown", "copy", "copy_read"};
	size_t i;

	for (i = 0; i < sizeof(uses) / sizeof(uses[0]); i++)
		if (strcmp(action, uses[i]) == 0)
			return 1;
	return 0;
}

/* A read or lookup made with a use authorisation is audited twice (as
 * itself and as authorised_read, the older record, with the holder's
 * purpose and the authorisation): the record shows the second once. */
static int
told_by_authorisation(cs_audit_rec *const *recs, size_t i, size_t n)
{
	const cs_audit_rec *r = recs[i];
	size_t j;

	if (r->request_id == NULL || (strcmp(r->action, "read") != 0 &&
	    strcmp(r->action, "holder_lookup") != 0))
		return 0;
	for (j = i + 1; j < n && j <= i + USAGE_LOOKAHEAD; j++)
		if (strcmp(recs[j]->action, "authorised_read") == 0 &&
		    recs[j]->request_id != NULL &&
		    strcmp(recs[j]->request_id, r->request_id) == 0)
			return 1;
	return 0;
}

/* The licences a presentation showed, from its row (case_ref: the hex
 * SHA-256 of its code, as its key holds it); NULL when unknown. */
static json_t *
shown(cs_service *svc, const char *ref)
{
	char key[CS_HL_KEY_MAX];
	cs_hact_row **rows = NULL;
	json_t *body, *ids = NULL;
	size_t n = 0;

	if (ref == NULL || strlen(ref) != 64)
		return NULL;
	snprintf(key, sizeof(key), "P%s", ref);
	if (cs_store_hacts_get(svc->store, key, 1, 1, &rows, &n) == 0 && n == 1 &&
	    (body = cs_hl_body(rows[0])) != NULL) {
		ids = json_incref(json_object_get(body, "licences"));
		json_decref(body);
	}
	cs_hact_rows_free(rows, n);
	return ids;
}

/* One line of the record from a use's audit record. */
static json_t *
line(cs_service *svc, const char *holder, const cs_audit_rec *r)
{
	char at[21];
	json_t *l;
	const char *a = r->action;
	int about_licence = r->target != NULL && strcmp(r->target, holder) != 0;

	cs_rfc3339((time_t)(r->at_ms / 1000), at);
	if ((l = json_pack("{ss ss ss? ss? ss?}", "at", at, "what", a, "client",
	    r->client, "purpose", r->purpose, "service_item",
	    r->service_item)) == NULL)
		return NULL;
	if (strcmp(a, "authorised_read") == 0 && r->case_ref != NULL)
		json_object_set_new(l, "authorisation_id",
		    json_string(r->case_ref));
	if (strcmp(a, "copy") == 0 && r->case_ref != NULL)
		json_object_set_new(l, "copy_id", json_string(r->case_ref));
	if (strcmp(a, "copy_read") == 0 && r->target != NULL)
		json_object_set_new(l, "copy_id", json_string(r->target));
	if (strcmp(a, "presentation_shown") == 0)
		json_object_set_new(l, "licences", shown(svc, r->case_ref));
	else if (about_licence && strcmp(a, "copy_read") != 0)
		json_object_set_new(l, "licences", json_pack("[s]", r->target));
	if (strcmp(a, "holder_lookup") == 0)
		json_object_set_new(l, "count", json_integer(r->result_count));
	if (json_is_null(json_object_get(l, "licences")))
		json_object_del(l, "licences");
	return l;
}

/*
 * Up to lim lines from the holder's uses older than audit seq before, into
 * items; *next: the seq to resume below (0: nothing older).  Records are
 * read in batches; a read whose authorised_read sibling may lie in the
 * next batch is left for that batch.
 */
static int
collect(cs_service *svc, const char *holder, int64_t before, size_t lim,
    json_t *items, int64_t *next)
{
	cs_audit_filter f;
	cs_audit_rec **recs = NULL;
	size_t n = 0, i, end, scanned = 0;
	json_t *l;
	int rc = 0, more = 1;

	*next = 0;
	while (more && json_array_size(items) < lim && scanned < USAGE_SCAN_MAX) {
		memset(&f, 0, sizeof(f));
		f.holder = holder;
		f.result = "ok";
		f.before_seq = before;
		f.limit = USAGE_BATCH;
		if ((rc = cs_store_audit_query(svc->store, &f, &recs, &n)) != 0)
			return rc;
		more = n == USAGE_BATCH;
		end = more ? n - USAGE_LOOKAHEAD : n;
		for (i = 0; i < end && json_array_size(items) < lim; i++) {
			before = recs[i]->seq;
			if (!is_use(recs[i]->action) ||
			    told_by_authorisation(recs, i, n))
				continue;
			if ((l = line(svc, holder, recs[i])) == NULL) {
				rc = cs_err_set(CS_ENOMEM, "out of memory");
				break;
			}
			json_array_append_new(items, l);
		}
		scanned += i;
		/* Stopped with records left over (a full page, or the scan
		 * bound): older ones may remain. */
		if (i < n)
			more = 1;
		cs_audit_recs_free(recs, n);
		recs = NULL;
		if (rc != 0)
			return rc;
	}
	*next = more ? before : 0;
	return 0;
}

/* ?limit= and ?cursor=: numbers, each a problem when bad. */
static long long
number(const char *s, long long lo, long long hi, long long def,
    const char *field, const char *what, cs_problems *p)
{
	char *end;
	long long v;

	if (s == NULL)
		return def;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < lo ||
	    v > hi) {
		cs_problems_add(p, field, "%s", what);
		return -1;
	}
	return v;
}

int
cs_usage_list(cs_service *svc, const cs_actor *who, const char *holder_in,
    const char *limit, const char *cursor, json_t **out, cs_problems *p)
{
	char holder[CS_USCC_LEN + 1], next[24];
	json_t *items = NULL;
	size_t before = p->n;
	long long lim, cur;
	int64_t nx = 0;
	int rc, bad_code;

	*out = NULL;
	if ((rc = cs_hl_require_portal(who, "read a holder's usage record")) != 0)
		return rc;
	/* A holder code failing its check is 422 (SPEC §10), as on the
	 * other holder routes; a bad limit or cursor alone is 400. */
	if ((bad_code = cs_hl_holder_code(holder_in, holder, p, "code")) != 0)
		holder[0] = '\0';
	lim = number(limit, 1, USAGE_PAGE_MAX, USAGE_PAGE_DEFAULT, "limit",
	    "limit must be a number of 1 to 500", p);
	cur = number(cursor, 1, INT64_MAX, INT64_MAX, "cursor", "cursor must "
	    "be the \"next\" of an earlier page", p);
	if (p->n > before)
		return cs_err_set(bad_code != 0 ? CS_EVALIDATION : CS_EINVAL,
		    "%s", p->items[before].message);
	/* Every use answered so far is in the record the holder sees. */
	if ((rc = cs_audit_settle(svc)) != 0)
		return rc;
	if ((items = json_array()) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	if ((rc = collect(svc, holder, (int64_t)cur, (size_t)lim, items,
	    &nx)) != 0)
		goto out;
	snprintf(next, sizeof(next), "%lld", (long long)nx);
	*out = json_pack("{ss sO ss?}", "holder_code", holder, "usage", items,
	    "next", nx != 0 ? next : NULL);
	if (*out == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	else if ((rc = cs_audit_read(svc, who, "usage_read", holder, holder,
	    NULL, (int64_t)json_array_size(items))) != 0) {
		json_decref(*out);
		*out = NULL;
	}
out:
	json_decref(items);
	return rc;
}
