/*
 * sqlite_schema: the SQLite store's schema, version by version, and the
 * migration that brings a database to the current version.  A released
 * migration is a contract: its text is never edited, only appended to.
 */
#include "store_sqlite_internal.h"

#include "cs_err.h"

#include <stdio.h>

/* --- schema --------------------------------------------------------- */

/* Both triggers that make table t append-only. */
#define APPEND_ONLY(t)                                                       \
	"CREATE TRIGGER " t "_no_update BEFORE UPDATE ON " t " BEGIN "       \
	"SELECT RAISE(ABORT, '" t " is append-only'); END;\n"                \
	"CREATE TRIGGER " t "_no_delete BEFORE DELETE ON " t " BEGIN "       \
	"SELECT RAISE(ABORT, '" t " is append-only'); END;\n"

/*
 * Version 1.  Licences stay a rowid table: a row is about a kilobyte of
 * record JSON, more than a WITHOUT ROWID (index) b-tree keeps in its page
 * before spilling to an overflow page, which would waste most of a page per
 * licence.  The small bundles table is WITHOUT ROWID, which saves the
 * separate index on its text key.  Indexes on columns that are often NULL
 * are partial, so that rows without a value cost nothing in them; an
 * equality filter (col = ?) still uses them.
 */
static const char schema_v1[] =
    "CREATE TABLE licences (\n"
    "  id TEXT NOT NULL PRIMARY KEY,\n"
    "  type TEXT NOT NULL,\n"
    "  issuer_code TEXT NOT NULL,\n"
    "  seq INTEGER NOT NULL,\n"
    "  holder_code TEXT NOT NULL,\n"
    "  number TEXT NOT NULL,\n"
    "  client TEXT NOT NULL,\n"
    /* NULL for the members of a bundle, whose bundle row holds the
     * key; UNIQUE lets NULLs repeat. */
    "  approval_ref TEXT,\n"
    "  request_hash TEXT NOT NULL,\n"
    "  bundle TEXT,\n"
    "  supersedes TEXT,\n"
    "  issued_at INTEGER NOT NULL,\n"
    /* TEXT (JSON) or BLOB (deflated JSON, see deflate_record). */
    "  record NOT NULL,\n"
    "  UNIQUE (client, approval_ref));\n"
    "CREATE INDEX licences_holder ON licences (holder_code, issued_at);\n"
    "CREATE INDEX licences_seq ON licences (type, issuer_code, seq);\n"
    "CREATE INDEX licences_bundle ON licences (bundle)\n"
    "  WHERE bundle IS NOT NULL;\n"
    "CREATE TABLE status_events (\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  licence_id TEXT NOT NULL REFERENCES licences (id),\n"
    "  at INTEGER NOT NULL,\n"
    "  actor TEXT NOT NULL,\n"
    "  action TEXT NOT NULL CHECK (action IN\n"
    "    ('suspend', 'reinstate', 'revoke', 'supersede')),\n"
    "  kind TEXT CHECK (kind IN ('revoked', 'withdrawn', 'cancelled')),\n"
    "  reason TEXT,\n"
    "  ref TEXT);\n"
    "CREATE INDEX status_events_licence ON status_events (licence_id);\n"
    "CREATE TABLE bundles (\n"
    "  id TEXT NOT NULL PRIMARY KEY,\n"
    "  client TEXT NOT NULL,\n"
    "  approval_ref TEXT NOT NULL,\n"
    "  request_hash TEXT NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  UNIQUE (client, approval_ref)) WITHOUT ROWID;\n"
    "CREATE TABLE clients (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  role TEXT NOT NULL CHECK (role IN ('issuer', 'reader', 'admin')),\n"
    "  token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),\n"
    "  created_at INTEGER NOT NULL);\n"
    /* One revocation per client: the key makes a second one impossible. */
    "CREATE TABLE client_revocations (\n"
    "  client_id INTEGER PRIMARY KEY REFERENCES clients (id),\n"
    "  at INTEGER NOT NULL);\n"
    "CREATE TABLE grants (\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  client_id INTEGER NOT NULL REFERENCES clients (id),\n"
    "  types TEXT NOT NULL,\n"
    "  issuer_code TEXT,\n"
    "  issuer_name TEXT);\n"
    "CREATE INDEX grants_client ON grants (client_id);\n"
    "CREATE TABLE audit (\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  at_ms INTEGER NOT NULL,\n"
    "  client TEXT,\n"
    "  action TEXT NOT NULL,\n"
    "  target TEXT,\n"
    "  holder TEXT,\n"
    "  purpose TEXT,\n"
    "  service_item TEXT,\n"
    "  case_ref TEXT,\n"
    "  result_count INTEGER NOT NULL,\n"
    "  remote TEXT,\n"
    "  request_id TEXT);\n"
    "CREATE INDEX audit_client ON audit (client) WHERE client IS NOT NULL;\n"
    "CREATE INDEX audit_action ON audit (action);\n"
    "CREATE INDEX audit_holder ON audit (holder) WHERE holder IS NOT NULL;\n"
    "CREATE INDEX audit_target ON audit (target) WHERE target IS NOT NULL;\n"
    "CREATE INDEX audit_at ON audit (at_ms);\n"
    APPEND_ONLY("licences")
    APPEND_ONLY("status_events")
    APPEND_ONLY("bundles")
    APPEND_ONLY("client_revocations")
    APPEND_ONLY("grants")
    APPEND_ONLY("audit");

