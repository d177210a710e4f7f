/*
 * pg_schema: the PostgreSQL store's schema, version by version, and the
 * migration that brings a database to the current version at open, one
 * node at a time.  A released migration is a contract: its text is never
 * edited, only appended to.
 */
#include "store_pg_internal.h"

#include "cs_err.h"

#include <stdio.h>
#include <stdlib.h>

/* The advisory lock nodes take to migrate ("certsvc" in ASCII), and the
 * first key of the ones the number trigger takes ("cert"; the two-key
 * form of pg_advisory_xact_lock is a key space of its own). */
#define MIGRATE_LOCK "27977564948756067"
#define NUMBER_LOCK_CLASS "1667592820"

/* Both kinds of rewrite refused on table t: UPDATE and DELETE (a
 * statement trigger fires even when no row matches) and TRUNCATE, which
 * no row trigger sees. */
#define APPEND_ONLY(t)                                                       \
	"CREATE TRIGGER " t "_append_only BEFORE UPDATE OR DELETE OR "       \
	"TRUNCATE ON " t " FOR EACH STATEMENT EXECUTE FUNCTION "              \
	"cs_append_only();\n"

/*
 * Version 1: what the SQLite schema reached by its version 6, in one step.
 *
 * Keys and text.  Identifiers, codes and names are compared byte by byte
 * (COLLATE "C"), as SQLite does, whatever the database's locale: the
 * order of ids (a licence's newest version is its greatest id) must not
 * depend on it, and bytewise comparison is the fastest.
 *
 * Licences.  pos, an identity, is a licence's place in the order stored:
 * the position a holder's page starts at (cs_store_licences_by_holder)
 * and the order of a bundle's licences, as SQLite's rowid is.  The
 * record is a bytea holding the record's JSON text or its packed form
 * (zrecord.h, pg_col_record).  The request hash is the hex text.
 *
 * Numbering.  licence_seqs holds, per type and issuer, the largest
 * sequence number stored: a trigger moves it with every licence, and
 * cs_store_licence_next_seq inside a transaction locks its row
 * (INSERT ... ON CONFLICT DO UPDATE), so two nodes numbering the same type
 * and issuer take turns, the second seeing the first's licence once it
 * commits: no serial is handed out twice.  It is the one table that is
 * not history: a counter, rewritten.  Each rewrite inside a transaction
 * leaves a row version that the transaction's later reads of the row walk
 * past until it commits, so a transaction of n issuances of one type and
 * issuer costs O(n^2) there: nothing for the issuance writer's batches
 * (at most 64), a second or so per thousand for a bulk load.  A licence
 * whose seq the counter holds already (an amendment) rewrites nothing.
 *
 * A licence number is unique per type and issuer across licences (a
 * licence is its serial, and its versions share it), as the SQLite
 * trigger licences_number_unique makes it.  Here two nodes may insert at
 * once, and neither would see the other's uncommitted row, so the trigger
 * first takes a transaction-scoped advisory lock on the (type, issuer,
 * number) being inserted: the second waits for the first to end, then its
 * check sees the first's licence (each statement of a volatile function
 * has a snapshot of its own under READ COMMITTED).  Its refusal is a
 * unique_violation, as a key's would be.
 *
 * The client and approval_ref of a licence or a bundle are unique by key,
 * which holds across nodes by itself: the second insert waits for the
 * first and fails if it committed.
 *
 * Everything but licence_seqs is append-only, enforced here: a statement
 * trigger refuses UPDATE, DELETE and TRUNCATE (APPEND_ONLY), so neither a
 * bug nor a hand-run psql can rewrite history.
 */
