/*
 * holder: the lookup of a holder's licences (GET /api/v1/holders/...):
 * the purpose, the paging and the status filter checked, then the holder's
 * licences read as text a page at a time.
 */
#include "service_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "licence_internal.h"
#include "sbuf.h"
#include "text.h"
#include "timeutil.h"
#include "token.h"

/* --- holder lookup ------------------------------------------------------ */

static int
check_purpose(const cs_purpose *why)
{
	size_t chars;

	if (why == NULL || why->purpose == NULL || why->purpose[0] == '\0')
	{
		cs_err_setc(CS_EINVAL, CS_CAUSE_PURPOSE_REQUIRED, "X-Purpose is "
		    "required: say why the licences are read (申请事由)");
		cs_err_set_reason(CS_FC_REQUIRED);
		return CS_EINVAL;
	}
	chars = cs_utf8_count(why->purpose, strlen(why->purpose));
	if (chars > 200)
	{
		cs_err_setc(CS_EINVAL, CS_CAUSE_INVALID_PARAMETER, "X-Purpose is "
		    "%zu characters, at most 200", chars);
		cs_err_set_reason(CS_FC_MAX_LENGTH);
		return CS_EINVAL;
	}
	return 0;
}

static const char *const statuses[] = {"valid", "not_yet_valid", "expired",
    "suspended", "revoked", "superseded"};

/* A page of a holder lookup holds 100 licences unless ?limit= says
 * otherwise, and at most 1,000 (docs/design.md, "Holder lookups"). */
#define PAGE_DEFAULT 100
#define PAGE_MAX 1000
/* The licences one page reads, at most, to fill itself when the reader's
 * grants or ?status= leave some out: a page's work is bounded whatever the
 * holder holds, and a page may then hold fewer than its limit (even none)
 * with a next cursor to follow. */
#define PAGE_READ_MAX 5000

/* s as a number of 1 to max, decimal digits only; -1 when it is not. */
static long long
page_param(const char *s, long long max)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return *end != '\0' || errno != 0 || v < 1 || v > max ? -1 : v;
}

/* Where a lookup's page starts and how long it is. */
struct page {
	int64_t pos;   /* the store's position (0: the newest) */
	size_t limit;
};

/* ?limit= and ?cursor=, a problem naming each that is bad.  A cursor is
 * the store's position as a decimal number: opaque to the caller, who
 * only hands back the "next" of a page. */
static void
check_page(const cs_holder_query *q, struct page *pg, cs_problems *p)
{
	long long v;

	pg->limit = PAGE_DEFAULT;
	pg->pos = 0;
	if (q->limit != NULL) {
		if ((v = page_param(q->limit, PAGE_MAX)) < 0)
			cs_problems_addc(p, "limit", CS_FC_RANGE, "limit must be a number of 1 "
			    "to %d", PAGE_MAX);
		else
			pg->limit = (size_t)v;
	}
	if (q->cursor != NULL) {
		if ((v = page_param(q->cursor, INT64_MAX)) < 0)
			cs_problems_addc(p, "cursor", CS_FC_INVALID, "cursor must be the \"next\" "
			    "of an earlier page");
		else
			pg->pos = (int64_t)v;
	}
}

/* CS_EINVAL with the first problem from before on as its message. */
static int
lookup_refused(const cs_problems *p, size_t before)
{
	if (p->n == before + 1)
		return cs_err_set(CS_EINVAL, "%s", p->items[before].message);
	return cs_err_set(CS_EINVAL, "%s; and %zu more problems",
	    p->items[before].message, p->n - before - 1);
}

/* A string of 17 digits and a last digit or X: the shape of a resident ID
 * (a credit code may have it too). */
static int
rid_shaped(const char *code)
{
	return strspn(code, "0123456789") >= CS_RID_LEN - 1 &&
	    (isdigit((unsigned char)code[CS_RID_LEN - 1]) ||
	    code[CS_RID_LEN - 1] == 'X');
}

