/*
 * http_parse: the HTTP layer's parsers of outside input: percent-decoding
 * and the text check, query strings, route patterns, urlencoded forms, text
 * headers (X-Purpose and friends), the Authorization bearer token, the
 * Content-Type and X-Request-Id, the framing of the body.
 *
 * They are pure functions of their arguments (no connection, no server, no
 * globals but cs_err's per-thread message), so the fuzz target
 * fuzz/fuzz_http.c and tests/test_http_parse.c drive them without a socket;
 * http.c and http_routes.c turn their results into responses.  Every input
 * is untrusted: reads stop at the length given, or at the NUL of a string.
 *
 * A failure message completes a sentence that names the input ("the
 * X-Purpose header " + "is not valid UTF-8"), so callers can prefix it.
 */
#ifndef CS_HTTP_PARSE_H
#define CS_HTTP_PARSE_H

#include <stddef.h>

/* Decode %XX (and '+' as a space when plus_space) from in[0..n).  A '%' not
 * followed by two hex digits is kept as it is, so the output is never longer
 * than the input.  *out malloc'd (the caller frees), NUL-terminated, NULL on
 * failure; *outlen (optional) its length.  CS_EINVAL when the result holds a
 * NUL byte (raw or %00): the result is used as a C string. */
int cs_pct_decode(const char *in, size_t n, int plus_space, char **out,
    size_t *outlen);

/* 0 when s[0..n) is valid UTF-8 (no overlong form, no surrogate, nothing
 * past U+10FFFF) without control characters (C0, DEL, C1); *chars
 * (optional) the count of code points.  CS_EINVAL otherwise, with a message
 * saying which ("is not valid UTF-8", "contains a control character"). */
int cs_text_check(const char *s, size_t n, size_t *chars);

/* cs_pct_decode() then cs_text_check() of in[0..n): text as a person typed
 * it.  max_chars (0: no limit) bounds the code points: CS_EINVAL "is over N
 * characters" past it.  *out as for cs_pct_decode(), NULL on any failure. */
int cs_http_text_decode(const char *in, size_t n, int plus_space,
    size_t max_chars, char **out, size_t *outlen);

/* A text header (X-Purpose, X-Service-Item, X-Case-Ref): UTF-8 sent raw or
 * percent-encoded (SPEC §5; '+' stays a plus), of at most max_chars code
 * points.  h[0..n) is the header's value, present and not empty (the
 * caller decides what absence means), with any raw NUL in it: the length
 * comes from the connection, not from strlen().  *out as for
 * cs_http_text_decode(). */
int cs_http_header_text(const char *h, size_t n, size_t max_chars,
    char **out);

/* One decoded query parameter: both owned. */
struct cs_query_param {
	char *name, *value;
};

/* Split the query of a request target (the text after its first '?') into
 * pairs "name=value" separated by '&', each part decoded by
 * cs_http_text_decode() with '+' as a space; empty pairs are skipped, a
 * pair without '=' has an empty value.  The pairs go to out[0..*n), at most
 * max; they are the caller's to free, also after a failure (the pairs
 * before the failing one stay).  Errors:
 *   CS_EINVAL   a name or value is not text (message as cs_text_check());
 *               *bad_name (optional) is then the decoded name when that is
 *               text (malloc'd, the caller frees), else NULL;
 *   CS_ETOOBIG  more than max pairs ("more than N query parameters");
 *   CS_ENOMEM. */
int cs_http_query_parse(const char *target, struct cs_query_param *out,
    size_t max, size_t *n, char **bad_name);

/* 1 when path[0..n) matches pattern, else 0.  Patterns come from the route
 * table, not from the request: literal characters match themselves and
 * "{name}" matches one non-empty path segment (no '/').  The segments, raw
 * (still percent-encoded), are returned as pointers into path: seg[i],
 * seglen[i] for i < *nseg, at most max of them (a pattern with more never
 * matches).  A '{' without its '}' ends the pattern unmatched. */
int cs_http_route_match(const char *pattern, const char *path, size_t n,
    const char *seg[], size_t seglen[], size_t max, size_t *nseg);

/* The first value of each of names[0..count) in the urlencoded form body
 * (NUL-terminated: "name=value&..."; names compared raw, values decoded
 * with '+' as a space).  v[i] is malloc'd, or NULL when the form lacks
 * names[i]; vlen[i] its length.  A value whose bit (1u << i) is set in text
 * must pass cs_text_check(); any other may hold any byte but NUL (the QR
 * text may end in a scanner's CR/LF).  CS_EINVAL (*bad the index of the
 * name) or CS_ENOMEM; v[] is the caller's to free in every case, and must
 * start all NULL. */
int cs_http_form_parse(const char *body, const char *const names[],
    size_t count, unsigned text, char *v[], size_t vlen[], size_t *bad);

/* The token of an Authorization header value in the Bearer scheme
 * (RFC 6750 §2.1): blanks, "Bearer" in any case, at least one blank (space
 * or tab), the token.  *tok points into h, *len its length without the
 * blanks around it (0 when there is none).  CS_EINVAL for another scheme. */
int cs_http_bearer(const char *h, const char **tok, size_t *len);

/* The media type of a Content-Type header value h, lower-cased into
 * type[0..n) (n >= 1; cut at n - 1 characters), and in *charset_ok whether
 * its charset parameter, if any, is UTF-8.  0, or -1 when h is NULL or
 * holds no media type (type is then empty). */
int cs_http_media_type(const char *h, char *type, size_t n, int *charset_ok);

/* 1 when an X-Request-Id the client sent may be reused as the request's id
 * (it goes into logs and the answer): 1 to 64 of [A-Za-z0-9._-]. */
int cs_http_request_id_ok(const char *s);

/* How a request's head frames its body (RFC 9112 §6): how many
 * Content-Length and Transfer-Encoding fields it carries, and the value of
 * the last Transfer-Encoding (NULL when none). */
struct cs_http_framing {
	unsigned lengths, codings;
	const char *coding;
};

/* 0 when the head frames the body one way only: no Transfer-Encoding and
 * at most one Content-Length, or a single Transfer-Encoding that is
 * exactly "chunked" (in any case: coding names are case-insensitive) and
 * no Content-Length.  Repeated Content-Lengths are refused even when they
 * agree (RFC 9110 §8.6 allows either; one rule leaves nothing for a proxy
 * to read differently).  CS_EINVAL otherwise, *blamed the header's name. */
int cs_http_framing_check(const struct cs_http_framing *f,
    const char **blamed);

/* 1 when an If-None-Match value h names etag (a quoted strong tag): "*",
 * or one of its comma-separated tags, compared weakly (RFC 9110 §13.1.2:
 * a "W/" before a tag is ignored).  0 otherwise, NULL included. */
int cs_http_etag_match(const char *h, const char *etag);

#endif
