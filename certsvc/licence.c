/*
 * licence.c: reading licences (the full and the public view, with the
 * status derived from events and the clock), the lifecycle transitions and
 * the lookup of a holder's licences.
 */
#include "service_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "sbuf.h"
#include "text.h"
#include "timeutil.h"
#include "token.h"

/* --- status ------------------------------------------------------------- */

static int64_t
date_days(const json_t *v, int64_t def)
{
	int y, m, d;

	if (!json_is_string(v) || cs_date_parse(json_string_value(v), &y, &m, &d) != 0)
		return def;
	return cs_days_from_civil(y, m, d);
}

/*
 * Events are replayed in order: suspend and reinstate toggle, revoke and
 * supersede are terminal.  Lifecycle states outrank the calendar: a
 * revoked licence is revoked even after its end date.  from and until are
 * the record's dates as day numbers (today when it has none).
 */
static const char *
status_at(cs_event **evs, size_t n, int64_t today, int64_t from,
    int64_t until, const cs_event **detail)
{
	const cs_event *last = NULL;
	const char *state = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *a = evs[i]->action;
		if (state != NULL && (strcmp(state, "revoked") == 0 ||
		    strcmp(state, "superseded") == 0))
			break;
		if (strcmp(a, "suspend") == 0)
			state = "suspended";
		else if (strcmp(a, "reinstate") == 0)
			state = NULL;
		else if (strcmp(a, "revoke") == 0)
			state = "revoked";
		else if (strcmp(a, "supersede") == 0)
			state = "superseded";
		else
			continue;
		last = evs[i];
	}
	if (detail != NULL)
		*detail = state ? last : NULL;
	if (state != NULL)
		return state;
	if (today < from)
		return "not_yet_valid";
	if (today > until)
		return "expired";
	return "valid";
}

const char *
cs_status_of(const json_t *rec, cs_event **evs, size_t n, time_t now,
    long tz_min, const cs_event **detail)
{
	int64_t today = cs_local_days(now, tz_min);

	return status_at(evs, n, today,
	    date_days(json_object_get(rec, "valid_from"), today),
	    date_days(json_object_get(rec, "valid_until"), today), detail);
}

/* --- views -------------------------------------------------------------- */

static json_t *
status_detail(const cs_event *e)
{
	char at[21];

	cs_rfc3339((time_t)e->at, at);
	return json_pack("{ss ss so* so* so*}", "action", e->action, "at", at,
	    "kind", e->kind ? json_string(e->kind) : NULL,
	    "reason", e->reason ? json_string(e->reason) : NULL,
	    "superseded_by", strcmp(e->action, "supersede") == 0 && e->ref
		? json_string(e->ref) : NULL);
}

/* The view built on v itself, whose reference the caller gives up, as is
 * related's (NULL: none): no copy of a record just parsed. */
static json_t *
view_in_place(cs_service *svc, json_t *v, cs_event **evs, size_t n,
    json_t *related, time_t now, const char **status_out)
{
	const cs_event *detail = NULL;
	const char *status;
	char *qr = NULL;

	status = cs_status_of(v, evs, n, now, svc->cfg.tz_offset_minutes, &detail);
	json_object_set_new(v, "related", related ? related : json_array());
	json_object_set_new(v, "status", json_string(status));
	if (detail != NULL)
		json_object_set_new(v, "status_detail", status_detail(detail));
	if (cs_licence_qr_text(svc, v, NULL, &qr) == 0)
		json_object_set_new(v, "qr_text", json_string(qr));
	free(qr);
	if (status_out != NULL)
		*status_out = status;  /* a static string */
	return v;
}

json_t *
cs_record_view(cs_service *svc, const json_t *rec, cs_event **evs, size_t n,
    const json_t *related, time_t now, const char **status_out)
{
	json_t *v = json_deep_copy(rec);

	if (v == NULL)
		return NULL;
	return view_in_place(svc, v, evs, n, related ? json_deep_copy(related) :
	    NULL, now, status_out);
}

static json_t *
related_ids(cs_service *svc, const cs_licence_row *row)
{
	cs_licence_row **rows = NULL;
	json_t *ids;
	size_t i, n = 0;

	if (row->bundle == NULL ||
	    cs_store_licences_by_bundle(svc->store, row->bundle, &rows, &n) != 0)
		return NULL;
	ids = json_array();
	for (i = 0; i < n; i++)
		if (strcmp(rows[i]->id, row->id) != 0)
			json_array_append_new(ids, json_string(rows[i]->id));
	cs_licence_rows_free(rows, n);
	return ids;
}

