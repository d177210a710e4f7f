/*
 * copy: a library copied between stores and verified (copy.h).  Each
 * table is one entry of tables[]: how to read it in pages, how to put one
 * of its rows into the target (skipping one already there), how to write
 * a row's content canonically (for comparing and the digest) and how to
 * name a row in a message.  A table added to the store is one more entry.
 */
#include "copy.h"

#include "cs_err.h"
#include "encode.h"
#include "sbuf.h"
#include "store.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_DEFAULT 1000
/* The most audit records one query returns (store.h). */
#define AUDIT_PAGE_MAX 1000
/* A progress line every this many batches (and at each table's end). */
#define PROGRESS_EVERY 10

/* Where the pages of one table, on one side, have got to. */
struct cursor {
	int64_t pos;          /* licences: the store's position; events,
	                       * audit: the last seq */
	char *id;             /* bundles: the last id */
	int end;              /* the last page has been read */
};

struct table {
	const char *name;
	/* The next page after c (at most limit rows), c moved past it. */
	int (*page)(cs_store *s, struct cursor *c, size_t limit, void ***rows,
	    size_t *n);
	/* Put row into dst: 0 copied, 1 already there with the same
	 * content, CS_ECONFLICT (message naming the row) when the target
	 * holds something else under its key. */
	int (*put)(cs_store *dst, const void *row);
	/* Write n rows the target does not hold, all or none (a batch
	 * import of store.h), or NULL: put each. */
	int (*put_new)(cs_store *dst, void *const *rows, size_t n);
	/* A row's seq, for tables whose pages go by seq (the cursor's pos
	 * is the seq before the page); else NULL. */
	int64_t (*seq_of)(const void *row);
	/* The row's whole content, canonically: equal rows, equal bytes. */
	void (*canon)(cs_sbuf *b, const void *row);
	/* The row's key, for messages. */
	void (*key)(const void *row, char *buf, size_t len);
	void (*free)(void **rows, size_t n);
};

/* --- canonical content ---------------------------------------------- */

/* A tag, then the value's length or the number, 8 bytes big-endian: no
 * two different sequences of fields write the same bytes. */
static void
canon_head(cs_sbuf *b, char tag, uint64_t v)
{
	unsigned char h[9];
	int i;

	h[0] = (unsigned char)tag;
	for (i = 0; i < 8; i++)
		h[1 + i] = (unsigned char)(v >> (56 - 8 * i));
	cs_sb_add(b, h, sizeof(h));
}

static void
canon_int(cs_sbuf *b, int64_t v)
{
	canon_head(b, 'i', (uint64_t)v);
}

static void
canon_bytes(cs_sbuf *b, const void *p, size_t n)
{
	canon_head(b, 'b', n);
	cs_sb_add(b, p, n);
}

static void
canon_str(cs_sbuf *b, const char *s)
{
	if (s == NULL)
		canon_head(b, 'n', 0);
	else
		canon_bytes(b, s, strlen(s));
}

/* Whether rows x and y of table t have the same content; -1 when out of
 * memory. */
static int
same_row(const struct table *t, const void *x, const void *y)
{
	cs_sbuf a = CS_SBUF_INIT, b = CS_SBUF_INIT;
	int same;

	t->canon(&a, x);
	t->canon(&b, y);
	same = a.failed || b.failed ? -1 :
	    a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
	cs_sb_free(&a);
	cs_sb_free(&b);
	return same;
}

/* put's answer for a row the target holds as have: 1 when the same as
 * row, else a conflict naming it. */
static int
judge(const struct table *t, const void *row, const void *have)
{
	char key[160];
	int same = same_row(t, row, have);

	if (same < 0)
		return cs_err_set(CS_ENOMEM, "copy: out of memory");
	if (same)
		return 1;
	t->key(row, key, sizeof(key));
	return cs_err_set(CS_ECONFLICT, "copy: %s %s: the target holds "
	    "different content under this key", t->name, key);
}

/* A write the target refused (a key or a number another row holds):
 * a conflict naming the row, with the store's reason. */
static int
refused(const struct table *t, const void *row, int rc)
{
	char key[160];

	if (rc != CS_ECONFLICT && rc != CS_ENOTFOUND)
		return rc;
	t->key(row, key, sizeof(key));
	return cs_err_wrap(CS_ECONFLICT, "copy: %s %s: the target refuses it: ",
	    t->name, key);
}

/* --- clients, with their grants and revocation ---------------------- */

static int
clients_page(cs_store *s, struct cursor *c, size_t limit, void ***rows,
    size_t *n)
{
	cs_client **cl = NULL;
	int rc;

	(void)limit;
	*n = 0;
	rc = c->end ? 0 : cs_store_client_list(s, &cl, n);
	*rows = (void **)cl;
	c->end = 1;
	return rc;
}

static void
canon_grant(cs_sbuf *b, const cs_grant *g)
{
	canon_str(b, g->types);
	canon_str(b, g->issuer_code);
	canon_str(b, g->issuer_name);
}

