/*
 * pg_clients: API clients in the PostgreSQL store: adding, finding (by
 * name, by token hash), listing, revoking and rotating them
 * (client_tokens), and their grants.
 */
#include "store_pg_internal.h"

#include "cs_err.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* A client without its grants (load_grants adds them). */
static int
map_client(const PGresult *r, int row, void *elem)
{
	cs_client *c;
	int bad = 0, rc = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	c->id = pg_col_i64(r, row, 0);
	c->name = pg_col_dup(r, row, 1, &bad);
	c->role = pg_col_dup(r, row, 2, &bad);
	if (PQgetlength(r, row, 3) == (int)sizeof(c->token_hash))
		memcpy(c->token_hash, PQgetvalue(r, row, 3),
		    sizeof(c->token_hash));
	else
		rc = cs_err_set(CS_ESTORE, "store: client %lld: stored token "
		    "hash is not 32 bytes", (long long)c->id);
	c->created_at = pg_col_i64(r, row, 4);
	c->revoked_at = pg_col_i64(r, row, 5);
	if (PQgetlength(r, row, 6) == (int)sizeof(c->current_hash))
		memcpy(c->current_hash, PQgetvalue(r, row, 6),
		    sizeof(c->current_hash));
	else if (rc == 0)
		rc = cs_err_set(CS_ESTORE, "store: client %lld: its current "
		    "token hash is not 32 bytes", (long long)c->id);
	c->rotated_at = pg_col_i64(r, row, 7);
	if (bad && rc == 0)
		rc = pg_nomem();
	if (rc != 0) {
		cs_client_free(c);
		c = NULL;
	}
out:
	*(cs_client **)elem = c;
	return rc;
}

/* Grants are an array of structs, not of pointers: elem is the cs_grant. */
static int
map_grant(const PGresult *r, int row, void *elem)
{
	cs_grant *g = elem;
	int bad = 0;

	g->types = pg_col_dup(r, row, 0, &bad);
	g->issuer_code = pg_col_dup(r, row, 1, &bad);
	g->issuer_name = pg_col_dup(r, row, 2, &bad);
	if (bad) {
		cs_grant_clear(g);
		return pg_nomem();
	}
	return 0;
}

static void
free_clients(void *arr, size_t n)
{
	cs_clients_free(arr, n);
}

static void
free_grants(void *arr, size_t n)
{
	cs_grants_free(arr, n);
}

static const struct rowkind client_kind = {
	sizeof(cs_client *), map_client, free_clients
};
static const struct rowkind grant_kind = {
	sizeof(cs_grant), map_grant, free_grants
};

/* --- clients -------------------------------------------------------- */

/* A separate read from the client's: grants only ever grow, so at worst a
 * grant added in between is included. */
static int
load_grants(struct pgstore *s, cs_client *cl)
{
	struct pgq q;
	PGresult *r;
	void *arr = NULL;
	int rc;

	pq_init(&q);
	pq_i64(&q, cl->id);
	if ((rc = pg_read(s, pg_st(PS_GRANTS), &q, &r, "grants")) == 0)
		rc = pg_fetch_all(r, &grant_kind, &arr, &cl->n_grants);
	cl->grants = arr;
	return rc;
}

/* One client found by statement id with its key in q, and its grants. */
static int
client_fetch(struct pgstore *s, enum pst_id id, const struct pgq *q,
    cs_client **out)
{
	PGresult *r;
	int rc;

	*out = NULL;
	if ((rc = pg_read(s, pg_st(id), q, &r, "get client")) == 0 &&
	    (rc = pg_fetch_one(r, &client_kind, out, "get client")) == 0)
		rc = load_grants(s, *out);
	if (rc != 0) {
		cs_client_free(*out);
		*out = NULL;
	}
	return rc;
}

/* cl->id and cl->revoked_at are ignored: the id is assigned, and a client
 * is revoked only through client_revoke. */
/* Insert cl with statement id: PS_CLI_ADD numbers it, PS_CLI_IMPORT keeps
 * its id. */
static int
put_client(cs_store *cs, const cs_client *cl, enum pst_id id)
{
	struct pgq q;
	PGresult *r;
	int rc;

	pq_init(&q);
	pq_text(&q, cl->name);
	pq_text(&q, cl->role);
	pq_bin(&q, cl->token_hash, sizeof(cl->token_hash));
	pq_i64(&q, cl->created_at);
	if (id == PS_CLI_IMPORT)
		pq_i64(&q, cl->id);
	rc = pg_write(P(cs), pg_st(id), &q, &r, "add client");
	PQclear(r);
	return rc;
}

int
pg_client_add(cs_store *cs, const cs_client *cl)
{
	return put_client(cs, cl, PS_CLI_ADD);
}

int
pg_client_import(cs_store *cs, const cs_client *cl)
{
	return put_client(cs, cl, PS_CLI_IMPORT);
}

int
pg_client_get(cs_store *cs, const char *name, cs_client **out)
{
	struct pgq q;

	pq_init(&q);
	pq_text(&q, name);
	return client_fetch(P(cs), PS_CLI_GET, &q, out);
}

/*
 * The lookup goes through the UNIQUE token_hash indexes, whose comparisons
 * are not constant-time; that leaks at most how much of a SHA-256 prefix
 * matched, which an attacker who controls only the token cannot steer.
 * The stored hash is then compared again in constant time, so the answer
 * itself never rests on a variable-time comparison.
 */
