/*
 * token.c: the signed token (claims to CBOR to COSE_Sign1) and its two QR
 * forms, both ways.  The forms and the layered decoding: token.h.
 */
#include "token.h"

#include <cbor.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "encode.h"
#include "sbuf.h"
#include "timeutil.h"

/* --- claims --------------------------------------------------------- */

static int
map_put(cbor_item_t *map, cbor_item_t *key, cbor_item_t *value)
{
	int ok;

	if (key == NULL || value == NULL) {
		if (key)
			cbor_decref(&key);
		if (value)
			cbor_decref(&value);
		return cs_err_set(CS_ENOMEM, "claims: out of memory");
	}
	ok = cbor_map_add(map, (struct cbor_pair){.key = cbor_move(key),
	    .value = cbor_move(value)});
	return ok ? 0 : cs_err_set(CS_ENOMEM, "claims: out of memory");
}

static cbor_item_t *
text(const char *s)
{
	return cbor_build_string(s ? s : "");
}

static int
put_text(cbor_item_t *map, const char *key, const char *value)
{
	return map_put(map, text(key), text(value));
}

/* The instant a local date starts, or ends (its last second). */
static int
date_instant(const char *date, long tz_min, int end, int64_t *out)
{
	int y, m, d;

	if (cs_date_parse(date, &y, &m, &d) != 0)
		return CS_EINVAL;
	*out = (int64_t)cs_day_start(cs_days_from_civil(y, m, d) + (end ? 1 : 0),
	    tz_min) - (end ? 1 : 0);
	return 0;
}

/*
 * An integer in its shortest head (RFC 8949 §4.2.1, preferred
 * serialization): libcbor's uint64/negint64 items always take the 9-byte
 * form, and every byte is a QR module.  A negative value is encoded as
 * -1 - v, so a NumericDate before the epoch (1970-01-01 starts before it
 * east of Greenwich) stays negative instead of wrapping to 2^64 - n.
 */
static cbor_item_t *
int_item(int64_t v)
{
	uint64_t u = v >= 0 ? (uint64_t)v : (uint64_t)(-1 - v);

	if (u <= UINT8_MAX)
		return v >= 0 ? cbor_build_uint8((uint8_t)u) :
		    cbor_build_negint8((uint8_t)u);
	if (u <= UINT16_MAX)
		return v >= 0 ? cbor_build_uint16((uint16_t)u) :
		    cbor_build_negint16((uint16_t)u);
	if (u <= UINT32_MAX)
		return v >= 0 ? cbor_build_uint32((uint32_t)u) :
		    cbor_build_negint32((uint32_t)u);
	return v >= 0 ? cbor_build_uint64(u) : cbor_build_negint64(u);
}

/* How many face fields go into the QR: those the type marks in_qr that
 * the licence has (integers and text; the catalog allows nothing else). */
static size_t
face_count(const cs_type *type, const json_t *fields)
{
	const json_t *v;
	size_t i, n = 0;

	for (i = 0; i < type->n_fields; i++)
		if (type->fields[i].in_qr &&
		    (v = json_object_get(fields, type->fields[i].name)) != NULL &&
		    (json_is_integer(v) || json_is_string(v)))
			n++;
	return n;
}

/* The QR face fields, as given, under their short qr_key.  Definite-length
 * maps throughout: every byte is a QR module (SPEC §4 asks for lean
 * claims). */
static cbor_item_t *
face_fields(const cs_type *type, const json_t *fields)
{
	cbor_item_t *map = NULL;
	const json_t *v;
	size_t i;
	int rc = 0;

	if ((map = cbor_new_definite_map(face_count(type, fields))) == NULL)
		return NULL;
	for (i = 0; i < type->n_fields && rc == 0; i++) {
		if (!type->fields[i].in_qr ||
		    (v = json_object_get(fields, type->fields[i].name)) == NULL)
			continue;
		if (json_is_integer(v))
			rc = map_put(map, text(type->fields[i].qr_key),
			    int_item((int64_t)json_integer_value(v)));
		else if (json_is_string(v))
			rc = put_text(map, type->fields[i].qr_key, json_string_value(v));
	}
	if (rc != 0)
		cbor_decref(&map);
	return map;
}

