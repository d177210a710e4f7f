/*
 * status_list: the signed status list of SPEC §11, built from a store
 * (status_list.c) and read back (status_list_read.c): every state a
 * licence can have on it (in force, suspended, revoked, superseded, never
 * issued, a serial certsvc did not assign), and every list the reader
 * must refuse: a signature that does not verify, a key not in the trust
 * list, a list of another library (wrong iss), trailing bytes, an entry
 * whose count does not match its bytes (or inflates past it), a
 * state byte out of range, too many serials, a payload of another shape.
 */
#define CS_LAYER_DOMAIN  /* white-box: rows put into the service's store */
#include "service_internal.h"

#include <sys/stat.h>

#include "cbor_walk.h"
#include "check.h"
#include "codes.h"
#include "cose.h"
#include "cs_err.h"
#include "encode.h"
#include "keyfile.h"
#include "sbuf.h"
#include "status_list.h"
#include "testutil.h"

#define TYPE "11100000000013338W032"
#define OTHER_TYPE "11100000000013338W041"
#define ISSUER "11440000006939756B"
#define HASH "0000000000000000000000000000000000000000000000000000000000000000"

static cs_service *svc;
static cs_key *key;          /* the service's active key, borrowed */

static void
id_of(const char *serial, int version, char out[CS_LICENCE_ID_MAX])
{
	CHECK_INT_EQ(cs_licence_id_format(TYPE, ISSUER, serial, version, out),
	    0);
}

/* A licence row of TYPE and ISSUER, and its events (NULL-terminated
 * actions, each of its own). */
static void
put(const char *serial, int version, int64_t seq, const char *const *actions)
{
	char id[CS_LICENCE_ID_MAX], number[32], record[160];
	cs_licence_row r;
	cs_event e;

	id_of(serial, version, id);
	snprintf(number, sizeof(number), "N-%s", serial);
	snprintf(record, sizeof(record), "{\"id\":\"%s\"}", id);
	memset(&r, 0, sizeof(r));
	r.id = id;
	r.type = TYPE;
	r.issuer_code = ISSUER;
	r.seq = seq;
	r.holder_code = "91350100M000100Y43";
	r.number = number;
	r.client = "ems";
	r.request_hash = HASH;
	r.issued_at = 1000 + seq;
	r.record = record;
	CHECK_INT_EQ(cs_store_licence_put(svc->store, &r), 0);
	for (; actions != NULL && *actions != NULL; actions++) {
		memset(&e, 0, sizeof(e));
		e.licence_id = id;
		e.actor = "ems";
		e.at = 2000;
		e.action = (char *)*actions;
		if (strcmp(*actions, "revoke") == 0)
			e.kind = "revoked";
		CHECK_INT_EQ(cs_store_event_append(svc->store, &e), 0);
	}
}

static int
setup(void)
{
	cs_config cfg;
	cs_key *k = NULL;
	char *stem = NULL;

	if (test_dir_make("test_status_list") != 0)
		return -1;
	mkdir(tpath("keys"), 0700);
	CHECK_INT_EQ(cs_key_generate(CS_ALG_ES256, &k), 0);
	CHECK_INT_EQ(cs_key_save(k, tpath("keys"), &stem), 0);
	cs_key_free(k);
	free(stem);
	cs_config_defaults(&cfg);
	CHECK_INT_EQ(cs_config_set(&cfg, "db", tpath("lib.db")), 0);
	CHECK_INT_EQ(cs_config_set(&cfg, "keys", tpath("keys")), 0);
	CHECK_INT_EQ(cs_config_set(&cfg, "templates", CS_SOURCE_DIR
	    "/templates"), 0);
	if (cs_service_open(&cfg, 1, &svc) != 0) {
		fprintf(stderr, "service: %s\n", cs_err_msg());
		return -1;
	}
	key = svc->keys->active;
	return 0;
}

static const char *const SUPERSEDE[] = {"supersede", NULL};
static const char *const SUSPEND[] = {"suspend", NULL};
static const char *const REVOKE[] = {"suspend", "revoke", NULL};
static const char *const REINSTATED[] = {"suspend", "reinstate", NULL};

static const char *
state(const cs_status_list *l, const char *serial, int version)
{
	char id[CS_LICENCE_ID_MAX];
	cs_sl_answer a;

	id_of(serial, version, id);
	cs_status_list_lookup(l, id, &a);
	return a.state;
}

