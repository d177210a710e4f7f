/*
 * usage: the holder's own record (用证记录, SPEC §10): every presentation
 * shown and every read made with a use authorisation, newest first, paged,
 * for a portal to show the holder.  No remote addresses, no codes.
 *
 * One row per line under the key "U" holder, numbered by the wall clock in
 * microseconds (plus a random tail, so that two nodes writing in the same
 * millisecond do not collide; a collision takes the next number): the
 * greatest number is the newest line, and a page is the rows below the
 * cursor.
 */
#include "holder_loop.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "rfc3339.h"
#include "timeutil.h"

#define USAGE_PAGE_DEFAULT 50
#define USAGE_PAGE_MAX 500

int
cs_hl_usage_add(cs_service *svc, const char *holder, json_t *body)
{
	char key[CS_HL_KEY_MAX];
	uint16_t r = 0;
	int64_t n;
	int rc = CS_ECONFLICT, tries;

	snprintf(key, sizeof(key), "U%s", holder);
	(void)RAND_bytes((unsigned char *)&r, sizeof(r));
	n = cs_wall_ms() * 1000 + r % 1000;
	for (tries = 0; rc == CS_ECONFLICT && tries < 8; tries++, n++)
		rc = cs_hl_put(svc, key, n, "usage", holder, body);
	return rc;
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
	char holder[CS_USCC_LEN + 1], key[CS_HL_KEY_MAX], at[21], next[24];
	cs_hact_row **rows = NULL;
	json_t *items = NULL, *b;
	size_t n = 0, i, before = p->n;
	long long lim, cur;
	int rc;

	*out = NULL;
	if ((rc = cs_hl_require_portal(who, "read a holder's usage record")) != 0)
		return rc;
	if (cs_hl_holder_code(holder_in, holder, p, "code") != 0)
		holder[0] = '\0';
	lim = number(limit, 1, USAGE_PAGE_MAX, USAGE_PAGE_DEFAULT, "limit",
	    "limit must be a number of 1 to 500", p);
	cur = number(cursor, 1, INT64_MAX, INT64_MAX, "cursor", "cursor must "
	    "be the \"next\" of an earlier page", p);
	if (p->n > before)
		return cs_err_set(CS_EINVAL, "%s", p->items[before].message);
	snprintf(key, sizeof(key), "U%s", holder);
	if ((rc = cs_store_hacts_get(svc->store, key, (int64_t)cur,
	    (size_t)lim + 1, &rows, &n)) != 0)
		return rc;
	if ((items = json_array()) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n && i < (size_t)lim; i++) {
		if ((b = cs_hl_body(rows[i])) == NULL)
			continue;
		cs_rfc3339((time_t)rows[i]->at, at);
		json_object_set_new(b, "at", json_string(at));
		json_array_append_new(items, b);
	}
	snprintf(next, sizeof(next), "%lld", n > (size_t)lim ?
	    (long long)rows[lim - 1]->n : 0LL);
	*out = json_pack("{ss so ss?}", "holder_code", holder, "usage", items,
	    "next", n > (size_t)lim ? next : NULL);
	items = NULL;
	if (*out == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	else if ((rc = cs_audit_read(svc, who, "usage_read", holder, holder,
	    NULL, (int64_t)json_array_size(json_object_get(*out, "usage")))) != 0) {
		json_decref(*out);
		*out = NULL;
	}
out:
	json_decref(items);
	cs_hact_rows_free(rows, n);
	return rc;
}
