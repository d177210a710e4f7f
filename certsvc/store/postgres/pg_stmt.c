/*
 * pg_stmt: the SQL statements of the PostgreSQL store and the helpers
 * around them: the statement table (each prepared once per connection),
 * parameters, reading the columns of results (always in binary format),
 * mapping result rows into arrays, and PostgreSQL's errors as cs_err
 * codes, with the messages the SQLite backend gives for the same faults.
 *
 * Every value travels as a parameter of a prepared statement; no SQL text
 * here or anywhere in the backend is built from a value.
 */
#include "store_pg_internal.h"

#include "cs_err.h"
#include "sbuf.h"
#include "timeutil.h"
#include "zrecord.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- statements ----------------------------------------------------- */

#define LICENCE_COLS                                                         \
	"id, type, issuer_code, seq, holder_code, number, client, "          \
	"approval_ref, request_hash, bundle, supersedes, issued_at, record"
/* The one-key advisory lock a numbering transaction holds ("seri" in
 * ASCII; the migration's lock, pg_schema.c, is another value of the same
 * key space, the number trigger's the two-key space). */
#define NUMBERING_LOCK "1936028265"
#define EVENT_COLS "seq, licence_id, at, actor, action, kind, reason, ref"
#define SUB_COLS "seq, name, url, types, events, secret, after_seq, at, " \
    "removed"
#define CHANGE_COLS "seq, event_id, type, licence_type, licence_id, at, body"
#define BUNDLE_COLS "id, client, approval_ref, request_hash, created_at"
#define HACT_COLS "key, n, kind, holder, at, body"
#define PEER_COLS "seq, name, trust_list, status_list, actor, at"
#define COPY_COLS "id, licence_id, client, purpose, used_by_name, " \
	"used_by_code, created_at, expires_at"
/* With the token that authenticates the client now: its latest
 * rotation's (client_tokens), else the one it was created with. */
#define CLIENT_SELECT                                                        \
	"SELECT c.id, c.name, c.role, c.token_hash, c.created_at, "          \
	"coalesce(r.at, 0), coalesce(t.token_hash, c.token_hash), "          \
	"coalesce(t.at, 0) FROM clients c "                                  \
	"LEFT JOIN client_revocations r ON r.client_id = c.id "              \
	"LEFT JOIN client_tokens t ON t.seq = (SELECT max(seq) FROM "        \
	"client_tokens WHERE client_id = c.id) "

#define ST(id, sql) [id] = {id, sql, 0, NULL}

