/*
 * status_list_read.c: a status list file (SPEC §11) read, checked whole
 * and looked up, for verifiers offline (status_list.h).  Everything in it
 * is untrusted until its signature verifies, and bounded even then: the
 * file and the inflated bytes of all its entries together at most
 * CS_SL_MAX, no trailing bytes, every entry exactly as SPEC §11 shapes it.
 */
#include "status_list.h"

#include <cbor.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_walk.h"
#include "codes.h"
#include "cose.h"
#include "cs_err.h"
#include "encode.h"

struct sl_entry {
	char *type, *issuer;
	uint8_t *bytes;          /* n state bytes, serial 1 first */
	uint64_t n;
	uint64_t *vser;          /* "v": serial numbers and their versions */
	uint64_t *vver;
	size_t nv;
	char **xid;              /* "x": ids and their states */
	uint8_t *xstate;
	size_t nx;
};

struct cs_status_list {
	char *iss;
	int64_t iat, exp;
	struct sl_entry *e;
	size_t ne;
	size_t inflated;         /* bytes of "s" inflated so far */
};

static int
bad(const char *what)
{
	return cs_err_set(CS_EINVAL, "status list: %s", what);
}

/* The value of map key k (an integer), or NULL. */
static cbor_item_t *
int_key(cbor_item_t *map, int64_t k)
{
	struct cbor_pair *p = cbor_map_handle(map);
	size_t i;

	for (i = 0; i < cbor_map_size(map); i++) {
		cbor_item_t *key = p[i].key;
		if ((k >= 0 && cbor_isa_uint(key) &&
		    cbor_get_int(key) == (uint64_t)k) ||
		    (k < 0 && cbor_isa_negint(key) &&
		    cbor_get_int(key) == (uint64_t)(-1 - k)))
			return p[i].value;
	}
	return NULL;
}

/* A definite text string as a C string (no NUL inside), or NULL. */
static char *
text_dup(const cbor_item_t *it)
{
	size_t n;
	char *s;

	if (it == NULL || !cbor_isa_string(it) || !cbor_string_is_definite(it))
		return NULL;
	/* An empty string's handle may be NULL, which memchr and memcpy
	 * take not even for 0 bytes. */
	n = cbor_string_length(it);
	if ((n > 0 && memchr(cbor_string_handle(it), 0, n) != NULL) ||
	    (s = malloc(n + 1)) == NULL)
		return NULL;
	if (n > 0)
		memcpy(s, cbor_string_handle(it), n);
	s[n] = '\0';
	return s;
}

static int
uint_of(const cbor_item_t *it, uint64_t *out)
{
	if (it == NULL || !cbor_isa_uint(it))
		return 0;
	*out = cbor_get_int(it);
	return 1;
}