static const char schema_v1[] =
    "CREATE TABLE schema_version (\n"
    "  version integer PRIMARY KEY,\n"
    "  applied_at timestamptz NOT NULL DEFAULT now());\n"
    "CREATE FUNCTION cs_append_only() RETURNS trigger LANGUAGE plpgsql AS\n"
    "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;\n"
    /* The serial of a licence id: "1.2.156.3005.2." TYPE "." ISSUER "."
     * SERIAL "." VERSION(3) "." CHECK(1), between the issuer and the
     * version. */
    "CREATE FUNCTION cs_serial(text, text, text) RETURNS text\n"
    "  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS\n"
    "$$ SELECT substr($1, length($2) + length($3) + 18,\n"
    "  length($1) - length($2) - length($3) - 23) $$;\n"
    "CREATE TABLE licences (\n"
    "  pos bigint GENERATED ALWAYS AS IDENTITY,\n"
    "  seq bigint NOT NULL,\n"
    "  issued_at bigint NOT NULL,\n"
    "  id text COLLATE \"C\" NOT NULL,\n"
    "  type text COLLATE \"C\" NOT NULL,\n"
    "  issuer_code text COLLATE \"C\" NOT NULL,\n"
    "  holder_code text COLLATE \"C\" NOT NULL,\n"
    "  number text COLLATE \"C\" NOT NULL,\n"
    "  client text COLLATE \"C\" NOT NULL,\n"
    /* NULL for the members of a bundle, whose bundle row holds the
     * key; a UNIQUE key lets NULLs repeat. */
    "  approval_ref text COLLATE \"C\",\n"
    "  request_hash text NOT NULL,\n"
    "  bundle text COLLATE \"C\",\n"
    "  supersedes text COLLATE \"C\",\n"
    "  record bytea NOT NULL,\n"
    "  CONSTRAINT licences_pkey PRIMARY KEY (id),\n"
    "  CONSTRAINT licences_ref_key UNIQUE (client, approval_ref));\n"
    "CREATE INDEX licences_pos ON licences (pos);\n"
    "CREATE INDEX licences_holder ON licences (holder_code, issued_at, pos);\n"
    "CREATE INDEX licences_seq ON licences (type, issuer_code, seq);\n"
    "CREATE INDEX licences_bundle ON licences (bundle)\n"
    "  WHERE bundle IS NOT NULL;\n"
    "CREATE INDEX licences_number ON licences (number);\n"
    "CREATE TABLE licence_seqs (\n"
    "  type text COLLATE \"C\" NOT NULL,\n"
    "  issuer_code text COLLATE \"C\" NOT NULL,\n"
    "  last bigint NOT NULL,\n"
    "  PRIMARY KEY (type, issuer_code));\n"
    "CREATE FUNCTION cs_licence_numbered() RETURNS trigger\n"
    "  LANGUAGE plpgsql AS $$ BEGIN\n"
    "  INSERT INTO licence_seqs AS c (type, issuer_code, last)\n"
    "    VALUES (NEW.type, NEW.issuer_code, NEW.seq)\n"
    "    ON CONFLICT (type, issuer_code)\n"
    "    DO UPDATE SET last = EXCLUDED.last WHERE c.last < EXCLUDED.last;\n"
    "  RETURN NULL; END $$;\n"
    "CREATE TRIGGER licences_seq AFTER INSERT ON licences\n"
    "  FOR EACH ROW EXECUTE FUNCTION cs_licence_numbered();\n"
    "CREATE FUNCTION cs_licence_number() RETURNS trigger\n"
    "  LANGUAGE plpgsql AS $$ BEGIN\n"
    "  PERFORM pg_advisory_xact_lock(" NUMBER_LOCK_CLASS ",\n"
    "    hashtext(NEW.type || '/' || NEW.issuer_code || '/' || NEW.number));\n"
    "  IF EXISTS (SELECT 1 FROM licences l WHERE l.number = NEW.number\n"
    "      AND l.type = NEW.type AND l.issuer_code = NEW.issuer_code\n"
    "      AND cs_serial(l.id, l.type, l.issuer_code) <>\n"
    "        cs_serial(NEW.id, NEW.type, NEW.issuer_code)) THEN\n"
    "    RAISE EXCEPTION 'licence number taken: another licence of the "
    "type and issuer carries it'\n"
    "      USING ERRCODE = 'unique_violation',\n"
    "        CONSTRAINT = 'licences_number_unique', TABLE = 'licences';\n"
    "  END IF;\n"
    "  RETURN NEW; END $$;\n"
    "CREATE TRIGGER licences_number_unique BEFORE INSERT ON licences\n"
    "  FOR EACH ROW EXECUTE FUNCTION cs_licence_number();\n"
    "CREATE TABLE status_events (\n"
    "  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "  at bigint NOT NULL,\n"
    "  licence_id text COLLATE \"C\" NOT NULL\n"
    "    CONSTRAINT status_events_licence_fkey REFERENCES licences (id),\n"
    "  actor text NOT NULL,\n"
    "  action text NOT NULL CONSTRAINT status_events_action_check CHECK\n"
    "    (action IN ('suspend', 'reinstate', 'revoke', 'supersede')),\n"
    "  kind text CONSTRAINT status_events_kind_check CHECK\n"
    "    (kind IN ('revoked', 'withdrawn', 'cancelled')),\n"
    "  reason text,\n"
    "  ref text);\n"
    "CREATE INDEX status_events_licence ON status_events (licence_id);\n"
    "CREATE TABLE bundles (\n"
    "  id text COLLATE \"C\" NOT NULL,\n"
    "  client text COLLATE \"C\" NOT NULL,\n"
    "  approval_ref text COLLATE \"C\" NOT NULL,\n"
    "  request_hash text NOT NULL,\n"
    "  created_at bigint NOT NULL,\n"
    "  CONSTRAINT bundles_pkey PRIMARY KEY (id),\n"
    "  CONSTRAINT bundles_ref_key UNIQUE (client, approval_ref));\n"
    "CREATE TABLE clients (\n"
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "  created_at bigint NOT NULL,\n"
    "  name text COLLATE \"C\" NOT NULL\n"
    "    CONSTRAINT clients_name_key UNIQUE,\n"
    "  role text NOT NULL CONSTRAINT clients_role_check\n"
    "    CHECK (role IN ('issuer', 'reader', 'admin')),\n"
    "  token_hash bytea NOT NULL CONSTRAINT clients_token_hash_key UNIQUE\n"
    "    CONSTRAINT clients_token_hash_check\n"
    "    CHECK (length(token_hash) = 32));\n"
    /* One revocation per client: the key makes a second one impossible. */
    "CREATE TABLE client_revocations (\n"
    "  client_id bigint NOT NULL REFERENCES clients (id),\n"
    "  at bigint NOT NULL,\n"
    "  CONSTRAINT client_revocations_pkey PRIMARY KEY (client_id));\n"
    "CREATE TABLE grants (\n"
    "  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "  client_id bigint NOT NULL REFERENCES clients (id),\n"
    "  types text NOT NULL,\n"
    "  issuer_code text,\n"
    "  issuer_name text);\n"
    "CREATE INDEX grants_client ON grants (client_id);\n"
    /* result: NULL for an operation done, 'denied' for a refusal (the
     * SQLite schema's version 5).  The indexes of the filters end in
     * seq, so a filtered page is one range of its index, in order. */
    "CREATE TABLE audit (\n"
    "  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "  at_ms bigint NOT NULL,\n"
    "  result_count bigint NOT NULL,\n"
    "  client text COLLATE \"C\",\n"
    "  action text COLLATE \"C\" NOT NULL,\n"
    "  target text COLLATE \"C\",\n"
    "  holder text COLLATE \"C\",\n"
    "  purpose text,\n"
    "  service_item text,\n"
    "  case_ref text,\n"
    "  remote text,\n"
    "  request_id text,\n"
    "  result text);\n"
    "CREATE INDEX audit_client ON audit (client, seq)\n"
    "  WHERE client IS NOT NULL;\n"
    "CREATE INDEX audit_action ON audit (action, seq);\n"
    "CREATE INDEX audit_holder ON audit (holder, seq)\n"
    "  WHERE holder IS NOT NULL;\n"
    "CREATE INDEX audit_target ON audit (target, seq)\n"
    "  WHERE target IS NOT NULL;\n"
    "CREATE INDEX audit_at ON audit (at_ms);\n"
    "CREATE INDEX audit_denied ON audit (seq) WHERE result IS NOT NULL;\n"
    APPEND_ONLY("schema_version")
    APPEND_ONLY("licences")
    APPEND_ONLY("status_events")
    APPEND_ONLY("bundles")
    APPEND_ONLY("clients")
    APPEND_ONLY("client_revocations")
    APPEND_ONLY("grants")
    APPEND_ONLY("audit");