static const struct pstmt table[PS__N] = {
	ST(PS_LIC_PUT, "INSERT INTO licences (" LICENCE_COLS ") VALUES ($1, "
	    "$2, $3, $4::bigint, $5, $6, $7, $8, $9, $10, $11, $12::bigint, "
	    "$13::bytea)"),
	ST(PS_LIC_GET, "SELECT " LICENCE_COLS " FROM licences WHERE id = $1"),
	ST(PS_LIC_BY_REF, "SELECT " LICENCE_COLS " FROM licences "
	    "WHERE client = $1 AND approval_ref = $2"),
	/* A page, newest first, ties in reverse insertion order, from the
	 * position (issued_at, pos) = ($3, $4) on: a range of the holder
	 * index read backwards, whatever the holder holds before it.  The
	 * last column is each row's position, so the row after the page
	 * says where the next one starts. */
	ST(PS_LIC_BY_HOLDER, "SELECT " LICENCE_COLS ", pos FROM licences "
	    "WHERE holder_code = $1 AND ($2::text IS NULL OR type = $2::text) "
	    "AND (issued_at, pos) <= ($3::bigint, $4::bigint) "
	    "ORDER BY issued_at DESC, pos DESC LIMIT $5::bigint"),
	/* A page position is a licence's pos; no row unless it is one of
	 * the holder's. */
	ST(PS_LIC_POS_AT, "SELECT issued_at FROM licences "
	    "WHERE pos = $1::bigint AND holder_code = $2"),
	/* For each licence carrying the number with this holder code (its
	 * versions count as one: a serial), its newest version that does. */
	/* An issuer's reconciliation page (licences_client_issued). */
	ST(PS_LIC_BY_CLIENT, "SELECT " LICENCE_COLS " FROM licences "
	    "WHERE client = $1 AND ($2::text IS NULL OR approval_ref = $2 OR "
	    "bundle = (SELECT id FROM bundles WHERE client = $1 AND "
	    "approval_ref = $2)) AND issued_at >= $3::bigint AND issued_at < "
	    "$4::bigint AND (issued_at, id) > ($5::bigint, $6::text) "
	    "ORDER BY issued_at, id LIMIT $7::bigint"),
	ST(PS_LIC_BY_NUMBER, "SELECT " LICENCE_COLS " FROM licences "
	    "WHERE id IN (SELECT max(id) FROM licences WHERE number = $1 AND "
	    "holder_code = $2 GROUP BY type, issuer_code, "
	    "cs_serial(id, type, issuer_code)) ORDER BY id"),
	/* Carried by another licence (serial) of the type and issuer: what
	 * the trigger licences_number_unique refuses. */
	ST(PS_NUMBER_TAKEN, "SELECT EXISTS (SELECT 1 FROM licences "
	    "WHERE number = $1 AND type = $2 AND issuer_code = $3 AND "
	    "cs_serial(id, type, issuer_code) <> $4)"),
	ST(PS_LIC_BY_BUNDLE, "SELECT " LICENCE_COLS " FROM licences "
	    "WHERE bundle = $1 ORDER BY pos"),
	/* Outside a transaction: what the counter says (it never lags the
	 * licences: the insert trigger raises it, pg_schema.c,
	 * schema_issue_cost), nothing locked. */
	ST(PS_NEXT_SEQ, "SELECT coalesce((SELECT last FROM licence_seqs "
	    "WHERE type = $1 AND issuer_code = $2), 0) + 1"),
	/* Inside one: the same, and the counter's row stays locked until the
	 * transaction ends, so another node's transaction numbering the same
	 * type and issuer waits for this one's licence (pg_licences.c).  The
	 * row's newest version is what ON CONFLICT reads, whatever the
	 * statement's snapshot (taken before the lock below was granted):
	 * the other node's licences, committed, raised it.
	 * First, in the same statement, the numbering lock: one transaction
	 * that numbers at a time across nodes.  Without it two nodes' batches
	 * that number two types in opposite orders each wait for the other's
	 * counter row, and PostgreSQL ends one as a deadlock: a 503 for
	 * valid requests under ordinary load (tests/http_nodes_test.py). */
	ST(PS_NEXT_SEQ_LOCK, "WITH numbering AS (SELECT "
	    "pg_advisory_xact_lock(" NUMBERING_LOCK ")) "
	    "INSERT INTO licence_seqs AS c (type, "
	    "issuer_code, last) SELECT $1, $2, 0::bigint FROM numbering "
	    "ON CONFLICT (type, "
	    "issuer_code) DO UPDATE SET last = greatest(c.last, EXCLUDED.last) "
	    "RETURNING last + 1"),
	ST(PS_LIC_COUNT, "SELECT count(*) FROM licences"),
	ST(PS_EV_PUT, "INSERT INTO status_events (licence_id, at, actor, "
	    "action, kind, reason, ref) VALUES ($1, $2::bigint, $3, $4, $5, "
	    "$6, $7)"),
	ST(PS_EV_FOR, "SELECT " EVENT_COLS " FROM status_events "
	    "WHERE licence_id = $1 ORDER BY seq"),
	/* The events of many licences ($1, a text array), grouped by the
	 * array's order, each licence's oldest first; the last column is the
	 * licence's place in the array (from 1).  LATERAL keeps it one index
	 * probe a licence, whatever the planner guesses of the array. */
	ST(PS_EV_FOR_MANY, "SELECT e.seq, e.licence_id, e.at, e.actor, "
	    "e.action, e.kind, e.reason, e.ref, u.ord FROM unnest($1::text[]) "
	    "WITH ORDINALITY AS u(id, ord), LATERAL (SELECT " EVENT_COLS
	    " FROM status_events WHERE licence_id = u.id COLLATE \"C\") e "
	    "ORDER BY u.ord, e.seq"),
	/* The status cache's refresh (pg_status.c): what came above the
	 * mark, and the gaps under it ($2, a bigint array) that have since
	 * committed. */
	ST(PS_EV_SINCE, "SELECT seq, licence_id FROM status_events "
	    "WHERE seq > $1::bigint OR seq = ANY($2::bigint[]) ORDER BY seq "
	    "LIMIT $3::bigint"),
	ST(PS_EV_MAX, "SELECT coalesce(max(seq), 0) FROM status_events"),
	/* The numbering lock first, in the same statement: held until the
	 * transaction ends, it makes the transactions that append events
	 * commit one at a time, so the order of seq is the order of commits
	 * and a reader at seq N never finds a later commit below N.  An
	 * issuance holds it already (PS_NEXT_SEQ_LOCK): a batch takes it once
	 * and the same lock cannot deadlock against itself. */
	ST(PS_CHG_PUT, "WITH feed AS (SELECT pg_advisory_xact_lock("
	    NUMBERING_LOCK ")) INSERT INTO change_events (event_id, type, "
	    "licence_type, licence_id, at, body) SELECT $1, $2, $3, $4, "
	    "$5::bigint, $6 FROM feed"),
	ST(PS_CHG_PAGE, "SELECT " CHANGE_COLS " FROM change_events "
	    "WHERE seq > $1::bigint ORDER BY seq LIMIT $2::bigint"),
	/* A creation row starts after the feed's last committed event: one
	 * committing later takes the numbering lock and a larger seq. */
	ST(PS_SUB_PUT, "INSERT INTO subscriptions (name, url, types, events, "
	    "secret, at, removed, after_seq) VALUES ($1, $2, $3, $4, $5, "
	    "$6::bigint, $7::boolean, CASE WHEN $7::boolean THEN 0 ELSE "
	    "(SELECT coalesce(max(seq), 0) FROM change_events) END)"),
	ST(PS_SUB_IMPORT, "INSERT INTO subscriptions (name, url, types, "
	    "events, secret, at, removed, after_seq, seq) OVERRIDING SYSTEM "
	    "VALUE VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::boolean, "
	    "$8::bigint, $9::bigint)"),
	ST(PS_SUB_PAGE, "SELECT seq, name, url, types, events, secret, "
	    "after_seq, at, removed::int FROM subscriptions "
	    "WHERE seq > $1::bigint ORDER BY seq LIMIT $2::bigint"),
	ST(PS_SUB_ATTEMPT, "INSERT INTO sub_attempts (sub, event_seq, at_ms, "
	    "status, result) VALUES ($1::bigint, $2::bigint, $3::bigint, "
	    "$4::bigint, $5)"),
	/* As SQLite's ST_SUB_PROGRESS (why there). */
	ST(PS_SUB_PROGRESS, "WITH d AS (SELECT coalesce(max(event_seq), 0) "
	    "AS v FROM sub_attempts WHERE sub = $1::bigint AND result = "
	    "'delivered') SELECT d.v, (SELECT count(*) FROM sub_attempts "
	    "WHERE sub = $1::bigint AND event_seq > d.v), (SELECT "
	    "coalesce(min(at_ms), 0) FROM sub_attempts WHERE sub = $1::bigint "
	    "AND event_seq > d.v), l.seq, l.event_seq, l.at_ms, l.status, "
	    "l.result FROM d LEFT JOIN (SELECT * FROM sub_attempts WHERE sub = "
	    "$1::bigint ORDER BY event_seq DESC, seq DESC LIMIT 1) l ON true"),
	/* Taken when free or expired, renewed by its holder; the database's
	 * clock decides, so the nodes' clocks need not agree.  A row comes
	 * back only when node holds the lease. */
	ST(PS_SUB_LEASE, "INSERT INTO sub_leases (sub, node, expires_ms) "
	    "VALUES ($1::bigint, $2, (extract(epoch FROM clock_timestamp()) * "
	    "1000)::bigint + $3::bigint) ON CONFLICT (sub) DO UPDATE SET "
	    "node = EXCLUDED.node, expires_ms = EXCLUDED.expires_ms WHERE "
	    "sub_leases.node = EXCLUDED.node OR sub_leases.expires_ms < "
	    "(extract(epoch FROM clock_timestamp()) * 1000)::bigint "
	    "RETURNING node"),
	ST(PS_BUN_PUT, "INSERT INTO bundles (" BUNDLE_COLS ") VALUES "
	    "($1, $2, $3, $4, $5::bigint)"),
	ST(PS_BUN_BY_REF, "SELECT " BUNDLE_COLS " FROM bundles "
	    "WHERE client = $1 AND approval_ref = $2"),
	ST(PS_COPY_PUT, "INSERT INTO copies (" COPY_COLS ") VALUES "
	    "($1, $2, $3, $4, $5, $6, $7::bigint, $8::bigint)"),
	ST(PS_COPY_GET, "SELECT " COPY_COLS " FROM copies WHERE id = $1"),
	ST(PS_COPY_PAGE, "SELECT " COPY_COLS " FROM copies WHERE id > $1 "
	    "ORDER BY id LIMIT $2::bigint"),
	ST(PS_HACT_PUT, "INSERT INTO holder_acts (" HACT_COLS ") VALUES "
	    "($1, $2::bigint, $3, $4, $5::bigint, $6)"),
	ST(PS_HACT_GET, "SELECT " HACT_COLS " FROM holder_acts WHERE key = $1 "
	    "AND n < $2::bigint ORDER BY n DESC LIMIT $3::bigint"),
	ST(PS_HACT_PAGE, "SELECT " HACT_COLS " FROM holder_acts WHERE "
	    "(key, n) > ($1, $2::bigint) ORDER BY key, n LIMIT $3::bigint"),
	/* seq 0: one past the last (peers are added by hand, rarely: two
	 * nodes adding at once collide on the key, and one is told so). */
	ST(PS_PEER_PUT, "INSERT INTO peers (" PEER_COLS ") SELECT "
	    "COALESCE(NULLIF($1::bigint, 0), (SELECT COALESCE(max(seq), 0) + 1 "
	    "FROM peers)), $2, $3, $4, $5, $6::bigint"),
	ST(PS_PEER_PAGE, "SELECT " PEER_COLS " FROM peers WHERE seq > "
	    "$1::bigint ORDER BY seq LIMIT $2::bigint"),
	ST(PS_CLI_ADD, "INSERT INTO clients (name, role, token_hash, "
	    "created_at) VALUES ($1, $2, $3::bytea, $4::bigint)"),
	ST(PS_CLI_GET, CLIENT_SELECT "WHERE c.name = $1"),
	/* As SQLite's ST_CLI_BY_HASH: the client of any row holding the
	 * hash; whether it is still its token is pg_client_by_token_hash's
	 * question. */
	ST(PS_CLI_BY_HASH, CLIENT_SELECT "WHERE c.id = coalesce((SELECT "
	    "client_id FROM client_tokens WHERE token_hash = $1::bytea), "
	    "(SELECT id FROM clients WHERE token_hash = $1::bytea))"),
	/* Inserts nothing when the client is unknown or revoked. */
	ST(PS_CLI_ROTATE, "INSERT INTO client_tokens (client_id, token_hash, "
	    "at, supersedes) SELECT id, $2::bytea, $3::bigint, coalesce((SELECT "
	    "max(seq) FROM client_tokens WHERE client_id = clients.id), 0) "
	    "FROM clients WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM "
	    "client_revocations WHERE client_id = clients.id)"),
	ST(PS_CLI_TOK_PAGE, "SELECT t.seq, c.name, t.token_hash, t.at, "
	    "t.supersedes FROM client_tokens t JOIN clients c ON c.id = "
	    "t.client_id WHERE t.seq > $1::bigint ORDER BY t.seq "
	    "LIMIT $2::bigint"),
	/* Keeps the seq; an unknown client is id 0, which the foreign key
	 * refuses (CS_ENOTFOUND). */
	ST(PS_CLI_TOK_IMPORT, "INSERT INTO client_tokens (seq, client_id, "
	    "token_hash, at, supersedes) VALUES ($1::bigint, coalesce((SELECT "
	    "id FROM clients WHERE name = $2), 0), $3::bytea, $4::bigint, "
	    "$5::bigint)"),
	ST(PS_CLI_LIST, CLIENT_SELECT "ORDER BY c.id"),
	/* Inserts nothing when the client is unknown or already revoked
	 * (the key of client_revocations: one revocation per client). */
	ST(PS_CLI_REVOKE, "INSERT INTO client_revocations (client_id, at) "
	    "SELECT id, $2::bigint FROM clients WHERE name = $1 "
	    "ON CONFLICT (client_id) DO NOTHING"),
	ST(PS_GRANTS, "SELECT types, issuer_code, issuer_name FROM grants "
	    "WHERE client_id = $1::bigint ORDER BY seq"),
	ST(PS_GRANT_ADD, "INSERT INTO grants (client_id, types, issuer_code, "
	    "issuer_name) SELECT id, $2::text, $3::text, $4::text FROM clients "
	    "WHERE name = $1"),
	ST(PS_AUDIT_PUT, "INSERT INTO audit (at_ms, client, action, target, "
	    "holder, purpose, service_item, case_ref, result_count, remote, "
	    "request_id, result) VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, "
	    "$8, $9::bigint, $10, $11, $12)"),
	/* A group of records in one statement (pg_audit.c): each parameter
	 * an array of one column, the i-th elements one record.  Numbered
	 * in the order given: the identity's default is computed above the
	 * sort on the arrays' ordinality. */
	ST(PS_AUDIT_PUT_MANY, "INSERT INTO audit (at_ms, client, action, "
	    "target, holder, purpose, service_item, case_ref, result_count, "
	    "remote, request_id, result) SELECT at_ms, client, action, target, "
	    "holder, purpose, service_item, case_ref, result_count, remote, "
	    "request_id, result FROM unnest($1::bigint[], $2::text[], "
	    "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
	    "$8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[]) "
	    "WITH ORDINALITY AS u(at_ms, client, action, target, holder, "
	    "purpose, service_item, case_ref, result_count, remote, "
	    "request_id, result, ord) ORDER BY ord"),
	/* Copying a library (store.h): pages in an order rows added later
	 * do not disturb, and imports that keep the source's numbers, which
	 * identity columns accept only when told (OVERRIDING SYSTEM VALUE). */
	ST(PS_LIC_PAGE, "SELECT " LICENCE_COLS ", pos FROM licences "
	    "WHERE pos > $1::bigint ORDER BY pos LIMIT $2::bigint"),
	ST(PS_EV_PAGE, "SELECT " EVENT_COLS " FROM status_events "
	    "WHERE seq > $1::bigint ORDER BY seq LIMIT $2::bigint"),
	/* The status list's input (pg_status.c): a page of licences in the
	 * order stored, each with its latest status event. */
	ST(PS_STATUS_PAGE, "SELECT l.pos, l.id, l.type, l.issuer_code, l.seq, "
	    "(SELECT e.action FROM status_events e WHERE e.licence_id = l.id "
	    "ORDER BY e.seq DESC LIMIT 1) FROM licences l "
	    "WHERE l.pos > $1::bigint ORDER BY l.pos LIMIT $2::bigint"),
	/* Numbers that change with every commit adding a licence or an
	 * event, whatever order concurrent transactions commit in: the
	 * largest identity value would not (a lower one may commit after a
	 * higher one was read).  An event adds one to the count; a licence
	 * raises its (type, issuer) row of licence_seqs, which concurrent
	 * numberings of one pair update one after the other (a row lock).
	 * Both read a small table or the events, never the licences. */
	ST(PS_STATUS_MARK, "SELECT (SELECT coalesce(sum(last), 0) "
	    "FROM licence_seqs)::bigint, (SELECT count(*) FROM status_events)"),
	ST(PS_EV_IMPORT, "INSERT INTO status_events (licence_id, at, actor, "
	    "action, kind, reason, ref, seq) OVERRIDING SYSTEM VALUE VALUES "
	    "($1, $2::bigint, $3, $4, $5, $6, $7, $8::bigint)"),
	ST(PS_BUN_PAGE, "SELECT " BUNDLE_COLS " FROM bundles "
	    "WHERE id > $1 ORDER BY id LIMIT $2::bigint"),
	ST(PS_CLI_IMPORT, "INSERT INTO clients (name, role, token_hash, "
	    "created_at, id) OVERRIDING SYSTEM VALUE VALUES ($1, $2, "
	    "$3::bytea, $4::bigint, $5::bigint)"),
	ST(PS_AUDIT_IMPORT, "INSERT INTO audit (at_ms, client, action, "
	    "target, holder, purpose, service_item, case_ref, result_count, "
	    "remote, request_id, result, seq) OVERRIDING SYSTEM VALUE VALUES "
	    "($1::bigint, $2, $3, $4, $5, $6, $7, $8, $9::bigint, $10, $11, "
	    "$12, $13::bigint)"),
	ST(PS_CHG_IMPORT, "INSERT INTO change_events (event_id, type, "
	    "licence_type, licence_id, at, body, seq) OVERRIDING SYSTEM VALUE "
	    "VALUES ($1, $2, $3, $4, $5::bigint, $6, $7::bigint)"),
	/* An import's numbering counter raised once a batch, before its
	 * licences (pg_licences.c): the trigger cs_licence_insert then
	 * finds it high enough and rewrites nothing. */
	ST(PS_SEQ_RAISE, "INSERT INTO licence_seqs AS c (type, issuer_code, "
	    "last) VALUES ($1, $2, $3::bigint) ON CONFLICT (type, issuer_code) "
	    "DO UPDATE SET last = EXCLUDED.last WHERE c.last < EXCLUDED.last"),
	/* Each identity's next value after the largest stored, so what the
	 * store numbers next never takes a number an import kept. */
	ST(PS_IMPORT_DONE, "SELECT "
	    "setval(pg_get_serial_sequence('status_events', 'seq'), "
	    "(SELECT coalesce(max(seq), 0) + 1 FROM status_events), false), "
	    "setval(pg_get_serial_sequence('change_events', 'seq'), "
	    "(SELECT coalesce(max(seq), 0) + 1 FROM change_events), false), "
	    "setval(pg_get_serial_sequence('subscriptions', 'seq'), "
	    "(SELECT coalesce(max(seq), 0) + 1 FROM subscriptions), false), "
	    "setval(pg_get_serial_sequence('clients', 'id'), "
	    "(SELECT coalesce(max(id), 0) + 1 FROM clients), false), "
	    "setval(pg_get_serial_sequence('client_tokens', 'seq'), "
	    "(SELECT coalesce(max(seq), 0) + 1 FROM client_tokens), false), "
	    "setval(pg_get_serial_sequence('grants', 'seq'), "
	    "(SELECT coalesce(max(seq), 0) + 1 FROM grants), false), "
	    "setval(pg_get_serial_sequence('audit', 'seq'), "
	    "(SELECT coalesce(max(seq), 0) + 1 FROM audit), false)"),
	/* A standby in recovery answers reads but refuses writes: the
	 * service must not count it as its database. */
	ST(PS_PING, "SELECT pg_is_in_recovery(), coalesce((SELECT "
	    "max(version) FROM schema_version), 0)"),
};

