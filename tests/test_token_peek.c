/*
 * test_token_peek: what verify's fast path reads of a text before it is
 * verified (token_peek.c): the id, kid, iat and the stored zlib bytes of a
 * token in each form, and, for every text that is not certsvc's shape or
 * is cut short anywhere, a refusal that stays inside the buffer (the
 * sanitizer build checks that part).
 */
#include <stdlib.h>
#include <string.h>

#include "cbor_walk.h"
#include "check.h"
#include "cose.h"
#include "encode.h"
#include "keys.h"
#include "sbuf.h"
#include "token.h"

#define ID "11100000000013338W0440000000000123-01"

/* Claims as certsvc writes them: {-65537 {id, t, h {n}}, 1 iss, 6 iat}. */
static void
claims(cs_sbuf *b, const char *id, int indefinite)
{
	cs_cbor_head(b, CBOR_MAJOR_MAP, 3);
	cs_cbor_int(b, -65537);
	if (indefinite)
		cs_sb_add(b, "\xbf", 1);
	else
		cs_cbor_head(b, CBOR_MAJOR_MAP, 3);
	cs_cbor_text(b, "t");
	cs_cbor_text(b, "11100000000013338W044");
	cs_cbor_text(b, "h");
	cs_cbor_head(b, CBOR_MAJOR_MAP, 1);
	cs_cbor_text(b, "n");
	cs_cbor_text(b, "某公司");
	cs_cbor_text(b, "id");
	cs_cbor_text(b, id);
	if (indefinite)
		cs_sb_add(b, "\xff", 1);
	cs_cbor_int(b, 1);
	cs_cbor_text(b, "11440000MB2C1234XY");
	cs_cbor_int(b, 6);
	cs_cbor_int(b, 1760000000);
}

static cs_key *key;

/* The bare token of claims signed by key; *cose its COSE bytes. */
static char *
token_of(const cs_sbuf *c, uint8_t **cose, size_t *cose_len)
{
	char *tok = NULL;

	CHECK(cs_token_sign(key, (const uint8_t *)c->p, c->len, &tok) == 0);
	if (cose != NULL)
		CHECK(cs_cose_sign1(key, (const uint8_t *)c->p, c->len, cose,
		    cose_len) == 0);
	return tok;
}

TEST(each_form)
{
	cs_sbuf c = CS_SBUF_INIT;
	cs_token_peek pk;
	char *tok, *url = NULL, *compact = NULL, *forms[3];
	uint8_t *z = NULL;
	size_t zn = 0, i;

	claims(&c, ID, 0);
	tok = token_of(&c, NULL, NULL);
	CHECK(cs_token_qr_text(tok, "url", "https://lic.example", &url) == 0);
	CHECK(cs_token_qr_text(tok, "compact", NULL, &compact) == 0);
	CHECK(cs_b64url_decode(tok, strlen(tok), &z, &zn) == 0);
	forms[0] = tok, forms[1] = url, forms[2] = compact;
	for (i = 0; i < 3; i++) {
		CHECK(cs_token_peek_text(forms[i], strlen(forms[i]), &pk) == 0);
		CHECK_STR_EQ(pk.id, ID);
		CHECK_INT_EQ(pk.iat, 1760000000);
		CHECK(pk.kid_len == CS_KID_LEN && memcmp(pk.kid, key->kid,
		    CS_KID_LEN) == 0);
		CHECK(pk.compressed_len == zn && memcmp(pk.compressed, z, zn) == 0);
		/* The base64url text, which a stored token is compared with
		 * as it is: the token's own, for the url and token forms. */
		if (i < 2)
			CHECK(pk.b64 != NULL && pk.b64_len == strlen(tok) &&
			    memcmp(pk.b64, tok, pk.b64_len) == 0);
		else
			CHECK(pk.b64 == NULL);
		cs_token_peek_free(&pk);
	}
	free(z);
	free(url);
	free(compact);
	free(tok);
	cs_sb_free(&c);
}

/* The full check after a miss decodes from the peek: the same layers as
 * a decode of the text, in each form, and the peek keeps its id. */
