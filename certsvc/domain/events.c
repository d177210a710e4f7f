/*
 * events: the change feed of SPEC §9.  cs_change_emit() writes the event
 * of a change into the outbox (store.h, cs_change) inside the change's
 * own transaction, so an event exists exactly when its change does: a
 * rolled-back issuance or an idempotent replay leaves none.  cs_events_*
 * read the feed for a client, filtered by its grants.
 */
#include "service_internal.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "rfc3339.h"
#include "timeutil.h"

#define EVENT_ID_BYTES 16
/* A page of the feed skips the events a reader may not see; it reads at
 * most this many pages of the store looking for its own before it
 * answers with what it found (next_after moves past the skipped ones). */
#define SCAN_PAGES 8

/* The licence metadata of an event: the record's public fields (SPEC §1)
 * without the token, the face fields, the approval reference and the
 * signing key, with the holder's national code type and the status
 * after the change.  NULL when out of memory. */
static json_t *
licence_meta(const json_t *rec, const char *status)
{
	static const char *const keys[] = {"id", "type", "type_name", "number",
	    "issuer", "issued_at", "valid_from", "valid_until", "supersedes",
	    "bundle"};
	const json_t *h = json_object_get(rec, "holder");
	const char *ct = json_string_value(json_object_get(h, "code_type"));
	const char *nat = ct != NULL ? cs_code_type_national(ct) : NULL;
	json_t *m = json_object(), *holder;
	size_t i;

	if (m == NULL)
		return NULL;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(rec, keys[i]);

		if (json_object_set_new(m, keys[i],
		    v != NULL ? json_deep_copy(v) : json_null()) != 0)
			goto fail;
	}
	holder = json_pack("{sO? sO? sO? ss?}", "name",
	    json_object_get(h, "name"), "code_type", json_object_get(h, "code_type"),
	    "code", json_object_get(h, "code"), "code_type_code", nat);
	if (holder == NULL || json_object_set_new(m, "holder", holder) != 0 ||
	    json_object_set_new(m, "status", json_string(status)) != 0)
		goto fail;
	return m;
fail:
	json_decref(m);
	return NULL;
}

static int
event_id(char out[2 * EVENT_ID_BYTES + 5])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[EVENT_ID_BYTES];
	size_t i;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return cs_err_openssl("event id");
	memcpy(out, "evt_", 4);
	for (i = 0; i < sizeof(raw); i++) {
		out[4 + 2 * i] = hex[raw[i] >> 4];
		out[5 + 2 * i] = hex[raw[i] & 15];
	}
	out[4 + 2 * sizeof(raw)] = '\0';
	return 0;
}