/* Everything but grants and revocation: what a client never changes. */
static void
canon_client_self(cs_sbuf *b, const cs_client *c)
{
	canon_int(b, c->id);
	canon_str(b, c->name);
	canon_str(b, c->role);
	canon_bytes(b, c->token_hash, sizeof(c->token_hash));
	canon_int(b, c->created_at);
}

static void
canon_client(cs_sbuf *b, const void *row)
{
	const cs_client *c = row;
	size_t i;

	canon_client_self(b, c);
	canon_int(b, c->revoked_at);
	canon_int(b, (int64_t)c->n_grants);
	for (i = 0; i < c->n_grants; i++)
		canon_grant(b, &c->grants[i]);
}

static void
key_client(const void *row, char *buf, size_t len)
{
	snprintf(buf, len, "%s", ((const cs_client *)row)->name);
}

/* Whether have can grow into c by appending: the same client, whose
 * grants are a beginning of c's, revoked as c is or not yet. */
static int
client_grows_into(const cs_client *have, const cs_client *c)
{
	cs_sbuf a = CS_SBUF_INIT, b = CS_SBUF_INIT;
	size_t i;
	int ok;

	canon_client_self(&a, have);
	canon_client_self(&b, c);
	for (i = 0; i < have->n_grants && i < c->n_grants; i++) {
		canon_grant(&a, &have->grants[i]);
		canon_grant(&b, &c->grants[i]);
	}
	ok = !a.failed && !b.failed && a.len == b.len &&
	    memcmp(a.p, b.p, a.len) == 0 && have->n_grants <= c->n_grants &&
	    (have->revoked_at == 0 || have->revoked_at == c->revoked_at);
	cs_sb_free(&a);
	cs_sb_free(&b);
	return ok;
}

static int put_client(cs_store *dst, const void *row);

static void
free_clients(void **rows, size_t n)
{
	cs_clients_free((cs_client **)rows, n);
}

/* --- bundles -------------------------------------------------------- */

static int
bundles_page(cs_store *s, struct cursor *c, size_t limit, void ***rows,
    size_t *n)
{
	cs_bundle_row **b = NULL;
	int rc;

	if ((rc = cs_store_bundles_page(s, c->id, limit, &b, n)) == 0 &&
	    *n > 0) {
		free(c->id);
		if ((c->id = strdup(b[*n - 1]->id)) == NULL)
			rc = cs_err_set(CS_ENOMEM, "copy: out of memory");
	}
	c->end = *n < limit;
	*rows = (void **)b;
	return rc;
}

static void
canon_bundle(cs_sbuf *b, const void *row)
{
	const cs_bundle_row *r = row;

	canon_str(b, r->id);
	canon_str(b, r->client);
	canon_str(b, r->approval_ref);
	canon_str(b, r->request_hash);
	canon_int(b, r->created_at);
}

static void
key_bundle(const void *row, char *buf, size_t len)
{
	snprintf(buf, len, "%s", ((const cs_bundle_row *)row)->id);
}

static int put_bundle(cs_store *dst, const void *row);

static void
free_bundles(void **rows, size_t n)
{
	cs_bundle_rows_free((cs_bundle_row **)rows, n);
}

/* --- annotated copies (加注件) ------------------------------------- */

static int
copies_page(cs_store *s, struct cursor *c, size_t limit, void ***rows,
    size_t *n)
{
	cs_copy_row **a = NULL;
	int rc;

	if ((rc = cs_store_copies_page(s, c->id, limit, &a, n)) == 0 &&
	    *n > 0) {
		free(c->id);
		if ((c->id = strdup(a[*n - 1]->id)) == NULL)
			rc = cs_err_set(CS_ENOMEM, "copy: out of memory");
	}
	c->end = *n < limit;
	*rows = (void **)a;
	return rc;
}

static void
canon_copy(cs_sbuf *b, const void *row)
{
	const cs_copy_row *r = row;

	canon_str(b, r->id);
	canon_str(b, r->licence_id);
	canon_str(b, r->client);
	canon_str(b, r->purpose);
	canon_str(b, r->used_by_name);
	canon_str(b, r->used_by_code);
	canon_int(b, r->created_at);
	canon_int(b, r->expires_at);
}

static void
key_copy(const void *row, char *buf, size_t len)
{
	snprintf(buf, len, "%s", ((const cs_copy_row *)row)->id);
}

static int put_copy(cs_store *dst, const void *row);

static void
free_copies(void **rows, size_t n)
{
	cs_copy_rows_free((cs_copy_row **)rows, n);
}

/* --- licences ------------------------------------------------------- */

static int
licences_page(cs_store *s, struct cursor *c, size_t limit, void ***rows,
    size_t *n)
{
	cs_licence_row **r = NULL;
	int rc = cs_store_licences_page(s, &c->pos, limit, &r, n);

	c->end = *n < limit;
	*rows = (void **)r;
	return rc;
}