const struct pstmt *
pg_st(enum pst_id id)
{
	return &table[id];
}

/* --- parameters ----------------------------------------------------- */

void
pq_init(struct pgq *q)
{
	q->n = 0;
}

/* Text or NULL; borrowed until the statement has run. */
void
pq_text(struct pgq *q, const char *s)
{
	q->v[q->n] = s;
	q->len[q->n] = 0;
	q->fmt[q->n] = 0;
	q->n++;
}

void
pq_i64(struct pgq *q, int64_t v)
{
	snprintf(q->num[q->n], sizeof(q->num[0]), "%lld", (long long)v);
	pq_text(q, q->num[q->n]);
}

/* n bytes sent as they are (a bytea); borrowed like text. */
void
pq_bin(struct pgq *q, const void *p, size_t n)
{
	q->v[q->n] = p;
	q->len[q->n] = (int)n;
	q->fmt[q->n] = 1;
	q->n++;
}

/*
 * Array parameters, as text in PostgreSQL's array syntax (malloc'd; NULL
 * when out of memory): n strings, each quoted with its quotes and
 * backslashes escaped (inside quotes nothing else is special: commas,
 * braces, spaces and the word NULL stay text), a NULL pointer the SQL
 * NULL; or n numbers, the i-th at v + i * stride bytes (the seq member
 * of an array of structs, say).
 */