int
cs_change_emit(cs_service *svc, const char *type, const json_t *rec,
    const char *status, const char *reason, const char *kind)
{
	char id[2 * EVENT_ID_BYTES + 5], at[21];
	json_t *ev = NULL, *meta;
	cs_change ch;
	time_t now = cs_now();
	int rc;

	if ((rc = event_id(id)) != 0)
		return rc;
	cs_rfc3339(now, at);
	if ((meta = licence_meta(rec, status)) == NULL ||
	    (ev = json_pack("{ss ss ss so ss* ss*}", "event_id", id, "type", type,
	    "at", at, "licence", meta, "reason", reason, "kind", kind)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	memset(&ch, 0, sizeof(ch));
	ch.event_id = id;
	ch.type = (char *)type;
	ch.licence_type = (char *)json_string_value(json_object_get(rec, "type"));
	ch.licence_id = (char *)json_string_value(json_object_get(rec, "id"));
	ch.at = (int64_t)now;
	if ((ch.body = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	else
		rc = cs_store_change_append(svc->store, &ch);
	free(ch.body);
out:
	json_decref(ev);
	return rc;
}

/* --- reading the feed --------------------------------------------------- */

/* A decimal of 0..max in text: 0, or CS_EINVAL. */
static int
parse_count(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || s[0] < '0' || s[0] > '9' || strlen(s) > 19)
		return CS_EINVAL;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return CS_EINVAL;
	*out = (int64_t)v;
	return 0;
}

int
cs_events_parse(const char *after, const char *limit, int64_t *after_out,
    int *limit_out, cs_problems *p)
{
	int64_t v = 0;

	*after_out = 0;
	*limit_out = CS_EVENTS_LIMIT_DEFAULT;
	if (after != NULL && parse_count(after, 0, INT64_MAX, after_out) != 0)
		cs_problems_addc(p, "after", CS_FC_RANGE, "must be a sequence number: a whole "
		    "number, 0 or more (an earlier answer's next_after)");
	if (limit != NULL) {
		if (parse_count(limit, 1, CS_EVENTS_LIMIT_MAX, &v) != 0)
			cs_problems_addc(p, "limit", CS_FC_RANGE, "must be a whole number from 1 "
			    "to 1000");
		else
			*limit_out = (int)v;
	}
	if (p->n == 0)
		return 0;
	return cs_err_set(CS_EINVAL, "%s %s", p->items[0].field,
	    p->items[0].message);
}

/* May c see ch?  What it may read (cs_may_read), by the licence's type
 * and issuing authority, which its id names.  No client: the operator at
 * the machine (certsvc events), who reads the library itself. */
static int
may_see(const cs_client *c, const cs_change *ch)
{
	cs_licence_id parts;

	if (c == NULL || strcmp(c->role, "admin") == 0)
		return 1;
	cs_licence_id_parse(ch->licence_id, &parts);
	return cs_may_read(c, ch->licence_type, parts.issuer);
}

/* Append ch's event, its seq first, to the array events. */
static int
add_event(json_t *events, const cs_change *ch)
{
	json_t *v = json_loads(ch->body, 0, NULL), *out;

	if (v == NULL)
		return cs_err_set(CS_ESTORE, "change event %lld: unreadable body",
		    (long long)ch->seq);
	out = json_pack("{sI}", "seq", (json_int_t)ch->seq);
	if (out == NULL || json_object_update(out, v) != 0 ||
	    json_array_append_new(events, out) != 0) {
		json_decref(out);
		json_decref(v);
		return cs_err_set(CS_ENOMEM, "out of memory");
	}
	json_decref(v);
	return 0;
}

int
cs_events_read(cs_service *svc, const cs_actor *who, int64_t after, int limit,
    json_t **out, size_t *count)
{
	cs_change **chs = NULL;
	json_t *events = json_array();
	size_t i, n = 0, page;
	int64_t next = after;
	int rc = 0;

	*out = NULL;
	*count = 0;
	if (events == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	for (page = 0; page < SCAN_PAGES && rc == 0 &&
	    json_array_size(events) < (size_t)limit; page++) {
		cs_changes_free(chs, n);
		chs = NULL;
		if ((rc = cs_store_changes_page(svc->store, next, (size_t)limit,
		    &chs, &n)) != 0)
			break;
		for (i = 0; i < n && rc == 0 &&
		    json_array_size(events) < (size_t)limit; i++) {
			next = chs[i]->seq;
			if (may_see(who->client, chs[i]))
				rc = add_event(events, chs[i]);
		}
		if (n < (size_t)limit)
			break;
	}
	cs_changes_free(chs, n);
	if (rc == 0 && (*out = json_pack("{so sI}", "events", events,
	    "next_after", (json_int_t)next)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	else if (rc == 0)
		*count = json_array_size(events);
	else
		json_decref(events);
	return rc;
}

int
cs_events_audit(cs_service *svc, const cs_actor *who, int64_t after,
    size_t count)
{
	char target[24];

	snprintf(target, sizeof(target), "%lld", (long long)after);
	return cs_audit_read(svc, who, "events_read", target, NULL, NULL,
	    (int64_t)count);
}

uint64_t
cs_events_wait(uint64_t seen, long timeout_ms)
{
	return cs_store_changes_wait(seen, timeout_ms);
}