/*
 * Version 2: annotated copies (加注件, SPEC §12), as SQLite's version 7:
 * one append-only row a copy; the PDF is drawn again on each download.
 */
static const char schema_v2[] =
    "CREATE TABLE copies (\n"
    "  id text COLLATE \"C\" NOT NULL,\n"
    "  licence_id text COLLATE \"C\" NOT NULL REFERENCES licences (id),\n"
    "  client text COLLATE \"C\" NOT NULL,\n"
    "  purpose text NOT NULL,\n"
    "  used_by_name text,\n"
    "  used_by_code text,\n"
    "  created_at bigint NOT NULL,\n"
    "  expires_at bigint NOT NULL,\n"
    "  CONSTRAINT copies_pkey PRIMARY KEY (id));\n"
    APPEND_ONLY("copies");

/*
 * Version 3: the change feed's outbox (SPEC §9), as SQLite's version 8.
 * seq is an identity; the order of its values is the commit order
 * because every append first takes the numbering lock (PS_CHG_PUT,
 * docs/design.md "Events").
 */
static const char schema_v3[] =
    "CREATE TABLE change_events (\n"
    "  seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
    "  event_id text COLLATE \"C\" NOT NULL UNIQUE,\n"
    "  type text NOT NULL,\n"
    "  licence_type text COLLATE \"C\" NOT NULL,\n"
    "  licence_id text COLLATE \"C\" NOT NULL REFERENCES licences (id),\n"
    "  at bigint NOT NULL,\n"
    "  body text NOT NULL);\n"
    APPEND_ONLY("change_events");