char *
pg_text_array(const char *const *v, size_t n)
{
	cs_sbuf b = CS_SBUF_INIT;
	const char *p;
	size_t i, span;

	cs_sb_puts(&b, "{");
	for (i = 0; i < n; i++) {
		if (i)
			cs_sb_puts(&b, ",");
		if (v[i] == NULL) {
			cs_sb_puts(&b, "NULL");
			continue;
		}
		cs_sb_puts(&b, "\"");
		for (p = v[i]; *p != '\0'; p += span) {
			/* The plain run up to the next quote or backslash in one
			 * copy, then that character escaped. */
			span = strcspn(p, "\"\\");
			cs_sb_add(&b, p, span);
			if (p[span] != '\0') {
				cs_sb_puts(&b, "\\");
				cs_sb_add(&b, p + span, 1);
				span++;
			}
		}
		cs_sb_puts(&b, "\"");
	}
	cs_sb_puts(&b, "}");
	if (b.failed) {
		cs_sb_free(&b);
		return NULL;
	}
	return b.p;
}

char *
pg_i64_array(const int64_t *v, size_t n, size_t stride)
{
	cs_sbuf b = CS_SBUF_INIT;
	size_t i;

	cs_sb_puts(&b, "{");
	for (i = 0; i < n; i++)
		cs_sb_printf(&b, i ? ",%lld" : "%lld", (long long)*(const int64_t *)
		    (const void *)((const char *)v + i * stride));
	cs_sb_puts(&b, "}");
	if (b.failed) {
		cs_sb_free(&b);
		return NULL;
	}
	return b.p;
}