static void
canon_licence(cs_sbuf *b, const void *row)
{
	const cs_licence_row *r = row;

	canon_str(b, r->id);
	canon_str(b, r->type);
	canon_str(b, r->issuer_code);
	canon_int(b, r->seq);
	canon_str(b, r->holder_code);
	canon_str(b, r->number);
	canon_str(b, r->client);
	canon_str(b, r->approval_ref);
	canon_str(b, r->request_hash);
	canon_str(b, r->bundle);
	canon_str(b, r->supersedes);
	canon_int(b, r->issued_at);
	canon_str(b, r->record);
}

static void
key_licence(const void *row, char *buf, size_t len)
{
	snprintf(buf, len, "%s", ((const cs_licence_row *)row)->id);
}

static int put_licence(cs_store *dst, const void *row);

static int
new_licences(cs_store *dst, void *const *rows, size_t n)
{
	return cs_store_licences_import(dst, (cs_licence_row *const *)rows, n);
}

static void
free_licences(void **rows, size_t n)
{
	cs_licence_rows_free((cs_licence_row **)rows, n);
}

/* --- status events -------------------------------------------------- */

static int
events_page(cs_store *s, struct cursor *c, size_t limit, void ***rows,
    size_t *n)
{
	cs_event **e = NULL;
	int rc = cs_store_events_page(s, c->pos, limit, &e, n);

	if (rc == 0 && *n > 0)
		c->pos = e[*n - 1]->seq;
	c->end = *n < limit;
	*rows = (void **)e;
	return rc;
}

static void
canon_event(cs_sbuf *b, const void *row)
{
	const cs_event *e = row;

	canon_int(b, e->seq);
	canon_str(b, e->licence_id);
	canon_int(b, e->at);
	canon_str(b, e->actor);
	canon_str(b, e->action);
	canon_str(b, e->kind);
	canon_str(b, e->reason);
	canon_str(b, e->ref);
}

static void
key_event(const void *row, char *buf, size_t len)
{
	snprintf(buf, len, "seq %lld", (long long)((const cs_event *)row)->seq);
}

static int put_event(cs_store *dst, const void *row);

static int64_t
event_seq(const void *row)
{
	return ((const cs_event *)row)->seq;
}

static int
new_events(cs_store *dst, void *const *rows, size_t n)
{
	return cs_store_events_import(dst, (cs_event *const *)rows, n);
}

static void
free_events(void **rows, size_t n)
{
	cs_events_free((cs_event **)rows, n);
}

/* --- audit records -------------------------------------------------- */

static int
audit_page(cs_store *s, struct cursor *c, size_t limit, void ***rows,
    size_t *n)
{
	cs_audit_filter f = {0};
	cs_audit_rec **a = NULL;
	int rc;

	f.after_seq = c->pos;
	f.limit = (int)(limit < AUDIT_PAGE_MAX ? limit : AUDIT_PAGE_MAX);
	if ((rc = cs_store_audit_query(s, &f, &a, n)) == 0 && *n > 0)
		c->pos = a[*n - 1]->seq;
	c->end = *n < (size_t)f.limit;
	*rows = (void **)a;
	return rc;
}

static void
canon_audit(cs_sbuf *b, const void *row)
{
	const cs_audit_rec *a = row;

	canon_int(b, a->seq);
	canon_int(b, a->at_ms);
	canon_str(b, a->client);
	canon_str(b, a->action);
	canon_str(b, a->target);
	canon_str(b, a->holder);
	canon_str(b, a->purpose);
	canon_str(b, a->service_item);
	canon_str(b, a->case_ref);
	canon_int(b, a->result_count);
	canon_str(b, a->remote);
	canon_str(b, a->request_id);
	canon_str(b, a->result);
}

static void
key_audit(const void *row, char *buf, size_t len)
{
	snprintf(buf, len, "seq %lld",
	    (long long)((const cs_audit_rec *)row)->seq);
}

static int put_audit(cs_store *dst, const void *row);

static int64_t
audit_seq(const void *row)
{
	return ((const cs_audit_rec *)row)->seq;
}

static int
new_audit(cs_store *dst, void *const *rows, size_t n)
{
	return cs_store_audit_import(dst, (cs_audit_rec *const *)rows, n);
}

static void
free_audit(void **rows, size_t n)
{
	cs_audit_recs_free((cs_audit_rec **)rows, n);
}

/* --- change events (the feed's outbox) ------------------------------- */

static int
changes_page(cs_store *s, struct cursor *c, size_t limit, void ***rows,
    size_t *n)
{
	cs_change **e = NULL;
	int rc = cs_store_changes_page(s, c->pos, limit, &e, n);

	if (rc == 0 && *n > 0)
		c->pos = e[*n - 1]->seq;
	c->end = *n < limit;
	*rows = (void **)e;
	return rc;
}

static void
canon_change(cs_sbuf *b, const void *row)
{
	const cs_change *e = row;

	canon_int(b, e->seq);
	canon_str(b, e->event_id);
	canon_str(b, e->type);
	canon_str(b, e->licence_type);
	canon_str(b, e->licence_id);
	canon_int(b, e->at);
	canon_str(b, e->body);
}

static void
key_change(const void *row, char *buf, size_t len)
{
	snprintf(buf, len, "seq %lld", (long long)((const cs_change *)row)->seq);
}