/* The holder in the loop (SPEC §10), as SQLite's schema_holder_acts, and
 * the role "portal". */
static const char schema_holder_acts[] =
    "ALTER TABLE clients DROP CONSTRAINT clients_role_check,\n"
    "  ADD CONSTRAINT clients_role_check\n"
    "    CHECK (role IN ('issuer', 'reader', 'admin', 'portal'));\n"
    "CREATE TABLE holder_acts (\n"
    "  key text COLLATE \"C\" NOT NULL,\n"
    "  n bigint NOT NULL,\n"
    "  kind text NOT NULL,\n"
    "  holder text COLLATE \"C\" NOT NULL,\n"
    "  at bigint NOT NULL,\n"
    "  body text NOT NULL,\n"
    "  CONSTRAINT holder_acts_pkey PRIMARY KEY (key, n));\n"
    APPEND_ONLY("holder_acts");

/*
 * Peers (SPEC §11), as SQLite's schema_peers: one row each time a peer
 * library is added, updated or removed (trust_list NULL).
 */
static const char schema_peers[] =
    "CREATE TABLE peers (\n"
    "  seq bigint NOT NULL PRIMARY KEY,\n"
    "  name text COLLATE \"C\" NOT NULL,\n"
    "  trust_list text,\n"
    "  status_list text,\n"
    "  actor text NOT NULL,\n"
    "  at bigint NOT NULL);\n"
    APPEND_ONLY("peers");

/*
 * Subscriptions and their delivery attempts, as SQLite's
 * schema_subscriptions; sub_leases is each subscription's sending lease
 * (§8: one node at a time), a mutable row that is no record.
 */
static const char schema_subscriptions[] =
    "CREATE TABLE subscriptions (\n"
    "  seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
    "  name text COLLATE \"C\" NOT NULL,\n"
    "  url text,\n"
    "  types text,\n"
    "  events text,\n"
    "  secret text,\n"
    "  after_seq bigint NOT NULL,\n"
    "  at bigint NOT NULL,\n"
    "  removed boolean NOT NULL);\n"
    "CREATE TABLE sub_attempts (\n"
    "  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "  sub bigint NOT NULL REFERENCES subscriptions (seq),\n"
    "  event_seq bigint NOT NULL,\n"
    "  at_ms bigint NOT NULL,\n"
    "  status bigint NOT NULL,\n"
    "  result text NOT NULL);\n"
    "CREATE INDEX sub_attempts_sub ON sub_attempts (sub, event_seq);\n"
    "CREATE INDEX sub_attempts_done ON sub_attempts (sub, event_seq) "
    "WHERE result = 'delivered';\n"
    "CREATE TABLE sub_leases (\n"
    "  sub bigint PRIMARY KEY,\n"
    "  node text NOT NULL,\n"
    "  expires_ms bigint NOT NULL);\n"
    APPEND_ONLY("subscriptions")
    APPEND_ONLY("sub_attempts");

/* An issuer's reconciliation (GET /api/v1/certificates): its licences by
 * issue time, without reading other clients'. */
static const char schema_reconcile[] =
    "CREATE INDEX licences_client_issued ON licences (client, issued_at, "
    "id);\n";

