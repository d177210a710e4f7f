/* http_parse: the HTTP layer's parsers of outside input, without a socket.
 * The end-to-end tests (http_api, hostile) check the answers built on them;
 * fuzz/fuzz_http.c checks their properties on hostile bytes. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cs_err.h"
#include "http_parse.h"

TEST(pct_decode)
{
	static const struct {
		const char *in;
		int plus;
		const char *out;      /* NULL: CS_EINVAL */
	} cases[] = {
		{"a%20b", 0, "a b"},
		{"a+b", 0, "a+b"},
		{"a+b", 1, "a b"},
		{"%E8%AF%81", 0, "\xE8\xAF\x81"},
		{"%e8%af%81", 0, "\xE8\xAF\x81"},
		{"100%", 0, "100%"},          /* a '%' without two digits stays */
		{"%4", 0, "%4"},
		{"%zz", 0, "%zz"},
		{"%%41", 0, "%A"},
		{"%00", 0, NULL},
		{"", 0, ""},
	};
	size_t i, n;
	char *out;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = cs_pct_decode(cases[i].in, strlen(cases[i].in),
		    cases[i].plus, &out, &n);

		if (cases[i].out == NULL) {
			CHECK_INT_EQ(rc, CS_EINVAL);
			CHECK(out == NULL);
			continue;
		}
		CHECK_INT_EQ(rc, 0);
		CHECK_STR_EQ(out, cases[i].out);
		CHECK_INT_EQ(n, strlen(cases[i].out));
		free(out);
	}
	/* A raw NUL inside the length is refused too. */
	CHECK_INT_EQ(cs_pct_decode("a\0b", 3, 0, &out, NULL), CS_EINVAL);
}

TEST(text_check)
{
	static const struct {
		const char *s;
		const char *fault;    /* NULL: text */
		size_t chars;
	} cases[] = {
		{"办理营业执照", NULL, 6},
		{"plain", NULL, 5},
		{"\xC0\xAF", "is not valid UTF-8", 0},          /* overlong */
		{"\xED\xA0\x80", "is not valid UTF-8", 0},      /* surrogate */
		{"\xF4\x90\x80\x80", "is not valid UTF-8", 0},  /* > U+10FFFF */
		{"\xE8\xAF", "is not valid UTF-8", 0},          /* cut short */
		{"a\tb", "contains a control character", 0},
		{"\x7F", "contains a control character", 0},
		{"\xC2\x85", "contains a control character", 0}, /* NEL, C1 */
	};
	size_t i, chars;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = cs_text_check(cases[i].s, strlen(cases[i].s), &chars);

		if (cases[i].fault == NULL) {
			CHECK_INT_EQ(rc, 0);
			CHECK_INT_EQ(chars, cases[i].chars);
		} else {
			CHECK_INT_EQ(rc, CS_EINVAL);
			CHECK_STR_EQ(cs_err_msg(), cases[i].fault);
		}
	}
}

TEST(header_text)
{
	char *out = NULL, long_text[700];
	size_t i;

	CHECK_INT_EQ(cs_http_header_text("%E5%8A%9E%E7%90%86", strlen("%E5%8A%9E%E7%90%86"), 200, &out), 0);
	CHECK_STR_EQ(out, "办理");
	free(out);
	CHECK_INT_EQ(cs_http_header_text("a+b", strlen("a+b"), 200, &out), 0);
	CHECK_STR_EQ(out, "a+b");
	free(out);
	CHECK_INT_EQ(cs_http_header_text("%0A", strlen("%0A"), 200, &out), CS_EINVAL);
	CHECK_STR_EQ(cs_err_msg(), "contains a control character");
	CHECK(out == NULL);
	/* A raw NUL inside the value's length is refused, not cut at. */
	CHECK_INT_EQ(cs_http_header_text("ab\0cd", 5, 200, &out), CS_EINVAL);
	CHECK(out == NULL);
	/* 201 characters of three bytes each. */
	for (i = 0; i < 201; i++)
		memcpy(long_text + 3 * i, "办", 3);
	long_text[603] = '\0';
	CHECK_INT_EQ(cs_http_header_text(long_text, strlen(long_text), 200, &out), CS_EINVAL);
	CHECK_STR_EQ(cs_err_msg(), "is over 200 characters");
	long_text[600] = '\0';
	CHECK_INT_EQ(cs_http_header_text(long_text, strlen(long_text), 200, &out), 0);
	free(out);
}