TEST(decode_peeked)
{
	cs_sbuf c = CS_SBUF_INIT;
	cs_token_peek pk;
	cs_token_layers *a = NULL, *b = NULL;
	char *tok, *url = NULL, *compact = NULL, *forms[3];
	size_t i;

	claims(&c, ID, 0);
	tok = token_of(&c, NULL, NULL);
	CHECK(cs_token_qr_text(tok, "url", "https://lic.example", &url) == 0);
	CHECK(cs_token_qr_text(tok, "compact", NULL, &compact) == 0);
	forms[0] = tok, forms[1] = url, forms[2] = compact;
	for (i = 0; i < 3; i++) {
		CHECK(cs_token_peek_text(forms[i], strlen(forms[i]), &pk) == 0);
		CHECK(cs_token_decode(forms[i], strlen(forms[i]), &a) == 0);
		CHECK(cs_token_decode_peeked(&pk, &b) == 0);
		CHECK(b->failed_layer == NULL && b->form == a->form);
		CHECK(b->compressed_len == a->compressed_len &&
		    memcmp(b->compressed, a->compressed, a->compressed_len) == 0);
		CHECK(b->cose_len == a->cose_len &&
		    memcmp(b->cose, a->cose, a->cose_len) == 0);
		CHECK(json_equal(b->claims, a->claims));
		CHECK(b->msg->kid_len == CS_KID_LEN &&
		    memcmp(b->msg->kid, key->kid, CS_KID_LEN) == 0);
		CHECK(pk.cose == NULL && pk.kid == NULL);
		CHECK_STR_EQ(pk.id, ID);
		cs_token_layers_free(a);
		cs_token_layers_free(b);
		cs_token_peek_free(&pk);
	}
	free(url);
	free(compact);
	free(tok);
	cs_sb_free(&c);
}

/* The claims read without libcbor (cs_cbor_json_lean): certsvc's shapes
 * as cs_cbor_to_json shows them, and NULL (libcbor judges) for the rest:
 * indefinite lengths, tags, floats (a half float whose bits are 20 is not
 * false), integers past 64 signed bits, duplicate or non-ASCII keys. */
TEST(claims_lean)
{
	static const struct {
		const char *hex, *json;  /* json NULL: left to libcbor */
	} cases[] = {
		{"a3016161063a0001000020f5", "{\"1\":\"a\",\"6\":-65537,\"-1\":true}"},
		{"a2626964430102ff6166f6", "{\"id\":\"0102ff\",\"f\":null}"},
		{"83f4001bffffffffffffffff", NULL},
		{"8300f41b7fffffffffffffff", "[0,false,9223372036854775807]"},
		{"3b7fffffffffffffff", "-9223372036854775808"},
		{"a13b7fffffffffffffff00", "{\"-9223372036854775808\":0}"},
		{"f90014", NULL},
		{"f4", "false"},
		{"d24100", NULL},
		{"bf6161f5ff", NULL},
		{"a2616100616101", NULL},
		{"a2016100613101", NULL},
		{"a162c3a900", NULL},
		{"6261", NULL},
		{"a1616100", "{\"a\":0}"},
	};
	uint8_t *bin = NULL;
	size_t i, n;
	json_t *lean, *want, *full;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(cs_hex_decode(cases[i].hex, strlen(cases[i].hex), &bin,
		    &n) == 0);
		lean = cs_cbor_json_lean(bin, n);
		if (cases[i].json == NULL) {
			CHECK(lean == NULL);
		} else {
			want = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
			CHECK(lean != NULL && json_equal(lean, want));
			/* And cs_cbor_to_json answers the same. */
			CHECK(cs_cbor_to_json(bin, n, &full) == 0 &&
			    json_equal(full, want));
			json_decref(full);
			json_decref(want);
		}
		json_decref(lean);
		free(bin);
	}
}

/* The longest id there can be is read (the OID form's are 63-65 bytes). */
TEST(longest_id)
{
	cs_sbuf c = CS_SBUF_INIT;
	cs_token_peek pk;
	char id[CS_LICENCE_ID_MAX + 1], *tok;

	memset(id, '7', CS_LICENCE_ID_MAX);
	id[CS_LICENCE_ID_MAX] = '\0';
	claims(&c, id, 0);
	tok = token_of(&c, NULL, NULL);
	CHECK(cs_token_peek_text(tok, strlen(tok), &pk) == 0);
	CHECK_STR_EQ(pk.id, id);
	cs_token_peek_free(&pk);
	free(tok);
	cs_sb_free(&c);
}