/*
 * Token rotation, as SQLite's schema_client_tokens: a client's later
 * tokens, one row each, each naming the row it supersedes (0: the clients
 * row's token).  The key (client_id, supersedes) holds across nodes: of
 * two rotations of one client racing from the same token, the second to
 * insert waits for the first and fails if it committed.
 */
static const char schema_client_tokens[] =
    "CREATE TABLE client_tokens (\n"
    "  seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
    "  client_id bigint NOT NULL REFERENCES clients (id),\n"
    "  token_hash bytea NOT NULL CONSTRAINT client_tokens_token_hash_key\n"
    "    UNIQUE CHECK (length(token_hash) = 32),\n"
    "  at bigint NOT NULL,\n"
    "  supersedes bigint NOT NULL,\n"
    "  CONSTRAINT client_tokens_supersedes_key UNIQUE (client_id, "
    "supersedes));\n"
    APPEND_ONLY("client_tokens");

/* The status list's scan (pg_status_list.c) pages through the licences
 * by pos for their ids, types, issuers and sequence numbers: with them
 * in the index, an index-only scan (the table is append-only, so vacuum
 * keeps its pages all-visible) instead of reading every row with its
 * record.  It replaces licences_pos, its leading column, for every other
 * read by pos too. */
static const char schema_status_index[] =
    "CREATE INDEX licences_status ON licences (pos) INCLUDE (id, type, "
    "issuer_code, seq);\n"
    "DROP INDEX licences_pos;\n";

/*
 * Issuance's per-licence work in the database, cut (bench/README.md,
 * "PostgreSQL issuance profile, 2026-12-06").
 *
 * One trigger instead of two.  Every licence insert ran two PL/pgSQL row
 * triggers: the number check before it and, after it, the numbering
 * counter's upsert (an AFTER trigger, queued and fed the row again).  One
 * BEFORE trigger now does both, the same statements in the same order of
 * locks as far as another node can tell (the number's lock, then the
 * counter row's): a refused insert undoes the counter's raise with its
 * statement, as it undid the AFTER trigger's.
 *
 * No index for max(seq).  licences_seq (type, issuer_code, seq), an index
 * entry a licence, served only the numbering's max(seq) probe, and that
 * probe only repeats the counter: every licence insert since version 1
 * raises its pair's counter (the trigger), imports raise it first
 * (PS_SEQ_RAISE), and nothing lowers it, so last >= max(seq) always; the
 * statements read the counter alone now (pg_stmt.c, PS_NEXT_SEQ*).  The
 * counters are raised to the licences once here, before the index goes,
 * should a hand have edited one.  Serials stay unique however the
 * counter fares: a licence's serial is in its id, the primary key.
 */
static const char schema_issue_cost[] =
    "DROP TRIGGER licences_seq ON licences;\n"
    "DROP TRIGGER licences_number_unique ON licences;\n"
    "DROP FUNCTION cs_licence_numbered();\n"
    "DROP FUNCTION cs_licence_number();\n"
    "CREATE FUNCTION cs_licence_insert() RETURNS trigger\n"
    "  LANGUAGE plpgsql AS $$ BEGIN\n"
    "  PERFORM pg_advisory_xact_lock(" NUMBER_LOCK_CLASS ",\n"
    "    hashtext(NEW.type || '/' || NEW.issuer_code || '/' || NEW.number));\n"
    "  IF EXISTS (SELECT 1 FROM licences l WHERE l.number = NEW.number\n"
    "      AND l.type = NEW.type AND l.issuer_code = NEW.issuer_code\n"
    "      AND cs_serial(l.id, l.type, l.issuer_code) <>\n"
    "        cs_serial(NEW.id, NEW.type, NEW.issuer_code)) THEN\n"
    "    RAISE EXCEPTION 'licence number taken: another licence of the "
    "type and issuer carries it'\n"
    "      USING ERRCODE = 'unique_violation',\n"
    "        CONSTRAINT = 'licences_number_unique', TABLE = 'licences';\n"
    "  END IF;\n"
    "  INSERT INTO licence_seqs AS c (type, issuer_code, last)\n"
    "    VALUES (NEW.type, NEW.issuer_code, NEW.seq)\n"
    "    ON CONFLICT (type, issuer_code)\n"
    "    DO UPDATE SET last = EXCLUDED.last WHERE c.last < EXCLUDED.last;\n"
    "  RETURN NEW; END $$;\n"
    "CREATE TRIGGER licences_number_unique BEFORE INSERT ON licences\n"
    "  FOR EACH ROW EXECUTE FUNCTION cs_licence_insert();\n"
    "INSERT INTO licence_seqs AS c (type, issuer_code, last)\n"
    "  SELECT type, issuer_code, max(seq) FROM licences\n"
    "  GROUP BY type, issuer_code\n"
    "  ON CONFLICT (type, issuer_code)\n"
    "  DO UPDATE SET last = EXCLUDED.last WHERE c.last < EXCLUDED.last;\n"
    "DROP INDEX licences_seq;\n";