static int put_change(cs_store *dst, const void *row);

static int64_t
change_seq(const void *row)
{
	return ((const cs_change *)row)->seq;
}

static int
new_changes(cs_store *dst, void *const *rows, size_t n)
{
	return cs_store_changes_import(dst, (cs_change *const *)rows, n);
}

static void
free_changes(void **rows, size_t n)
{
	cs_changes_free((cs_change **)rows, n);
}

/* --- holder acts (SPEC §10) ----------------------------------------- */

/* Paged by (key, n): the cursor keeps the last key in id and its n in
 * pos. */
static int
hacts_page(cs_store *s, struct cursor *c, size_t limit, void ***rows,
    size_t *n)
{
	cs_hact_row **a = NULL;
	int rc;

	if ((rc = cs_store_hacts_page(s, c->id, c->pos, limit, &a, n)) == 0 &&
	    *n > 0) {
		free(c->id);
		c->pos = a[*n - 1]->n;
		if ((c->id = strdup(a[*n - 1]->key)) == NULL)
			rc = cs_err_set(CS_ENOMEM, "copy: out of memory");
	}
	c->end = *n < limit;
	*rows = (void **)a;
	return rc;
}

/* --- peers ---------------------------------------------------------- */

static int
peers_page(cs_store *s, struct cursor *c, size_t limit, void ***rows,
    size_t *n)
{
	cs_peer_row **p = NULL;
	int rc = cs_store_peers_page(s, c->pos, limit, &p, n);

	if (rc == 0 && *n > 0)
		c->pos = p[*n - 1]->seq;
	c->end = *n < limit;
	*rows = (void **)p;
	return rc;
}

/* --- subscriptions (SPEC §9) ---------------------------------------- */

static int
subs_page(cs_store *s, struct cursor *c, size_t limit, void ***rows,
    size_t *n)
{
	cs_sub_row **e = NULL;
	int rc = cs_store_subs_page(s, c->pos, limit, &e, n);

	if (rc == 0 && *n > 0)
		c->pos = e[*n - 1]->seq;
	c->end = *n < limit;
	*rows = (void **)e;
	return rc;
}

static void
canon_hact(cs_sbuf *b, const void *row)
{
	const cs_hact_row *r = row;

	canon_str(b, r->key);
	canon_int(b, r->n);
	canon_str(b, r->kind);
	canon_str(b, r->holder);
	canon_int(b, r->at);
	canon_str(b, r->body);
}

static void
key_hact(const void *row, char *buf, size_t len)
{
	const cs_hact_row *r = row;

	snprintf(buf, len, "%.120s/%lld", r->key, (long long)r->n);
}

static int put_hact(cs_store *dst, const void *row);

static void
free_hacts(void **rows, size_t n)
{
	cs_hact_rows_free((cs_hact_row **)rows, n);
}

static void
canon_peer(cs_sbuf *b, const void *row)
{
	const cs_peer_row *p = row;

	canon_int(b, p->seq);
	canon_str(b, p->name);
	canon_str(b, p->trust_list);
	canon_str(b, p->status_list);
	canon_str(b, p->actor);
	canon_int(b, p->at);
}

static void
key_peer(const void *row, char *buf, size_t len)
{
	snprintf(buf, len, "seq %lld", (long long)((const cs_peer_row *)row)->seq);
}

static int put_peer(cs_store *dst, const void *row);

static void
free_peers(void **rows, size_t n)
{
	cs_peer_rows_free((cs_peer_row **)rows, n);
}

static void
canon_sub(cs_sbuf *b, const void *row)
{
	const cs_sub_row *e = row;

	canon_int(b, e->seq);
	canon_str(b, e->name);
	canon_str(b, e->url);
	canon_str(b, e->types);
	canon_str(b, e->events);
	canon_str(b, e->secret);
	canon_int(b, e->after_seq);
	canon_int(b, e->at);
	canon_int(b, e->removed);
}

static void
key_sub(const void *row, char *buf, size_t len)
{
	snprintf(buf, len, "seq %lld", (long long)((const cs_sub_row *)row)->seq);
}

static int put_sub(cs_store *dst, const void *row);

static int64_t
sub_seq(const void *row)
{
	return ((const cs_sub_row *)row)->seq;
}

static int
new_subs(cs_store *dst, void *const *rows, size_t n)
{
	return cs_store_subs_import(dst, (cs_sub_row *const *)rows, n);
}

static void
free_subs(void **rows, size_t n)
{
	cs_sub_rows_free((cs_sub_row **)rows, n);
}

/* --- client token rotations ----------------------------------------- */

static int
client_tokens_page(cs_store *s, struct cursor *c, size_t limit, void ***rows,
    size_t *n)
{
	cs_client_token **t = NULL;
	int rc = cs_store_client_tokens_page(s, c->pos, limit, &t, n);

	if (rc == 0 && *n > 0)
		c->pos = t[*n - 1]->seq;
	c->end = *n < limit;
	*rows = (void **)t;
	return rc;
}