TEST(every_state)
{
	cs_status_list *l = NULL;
	uint8_t *list = NULL;
	size_t n = 0;
	char other[CS_LICENCE_ID_MAX];
	cs_sl_answer a;

	/* Serials 1, 2, 4, 6 numbered by their sequence; 3 skipped; 2's
	 * amendment took sequence number 5; an old random serial (from a
	 * database before sequential serials) and its amendment. */
	put("1", 1, 1, NULL);
	put("2", 1, 2, SUPERSEDE);
	put("2", 2, 5, NULL);
	put("4", 1, 4, REVOKE);
	put("6", 1, 6, SUSPEND);
	put("7", 1, 7, REINSTATED);
	put("K7Q2ZX9A", 1, 8, SUPERSEDE);
	put("K7Q2ZX9A", 2, 9, SUSPEND);
	CHECK_INT_EQ(cs_status_list_make(svc, 1700000000, &list, &n), 0);
	CHECK_INT_EQ(cs_status_list_read(svc->keys, list, n, &l), 0);
	if (l == NULL)
		goto out;
	CHECK_STR_EQ(cs_status_list_iss(l), "certsvc");
	CHECK_INT_EQ(cs_status_list_iat(l), 1700000000);
	CHECK_INT_EQ(cs_status_list_exp(l), 1700000000 + 86400);
	CHECK_INT_EQ(cs_status_list_entries(l), 1);
	CHECK_STR_EQ(state(l, "1", 1), "in_force");
	CHECK_STR_EQ(state(l, "2", 1), "superseded");
	CHECK_STR_EQ(state(l, "2", 2), "in_force");
	CHECK_STR_EQ(state(l, "3", 1), "never_issued");
	CHECK_STR_EQ(state(l, "4", 1), "revoked");
	CHECK_STR_EQ(state(l, "5", 1), "never_issued");
	CHECK_STR_EQ(state(l, "6", 1), "suspended");
	CHECK_STR_EQ(state(l, "7", 1), "in_force");
	CHECK_STR_EQ(state(l, "8", 1), "not_listed");   /* past n */
	CHECK_STR_EQ(state(l, "1", 2), "not_listed");   /* a newer version */
	CHECK_STR_EQ(state(l, "K7Q2ZX9A", 1), "superseded");
	CHECK_STR_EQ(state(l, "K7Q2ZX9A", 2), "suspended");
	CHECK_STR_EQ(state(l, "K7Q2ZX9B", 1), "not_listed");
	CHECK_INT_EQ(cs_licence_id_format(OTHER_TYPE, ISSUER, "1", 1, other), 0);
	cs_status_list_lookup(l, other, &a);
	CHECK_STR_EQ(a.state, "not_listed");
	cs_status_list_lookup(l, "not an id", &a);
	CHECK_STR_EQ(a.state, "not_listed");
	cs_status_list_lookup(l, "1.2.156.3005.2." TYPE "." ISSUER ".2.001.X", &a);
	CHECK_STR_EQ(a.state, "not_listed");  /* a wrong check character */
out:
	cs_status_list_free(l);
	free(list);
}

/* The signed bytes of payload p (with key, or another). */
static uint8_t *
sign(const cs_key *k, cs_sbuf *p, size_t *n)
{
	uint8_t *out = NULL;

	CHECK_INT_EQ(cs_cose_sign1(k, (const uint8_t *)p->p, p->len, &out, n), 0);
	cs_sb_free(p);
	return out;
}

/* A payload with k entries (of issuers ISSUER, then made-up ones) of n
 * serials each, whose "s" holds bytes[0..len). */
static void
payload_k(cs_sbuf *p, size_t k, uint64_t n, const uint8_t *bytes, size_t len)
{
	uint8_t *z = NULL;
	size_t zlen = 0, e;
	char issuer[32];

	CHECK_INT_EQ(cs_zlib_compress(bytes, len, 6, &z, &zlen), 0);
	cs_cbor_head(p, CBOR_MAJOR_MAP, 4);
	cs_cbor_int(p, 1);
	cs_cbor_text(p, "certsvc");
	cs_cbor_int(p, 6);
	cs_cbor_int(p, 1700000000);
	cs_cbor_int(p, 4);
	cs_cbor_int(p, 1700086400);
	cs_cbor_int(p, CS_SL_CLAIM);
	cs_cbor_head(p, CBOR_MAJOR_ARRAY, k);
	for (e = 0; e < k; e++) {
		/* The others: 6-digit division codes (SPEC §2a). */
		if (e == 0)
			snprintf(issuer, sizeof(issuer), "%s", ISSUER);
		else
			snprintf(issuer, sizeof(issuer), "44030%zu", e % 10);
		cs_cbor_head(p, CBOR_MAJOR_MAP, 4);
		cs_cbor_text(p, "t");
		cs_cbor_text(p, TYPE);
		cs_cbor_text(p, "i");
		cs_cbor_text(p, issuer);
		cs_cbor_text(p, "n");
		cs_cbor_int(p, (int64_t)n);
		cs_cbor_text(p, "s");
		cs_cbor_bstr(p, z, zlen);
	}
	free(z);
}

/* A payload with one entry of n serials whose "s" holds bytes[0..len). */
static void
payload(cs_sbuf *p, uint64_t n, const uint8_t *bytes, size_t len)
{
	payload_k(p, 1, n, bytes, len);
}

/* cs_status_list_read's code for list[0..n), and whether its message
 * holds word. */
static void
refused(const uint8_t *list, size_t n, const cs_keyring *ring, int code,
    const char *word)
{
	cs_status_list *l = NULL;

	CHECK_INT_EQ(cs_status_list_read(ring, list, n, &l), code);
	CHECK(l == NULL);
	if (strstr(cs_err_msg(), word) == NULL)
		fprintf(stderr, "message without \"%s\": %s\n", word, cs_err_msg());
	CHECK(strstr(cs_err_msg(), word) != NULL);
}