/* --- errors --------------------------------------------------------- */

int
pg_nomem(void)
{
	return cs_err_set(CS_ENOMEM, "store: out of memory");
}

/* The keys of the schema, as the SQLite backend's messages name them
 * ("UNIQUE constraint failed: licences.id"). */
static const struct {
	const char *constraint, *cols;
} keys[] = {
	{"licences_pkey", "licences.id"},
	{"licences_ref_key", "licences.client, licences.approval_ref"},
	{"bundles_pkey", "bundles.id"},
	{"bundles_ref_key", "bundles.client, bundles.approval_ref"},
	{"clients_name_key", "clients.name"},
	{"clients_token_hash_key", "clients.token_hash"},
	{"client_revocations_pkey", "client_revocations.client_id"},
	{"client_tokens_pkey", "client_tokens.seq"},
	{"client_tokens_token_hash_key", "client_tokens.token_hash"},
	{"client_tokens_supersedes_key",
	    "client_tokens.client_id, client_tokens.supersedes"},
	{"holder_acts_pkey", "holder_acts.key, holder_acts.n"},
};

/* Whether an error's SQLSTATE means "try again later": the connection
 * (class 08), the server going away or not yet accepting (57P0x, 53300),
 * short of memory or another resource (53200, 53000), a statement
 * cancelled or a lock not granted in time (57014, 55P03: timeouts an
 * operator set, or pg_cancel_backend), a standby that cannot write
 * (25006, after a failover), a deadlock or a serialisation failure
 * between nodes (40P01, 40001).  The caller did nothing wrong and the
 * same request may succeed in a moment: 503, not 500.  An I/O error
 * (58030) stays a storage error, as SQLite's does: a failing disk needs
 * an operator, not a retry. */
