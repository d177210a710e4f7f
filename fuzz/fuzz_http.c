/*
 * fuzz_http: the HTTP layer's parsers of outside input (certsvc/http/http_parse.h)
 * on hostile bytes: percent-decoding, the text check, query strings, the
 * route patterns, the /v form, text headers (X-Purpose), the bearer token,
 * Content-Type and X-Request-Id.
 *
 * The input is split at NUL bytes (no header, path or form holds one) into
 * parts; every part goes through every parser, as a request target, a form
 * body and a header value.  The first part is also the path a second part,
 * taken as a route pattern, is matched against; and each {x} route of the
 * table is matched against a path made from each part.  The whole input,
 * NULs included, goes through the decoder and the text check.
 *
 * Properties: decoding never grows the input and agrees with a plain
 * reference decoder; the text check agrees with Unicode's table of
 * well-formed UTF-8 (and with jansson); whatever a parser passes as text is
 * valid UTF-8 without control characters; parsed queries and forms encode
 * back to the same pairs; a route match's segments are non-empty, contain
 * no '/', put back into the pattern give the path, and decode to what was
 * encoded into them; no two patterns of the table match one path; the
 * bearer token and media type are the documented slices of the header;
 * every failure message is valid UTF-8 (it goes into a JSON problem).
 * ASan catches any read past a part: each is an exact-size copy.
 */
#include "fuzz.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_err.h"
/* For the route table and its bounds: the fuzzer checks the real patterns. */
/* White-box: the request parser is reached below the server. */
#define CS_LAYER_HTTP
#include "http_internal.h"
#include "http_parse.h"

#define MAX_PARTS 8

/* --- references ------------------------------------------------------- */

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fuzz_fail("out of memory");
	return p;
}

/* An exact-size copy of s[0..n) without a terminator, so that ASan sees a
 * read past n. */
static char *
exact(const char *s, size_t n)
{
	char *c = xmalloc(n);

	if (n > 0)
		memcpy(c, s, n);
	return c;
}

static void
msg_is_utf8(const char *what)
{
	json_t *j = json_string(cs_err_msg());

	if (j == NULL)
		fuzz_fail("%s: the message is not valid UTF-8", what);
	json_decref(j);
}

static int
ref_hex(char c)
{
	const char *digits = "0123456789abcdef";
	const char *p;

	if (c == '\0' || (p = strchr(digits, c >= 'A' && c <= 'F' ?
	    c - 'A' + 'a' : c)) == NULL)
		return -1;
	return (int)(p - digits);
}

/* The reference decoder: '%' and two hex digits, else the byte itself. */
static size_t
ref_decode(const char *in, size_t n, int plus, char *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		if (in[i] == '%' && n - i >= 3 && ref_hex(in[i + 1]) >= 0 &&
		    ref_hex(in[i + 2]) >= 0) {
			out[o++] = (char)(ref_hex(in[i + 1]) * 16 +
			    ref_hex(in[i + 2]));
			i += 3;
		} else {
			out[o++] = plus && in[i] == '+' ? ' ' : in[i];
			i++;
		}
	}
	return o;
}

/* Every byte but the unreserved ones of RFC 3986 as %XX: what a careful
 * client sends.  malloc'd, NUL-terminated. */
static char *
pct_encode(const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char *e = xmalloc(3 * n + 1), *o = e;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return e;
}

/* Unicode's table 3-7 of well-formed UTF-8 byte sequences: the length of
 * the sequence at s[0..n), or 0 when it is not well formed. */
static size_t
wellformed(const unsigned char *s, size_t n)
{
	unsigned lo = 0x80, hi = 0xBF;
	size_t len, k;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k < len; k++)
		if (s[k] < 0x80 || s[k] > 0xBF)
			return 0;
	return len;
}

/* The reference text check: 0 for text, 1 for invalid UTF-8, 2 for a
 * control character (C0, DEL, C1 = C2 80..9F); the first fault counts. */