static void
canon_client_token(cs_sbuf *b, const void *row)
{
	const cs_client_token *t = row;

	canon_int(b, t->seq);
	canon_str(b, t->client);
	canon_bytes(b, t->token_hash, sizeof(t->token_hash));
	canon_int(b, t->at);
	canon_int(b, t->supersedes);
}

static void
key_client_token(const void *row, char *buf, size_t len)
{
	const cs_client_token *t = row;

	snprintf(buf, len, "seq %lld (%.64s)", (long long)t->seq, t->client);
}

static int put_client_token(cs_store *dst, const void *row);

static int64_t
client_token_seq(const void *row)
{
	return ((const cs_client_token *)row)->seq;
}

static int
new_client_tokens(cs_store *dst, void *const *rows, size_t n)
{
	return cs_store_client_tokens_import(dst,
	    (cs_client_token *const *)rows, n);
}

static void
free_client_tokens(void **rows, size_t n)
{
	cs_client_tokens_free((cs_client_token **)rows, n);
}

/* --- the tables ----------------------------------------------------- */

/* In the order copied: events, annotated copies and change events refer
 * to licences (a foreign key); the rest only name each other.  The puts
 * find their entry by its T_ name. */
enum { T_CLIENTS, T_BUNDLES, T_LICENCES, T_EVENTS, T_AUDIT, T_COPIES, T_CHANGES,
    T_HACTS, T_PEERS, T_SUBS, T_CLIENT_TOKENS };
static const struct table tables[] = {
	[T_CLIENTS] = {"clients", clients_page, put_client, NULL, NULL, canon_client,
	    key_client, free_clients},
	[T_BUNDLES] = {"bundles", bundles_page, put_bundle, NULL, NULL, canon_bundle,
	    key_bundle, free_bundles},
	[T_LICENCES] = {"licences", licences_page, put_licence, new_licences, NULL,
	    canon_licence, key_licence, free_licences},
	[T_EVENTS] = {"status events", events_page, put_event, new_events, event_seq,
	    canon_event, key_event, free_events},
	[T_AUDIT] = {"audit records", audit_page, put_audit, new_audit, audit_seq,
	    canon_audit, key_audit, free_audit},
	[T_COPIES] = {"annotated copies", copies_page, put_copy, NULL, NULL, canon_copy,
	    key_copy, free_copies},
	[T_CHANGES] = {"change events", changes_page, put_change, new_changes, change_seq,
	    canon_change, key_change, free_changes},
	[T_HACTS] = {"holder acts", hacts_page, put_hact, NULL, NULL, canon_hact, key_hact,
	    free_hacts},
	[T_PEERS] = {"peers", peers_page, put_peer, NULL, NULL, canon_peer, key_peer,
	    free_peers},
	/* Their delivery attempts stay behind: the copy's sender sends
	 * each subscription again from its creation (at least once). */
	[T_SUBS] = {"subscriptions", subs_page, put_sub, new_subs, sub_seq, canon_sub,
	    key_sub, free_subs},
	/* After clients, whose names they refer to. */
	[T_CLIENT_TOKENS] = {"client tokens", client_tokens_page, put_client_token,
	    new_client_tokens, client_token_seq, canon_client_token,
	    key_client_token, free_client_tokens},
};
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

_Static_assert(N_TABLES <= CS_COPY_TABLES_MAX, "copy.h: CS_COPY_TABLES_MAX");

/* The puts need their table's entry (judge, refused). */
/* A client is history appended in three tables: a client the target has
 * with fewer grants, or not yet revoked, gets the rest appended (the
 * source went on after an earlier copy). */
static int
put_client(cs_store *dst, const void *row)
{
	const cs_client *c = row;
	cs_client *have = NULL;
	size_t i, from = 0;
	int rc, added = 0;

	rc = cs_store_client_get(dst, c->name, &have);
	if (rc == CS_ENOTFOUND) {
		/* Its id or token hash may be another client's there. */
		if ((rc = cs_store_client_import(dst, c)) != 0) {
			rc = refused(&tables[T_CLIENTS], c, rc);
			goto out;
		}
		added = 1;
	} else if (rc != 0)
		goto out;
	else if (!client_grows_into(have, c)) {
		rc = judge(&tables[T_CLIENTS], c, have);
		goto out;
	} else
		from = have->n_grants;
	for (i = from; i < c->n_grants && rc == 0; i++, added = 1)
		rc = cs_store_grant_add(dst, c->name, &c->grants[i]);
	if (rc == 0 && c->revoked_at != 0 &&
	    (have == NULL || have->revoked_at == 0)) {
		rc = cs_store_client_revoke(dst, c->name, c->revoked_at);
		added = 1;
	}
	if (rc == 0)
		rc = added ? 0 : 1;
	else
		rc = refused(&tables[T_CLIENTS], c, rc);
out:
	cs_client_free(have);
	return rc;
}

