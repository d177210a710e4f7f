/*
 * http_parse: the HTTP layer's parsers of outside input (http_parse.h).
 * Moved out of http.c and http_routes.c unchanged in behaviour, so that
 * fuzz/fuzz_http.c can reach them without a connection.
 */
#include "http_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_err.h"
#include "encode.h"
#include "text.h"

int
cs_pct_decode(const char *in, size_t n, int plus_space, char **out,
    size_t *outlen)
{
	char *d;
	size_t i, o = 0;
	int hi, lo;

	*out = NULL;
	if ((d = malloc(n + 1)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (in[i] == '%' && i + 2 < n &&
		    (hi = cs_hex_value((unsigned char)in[i + 1])) >= 0 &&
		    (lo = cs_hex_value((unsigned char)in[i + 2])) >= 0) {
			d[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (in[i] == '+' && plus_space) {
			d[o++] = ' ';
		} else {
			d[o++] = in[i];
		}
	}
	d[o] = '\0';
	if (memchr(d, '\0', o) != NULL) {
		free(d);
		return cs_err_set(CS_EINVAL, "contains a NUL byte");
	}
	*out = d;
	if (outlen != NULL)
		*outlen = o;
	return 0;
}

int
cs_text_check(const char *s, size_t n, size_t *chars)
{
	size_t i = 0, count = 0, len;
	uint32_t cp;

	while (i < n) {
		if ((len = cs_utf8_decode(s + i, n - i, &cp)) == 0)
			return cs_err_set(CS_EINVAL, "is not valid UTF-8");
		if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F))
			return cs_err_set(CS_EINVAL, "contains a control character");
		i += len;
		count++;
	}
	if (chars != NULL)
		*chars = count;
	return 0;
}

int
cs_http_text_decode(const char *in, size_t n, int plus_space,
    size_t max_chars, char **out, size_t *outlen)
{
	size_t len, chars = 0;
	int rc;

	if ((rc = cs_pct_decode(in, n, plus_space, out, &len)) != 0)
		return rc;
	if ((rc = cs_text_check(*out, len, &chars)) != 0)
		goto fail;
	if (max_chars > 0 && chars > max_chars) {
		rc = cs_err_set(CS_EINVAL, "is over %zu characters", max_chars);
		goto fail;
	}
	if (outlen != NULL)
		*outlen = len;
	return 0;
fail:
	free(*out);
	*out = NULL;
	return rc;
}

int
cs_http_header_text(const char *h, size_t n, size_t max_chars, char **out)
{
	/* No '+' as a space: a raw header may hold a real plus, and the
	 * clients that encode send %20. */
	return cs_http_text_decode(h, n, 0, max_chars, out, NULL);
}

/* One "name=value" of a query, p[0..n) with n > 0, decoded into out. */
static int
query_pair(const char *p, size_t n, struct cs_query_param *out,
    char **bad_name)
{
	const char *eq = memchr(p, '=', n);
	size_t nlen = eq ? (size_t)(eq - p) : n;
	int rc;

	if ((rc = cs_http_text_decode(p, nlen, 1, 0, &out->name, NULL)) != 0)
		return rc;
	rc = cs_http_text_decode(eq ? eq + 1 : "", eq ? n - nlen - 1 : 0, 1, 0,
	    &out->value, NULL);
	if (rc != 0) {
		/* A name that is text can be the problem's field. */
		if (bad_name != NULL)
			*bad_name = out->name;
		else
			free(out->name);
		out->name = NULL;
	}
	return rc;
}

int
cs_http_query_parse(const char *target, struct cs_query_param *out,
    size_t max, size_t *n, char **bad_name)
{
	const char *q = strchr(target, '?'), *p, *amp;
	struct cs_query_param pair;
	size_t len;
	int rc;

	*n = 0;
	if (bad_name != NULL)
		*bad_name = NULL;
	if (q == NULL)
		return 0;
	for (p = q + 1; *p != '\0'; p = *amp ? amp + 1 : amp) {
		amp = p + strcspn(p, "&");
		if ((len = (size_t)(amp - p)) == 0)
			continue;
		if ((rc = query_pair(p, len, &pair, bad_name)) != 0)
			return rc;
		if (*n == max) {
			free(pair.name);
			free(pair.value);
			return cs_err_set(CS_ETOOBIG, "more than %zu query "
			    "parameters", max);
		}
		out[(*n)++] = pair;
	}
	return 0;
}

int
cs_http_route_match(const char *pattern, const char *path, size_t n,
    const char *seg[], size_t seglen[], size_t max, size_t *nseg)
{
	const char *pat = pattern, *s = path, *end = path + n, *start;

	*nseg = 0;
	while (*pat != '\0' && s < end) {
		if (*pat == '{') {
			if ((pat = strchr(pat, '}')) == NULL)
				return 0;
			pat++;
			for (start = s; s < end && *s != '/'; s++)
				;
			if (s == start || *nseg == max)
				return 0;
			seg[*nseg] = start;
			seglen[(*nseg)++] = (size_t)(s - start);
		} else if (*pat++ != *s++) {
			return 0;
		}
	}
	return *pat == '\0' && s == end;
}

int
cs_http_form_parse(const char *body, const char *const names[],
    size_t count, unsigned text, char *v[], size_t vlen[], size_t *bad)
{
	const char *p, *amp, *eq;
	size_t i, n;
	int rc;

	for (p = body; *p != '\0'; p = *amp ? amp + 1 : amp) {
		amp = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(amp - p));
		for (i = 0; eq != NULL && i < count; i++) {
			n = strlen(names[i]);
			if ((size_t)(eq - p) != n || strncmp(p, names[i], n) != 0 ||
			    v[i] != NULL)
				continue;
			rc = (text & (1u << i)) ?
			    cs_http_text_decode(eq + 1, (size_t)(amp - eq - 1), 1,
			    0, &v[i], &vlen[i]) :
			    cs_pct_decode(eq + 1, (size_t)(amp - eq - 1), 1, &v[i],
			    &vlen[i]);
			if (rc != 0) {
				*bad = i;
				return rc;
			}
		}
	}
	return 0;
}