static int
transient(const char *state)
{
	static const char *const codes[] = {"57P01", "57P02", "57P03",
		"53300", "53200", "53000", "57014", "55P03", "25006", "40P01",
		"40001"};
	size_t i;

	if (strncmp(state, "08", 2) == 0)
		return 1;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(state, codes[i]) == 0)
			return 1;
	return 0;
}

/*
 * PostgreSQL's complaint about a statement as this thread's message, with
 * the code the SQLite backend returns for the same fault: a duplicate key
 * is a conflict naming the key, and so is a number another licence carries
 * (the trigger's unique_violation); a missing referenced row (an event for
 * an unknown licence) is not found; a full disk is CS_EFULL; a lost
 * connection or anything transient CS_EUNAVAIL (503 and Retry-After);
 * anything else a storage error.
 */
int
pg_fail(struct pgstore *s, PGconn *pg, const PGresult *r, const char *what)
{
	const char *state = NULL, *msg = NULL, *con, *tab, *col;
	char text[512], masked[512];
	size_t i;
	int code = CS_ESTORE;

	if (r != NULL) {
		state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	}
	if (r == NULL || PQstatus(pg) == CONNECTION_BAD || state == NULL) {
		pg_mask(s, PQerrorMessage(pg), masked, sizeof(masked));
		return cs_err_set(PQstatus(pg) == CONNECTION_BAD ? CS_EUNAVAIL :
		    CS_ESTORE, "store: %s: %s", what, masked[0] ? masked :
		    "no answer from PostgreSQL");
	}
	con = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
	tab = PQresultErrorField(r, PG_DIAG_TABLE_NAME);
	col = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
	snprintf(text, sizeof(text), "%s", msg ? msg : state);
	if (strcmp(state, "23505") == 0) {
		code = CS_ECONFLICT;
		for (i = 0; con != NULL && i < sizeof(keys) / sizeof(keys[0]);
		    i++)
			if (strcmp(con, keys[i].constraint) == 0)
				snprintf(text, sizeof(text), "UNIQUE "
				    "constraint failed: %s", keys[i].cols);
	} else if (strcmp(state, "23503") == 0) {
		code = CS_ENOTFOUND;
		snprintf(text, sizeof(text), "FOREIGN KEY constraint failed");
	} else if (strcmp(state, "23502") == 0 && tab != NULL && col != NULL)
		snprintf(text, sizeof(text), "NOT NULL constraint failed: "
		    "%s.%s", tab, col);
	else if (strcmp(state, "23514") == 0 && con != NULL)
		snprintf(text, sizeof(text), "CHECK constraint failed: %s",
		    con);
	else if (strcmp(state, "53100") == 0)
		code = CS_EFULL;
	else if (transient(state))
		code = CS_EUNAVAIL;
	pg_note_space(s, code);
	pg_mask(s, text, masked, sizeof(masked));
	return cs_err_set(code, "store: %s: %s", what, masked);
}