static int
ref_text(const char *s, size_t n, size_t *chars)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, len;

	*chars = 0;
	while (i < n) {
		if ((len = wellformed(u + i, n - i)) == 0)
			return 1;
		if (u[i] < 0x20 || u[i] == 0x7F || (u[i] == 0xC2 && u[i + 1] < 0xA0))
			return 2;
		i += len;
		(*chars)++;
	}
	return 0;
}

/* Fail unless s[0..n) is text by the reference. */
static void
must_be_text(const char *s, size_t n, const char *what)
{
	size_t chars;

	if (ref_text(s, n, &chars) != 0)
		fuzz_fail("%s: passed as text, but is not", what);
}

/* --- decoding and the text check --------------------------------------- */

static void
check_decode(const char *in, size_t n, int plus)
{
	char *ref = xmalloc(n + 1), *out = NULL, *again = NULL, *enc;
	size_t rlen = ref_decode(in, n, plus, ref), olen = 0, alen = 0;
	int rc = cs_pct_decode(in, n, plus, &out, &olen);

	if (memchr(ref, '\0', rlen) != NULL) {
		if (rc != CS_EINVAL || out != NULL)
			fuzz_fail("decode: a NUL byte came through (rc %d)", rc);
		msg_is_utf8("decode");
		goto out;
	}
	if (rc != 0)
		fuzz_fail("decode: refused (%d) without a NUL byte", rc);
	if (olen > n || olen != rlen || memcmp(out, ref, rlen) != 0 ||
	    out[olen] != '\0')
		fuzz_fail("decode: %zu bytes in, %zu out, not the reference's %zu",
		    n, olen, rlen);
	/* What a client encodes decodes back to the same bytes. */
	enc = pct_encode(out, olen);
	if (cs_pct_decode(enc, strlen(enc), plus, &again, &alen) != 0 ||
	    alen != olen || memcmp(again, out, olen) != 0)
		fuzz_fail("decode: encoding the result does not round-trip");
	free(enc);
out:
	free(again);
	free(out);
	free(ref);
}

static void
check_text(const char *s, size_t n)
{
	size_t chars = (size_t)-1, ref_chars;
	int rc = cs_text_check(s, n, &chars), want = ref_text(s, n, &ref_chars);
	json_t *j;

	if ((rc == 0) != (want == 0))
		fuzz_fail("text: the check says %d, the reference fault %d (1: not "
		    "UTF-8, 2: control)", rc, want);
	if (rc != 0) {
		if (rc != CS_EINVAL || strcmp(cs_err_msg(), want == 1 ?
		    "is not valid UTF-8" : "contains a control character") != 0)
			fuzz_fail("text: %d '%s' for fault %d", rc, cs_err_msg(),
			    want);
		return;
	}
	if (chars != ref_chars)
		fuzz_fail("text: %zu characters, the reference counts %zu", chars,
		    ref_chars);
	/* jansson's own UTF-8 check agrees: the text can go into JSON. */
	if ((j = json_stringn(s, n)) == NULL)
		fuzz_fail("text: passed, but jansson refuses it");
	json_decref(j);
}

/* cs_http_text_decode() is the decoder, then the check, then the bound. */
static void
check_text_decode(const char *in, size_t n, int plus, size_t max)
{
	char *ref = xmalloc(n + 1), *out = NULL;
	size_t rlen = ref_decode(in, n, plus, ref), olen = 0, chars = 0;
	int want = memchr(ref, '\0', rlen) == NULL &&
	    ref_text(ref, rlen, &chars) == 0 && (max == 0 || chars <= max);
	int rc = cs_http_text_decode(in, n, plus, max, &out, &olen);

	if ((rc == 0) != want)
		fuzz_fail("text decode: rc %d, but the reference says %s", rc,
		    want ? "text" : "not text");
	if (rc == 0 && (olen != rlen || memcmp(out, ref, rlen) != 0))
		fuzz_fail("text decode: not the decoded bytes");
	if (rc != 0) {
		if (out != NULL)
			fuzz_fail("text decode: failed, but left a result");
		msg_is_utf8("text decode");
	}
	free(out);
	free(ref);
}

