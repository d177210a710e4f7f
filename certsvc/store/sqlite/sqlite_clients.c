/*
 * sqlite_clients: API clients in the SQLite store: adding, finding (by
 * name, by token hash), listing, revoking and rotating them (client_tokens),
 * and their grants.
 */
#include "store_sqlite_internal.h"

#include "cs_err.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* A client without its grants (load_grants adds them). */
static int
map_client(sqlite3_stmt *st, void *elem)
{
	cs_client *c;
	const void *hash;
	int bad = 0, rc = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = sq_nomem();
		goto out;
	}
	c->id = sqlite3_column_int64(st, 0);
	c->name = sq_col_dup(st, 1, &bad);
	c->role = sq_col_dup(st, 2, &bad);
	hash = sqlite3_column_blob(st, 3);
	if (hash != NULL && sqlite3_column_bytes(st, 3) == sizeof(c->token_hash))
		memcpy(c->token_hash, hash, sizeof(c->token_hash));
	else
		rc = cs_err_set(CS_ESTORE, "store: client %lld: stored token "
		    "hash is not 32 bytes", (long long)c->id);
	c->created_at = sqlite3_column_int64(st, 4);
	c->revoked_at = sqlite3_column_int64(st, 5);
	hash = sqlite3_column_blob(st, 6);
	if (hash != NULL && sqlite3_column_bytes(st, 6) == 32)
		memcpy(c->current_hash, hash, sizeof(c->current_hash));
	else if (rc == 0)
		rc = cs_err_set(CS_ESTORE, "store: client %lld: its current "
		    "token hash is not 32 bytes", (long long)c->id);
	c->rotated_at = sqlite3_column_int64(st, 7);
	if (bad && rc == 0)
		rc = sq_nomem();
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
map_grant(sqlite3_stmt *st, void *elem)
{
	cs_grant *g = elem;
	int bad = 0, rc = 0;

	g->types = sq_col_dup(st, 0, &bad);
	g->issuer_code = sq_col_dup(st, 1, &bad);
	g->issuer_name = sq_col_dup(st, 2, &bad);
	if (bad) {
		cs_grant_clear(g);
		rc = sq_nomem();
	}
	return rc;
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

static int
load_grants(struct conn *c, cs_client *cl)
{
	sqlite3_stmt *st;
	void *arr = NULL;
	int rc;

	if ((rc = sq_prep(c, ST_GRANTS, &st)) == 0)
		rc = sq_fetch_all(st, sqlite3_bind_int64(st, 1, cl->id),
		    &grant_kind, &arr, &cl->n_grants, "grants");
	cl->grants = arr;
	return rc;
}

/* One client found by statement id with key bound, and its grants.  The
 * two reads are separate snapshots; grants only ever grow, so at worst a
 * grant added in between is included. */
static int
client_fetch(struct sstore *s, enum stmt_id id, const void *key, size_t len,
    cs_client **out)
{
	struct conn *c;
	sqlite3_stmt *st;
	int rc, bound;

	*out = NULL;
	if ((rc = sq_read_conn(s, &c)) != 0 || (rc = sq_prep(c, id, &st)) != 0)
		goto out;
	bound = len ? sqlite3_bind_blob(st, 1, key, (int)len, SQLITE_STATIC) :
	    sq_bind_text(st, 1, key);
	if ((rc = sq_fetch_one(st, bound, &client_kind, out, "get client")) == 0)
		rc = load_grants(c, *out);
out:
	if (rc != 0) {
		cs_client_free(*out);
		*out = NULL;
	}
	return rc;
}

/* cl->id and cl->revoked_at are ignored: the id is assigned, and a client
 * is revoked only through client_revoke. */
/* Insert cl with statement id: ST_CLI_ADD numbers it, ST_CLI_IMPORT keeps
 * its id. */
static int
put_client(cs_store *cs, const cs_client *cl, enum stmt_id id)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = sq_prep(c, id, &st)) == 0)
		rc = sq_run(st, sq_bind_text(st, 1, cl->name) ||
		    sq_bind_text(st, 2, cl->role) ||
		    sqlite3_bind_blob(st, 3, cl->token_hash,
		    sizeof(cl->token_hash), SQLITE_STATIC) ||
		    sqlite3_bind_int64(st, 4, cl->created_at) ||
		    (id == ST_CLI_IMPORT && sqlite3_bind_int64(st, 5, cl->id)),
		    "add client");
	rc = sq_write_leave(S(cs), own, rc);
out:
	return rc;
}

int
sq_client_add(cs_store *cs, const cs_client *cl)
{
	return put_client(cs, cl, ST_CLI_ADD);
}

int
sq_client_import(cs_store *cs, const cs_client *cl)
{
	return put_client(cs, cl, ST_CLI_IMPORT);
}

int
sq_client_get(cs_store *cs, const char *name, cs_client **out)
{
	return client_fetch(S(cs), ST_CLI_GET, name, 0, out);
}

/*
 * The lookup goes through the UNIQUE token_hash indexes, whose comparisons
 * are not constant-time; that leaks at most how much of a SHA-256 prefix
 * matched, which an attacker who controls only the token cannot steer.
 * The stored hash is then compared again in constant time, so the answer
 * itself never rests on a variable-time comparison.
 */