/*
 * Remember what a write said about the server's disk, for ping(): a
 * write that found it full (rc CS_EFULL) notes the time; a write that
 * committed (rc 0) forgets it.  A client cannot ask PostgreSQL how much
 * room its disk has, so this is all ping() knows.
 */
void
pg_note_space(struct pgstore *s, int rc)
{
	if (rc == CS_EFULL)
		atomic_store(&s->full_at_ms, cs_mono_ms());
	else if (rc == 0 && atomic_load(&s->full_at_ms) != 0)
		atomic_store(&s->full_at_ms, 0);
}

/* --- columns (binary format) ---------------------------------------- */

/* Text column col of row as libpq holds it (NUL-terminated), NULL for
 * SQL NULL. */
const char *
pg_col_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* A copy of text column col; *bad set when out of memory, so a mapper
 * checks once after all its columns. */
char *
pg_col_dup(const PGresult *r, int row, int col, int *bad)
{
	const char *t = pg_col_text(r, row, col);
	char *d = NULL;

	if (t != NULL && (d = strdup(t)) == NULL)
		*bad = 1;
	return d;
}

/* An integer column (bigint, integer, smallint or boolean: big-endian,
 * of its own width); 0 for NULL. */
int64_t
pg_col_i64(const PGresult *r, int row, int col)
{
	const unsigned char *p;
	uint64_t v = 0;
	int i, len;

	if (PQgetisnull(r, row, col))
		return 0;
	p = (const unsigned char *)PQgetvalue(r, row, col);
	len = PQgetlength(r, row, col);
	if (len > 8)
		len = 8;
	for (i = 0; i < len; i++)
		v = v << 8 | p[i];
	if (len > 0 && len < 8 && (p[0] & 0x80))
		v |= ~(uint64_t)0 << (len * 8);
	return (int64_t)v;
}