TEST(query)
{
	struct cs_query_param q[3];
	char *bad = NULL;
	size_t n = 0, i;

	CHECK_INT_EQ(cs_http_query_parse("/x?type=a%2Bb&&status=valid+now&flag",
	    q, 3, &n, &bad), 0);
	CHECK_INT_EQ(n, 3);
	CHECK_STR_EQ(q[0].name, "type");
	CHECK_STR_EQ(q[0].value, "a+b");
	CHECK_STR_EQ(q[1].value, "valid now");
	CHECK_STR_EQ(q[2].name, "flag");
	CHECK_STR_EQ(q[2].value, "");
	for (i = 0; i < n; i++) {
		free(q[i].name);
		free(q[i].value);
	}
	CHECK_INT_EQ(cs_http_query_parse("/x", q, 3, &n, &bad), 0);
	CHECK_INT_EQ(n, 0);

	/* A bad value names its parameter; a bad name does not. */
	CHECK_INT_EQ(cs_http_query_parse("/x?a=1&type=%FF", q, 3, &n, &bad),
	    CS_EINVAL);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(bad, "type");
	CHECK_STR_EQ(cs_err_msg(), "is not valid UTF-8");
	free(bad);
	free(q[0].name);
	free(q[0].value);
	CHECK_INT_EQ(cs_http_query_parse("/x?%FF=1", q, 3, &n, &bad),
	    CS_EINVAL);
	CHECK(bad == NULL);

	CHECK_INT_EQ(cs_http_query_parse("/x?a&b&c&d", q, 3, &n, NULL),
	    CS_ETOOBIG);
	CHECK_STR_EQ(cs_err_msg(), "more than 3 query parameters");
	for (i = 0; i < n; i++) {
		free(q[i].name);
		free(q[i].value);
	}
}

TEST(route_match)
{
	const char *seg[2];
	size_t len[2], n;
	const char *p = "/api/v1/holders/91350100M000100Y43/certificates";

	CHECK_INT_EQ(cs_http_route_match("/api/v1/holders/{code}/certificates",
	    p, strlen(p), seg, len, 2, &n), 1);
	CHECK_INT_EQ(n, 1);
	CHECK(seg[0] == p + 16);
	CHECK_INT_EQ(len[0], 18);
	CHECK_INT_EQ(cs_http_route_match("/api/v1/certificates/{id}", p,
	    strlen(p), seg, len, 2, &n), 0);
	/* An empty segment, a '/' inside one, one too many. */
	CHECK_INT_EQ(cs_http_route_match("/v/{t}", "/v/", 3, seg, len, 2, &n), 0);
	CHECK_INT_EQ(cs_http_route_match("/v/{t}", "/v/a/b", 6, seg, len, 2,
	    &n), 0);
	CHECK_INT_EQ(cs_http_route_match("/{a}/{b}", "/x/y", 4, seg, len, 1,
	    &n), 0);
	/* Only path[0..n) counts: the query is not part of the path. */
	CHECK_INT_EQ(cs_http_route_match("/v", "/v?qr=1", 2, seg, len, 2, &n),
	    1);
	/* A pattern cut inside its '{' never matches (nor reads past it). */
	CHECK_INT_EQ(cs_http_route_match("/v/{t", "/v/x", 4, seg, len, 2, &n),
	    0);
}

TEST(form)
{
	static const char *const names[] = {"qr", "licence", "holder_code"};
	char *v[3] = {NULL, NULL, NULL};
	size_t vlen[3] = {0, 0, 0}, bad = 9, i;

	CHECK_INT_EQ(cs_http_form_parse("qrx=1&licence=A+B&qr=EL1%3AX%0D%0A&"
	    "qr=second", names, 3, 1u << 1 | 1u << 2, v, vlen, &bad), 0);
	CHECK_STR_EQ(v[0], "EL1:X\r\n");   /* the QR text may end in CR/LF */
	CHECK_INT_EQ(vlen[0], 7);
	CHECK_STR_EQ(v[1], "A B");
	CHECK(v[2] == NULL);
	for (i = 0; i < 3; i++) {
		free(v[i]);
		v[i] = NULL;
	}
	CHECK_INT_EQ(cs_http_form_parse("holder_code=a%0Ab", names, 3,
	    1u << 1 | 1u << 2, v, vlen, &bad), CS_EINVAL);
	CHECK_INT_EQ(bad, 2);
	for (i = 0; i < 3; i++)
		free(v[i]);
}