static cbor_item_t *
licence_claim(const cs_type *type, const json_t *lic)
{
	const json_t *holder = json_object_get(lic, "holder");
	const json_t *issuer = json_object_get(lic, "issuer");
	const char *ct = json_string_value(json_object_get(holder, "code_type"));
	const char *code = json_string_value(json_object_get(holder, "code"));
	const char *sup = json_string_value(json_object_get(lic, "supersedes"));
	const json_t *fields = json_object_get(lic, "fields");
	size_t n_face = face_count(type, fields);
	char masked[64];
	cbor_item_t *m = NULL, *h = NULL, *i = NULL;
	int rc = 0;

	m = cbor_new_definite_map(5 + (n_face > 0) + (sup != NULL));
	h = cbor_new_definite_map(3);
	i = cbor_new_definite_map(1);
	if (m == NULL || h == NULL || i == NULL || code == NULL ||
	    strlen(code) >= sizeof(masked))
		goto fail;
	/* A natural person's code is personal data: the token, printed on
	 * paper and readable by anyone, carries it masked (SPEC §4). */
	if (ct != NULL && strcmp(ct, "RID") == 0)
		cs_code_mask(code, masked);
	else
		snprintf(masked, sizeof(masked), "%s", code);
	rc |= put_text(h, "n", json_string_value(json_object_get(holder, "name")));
	rc |= put_text(h, "ct", ct);
	rc |= put_text(h, "c", masked);
	rc |= put_text(i, "n", json_string_value(json_object_get(issuer, "name")));
	/* The order zlib compresses best of all 120, measured on the shipped
	 * samples (1-3 bytes fewer than t, id, no, h, i): id first, so t,
	 * iss and s become short back-references into it; i before h.  CBOR
	 * map order carries no meaning. */
	rc |= put_text(m, "id", json_string_value(json_object_get(lic, "id")));
	rc |= put_text(m, "t", json_string_value(json_object_get(lic, "type")));
	rc |= put_text(m, "no", json_string_value(json_object_get(lic, "number")));
	rc |= map_put(m, text("i"), i);
	i = NULL;
	rc |= map_put(m, text("h"), h);
	h = NULL;
	/* A type that marks no field for the QR (or a licence without
	 * them) has no f at all: an empty map would cost two bytes and say
	 * nothing. */
	if (n_face > 0)
		rc |= map_put(m, text("f"), face_fields(type, fields));
	if (sup != NULL)
		rc |= put_text(m, "s", sup);
	if (rc == 0)
		return m;
fail:
	if (m)
		cbor_decref(&m);
	if (h)
		cbor_decref(&h);
	if (i)
		cbor_decref(&i);
	return NULL;
}