/*
 * Version 2.  The audit record of every issuance and read names its target,
 * a licence id of about 70 characters; an index on the whole of it cost 88
 * bytes a licence, a sixth of the 1.5 KiB budget.  The index keeps its
 * last 12 characters instead (the random part of an id, most of a holder
 * code), and the query matches on both (prep_audit): the index narrows to
 * a handful of rows, the full comparison decides.
 */
static const char schema_v2[] =
    "DROP INDEX audit_target;\n"
    "CREATE INDEX audit_target_tail ON audit (substr(target, -12))\n"
    "  WHERE target IS NOT NULL;\n";

/*
 * Version 3.  A client row was the one piece of history an UPDATE could
 * still rewrite: a changed token_hash or role would silently hand a
 * client's rights to another token.  A client's later changes were always
 * appended (client_revocations, grants) and its state derived when read
 * (CLIENT_SELECT), so the row itself never needs to change; the triggers
 * make that a rule of the database.
 */
static const char schema_v3[] =
    APPEND_ONLY("clients");

/*
 * Version 4.  The holder and target-tail indexes of the audit table had
 * random keys, so once they outgrew a group commit every record dirtied a
 * page of each: two 16 KiB page writes per audited read, however many
 * records shared the commit, and more as the log grew (at a million
 * records a fetch wrote 14 KB, and reads ran at 0.55-0.68 of their rate on
 * a small library; bench/README.md).  Those keys now go into audit_keys in
 * bulk, a chunk of 16,384 sequence numbers at a time, once the chunk is
 * full (sq_index_audit_chunks): the table's key starts with the chunk, so
 * each chunk's entries, sorted, land after the last one's, written once.
 * audit_chunks lists the chunks done.  The records of the chunk still
 * filling are found by scanning it (prep_audit).  Both tables are history
 * like the rest: append-only.  sq_migrate() keys the existing records.
 */
static const char schema_v4[] =
    "CREATE TABLE audit_keys (\n"
    "  chunk INTEGER NOT NULL,\n"
    "  key TEXT NOT NULL,\n"
    "  seq INTEGER NOT NULL,\n"
    "  PRIMARY KEY (chunk, key, seq)) WITHOUT ROWID;\n"
    "CREATE TABLE audit_chunks (chunk INTEGER PRIMARY KEY);\n"
    "DROP INDEX audit_holder;\n"
    "DROP INDEX audit_target_tail;\n"
    APPEND_ONLY("audit_keys")
    APPEND_ONLY("audit_chunks");