static int
put_bundle(cs_store *dst, const void *row)
{
	const cs_bundle_row *b = row;
	cs_bundle_row *have = NULL;
	int rc;

	rc = cs_store_bundle_by_ref(dst, b->client, b->approval_ref, &have);
	if (rc == 0)
		rc = judge(&tables[T_BUNDLES], b, have);
	else if (rc == CS_ENOTFOUND &&
	    (rc = cs_store_bundle_put(dst, b)) != 0)
		rc = refused(&tables[T_BUNDLES], b, rc);
	cs_bundle_row_free(have);
	return rc;
}

static int
put_copy(cs_store *dst, const void *row)
{
	const cs_copy_row *a = row;
	cs_copy_row *have = NULL;
	int rc;

	rc = cs_store_copy_get(dst, a->id, &have);
	if (rc == 0)
		rc = judge(&tables[T_COPIES], a, have);
	else if (rc == CS_ENOTFOUND && (rc = cs_store_copy_put(dst, a)) != 0)
		rc = refused(&tables[T_COPIES], a, rc);
	cs_copy_row_free(have);
	return rc;
}

/* As put_event: the target's row of the same seq, or the row kept. */
static int
put_peer(cs_store *dst, const void *row)
{
	const cs_peer_row *p = row;
	cs_peer_row **have = NULL;
	size_t n = 0;
	int rc;

	if ((rc = cs_store_peers_page(dst, p->seq - 1, 1, &have, &n)) != 0)
		return rc;
	if (n == 1 && have[0]->seq == p->seq)
		rc = judge(&tables[T_PEERS], p, have[0]);
	else if ((rc = cs_store_peer_put(dst, p)) != 0)
		rc = refused(&tables[T_PEERS], p, rc);
	cs_peer_rows_free(have, n);
	return rc;
}

static int
put_hact(cs_store *dst, const void *row)
{
	const cs_hact_row *a = row;
	cs_hact_row **have = NULL;
	size_t n = 0;
	int rc;

	rc = cs_store_hacts_get(dst, a->key, a->n + 1, 1, &have, &n);
	if (rc == 0 && n == 1 && have[0]->n == a->n)
		rc = judge(&tables[T_HACTS], a, have[0]);
	else if (rc == 0 && (rc = cs_store_hact_put(dst, a)) != 0)
		rc = refused(&tables[T_HACTS], a, rc);
	cs_hact_rows_free(have, n);
	return rc;
}

static int
put_licence(cs_store *dst, const void *row)
{
	const cs_licence_row *r = row;
	cs_licence_row *have = NULL;
	int rc;

	rc = cs_store_licence_get(dst, r->id, &have);
	if (rc == 0)
		rc = judge(&tables[T_LICENCES], r, have);
	else if (rc == CS_ENOTFOUND &&
	    (rc = cs_store_licence_put(dst, r)) != 0)
		rc = refused(&tables[T_LICENCES], r, rc);
	cs_licence_row_free(have);
	return rc;
}

/* The target's row of the same seq is the first after seq - 1. */
static int
put_event(cs_store *dst, const void *row)
{
	const cs_event *e = row;
	cs_event **have = NULL;
	size_t n = 0;
	int rc;

	if ((rc = cs_store_events_page(dst, e->seq - 1, 1, &have, &n)) != 0)
		return rc;
	if (n == 1 && have[0]->seq == e->seq)
		rc = judge(&tables[T_EVENTS], e, have[0]);
	else if ((rc = new_events(dst, (void *const *)&row, 1)) != 0)
		rc = refused(&tables[T_EVENTS], e, rc);
	cs_events_free(have, n);
	return rc;
}

static int
put_change(cs_store *dst, const void *row)
{
	const cs_change *e = row;
	cs_change **have = NULL;
	size_t n = 0;
	int rc;

	if ((rc = cs_store_changes_page(dst, e->seq - 1, 1, &have, &n)) != 0)
		return rc;
	if (n == 1 && have[0]->seq == e->seq)
		rc = judge(&tables[T_CHANGES], e, have[0]);
	else if ((rc = new_changes(dst, (void *const *)&row, 1)) != 0)
		rc = refused(&tables[T_CHANGES], e, rc);
	cs_changes_free(have, n);
	return rc;
}

static int
put_sub(cs_store *dst, const void *row)
{
	const cs_sub_row *e = row;
	cs_sub_row **have = NULL;
	size_t n = 0;
	int rc;

	if ((rc = cs_store_subs_page(dst, e->seq - 1, 1, &have, &n)) != 0)
		return rc;
	if (n == 1 && have[0]->seq == e->seq)
		rc = judge(&tables[T_SUBS], e, have[0]);
	else if ((rc = new_subs(dst, (void *const *)&row, 1)) != 0)
		rc = refused(&tables[T_SUBS], e, rc);
	cs_sub_rows_free(have, n);
	return rc;
}

static int
put_client_token(cs_store *dst, const void *row)
{
	const cs_client_token *t = row;
	cs_client_token **have = NULL;
	size_t n = 0;
	int rc;

	if ((rc = cs_store_client_tokens_page(dst, t->seq - 1, 1, &have,
	    &n)) != 0)
		return rc;
	if (n == 1 && have[0]->seq == t->seq)
		rc = judge(&tables[T_CLIENT_TOKENS], t, have[0]);
	else if ((rc = new_client_tokens(dst, (void *const *)&row, 1)) != 0)
		rc = refused(&tables[T_CLIENT_TOKENS], t, rc);
	cs_client_tokens_free(have, n);
	return rc;
}