/* migrations[i] takes the database from version i to i + 1.  Append
 * only: a released entry is never edited. */
static const char *const migrations[] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_holder_acts,
	schema_peers,
	schema_subscriptions,
	schema_reconcile,
	schema_client_tokens,
	schema_status_index,
	schema_issue_cost,
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The version pg_migrate() brings a database to (pg_ping checks it). */
const int pg_schema_version = SCHEMA_VERSION;

/* Run sql (no parameters, no values: the schema's own text) on pg. */
static int
exec_sql(struct pgstore *s, PGconn *pg, const char *sql, const char *what)
{
	PGresult *r = PQexec(pg, sql);
	int rc = 0;

	if (r == NULL || (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK))
		rc = pg_fail(s, pg, r, what);
	PQclear(r);
	return rc;
}

/* The single integer sql answers, on pg. */
static int
query_int(struct pgstore *s, PGconn *pg, const char *sql, int64_t *v)
{
	PGresult *r;
	int rc;

	*v = 0;
	r = PQexecParams(pg, sql, 0, NULL, NULL, NULL, NULL, 1);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_fail(s, pg, r, "schema version");
		PQclear(r);
		return rc;
	}
	return pg_fetch_int(r, v, "schema version");
}

/* The database's schema version: 0 before the first migration (no
 * schema_version table: a query naming it would not even parse). */
static int
read_version(struct pgstore *s, PGconn *pg, int64_t *v)
{
	int rc;

	if ((rc = query_int(s, pg, "SELECT (to_regclass('schema_version') IS "
	    "NOT NULL)::integer", v)) != 0 || *v == 0)
		return rc;
	return query_int(s, pg, "SELECT coalesce(max(version), 0) FROM "
	    "schema_version", v);
}

/*
 * Bring the schema to SCHEMA_VERSION in one transaction, so a failure
 * halfway (or a crash) leaves the old version, never a half-made schema
 * (PostgreSQL's DDL is transactional).  Nodes starting together take
 * turns: the transaction first takes an advisory lock (pg_advisory_xact_
 * lock, released with the transaction whatever happens), and the next
 * node finds the version done.  A newer database is refused, since this
 * binary would not know its rules.
 */
int
pg_migrate(struct pgstore *s, PGconn *pg)
{
	struct pgq q;
	PGresult *r;
	int64_t v = 0;
	int rc;

	if ((rc = exec_sql(s, pg, "BEGIN", "migrate")) != 0)
		return rc;
	if ((rc = exec_sql(s, pg, "SELECT pg_advisory_xact_lock("
	    MIGRATE_LOCK ")", "migrate: lock")) != 0 ||
	    (rc = read_version(s, pg, &v)) != 0)
		goto rollback;
	if (v > SCHEMA_VERSION) {
		rc = cs_err_set(CS_ESTORE, "store: %s: schema version %lld is "
		    "newer than this certsvc knows (%d)", s->shown,
		    (long long)v, SCHEMA_VERSION);
		goto rollback;
	}
	for (; v < SCHEMA_VERSION && rc == 0; v++) {
		if ((rc = exec_sql(s, pg, migrations[v],
		    "migrate schema")) != 0)
			break;
		pq_init(&q);
		pq_i64(&q, v + 1);
		r = PQexecParams(pg, "INSERT INTO schema_version (version) "
		    "VALUES ($1::integer)", q.n, NULL, q.v, q.len, q.fmt, 1);
		if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = pg_fail(s, pg, r, "migrate: version");
		PQclear(r);
	}
	if (rc == 0 && (rc = exec_sql(s, pg, "COMMIT", "migrate")) == 0)
		return 0;
rollback:
	PQclear(PQexec(pg, "ROLLBACK"));
	return rc;
}