int
sq_client_by_token_hash(cs_store *cs, const uint8_t hash[32], cs_client **out)
{
	int rc;

	rc = client_fetch(S(cs), ST_CLI_BY_HASH, hash, 32, out);
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
sq_client_list(cs_store *cs, cs_client ***out, size_t *n)
{
	struct conn *c;
	sqlite3_stmt *st;
	cs_client **cl = NULL;
	void *arr = NULL;
	size_t i;
	int rc;

	*n = 0;
	if ((rc = sq_read_conn(S(cs), &c)) != 0 ||
	    (rc = sq_prep(c, ST_CLI_LIST, &st)) != 0)
		goto out;
	rc = sq_fetch_all(st, SQLITE_OK, &client_kind, &arr, n, "list clients");
	cl = arr;
	for (i = 0; i < *n && rc == 0; i++)
		rc = load_grants(c, cl[i]);
	if (rc != 0) {
		cs_clients_free(cl, *n);
		cl = NULL;
		*n = 0;
	}
out:
	*out = cl;
	return rc;
}

/* A write whose INSERT ... SELECT inserts nothing when its target is
 * missing: CS_ENOTFOUND with message nf then. */
static int
write_found(struct sstore *s, struct conn *c, int own, int rc, const char *nf,
    const char *name)
{
	if (rc == 0 && sqlite3_changes(c->db) == 0)
		rc = cs_err_set(CS_ENOTFOUND, "store: %s '%s'", nf, name);
	return sq_write_leave(s, own, rc);
}

int
sq_client_revoke(cs_store *cs, const char *name, int64_t at)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = sq_prep(c, ST_CLI_REVOKE, &st)) == 0)
		rc = sq_run(st, sq_bind_text(st, 1, name) ||
		    sqlite3_bind_int64(st, 2, at), "revoke client");
	rc = write_found(S(cs), c, own, rc, "revoke: no active client", name);
out:
	return rc;
}

int
sq_grant_add(cs_store *cs, const char *client_name, const cs_grant *g)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = sq_prep(c, ST_GRANT_ADD, &st)) == 0)
		rc = sq_run(st, sq_bind_text(st, 1, client_name) ||
		    sq_bind_text(st, 2, g->types) ||
		    sq_bind_text(st, 3, g->issuer_code) ||
		    sq_bind_text(st, 4, g->issuer_name), "add grant");
	rc = write_found(S(cs), c, own, rc, "grant: no client", client_name);
out:
	return rc;
}


/* --- token rotations (client_tokens) --------------------------------- */

int
sq_client_rotate(cs_store *cs, const char *name, const uint8_t hash[32],
    int64_t at)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = sq_prep(c, ST_CLI_ROTATE, &st)) == 0)
		rc = sq_run(st, sq_bind_text(st, 1, name) ||
		    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC) ||
		    sqlite3_bind_int64(st, 3, at), "rotate client token");
	rc = write_found(S(cs), c, own, rc, "rotate: no active client", name);
out:
	return rc;
}

static int
map_token(sqlite3_stmt *st, void *elem)
{
	cs_client_token *t;
	const void *hash;
	int bad = 0, rc = 0;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		rc = sq_nomem();
		goto out;
	}
	t->seq = sqlite3_column_int64(st, 0);
	t->client = sq_col_dup(st, 1, &bad);
	hash = sqlite3_column_blob(st, 2);
	if (hash != NULL && sqlite3_column_bytes(st, 2) == 32)
		memcpy(t->token_hash, hash, 32);
	else
		rc = cs_err_set(CS_ESTORE, "store: client token %lld: stored "
		    "hash is not 32 bytes", (long long)t->seq);
	t->at = sqlite3_column_int64(st, 3);
	t->supersedes = sqlite3_column_int64(st, 4);
	if (bad && rc == 0)
		rc = sq_nomem();
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
sq_client_tokens_page(cs_store *cs, int64_t after_seq, size_t limit,
    cs_client_token ***out, size_t *n)
{
	void *arr = NULL;
	int rc = sq_seq_page(S(cs), ST_CLI_TOK_PAGE, after_seq, limit,
	    &token_kind, &arr, n, "client tokens page");

	*out = arr;
	return rc;
}

static int
import_token(cs_store *cs, const void *row)
{
	const cs_client_token *t = row;
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = sq_write_enter(S(cs), &c, &own)) != 0)
		return rc;
	if ((rc = sq_prep(c, ST_CLI_TOK_IMPORT, &st)) == 0)
		rc = sq_run(st, sqlite3_bind_int64(st, 1, t->seq) ||
		    sq_bind_text(st, 2, t->client) ||
		    sqlite3_bind_blob(st, 3, t->token_hash, 32, SQLITE_STATIC) ||
		    sqlite3_bind_int64(st, 4, t->at) ||
		    sqlite3_bind_int64(st, 5, t->supersedes),
		    "import client token");
	return write_found(S(cs), c, own, rc, "client token: no client",
	    t->client);
}

int
sq_client_tokens_import(cs_store *cs, cs_client_token *const *rows, size_t n)
{
	return sq_import_rows(cs, (void *const *)rows, n, import_token);
}