TEST(bearer)
{
	const char *tok;
	size_t n;

	CHECK_INT_EQ(cs_http_bearer("  bearer \t abc.def \t", &tok, &n), 0);
	CHECK_INT_EQ(n, 7);
	CHECK(strncmp(tok, "abc.def", n) == 0);
	CHECK_INT_EQ(cs_http_bearer("Bearer ", &tok, &n), 0);
	CHECK_INT_EQ(n, 0);
	CHECK_INT_EQ(cs_http_bearer("Basic abc", &tok, &n), CS_EINVAL);
	CHECK_INT_EQ(cs_http_bearer("Bearerabc", &tok, &n), CS_EINVAL);
	CHECK_INT_EQ(cs_http_bearer("Bearer", &tok, &n), CS_EINVAL);
}

TEST(media_type)
{
	char type[80], small[4];
	int ok;

	CHECK_INT_EQ(cs_http_media_type(" Application/JSON; charset=UTF-8",
	    type, sizeof(type), &ok), 0);
	CHECK_STR_EQ(type, "application/json");
	CHECK_INT_EQ(ok, 1);
	CHECK_INT_EQ(cs_http_media_type("text/plain;charset=\"latin1\"", type,
	    sizeof(type), &ok), 0);
	CHECK_INT_EQ(ok, 0);
	CHECK_INT_EQ(cs_http_media_type("  ; charset=utf-8", type, sizeof(type),
	    &ok), -1);
	CHECK_INT_EQ(cs_http_media_type(NULL, type, sizeof(type), &ok), -1);
	CHECK_INT_EQ(cs_http_media_type("text/plain", small, sizeof(small),
	    &ok), 0);
	CHECK_STR_EQ(small, "tex");
}

TEST(request_id)
{
	char id[66];

	CHECK_INT_EQ(cs_http_request_id_ok("req-1.a_B"), 1);
	CHECK_INT_EQ(cs_http_request_id_ok(""), 0);
	CHECK_INT_EQ(cs_http_request_id_ok(NULL), 0);
	CHECK_INT_EQ(cs_http_request_id_ok("a b"), 0);
	memset(id, 'a', 64);
	id[64] = '\0';
	CHECK_INT_EQ(cs_http_request_id_ok(id), 1);
	id[64] = 'a';
	id[65] = '\0';
	CHECK_INT_EQ(cs_http_request_id_ok(id), 0);
}

TEST(framing)
{
	static const struct {
		unsigned lengths, codings;
		const char *coding;
		const char *blamed;   /* NULL: the framing is accepted */
	} cases[] = {
		{0, 0, NULL, NULL},
		{1, 0, NULL, NULL},
		{0, 1, "chunked", NULL},
		{0, 1, "Chunked", NULL},            /* coding names ignore case */
		{2, 0, NULL, "Content-Length"},     /* even with equal values */
		{1, 1, "chunked", "Transfer-Encoding"},
		{0, 2, "chunked", "Transfer-Encoding"},
		{0, 1, "gzip, chunked", "Transfer-Encoding"},
		{0, 1, "chunked, gzip", "Transfer-Encoding"},
		{0, 1, "identity", "Transfer-Encoding"},
		{0, 1, "chunked ", "Transfer-Encoding"},
		{0, 1, "", "Transfer-Encoding"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cs_http_framing f = {cases[i].lengths, cases[i].codings,
		    cases[i].coding};
		const char *blamed = NULL;
		int rc = cs_http_framing_check(&f, &blamed);

		if (cases[i].blamed == NULL) {
			CHECK_INT_EQ(rc, 0);
			continue;
		}
		CHECK_INT_EQ(rc, CS_EINVAL);
		CHECK(blamed != NULL && strcmp(blamed, cases[i].blamed) == 0);
	}
}

TEST(etag_match)
{
	const char *t = "\"abc\"";

	CHECK_INT_EQ(cs_http_etag_match("\"abc\"", t), 1);
	CHECK_INT_EQ(cs_http_etag_match("W/\"abc\"", t), 1);
	CHECK_INT_EQ(cs_http_etag_match("\"x\", \"abc\"", t), 1);
	CHECK_INT_EQ(cs_http_etag_match("\"x\",\t\"abc\" ", t), 1);
	CHECK_INT_EQ(cs_http_etag_match("*", t), 1);
	CHECK_INT_EQ(cs_http_etag_match("\"abcd\"", t), 0);
	CHECK_INT_EQ(cs_http_etag_match("\"ab\"", t), 0);
	CHECK_INT_EQ(cs_http_etag_match("abc", t), 0);
	CHECK_INT_EQ(cs_http_etag_match("", t), 0);
	CHECK_INT_EQ(cs_http_etag_match(NULL, t), 0);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(pct_decode);
	RUN(text_check);
	RUN(header_text);
	RUN(query);
	RUN(route_match);
	RUN(form);
	RUN(bearer);
	RUN(media_type);
	RUN(request_id);
	RUN(framing);
	RUN(etag_match);
	return check_summary();
}