/*
 * The path's holder code, normalised into norm: a credit code (USCC) or a
 * resident ID (RID) that passes its check, or a problem naming "code" (a
 * typo is a 400, never an empty 200 that reads "holds no licence").
 * ?unchecked=true reads a pilot-region credit code whose only fault is its
 * check character, as holder.unchecked issues one (SPEC §2).
 */
static void
check_code(const cs_holder_query *q, char *norm, size_t n, cs_problems *p)
{
	char trial[CS_USCC_LEN + 1], why[160];
	const char *reason;
	int unchecked = q->unchecked != NULL && strcmp(q->unchecked, "true") == 0;

	if (q->unchecked != NULL && !unchecked &&
	    strcmp(q->unchecked, "false") != 0)
		cs_problems_addc(p, "unchecked", CS_FC_ENUM, "must be true or false");
	if (strlen(q->code) != CS_USCC_LEN) {
		cs_problems_addc(p, "code", CS_FC_LENGTH, "holder code is %zu characters, "
		    "expected 18", strlen(q->code));
		return;
	}
	snprintf(norm, n, "%s", q->code);
	if (cs_code_check_uscc(norm) == 0 || cs_code_check_rid(norm) == 0)
		return;
	cs_code_check_uscc(norm);
	snprintf(why, sizeof(why), "%s", cs_err_msg());
	reason = cs_err_reason();
	memcpy(trial, norm, sizeof(trial));
	trial[CS_USCC_LEN - 1] = cs_uscc_check_char(trial);
	if (unchecked && trial[CS_USCC_LEN - 1] > 0 &&
	    cs_code_check_uscc(trial) == 0)
		return;
	if (rid_shaped(norm)) {
		cs_code_check_rid(norm);
		/* Either check character wrong is the likelier typo. */
		if (reason == NULL ||
		    strcmp(reason, CS_FC_CHECK_CHARACTER) != 0)
			reason = cs_err_reason();
		cs_problems_addc(p, "code", reason, "fails as a credit "
		    "code (%s) and as "
		    "a resident ID (%s)", why, cs_err_msg());
	} else
		cs_problems_addc(p, "code", reason, "credit code %s%s", why,
		    trial[CS_USCC_LEN - 1] > 0 ? "; a pilot-region code whose "
		    "check character is known to be wrong is read with "
		    "?unchecked=true" : "");
}

/*
 * The lookup's parameters, each problem naming its own (docs/design.md):
 * the holder code of the path "code", the filters "status" and "type",
 * the page's "limit" and "cursor".  CS_EINVAL (a 400, like a malformed
 * licence id in a path) with every problem in p, or 0 with the code
 * normalised into norm and the page into pg.
 */
static int
check_lookup(cs_service *svc, const cs_holder_query *q, char *norm, size_t n,
    struct page *pg, cs_problems *p)
{
	size_t before = p->n, i;
	int known = q->status == NULL;

	check_code(q, norm, n, p);
	for (i = 0; !known && i < sizeof(statuses) / sizeof(statuses[0]); i++)
		known = strcmp(q->status, statuses[i]) == 0;
	if (!known)
		cs_problems_addc(p, "status", CS_FC_ENUM, "status '%.32s' is not "
		    "one of valid, "
		    "not_yet_valid, expired, suspended, revoked, superseded",
		    q->status);
	if (q->type != NULL && cs_catalog_find(svc->catalog, q->type) == NULL)
		cs_problems_addc(p, "type", CS_FC_ENUM, "type '%.32s' is not in "
		    "the catalog",
		    q->type);
	check_page(q, pg, p);
	if (p->n == before)
		return 0;
	lookup_refused(p, before);
	/* A bad holder code is the refusal a partner agency must not read
	 * as "holds nothing": its own type. */
	for (i = before; i < p->n; i++)
		if (strcmp(p->items[i].field, "code") == 0)
			break;
	cs_err_set_cause(i < p->n ? CS_CAUSE_INVALID_CODE :
	    CS_CAUSE_INVALID_PARAMETER);
	return CS_EINVAL;
}