/*
 * Version 5.  A refused attempt (a 403: a read of an ungranted type, a
 * change or an issuance under another authority) is audited too, with
 * result 'denied'; NULL is an operation that was done, so the records of
 * before read as done and a done record costs one header byte.  Denials
 * are rare, so the index holds them alone (partial): ?result=denied finds
 * them without a scan, and a done record costs nothing in it.
 */
static const char schema_v5[] =
    "ALTER TABLE audit ADD COLUMN result TEXT;\n"
    "CREATE INDEX audit_denied ON audit (result) WHERE result IS NOT NULL;\n";

/*
 * Version 6.  A licence number is unique per type and issuing authority,
 * and the database enforces it: the trigger refuses a row whose number
 * another licence (another serial: a licence is its serial, and its
 * versions share it) of the type and issuer already carries, so not even
 * a hand-run sqlite3 shell can give one number to two licences.  An
 * amendment may keep its licence's number or take a new one.  The index
 * on number serves the trigger's probe, the check before numbering
 * (ST_NUMBER_TAKEN) and the paper-copy check by number (ST_LIC_BY_NUMBER),
 * which has the number and the holder code, not the type.  Their unary +
 * keeps the planner off the (type, issuer_code, seq) index, which would
 * read every licence of the type and issuer.  The index costs about 38
 * bytes a licence (1M licences of the shipped numbering rules, grown
 * row by row; 34 built at once): 1,492 bytes a licence in all, within the
 * 1.5 KiB a licence may cost.
 *
 * A database from before version 6 may already hold a number twice: its
 * rows stay as they are (no backfill, nothing rewritten), the lookup by
 * number finds each such licence (so the paper-copy check refuses to pick
 * one), and no new licence can take the number.  Nor can a new version of
 * one of those licences keep it, since another serial carries it: such an
 * amendment needs a new number.
 *
 * Version 6 changed before its release: it had been a table of number
 * claims, about 85 bytes a licence, which took a million licences over
 * the 1.5 KiB budget (1,539 bytes).  No released database has that table.
 */
static const char schema_v6[] =
    "CREATE INDEX licences_number ON licences (number);\n"
    "CREATE TRIGGER licences_number_unique BEFORE INSERT ON licences\n"
    "  WHEN EXISTS (SELECT 1 FROM licences WHERE number = NEW.number AND\n"
    "    +type = NEW.type AND +issuer_code = NEW.issuer_code AND\n"
    "    " SERIAL_OF("licences") " <> " SERIAL_OF("NEW") ")\n"
    "BEGIN SELECT RAISE(ABORT, 'licence number taken: another licence of "
    "the type and issuer carries it'); END;\n";

/*
 * Version 7.  Annotated copies (加注件, SPEC §12): one row a copy, its
 * terms, kept like the rest of the history (append-only).  The PDF is not
 * stored: it is drawn and signed from the row and the licence when asked
 * for, so a row costs a few hundred bytes, not a 200 KB file.
 */
static const char schema_v7[] =
    "CREATE TABLE copies (\n"
    "  id TEXT NOT NULL PRIMARY KEY,\n"
    "  licence_id TEXT NOT NULL REFERENCES licences (id),\n"
    "  client TEXT NOT NULL,\n"
    "  purpose TEXT NOT NULL,\n"
    "  used_by_name TEXT,\n"
    "  used_by_code TEXT,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  expires_at INTEGER NOT NULL) WITHOUT ROWID;\n"
    APPEND_ONLY("copies");

/*
 * Version 8.  The change feed's outbox (SPEC §9): one row an event,
 * appended in the transaction of the change it tells of, numbered by seq
 * (the rowid: one writer, so the seq order is the commit order).  body is
 * the event's JSON without its seq.  licence_type is what a reader's
 * grants filter on.  Deliveries to subscriptions will be rows of their
 * own (subscription, seq, state), so this table stays append-only.
 */