int
cs_licence_view(cs_service *svc, const cs_licence_row *row, time_t now,
    json_t **out, const char **status_out)
{
	cs_event **evs = NULL;
	size_t n = 0;
	json_t *rec = NULL, *related = NULL;
	json_error_t err;
	int rc;

	*out = NULL;
	if ((rec = json_loads(row->record, 0, &err)) == NULL) {
		rc = cs_err_set(CS_ESTORE, "stored record of %s is not JSON", row->id);
		goto out;
	}
	if ((rc = cs_store_events_for(svc->store, row->id, &evs, &n)) != 0)
		goto out;
	related = related_ids(svc, row);
	/* rec was parsed for this view alone: built on it, not on a copy. */
	*out = view_in_place(svc, rec, evs, n, related, now, status_out);
	rec = NULL;
	related = NULL;
out:
	json_decref(rec);
	json_decref(related);
	cs_events_free(evs, n);
	return rc;
}

/* --- views as text ------------------------------------------------------ */

/*
 * A stored record is the compact JSON object issue.c wrote, never changed
 * afterwards (store.h), and a read only appends members to it: related,
 * status, status_detail, qr_text.  Parsing the record (about 1.2 KB) into a
 * json_t and serialising the view again was most of a read's work (a
 * holder lookup spent 40% of its instructions in json_loads and 25% in
 * json_dumps), so the hot reads scan the record's top level once for the
 * three members they need (the dates and the token) and append the
 * derived members to its text.  jansson keeps members in insertion order
 * and view_in_place added these last, so the answer is the same bytes.
 * The scan is no validator: the text is certsvc's own, deflated with a
 * checksum.  Anything it does not expect (an escape in a key or in one of
 * those values, a derived member already there, one of them twice, text
 * that does not scan) sends the read down the parsing path instead.
 */
struct rec_scan {
	const char *from, *until, *token;  /* string values, NULL if not */
	size_t from_len, until_len, token_len;
	size_t close;                      /* offset of the closing brace */
	int members;
};

static const char *
skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* Past the end of the string whose opening quote is at p (NULL when it
 * never ends); *esc set when it holds an escape. */
static const char *
scan_string(const char *p, int *esc)
{
	for (p++; *(p += strcspn(p, "\"\\")) != '"'; p++) {
		if (*p == '\0')
			return NULL;
		*esc = 1;  /* a backslash: skip what it escapes */
		if (*++p == '\0')
			return NULL;
	}
	return p + 1;
}