int
cs_claims_encode(const cs_type *type, const json_t *lic, long tz_min,
    uint8_t **out, size_t *outlen)
{
	const json_t *issuer = json_object_get(lic, "issuer");
	const char *vu = json_string_value(json_object_get(lic, "valid_until"));
	const char *vf = json_string_value(json_object_get(lic, "valid_from"));
	const char *ia = json_string_value(json_object_get(lic, "issued_at"));
	cbor_item_t *claims = NULL;
	int64_t exp = 0, nbf = 0;
	time_t iat;
	unsigned char *buf = NULL;
	size_t bufsize = 0, n;
	int rc = CS_EINVAL;

	*out = NULL;
	if (vf == NULL || ia == NULL || date_instant(vf, tz_min, 0, &nbf) != 0 ||
	    (vu != NULL && date_instant(vu, tz_min, 1, &exp) != 0) ||
	    cs_rfc3339_parse(ia, &iat) != 0) {
		rc = cs_err_set(CS_EINVAL, "claims: licence dates are malformed");
		goto out;
	}
	/* The licence first, then iss: zlib finds the issuer's code again in
	 * the identifier just before it (CBOR map order carries no meaning). */
	if ((claims = cbor_new_definite_map(vu ? 5 : 4)) == NULL)
		goto nomem;
	rc = map_put(claims, int_item(CS_CLAIM_LICENCE), licence_claim(type, lic));
	if (rc == 0)
		rc = map_put(claims, int_item(1),
		    text(json_string_value(json_object_get(issuer, "code"))));
	if (rc == 0 && vu != NULL)
		rc = map_put(claims, int_item(4), int_item(exp));
	if (rc == 0)
		rc = map_put(claims, int_item(5), int_item(nbf));
	if (rc == 0)
		rc = map_put(claims, int_item(6), int_item((int64_t)iat));
	if (rc != 0)
		goto out;
	if ((n = cbor_serialize_alloc(claims, &buf, &bufsize)) == 0)
		goto nomem;
	*out = buf;
	*outlen = n;
	buf = NULL;
	rc = 0;
	goto out;
nomem:
	rc = cs_err_set(CS_ENOMEM, "claims: out of memory");
out:
	free(buf);
	if (claims)
		cbor_decref(&claims);
	return rc;
}

/* --- token and QR text ---------------------------------------------- */

int
cs_token_sign(const cs_key *key, const uint8_t *claims, size_t n, char **token_out)
{
	uint8_t *cose = NULL, *z = NULL;
	size_t cose_len, zlen;
	int rc;

	*token_out = NULL;
	if ((rc = cs_cose_sign1(key, claims, n, &cose, &cose_len)) != 0)
		goto out;
	if ((rc = cs_zlib_compress(cose, cose_len, 6, &z, &zlen)) != 0)
		goto out;
	rc = cs_b64url_encode(z, zlen, token_out);
out:
	free(cose);
	free(z);
	return rc;
}

int
cs_token_qr_text(const char *token, const char *form, const char *public_url,
    char **out)
{
	uint8_t *z = NULL;
	size_t zlen;
	char *b45 = NULL;
	int rc = 0;

	*out = NULL;
	if (form == NULL || strcmp(form, "url") == 0) {
		/* Joined by hand: every licence of a holder lookup and every
		 * fetch makes one, and asprintf's format machinery cost more
		 * than the copy (bench/README.md, issue 20). */
		size_t u = strlen(public_url), t = strlen(token);

		if ((*out = malloc(u + 3 + t + 1)) == NULL) {
			rc = cs_err_set(CS_ENOMEM, "qr text: out of memory");
			goto out;
		}
		memcpy(*out, public_url, u);
		memcpy(*out + u, "/v/", 3);
		memcpy(*out + u + 3, token, t + 1);
		goto out;
	}
	if (strcmp(form, "compact") != 0) {
		rc = cs_err_set(CS_EINVAL, "form '%.16s' is not url or compact", form);
		goto out;
	}
	/* The compact form carries the same zlib bytes, re-encoded for the
	 * QR alphanumeric mode. */
	if ((rc = cs_b64url_decode(token, strlen(token), &z, &zlen)) != 0 ||
	    (rc = cs_b45_encode(z, zlen, &b45)) != 0)
		goto out;
	if (asprintf(out, "EL1:%s", b45) < 0)
		rc = cs_err_set(CS_ENOMEM, "qr text: out of memory");
out:
	free(z);
	free(b45);
	return rc;
}

/* --- decoding ------------------------------------------------------- */

static json_t *item_to_json(const cbor_item_t *it, int depth);

static json_t *
bytes_json(const unsigned char *p, size_t n)
{
	char *hex = NULL;
	json_t *j;

	if (cs_hex_encode(p, n, &hex) != 0)
		return NULL;
	j = json_string(hex);
	free(hex);
	return j;
}