static int
put_audit(cs_store *dst, const void *row)
{
	const cs_audit_rec *a = row;
	cs_audit_filter f = {0};
	cs_audit_rec **have = NULL;
	size_t n = 0;
	int rc;

	f.after_seq = a->seq - 1;
	f.limit = 1;
	if ((rc = cs_store_audit_query(dst, &f, &have, &n)) != 0)
		return rc;
	if (n == 1 && have[0]->seq == a->seq)
		rc = judge(&tables[T_AUDIT], a, have[0]);
	else if ((rc = new_audit(dst, (void *const *)&row, 1)) != 0)
		rc = refused(&tables[T_AUDIT], a, rc);
	cs_audit_recs_free(have, n);
	return rc;
}

/* --- copying -------------------------------------------------------- */

/* Put one row, row by row's way, counting it. */
static int
put_one(cs_store *dst, const struct table *t, void *row, int64_t *copied,
    int64_t *present)
{
	int rc = t->put(dst, row);

	if (rc == 0)
		(*copied)++;
	else if (rc == 1) {
		(*present)++;
		rc = 0;
	}
	return rc;
}

/*
 * A page of a table that goes by seq, row by row but without a lookup
 * each: the target's rows from the page's first seq on, one page read,
 * say which are there (compared) and which are not (written as one
 * batch); only a row past what that read covers is looked up alone.
 */
static int
put_by_seq(cs_store *dst, const struct table *t, void **rows, size_t n,
    int64_t *copied, int64_t *present)
{
	struct cursor c = {0};
	void **have = NULL, **missing = NULL;
	size_t nh = 0, nm = 0, i, j = 0;
	int rc;

	c.pos = t->seq_of(rows[0]) - 1;
	if ((rc = t->page(dst, &c, n, &have, &nh)) != 0)
		return rc;
	if ((missing = calloc(n, sizeof(*missing))) == NULL)
		rc = cs_err_set(CS_ENOMEM, "copy: out of memory");
	for (i = 0; i < n && rc == 0; i++) {
		while (j < nh && t->seq_of(have[j]) < t->seq_of(rows[i]))
			j++;
		if (j < nh && t->seq_of(have[j]) == t->seq_of(rows[i])) {
			if ((rc = judge(t, rows[i], have[j])) == 1) {
				(*present)++;
				rc = 0;
			}
		} else if (j < nh || c.end)
			missing[nm++] = rows[i];  /* within what was read */
		else
			rc = put_one(dst, t, rows[i], copied, present);
	}
	/* The rows found missing, as one batch; refused, one by one, to
	 * name the row. */
	if (rc == 0 && nm > 0) {
		if ((rc = t->put_new(dst, missing, nm)) == 0)
			*copied += (int64_t)nm;
		else if (rc == CS_ECONFLICT || rc == CS_ENOTFOUND)
			for (rc = 0, i = 0; i < nm && rc == 0; i++)
				rc = put_one(dst, t, missing[i], copied, present);
	}
	t->free(have, nh);
	free(missing);
	free(c.id);
	return rc;
}

/*
 * One page of rows into dst, in one transaction: all of it or none.  A
 * first copy finds none of them there, so the page is first written as a
 * whole, unchecked (put_new: on PostgreSQL a round trip per few hundred
 * rows instead of two per row); only when the target refuses that (a key
 * taken: a copy run again, or a conflict) is each row looked up and
 * compared, to skip it or name it.  *bold says whether to try the whole
 * page first: not after a page that found rows there already (a copy run
 * again finds every page there; trying each would only cost time).
 */
static int
put_batch(cs_store *dst, const struct table *t, void **rows, size_t n,
    int *bold, cs_copy_table_count *cnt)
{
	int64_t copied = 0, present = 0;
	size_t i = 0;
	int rc;

	if ((rc = cs_store_begin(dst)) != 0)
		return rc;
	if (t->put_new != NULL && *bold) {
		rc = t->put_new(dst, rows, n);
		if (rc == 0) {
			copied = (int64_t)n;
			i = n;
		} else if (rc == CS_ECONFLICT || rc == CS_ENOTFOUND)
			rc = 0;
	}
	if (i < n && rc == 0 && t->seq_of != NULL)
		rc = put_by_seq(dst, t, rows, n, &copied, &present);
	else
		for (; i < n && rc == 0; i++) {
			if ((rc = t->put(dst, rows[i])) == 0)
				copied++;
			else if (rc == 1) {
				present++;
				rc = 0;
			}
		}
	if (rc == 0 && copied > 0)
		rc = cs_store_import_done(dst);
	if (rc == 0)
		rc = cs_store_commit(dst);
	else
		(void)cs_store_rollback(dst);
	if (rc == 0) {
		cnt->copied += copied;
		cnt->present += present;
		*bold = present == 0;
	}
	return rc;
}