/* --- headers ------------------------------------------------------------ */

static void
check_header_text(const char *h)
{
	char *out = NULL;
	size_t n = strlen(h), chars;
	int rc = cs_http_header_text(h, n, 200, &out);

	if (rc != 0) {
		msg_is_utf8("header");
		if (out != NULL)
			fuzz_fail("header: failed, but left a result");
		return;
	}
	if (strlen(out) > n)
		fuzz_fail("header: the value grew when decoded");
	/* Text, of at most 200 characters. */
	if (ref_text(out, strlen(out), &chars) != 0 || chars > 200)
		fuzz_fail("header: over 200 characters passed");
	free(out);
}

static void
check_bearer(const char *h)
{
	const char *tok = NULL, *p = h + strspn(h, " ");
	size_t len = 99, hn = strlen(h);
	int scheme = strncasecmp(p, "bearer", 6) == 0 &&
	    (p[6] == ' ' || p[6] == '\t');
	int rc = cs_http_bearer(h, &tok, &len);

	if ((rc == 0) != scheme)
		fuzz_fail("bearer: rc %d for a %s header", rc,
		    scheme ? "Bearer" : "non-Bearer");
	if (rc != 0) {
		if (tok != NULL || len != 0)
			fuzz_fail("bearer: refused, but gave a token");
		msg_is_utf8("bearer");
		return;
	}
	if (tok < p + 7 || tok + len > h + hn)
		fuzz_fail("bearer: the token is outside the header");
	if (len > 0 && (strchr(" \t", tok[0]) != NULL ||
	    strchr(" \t", tok[len - 1]) != NULL))
		fuzz_fail("bearer: the token keeps its blanks");
	if (strspn(p + 6, " \t") != (size_t)(tok - p - 6) ||
	    tok[len + strspn(tok + len, " \t")] != '\0')
		fuzz_fail("bearer: more than blanks around the token");
}

/* The media type cut to a buffer of exactly n bytes. */
static void
check_media_type(const char *h, size_t n)
{
	char *type = xmalloc(n);
	const char *p = h + strspn(h, " \t");
	size_t tlen, want = strcspn(p, "; \t");
	int ok = -1, rc = cs_http_media_type(h, type, n, &ok), i;

	tlen = strlen(type);
	if (want > n - 1)
		want = n - 1;
	if (tlen != want || (rc == 0) != (tlen > 0) || (ok != 0 && ok != 1))
		fuzz_fail("media type: %zu bytes (rc %d), expected %zu", tlen, rc,
		    want);
	for (i = 0; i < (int)tlen; i++)
		if (type[i] != ((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]))
			fuzz_fail("media type: not the lower-cased header");
	if (!ok && strcasestr(h, "charset=") == NULL)
		fuzz_fail("media type: a bad charset without a charset");
	free(type);
}

static void
check_request_id(const char *s)
{
	size_t n = strlen(s);
	int want = n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;

	if (cs_http_request_id_ok(s) != want)
		fuzz_fail("request id: %d, expected %d", !want, want);
}

/* --- queries -------------------------------------------------------------- */

static void
free_pairs(struct cs_query_param *q, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(q[i].name);
		free(q[i].value);
	}
}

/* The non-empty pieces between '&' after the first '?'. */
static size_t
count_pieces(const char *target)
{
	const char *q = strchr(target, '?');
	size_t n = 0, len;

	if (q == NULL)
		return 0;
	for (q++;; q += len + 1) {
		len = strcspn(q, "&");
		n += len > 0;
		if (q[len] == '\0')
			return n;
	}
}