int
pg_client_by_token_hash(cs_store *cs, const uint8_t hash[32], cs_client **out)
{
	struct pgq q;
	int rc;

	pq_init(&q);
	pq_bin(&q, hash, 32);
	rc = client_fetch(P(cs), PS_CLI_BY_HASH, &q, out);
	/* A token rotated away finds its client too: only the current one
	 * authenticates. */
	if (rc == 0 && (CRYPTO_memcmp((*out)->current_hash, hash, 32) != 0 ||
	    (*out)->revoked_at != 0)) {
		cs_client_free(*out);
		*out = NULL;
		rc = CS_ENOTFOUND;
	}
	if (rc == CS_ENOTFOUND)
		cs_err_set(rc, "store: no active client holds this token");
	return rc;
}

/* Every client, revoked ones included, in the order added. */
int
pg_client_list(cs_store *cs, cs_client ***out, size_t *n)
{
	struct pgstore *s = P(cs);
	cs_client **cl = NULL;
	struct pgq q;
	PGresult *r;
	void *arr = NULL;
	size_t i;
	int rc;

	*n = 0;
	pq_init(&q);
	if ((rc = pg_read(s, pg_st(PS_CLI_LIST), &q, &r, "list clients")) == 0)
		rc = pg_fetch_all(r, &client_kind, &arr, n);
	cl = arr;
	for (i = 0; i < *n && rc == 0; i++)
		rc = load_grants(s, cl[i]);
	if (rc != 0) {
		cs_clients_free(cl, *n);
		cl = NULL;
		*n = 0;
	}
	*out = cl;
	return rc;
}

/* A write whose INSERT ... SELECT inserts nothing when its target is
 * missing: CS_ENOTFOUND with message nf then. */
static int
write_found(struct pgstore *s, enum pst_id id, const struct pgq *q,
    const char *what, const char *nf, const char *name)
{
	PGresult *r;
	int rc;

	if ((rc = pg_write(s, pg_st(id), q, &r, what)) == 0 &&
	    strcmp(PQcmdTuples(r), "0") == 0)
		rc = cs_err_set(CS_ENOTFOUND, "store: %s '%s'", nf, name);
	PQclear(r);
	return rc;
}

int
pg_client_revoke(cs_store *cs, const char *name, int64_t at)
{
	struct pgq q;

	pq_init(&q);
	pq_text(&q, name);
	pq_i64(&q, at);
	return write_found(P(cs), PS_CLI_REVOKE, &q, "revoke client",
	    "revoke: no active client", name);
}

int
pg_grant_add(cs_store *cs, const char *client_name, const cs_grant *g)
{
	struct pgq q;

	pq_init(&q);
	pq_text(&q, client_name);
	pq_text(&q, g->types);
	pq_text(&q, g->issuer_code);
	pq_text(&q, g->issuer_name);
	return write_found(P(cs), PS_GRANT_ADD, &q, "add grant",
	    "grant: no client", client_name);
}

/* --- token rotations (client_tokens) --------------------------------- */

int
pg_client_rotate(cs_store *cs, const char *name, const uint8_t hash[32],
    int64_t at)
{
	struct pgq q;

	pq_init(&q);
	pq_text(&q, name);
	pq_bin(&q, hash, 32);
	pq_i64(&q, at);
	return write_found(P(cs), PS_CLI_ROTATE, &q, "rotate client token",
	    "rotate: no active client", name);
}

static int
map_token(const PGresult *r, int row, void *elem)
{
	cs_client_token *t;
	int bad = 0, rc = 0;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		rc = pg_nomem();
		goto out;
	}
	t->seq = pg_col_i64(r, row, 0);
	t->client = pg_col_dup(r, row, 1, &bad);
	if (PQgetlength(r, row, 2) == 32)
		memcpy(t->token_hash, PQgetvalue(r, row, 2), 32);
	else
		rc = cs_err_set(CS_ESTORE, "store: client token %lld: stored "
		    "hash is not 32 bytes", (long long)t->seq);
	t->at = pg_col_i64(r, row, 3);
	t->supersedes = pg_col_i64(r, row, 4);
	if (bad && rc == 0)
		rc = pg_nomem();
	if (rc != 0) {
		cs_client_tokens_free(&t, 1);
		t = NULL;
	}
out:
	*(cs_client_token **)elem = t;
	return rc;
}

static void
free_tokens(void *arr, size_t n)
{
	cs_client_tokens_free(arr, n);
}

static const struct rowkind token_kind = {
	sizeof(cs_client_token *), map_token, free_tokens
};

int
pg_client_tokens_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_client_token ***out, size_t *n)
{
	void *arr = NULL;
	int rc = pg_seq_page(P(cs), PS_CLI_TOK_PAGE, after_seq, limit,
	    &token_kind, &arr, n, "client tokens page");

	*out = arr;
	return rc;
}

static int
fill_token(struct pgstore *s, void *ctx, size_t i, struct pgq *q)
{
	const cs_client_token *t = ((cs_client_token *const *)ctx)[i];

	(void)s;
	pq_init(q);
	pq_i64(q, t->seq);
	pq_text(q, t->client);
	pq_bin(q, t->token_hash, 32);
	pq_i64(q, t->at);
	pq_i64(q, t->supersedes);
	return 0;
}

int
pg_client_tokens_import(cs_store *cs, cs_client_token *const *rows, size_t n)
{
	return pg_write_batch(P(cs), pg_st(PS_CLI_TOK_IMPORT), n, fill_token,
	    (void *)rows, "import client tokens");
}