/* Definite or chunked strings, joined. */
static json_t *
string_json(const cbor_item_t *it, int bytes)
{
	cbor_item_t **chunks;
	cs_sbuf joined = CS_SBUF_INIT;
	size_t i, count;
	json_t *j = NULL;

	if (bytes ? cbor_bytestring_is_definite(it) : cbor_string_is_definite(it)) {
		if (bytes)
			return bytes_json(cbor_bytestring_handle(it),
			    cbor_bytestring_length(it));
		return json_stringn((const char *)cbor_string_handle(it),
		    cbor_string_length(it));
	}
	chunks = bytes ? cbor_bytestring_chunks_handle(it) : cbor_string_chunks_handle(it);
	count = bytes ? cbor_bytestring_chunk_count(it) : cbor_string_chunk_count(it);
	for (i = 0; i < count; i++) {
		if (bytes)
			cs_sb_add(&joined, cbor_bytestring_handle(chunks[i]),
			    cbor_bytestring_length(chunks[i]));
		else
			cs_sb_add(&joined, cbor_string_handle(chunks[i]),
			    cbor_string_length(chunks[i]));
	}
	if (!joined.failed)
		j = bytes ? bytes_json((unsigned char *)joined.p, joined.len) :
		    json_stringn(joined.p ? joined.p : "", joined.len);
	cs_sb_free(&joined);
	return j;
}

static json_t *
map_json(const cbor_item_t *it, int depth)
{
	struct cbor_pair *pairs = cbor_map_handle(it);
	json_t *obj = json_object(), *v, *ks = NULL;
	const char *name;
	char key[32];
	size_t i;

	for (i = 0; obj != NULL && i < cbor_map_size(it); i++) {
		const cbor_item_t *k = pairs[i].key;
		/* As for values: -2^64 would print as "-0". */
		if ((cbor_isa_uint(k) || cbor_isa_negint(k)) &&
		    cbor_get_int(k) > INT64_MAX)
			goto fail;
		name = key;
		if (cbor_isa_uint(k))
			snprintf(key, sizeof(key), "%llu",
			    (unsigned long long)cbor_get_int(k));
		else if (cbor_isa_negint(k))
			snprintf(key, sizeof(key), "-%llu",
			    (unsigned long long)cbor_get_int(k) + 1ULL);
		else {
			/* Text keys only: a byte string would read as its hex
			 * digits, and a NUL would cut the key short. */
			ks = cbor_isa_string(k) ? item_to_json(k, depth + 1) : NULL;
			if (!json_is_string(ks) || strlen(json_string_value(ks)) !=
			    json_string_length(ks))
				goto fail;
			name = json_string_value(ks);
		}
		/* 6 and "6" (or "a" twice, once chunked) are one JSON member: a
		 * verifier keeping the first and one keeping the last would
		 * read different claims. */
		if (json_object_get(obj, name) != NULL)
			goto fail;
		if ((v = item_to_json(pairs[i].value, depth + 1)) == NULL)
			goto fail;
		json_object_set_new_nocheck(obj, name, v);
		json_decref(ks);
		ks = NULL;
	}
	return obj;
fail:
	json_decref(ks);
	json_decref(obj);
	return NULL;
}