/* The pairs encoded into "?n=v&..." parse back to the same pairs. */
static void
query_round_trip(const struct cs_query_param *q, size_t n)
{
	struct cs_query_param back[CS_MAX_QUERY];
	char *target = NULL, *name, *value, *t;
	size_t i, nb = 0;

	if (asprintf(&target, "/x?") < 0)
		fuzz_fail("out of memory");
	for (i = 0; i < n; i++) {
		name = pct_encode(q[i].name, strlen(q[i].name));
		value = pct_encode(q[i].value, strlen(q[i].value));
		if (asprintf(&t, "%s%s=%s&", target, name, value) < 0)
			fuzz_fail("out of memory");
		free(target);
		target = t;
		free(name);
		free(value);
	}
	if (cs_http_query_parse(target, back, CS_MAX_QUERY, &nb, NULL) != 0)
		fuzz_fail("query: re-encoded pairs fail: %s", cs_err_msg());
	/* An empty name with an empty value encodes to "=", kept. */
	if (nb != n)
		fuzz_fail("query: %zu pairs re-encoded parse as %zu", n, nb);
	for (i = 0; i < n; i++)
		if (strcmp(back[i].name, q[i].name) != 0 ||
		    strcmp(back[i].value, q[i].value) != 0)
			fuzz_fail("query: pair %zu changed in a round trip", i);
	free_pairs(back, nb);
	free(target);
}

static void
check_query(const char *target)
{
	struct cs_query_param q[CS_MAX_QUERY], few[2];
	char *bad = NULL, *bad2 = NULL;
	size_t n = 99, nf = 99, i, pieces = count_pieces(target);
	int rc = cs_http_query_parse(target, q, CS_MAX_QUERY, &n, &bad);
	int rcf = cs_http_query_parse(target, few, 2, &nf, &bad2);

	if (n > CS_MAX_QUERY || nf > 2 || n > pieces)
		fuzz_fail("query: %zu pairs of %zu pieces", n, pieces);
	for (i = 0; i < n; i++) {
		must_be_text(q[i].name, strlen(q[i].name), "query name");
		must_be_text(q[i].value, strlen(q[i].value), "query value");
		if (strlen(q[i].name) + strlen(q[i].value) > strlen(target))
			fuzz_fail("query: a pair grew when decoded");
	}
	if (bad != NULL)
		must_be_text(bad, strlen(bad), "query bad name");
	if (rc == 0 && n != pieces)
		fuzz_fail("query: %zu pairs of %zu pieces", n, pieces);
	if (rc == CS_ETOOBIG && (n != CS_MAX_QUERY || pieces <= CS_MAX_QUERY))
		fuzz_fail("query: too many with %zu of %zu pieces", n, pieces);
	if (rc != 0 && rc != CS_ETOOBIG && rc != CS_EINVAL)
		fuzz_fail("query: rc %d", rc);
	if (rc != 0)
		msg_is_utf8("query");
	/* A smaller bound gives a prefix of the same pairs. */
	for (i = 0; i < nf; i++)
		if (i >= n || strcmp(few[i].name, q[i].name) != 0 ||
		    strcmp(few[i].value, q[i].value) != 0)
			fuzz_fail("query: bound 2 gives other pairs");
	if (rc == 0 && (rcf == 0) != (n <= 2))
		fuzz_fail("query: bound 2 says %d for %zu pairs", rcf, n);
	if (rc == 0)
		query_round_trip(q, n);
	free_pairs(q, n);
	free_pairs(few, nf);
	free(bad);
	free(bad2);
}

/* --- routes --------------------------------------------------------------- */

/* The segments of a match put back into the pattern give the path; each
 * is non-empty, has no '/', and decodes to text or fails cleanly. */