static const char schema_v8[] =
    "CREATE TABLE change_events (\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  event_id TEXT NOT NULL UNIQUE,\n"
    "  type TEXT NOT NULL,\n"
    "  licence_type TEXT NOT NULL,\n"
    "  licence_id TEXT NOT NULL REFERENCES licences (id),\n"
    "  at INTEGER NOT NULL,\n"
    "  body TEXT NOT NULL);\n"
    APPEND_ONLY("change_events");

/*
 * The holder in the loop (SPEC §10): presentations, use authorisations
 * and their uses, delegations and the holder's usage record, one
 * append-only row an act (domain holder_acts.h).  The primary key
 * (key, n) is what makes a use of an authorisation count once: the use
 * numbered n is one row, whichever node inserts it first.
 *
 * And the role "portal" (SPEC §10): the clients table's CHECK lists the
 * roles, and SQLite cannot alter a constraint.  Rebuilding the table would
 * have to delete its rows (append-only, and referenced by grants), so the
 * CHECK's text is widened in place, as SQLite documents for changes that
 * leave the stored rows valid ("ALTER TABLE", making other kinds of schema
 * changes): every stored role is still allowed.  RESET makes this
 * connection read the schema again; the CREATE TABLE after it changes the
 * schema cookie, so every other connection does too.
 */
static const char schema_holder_acts[] =
    "PRAGMA writable_schema = ON;\n"
    "UPDATE sqlite_master SET sql = replace(sql, '''admin''))', "
    "'''admin'', ''portal''))') WHERE type = 'table' AND name = 'clients';\n"
    "PRAGMA writable_schema = RESET;\n"
    "CREATE TABLE holder_acts (\n"
    "  key TEXT NOT NULL,\n"
    "  n INTEGER NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  holder TEXT NOT NULL,\n"
    "  at INTEGER NOT NULL,\n"
    "  body TEXT NOT NULL,\n"
    "  PRIMARY KEY (key, n)) WITHOUT ROWID;\n"
    APPEND_ONLY("holder_acts");

/*
 * Peers (SPEC §11): other libraries whose tokens verify here, one row each
 * time one is added, updated (a new status list) or removed (trust_list
 * NULL); the latest row of a name says what it is now.  A handful of rows
 * a year: read whole.
 */
static const char schema_peers[] =
    "CREATE TABLE peers (\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  trust_list TEXT,\n"
    "  status_list TEXT,\n"
    "  actor TEXT NOT NULL,\n"
    "  at INTEGER NOT NULL);\n"
    APPEND_ONLY("peers");

/*
 * Subscriptions (SPEC §9), append-only: a removal is a row of its own
 * (removed 1).  sub_attempts is the sender's durable progress: one row
 * per attempt once its outcome is known (docs/design.md "Delivery"), so
 * a SIGKILL mid-delivery leaves the attempt unrecorded and it is made
 * again.  The partial index finds the largest seq delivered at once.
 */
static const char schema_subscriptions[] =
    "CREATE TABLE subscriptions (\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  url TEXT,\n"
    "  types TEXT,\n"
    "  events TEXT,\n"
    "  secret TEXT,\n"
    "  after_seq INTEGER NOT NULL,\n"
    "  at INTEGER NOT NULL,\n"
    "  removed INTEGER NOT NULL);\n"
    "CREATE TABLE sub_attempts (\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  sub INTEGER NOT NULL REFERENCES subscriptions (seq),\n"
    "  event_seq INTEGER NOT NULL,\n"
    "  at_ms INTEGER NOT NULL,\n"
    "  status INTEGER NOT NULL,\n"
    "  result TEXT NOT NULL);\n"
    "CREATE INDEX sub_attempts_sub ON sub_attempts (sub, event_seq);\n"
    "CREATE INDEX sub_attempts_done ON sub_attempts (sub, event_seq) "
    "WHERE result = 'delivered';\n"
    APPEND_ONLY("subscriptions")
    APPEND_ONLY("sub_attempts");