static json_t *
item_to_json(const cbor_item_t *it, int depth)
{
	json_t *arr;
	cbor_item_t *inner;
	size_t i;

	if (depth > CS_COSE_MAX_DEPTH)
		return NULL;
	switch (cbor_typeof(it)) {
	case CBOR_TYPE_UINT:
	case CBOR_TYPE_NEGINT:
		/* A JSON integer is 64-bit signed: a larger one would wrap, and
		 * an iat of 2^64-1 would read as -1, long past. */
		if (cbor_get_int(it) > INT64_MAX)
			return NULL;
		return json_integer(cbor_isa_uint(it) ?
		    (json_int_t)cbor_get_int(it) : -1 - (json_int_t)cbor_get_int(it));
	case CBOR_TYPE_BYTESTRING:
		return string_json(it, 1);
	case CBOR_TYPE_STRING:
		return string_json(it, 0);
	case CBOR_TYPE_ARRAY:
		arr = json_array();
		for (i = 0; arr != NULL && i < cbor_array_size(it); i++)
			if (json_array_append_new(arr,
			    item_to_json(cbor_array_handle(it)[i], depth + 1)) != 0) {
				json_decref(arr);
				return NULL;
			}
		return arr;
	case CBOR_TYPE_MAP:
		return map_json(it, depth);
	case CBOR_TYPE_TAG:
		inner = cbor_tag_item(it);
		arr = item_to_json(inner, depth + 1);
		cbor_decref(&inner);
		return arr;
	case CBOR_TYPE_FLOAT_CTRL:
		if (cbor_float_ctrl_is_ctrl(it)) {
			switch (cbor_ctrl_value(it)) {
			case CBOR_CTRL_TRUE:
				return json_true();
			case CBOR_CTRL_FALSE:
				return json_false();
			default:
				return json_null();
			}
		}
		return json_real(cbor_float_get_float(it));
	}
	return NULL;
}

int
cs_cbor_to_json(const uint8_t *buf, size_t n, json_t **out)
{
	struct cbor_load_result res;
	cbor_item_t *item = NULL;
	int rc;

	*out = NULL;
	if ((rc = cs_cbor_check(buf, n, CS_COSE_MAX_DEPTH)) != 0)
		return rc;
	/* certsvc's own claims without libcbor's tree; libcbor judges the
	 * rest. */
	if ((*out = cs_cbor_json_lean(buf, n)) != NULL)
		return 0;
	item = cbor_load(buf, n, &res);
	if (item == NULL || res.error.code != CBOR_ERR_NONE || res.read != n) {
		rc = cs_err_set(CS_EINVAL, "CBOR is malformed at byte %zu",
		    res.error.position);
		goto out;
	}
	if ((*out = item_to_json(item, 0)) == NULL)
		rc = cs_err_set(CS_EINVAL, "CBOR holds an integer beyond 64 bits, "
		    "a map key that is not an integer or text, or is nested too "
		    "deep");
out:
	if (item)
		cbor_decref(&item);
	return rc;
}