static void
check_match(const char *pat, const char *path, size_t n, const char **seg,
    const size_t *seglen, size_t nseg)
{
	const char *p = pat, *s = path;
	char *param = NULL;
	size_t k = 0, plen = 0;

	for (; *p != '\0'; p++) {
		if (*p != '{') {
			if (s >= path + n || *s++ != *p)
				fuzz_fail("route: '%s' matched a path off the pattern",
				    pat);
			continue;
		}
		if (k >= nseg || seg[k] != s || seglen[k] == 0 ||
		    memchr(seg[k], '/', seglen[k]) != NULL)
			fuzz_fail("route: segment %zu of '%s' is wrong", k, pat);
		s += seglen[k++];
		p = strchr(p, '}');
	}
	if (s != path + n || k != nseg)
		fuzz_fail("route: '%s' matched more than its segments", pat);
	for (k = 0; k < nseg; k++) {
		if (cs_http_text_decode(seg[k], seglen[k], 0, 0, &param,
		    &plen) == 0) {
			must_be_text(param, plen, "route segment");
			if (plen > seglen[k])
				fuzz_fail("route: a segment grew when decoded");
		}
		free(param);
		param = NULL;
	}
}

/* The path of target (up to '?' or '#') against the table: at most one
 * pattern matches (http_internal.h). */
static void
check_routes(const char *target)
{
	const char *seg[CS_MAX_PARAMS], *matched = NULL;
	size_t seglen[CS_MAX_PARAMS], nseg, i, n = strcspn(target, "?#");
	char *path = exact(target, n);

	for (i = 0; i < cs_n_routes; i++) {
		if (!cs_http_route_match(cs_routes[i].pattern, path, n, seg, seglen,
		    CS_MAX_PARAMS, &nseg))
			continue;
		check_match(cs_routes[i].pattern, path, n, seg, seglen, nseg);
		if (matched != NULL && strcmp(matched, cs_routes[i].pattern) != 0)
			fuzz_fail("route: '%s' and '%s' both match", matched,
			    cs_routes[i].pattern);
		matched = cs_routes[i].pattern;
	}
	free(path);
}

/* A fuzzed pattern (any bytes, '{' unclosed too) against a path. */
static void
check_pattern(const char *pat, const char *path, size_t n)
{
	const char *seg[CS_MAX_PARAMS];
	size_t seglen[CS_MAX_PARAMS], nseg = 99;
	char *p = exact(path, n);

	if (cs_http_route_match(pat, p, n, seg, seglen, CS_MAX_PARAMS, &nseg))
		check_match(pat, p, n, seg, seglen, nseg);
	else if (nseg > CS_MAX_PARAMS)
		fuzz_fail("route: %zu segments", nseg);
	free(p);
}

/* Every {x} route with the part, encoded as a client would, in each of its
 * segments: that route matches and the segments decode back to the part. */
static void
check_encoded_segment(const char *part)
{
	const char *seg[CS_MAX_PARAMS], *p, *br;
	size_t seglen[CS_MAX_PARAMS], nseg, i, k, n = strlen(part);
	char *enc = pct_encode(part, n), *path, *o, *param = NULL;

	for (i = 0; n > 0 && i < cs_n_routes; i++) {
		if (strchr(cs_routes[i].pattern, '{') == NULL)
			continue;
		/* A pattern is longer than its segments' names. */
		path = xmalloc(strlen(cs_routes[i].pattern) *
		    (strlen(enc) + 1) + 1);
		for (o = path, p = cs_routes[i].pattern; *p != '\0'; p++) {
			if (*p != '{') {
				*o++ = *p;
				continue;
			}
			o = stpcpy(o, enc);
			br = strchr(p, '}');
			p = br;
		}
		*o = '\0';
		if (!cs_http_route_match(cs_routes[i].pattern, path, strlen(path),
		    seg, seglen, CS_MAX_PARAMS, &nseg) || nseg == 0)
			fuzz_fail("route: '%s' does not match its own path",
			    cs_routes[i].pattern);
		for (k = 0; k < nseg; k++) {
			if (cs_pct_decode(seg[k], seglen[k], 0, &param, NULL) != 0 ||
			    strcmp(param, part) != 0)
				fuzz_fail("route: an encoded segment decodes to "
				    "other bytes");
			free(param);
			param = NULL;
		}
		free(path);
	}
	free(enc);
}

