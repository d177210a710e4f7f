/*
 * licence_scan: a stored record's text read without parsing it: the scan
 * of its top level for the members the hot reads need (cs_rec_scan), the
 * flat objects verify reads (cs_flat_object), a scanned date's day number
 * and a string written as json_dumps would.  Why: below.  The views built
 * from a scan are in licence_view.c.
 */
#include "service_internal.h"

#include <stdlib.h>
#include <string.h>

#include "licence_internal.h"
#include "sbuf.h"
#include "timeutil.h"

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

int
cs_json_plain(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			return 0;
	return 1;
}

/* s as a JSON string, the way json_dumps writes it. */
void
cs_sb_json_string(cs_sbuf *b, const char *s)
{
	json_t *j;
	char *t;

	if (cs_json_plain(s)) {
		cs_sb_add(b, "\"", 1);
		cs_sb_puts(b, s);
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