TEST(refusals)
{
	static const uint8_t ok3[] = {0, 1, 2}, bad3[] = {0, 4, 2};
	cs_keyring other = {NULL, 0, NULL, NULL};
	cs_sbuf p = CS_SBUF_INIT;
	cs_key *k2 = NULL;
	uint8_t *list, *big, *copy;
	size_t n = 0;

	/* Well formed and signed: read. */
	payload(&p, 3, ok3, 3);
	list = sign(key, &p, &n);
	{
		cs_status_list *l = NULL;
		CHECK_INT_EQ(cs_status_list_read(svc->keys, list, n, &l), 0);
		cs_status_list_free(l);
	}
	/* One flipped byte of the signature; a key not in the trust list. */
	copy = malloc(n + 1);
	memcpy(copy, list, n);
	copy[n - 1] ^= 1;
	refused(copy, n, svc->keys, CS_ESIGNATURE, "does not verify");
	CHECK_INT_EQ(cs_key_generate(CS_ALG_ES256, &k2), 0);
	CHECK_INT_EQ(cs_keyring_add(&other, k2), 0);
	refused(list, n, &other, CS_ESIGNATURE, "not in the trust list");
	refused(list, n, NULL, CS_ESIGNATURE, "not in the trust list");
	/* Its own iss, read; another library's, refused as a wrong iss. */
	{
		cs_status_list *l = NULL;
		CHECK_INT_EQ(cs_status_list_read_iss(svc->keys, "certsvc", list,
		    n, &l), 0);
		CHECK(l != NULL);
		cs_status_list_free(l);
		l = NULL;
		CHECK_INT_EQ(cs_status_list_read_iss(svc->keys, "library-b", list,
		    n, &l), CS_EINVAL);
		CHECK(l == NULL);
		CHECK(strstr(cs_err_msg(), "wrong iss") != NULL);
	}
	/* Trailing bytes. */
	memcpy(copy, list, n);
	copy[n] = 0;
	refused(copy, n + 1, svc->keys, CS_EINVAL, "trailing");
	free(copy);
	free(list);

	/* n says 4, s holds 3; n says 2, s holds 3; a state of 4. */
	payload(&p, 4, ok3, 3);
	list = sign(key, &p, &n);
	refused(list, n, svc->keys, CS_EINVAL, "\"n\"");
	free(list);
	payload(&p, 2, ok3, 3);
	list = sign(key, &p, &n);
	refused(list, n, svc->keys, CS_EINVAL, "\"n\"");
	free(list);
	payload(&p, 3, bad3, 3);
	list = sign(key, &p, &n);
	refused(list, n, svc->keys, CS_EINVAL, "above 3");
	free(list);
	/* More serials than any list may hold (16 MiB inflated). */
	big = calloc(1, (size_t)CS_SL_MAX + 1);
	payload(&p, (uint64_t)CS_SL_MAX + 1, big, (size_t)CS_SL_MAX + 1);
	list = sign(key, &p, &n);
	refused(list, n, svc->keys, CS_ETOOBIG, "more than");
	free(list);
	free(big);
	/* Two entries, each under the limit, over it together. */
	big = calloc(1, (size_t)CS_SL_MAX / 2 + 1);
	payload_k(&p, 2, (uint64_t)CS_SL_MAX / 2 + 1, big, (size_t)CS_SL_MAX / 2 + 1);
	list = sign(key, &p, &n);
	refused(list, n, svc->keys, CS_ETOOBIG, "more than");
	free(list);
	/* A small "n" whose "s" inflates to 8 MiB: stopped at n + 1 bytes. */
	payload(&p, 3, big, (size_t)CS_SL_MAX / 2);
	list = sign(key, &p, &n);
	refused(list, n, svc->keys, CS_EINVAL, "\"n\"");
	free(list);
	free(big);
	/* Another shape: a text where iat goes. */
	cs_cbor_head(&p, CBOR_MAJOR_MAP, 4);
	cs_cbor_int(&p, 1);
	cs_cbor_text(&p, "certsvc");
	cs_cbor_int(&p, 6);
	cs_cbor_text(&p, "now");
	cs_cbor_int(&p, 4);
	cs_cbor_int(&p, 1);
	cs_cbor_int(&p, CS_SL_CLAIM);
	cs_cbor_head(&p, CBOR_MAJOR_ARRAY, 0);
	list = sign(key, &p, &n);
	refused(list, n, svc->keys, CS_EINVAL, "payload");
	free(list);
	/* Not COSE at all. */
	refused((const uint8_t *)"\xd2\x84", 2, svc->keys, CS_EINVAL,
	    "status list");
	for (size_t i = 0; i < other.n; i++)
		cs_key_free(other.keys[i]);
	free(other.keys);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	if (setup() != 0)
		return 1;
	RUN(every_state);
	RUN(refusals);
	cs_service_close(svc);
	rm_tree(tpath("keys"));
	rm_tree(test_dir);
	return check_summary();
}
