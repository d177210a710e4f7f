/*
 * licence_view: the views of a stored licence: the full view (the record
 * with related, status, status_detail and qr_text added) as JSON and, on
 * the hot paths, as text spliced onto the record's own text (its scanner
 * is here); the public view and the QR text.
 */
#include "service_internal.h"

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

/* --- views -------------------------------------------------------------- */

json_t *
cs_status_detail(const cs_event *e)
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
		json_object_set_new(v, "status_detail", cs_status_detail(detail));
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
int
cs_rec_scan(const char *text, struct rec_scan *sc, const char *const *keep,
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
json_t *
cs_flat_object(const char **pp, int depth)
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
			v = cs_flat_object(&p, depth + 1);
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
/* A scanned date's day number (date_days). */
int64_t
cs_span_days(const char *s, size_t n, int64_t def)
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
void
cs_sb_json_string(cs_sbuf *b, const char *s)
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
	if (detail != NULL && (sd = cs_status_detail(detail)) != NULL) {
		cs_sb_puts(b, ",\"status_detail\":");
		sb_json(b, sd);
	}
	if (sc->token != NULL &&
	    (token = strndup(sc->token, sc->token_len)) == NULL)
		b->failed = 1;
	if (token != NULL && cs_token_qr_text(token, svc->cfg.qr_form,
	    svc->cfg.public_url, &qr) == 0) {
		cs_sb_puts(b, ",\"qr_text\":");
		cs_sb_json_string(b, qr);
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
int
cs_licence_view_sb(cs_service *svc, const cs_licence_row *row, time_t now,
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
	if (cs_rec_scan(row->record, &sc, NULL, NULL, NULL) != 0) {
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
	status = cs_status_at(evs, n, today, cs_span_days(sc.from, sc.from_len, today),
	    cs_span_days(sc.until, sc.until_len, today), &detail);
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
	if ((rc = cs_licence_view_sb(svc, row, now, NULL, "", &b, &shown)) == 0) {
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
	if (cs_rec_scan(record, &sc, NULL, NULL, NULL) == 0) {
		today = cs_local_days(now, svc->cfg.tz_offset_minutes);
		splice_view(svc, record, &sc, NULL, cs_status_at(NULL, 0, today,
		    cs_span_days(sc.from, sc.from_len, today), cs_span_days(sc.until,
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