/* An issuer's reconciliation (GET /api/v1/certificates): its licences by
 * issue time, without reading other clients'. */
static const char schema_reconcile[] =
    "CREATE INDEX licences_client_issued ON licences (client, issued_at, "
    "id);\n";

/*
 * Token rotation (certsvc client rotate): a client's later tokens, one
 * append-only row each, so the clients row (its first token) never
 * changes.  A row names the row it supersedes (0: the clients row's
 * token); the key (client_id, supersedes) lets one rotation, not two,
 * follow a given token, and the client's token is its row of greatest
 * seq, else the clients row's.  Hashes are unique as in clients.
 */
static const char schema_client_tokens[] =
    "CREATE TABLE client_tokens (\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  client_id INTEGER NOT NULL REFERENCES clients (id),\n"
    "  token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),\n"
    "  at INTEGER NOT NULL,\n"
    "  supersedes INTEGER NOT NULL,\n"
    "  UNIQUE (client_id, supersedes));\n"
    APPEND_ONLY("client_tokens");

/* The status list's scan (sqlite_status.c) reads every licence's type,
 * issuer, sequence number and id: from this index alone, in its order,
 * instead of the whole table with each licence's record (1.5 GB at 1M
 * licences against about 120 MB).  It replaces licences_seq, its prefix,
 * which the numbering's queries use unchanged: one index to write per
 * issuance, not two. */
static const char schema_status_index[] =
    "CREATE INDEX licences_status ON licences (type, issuer_code, seq, "
    "id);\n"
    "DROP INDEX licences_seq;\n";

/* migrations[i] takes the database from user_version i to i + 1.  Append
 * only: a released entry is never edited. */
static const char *const migrations[] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4,
	schema_v5,
	schema_v6,
	schema_v7,
	schema_v8,
	schema_holder_acts,
	schema_peers,
	schema_subscriptions,
	schema_reconcile,
	schema_client_tokens,
	schema_status_index,
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The version sq_migrate() brings a database to (sq_ping checks it). */
const int sq_schema_version = SCHEMA_VERSION;

/* Bring the schema to SCHEMA_VERSION in one transaction: a crash halfway
 * leaves the old version, never a mix.  A newer database is refused, since
 * this binary would not know its rules. */
int
sq_migrate(struct conn *c, const char *path)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	char set[64];
	int rc;

	if ((rc = sq_exec_sql(c->db, "BEGIN IMMEDIATE", "migrate")) != 0)
		goto out;
	if ((rc = sq_prep(c, ST_VERSION, &st)) != 0 ||
	    (rc = sq_fetch_int(st, SQLITE_OK, &v, "schema version")) != 0)
		goto rollback;
	if (v > SCHEMA_VERSION) {
		rc = cs_err_set(CS_ESTORE, "store: %s: schema version %lld is "
		    "newer than this certsvc knows (%d)", path, (long long)v,
		    SCHEMA_VERSION);
		goto rollback;
	}
	for (; v < SCHEMA_VERSION && rc == 0; v++)
		rc = sq_exec_sql(c->db, migrations[v], "migrate schema");
	snprintf(set, sizeof(set), "PRAGMA user_version = %d", SCHEMA_VERSION);
	/* Also keys the full chunks of records written without keys: by
	 * version 3, or appended by a tool outside the store. */
	if (rc == 0 && (rc = sq_index_audit_chunks(c)) == 0 &&
	    (rc = sq_exec_sql(c->db, set, "migrate")) == 0 &&
	    (rc = sq_exec_sql(c->db, "COMMIT", "migrate")) == 0)
		goto out;
rollback:
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
out:
	return rc;
}

