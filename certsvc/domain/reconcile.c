/*
 * reconcile: an issuer's own licences, paged, for reconciling with its
 * approval system (GET /api/v1/certificates?approval_ref=&issued_after=
 * &issued_before=): what did certsvc issue for this case, or in this
 * window?  Only the calling client's licences, oldest first, the page's
 * "next" a keyset cursor (issue time and id of its last licence) that
 * stays right while licences are added.
 */
#include "service_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "licence_internal.h"
#include "sbuf.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

/* "<issued_at>~<id>": the cursor of the row a page ended with. */
static int
parse_cursor(const char *s, cs_licence_filter *f)
{
	char *end;
	long long at;

	errno = 0;
	at = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '~' || cs_check_id(end + 1) != 0)
		return -1;
	f->after_at = at;
	f->after_id = end + 1;
	return 0;
}

static int
check_query(const cs_reconcile_query *q, cs_licence_filter *f,
    cs_problems *p)
{
	size_t before = p->n;
	char *end;
	long v;

	f->limit = PAGE_DEFAULT;
	if (q->limit != NULL) {
		errno = 0;
		v = strtol(q->limit, &end, 10);
		if (errno != 0 || end == q->limit || *end != '\0' || v < 1 ||
		    v > PAGE_MAX)
			cs_problems_addc(p, "limit", CS_FC_RANGE, "limit must be "
			    "a number of 1 to %d", PAGE_MAX);
		else
			f->limit = (size_t)v;
	}
	if (q->cursor != NULL && parse_cursor(q->cursor, f) != 0)
		cs_problems_addc(p, "cursor", CS_FC_INVALID, "cursor must be "
		    "the \"next\" of an earlier page");
	if (q->approval_ref != NULL && q->approval_ref[0] == '\0')
		cs_problems_addc(p, "approval_ref", CS_FC_EMPTY, "must not be "
		    "empty");
	if (q->from != 0 && q->until != 0 && q->until <= q->from)
		cs_problems_addc(p, "issued_before", CS_FC_RANGE, "must be "
		    "later than issued_after");
	if (p->n == before)
		return 0;
	return cs_err_setc(CS_EINVAL, CS_CAUSE_INVALID_PARAMETER, "%s",
	    p->items[before].message);
}

int
cs_licences_reconcile(cs_service *svc, const cs_actor *who,
    const cs_reconcile_query *q, char **out, cs_problems *problems)
{
	cs_problems none = CS_PROBLEMS_INIT, *p = problems ? problems : &none;
	cs_licence_filter f;
	cs_licence_row **rows = NULL;
	cs_sbuf b = CS_SBUF_INIT;
	time_t now = cs_now();
	size_t i, n = 0;
	int rc;

	*out = NULL;
	memset(&f, 0, sizeof(f));
	if ((rc = cs_require_issuer(who ? who->client : NULL,
	    "list the licences it issued")) != 0) {
		if (who != NULL && who->client != NULL)
			rc = cs_audit_denied(svc, who, "reconcile",
			    q->approval_ref ? q->approval_ref : "", NULL);
		goto out;
	}
	if ((rc = check_query(q, &f, p)) != 0)
		goto out;
	f.client = who->client->name;
	f.approval_ref = q->approval_ref;
	f.from = q->from;
	f.until = q->until;
	if ((rc = cs_store_licences_by_client(svc->store, &f, &rows, &n)) != 0)
		goto out;
	cs_sb_puts(&b, "{\"certificates\":[");
	for (i = 0; i < n; i++) {
		char *text = NULL;

		if ((rc = cs_licence_view_text(svc, rows[i], now, &text)) != 0)
			goto out;
		cs_sb_puts(&b, i ? "," : "");
		cs_sb_puts(&b, text);
		free(text);
	}
	cs_sb_puts(&b, "],\"next\":");
	/* A full page may have more behind it; the last page is short. */
	if (n == f.limit && n > 0)
		cs_sb_printf(&b, "\"%lld~%s\"}", (long long)rows[n - 1]->issued_at,
		    rows[n - 1]->id);
	else
		cs_sb_puts(&b, "null}");
	if (b.failed) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = cs_audit_read(svc, who, "reconcile", q->approval_ref ?
	    q->approval_ref : "", NULL, NULL, (int64_t)n)) != 0)
		goto out;
	*out = b.p;
	b.p = NULL;
out:
	cs_licence_rows_free(rows, n);
	cs_problems_reset(&none);
	cs_sb_free(&b);
	return rc;
}