/* Strip the outer form: prefix, URL path, query and fragment. */
int
cs_token_unwrap(cs_token_layers *l, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *v = NULL, *q;
	size_t i;

	for (q = text; q + 3 <= end; q++)
		if (memcmp(q, "/v/", 3) == 0)
			v = q;
	if (len >= 4 && memcmp(text, "EL1:", 4) == 0) {
		l->form = CS_FORM_COMPACT;
		p += 4;
	} else if (len >= 4 && memcmp(text, "HC1:", 4) == 0) {
		l->form = CS_FORM_DCC;
		p += 4;
	} else if (v != NULL) {
		l->form = CS_FORM_URL;
		p = v + 3;
		for (q = p; q < end && *q != '?' && *q != '#'; q++)
			;
		end = q;
	} else if (memchr(text, ':', len) != NULL) {
		/* A bare token never holds ':'; this is another scheme's text. */
		q = memchr(text, ':', len);
		return cs_err_set(CS_EINVAL, "unknown prefix '%.*s:' (expected EL1:, HC1: "
		    "or a URL with /v/)", (int)((q - text) > 8 ? 8 : (q - text)), text);
	} else {
		l->form = CS_FORM_TOKEN;
	}
	/* Scanners add line ends; nothing else is trimmed. */
	while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	for (i = 0; p + i < end; i++)
		if (p[i] == '\0')
			return cs_err_set(CS_EINVAL, "text holds a NUL byte");
	if ((l->encoded = strndup(p, (size_t)(end - p))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	return 0;
}

/* The claims' shape for their form: a licence (-65537 with its id) or, for
 * an EU DCC text, the health certificate map at -260/1. */
static int
check_claims(const cs_token_layers *l)
{
	const json_t *lic;

	if (!json_is_object(l->claims))
		return cs_err_set(CS_EINVAL, "claims are not a CBOR map");
	if (l->form == CS_FORM_DCC) {
		if (!json_is_object(json_object_get(json_object_get(l->claims, "-260"), "1")))
			return cs_err_set(CS_EINVAL, "claim -260 does not hold a health "
			    "certificate map at key 1");
		return 0;
	}
	lic = json_object_get(l->claims, "-65537");
	if (!json_is_object(lic) || !json_is_string(json_object_get(lic, "id")))
		return cs_err_set(CS_EINVAL, "claim -65537 does not hold a licence "
		    "with an id");
	return 0;
}

/* The layers from the COSE message on: the message, its claims as JSON,
 * their shape; failed_layer NULL when all decoded. */
static int
decode_cose(cs_token_layers *l)
{
	int rc;

	l->failed_layer = "cose";
	if ((rc = cs_cose_parse(l->cose, l->cose_len, &l->msg)) != 0)
		return rc;
	l->failed_layer = "claims";
	if ((rc = cs_cbor_to_json(l->msg->payload, l->msg->payload_len,
	    &l->claims)) != 0 || (rc = check_claims(l)) != 0)
		return rc;
	l->failed_layer = NULL;
	return 0;
}

int
cs_token_decode(const char *text, size_t len, cs_token_layers **out)
{
	cs_token_layers *l = NULL;
	uint8_t *bytes = NULL;
	size_t n = 0;
	int rc;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	*out = l;
	l->failed_layer = "prefix";
	if (len > CS_TOKEN_MAX_TEXT) {
		rc = cs_err_set(CS_ETOOBIG, "text of %zu bytes is over the %d-byte limit",
		    len, CS_TOKEN_MAX_TEXT);
		goto out;
	}
	if ((rc = cs_token_unwrap(l, text, len)) != 0)
		goto out;
	if (l->form == CS_FORM_COMPACT || l->form == CS_FORM_DCC) {
		l->failed_layer = "base45";
		rc = cs_b45_decode(l->encoded, strlen(l->encoded), &bytes, &n);
	} else {
		l->failed_layer = "base64url";
		rc = cs_b64url_decode(l->encoded, strlen(l->encoded), &bytes, &n);
	}
	if (rc != 0)
		goto out;
	/* A CBOR tag byte (major type 6) first means the COSE message came
	 * uncompressed; zlib streams start with 0x78 (CMF, deflate, 32K). */
	if (n > 0 && (bytes[0] & 0xe0) == 0xc0) {
		if (l->form == CS_FORM_TOKEN)
			l->form = CS_FORM_COSE;
		l->cose = bytes;
		l->cose_len = n;
		bytes = NULL;
	} else {
		l->failed_layer = "zlib";
		l->compressed = bytes;
		l->compressed_len = n;
		bytes = NULL;
		if ((rc = cs_zlib_decompress(l->compressed, l->compressed_len,
		    CS_ZLIB_MAX_OUT, &l->cose, &l->cose_len)) != 0)
			goto out;
	}
	rc = decode_cose(l);
out:
	free(bytes);
	return rc;
}

int
cs_token_decode_peeked(cs_token_peek *pk, cs_token_layers **out)
{
	cs_token_layers *l;

	if ((*out = l = calloc(1, sizeof(*l))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	l->form = pk->form;
	l->compressed = pk->compressed;
	l->compressed_len = pk->compressed_len;
	l->cose = pk->cose;
	l->cose_len = pk->cose_len;
	/* Taken: the peek keeps its id and iat, not its kid (in cose). */
	pk->compressed = pk->cose = NULL;
	pk->compressed_len = pk->cose_len = 0;
	pk->kid = NULL;
	pk->kid_len = 0;
	return decode_cose(l);
}

void
cs_token_layers_free(cs_token_layers *l)
{
	if (l == NULL)
		return;
	free(l->encoded);
	free(l->compressed);
	free(l->cose);
	cs_cose_msg_free(l->msg);
	json_decref(l->claims);
	free(l);
}