/* The entry's "v": {serial: version}. */
static int
read_versions(struct sl_entry *e, cbor_item_t *m)
{
	struct cbor_pair *p;
	size_t i;

	if (!cbor_isa_map(m) || !cbor_map_is_definite(m))
		return bad("an entry's \"v\" is not a map");
	p = cbor_map_handle(m);
	e->nv = cbor_map_size(m);
	e->vser = calloc(e->nv + 1, sizeof(*e->vser));
	e->vver = calloc(e->nv + 1, sizeof(*e->vver));
	if (e->vser == NULL || e->vver == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	for (i = 0; i < e->nv; i++)
		if (!uint_of(p[i].key, &e->vser[i]) ||
		    !uint_of(p[i].value, &e->vver[i]) || e->vser[i] == 0 ||
		    e->vser[i] > e->n || e->vver[i] < 2 || e->vver[i] > 999)
			return bad("an entry's \"v\" holds something other than "
			    "a serial of its list and a version of 2 to 999");
	return 0;
}

/* The entry's "x": {id: state}. */
static int
read_others(struct sl_entry *e, cbor_item_t *m)
{
	struct cbor_pair *p;
	uint64_t st;
	size_t i;

	if (!cbor_isa_map(m) || !cbor_map_is_definite(m))
		return bad("an entry's \"x\" is not a map");
	p = cbor_map_handle(m);
	e->nx = cbor_map_size(m);
	e->xid = calloc(e->nx + 1, sizeof(*e->xid));
	e->xstate = calloc(e->nx + 1, 1);
	if (e->xid == NULL || e->xstate == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	for (i = 0; i < e->nx; i++) {
		if ((e->xid[i] = text_dup(p[i].key)) == NULL ||
		    !uint_of(p[i].value, &st) || st > CS_SL_REVOKED)
			return bad("an entry's \"x\" holds something other than "
			    "an identifier and a state of 0 to 2");
		e->xstate[i] = (uint8_t)st;
	}
	return 0;
}

/* The value of text key k of an entry, or NULL. */
static cbor_item_t *
text_key(cbor_item_t *map, const char *k)
{
	struct cbor_pair *p = cbor_map_handle(map);
	size_t i, n = strlen(k);

	for (i = 0; i < cbor_map_size(map); i++)
		if (cbor_isa_string(p[i].key) &&
		    cbor_string_is_definite(p[i].key) &&
		    cbor_string_length(p[i].key) == n &&
		    memcmp(cbor_string_handle(p[i].key), k, n) == 0)
			return p[i].value;
	return NULL;
}

/* "s": zlib, inflating to exactly n bytes of 0 to 3. */
static int
read_states(cs_status_list *l, struct sl_entry *e, cbor_item_t *s)
{
	size_t got = 0, i;
	int rc;

	if (s == NULL || !cbor_isa_bytestring(s) ||
	    !cbor_bytestring_is_definite(s))
		return bad("an entry's \"s\" is not a byte string");
	if (e->n > CS_SL_MAX - l->inflated)
		return cs_err_set(CS_ETOOBIG, "status list: its entries hold "
		    "more than %d serials", CS_SL_MAX);
	if ((rc = cs_zlib_decompress(cbor_bytestring_handle(s),
	    cbor_bytestring_length(s), (size_t)e->n + 1, &e->bytes, &got)) != 0)
		return cs_err_wrap(rc == CS_ETOOBIG ? CS_EINVAL : rc,
		    "status list: an entry's \"s\" holds more bytes than its "
		    "\"n\" says: ");
	if (got != e->n)
		return cs_err_set(CS_EINVAL, "status list: an entry's \"n\" is "
		    "%llu, its \"s\" holds %zu bytes", (unsigned long long)e->n,
		    got);
	for (i = 0; i < got; i++)
		if (e->bytes[i] > CS_SL_NEVER)
			return bad("an entry's \"s\" holds a state above 3");
	l->inflated += got;
	return 0;
}

static int
read_entry(cs_status_list *l, struct sl_entry *e, cbor_item_t *m)
{
	cbor_item_t *v, *x;
	size_t known;
	int rc;

	if (!cbor_isa_map(m) || !cbor_map_is_definite(m))
		return bad("an entry is not a map");
	v = text_key(m, "v");
	x = text_key(m, "x");
	known = 4 + (v != NULL) + (x != NULL);
	if ((e->type = text_dup(text_key(m, "t"))) == NULL ||
	    (e->issuer = text_dup(text_key(m, "i"))) == NULL ||
	    !uint_of(text_key(m, "n"), &e->n) || cbor_map_size(m) != known)
		return bad("an entry is not {\"t\", \"i\", \"n\", \"s\", "
		    "\"v\"?, \"x\"?}");
	if ((rc = read_states(l, e, text_key(m, "s"))) != 0)
		return rc;
	if (v != NULL && (rc = read_versions(e, v)) != 0)
		return rc;
	if (x != NULL && (rc = read_others(e, x)) != 0)
		return rc;
	return 0;
}

static int
read_payload(cs_status_list *l, const uint8_t *p, size_t n)
{
	struct cbor_load_result lr;
	cbor_item_t *root = NULL, *iss, *iat, *exp, *arr;
	uint64_t t1, t2;
	size_t i;
	int rc;

	/* Entries are maps of maps: nothing in a list nests deeper than 4. */
	if ((rc = cs_cbor_check(p, n, 4)) != 0) {
		cs_err_wrap(rc, "status list: ");
		goto out;
	}
	if ((root = cbor_load(p, n, &lr)) == NULL || lr.read != n ||
	    !cbor_isa_map(root)) {
		rc = bad("the payload is not one CBOR map");
		goto out;
	}
	iss = int_key(root, 1);
	iat = int_key(root, 6);
	exp = int_key(root, 4);
	arr = int_key(root, CS_SL_CLAIM);
	if ((l->iss = text_dup(iss)) == NULL || !uint_of(iat, &t1) ||
	    !uint_of(exp, &t2) || t1 > INT64_MAX || t2 > INT64_MAX ||
	    arr == NULL || !cbor_isa_array(arr) ||
	    !cbor_array_is_definite(arr)) {
		rc = bad("the payload is not {1: iss, 6: iat, 4: exp, "
		    "-65538: [entries]}");
		goto out;
	}
	l->iat = (int64_t)t1;
	l->exp = (int64_t)t2;
	l->ne = cbor_array_size(arr);
	if ((l->e = calloc(l->ne + 1, sizeof(*l->e))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < l->ne && rc == 0; i++)
		rc = read_entry(l, &l->e[i], cbor_array_handle(arr)[i]);
out:
	if (root != NULL)
		cbor_decref(&root);
	return rc;
}

int
cs_status_list_read(const cs_keyring *keys, const uint8_t *buf, size_t n,
    cs_status_list **out)
{
	cs_status_list *l = NULL;
	cs_cose_msg *msg = NULL;
	cs_key *key;
	int rc;

	*out = NULL;
	if ((rc = cs_cose_parse_max(buf, n, CS_SL_MAX, &msg)) != 0) {
		cs_err_wrap(rc, "status list: ");
		goto out;
	}
	key = keys ? cs_keyring_find(keys, msg->kid, msg->kid_len) : NULL;
	if (key == NULL) {
		rc = cs_err_set(CS_ESIGNATURE, "status list: signed by a key "
		    "that is not in the trust list");
		goto out;
	}
	if ((rc = cs_cose_verify(msg, key)) != 0) {
		cs_err_wrap(CS_ESIGNATURE, "status list: the signature does not "
		    "verify: ");
		rc = CS_ESIGNATURE;
		goto out;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = read_payload(l, msg->payload, msg->payload_len)) != 0)
		goto out;
	*out = l;
	l = NULL;
out:
	cs_status_list_free(l);
	cs_cose_msg_free(msg);
	return rc;
}

int
cs_status_list_read_iss(const cs_keyring *keys, const char *iss,
    const uint8_t *buf, size_t n, cs_status_list **out)
{
	int rc;

	if ((rc = cs_status_list_read(keys, buf, n, out)) != 0)
		return rc;
	if (iss != NULL && strcmp((*out)->iss, iss) != 0) {
		rc = cs_err_set(CS_EINVAL, "status list: wrong iss: issued by "
		    "\"%s\", not \"%s\"", (*out)->iss, iss);
		cs_status_list_free(*out);
		*out = NULL;
	}
	return rc;
}

void
cs_status_list_free(cs_status_list *l)
{
	size_t i, j;

	if (l == NULL)
		return;
	for (i = 0; i < l->ne; i++) {
		struct sl_entry *e = &l->e[i];
		free(e->type);
		free(e->issuer);
		free(e->bytes);
		free(e->vser);
		free(e->vver);
		for (j = 0; j < e->nx && e->xid != NULL; j++)
			free(e->xid[j]);
		free(e->xid);
		free(e->xstate);
	}
	free(l->e);
	free(l->iss);
	free(l);
}

const char *
cs_status_list_iss(const cs_status_list *l)
{
	return l->iss;
}

int64_t
cs_status_list_iat(const cs_status_list *l)
{
	return l->iat;
}

int64_t
cs_status_list_exp(const cs_status_list *l)
{
	return l->exp;
}

size_t
cs_status_list_entries(const cs_status_list *l)
{
	return l->ne;
}

static const char *const state_names[] = {"in_force", "suspended",
    "revoked", "never_issued"};

/* The answer from "x": the id itself, or another version of its serial
 * (same identifier up to ".VVV.C").  0 when x names neither. */
static int
from_others(const struct sl_entry *e, const char *id, int version,
    cs_sl_answer *a)
{
	size_t i, n = strlen(id), k = n > 6 ? n - 6 : n;
	cs_licence_id other;

	for (i = 0; i < e->nx; i++) {
		if (strcmp(e->xid[i], id) == 0) {
			a->state = state_names[e->xstate[i]];
			a->latest_version = version;
			return 1;
		}
		if (strlen(e->xid[i]) == n && memcmp(e->xid[i], id, k) == 0 &&
		    cs_licence_id_parse(e->xid[i], &other) == 0) {
			a->latest_version = other.version;
			a->state = other.version > version ? "superseded" :
			    "not_listed";
			return 1;
		}
	}
	return 0;
}

void
cs_status_list_lookup(const cs_status_list *l, const char *id,
    cs_sl_answer *a)
{
	const struct sl_entry *e = NULL;
	cs_licence_id p;
	uint64_t v, latest = 1;
	size_t i;

	a->state = "not_listed";
	a->latest_version = 0;
	if (cs_licence_id_parse(id, &p) != 0)
		return;
	for (i = 0; i < l->ne && e == NULL; i++)
		if (strcmp(l->e[i].type, p.type) == 0 &&
		    strcmp(l->e[i].issuer, p.issuer) == 0)
			e = &l->e[i];
	if (e == NULL || from_others(e, id, p.version, a))
		return;
	v = cs_sl_serial_number(p.serial);
	if (v == UINT64_MAX || v == 0 || v > e->n)
		return;
	for (i = 0; i < e->nv; i++)
		if (e->vser[i] == v)
			latest = e->vver[i];
	a->latest_version = (int)latest;
	if ((uint64_t)p.version < latest)
		a->state = "superseded";
	else if ((uint64_t)p.version == latest)
		a->state = state_names[e->bytes[v - 1]];
}