/*
 * A stored record's JSON text into *out.  The bytea holds either the text
 * itself (a JSON object: it begins with '{') or a packed form (zrecord.h:
 * a zstd frame or a zlib stream, neither of which can begin with '{'), as
 * the SQLite backend keeps TEXT or a BLOB.
 */
int
pg_col_record(const PGresult *r, int row, int col, char **out)
{
	const char *p = PQgetvalue(r, row, col);
	size_t n = (size_t)PQgetlength(r, row, col), len;
	int rc;

	*out = NULL;
	if (PQgetisnull(r, row, col))
		return cs_err_set(CS_ESTORE, "store: a stored record is NULL");
	if (n == 0 || p[0] == '{') {
		if ((*out = malloc(n + 1)) == NULL)
			return pg_nomem();
		memcpy(*out, p, n);
		(*out)[n] = '\0';
		return 0;
	}
	rc = cs_zrecord_unpack(p, n, RECORD_MAX, out, &len);
	if (rc == CS_ENOMEM)
		return pg_nomem();
	if (rc != 0)
		return cs_err_wrap(CS_ESTORE, "store: a stored record does not "
		    "inflate: ");
	return 0;
}

/* --- results -------------------------------------------------------- */

/* The single integer of a result, which is cleared. */
int
pg_fetch_int(PGresult *r, int64_t *out, const char *what)
{
	int rc = 0;

	*out = 0;
	if (PQntuples(r) < 1 || PQnfields(r) < 1)
		rc = cs_err_set(CS_ESTORE, "store: %s: no row", what);
	else
		*out = pg_col_i64(r, 0, 0);
	PQclear(r);
	return rc;
}

/* The first row mapped into *elem; CS_ENOTFOUND when there is none.  The
 * result is cleared. */
int
pg_fetch_one(PGresult *r, const struct rowkind *k, void *elem,
    const char *what)
{
	int rc;

	if (PQntuples(r) < 1)
		rc = cs_err_set(CS_ENOTFOUND, "store: %s: not found", what);
	else
		rc = k->map(r, 0, elem);
	PQclear(r);
	return rc;
}

/* Every row, mapped into a new array (NULL when there are none); on
 * failure nothing is left.  The result is cleared. */
int
pg_fetch_all(PGresult *r, const struct rowkind *k, void **out, size_t *n)
{
	int i, rows = PQntuples(r), rc = 0;
	char *arr = NULL;

	*out = NULL;
	*n = 0;
	if (rows > 0 && (arr = calloc((size_t)rows, k->size)) == NULL)
		rc = pg_nomem();
	for (i = 0; i < rows && rc == 0; i++)
		if ((rc = k->map(r, i, arr + (size_t)i * k->size)) == 0)
			(*n)++;
	if (rc != 0) {
		k->free_all(arr, *n);
		arr = NULL;
		*n = 0;
	}
	PQclear(r);
	*out = arr;
	return rc;
}

/* A page of a table read by seq: statement id with ($1 after_seq, $2
 * limit), every row mapped (the pages certsvc copy and the feed read). */
int
pg_seq_page(struct pgstore *s, enum pst_id id, int64_t after_seq,
    size_t limit, const struct rowkind *k, void **out, size_t *n,
    const char *what)
{
	struct pgq q;
	PGresult *r;
	int rc;

	*out = NULL;
	*n = 0;
	pq_init(&q);
	pq_i64(&q, after_seq);
	pq_i64(&q, (int64_t)limit);
	if ((rc = pg_read(s, pg_st(id), &q, &r, what)) == 0)
		rc = pg_fetch_all(r, k, out, n);
	return rc;
}