/* --- the /v form ---------------------------------------------------------- */

static const char *const form_names[] = {"qr", "licence", "holder_code"};
#define FORM_TEXT (1u << 1 | 1u << 2)

/* The values encoded into a form (in reverse order, behind a decoy of
 * another name) parse back to the same values. */
static void
form_round_trip(char *const v[3], const size_t vlen[3])
{
	char *body = NULL, *t, *enc, *back[3] = {NULL, NULL, NULL};
	size_t i, blen[3] = {0, 0, 0}, bad = 99;

	if ((body = strdup("qrx=1&=&&")) == NULL)
		fuzz_fail("out of memory");
	for (i = 3; i-- > 0;) {
		if (v[i] == NULL)
			continue;
		enc = pct_encode(v[i], vlen[i]);
		if (asprintf(&t, "%s&%s=%s", body, form_names[i], enc) < 0)
			fuzz_fail("out of memory");
		free(body);
		free(enc);
		body = t;
	}
	if (cs_http_form_parse(body, form_names, 3, FORM_TEXT, back, blen,
	    &bad) != 0)
		fuzz_fail("form: its own values fail: %s", cs_err_msg());
	for (i = 0; i < 3; i++)
		if ((v[i] == NULL) != (back[i] == NULL) || (v[i] != NULL &&
		    (blen[i] != vlen[i] || memcmp(back[i], v[i], vlen[i]) != 0)))
			fuzz_fail("form: %s changed in a round trip",
			    form_names[i]);
	for (i = 0; i < 3; i++)
		free(back[i]);
	free(body);
}

static void
check_form(const char *body)
{
	char *v[3] = {NULL, NULL, NULL};
	size_t vlen[3] = {0, 0, 0}, i, bad = 99;
	int rc = cs_http_form_parse(body, form_names, 3, FORM_TEXT, v, vlen,
	    &bad);

	if (rc != 0 && (rc != CS_EINVAL || bad >= 3))
		fuzz_fail("form: rc %d, bad %zu", rc, bad);
	if (rc != 0)
		msg_is_utf8("form");
	for (i = 0; i < 3; i++) {
		if (v[i] == NULL)
			continue;
		if (vlen[i] != strlen(v[i]) || vlen[i] > strlen(body))
			fuzz_fail("form: %s has a wrong length", form_names[i]);
		if (FORM_TEXT & (1u << i))
			must_be_text(v[i], vlen[i], form_names[i]);
	}
	if (rc == 0)
		form_round_trip(v, vlen);
	for (i = 0; i < 3; i++)
		free(v[i]);
}

/* --- the driver ----------------------------------------------------------- */

/* Every parser on one part, a NUL-terminated string. */
static void
one_part(const char *s)
{
	check_header_text(s);
	check_bearer(s);
	check_media_type(s, 80);
	check_media_type(s, 1 + strlen(s) % 7);
	check_request_id(s);
	check_query(s);
	check_routes(s);
	check_encoded_segment(s);
	check_form(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nul;
	char *part[MAX_PARTS], *raw = exact(in, size);
	size_t np = 0, off = 0, len, i;

	/* The whole input, NULs and all, as decoder and text-check input. */
	check_decode(raw, size, 0);
	check_decode(raw, size, 1);
	check_text(raw, size);
	check_text_decode(raw, size, 0, 0);
	check_text_decode(raw, size, 1, 1 + size % 16);
	free(raw);
	while (np < MAX_PARTS && off <= size) {
		nul = memchr(in + off, '\0', size - off);
		len = nul != NULL ? (size_t)(nul - (in + off)) : size - off;
		part[np++] = fuzz_strndup(data + off, len);
		off += len + 1;
	}
	for (i = 0; i < np; i++)
		one_part(part[i]);
	if (np >= 2)
		check_pattern(part[1], part[0], strlen(part[0]));
	for (i = 0; i < np; i++)
		free(part[i]);
	return 0;
}