TEST(not_certsvcs_shape)
{
	cs_sbuf c = CS_SBUF_INIT, b = CS_SBUF_INIT;
	cs_token_peek pk;
	uint8_t *cose = NULL;
	size_t n = 0;
	char *tok, *bare = NULL;
	char long_id[CS_LICENCE_ID_MAX + 2];

	/* An indefinite-length licence map, an id longer than any. */
	claims(&c, ID, 1);
	tok = token_of(&c, NULL, NULL);
	CHECK(cs_token_peek_text(tok, strlen(tok), &pk) != 0);
	free(tok);
	cs_sb_free(&c);
	memset(long_id, 'A', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	claims(&c, long_id, 0);
	tok = token_of(&c, &cose, &n);
	CHECK(cs_token_peek_text(tok, strlen(tok), &pk) != 0);
	/* The COSE message uncompressed: not the stored bytes. */
	CHECK(cs_b64url_encode(cose, n, &bare) == 0);
	CHECK(cs_token_peek_text(bare, strlen(bare), &pk) != 0);
	CHECK(cs_token_peek_text("HC1:6BFOXN", 10, &pk) != 0);
	CHECK(cs_token_peek_text("", 0, &pk) != 0);
	/* Nested arrays past CS_COSE_MAX_DEPTH where an unread claim is. */
	cs_sb_free(&c);
	cs_cbor_head(&c, CBOR_MAJOR_MAP, 1);
	cs_cbor_int(&c, 9);
	for (n = 0; n < 40; n++)
		cs_cbor_head(&c, CBOR_MAJOR_ARRAY, 1);
	cs_cbor_int(&c, 0);
	free(tok);
	tok = token_of(&c, NULL, NULL);
	CHECK(cs_token_peek_text(tok, strlen(tok), &pk) != 0);
	free(tok);
	free(bare);
	free(cose);
	cs_sb_free(&c);
	cs_sb_free(&b);
}

/* Every prefix of a genuine COSE message, and the message with each byte
 * set to each head that claims a long or huge length, compressed as a
 * token: refused (or, for a change in an unread string, read), and never
 * a read outside the buffer. */
TEST(cut_and_changed)
{
	cs_sbuf c = CS_SBUF_INIT;
	static const uint8_t heads[] = {0x5b, 0x7b, 0x9b, 0xbb, 0x9f, 0xff,
	    0x1f, 0xd8};
	cs_token_peek pk;
	uint8_t *cose = NULL, *copy, *z;
	size_t n = 0, zn, i, h;
	char *tok, *text;

	claims(&c, ID, 0);
	tok = token_of(&c, &cose, &n);
	copy = malloc(n);
	for (i = 0; i <= n; i++) {
		for (h = 0; h <= sizeof(heads); h++) {
			size_t len = h == sizeof(heads) ? i : n;

			if (i == n && h < sizeof(heads))
				break;
			memcpy(copy, cose, n);
			if (h < sizeof(heads))
				copy[i] = heads[h];
			z = NULL, text = NULL;
			if (cs_zlib_compress(copy, len, 9, &z, &zn) == 0 &&
			    cs_b64url_encode(z, zn, &text) == 0 &&
			    cs_token_peek_text(text, strlen(text), &pk) == 0) {
				/* Only a change of bytes it does not read. */
				CHECK(len == n);
				cs_token_peek_free(&pk);
			}
			free(z);
			free(text);
		}
	}
	free(copy);
	free(cose);
	free(tok);
	cs_sb_free(&c);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	if (cs_key_generate(CS_ALG_ES256, &key) != 0)
		return 1;
	RUN(each_form);
	RUN(decode_peeked);
	RUN(claims_lean);
	RUN(longest_id);
	RUN(not_certsvcs_shape);
	RUN(cut_and_changed);
	cs_key_free(key);
	return check_summary();
}
