/*
 * token: the signed token of SPEC §4 and its two QR forms.
 *
 *   claims  = CBOR map {-65537 {id, t, no, i, h, f?, s?}, 1 iss, 4 exp?,
 *             5 nbf, 6 iat}; f only when the type marks face fields for
 *             the QR and the licence has them
 *   cose    = COSE_Sign1(claims)
 *   token   = base64url_nopad(zlib(cose))
 *   url     = {public_url}/v/{token}
 *   compact = "EL1:" base45(zlib(cose))
 *
 * Decoding takes any of these (and "HC1:" EU DCC texts, and an uncompressed
 * COSE message) layer by layer, so `certsvc decode` can show each layer and
 * say which one failed.
 */
#ifndef CS_TOKEN_H
#define CS_TOKEN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "codes.h"
#include "cose.h"
#include "keys.h"

/* Largest QR text or token accepted for decoding. */
#define CS_TOKEN_MAX_TEXT 8192

/* The private-use claim key holding the licence. */
#define CS_CLAIM_LICENCE (-65537)

/* Build the claims of a licence (the SPEC §1 JSON object, holder code as
 * stored: a RID is masked here).  *out malloc'd. */
int cs_claims_encode(const cs_type *type, const json_t *licence, long tz_min,
    uint8_t **out, size_t *outlen);

/* Sign claims and encode the token (base64url of the zlib'd COSE). */
int cs_token_sign(const cs_key *key, const uint8_t *claims, size_t n,
    char **token_out);

/* The QR text of a token in a form: "url" or "compact". */
int cs_token_qr_text(const char *token, const char *form,
    const char *public_url, char **out);

/* Which outer form a text came in. */
enum cs_token_form {
	CS_FORM_TOKEN,    /* a bare base64url token */
	CS_FORM_URL,      /* .../v/{token} */
	CS_FORM_COMPACT,  /* EL1: */
	CS_FORM_DCC,      /* HC1: */
	CS_FORM_COSE,     /* an uncompressed COSE message (tag first) */
};

/* Every layer of a decoded text; members are NULL/0 past the layer that
 * failed (failed_layer names it). */
typedef struct cs_token_layers {
	enum cs_token_form form;
	const char *failed_layer;  /* NULL when all decoded: "prefix",
				    * "base45", "base64url", "zlib", "cose",
				    * "claims" */
	char *encoded;             /* the text after any prefix */
	uint8_t *compressed;       /* zlib bytes (NULL when not compressed) */
	size_t compressed_len;
	uint8_t *cose;             /* the COSE_Sign1 bytes */
	size_t cose_len;
	cs_cose_msg *msg;
	json_t *claims;            /* claims as JSON: integer keys as text
				    * ("1", "-65537"), byte strings as hex */
} cs_token_layers;

/* Decode every layer it can.  Returns 0 when all decoded, else the first
 * failing layer's code (CS_EINVAL / CS_ETOOBIG) with *out still set. */
int cs_token_decode(const char *text, size_t len, cs_token_layers **out);
void cs_token_layers_free(cs_token_layers *l);

/* The outer form of a text: l->form set and l->encoded (malloc'd) the
 * text after any prefix, URL path, query and fragment. */
int cs_token_unwrap(cs_token_layers *l, const char *text, size_t len);

/*
 * What verification's fast path (verify.c) needs of a text, read without
 * verifying it: the token's bytes as stored (the zlib stream of the COSE
 * message, what a bare token's base64url and the compact form's Base45
 * carry), and the licence id, kid and iat its COSE message holds.  Only
 * the shape certsvc signs is taken (tag 18, protected {1 alg, 4 kid},
 * empty unprotected map, definite lengths); anything else fails
 * (nonzero), and the caller checks the text in full.  Nothing here
 * is trusted: the caller compares compressed, full length, with the token
 * stored for id before believing any of it.
 */
typedef struct cs_token_peek {
	enum cs_token_form form;  /* CS_FORM_URL, _TOKEN or _COMPACT */
	uint8_t *compressed;      /* owned: the zlib stream, as stored */
	size_t compressed_len;
	char *b64;                /* owned: its base64url text (the url and
	                           * token forms; NULL for compact) */
	size_t b64_len;
	uint8_t *cose;            /* owned: its inflated COSE_Sign1 */
	size_t cose_len;
	const uint8_t *kid;       /* into cose */
	size_t kid_len;
	int64_t iat;
	char id[CS_LICENCE_ID_MAX + 1];  /* the licence claim's id */
} cs_token_peek;

int cs_token_peek_text(const char *text, size_t len, cs_token_peek *out);
void cs_token_peek_free(cs_token_peek *p);

/* cs_token_decode of the text pk was peeked from, without its outer
 * layers again: the same base64url or Base45 and inflate made pk's bytes,
 * which are taken into *out (pk keeps its id and iat; its kid is gone).
 * The full check after a fast path's miss (verify.c) decodes once. */
int cs_token_decode_peeked(cs_token_peek *pk, cs_token_layers **out);

/* CBOR item → JSON as described above, bounded depth. */
int cs_cbor_to_json(const uint8_t *buf, size_t n, json_t **out);
/* The same JSON, read without libcbor, for an item of the shapes certsvc
 * writes (definite lengths, no tags or floats); NULL for any other item,
 * and for one cs_cbor_to_json would refuse (token_peek.c). */
json_t *cs_cbor_json_lean(const uint8_t *buf, size_t n);

#endif