int
cs_http_bearer(const char *h, const char **tok, size_t *len)
{
	size_t n;

	*tok = NULL;
	*len = 0;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return cs_err_set(CS_EINVAL, "must use the Bearer scheme");
	for (h += 6; *h == ' ' || *h == '\t'; h++)
		;
	n = strlen(h);
	while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	*tok = h;
	*len = n;
	return 0;
}

int
cs_http_media_type(const char *h, char *type, size_t n, int *charset_ok)
{
	size_t i = 0;
	const char *cs;

	*charset_ok = 1;
	type[0] = '\0';
	if (h == NULL)
		return -1;
	while (*h == ' ' || *h == '\t')
		h++;
	for (; *h != '\0' && *h != ';' && *h != ' ' && *h != '\t' && i + 1 < n;
	    h++)
		type[i++] = (char)((*h >= 'A' && *h <= 'Z') ? *h + 32 : *h);
	type[i] = '\0';
	if (i == 0)
		return -1;  /* "Content-Type:" with nothing: as if absent */
	if ((cs = strcasestr(h, "charset=")) != NULL) {
		cs += 8;
		if (*cs == '"')
			cs++;
		if (strncasecmp(cs, "utf-8", 5) != 0 ||
		    (cs[5] != '\0' && cs[5] != '"' && cs[5] != ';' &&
		    cs[5] != ' '))
			*charset_ok = 0;
	}
	return 0;
}

int
cs_http_request_id_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++)
		if (n == 64 || !((s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9') ||
		    s[n] == '.' || s[n] == '_' || s[n] == '-'))
			return 0;
	return n > 0;
}

int
cs_http_framing_check(const struct cs_http_framing *f, const char **blamed)
{
	*blamed = f->codings > 0 ? "Transfer-Encoding" : "Content-Length";
	if (f->codings == 0 && f->lengths > 1)
		return cs_err_set(CS_EINVAL, "is repeated: a body has one length");
	if (f->codings > 1)
		return cs_err_set(CS_EINVAL, "is repeated: only a single "
		    "\"chunked\" is accepted");
	if (f->codings == 1 && (f->coding == NULL ||
	    strcasecmp(f->coding, "chunked") != 0))
		return cs_err_set(CS_EINVAL, "names a transfer coding other than "
		    "chunked, the only one accepted");
	if (f->codings == 1 && f->lengths > 0)
		return cs_err_set(CS_EINVAL, "comes with a Content-Length: the "
		    "body's length would be ambiguous");
	return 0;
}

int
cs_http_etag_match(const char *h, const char *etag)
{
	size_t n = strlen(etag), k;

	if (h == NULL)
		return 0;
	for (;;) {
		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		if (*h == '\0')
			return 0;
		if (*h == '*')
			return 1;
		if (h[0] == 'W' && h[1] == '/')
			h += 2;
		k = strcspn(h, ", \t");
		if (k == n && memcmp(h, etag, n) == 0)
			return 1;
		h += k;
	}
}