static void
progress(const cs_copy_opts *o, const char *what, const struct table *t,
    const cs_copy_table_count *cnt)
{
	if (o->progress == NULL)
		return;
	fprintf(o->progress, "%s: %s: %lld copied, %lld already there\n",
	    what, t->name, (long long)cnt->copied, (long long)cnt->present);
	fflush(o->progress);
}

static int
copy_table(cs_store *src, cs_store *dst, const struct table *t,
    const cs_copy_opts *o, size_t batch, cs_copy_table_count *cnt)
{
	struct cursor c = {0};
	void **rows = NULL;
	size_t n = 0;
	long batches = 0;
	int rc, bold = 1;

	do {
		if ((rc = t->page(src, &c, batch, &rows, &n)) != 0)
			break;
		if (n > 0)
			rc = put_batch(dst, t, rows, n, &bold, cnt);
		t->free(rows, n);
		if (rc == 0 && ++batches % PROGRESS_EVERY == 0)
			progress(o, "copy", t, cnt);
	} while (rc == 0 && !c.end);
	if (rc == 0)
		progress(o, "copied", t, cnt);
	free(c.id);
	return rc;
}

/* --- verifying ------------------------------------------------------ */

/* The first difference: row (of the source, or of the target when only
 * it has one there) and how it differs. */
static int
differs(const struct table *t, const void *row, const char *how)
{
	char key[160];

	t->key(row, key, sizeof(key));
	return cs_err_set(CS_ECONFLICT, "verify: %s %s %s", t->name, key, how);
}

/* Compare one page of each side row by row, the source's rows going into
 * the digest. */
static int
compare_pages(const struct table *t, void **a, size_t na, void **b,
    size_t nb, EVP_MD_CTX *md, cs_copy_table_count *cnt)
{
	cs_sbuf x = CS_SBUF_INIT, y = CS_SBUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < na && i < nb && rc == 0; i++) {
		x.len = y.len = 0;
		t->canon(&x, a[i]);
		t->canon(&y, b[i]);
		if (x.failed || y.failed)
			rc = cs_err_set(CS_ENOMEM, "verify: out of memory");
		else if (x.len != y.len || memcmp(x.p, y.p, x.len) != 0)
			rc = differs(t, a[i], "differs between source and target");
		else if (EVP_DigestUpdate(md, x.p, x.len) != 1)
			rc = cs_err_set(CS_ECRYPTO, "verify: digest");
		else
			cnt->verified++;
	}
	if (rc == 0 && na > nb)
		rc = differs(t, a[nb], "is missing from the target");
	else if (rc == 0 && nb > na)
		rc = differs(t, b[na], "is in the target only");
	cs_sb_free(&x);
	cs_sb_free(&y);
	return rc;
}

static int
verify_table(cs_store *src, cs_store *dst, const struct table *t,
    size_t batch, EVP_MD_CTX *md, cs_copy_table_count *cnt)
{
	struct cursor ca = {0}, cb = {0};
	void **a = NULL, **b = NULL;
	size_t na = 0, nb = 0;
	int rc;

	if (EVP_DigestUpdate(md, t->name, strlen(t->name) + 1) != 1)
		return cs_err_set(CS_ECRYPTO, "verify: digest");
	do {
		na = nb = 0;
		a = b = NULL;
		if ((rc = t->page(src, &ca, batch, &a, &na)) == 0 &&
		    (rc = t->page(dst, &cb, batch, &b, &nb)) == 0)
			rc = compare_pages(t, a, na, b, nb, md, cnt);
		t->free(a, na);
		t->free(b, nb);
	} while (rc == 0 && !ca.end);
	free(ca.id);
	free(cb.id);
	return rc;
}

/* --- the whole ------------------------------------------------------ */

int
cs_copy_run(const char *from, const char *to, const cs_copy_opts *o,
    cs_copy_report *out)
{
	cs_store *src = NULL, *dst = NULL;
	EVP_MD_CTX *md = NULL;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dn = 0;
	size_t i, batch = o->batch ? o->batch : BATCH_DEFAULT;
	int rc;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < N_TABLES; i++)
		out->t[i].table = tables[i].name;
	out->n = N_TABLES;
	if ((rc = cs_store_open(from, 0, &src)) != 0 ||
	    (rc = cs_store_open(to, 0, &dst)) != 0)
		goto out;
	for (i = 0; i < N_TABLES && rc == 0 && !o->verify_only; i++)
		rc = copy_table(src, dst, &tables[i], o, batch, &out->t[i]);
	if (rc == 0 && ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1))
		rc = cs_err_set(CS_ECRYPTO, "verify: digest");
	for (i = 0; i < N_TABLES && rc == 0; i++)
		rc = verify_table(src, dst, &tables[i], batch, md, &out->t[i]);
	if (rc == 0 && EVP_DigestFinal_ex(md, d, &dn) != 1)
		rc = cs_err_set(CS_ECRYPTO, "verify: digest");
	if (rc == 0)
		cs_hex_encode_into(d, dn, out->digest);
out:
	EVP_MD_CTX_free(md);
	cs_store_close(dst);
	cs_store_close(src);
	return rc;
}