/*
 * One page of the holder's licences the reader may see, with the status
 * asked for, as JSON text appended to b; *count says how many.  Rows the
 * grants or the status leave out are read and passed over, PAGE_READ_MAX
 * rows read in all at most; pg->pos is left where the next page starts
 * (0: nothing follows).  Each read asks the store for no more rows than the
 * page still has room for, so every row read is either shown or passed
 * over, and the next page starts right after the last one read.
 */
/*
 * The views of the rows the reader may read, appended to b as
 * holder_page says, their status events read in one call (on PostgreSQL
 * one round trip for the lot, where a licence at a time took one each).
 */
static int
rows_views(cs_service *svc, const cs_actor *who, const json_t *auth,
    cs_licence_row **rows, size_t n, const cs_holder_query *q, time_t now,
    cs_sbuf *b, size_t *count)
{
	const char **ids = NULL;
	cs_event **evs = NULL;
	size_t *counts = NULL, i, k = 0, m = 0, at = 0, total = 0;
	int rc = 0, shown;

	if (n == 0)
		return 0;
	if ((ids = calloc(n, sizeof(*ids))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		if (auth != NULL ? cs_auth_covers(auth, rows[i]->id,
		    rows[i]->type) : cs_may_read(who->client, rows[i]->type,
		    rows[i]->issuer_code))
			ids[m++] = rows[i]->id;
	if (m > 0 && (rc = cs_store_events_for_many(svc->store, ids, m, &evs,
	    &counts, &total)) != 0)
		goto out;
	for (i = 0; i < n && rc == 0; i++) {
		if (k == m || rows[i]->id != ids[k])
			continue;  /* not the reader's to see */
		rc = cs_licence_view_sb_evs(svc, rows[i], counts[k] ? evs + at :
		    NULL, counts[k], now, q->status, *count ? "," : "", b, &shown);
		*count += (size_t)shown;
		at += counts[k++];
	}
out:
	cs_events_free(evs, total);
	free(counts);
	free(ids);
	return rc;
}

static int
holder_page(cs_service *svc, const cs_actor *who, const json_t *auth,
    const char *holder,
    const cs_holder_query *q, struct page *pg, cs_sbuf *b, size_t *count)
{
	cs_licence_row **rows = NULL;
	size_t n = 0, read = 0, want;
	time_t now = cs_now();
	int rc = 0;

	*count = 0;
	do {
		want = pg->limit - *count;
		if (want > PAGE_READ_MAX - read)
			want = PAGE_READ_MAX - read;
		if ((rc = cs_store_licences_by_holder(svc->store, holder,
		    q->type, &pg->pos, want, &rows, &n)) != 0)
			break;
		rc = rows_views(svc, who, auth, rows, n, q, now, b, count);
		read += n;
		cs_licence_rows_free(rows, n);
	} while (rc == 0 && pg->pos != 0 && *count < pg->limit &&
	    read < PAGE_READ_MAX);
	return rc;
}

/* A lookup refused before it read anything (by a client that is not a
 * reader, or without its purpose), audited as denied: the holder code is
 * recorded when it passes its check, so a record holds nothing the caller
 * made up.  rc, the refusal, is returned with its message. */
static int
refused(cs_service *svc, const cs_actor *who, const cs_holder_query *q,
    int rc)
{
	cs_problems ignore = CS_PROBLEMS_INIT;
	char msg[512], norm[CS_USCC_LEN + 1] = "";
	const char *code;
	int arc = CS_EFORBIDDEN, cause = cs_err_cause();

	snprintf(msg, sizeof(msg), "%s", cs_err_msg());
	check_code(q, norm, sizeof(norm), &ignore);
	code = ignore.n == 0 ? norm : NULL;
	cs_problems_reset(&ignore);
	if (who != NULL && who->client != NULL)
		arc = cs_audit_denied(svc, who, "holder_lookup", code ? code : "",
		    code);
	/* A record that cannot be kept (a full disk) is the answer: 503. */
	return arc != CS_EFORBIDDEN ? arc : cs_err_setc(rc, cause, "%s", msg);
}

int
cs_holder_licences_text(cs_service *svc, const cs_actor *who,
    const cs_holder_query *q, const cs_purpose *why, char **out,
    cs_problems *problems)
{
	cs_problems none = CS_PROBLEMS_INIT, *p = problems ? problems : &none;
	cs_sbuf b = CS_SBUF_INIT;
	char norm[CS_USCC_LEN + 1], next[24], code[CS_AUTH_CODE_LEN + 1];
	cs_purpose granted;
	json_t *auth = NULL;
	struct page pg;
	size_t count = 0;
	int rc;

	*out = NULL;
	/* SPEC §5: a reader, and only a reader.  An admin reads licences and
	 * the audit log, but a lookup of everything a holder has is the
	 * partner agencies' business, granted per type and stated purpose. */
	if (who == NULL || who->client == NULL ||
	    strcmp(who->client->role, "reader") != 0) {
		cs_err_setc(CS_EFORBIDDEN, CS_CAUSE_ROLE_FORBIDDEN,
		    "only a reader client may look up a "
		    "holder's licences");
		rc = refused(svc, who, q, CS_EFORBIDDEN);
		goto out;
	}
	/* With a use authorisation (SPEC §10) the purpose is the one the
	 * holder agreed to, unless the reader states its own; a typo in the
	 * code is a 400 before anything is read. */
	if (who->auth_code != NULL) {
		if ((rc = cs_auth_code_check(who->auth_code, code)) != 0)
			goto out;
		if ((rc = check_lookup(svc, q, norm, sizeof(norm), &pg, p)) != 0)
			goto out;
		if ((rc = cs_auth_redeem(svc, who, norm, NULL, NULL, &auth)) != 0)
			goto out;
		if (why == NULL || why->purpose == NULL || why->purpose[0] == '\0') {
			granted.purpose = json_string_value(json_object_get(auth,
			    "purpose"));
			granted.service_item = json_string_value(json_object_get(
			    auth, "service_item"));
			granted.case_ref = json_string_value(json_object_get(auth,
			    "id"));
			why = &granted;
		}
	}
	if ((rc = check_purpose(why)) != 0) {
		cs_problems_adderr(p, "X-Purpose");
		rc = refused(svc, who, q, CS_EINVAL);
		goto out;
	}
	if ((rc = check_lookup(svc, q, norm, sizeof(norm), &pg, p)) != 0)
		goto out;
	/* The answer's text as json_pack("{ss so s?}") and json_dumps made it. */
	cs_sb_puts(&b, "{\"holder_code\":");
	cs_sb_json_string(&b, norm);
	cs_sb_puts(&b, ",\"certificates\":[");
	if ((rc = holder_page(svc, who, auth, norm, q, &pg, &b, &count)) ==
	    CS_EINVAL) {
		cs_problems_addc(p, "cursor", CS_FC_INVALID, "cursor is not one "
		    "of this holder's "
		    "pages");
		rc = lookup_refused(p, p->n - 1);
		goto out;
	}
	if (rc != 0)
		goto out;
	snprintf(next, sizeof(next), "\"%lld\"", (long long)pg.pos);
	cs_sb_puts(&b, "],\"next\":");
	cs_sb_puts(&b, pg.pos != 0 ? next : "null");
	cs_sb_puts(&b, "}");
	if (b.failed) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = cs_audit_read(svc, who, "holder_lookup", norm, norm, why,
	    (int64_t)count)) != 0)
		goto out;
	*out = b.p;
	b.p = NULL;
out:
	json_decref(auth);
	cs_problems_reset(&none);
	cs_sb_free(&b);
	return rc;
}

int
cs_holder_licences(cs_service *svc, const cs_actor *who,
    const cs_holder_query *q, const cs_purpose *why, json_t **out,
    cs_problems *problems)
{
	json_error_t err;
	char *text = NULL;
	int rc;

	*out = NULL;
	if ((rc = cs_holder_licences_text(svc, who, q, why, &text,
	    problems)) == 0 && (*out = json_loads(text, 0, &err)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	free(text);
	return rc;
}