/* Past the end of the value at p, NULL when it never ends. */
static const char *
scan_value(const char *p, int *esc)
{
	const char *start = p;
	int depth = 0, inner = 0;

	if (*p == '"')
		return scan_string(p, esc);
	if (*p != '{' && *p != '[') {
		while (*p != '\0' && *p != ',' && *p != '}' && *p != ']' &&
		    *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		return p > start ? p : NULL;
	}
	for (;;) {
		if (*p == '\0')
			return NULL;
		if (*p == '"') {
			if ((p = scan_string(p, &inner)) == NULL)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
		p++;
	}
}

static int
key_is(const char *k, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(k, name, n) == 0;
}

/* One member of the object next_member walks; zeroed before the first. */
struct member {
	const char *key;  /* past its opening quote; NULL before the first */
	size_t klen;
	int esc;          /* 0 on return, for the caller's scan of the value */
};

/*
 * The next member of an object: 1 with *m filled and *pp at its value,
 * which the caller reads and moves *pp past; 0 with *pp at the closing
 * brace (or at end, when end is not NULL and reached); -1 when the text is
 * not what these scanners read (a key with an escape, say), and the caller
 * leaves it to jansson.  Before the first call *pp is past the opening
 * brace.  A comma before the closing brace is let through.
 */
static int
next_member(const char **pp, const char *end, struct member *m)
{
	const char *p = skip_ws(*pp), *e;

	if (m->key != NULL) {
		if (*p == ',')
			p = skip_ws(p + 1);
		else if (*p != '}')
			return -1;
	}
	*pp = p;
	if ((end != NULL && p >= end) || *p == '}')
		return 0;
	m->esc = 0;
	if (*p != '"' || (e = scan_string(p, &m->esc)) == NULL || m->esc)
		return -1;
	m->key = p + 1;
	m->klen = (size_t)(e - p) - 2;
	p = skip_ws(e);
	if (*p != ':')
		return -1;
	*pp = skip_ws(p + 1);
	return 1;
}

/*
 * The object value at v (ending at end) into b with only the members that
 * type t puts in the QR code (the only fields the public view shows); the
 * whole of it when it does not scan as expected.
 */
static void
copy_qr_fields(cs_sbuf *b, const char *v, const char *end, const cs_type *t)
{
	cs_sbuf out = CS_SBUF_INIT;
	struct member m = {0};
	const char *p = v + 1, *e;
	size_t i, n = 0;
	int r;

	cs_sb_add(&out, "{", 1);
	while ((r = next_member(&p, end, &m)) == 1) {
		if ((e = scan_value(p, &m.esc)) == NULL || e > end)
			goto whole;
		for (i = 0; i < t->n_fields; i++)
			if (t->fields[i].in_qr &&
			    key_is(m.key, m.klen, t->fields[i].name))
				break;
		if (i < t->n_fields) {
			if (n++)
				cs_sb_add(&out, ",", 1);
			cs_sb_add(&out, m.key - 1, (size_t)(e - (m.key - 1)));
		}
		p = e;
	}
	if (r < 0)
		goto whole;
	cs_sb_add(&out, "}", 1);
	if (out.failed)
		goto whole;
	cs_sb_add(b, out.p, out.len);
	cs_sb_free(&out);
	return;
whole:
	cs_sb_free(&out);
	cs_sb_add(b, v, (size_t)(end - v));
}

/* 0 with *sc filled, or -1: take the parsing path.  With keep (NULL
 * ended), the members it names are copied into trim as an object, and
 * with qr_type, of "fields" only what that type puts in the QR code. */
static int
rec_scan(const char *text, struct rec_scan *sc, const char *const *keep,
    cs_sbuf *trim, const cs_type *qr_type)
{
	static const char *const derived[] = {"related", "status",
	    "status_detail", "qr_text"};
	struct member m = {0};
	const char *p = skip_ws(text), *k, *v, *end, **val;
	size_t klen, *len, i;
	int r, seen = 0, bit, kept = 0;

	memset(sc, 0, sizeof(*sc));
	if (keep != NULL)
		cs_sb_add(trim, "{", 1);
	if (*p++ != '{')
		return -1;
	while ((r = next_member(&p, NULL, &m)) == 1) {
		k = m.key;
		klen = m.klen;
		v = p;
		if ((end = scan_value(v, &m.esc)) == NULL)
			return -1;
		for (i = 0; i < sizeof(derived) / sizeof(derived[0]); i++)
			if (key_is(k, klen, derived[i]))
				return -1;
		val = NULL;
		if (key_is(k, klen, "valid_from")) {
			bit = 1, val = &sc->from, len = &sc->from_len;
		} else if (key_is(k, klen, "valid_until")) {
			bit = 2, val = &sc->until, len = &sc->until_len;
		} else if (key_is(k, klen, "token")) {
			bit = 4, val = &sc->token, len = &sc->token_len;
		}
		if (val != NULL) {
			if ((seen & bit) || (*v == '"' && m.esc))
				return -1;
			seen |= bit;
			if (*v == '"') {
				*val = v + 1;
				*len = (size_t)(end - v) - 2;
			}
		}
		sc->members++;
		for (i = 0; keep != NULL && keep[i] != NULL; i++)
			if (key_is(k, klen, keep[i])) {
				if (kept++)
					cs_sb_add(trim, ",", 1);
				if (qr_type != NULL && *v == '{' &&
				    key_is(k, klen, "fields")) {
					cs_sb_add(trim, k - 1, (size_t)(v - (k - 1)));
					copy_qr_fields(trim, v, end, qr_type);
				} else
					cs_sb_add(trim, k - 1,
					    (size_t)(end - (k - 1)));
				break;
			}
		p = end;
	}
	if (r < 0)
		return -1;
	sc->close = (size_t)(p - text);
	if (keep != NULL)
		cs_sb_add(trim, "}", 1);
	return *skip_ws(p + 1) == '\0' ? 0 : -1;
}

/* A scanned date's day number (date_days). */
static int64_t
span_days(const char *s, size_t n, int64_t def)
{
	char buf[11];
	int y, m, d;

	if (s == NULL || n != 10)
		return def;
	memcpy(buf, s, 10);
	buf[10] = '\0';
	if (cs_date_parse(buf, &y, &m, &d) != 0)
		return def;
	return cs_days_from_civil(y, m, d);
}

/* s as a JSON string, the way json_dumps writes it. */
static void
sb_json_string(cs_sbuf *b, const char *s)
{
	const unsigned char *p;
	json_t *j;
	char *t;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			break;
	if (*p == '\0') {
		cs_sb_add(b, "\"", 1);
		cs_sb_add(b, s, (size_t)((const char *)p - s));
		cs_sb_add(b, "\"", 1);
		return;
	}
	j = json_string(s);
	t = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	if (t == NULL)
		b->failed = 1;
	else
		cs_sb_puts(b, t);
	free(t);
	json_decref(j);
}

/* v serialised as cs_reply_json would; b->failed when it cannot be. */
static void
sb_json(cs_sbuf *b, const json_t *v)
{
	char *t = json_dumps(v, JSON_COMPACT);

	if (t == NULL)
		b->failed = 1;
	else
		cs_sb_puts(b, t);
	free(t);
}

/*
 * A scanned record's view: its text with related (NULL: an empty list),
 * status, the deciding event's status_detail and qr_text appended, as
 * view_in_place adds them.
 */
static void
splice_view(cs_service *svc, const char *record, const struct rec_scan *sc,
    const json_t *related, const char *status, const cs_event *detail,
    cs_sbuf *b)
{
	json_t *sd = NULL;
	char *token = NULL, *qr = NULL;

	cs_sb_add(b, record, sc->close);
	cs_sb_puts(b, sc->members ? ",\"related\":" : "\"related\":");
	if (related != NULL)
		sb_json(b, related);
	else
		cs_sb_puts(b, "[]");
	cs_sb_puts(b, ",\"status\":\"");
	cs_sb_puts(b, status);
	cs_sb_puts(b, "\"");
	if (detail != NULL && (sd = status_detail(detail)) != NULL) {
		cs_sb_puts(b, ",\"status_detail\":");
		sb_json(b, sd);
	}
	if (sc->token != NULL &&
	    (token = strndup(sc->token, sc->token_len)) == NULL)
		b->failed = 1;
	if (token != NULL && cs_token_qr_text(token, svc->cfg.qr_form,
	    svc->cfg.public_url, &qr) == 0) {
		cs_sb_puts(b, ",\"qr_text\":");
		sb_json_string(b, qr);
	}
	cs_sb_puts(b, "}");
	json_decref(sd);
	free(token);
	free(qr);
}

/*
 * The full view of row (cs_licence_view) as JSON text appended to b, first
 * sep, when its status is want (NULL: any); *shown says whether it was.
 * The same bytes as json_dumps(JSON_COMPACT) of cs_licence_view's object.
 */
static int
view_text(cs_service *svc, const cs_licence_row *row, time_t now,
    const char *want, const char *sep, cs_sbuf *b, int *shown)
{
	struct rec_scan sc;
	cs_event **evs = NULL;
	const cs_event *detail = NULL;
	json_t *v = NULL, *related = NULL;
	const char *status;
	int64_t today;
	size_t n = 0;
	int rc = 0;

	*shown = 0;
	if (rec_scan(row->record, &sc, NULL, NULL, NULL) != 0) {
		if ((rc = cs_licence_view(svc, row, now, &v, &status)) != 0 ||
		    (want != NULL && strcmp(want, status) != 0))
			goto out;
		cs_sb_puts(b, sep);
		sb_json(b, v);
		*shown = 1;
		goto out;
	}
	if ((rc = cs_store_events_for(svc->store, row->id, &evs, &n)) != 0)
		goto out;
	today = cs_local_days(now, svc->cfg.tz_offset_minutes);
	status = status_at(evs, n, today, span_days(sc.from, sc.from_len, today),
	    span_days(sc.until, sc.until_len, today), &detail);
	if (want != NULL && strcmp(want, status) != 0)
		goto out;
	related = related_ids(svc, row);
	cs_sb_puts(b, sep);
	splice_view(svc, row->record, &sc, related, status, detail, b);
	*shown = 1;
out:
	if (rc == 0 && b->failed)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	json_decref(v);
	json_decref(related);
	cs_events_free(evs, n);
	return rc;
}

int
cs_licence_view_text(cs_service *svc, const cs_licence_row *row, time_t now,
    char **out)
{
	cs_sbuf b = CS_SBUF_INIT;
	int rc, shown;

	*out = NULL;
	if ((rc = view_text(svc, row, now, NULL, "", &b, &shown)) == 0) {
		*out = b.p;
		b.p = NULL;
	}
	cs_sb_free(&b);
	return rc;
}

int
cs_record_view_text(cs_service *svc, const char *record, time_t now,
    char **out)
{
	struct rec_scan sc;
	cs_sbuf b = CS_SBUF_INIT;
	json_t *rec = NULL, *v = NULL;
	json_error_t err;
	int64_t today;
	int rc = 0;

	*out = NULL;
	if (rec_scan(record, &sc, NULL, NULL, NULL) == 0) {
		today = cs_local_days(now, svc->cfg.tz_offset_minutes);
		splice_view(svc, record, &sc, NULL, status_at(NULL, 0, today,
		    span_days(sc.from, sc.from_len, today), span_days(sc.until,
		    sc.until_len, today), NULL), NULL, &b);
	} else if ((rec = json_loads(record, 0, &err)) == NULL) {
		rc = cs_err_set(CS_ESTORE, "a licence record is not JSON");
	} else if ((v = cs_record_view(svc, rec, NULL, 0, NULL, now,
	    NULL)) != NULL) {
		sb_json(&b, v);
	} else
		b.failed = 1;
	if (rc == 0 && b.failed)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	if (rc == 0) {
		*out = b.p;
		b.p = NULL;
	}
	cs_sb_free(&b);
	json_decref(rec);
	json_decref(v);
	return rc;
}

/* The deciding event as anyone may see it: its action, time, kind and
 * successor, without the issuer's free-text reason, which may say things
 * about the holder that only readers with access should see
 * (docs/design.md, "The public view"). */
static json_t *
public_detail(const json_t *detail)
{
	json_t *d;

	if (!json_is_object(detail) || (d = json_copy((json_t *)detail)) == NULL)
		return NULL;
	json_object_del(d, "reason");
	return d;
}

json_t *
cs_public_view(cs_service *svc, const json_t *full)
{
	const json_t *holder = json_object_get(full, "holder");
	const cs_type *t = cs_catalog_find(svc->catalog,
	    json_string_value(json_object_get(full, "type")));
	const char *ct = json_string_value(json_object_get(holder, "code_type"));
	const char *code = json_string_value(json_object_get(holder, "code"));
	char masked[64] = "";
	json_t *fields = json_object(), *v;
	size_t i;

	if (code != NULL && strlen(code) < sizeof(masked)) {
		if (ct != NULL && strcmp(ct, "RID") == 0)
			cs_code_mask(code, masked);
		else
			snprintf(masked, sizeof(masked), "%s", code);
	}
	for (i = 0; t != NULL && i < t->n_fields; i++)
		if (t->fields[i].in_qr &&
		    (v = json_object_get(json_object_get(full, "fields"),
		    t->fields[i].name)) != NULL)
			json_object_set(fields, t->fields[i].name, v);
	return json_pack("{sO sO sO sO s{sO sO ss} sO sO sO sO so sO sO* so*}",
	    "id", json_object_get(full, "id"), "type", json_object_get(full, "type"),
	    "type_name", json_object_get(full, "type_name"),
	    "number", json_object_get(full, "number"),
	    "holder", "name", json_object_get(holder, "name"),
	    "code_type", json_object_get(holder, "code_type"), "code", masked,
	    "issuer", json_object_get(full, "issuer"),
	    "issued_at", json_object_get(full, "issued_at"),
	    "valid_from", json_object_get(full, "valid_from"),
	    "valid_until", json_object_get(full, "valid_until"),
	    "fields", fields, "status", json_object_get(full, "status"),
	    "supersedes", json_object_get(full, "supersedes"),
	    "status_detail", public_detail(json_object_get(full, "status_detail")));
}

int
cs_licence_qr_text(cs_service *svc, const json_t *lic, const char *form, char **out)
{
	const char *token = json_string_value(json_object_get(lic, "token"));

	*out = NULL;
	if (token == NULL)
		return cs_err_set(CS_EINVAL, "licence has no token");
	return cs_token_qr_text(token, form ? form : svc->cfg.qr_form,
	    svc->cfg.public_url, out);
}

/* --- reads -------------------------------------------------------------- */

int
cs_licence_load(cs_service *svc, const char *id, json_t **out)
{
	cs_licence_row *row = NULL;
	int rc;

	*out = NULL;
	if ((rc = cs_check_id(id)) != 0)
		return rc;
	rc = cs_store_licence_get(svc->store, id, &row);
	if (rc == CS_ENOTFOUND)
		rc = cs_err_set(rc, "no licence %s", id);
	if (rc == 0)
		rc = cs_licence_view(svc, row, cs_now(), out, NULL);
	cs_licence_row_free(row);
	return rc;
}

int
cs_licence_read(cs_service *svc, const cs_actor *who, const char *id, json_t **out)
{
	json_t *lic = NULL;
	int rc;

	*out = NULL;
	if ((rc = cs_authorize_id(svc, who, id, "read")) != 0 ||
	    (rc = cs_licence_load(svc, id, &lic)) != 0)
		goto out;
	if ((rc = cs_audit_read(svc, who, "read", id,
	    json_string_value(json_object_get(json_object_get(lic, "holder"), "code")),
	    NULL, 1)) != 0)
		goto out;
	*out = lic;
	lic = NULL;
out:
	json_decref(lic);
	return rc;
}

/* The stored row of licence id; CS_ENOTFOUND when there is none. */
static int
row_load(cs_service *svc, const char *id, cs_licence_row **out)
{
	int rc;

	*out = NULL;
	if ((rc = cs_check_id(id)) != 0)
		return rc;
	rc = cs_store_licence_get(svc->store, id, out);
	if (rc == CS_ENOTFOUND)
		rc = cs_err_set(rc, "no licence %s", id);
	return rc;
}

int
cs_licence_read_text(cs_service *svc, const cs_actor *who, const char *id,
    char **out)
{
	cs_sbuf b = CS_SBUF_INIT;
	cs_licence_row *row = NULL;
	int rc, shown;

	*out = NULL;
	if ((rc = cs_authorize_id(svc, who, id, "read")) != 0 ||
	    (rc = row_load(svc, id, &row)) != 0 ||
	    (rc = view_text(svc, row, cs_now(), NULL, "", &b, &shown)) != 0 ||
	    (rc = cs_audit_read(svc, who, "read", id, row->holder_code, NULL, 1)) != 0)
		goto out;
	*out = b.p;
	b.p = NULL;
out:
	cs_sb_free(&b);
	cs_licence_row_free(row);
	return rc;
}

int
cs_licence_read_qr(cs_service *svc, const cs_actor *who, const char *id,
    const char *form, char **out)
{
	struct rec_scan sc;
	cs_licence_row *row = NULL;
	json_t *rec = NULL;
	json_error_t err;
	char *token = NULL;
	int rc;

	*out = NULL;
	if ((rc = cs_authorize_id(svc, who, id, "read")) != 0 ||
	    (rc = row_load(svc, id, &row)) != 0)
		goto out;
	if (rec_scan(row->record, &sc, NULL, NULL, NULL) == 0) {
		if (sc.token == NULL)
			rc = cs_err_set(CS_EINVAL, "licence has no token");
		else if ((token = strndup(sc.token, sc.token_len)) == NULL)
			rc = cs_err_set(CS_ENOMEM, "out of memory");
		else
			rc = cs_token_qr_text(token, form ? form :
			    svc->cfg.qr_form, svc->cfg.public_url, out);
	} else if ((rec = json_loads(row->record, 0, &err)) == NULL)
		rc = cs_err_set(CS_ESTORE, "stored record of %s is not JSON", id);
	else
		rc = cs_licence_qr_text(svc, rec, form, out);
	if (rc == 0)
		rc = cs_audit_read(svc, who, "read", id, row->holder_code, NULL, 1);
out:
	if (rc != 0) {
		free(*out);
		*out = NULL;
	}
	free(token);
	json_decref(rec);
	cs_licence_row_free(row);
	return rc;
}

/* The string at p (its opening quote) as a json_t, *end past it; NULL when
 * it holds an escape or a control character (json_loads reads it then). */
static json_t *
flat_string(const char *p, const char **end)
{
	const unsigned char *c;
	int esc = 0;

	if ((*end = scan_string(p, &esc)) == NULL || esc)
		return NULL;
	for (c = (const unsigned char *)p + 1; c < (const unsigned char *)*end - 1;
	    c++)
		if (*c < 0x20)
			return NULL;
	return json_stringn(p + 1, (size_t)(*end - p) - 2);
}

/*
 * The object at *pp as json_loads would read it, *pp moved past it, when
 * it holds nothing but strings without escapes, nulls and (two levels
 * deep) such objects: the trimmed record verify reads.  NULL otherwise,
 * and json_loads reads it instead.  jansson's reader takes about 250
 * instructions a byte; this one a few.
 */
static json_t *
flat_object(const char **pp, int depth)
{
	struct member m = {0};
	const char *p = skip_ws(*pp);
	json_t *o = NULL, *v;
	int r;

	if (*p != '{' || depth > 2 || (o = json_object()) == NULL)
		goto fail;
	p++;
	while ((r = next_member(&p, NULL, &m)) == 1) {
		if (*p == '"')
			v = flat_string(p, &p);
		else if (strncmp(p, "null", 4) == 0) {
			v = json_null();
			p += 4;
		} else if (*p == '{')
			v = flat_object(&p, depth + 1);
		else
			v = NULL;
		/* setn_new takes v, also when it fails. */
		if (v == NULL || json_object_setn_new(o, m.key, m.klen, v) != 0)
			goto fail;
	}
	if (r < 0)
		goto fail;
	*pp = p + 1;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* The members of a record that cs_public_view shows, besides the derived
 * status and status_detail. */
static const char *const public_members[] = {"id", "type", "type_name",
    "number", "holder", "issuer", "issued_at", "valid_from", "valid_until",
    "fields", "supersedes", NULL};

int
cs_licence_public(cs_service *svc, const char *id, json_t **out,
    const char **status_out)
{
	struct rec_scan sc;
	cs_sbuf trim = CS_SBUF_INIT;
	cs_licence_row *row = NULL;
	cs_event **evs = NULL;
	const cs_event *detail = NULL;
	json_t *full = NULL, *sd;
	json_error_t err;
	const char *status = NULL, *p;
	int64_t today;
	size_t n = 0;
	int rc;

	*out = NULL;
	if ((rc = row_load(svc, id, &row)) != 0)
		goto out;
	/* Only what the public view shows is parsed: not the token, which
	 * is a third of the record, nor the face fields outside the QR
	 * code, most of another third. */
	if (rec_scan(row->record, &sc, public_members, &trim,
	    cs_catalog_find(svc->catalog, row->type)) != 0 ||
	    trim.failed) {
		if ((rc = cs_licence_view(svc, row, cs_now(), &full, &status)) != 0)
			goto out;
	} else {
		p = trim.p;
		if ((full = flat_object(&p, 0)) == NULL &&
		    (full = json_loads(trim.p, 0, &err)) == NULL) {
			rc = cs_err_set(CS_ESTORE, "stored record of %s is not "
			    "JSON", id);
			goto out;
		}
		if ((rc = cs_store_events_for(svc->store, row->id, &evs,
		    &n)) != 0)
			goto out;
		today = cs_local_days(cs_now(), svc->cfg.tz_offset_minutes);
		status = status_at(evs, n, today, span_days(sc.from, sc.from_len,
		    today), span_days(sc.until, sc.until_len, today), &detail);
		json_object_set_new(full, "status", json_string(status));
		if (detail != NULL && (sd = status_detail(detail)) != NULL)
			json_object_set_new(full, "status_detail", sd);
	}
	if ((*out = cs_public_view(svc, full)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	else if (status_out != NULL)
		*status_out = status;  /* a static string */
out:
	json_decref(full);
	cs_sb_free(&trim);
	cs_events_free(evs, n);
	cs_licence_row_free(row);
	return rc;
}

/* --- lifecycle ---------------------------------------------------------- */

/* Which statuses each action may start from (SPEC §1). */
static int
transition_allowed(const char *action, const char *status)
{
	int live = strcmp(status, "valid") == 0 || strcmp(status, "not_yet_valid") == 0;

	if (strcmp(action, "suspend") == 0)
		return live;
	if (strcmp(action, "reinstate") == 0)
		return strcmp(status, "suspended") == 0;
	return live || strcmp(status, "suspended") == 0;  /* revoke */
}

void
cs_reason_check(const json_t *r, int required, cs_problems *p)
{
	if (r == NULL) {
		if (required)
			cs_problems_add(p, "reason", "is required");
	} else if (!json_is_string(r) || json_string_length(r) == 0 ||
	    json_string_length(r) > 1000) {
		cs_problems_add(p, "reason", "must be text of 1 to 1000 bytes");
	} else if (cs_face_text_check(json_string_value(r), json_string_length(r),
	    NULL) != 0) {
		cs_problems_add(p, "reason", "%s", cs_err_msg());
	}
}

static int
parse_transition(const char *action, const json_t *body, const char **reason,
    const char **kind, cs_problems *p)
{
	const json_t *r = json_object_get(body, "reason");
	const json_t *k = json_object_get(body, "kind");
	const char *key;
	json_t *v;

	if (!json_is_object(body))
		return cs_err_set(CS_EINVAL, "the body must be a JSON object");
	json_object_foreach((json_t *)body, key, v)
		if (strcmp(key, "reason") != 0 &&
		    (strcmp(key, "kind") != 0 || strcmp(action, "revoke") != 0))
			cs_problems_add(p, key, "is not a member of a %s request", action);
	cs_reason_check(r, 1, p);
	*kind = NULL;
	if (strcmp(action, "revoke") == 0) {
		*kind = k ? json_string_value(k) : "revoked";
		if (*kind == NULL || (strcmp(*kind, "revoked") != 0 &&
		    strcmp(*kind, "withdrawn") != 0 && strcmp(*kind, "cancelled") != 0))
			cs_problems_add(p, "kind", "must be one of: revoked, withdrawn, cancelled");
	}
	*reason = json_string_value(r);
	return p->n ? CS_EVALIDATION : 0;
}

int
cs_licence_transition(cs_service *svc, const cs_actor *who, const char *id,
    const char *action, const json_t *body, json_t **out, cs_problems *p)
{
	cs_store *st = svc->store;
	json_t *lic = NULL;
	const char *reason = NULL, *kind = NULL, *status;
	cs_event ev;
	int rc, in_tx = 0;

	*out = NULL;
	if (strcmp(action, "suspend") != 0 && strcmp(action, "reinstate") != 0 &&
	    strcmp(action, "revoke") != 0)
		return cs_err_set(CS_EINVAL, "unknown action '%.16s'", action);
	if ((rc = cs_authorize_id(svc, who, id, action)) != 0 ||
	    (rc = parse_transition(action, body, &reason, &kind, p)) != 0)
		goto out;
	if ((rc = cs_store_begin(st)) != 0)
		goto out;
	in_tx = 1;
	/* Read the status under the writer lock so two transitions of one
	 * licence are serialised. */
	if ((rc = cs_licence_load(svc, id, &lic)) != 0)
		goto out;
	status = json_string_value(json_object_get(lic, "status"));
	if (!transition_allowed(action, status)) {
		rc = cs_err_set(CS_ECONFLICT, "licence %s is %s: it cannot be %s", id,
		    status, strcmp(action, "suspend") == 0 ? "suspended"
		    : strcmp(action, "reinstate") == 0 ? "reinstated" : "revoked");
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.licence_id = (char *)id;
	ev.at = (int64_t)cs_now();
	ev.actor = who->client->name;
	ev.action = (char *)action;
	ev.kind = (char *)kind;
	ev.reason = (char *)reason;
	if ((rc = cs_store_event_append(st, &ev)) != 0 ||
	    (rc = cs_audit(svc, who, action, id,
	    json_string_value(json_object_get(json_object_get(lic, "holder"), "code")),
	    NULL, 1)) != 0 || (rc = cs_store_commit(st)) != 0)
		goto out;
	in_tx = 0;
	rc = cs_licence_load(svc, id, out);
out:
	if (in_tx)
		cs_store_rollback(st);
	json_decref(lic);
	return rc;
}

/* --- holder lookup ------------------------------------------------------ */

static int
check_purpose(const cs_purpose *why)
{
	size_t chars;

	if (why == NULL || why->purpose == NULL || why->purpose[0] == '\0')
		return cs_err_set(CS_EINVAL, "X-Purpose is required: say why the "
		    "licences are read (申请事由)");
	chars = cs_utf8_count(why->purpose, strlen(why->purpose));
	if (chars > 200)
		return cs_err_set(CS_EINVAL, "X-Purpose is %zu characters, at most 200", chars);
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
	if (q->limit != NULL && (v = page_param(q->limit, PAGE_MAX)) < 0)
		cs_problems_add(p, "limit", "limit must be a number of 1 to %d",
		    PAGE_MAX);
	else if (q->limit != NULL)
		pg->limit = (size_t)v;
	if (q->cursor != NULL && (v = page_param(q->cursor, INT64_MAX)) < 0)
		cs_problems_add(p, "cursor", "cursor must be the \"next\" of an "
		    "earlier page");
	else if (q->cursor != NULL)
		pg->pos = (int64_t)v;
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

	if (strlen(q->code) != CS_USCC_LEN) {
		cs_problems_add(p, "code", "holder code is %zu characters, "
		    "expected 18", strlen(q->code));
	} else {
		snprintf(norm, n, "%s", q->code);
		/* A code is either kind; pilot codes fail both checks yet
		 * exist, so a failing check is not an error here: the lookup
		 * finds nothing. */
		if (cs_code_check_uscc(norm) != 0)
			cs_code_check_rid(norm);
	}
	for (i = 0; !known && i < sizeof(statuses) / sizeof(statuses[0]); i++)
		known = strcmp(q->status, statuses[i]) == 0;
	if (!known)
		cs_problems_add(p, "status", "status '%.32s' is not one of valid, "
		    "not_yet_valid, expired, suspended, revoked, superseded",
		    q->status);
	if (q->type != NULL && cs_catalog_find(svc->catalog, q->type) == NULL)
		cs_problems_add(p, "type", "type '%.32s' is not in the catalog",
		    q->type);
	check_page(q, pg, p);
	return p->n == before ? 0 : lookup_refused(p, before);
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
static int
holder_page(cs_service *svc, const cs_actor *who, const char *holder,
    const cs_holder_query *q, struct page *pg, cs_sbuf *b, size_t *count)
{
	cs_licence_row **rows = NULL;
	size_t i, n = 0, read = 0, want;
	time_t now = cs_now();
	int rc = 0, shown;

	*count = 0;
	do {
		want = pg->limit - *count;
		if (want > PAGE_READ_MAX - read)
			want = PAGE_READ_MAX - read;
		if ((rc = cs_store_licences_by_holder(svc->store, holder,
		    q->type, &pg->pos, want, &rows, &n)) != 0)
			break;
		for (i = 0; i < n && rc == 0; i++) {
			if (!cs_may_read(who->client, rows[i]->type,
			    rows[i]->issuer_code))
				continue;
			rc = view_text(svc, rows[i], now, q->status,
			    *count ? "," : "", b, &shown);
			*count += (size_t)shown;
		}
		read += n;
		cs_licence_rows_free(rows, n);
	} while (rc == 0 && pg->pos != 0 && *count < pg->limit &&
	    read < PAGE_READ_MAX);
	return rc;
}

int
cs_holder_licences_text(cs_service *svc, const cs_actor *who,
    const cs_holder_query *q, const cs_purpose *why, char **out,
    cs_problems *problems)
{
	cs_problems none = CS_PROBLEMS_INIT, *p = problems ? problems : &none;
	cs_sbuf b = CS_SBUF_INIT;
	char norm[CS_USCC_LEN + 1], next[24];
	struct page pg;
	size_t count = 0;
	int rc;

	*out = NULL;
	/* SPEC §5: a reader, and only a reader.  An admin reads licences and
	 * the audit log, but a lookup of everything a holder has is the
	 * partner agencies' business, granted per type and stated purpose. */
	if (who == NULL || who->client == NULL ||
	    strcmp(who->client->role, "reader") != 0) {
		rc = cs_err_set(CS_EFORBIDDEN, "only a reader client may look up a "
		    "holder's licences");
		goto out;
	}
	if ((rc = check_purpose(why)) != 0) {
		cs_problems_add(p, "X-Purpose", "%s", cs_err_msg());
		goto out;
	}
	if ((rc = check_lookup(svc, q, norm, sizeof(norm), &pg, p)) != 0)
		goto out;
	/* The answer's text as json_pack("{ss so s?}") and json_dumps made it. */
	cs_sb_puts(&b, "{\"holder_code\":");
	sb_json_string(&b, norm);
	cs_sb_puts(&b, ",\"certificates\":[");
	if ((rc = holder_page(svc, who, norm, q, &pg, &b, &count)) == CS_EINVAL) {
		cs_problems_add(p, "cursor", "cursor is not one of this holder's "
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
