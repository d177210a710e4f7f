/*
 * store_sqlite: the embedded SQLite implementation of cs_store (store.h,
 * SPEC §7).
 *
 * Connections.  One writer connection, used only by the holder of the
 * writer token, from the outermost begin() to its commit() or rollback():
 * the process never competes with itself for SQLite's write lock, so
 * SQLITE_BUSY cannot arise between its own threads, and busy_timeout only
 * covers other processes (the CLI beside a running server).  Commits of
 * concurrent threads are grouped into one SQLite COMMIT (one fsync), and
 * commit() still returns only once its writes are on disk: see "threads
 * and transactions" below.  Reads outside a transaction run on a reader
 * connection of the calling thread: WAL lets readers run beside the writer
 * and each other, and a connection used by one thread at a time needs no
 * SQLite mutex.
 *
 * A thread finds its state (its reader and whether it holds the writer) in
 * a slot reached through a pthread key of the store, so two stores in one
 * process stay apart.  Slots live in a registry owned by the store, which
 * close() walks to close every connection; a slot whose thread has exited
 * is handed, connection and all, to the next new thread.
 *
 * Statements are prepared once per connection (SQLITE_PREPARE_PERSISTENT)
 * and reset after every use: a statement left un-reset would hold its read
 * snapshot open and stall WAL checkpoints.
 *
 * Append-only is enforced by the database itself (triggers), so not even a
 * bug in certsvc or a hand-run sqlite3 shell can rewrite history.
 *
 * Space: a licence must cost under 1.5 KiB on disk with its indexes.  Its
 * record JSON is most of that, so the record is stored compressed (zrecord.h),
 * and pages are 16 KiB: 1,420 bytes a licence at a million, against 1,493
 * with 4 KiB pages.  Smaller pages would write less per random index
 * insert, but measured side by side (bench/README.md, "Page size") they
 * issued no faster and read slower.
 */
#include "store_backend.h"
#include "store_sqlite.h"

#include "codes.h"
#include "cs_err.h"
#include "encode.h"
#include "lcache.h"
#include "timeutil.h"
#include "zrecord.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* Long enough for another process's write transaction (a CLI command) to
 * finish; a server thread never waits on it for its own threads. */
#define BUSY_TIMEOUT_MS 10000

/* Each reader connection's page cache, in KiB (see conn_open). */
#define READER_CACHE_KIB 512

/* Set on a new database only: an existing file keeps its page size (a
 * VACUUM in rollback-journal mode would change it). */
#define PAGE_SIZE 16384

/* The longest record stored (request bodies are <= 64 KiB); a stored one
 * inflating beyond it is corrupt. */
#define RECORD_MAX (1 << 20)

/* WAL pages (16 KiB) after which the checkpointer thread copies the WAL
 * into the database; past the hard limit the committing thread does it
 * itself, so a checkpointer that cannot keep up never lets the WAL grow
 * without bound. */
#define CKPT_PAGES 1000
#define CKPT_TAIL_PAGES 64
#define CKPT_HARD_PAGES 8000

/* How long the leader of a group commit waits, at most, for writers
 * queued for the token to join its group (cs_store_sqlite_set_window). */
#define GROUP_WINDOW_MS 20

/* Free bytes at which a store whose last write found the disk full counts
 * as having room again (sq_ping): a few commits' worth. */
#define ROOM_AGAIN_BYTES (1 << 20)

#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX 1000

/* Audit records are keyed by holder and target in chunks of 2^14 sequence
 * numbers (schema version 4).  A string for the SQL, a number for C. */
#define AUDIT_CHUNK "16384"
#define AUDIT_CHUNK_SHIFT 14

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
 * full (index_audit_chunks): the table's key starts with the chunk, so
 * each chunk's entries, sorted, land after the last one's, written once.
 * audit_chunks lists the chunks done.  The records of the chunk still
 * filling are found by scanning it (prep_audit).  Both tables are history
 * like the rest: append-only.  migrate() keys the existing records.
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

/* The serial of licence row r (SQL): its identifier, "1.2.156.3005.2."
 * TYPE "." ISSUER "." SERIAL "." VERSION(3) "." CHECK(1), between the
 * issuer and the version. */
#define SERIAL_OF(r)                                                         \
	"substr(" r ".id, length(" r ".type) + length(" r ".issuer_code) + "  \
	"18, length(" r ".id) - length(" r ".type) - "                       \
	"length(" r ".issuer_code) - 23)"

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

/* migrations[i] takes the database from user_version i to i + 1.  Append
 * only: a released entry is never edited. */
static const char *const migrations[] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4,
	schema_v5,
	schema_v6,
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/*
 * Before SQLite's first use in the process: no memory statistics.  With
 * them every allocation SQLite makes takes one process-wide mutex, and
 * reader threads queued on it in futex calls (bench/README.md).  certsvc
 * reads none of them.  Too late (SQLITE_MISUSE) when something used SQLite
 * first; then they stay on.
 */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void
sqlite_init(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* --- statements ----------------------------------------------------- */

#define LICENCE_COLS                                                         \
	"id, type, issuer_code, seq, holder_code, number, client, "          \
	"approval_ref, request_hash, bundle, supersedes, issued_at, record"
#define EVENT_COLS "seq, licence_id, at, actor, action, kind, reason, ref"
#define BUNDLE_COLS "id, client, approval_ref, request_hash, created_at"
#define CLIENT_SELECT                                                        \
	"SELECT c.id, c.name, c.role, c.token_hash, c.created_at, "          \
	"coalesce(r.at, 0) FROM clients c "                                  \
	"LEFT JOIN client_revocations r ON r.client_id = c.id "
#define AUDIT_COLS                                                           \
	"seq, at_ms, client, action, target, holder, purpose, service_item, " \
	"case_ref, result_count, remote, request_id, result"

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_VERSION,
	ST_LIC_PUT,
	ST_LIC_GET,
	ST_LIC_BY_REF,
	ST_LIC_BY_HOLDER,
	ST_LIC_POS_AT,
	ST_LIC_POS_OF,
	ST_LIC_BY_NUMBER,
	ST_NUMBER_TAKEN,
	ST_LIC_BY_BUNDLE,
	ST_LIC_NEXT_SEQ,
	ST_LIC_COUNT,
	ST_EV_PUT,
	ST_EV_FOR,
	ST_BUN_PUT,
	ST_BUN_BY_REF,
	ST_CLI_ADD,
	ST_CLI_GET,
	ST_CLI_BY_HASH,
	ST_CLI_LIST,
	ST_CLI_REVOKE,
	ST_GRANTS,
	ST_GRANT_ADD,
	ST_AUDIT_PUT,
	ST_AUDIT_CHUNKS,
	ST_AUDIT_KEYS_PUT,
	ST_AUDIT_CHUNK_PUT,
	ST_AUDIT_KEYED,
	ST__N
};

static const char *const stmt_sql[ST__N] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	/* Every level has the same name: RELEASE and ROLLBACK TO act on the
	 * innermost savepoint of that name, which is the current level. */
	[ST_SAVEPOINT] = "SAVEPOINT cs",
	[ST_RELEASE] = "RELEASE cs",
	[ST_ROLLBACK_TO] = "ROLLBACK TO cs",
	[ST_VERSION] = "PRAGMA user_version",
	[ST_LIC_PUT] = "INSERT INTO licences (" LICENCE_COLS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_LIC_GET] = "SELECT " LICENCE_COLS " FROM licences WHERE id = ?1",
	[ST_LIC_BY_REF] = "SELECT " LICENCE_COLS " FROM licences "
	    "WHERE client = ?1 AND approval_ref = ?2",
	/* A page, newest first, ties in reverse insertion order, from the
	 * position (issued_at, rowid) = (?3, ?4) on: a range of the holder
	 * index (holder_code, issued_at, rowid) read backwards, without a
	 * sort, whatever the holder holds before it. */
	[ST_LIC_BY_HOLDER] = "SELECT " LICENCE_COLS " FROM licences "
	    "WHERE holder_code = ?1 AND (?2 IS NULL OR type = ?2) AND "
	    "(issued_at, rowid) <= (?3, ?4) "
	    "ORDER BY issued_at DESC, rowid DESC LIMIT ?5",
	/* A page position is a rowid; -1 unless it is one of the holder's. */
	[ST_LIC_POS_AT] = "SELECT coalesce((SELECT issued_at FROM licences "
	    "WHERE rowid = ?1 AND holder_code = ?2), -1)",
	[ST_LIC_POS_OF] = "SELECT rowid FROM licences WHERE id = ?1",
	/* For each licence carrying the number with this holder code (its
	 * versions count as one: a serial), its newest version that does.
	 * The unary + keeps the planner on the number index rather than the
	 * holder index, which would read every licence of the holder
	 * (lookups_read_pages in test_store): the rows read are those
	 * carrying the number, a handful. */
	[ST_LIC_BY_NUMBER] = "SELECT " LICENCE_COLS " FROM licences WHERE id IN "
	    "(SELECT max(id) FROM licences WHERE number = ?1 AND "
	    "+holder_code = ?2 GROUP BY type, issuer_code, " SERIAL_OF("licences")
	    ") ORDER BY id",
	/* Carried by another licence (serial) of the type and issuer: what the
	 * trigger of schema version 6 refuses.  So a licence of a database
	 * from before version 6 whose number another licence carries too
	 * finds it taken for a new version.  On the number index, as there. */
	[ST_NUMBER_TAKEN] = "SELECT EXISTS (SELECT 1 FROM licences "
	    "WHERE number = ?1 AND +type = ?2 AND +issuer_code = ?3 AND "
	    SERIAL_OF("licences") " <> ?4)",
	[ST_LIC_BY_BUNDLE] = "SELECT " LICENCE_COLS " FROM licences "
	    "WHERE bundle = ?1 ORDER BY rowid",
	/* One probe of the (type, issuer_code, seq) index. */
	[ST_LIC_NEXT_SEQ] = "SELECT coalesce(max(seq), 0) + 1 FROM licences "
	    "WHERE type = ?1 AND issuer_code = ?2",
	[ST_LIC_COUNT] = "SELECT count(*) FROM licences",
	[ST_EV_PUT] = "INSERT INTO status_events (licence_id, at, actor, "
	    "action, kind, reason, ref) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_EV_FOR] = "SELECT " EVENT_COLS " FROM status_events "
	    "WHERE licence_id = ?1 ORDER BY seq",
	[ST_BUN_PUT] = "INSERT INTO bundles (" BUNDLE_COLS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5)",
	[ST_BUN_BY_REF] = "SELECT " BUNDLE_COLS " FROM bundles "
	    "WHERE client = ?1 AND approval_ref = ?2",
	[ST_CLI_ADD] = "INSERT INTO clients (name, role, token_hash, "
	    "created_at) VALUES (?1, ?2, ?3, ?4)",
	[ST_CLI_GET] = CLIENT_SELECT "WHERE c.name = ?1",
	[ST_CLI_BY_HASH] = CLIENT_SELECT "WHERE c.token_hash = ?1",
	[ST_CLI_LIST] = CLIENT_SELECT "ORDER BY c.id",
	/* Inserts nothing when the client is unknown or already revoked. */
	[ST_CLI_REVOKE] = "INSERT INTO client_revocations (client_id, at) "
	    "SELECT id, ?2 FROM clients WHERE name = ?1 AND NOT EXISTS "
	    "(SELECT 1 FROM client_revocations WHERE client_id = clients.id)",
	[ST_GRANTS] = "SELECT types, issuer_code, issuer_name FROM grants "
	    "WHERE client_id = ?1 ORDER BY seq",
	[ST_GRANT_ADD] = "INSERT INTO grants (client_id, types, issuer_code, "
	    "issuer_name) SELECT id, ?2, ?3, ?4 FROM clients WHERE name = ?1",
	[ST_AUDIT_PUT] = "INSERT INTO audit (at_ms, client, action, target, "
	    "holder, purpose, service_item, case_ref, result_count, remote, "
	    "request_id, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	    "?10, ?11, ?12)",
	/* The last chunk keyed (-1: none) and the first not yet full. */
	[ST_AUDIT_CHUNKS] = "SELECT (SELECT coalesce(max(chunk), -1) FROM "
	    "audit_chunks), (SELECT coalesce(max(seq), 0) FROM audit) / "
	    AUDIT_CHUNK,
	/* Chunk ?1's keys, sorted: "h" and the holder code, "t" and the
	 * target's last 12 characters (as the version 2 index kept them). */
	[ST_AUDIT_KEYS_PUT] = "INSERT INTO audit_keys (chunk, key, seq) "
	    "SELECT ?1, 'h' || holder, seq FROM audit WHERE seq >= ?1 * "
	    AUDIT_CHUNK " AND seq < (?1 + 1) * " AUDIT_CHUNK " AND holder IS NOT "
	    "NULL UNION ALL SELECT ?1, 't' || substr(target, -12), seq FROM audit "
	    "WHERE seq >= ?1 * " AUDIT_CHUNK " AND seq < (?1 + 1) * " AUDIT_CHUNK
	    " AND target IS NOT NULL ORDER BY 2, 3",
	[ST_AUDIT_CHUNK_PUT] = "INSERT INTO audit_chunks (chunk) VALUES (?1)",
	[ST_AUDIT_KEYED] = "SELECT coalesce(max(chunk), -1) FROM audit_chunks",
};

/* The audit query has one statement per set of filters in use, so that
 * each can use its index (a "?x IS NULL OR col = ?x" term would not). */
enum {
	AF_CLIENT = 1 << 0,
	AF_ACTION = 1 << 1,
	AF_HOLDER = 1 << 2,
	AF_TARGET = 1 << 3,
	AF_SINCE = 1 << 4,
	AF_UNTIL = 1 << 5,
	AF_OK = 1 << 6,
	AF_DENIED = 1 << 7,
	AF_KEYED = 1 << 8,   /* one keyed chunk of a holder or target filter */
	AF__N = 1 << 9
};

/* --- types ---------------------------------------------------------- */

struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[ST__N];
	sqlite3_stmt *audit[AF__N];
};

/* What one thread has of one store. */
struct slot {
	struct sstore *store;
	struct conn reader;  /* db NULL until the thread first reads */
	int depth;           /* transaction levels open (> 0: holds the writer) */
	int joined;          /* its outermost level is a savepoint inside a
	                      * transaction that other members wrote to */
	int stray;           /* a failed inner commit ended its level: the
	                      * caller's rollback that follows is absorbed */
	atomic_int vacant;   /* its thread has exited; free to reuse */
	struct slot *next;
};

/* A member of the open group: a transaction whose writes are in the shared
 * SQLite transaction and whose thread waits for that transaction's COMMIT.
 * It lives on the member's stack until done is set. */
struct gwait {
	struct gwait *next;
	int rc;              /* the group's outcome, set with done */
	int done;
	int carries;         /* it has writes in the group (not a rollback) */
	pthread_cond_t cv;   /* its thread waits here: one wake-up each */
	char msg[200];       /* the failure, for the member's own cs_err */
};

/* The licence cache's bound (lcache.h). */
#define LCACHE_BYTES (32 << 20)

struct sstore {
	cs_store base;       /* first: a cs_store * is a struct sstore * */
	char *path;
	struct conn writer;
	/* The writer token and the group commit (see "threads and
	 * transactions"); mu guards every field down to window_ms. */
	pthread_mutex_t mu;
	pthread_cond_t tok_cv;    /* writers queued for the token */
	pthread_cond_t lead_cv;   /* the leader, waiting to commit */
	int busy;                 /* a thread holds the writer token */
	int queued;               /* threads waiting for the token */
	int urgent;               /* the leader's window ran out: it goes next */
	int leading;              /* a member is leading the open group */
	int lead_waits;           /* ... and waits on lead_cv */
	struct gwait *group;      /* the open group's members */
	int64_t opened_ms;        /* when its first member joined (cs_mono_ms) */
	long window_ms;
	uint64_t n_groups, n_members;  /* committed so far (statistics) */
	/* The checkpointer: a thread with a connection of its own. */
	struct conn ckpt;
	pthread_t ckpt_thread;
	int has_ckpt;
	pthread_mutex_t ckpt_mu;  /* guards ckpt_want, ckpt_stop */
	pthread_cond_t ckpt_cv;
	int ckpt_want, ckpt_stop;
	int ckpt_started;         /* ckpt_mu and ckpt_cv exist */
	atomic_int ckpt_done;     /* WAL frames the last checkpoint copied */
	pthread_mutex_t reglock;  /* guards slots */
	struct slot *slots;
	pthread_key_t key;
	int has_key;
	/* The record compressor (zrecord.h), used under the writer; its
	 * output is bound until the insert is done. */
	cs_zrecord_packer *packer;
	cs_lcache *lc;       /* licence rows read (lcache.h) */
	/* A write found the disk full and no COMMIT has succeeded since
	 * (note_space): what ping() and tx_gone(s) report. */
	atomic_int disk_full;
};

/* How to turn the rows of a query into an array: elements of size bytes,
 * each filled by map (which frees what it made if it fails), and freed as
 * a whole (n elements) by free_all. */
struct rowkind {
	size_t size;
	int (*map)(sqlite3_stmt *st, void *elem);
	void (*free_all)(void *arr, size_t n);
};

#define S(cs) ((struct sstore *)(cs))
#define CS_STR_(x) #x
#define CS_STR(x) CS_STR_(x)

/* --- small helpers -------------------------------------------------- */

static int
nomem(void)
{
	return cs_err_set(CS_ENOMEM, "store: out of memory");
}

/* Whether db's last error was a full disk: SQLITE_FULL, or an I/O error
 * whose system call failed with ENOSPC (a write to the WAL or to the
 * shared-memory file may report either). */
static int
disk_full(sqlite3 *db)
{
	int primary = sqlite3_extended_errcode(db) & 0xff;

	return primary == SQLITE_FULL ||
	    (primary == SQLITE_IOERR && sqlite3_system_errno(db) == ENOSPC);
}

/*
 * SQLite's complaint about st's connection as this thread's message.  A
 * duplicate key is a conflict (store.h promises CS_ECONFLICT for those),
 * and so is a trigger's refusal: a number another licence carries (schema
 * version 6; the append-only triggers refuse only statements the store
 * never runs).  A missing referenced row (an event for an unknown licence)
 * is not found, a full disk is CS_EFULL (the same request may succeed once
 * space returns); anything else is a storage error.
 */
static int
db_fail(sqlite3_stmt *st, const char *what)
{
	sqlite3 *db = sqlite3_db_handle(st);
	int code = disk_full(db) ? CS_EFULL : CS_ESTORE;

	switch (sqlite3_extended_errcode(db)) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_TRIGGER:
		code = CS_ECONFLICT;
		break;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		code = CS_ENOTFOUND;
		break;
	}
	return cs_err_set(code, "store: %s: %s", what, sqlite3_errmsg(db));
}

/* Ready st for its next use.  Bindings are cleared because text is bound
 * SQLITE_STATIC: the caller's strings are only borrowed for the call. */
static void
finish(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Bind text or NULL; the text must outlive the statement's use. */
static int
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s == NULL ? sqlite3_bind_null(st, i) :
	    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/*
 * Request hashes (store.h: hex SHA-256) are stored as their 32 bytes, half
 * the space of the hex (32 bytes a licence).  The column stays TEXT in the
 * schema, whose affinity leaves a blob a blob; rows written as hex before
 * are read as they are.  Anything that is not 64 lower-case hex digits is
 * stored as text.
 */
static int
bind_hash(sqlite3_stmt *st, int i, const char *hex)
{
	uint8_t raw[32];

	/* Lower case only: upper-case hex read back as lower would not be
	 * the text that was written. */
	if (hex == NULL || strlen(hex) != 64 ||
	    strspn(hex, "0123456789abcdef") != 64 ||
	    cs_hex_decode_into(hex, 64, raw) != 0)
		return bind_text(st, i, hex);
	return sqlite3_bind_blob(st, i, raw, sizeof(raw), SQLITE_TRANSIENT);
}

/* Text column i as SQLite holds it until the next step (NULL for SQL
 * NULL); *bad set when out of memory, so a mapper checks once after all
 * its columns. */
static const char *
col_text(sqlite3_stmt *st, int i, int *bad)
{
	const unsigned char *t = NULL;

	if (sqlite3_column_type(st, i) != SQLITE_NULL &&
	    (t = sqlite3_column_text(st, i)) == NULL)
		*bad = 1;
	return (const char *)t;
}

/* A copy of text column i (col_text). */
static char *
col_dup(sqlite3_stmt *st, int i, int *bad)
{
	const char *t = col_text(st, i, bad);
	char *d = NULL;

	if (t != NULL && (d = strdup(t)) == NULL)
		*bad = 1;
	return d;
}

/* A request hash column as hex (bind_hash). */
static char *
col_hash(sqlite3_stmt *st, int i, int *bad)
{
	char *d;

	if (sqlite3_column_type(st, i) != SQLITE_BLOB ||
	    sqlite3_column_bytes(st, i) != 32)
		return col_dup(st, i, bad);
	if ((d = malloc(65)) == NULL) {
		*bad = 1;
		return NULL;
	}
	cs_hex_encode_into(sqlite3_column_blob(st, i), 32, d);
	return d;
}

/* A stored record's JSON text into *out: TEXT as is, a BLOB unpacked
 * (zrecord.h). */
static int
col_record(sqlite3_stmt *st, int i, char **out)
{
	size_t len;
	int rc, bad = 0;

	*out = NULL;
	if (sqlite3_column_type(st, i) != SQLITE_BLOB) {
		*out = col_dup(st, i, &bad);
		return bad ? nomem() : 0;
	}
	rc = cs_zrecord_unpack(sqlite3_column_blob(st, i),
	    (size_t)sqlite3_column_bytes(st, i), RECORD_MAX, out, &len);
	if (rc == CS_ENOMEM)
		return nomem();
	if (rc != 0)
		return cs_err_wrap(CS_ESTORE, "store: a stored record does not "
		    "inflate: ");
	return 0;
}

/* The cached statement id of connection c, prepared on first use. */
static int
prep(struct conn *c, enum stmt_id id, sqlite3_stmt **out)
{
	int rc = 0;

	if (c->st[id] == NULL && sqlite3_prepare_v3(c->db, stmt_sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &c->st[id], NULL) != SQLITE_OK)
		rc = cs_err_set(CS_ESTORE, "store: prepare: %s",
		    sqlite3_errmsg(c->db));
	*out = c->st[id];
	return rc;
}

/* Run a statement that returns no rows.  bound: the result of binding
 * its parameters (non-zero: fail with SQLite's message). */
static int
run(sqlite3_stmt *st, int bound, const char *what)
{
	int rc = 0;

	if (bound != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(st, what);
	finish(st);
	return rc;
}

/* The single integer a statement returns. */
static int
fetch_int(sqlite3_stmt *st, int bound, int64_t *out, const char *what)
{
	int rc = 0;

	*out = 0;
	if (bound != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		rc = db_fail(st, what);
	else
		*out = sqlite3_column_int64(st, 0);
	finish(st);
	return rc;
}

/* The first row mapped into *elem; CS_ENOTFOUND when there is none. */
static int
fetch_one(sqlite3_stmt *st, int bound, const struct rowkind *k, void *elem,
    const char *what)
{
	int rc = 0, step = SQLITE_ERROR;

	if (bound == SQLITE_OK)
		step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = k->map(st, elem);
	else if (step == SQLITE_DONE)
		rc = cs_err_set(CS_ENOTFOUND, "store: %s: not found", what);
	else
		rc = db_fail(st, what);
	finish(st);
	return rc;
}

/* Every row, mapped onto the end of *out (*n rows of room for *cap);
 * on failure the whole array is freed and emptied. */
static int
fetch_append(sqlite3_stmt *st, int bound, const struct rowkind *k,
    void **out, size_t *n, size_t *cap, const char *what)
{
	char *arr = *out, *grown;
	size_t i = *n;
	int rc = 0, step = SQLITE_ERROR;

	if (bound == SQLITE_OK)
		step = sqlite3_step(st);
	while (step == SQLITE_ROW && rc == 0) {
		if (i == *cap) {
			*cap = *cap ? *cap * 2 : 8;
			if ((grown = realloc(arr, *cap * k->size)) == NULL) {
				rc = nomem();
				break;
			}
			arr = grown;
		}
		if ((rc = k->map(st, arr + i * k->size)) == 0) {
			i++;
			step = sqlite3_step(st);
		}
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_fail(st, what);
	if (rc != 0) {
		k->free_all(arr, i);
		arr = NULL;
		i = 0;
		*cap = 0;
	}
	finish(st);
	*out = arr;
	*n = i;
	return rc;
}

/* Every row, mapped into a new array (NULL when there are none). */
static int
fetch_all(sqlite3_stmt *st, int bound, const struct rowkind *k, void **out,
    size_t *n, const char *what)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	return fetch_append(st, bound, k, out, n, &cap, what);
}

/* --- row mappers ---------------------------------------------------- */

/* The licence cache of the store whose committed rows this thread maps
 * now (sq_licences_by_holder), else NULL: map_licence then copies a row
 * the cache holds instead of inflating its record again, and keeps the
 * rows it does inflate. */
static _Thread_local cs_lcache *map_cache;

static int
map_licence(sqlite3_stmt *st, void *elem)
{
	cs_licence_row row = {0}, *r = NULL;
	char *hash, *record = NULL;
	int bad = 0, rc;

	row.id = (char *)col_text(st, 0, &bad);
	if (map_cache != NULL && row.id != NULL &&
	    cs_lcache_get(map_cache, row.id, &r)) {
		*(cs_licence_row **)elem = r;
		return 0;
	}
	/* The columns as SQLite holds them, copied with the record into
	 * one allocation (store.h). */
	row.type = (char *)col_text(st, 1, &bad);
	row.issuer_code = (char *)col_text(st, 2, &bad);
	row.seq = sqlite3_column_int64(st, 3);
	row.holder_code = (char *)col_text(st, 4, &bad);
	row.number = (char *)col_text(st, 5, &bad);
	row.client = (char *)col_text(st, 6, &bad);
	row.approval_ref = (char *)col_text(st, 7, &bad);
	row.request_hash = hash = col_hash(st, 8, &bad);
	row.bundle = (char *)col_text(st, 9, &bad);
	row.supersedes = (char *)col_text(st, 10, &bad);
	row.issued_at = sqlite3_column_int64(st, 11);
	rc = col_record(st, 12, &record);
	row.record = record;
	if (rc == 0 && (bad || (r = cs_licence_row_copy(&row)) == NULL))
		rc = nomem();
	if (rc == 0 && map_cache != NULL)
		cs_lcache_put(map_cache, r);
	free(hash);
	free(record);
	*(cs_licence_row **)elem = r;
	return rc;
}

static int
map_event(sqlite3_stmt *st, void *elem)
{
	cs_event *e;
	int bad = 0, rc = 0;

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		rc = nomem();
		goto out;
	}
	e->seq = sqlite3_column_int64(st, 0);
	e->licence_id = col_dup(st, 1, &bad);
	e->at = sqlite3_column_int64(st, 2);
	e->actor = col_dup(st, 3, &bad);
	e->action = col_dup(st, 4, &bad);
	e->kind = col_dup(st, 5, &bad);
	e->reason = col_dup(st, 6, &bad);
	e->ref = col_dup(st, 7, &bad);
	if (bad) {
		cs_event_free(e);
		e = NULL;
		rc = nomem();
	}
out:
	*(cs_event **)elem = e;
	return rc;
}

static int
map_bundle(sqlite3_stmt *st, void *elem)
{
	cs_bundle_row *b;
	int bad = 0, rc = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		rc = nomem();
		goto out;
	}
	b->id = col_dup(st, 0, &bad);
	b->client = col_dup(st, 1, &bad);
	b->approval_ref = col_dup(st, 2, &bad);
	b->request_hash = col_hash(st, 3, &bad);
	b->created_at = sqlite3_column_int64(st, 4);
	if (bad) {
		cs_bundle_row_free(b);
		b = NULL;
		rc = nomem();
	}
out:
	*(cs_bundle_row **)elem = b;
	return rc;
}

/* A client without its grants (load_grants adds them). */
static int
map_client(sqlite3_stmt *st, void *elem)
{
	cs_client *c;
	const void *hash;
	int bad = 0, rc = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = nomem();
		goto out;
	}
	c->id = sqlite3_column_int64(st, 0);
	c->name = col_dup(st, 1, &bad);
	c->role = col_dup(st, 2, &bad);
	hash = sqlite3_column_blob(st, 3);
	if (hash != NULL && sqlite3_column_bytes(st, 3) == sizeof(c->token_hash))
		memcpy(c->token_hash, hash, sizeof(c->token_hash));
	else
		rc = cs_err_set(CS_ESTORE, "store: client %lld: stored token "
		    "hash is not 32 bytes", (long long)c->id);
	c->created_at = sqlite3_column_int64(st, 4);
	c->revoked_at = sqlite3_column_int64(st, 5);
	if (bad && rc == 0)
		rc = nomem();
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

	g->types = col_dup(st, 0, &bad);
	g->issuer_code = col_dup(st, 1, &bad);
	g->issuer_name = col_dup(st, 2, &bad);
	if (bad) {
		cs_grant_clear(g);
		rc = nomem();
	}
	return rc;
}

static int
map_audit(sqlite3_stmt *st, void *elem)
{
	cs_audit_rec *a;
	int bad = 0, rc = 0;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		rc = nomem();
		goto out;
	}
	a->seq = sqlite3_column_int64(st, 0);
	a->at_ms = sqlite3_column_int64(st, 1);
	a->client = col_dup(st, 2, &bad);
	a->action = col_dup(st, 3, &bad);
	a->target = col_dup(st, 4, &bad);
	a->holder = col_dup(st, 5, &bad);
	a->purpose = col_dup(st, 6, &bad);
	a->service_item = col_dup(st, 7, &bad);
	a->case_ref = col_dup(st, 8, &bad);
	a->result_count = sqlite3_column_int64(st, 9);
	a->remote = col_dup(st, 10, &bad);
	a->request_id = col_dup(st, 11, &bad);
	a->result = col_dup(st, 12, &bad);
	if (bad) {
		cs_audit_rec_free(a);
		a = NULL;
		rc = nomem();
	}
out:
	*(cs_audit_rec **)elem = a;
	return rc;
}

/* free_all of each kind: the public array free functions, typed. */
static void
free_licences(void *arr, size_t n)
{
	cs_licence_rows_free(arr, n);
}

static void
free_events(void *arr, size_t n)
{
	cs_events_free(arr, n);
}

static void
free_bundles(void *arr, size_t n)
{
	cs_bundle_row **b = arr;
	size_t i;

	for (i = 0; i < n; i++)
		cs_bundle_row_free(b[i]);
	free(b);
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

static void
free_audit(void *arr, size_t n)
{
	cs_audit_recs_free(arr, n);
}

static const struct rowkind licence_kind = {
	sizeof(cs_licence_row *), map_licence, free_licences
};
static const struct rowkind event_kind = {
	sizeof(cs_event *), map_event, free_events
};
static const struct rowkind bundle_kind = {
	sizeof(cs_bundle_row *), map_bundle, free_bundles
};
static const struct rowkind client_kind = {
	sizeof(cs_client *), map_client, free_clients
};
static const struct rowkind grant_kind = {
	sizeof(cs_grant), map_grant, free_grants
};
static const struct rowkind audit_kind = {
	sizeof(cs_audit_rec *), map_audit, free_audit
};

/* --- connections ---------------------------------------------------- */

static int
exec_sql(sqlite3 *db, const char *sql, const char *what)
{
	char *err = NULL;
	int rc = 0;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		rc = cs_err_set(CS_ESTORE, "store: %s: %s", what,
		    err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	return rc;
}

/* WAL is what lets readers run beside the writer; a file system that
 * cannot do it (no shared memory) is refused rather than run slowly and
 * differently. */
static int
set_wal(sqlite3 *db, const char *path)
{
	sqlite3_stmt *st = NULL;
	const char *mode = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL)
		rc = cs_err_set(CS_ESTORE, "store: %s: journal mode: %s", path,
		    sqlite3_errmsg(db));
	else if (strcmp(mode, "wal") != 0)
		rc = cs_err_set(CS_ESTORE, "store: %s: cannot use WAL "
		    "(journal mode stays %s)", path, mode);
	sqlite3_finalize(st);
	return rc;
}

/*
 * Open a connection to path.  The writer gets the durable settings:
 * synchronous=FULL syncs the WAL at every commit, so commit() returning
 * means the licence survives a power cut; recursive_triggers makes a
 * REPLACE conflict resolution fire the delete triggers too, closing that
 * way around append-only; temp_store=MEMORY keeps the journals of the
 * savepoints of group commit in memory (a few pages per transaction).  A
 * reader is query_only, so a bug cannot write through it outside the
 * writer token.
 */
static int
conn_open(const char *path, int is_writer, struct conn *c)
{
	int rc = 0;

	memset(c, 0, sizeof(*c));
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
	    (is_writer ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		rc = cs_err_set(CS_ESTORE, "store: open %s: %s", path,
		    c->db ? sqlite3_errmsg(c->db) : "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	if (!is_writer) {
		/* A reader's page cache is emptied whenever another
		 * connection commits, which the read audit writer does every
		 * audit_flush_ms: SQLite's default of 2 MB a connection, times
		 * one per worker thread, was resident memory that little more
		 * than the b-trees' upper pages could use. */
		rc = exec_sql(c->db, "PRAGMA query_only = ON;"
		    "PRAGMA cache_size = -" CS_STR(READER_CACHE_KIB),
		    "open reader");
		goto out;
	}
	/* Before WAL and the schema: a no-op on an existing database. */
	if ((rc = exec_sql(c->db, "PRAGMA page_size = " CS_STR(PAGE_SIZE),
	    "open writer")) != 0 || (rc = set_wal(c->db, path)) != 0)
		goto out;
	rc = exec_sql(c->db, "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON;"
	    "PRAGMA recursive_triggers = ON;"
	    "PRAGMA temp_store = MEMORY", "open writer");
out:
	if (rc != 0) {
		sqlite3_close(c->db);
		c->db = NULL;
	}
	return rc;
}

static void
conn_close(struct conn *c)
{
	size_t i;

	for (i = 0; i < ST__N; i++)
		sqlite3_finalize(c->st[i]);
	for (i = 0; i < AF__N; i++)
		sqlite3_finalize(c->audit[i]);
	sqlite3_close(c->db);
	memset(c, 0, sizeof(*c));
}

/* Key every full audit chunk not keyed yet, in order, inside the caller's
 * transaction (schema version 4).  A chunk is full once a record of the
 * next one exists; sequence numbers are never reused for committed
 * records (the table is append-only), so a full chunk never changes. */
static int
index_audit_chunks(struct conn *c)
{
	sqlite3_stmt *st;
	int64_t done = 0, filling = 0;
	int rc;

	if ((rc = prep(c, ST_AUDIT_CHUNKS, &st)) != 0)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW) {
		done = sqlite3_column_int64(st, 0);
		filling = sqlite3_column_int64(st, 1);
	} else
		rc = db_fail(st, "audit chunks");
	finish(st);
	while (rc == 0 && ++done < filling)
		if ((rc = prep(c, ST_AUDIT_KEYS_PUT, &st)) == 0 &&
		    (rc = run(st, sqlite3_bind_int64(st, 1, done),
		    "key audit chunk")) == 0 &&
		    (rc = prep(c, ST_AUDIT_CHUNK_PUT, &st)) == 0)
			rc = run(st, sqlite3_bind_int64(st, 1, done),
			    "audit chunk done");
	return rc;
}

/* Bring the schema to SCHEMA_VERSION in one transaction: a crash halfway
 * leaves the old version, never a mix.  A newer database is refused, since
 * this binary would not know its rules. */
static int
migrate(struct conn *c, const char *path)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	char set[64];
	int rc;

	if ((rc = exec_sql(c->db, "BEGIN IMMEDIATE", "migrate")) != 0)
		goto out;
	if ((rc = prep(c, ST_VERSION, &st)) != 0 ||
	    (rc = fetch_int(st, SQLITE_OK, &v, "schema version")) != 0)
		goto rollback;
	if (v > SCHEMA_VERSION) {
		rc = cs_err_set(CS_ESTORE, "store: %s: schema version %lld is "
		    "newer than this certsvc knows (%d)", path, (long long)v,
		    SCHEMA_VERSION);
		goto rollback;
	}
	for (; v < SCHEMA_VERSION && rc == 0; v++)
		rc = exec_sql(c->db, migrations[v], "migrate schema");
	snprintf(set, sizeof(set), "PRAGMA user_version = %d", SCHEMA_VERSION);
	/* Also keys the full chunks of records written without keys: by
	 * version 3, or appended by a tool outside the store. */
	if (rc == 0 && (rc = index_audit_chunks(c)) == 0 &&
	    (rc = exec_sql(c->db, set, "migrate")) == 0 &&
	    (rc = exec_sql(c->db, "COMMIT", "migrate")) == 0)
		goto out;
rollback:
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
out:
	return rc;
}

/* --- threads and transactions --------------------------------------- */

/*
 * The writer token.  One thread at a time writes on the writer connection:
 * the holder of the token, taken at the outermost begin() (or by a write
 * call outside a transaction) and given back when that level ends.
 *
 * Group commit.  commit() must return only once the transaction is on
 * disk, and one fsync per transaction caps a durable store near the disk's
 * sync rate (NOTES.md: about 5k commits/s).  So transactions of different
 * threads share SQLite transactions:
 *
 *   - The first writer after a COMMIT opens a SQLite transaction (BEGIN
 *     IMMEDIATE).  A writer that finds one open, holding the writes of
 *     members that already finished, runs its own writes inside a SAVEPOINT
 *     of it (joined), so that its rollback() undoes its own writes only.
 *   - The outermost commit() releases its savepoint, adds its thread to the
 *     open group as a member, gives the token back and waits.  It does not
 *     return until the group's COMMIT has returned (synchronous=FULL: the
 *     WAL is synced) and hands back that COMMIT's result.
 *   - One member leads: it waits until no thread holds the token and none is
 *     queued for it, or until window_ms after the group's first member
 *     joined (then it takes the token next, ahead of the queue), takes the
 *     token itself, seals the group, runs the COMMIT and wakes every member
 *     with its result.  Writers that arrive during the COMMIT wait for the
 *     token and form the next group while the disk syncs.
 *
 * With one writer at a time this is exactly one COMMIT per transaction, as
 * before; with n writers at once it is one fsync for n transactions.
 *
 * What a crash can lose: only transactions whose commit() had not
 * returned, whose callers had answered nobody (no 201, no audited read was
 * served).  What it cannot lose: anything whose commit() returned 0.  A
 * COMMIT that fails fails every member of its group; an error that makes
 * SQLite roll back the whole transaction (I/O error, full disk, out of
 * memory) is noticed when the holder's level ends and fails every member
 * still waiting.  No member is ever told 0 for writes that are not on disk.
 *
 * A rollback() that joined a transaction others wrote to has seen their
 * writes (a replayed issuance answers with a licence still in the group),
 * so it too waits for the group and returns its result.
 *
 * Nesting.  begin() inside a transaction opens a SAVEPOINT level; its
 * commit() releases the level (nothing is durable until the outermost
 * commit()), its rollback() undoes that level only.  A bulk loader wraps
 * many issuances, each with its own begin()/commit(), in one outer
 * transaction.
 */

static int tx_end(struct sstore *s, struct slot *sl, int commit);

/* Thread exit: the slot and its reader go to the next new thread.  A
 * transaction the thread left open is rolled back here, on that thread,
 * which holds the writer token and so may give it back; otherwise every
 * writer would wait forever on a dead thread. */
static void
slot_vacate(void *p)
{
	struct slot *sl = p;

	while (sl->depth > 0)
		(void)tx_end(sl->store, sl, 0);
	atomic_store(&sl->vacant, 1);
}

/* The calling thread's slot of s, made (or reclaimed) on first use. */
static int
slot_get(struct sstore *s, struct slot **out)
{
	struct slot *sl;
	int rc = 0;

	if ((sl = pthread_getspecific(s->key)) != NULL)
		goto out;
	pthread_mutex_lock(&s->reglock);
	for (sl = s->slots; sl != NULL; sl = sl->next)
		if (atomic_exchange(&sl->vacant, 0))
			break;
	if (sl == NULL && (sl = calloc(1, sizeof(*sl))) != NULL) {
		sl->store = s;
		sl->next = s->slots;
		s->slots = sl;
	}
	pthread_mutex_unlock(&s->reglock);
	if (sl == NULL)
		rc = nomem();
	else if (pthread_setspecific(s->key, sl) != 0) {
		atomic_store(&sl->vacant, 1);
		sl = NULL;
		rc = nomem();
	}
out:
	*out = sl;
	return rc;
}

/* The connection for a read: the writer when this thread holds it (so it
 * sees its own uncommitted writes), else its own reader. */
static int
read_conn(struct sstore *s, struct conn **out)
{
	struct slot *sl;
	int rc;

	*out = NULL;
	if ((rc = slot_get(s, &sl)) != 0)
		goto out;
	if (sl->depth > 0)
		*out = &s->writer;
	else if (sl->reader.db != NULL ||
	    (rc = conn_open(s->path, 0, &sl->reader)) == 0)
		*out = &sl->reader;
out:
	return rc;
}

static int
read_stmt(struct sstore *s, enum stmt_id id, sqlite3_stmt **out)
{
	struct conn *c;
	int rc;

	*out = NULL;
	if ((rc = read_conn(s, &c)) == 0)
		rc = prep(c, id, out);
	return rc;
}

/* Run one of the transaction statements on the writer. */
static int
wstep(struct sstore *s, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prep(&s->writer, id, &st)) == 0)
		rc = run(st, SQLITE_OK, what);
	return rc;
}

/* The writer's transaction is gone: SQLite rolled it back on an earlier
 * error (I/O, full disk, out of memory).  A full disk stays CS_EFULL for
 * every member it fails, not only for the writer that met it. */
static int
tx_gone(struct sstore *s)
{
	int full = atomic_load(&s->disk_full);

	return cs_err_set(full ? CS_EFULL : CS_ESTORE, "store: the transaction "
	    "was rolled back by an earlier error%s",
	    full ? " (the disk is full)" : "");
}

/* Remember a write that found the disk full (rc CS_EFULL), for ping() and
 * tx_gone(s); a COMMIT that reached the disk (committed) forgets it.
 * Returns rc. */
static int
note_space(struct sstore *s, int rc, int committed)
{
	if (rc == CS_EFULL)
		atomic_store(&s->disk_full, 1);
	else if (rc == 0 && committed)
		atomic_store(&s->disk_full, 0);
	return rc;
}

static void
token_take(struct sstore *s)
{
	pthread_mutex_lock(&s->mu);
	s->queued++;
	while (s->busy || s->urgent)
		pthread_cond_wait(&s->tok_cv, &s->mu);
	s->queued--;
	s->busy = 1;
	pthread_mutex_unlock(&s->mu);
}

/* With mu held.  Each wake-up is aimed: one queued writer (unless the
 * leader has claimed the token), and the leader when it waits.  On this
 * kind of virtual machine a wake-up costs several microseconds of kernel
 * time, and broadcasting to a dozen threads of which one can go was 11% of
 * an issuance's CPU. */
static void
token_give_locked(struct sstore *s)
{
	s->busy = 0;
	if (s->queued > 0 && !s->urgent)
		pthread_cond_signal(&s->tok_cv);
	if (s->lead_waits)
		pthread_cond_signal(&s->lead_cv);
}

/* End every waiting member of the open group with rc and msg.  With mu
 * held. */
static void
group_end_locked(struct sstore *s, struct gwait *list, int rc,
    const char *msg)
{
	struct gwait *w, *next;

	for (w = list; w != NULL; w = next) {
		next = w->next;
		w->rc = rc;
		if (rc != 0)
			snprintf(w->msg, sizeof(w->msg), "%s", msg);
		w->done = 1;
		pthread_cond_signal(&w->cv);
	}
}

/* The holder found the shared transaction rolled back under it: the
 * members waiting for it have lost their writes and are told so; the token
 * is given back.  Returns the holder's own error. */
static int
tx_lost(struct sstore *s)
{
	int rc = tx_gone(s);

	pthread_mutex_lock(&s->mu);
	group_end_locked(s, s->group, rc, cs_err_msg());
	s->group = NULL;
	token_give_locked(s);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/*
 * Lead the open group: wait for the token (letting queued writers join
 * first, up to the window), seal the group, COMMIT, wake the members.
 * Called and returns with mu held.
 */
static void
group_lead(struct sstore *s)
{
	int64_t deadline = s->opened_ms + s->window_ms;
	struct timespec until = cs_mono_timespec(deadline);
	struct gwait *list, *w;
	char msg[200] = "";
	size_t n = 0;
	int rc = 0;

	s->lead_waits = 1;
	while (s->busy || s->queued > 0) {
		if (cs_mono_ms() >= deadline) {
			if (!s->busy)
				break;
			s->urgent = 1;
			pthread_cond_wait(&s->lead_cv, &s->mu);
		} else
			pthread_cond_timedwait(&s->lead_cv, &s->mu, &until);
	}
	s->lead_waits = 0;
	s->busy = 1;
	s->urgent = 0;
	list = s->group;
	s->group = NULL;
	pthread_mutex_unlock(&s->mu);
	if (list != NULL) {
		if (sqlite3_get_autocommit(s->writer.db))
			rc = tx_gone(s);
		else if ((rc = note_space(s, wstep(s, ST_COMMIT, "commit"),
		    1)) != 0 && !sqlite3_get_autocommit(s->writer.db))
			sqlite3_exec(s->writer.db, "ROLLBACK", NULL, NULL, NULL);
		if (rc != 0)
			snprintf(msg, sizeof(msg), "%s", cs_err_msg());
	}
	pthread_mutex_lock(&s->mu);
	for (w = list; w != NULL; w = w->next)
		n += (size_t)w->carries;
	if (n > 0 && rc == 0) {
		s->n_groups++;
		s->n_members += n;
	}
	group_end_locked(s, list, rc, msg);
	s->leading = 0;
	/* The next group, if it has members, needs one of them to lead. */
	if (s->group != NULL)
		pthread_cond_signal(&s->group->cv);
	token_give_locked(s);
}

/* Join the open group as a member (the caller holds the token and has
 * released its level), give the token back and wait for the group's
 * COMMIT, leading it when no one else does. */
static int
group_join(struct sstore *s, int carries)
{
	struct gwait w;

	memset(&w, 0, sizeof(w));
	w.carries = carries;
	pthread_cond_init(&w.cv, NULL);
	pthread_mutex_lock(&s->mu);
	if (s->group == NULL)
		s->opened_ms = cs_mono_ms();
	w.next = s->group;
	s->group = &w;
	token_give_locked(s);
	while (!w.done) {
		if (!s->leading) {
			s->leading = 1;
			group_lead(s);
		} else
			pthread_cond_wait(&w.cv, &s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	pthread_cond_destroy(&w.cv);
	if (w.rc != 0)
		cs_err_set(w.rc, "%s", w.msg);
	return w.rc;
}

/* Open a level: the outermost takes the token and opens (or joins) the
 * SQLite transaction; an inner one is a savepoint. */
static int
tx_begin(struct sstore *s, struct slot *sl)
{
	int rc;

	sl->stray = 0;
	if (sl->depth > 0) {
		if (sqlite3_get_autocommit(s->writer.db))
			rc = tx_gone(s);
		else if ((rc = wstep(s, ST_SAVEPOINT, "begin")) == 0)
			sl->depth++;
		return rc;
	}
	token_take(s);
	sl->joined = !sqlite3_get_autocommit(s->writer.db);
	if ((rc = wstep(s, sl->joined ? ST_SAVEPOINT : ST_BEGIN, "begin")) == 0) {
		sl->depth = 1;
	} else {
		pthread_mutex_lock(&s->mu);
		token_give_locked(s);
		pthread_mutex_unlock(&s->mu);
	}
	return rc;
}

/*
 * End the current level with commit (1) or rollback (0).  The level is
 * over whatever happens.  The outermost level gives the token back: a
 * commit (and a rollback that joined others' writes) after waiting for the
 * group's COMMIT.  A rollback of a transaction SQLite already rolled back
 * succeeds.
 */
static int
tx_end(struct sstore *s, struct slot *sl, int commit)
{
	sqlite3 *db = s->writer.db;
	int rc = 0, grc;

	if (sl->depth > 1) {
		sl->depth--;
		if (sqlite3_get_autocommit(db)) {
			rc = commit ? tx_gone(s) : 0;
		} else if (!commit ||
		    (rc = wstep(s, ST_RELEASE, "commit")) != 0) {
			(void)wstep(s, ST_ROLLBACK_TO, "rollback");
			(void)wstep(s, ST_RELEASE, "rollback");
		}
		sl->stray = commit && rc != 0;
		return rc;
	}
	sl->depth = 0;
	if (sqlite3_get_autocommit(db)) {
		rc = tx_lost(s);
		return commit ? rc : 0;
	}
	if (!sl->joined) {
		if (commit)
			return group_join(s, 1);
		rc = wstep(s, ST_ROLLBACK, "rollback");
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		pthread_mutex_lock(&s->mu);
		token_give_locked(s);
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	if (!commit || (rc = wstep(s, ST_RELEASE, "commit")) != 0) {
		(void)wstep(s, ST_ROLLBACK_TO, "rollback");
		(void)wstep(s, ST_RELEASE, "rollback");
	}
	if (sqlite3_get_autocommit(db)) {
		grc = tx_lost(s);
		return commit ? grc : 0;
	}
	grc = group_join(s, commit && rc == 0);
	return rc != 0 ? rc : grc;
}

/*
 * The writer for one write call: inside the thread's own transaction when
 * it holds one, else in a transaction of the call's own (*own set), which
 * write_leave ends.  Some failures (disk full, I/O) make SQLite roll back
 * the whole transaction; writing on would then autocommit outside it, so
 * that is refused.
 */
static int
write_enter(struct sstore *s, struct conn **out, int *own)
{
	struct slot *sl;
	int rc;

	*out = &s->writer;
	*own = 0;
	if ((rc = slot_get(s, &sl)) != 0)
		goto out;
	if (sl->depth == 0) {
		if ((rc = tx_begin(s, sl)) == 0)
			*own = 1;
	} else if (sqlite3_get_autocommit(s->writer.db))
		rc = tx_gone(s);
out:
	return rc;
}

static int
write_leave(struct sstore *s, int own, int rc)
{
	struct slot *sl;

	note_space(s, rc, 0);
	if (own) {
		sl = pthread_getspecific(s->key);
		if (rc == 0)
			rc = tx_end(s, sl, 1);
		else
			(void)tx_end(s, sl, 0);
	}
	return rc;
}

static int
sq_begin(cs_store *cs)
{
	struct slot *sl;
	int rc;

	if ((rc = slot_get(S(cs), &sl)) == 0)
		rc = tx_begin(S(cs), sl);
	return rc;
}

static int
sq_commit(cs_store *cs)
{
	struct slot *sl;
	int rc;

	if ((rc = slot_get(S(cs), &sl)) != 0)
		goto out;
	sl->stray = 0;
	if (sl->depth == 0)
		rc = cs_err_set(CS_EINVAL, "store: commit: no transaction on "
		    "this thread");
	else
		rc = tx_end(S(cs), sl, 1);
out:
	return rc;
}

/* Without a transaction this does nothing and returns 0, leaving the
 * thread's message alone: error paths may call it unconditionally.  So
 * may they after a failed commit(), whose level is already over: right
 * after a failed inner commit the rollback is absorbed, so that it does not
 * undo the enclosing level. */
static int
sq_rollback(cs_store *cs)
{
	struct slot *sl;
	int rc;

	if ((rc = slot_get(S(cs), &sl)) == 0 && sl->stray)
		sl->stray = 0;
	else if (rc == 0 && sl->depth > 0)
		rc = tx_end(S(cs), sl, 0);
	return rc;
}

/* --- licences ------------------------------------------------------- */

/*
 * The record as stored: packed (zrecord.h) into the packer's buffer (*z
 * set, *zlen its length), or *z NULL when that would not be smaller and
 * the text is stored as it is.  Called under the writer, which owns the
 * packer.
 */
static int
pack_record(struct sstore *s, const char *text, const void **z,
    size_t *zlen)
{
	size_t n = strlen(text);

	*z = NULL;
	*zlen = 0;
	if (n > RECORD_MAX)
		return cs_err_set(CS_ETOOBIG, "store: record of %zu bytes is "
		    "over the limit of %d", n, RECORD_MAX);
	return s->packer != NULL ? cs_zrecord_pack(s->packer, text, n, z, zlen)
	    : 0;
}

/* Parameters 1-13 of ST_LIC_PUT; the record as pack_record left it. */
static int
bind_licence(sqlite3_stmt *st, const cs_licence_row *r, const void *z,
    size_t zlen)
{
	return bind_text(st, 1, r->id) || bind_text(st, 2, r->type) ||
	    bind_text(st, 3, r->issuer_code) ||
	    sqlite3_bind_int64(st, 4, r->seq) ||
	    bind_text(st, 5, r->holder_code) || bind_text(st, 6, r->number) ||
	    bind_text(st, 7, r->client) || bind_text(st, 8, r->approval_ref) ||
	    bind_hash(st, 9, r->request_hash) || bind_text(st, 10, r->bundle) ||
	    bind_text(st, 11, r->supersedes) ||
	    sqlite3_bind_int64(st, 12, r->issued_at) ||
	    (z != NULL ? sqlite3_bind_blob(st, 13, z, (int)zlen, SQLITE_STATIC) :
	    bind_text(st, 13, r->record));
}

static int
sq_licence_put(cs_store *cs, const cs_licence_row *r)
{
	struct conn *c;
	sqlite3_stmt *st;
	const void *z = NULL;
	size_t zlen = 0;
	int own, rc;

	if ((rc = write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if (r->record != NULL)
		rc = pack_record(S(cs), r->record, &z, &zlen);
	if (rc == 0 && (rc = prep(c, ST_LIC_PUT, &st)) == 0)
		rc = run(st, bind_licence(st, r, z, zlen), "insert licence");
	rc = write_leave(S(cs), own, rc);
out:
	return rc;
}

static int
sq_licence_get(cs_store *cs, const char *id, cs_licence_row **out)
{
	struct sstore *s = S(cs);
	struct slot *sl;
	sqlite3_stmt *st;
	int rc, committed;

	*out = NULL;
	if ((rc = slot_get(s, &sl)) != 0)
		return rc;
	/* Outside a transaction a read sees committed rows only: those may
	 * be cached (the licence cache). */
	committed = sl->depth == 0;
	if (committed && cs_lcache_get(s->lc, id, out))
		return 0;
	if ((rc = read_stmt(s, ST_LIC_GET, &st)) == 0)
		rc = fetch_one(st, bind_text(st, 1, id), &licence_kind, out,
		    "get licence");
	if (rc == 0 && committed)
		cs_lcache_put(s->lc, *out);
	return rc;
}

static int
sq_licence_by_ref(cs_store *cs, const char *client, const char *approval_ref,
    cs_licence_row **out)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	if ((rc = read_stmt(S(cs), ST_LIC_BY_REF, &st)) == 0)
		rc = fetch_one(st, bind_text(st, 1, client) ||
		    bind_text(st, 2, approval_ref), &licence_kind, out,
		    "licence by approval_ref");
	return rc;
}

/* The licence rows of statement st (bound: its binding's result), through
 * the licence cache when they are committed (sq_licence_get). */
static int
fetch_licences(struct sstore *s, sqlite3_stmt *st, int bound,
    cs_licence_row ***out, size_t *n, const char *what)
{
	struct slot *sl;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = slot_get(s, &sl)) == 0) {
		map_cache = sl->depth == 0 ? s->lc : NULL;
		rc = fetch_all(st, bound, &licence_kind, &arr, n, what);
		map_cache = NULL;
	}
	*out = arr;
	return rc;
}

/* Where a page starting at rowid pos begins in the holder index: its
 * issued_at.  CS_EINVAL when pos is no licence of the holder's (a cursor
 * the caller made up). */
static int
page_start(struct sstore *s, const char *holder_code, int64_t pos,
    int64_t *issued_at)
{
	sqlite3_stmt *st;
	int rc;

	*issued_at = INT64_MAX;
	if (pos == 0)
		return 0;
	if ((rc = read_stmt(s, ST_LIC_POS_AT, &st)) == 0)
		rc = fetch_int(st, sqlite3_bind_int64(st, 1, pos) ||
		    bind_text(st, 2, holder_code), issued_at, "page start");
	if (rc == 0 && *issued_at < 0)
		rc = cs_err_set(CS_EINVAL, "store: %lld is not a position of "
		    "this holder's licences", (long long)pos);
	return rc;
}

/* The position of row r: where the page that starts with it starts. */
static int
row_pos(struct sstore *s, const cs_licence_row *r, int64_t *pos)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = read_stmt(s, ST_LIC_POS_OF, &st)) == 0)
		rc = fetch_int(st, bind_text(st, 1, r->id), pos, "page end");
	return rc;
}

/* One row more than the page is read: it is where the next page starts. */
static int
sq_licences_by_holder(cs_store *cs, const char *holder_code, const char *type,
    int64_t *pos, size_t limit, cs_licence_row ***out, size_t *n)
{
	struct sstore *s = S(cs);
	sqlite3_stmt *st;
	int64_t at;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = page_start(s, holder_code, *pos, &at)) != 0 ||
	    (rc = read_stmt(s, ST_LIC_BY_HOLDER, &st)) != 0)
		return rc;
	rc = fetch_licences(s, st, bind_text(st, 1, holder_code) ||
	    bind_text(st, 2, type) || sqlite3_bind_int64(st, 3, at) ||
	    sqlite3_bind_int64(st, 4, *pos ? *pos : INT64_MAX) ||
	    sqlite3_bind_int64(st, 5, (int64_t)limit + 1), out, n,
	    "licences by holder");
	*pos = 0;
	if (rc == 0 && *n > limit) {
		rc = row_pos(s, (*out)[limit], pos);
		cs_licence_row_free((*out)[limit]);
		*n = limit;
	}
	if (rc != 0) {
		cs_licence_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static int
sq_licences_by_number(cs_store *cs, const char *number,
    const char *holder_code, cs_licence_row ***out, size_t *n)
{
	struct sstore *s = S(cs);
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = read_stmt(s, ST_LIC_BY_NUMBER, &st)) == 0)
		rc = fetch_licences(s, st, bind_text(st, 1, number) ||
		    bind_text(st, 2, holder_code), out, n, "licences by number");
	return rc;
}

static int
sq_licence_number_taken(cs_store *cs, const char *type,
    const char *issuer_code, const char *number, const char *serial,
    int *taken)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	int rc;

	if ((rc = read_stmt(S(cs), ST_NUMBER_TAKEN, &st)) == 0)
		rc = fetch_int(st, bind_text(st, 1, number) ||
		    bind_text(st, 2, type) || bind_text(st, 3, issuer_code) ||
		    bind_text(st, 4, serial), &v, "number taken");
	*taken = v != 0;
	return rc;
}

static int
sq_licences_by_bundle(cs_store *cs, const char *bundle_id,
    cs_licence_row ***out, size_t *n)
{
	sqlite3_stmt *st;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = read_stmt(S(cs), ST_LIC_BY_BUNDLE, &st)) == 0)
		rc = fetch_all(st, bind_text(st, 1, bundle_id), &licence_kind,
		    &arr, n, "licences by bundle");
	*out = arr;
	return rc;
}

static int
sq_licence_next_seq(cs_store *cs, const char *type, const char *issuer_code,
    int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if ((rc = read_stmt(S(cs), ST_LIC_NEXT_SEQ, &st)) == 0)
		rc = fetch_int(st, bind_text(st, 1, type) ||
		    bind_text(st, 2, issuer_code), out, "next seq");
	return rc;
}

static int
sq_licence_count(cs_store *cs, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if ((rc = read_stmt(S(cs), ST_LIC_COUNT, &st)) == 0)
		rc = fetch_int(st, SQLITE_OK, out, "count licences");
	return rc;
}

/* --- status events -------------------------------------------------- */

/* CS_ENOTFOUND when the licence does not exist (foreign key). */
static int
sq_event_append(cs_store *cs, const cs_event *ev)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = prep(c, ST_EV_PUT, &st)) == 0)
		rc = run(st, bind_text(st, 1, ev->licence_id) ||
		    sqlite3_bind_int64(st, 2, ev->at) ||
		    bind_text(st, 3, ev->actor) || bind_text(st, 4, ev->action) ||
		    bind_text(st, 5, ev->kind) || bind_text(st, 6, ev->reason) ||
		    bind_text(st, 7, ev->ref), "append event");
	rc = write_leave(S(cs), own, rc);
out:
	return rc;
}

static int
sq_events_for(cs_store *cs, const char *licence_id, cs_event ***out,
    size_t *n)
{
	sqlite3_stmt *st;
	void *arr = NULL;
	int rc;

	*n = 0;
	if ((rc = read_stmt(S(cs), ST_EV_FOR, &st)) == 0)
		rc = fetch_all(st, bind_text(st, 1, licence_id), &event_kind,
		    &arr, n, "events");
	*out = arr;
	return rc;
}

/* --- bundles -------------------------------------------------------- */

static int
sq_bundle_put(cs_store *cs, const cs_bundle_row *b)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = prep(c, ST_BUN_PUT, &st)) == 0)
		rc = run(st, bind_text(st, 1, b->id) ||
		    bind_text(st, 2, b->client) ||
		    bind_text(st, 3, b->approval_ref) ||
		    bind_hash(st, 4, b->request_hash) ||
		    sqlite3_bind_int64(st, 5, b->created_at), "insert bundle");
	rc = write_leave(S(cs), own, rc);
out:
	return rc;
}

static int
sq_bundle_by_ref(cs_store *cs, const char *client, const char *approval_ref,
    cs_bundle_row **out)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	if ((rc = read_stmt(S(cs), ST_BUN_BY_REF, &st)) == 0)
		rc = fetch_one(st, bind_text(st, 1, client) ||
		    bind_text(st, 2, approval_ref), &bundle_kind, out,
		    "bundle by approval_ref");
	return rc;
}

/* --- clients -------------------------------------------------------- */

static int
load_grants(struct conn *c, cs_client *cl)
{
	sqlite3_stmt *st;
	void *arr = NULL;
	int rc;

	if ((rc = prep(c, ST_GRANTS, &st)) == 0)
		rc = fetch_all(st, sqlite3_bind_int64(st, 1, cl->id),
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
	if ((rc = read_conn(s, &c)) != 0 || (rc = prep(c, id, &st)) != 0)
		goto out;
	bound = len ? sqlite3_bind_blob(st, 1, key, (int)len, SQLITE_STATIC) :
	    bind_text(st, 1, key);
	if ((rc = fetch_one(st, bound, &client_kind, out, "get client")) == 0)
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
static int
sq_client_add(cs_store *cs, const cs_client *cl)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = prep(c, ST_CLI_ADD, &st)) == 0)
		rc = run(st, bind_text(st, 1, cl->name) ||
		    bind_text(st, 2, cl->role) ||
		    sqlite3_bind_blob(st, 3, cl->token_hash,
		    sizeof(cl->token_hash), SQLITE_STATIC) ||
		    sqlite3_bind_int64(st, 4, cl->created_at), "add client");
	rc = write_leave(S(cs), own, rc);
out:
	return rc;
}

static int
sq_client_get(cs_store *cs, const char *name, cs_client **out)
{
	return client_fetch(S(cs), ST_CLI_GET, name, 0, out);
}

/*
 * The lookup goes through the UNIQUE token_hash index, whose comparisons
 * are not constant-time; that leaks at most how much of a SHA-256 prefix
 * matched, which an attacker who controls only the token cannot steer.
 * The stored hash is then compared again in constant time, so the answer
 * itself never rests on a variable-time comparison.
 */
static int
sq_client_by_token_hash(cs_store *cs, const uint8_t hash[32], cs_client **out)
{
	int rc;

	rc = client_fetch(S(cs), ST_CLI_BY_HASH, hash, 32, out);
	if (rc == 0 && (CRYPTO_memcmp((*out)->token_hash, hash, 32) != 0 ||
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
static int
sq_client_list(cs_store *cs, cs_client ***out, size_t *n)
{
	struct conn *c;
	sqlite3_stmt *st;
	cs_client **cl = NULL;
	void *arr = NULL;
	size_t i;
	int rc;

	*n = 0;
	if ((rc = read_conn(S(cs), &c)) != 0 ||
	    (rc = prep(c, ST_CLI_LIST, &st)) != 0)
		goto out;
	rc = fetch_all(st, SQLITE_OK, &client_kind, &arr, n, "list clients");
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
	return write_leave(s, own, rc);
}

static int
sq_client_revoke(cs_store *cs, const char *name, int64_t at)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = prep(c, ST_CLI_REVOKE, &st)) == 0)
		rc = run(st, bind_text(st, 1, name) ||
		    sqlite3_bind_int64(st, 2, at), "revoke client");
	rc = write_found(S(cs), c, own, rc, "revoke: no active client", name);
out:
	return rc;
}

static int
sq_grant_add(cs_store *cs, const char *client_name, const cs_grant *g)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = prep(c, ST_GRANT_ADD, &st)) == 0)
		rc = run(st, bind_text(st, 1, client_name) ||
		    bind_text(st, 2, g->types) ||
		    bind_text(st, 3, g->issuer_code) ||
		    bind_text(st, 4, g->issuer_name), "add grant");
	rc = write_found(S(cs), c, own, rc, "grant: no client", client_name);
out:
	return rc;
}

/* --- audit ---------------------------------------------------------- */

static int
sq_audit_append(cs_store *cs, const cs_audit_rec *a)
{
	struct conn *c;
	sqlite3_stmt *st;
	int own, rc;

	if ((rc = write_enter(S(cs), &c, &own)) != 0)
		goto out;
	if ((rc = prep(c, ST_AUDIT_PUT, &st)) == 0)
		rc = run(st, sqlite3_bind_int64(st, 1, a->at_ms) ||
		    bind_text(st, 2, a->client) || bind_text(st, 3, a->action) ||
		    bind_text(st, 4, a->target) || bind_text(st, 5, a->holder) ||
		    bind_text(st, 6, a->purpose) ||
		    bind_text(st, 7, a->service_item) ||
		    bind_text(st, 8, a->case_ref) ||
		    sqlite3_bind_int64(st, 9, a->result_count) ||
		    bind_text(st, 10, a->remote) ||
		    bind_text(st, 11, a->request_id) ||
		    bind_text(st, 12, a->result), "append audit");
	/* The first record of a chunk: the one before it is full. */
	if (rc == 0 && (sqlite3_last_insert_rowid(c->db) &
	    ((1 << AUDIT_CHUNK_SHIFT) - 1)) == 0)
		rc = index_audit_chunks(c);
	rc = write_leave(S(cs), own, rc);
out:
	return rc;
}

/*
 * The cached audit query for the filters in mask.  Parameters keep their
 * numbers in every variant (?1 after_seq ... ?8 limit), so one binding
 * serves them all; ?8 is always used, so ?1..?8 always exist.
 *
 * A holder or target filter has no index on the audit table (schema
 * version 4): sq_audit_query reads keyed chunks one at a time through
 * audit_keys (AF_KEYED: ?9 the key, ?10 the chunk), each at most a chunk's
 * matches, then scans the records from ?10, the first sequence number not
 * keyed.  Every record is compared in full either way.
 */
static int
prep_audit(struct conn *c, unsigned mask, sqlite3_stmt **out)
{
	static const char *const term[] = {
		" AND client = ?2", " AND action = ?3", " AND holder = ?4",
		" AND target = ?5", " AND at_ms >= ?6", " AND at_ms < ?7",
		/* Literals, so that the partial index audit_denied serves
		 * the second (schema version 5). */
		" AND result IS NULL", " AND result = 'denied'",
	};
	char sql[1024];
	size_t i, len;
	int rc = 0;

	if (c->audit[mask] != NULL)
		goto out;
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT " AUDIT_COLS " FROM "
	    "audit WHERE %s", (mask & AF_KEYED) ? "seq IN (SELECT seq FROM "
	    "audit_keys WHERE chunk = ?10 AND key = ?9 AND seq > ?1)" :
	    (mask & (AF_HOLDER | AF_TARGET)) ? "seq >= max(?1 + 1, ?10)" :
	    "seq > ?1");
	for (i = 0; i < sizeof(term) / sizeof(term[0]); i++)
		if (mask & (1u << i))
			len += (size_t)snprintf(sql + len, sizeof(sql) - len,
			    "%s", term[i]);
	snprintf(sql + len, sizeof(sql) - len, " ORDER BY seq LIMIT ?8");
	if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &c->audit[mask], NULL) != SQLITE_OK)
		rc = cs_err_set(CS_ESTORE, "store: prepare audit query: %s",
		    sqlite3_errmsg(c->db));
out:
	*out = c->audit[mask];
	return rc;
}

/* The last 12 characters of s (all of it when shorter), as SQLite's
 * substr(s, -12) counts them: UTF-8 characters, not bytes. */
static const char *
tail12(const char *s)
{
	const char *p = s + strlen(s);
	int n = 0;

	while (p > s && n < 12) {
		p--;
		if (((unsigned char)*p & 0xc0) != 0x80)
			n++;
	}
	return p;
}

/* ?1..?8 of an audit query, limit rows at most. */
static int
bind_audit(sqlite3_stmt *st, const cs_audit_filter *f, int limit)
{
	return sqlite3_bind_int64(st, 1, f->after_seq) ||
	    bind_text(st, 2, f->client) || bind_text(st, 3, f->action) ||
	    bind_text(st, 4, f->holder) || bind_text(st, 5, f->target) ||
	    sqlite3_bind_int64(st, 6, f->since_ms) ||
	    sqlite3_bind_int64(st, 7, f->until_ms) ||
	    sqlite3_bind_int(st, 8, limit);
}

/* A holder or target filter (prep_audit): the keyed chunks from
 * after_seq's on, in order, until limit rows; then the rest by scan. */
static int
audit_by_key(struct conn *c, const cs_audit_filter *f, unsigned mask,
    int limit, void **arr, size_t *n)
{
	sqlite3_stmt *st;
	char *key = f->holder != NULL ? sqlite3_mprintf("h%s", f->holder) :
	    sqlite3_mprintf("t%s", tail12(f->target));
	int64_t keyed = -1, ch;
	size_t cap = 0;
	int rc;

	if (key == NULL)
		return nomem();
	if ((rc = prep(c, ST_AUDIT_KEYED, &st)) == 0)
		rc = fetch_int(st, SQLITE_OK, &keyed, "audit chunks");
	for (ch = f->after_seq >> AUDIT_CHUNK_SHIFT; rc == 0 && ch <= keyed &&
	    *n < (size_t)limit; ch++)
		if ((rc = prep_audit(c, mask | AF_KEYED, &st)) == 0)
			rc = fetch_append(st, bind_audit(st, f, limit - (int)*n) ||
			    bind_text(st, 9, key) || sqlite3_bind_int64(st, 10, ch),
			    &audit_kind, arr, n, &cap, "query audit");
	if (rc == 0 && *n < (size_t)limit &&
	    (rc = prep_audit(c, mask, &st)) == 0)
		rc = fetch_append(st, bind_audit(st, f, limit - (int)*n) ||
		    sqlite3_bind_int64(st, 10, (keyed + 1) << AUDIT_CHUNK_SHIFT),
		    &audit_kind, arr, n, &cap, "query audit");
	sqlite3_free(key);
	return rc;
}

/* since_ms is inclusive, until_ms exclusive: consecutive windows neither
 * overlap nor leave gaps. */
static int
sq_audit_query(cs_store *cs, const cs_audit_filter *f, cs_audit_rec ***out,
    size_t *n)
{
	struct conn *c;
	sqlite3_stmt *st;
	void *arr = NULL;
	unsigned mask;
	int rc, limit;

	*n = 0;
	limit = f->limit <= 0 ? AUDIT_LIMIT_DEFAULT :
	    f->limit > AUDIT_LIMIT_MAX ? AUDIT_LIMIT_MAX : f->limit;
	mask = (f->client ? AF_CLIENT : 0) | (f->action ? AF_ACTION : 0) |
	    (f->holder ? AF_HOLDER : 0) | (f->target ? AF_TARGET : 0) |
	    (f->since_ms ? AF_SINCE : 0) | (f->until_ms ? AF_UNTIL : 0) |
	    (f->result == NULL ? 0 : strcmp(f->result, "ok") == 0 ? AF_OK :
	    AF_DENIED);
	if ((rc = read_conn(S(cs), &c)) != 0)
		goto out;
	if (mask & (AF_HOLDER | AF_TARGET))
		rc = audit_by_key(c, f, mask, limit, &arr, n);
	else if ((rc = prep_audit(c, mask, &st)) == 0)
		rc = fetch_all(st, bind_audit(st, f, limit), &audit_kind, &arr,
		    n, "query audit");
out:
	*out = arr;
	return rc;
}

/* --- checkpoints ---------------------------------------------------- */

/*
 * SQLite checkpoints the WAL into the database (writing every page again,
 * then syncing the database file) inside the COMMIT that takes the WAL past
 * 1,000 pages, with the writer held.  Under group commit that COMMIT is the
 * leader's, so every writer and every audited read waited for it: at a
 * million licences, where each audit record dirties two random index pages,
 * reads saw p50 latencies of 200 ms.  Instead the writer's WAL hook wakes a
 * thread that checkpoints PASSIVE on its own connection, beside the writer
 * (WAL allows a checkpoint and a write transaction at once).
 *
 * SQLite starts the WAL over only when a write transaction begins with
 * every frame copied, which a background checkpoint chasing a busy writer
 * rarely leaves it.  So once the thread has copied all but the last
 * CKPT_TAIL_PAGES frames, the next commit past CKPT_PAGES copies that tail
 * itself (a few pages and the syncs), and the writer's next transaction
 * starts the WAL over.  Past CKPT_HARD_PAGES (128 MiB) the commit
 * checkpoints itself whatever the thread is doing.
 */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sstore *s = arg;

	int done = atomic_load(&s->ckpt_done);

	if (pages < done)  /* the WAL started over */
		atomic_store(&s->ckpt_done, done = 0);
	if (pages < CKPT_PAGES)
		return SQLITE_OK;
	if (!s->has_ckpt || pages >= CKPT_HARD_PAGES ||
	    pages - done <= CKPT_TAIL_PAGES) {
		if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
		    NULL, NULL) == SQLITE_OK)
			atomic_store(&s->ckpt_done, pages);
	} else if (pages - done >= CKPT_PAGES) {
		pthread_mutex_lock(&s->ckpt_mu);
		s->ckpt_want = 1;
		pthread_cond_signal(&s->ckpt_cv);
		pthread_mutex_unlock(&s->ckpt_mu);
	}
	return SQLITE_OK;
}

static void *
ckpt_main(void *arg)
{
	struct sstore *s = arg;
	int log, done;

	pthread_mutex_lock(&s->ckpt_mu);
	for (;;) {
		while (!s->ckpt_want && !s->ckpt_stop)
			pthread_cond_wait(&s->ckpt_cv, &s->ckpt_mu);
		if (s->ckpt_stop)
			break;
		s->ckpt_want = 0;
		pthread_mutex_unlock(&s->ckpt_mu);
		if (sqlite3_wal_checkpoint_v2(s->ckpt.db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, &log, &done) == SQLITE_OK)
			atomic_store(&s->ckpt_done, done);
		pthread_mutex_lock(&s->ckpt_mu);
	}
	pthread_mutex_unlock(&s->ckpt_mu);
	return NULL;
}

/* Start the checkpointer.  Without it (no thread, no connection) the hook
 * checkpoints on the writer, as SQLite would. */
static void
ckpt_start(struct sstore *s)
{
	pthread_mutex_init(&s->ckpt_mu, NULL);
	pthread_cond_init(&s->ckpt_cv, NULL);
	if (conn_open(s->path, 0, &s->ckpt) == 0 &&
	    exec_sql(s->ckpt.db, "PRAGMA query_only = OFF;"
	    "PRAGMA synchronous = FULL", "open checkpointer") == 0 &&
	    pthread_create(&s->ckpt_thread, NULL, ckpt_main, s) == 0)
		s->has_ckpt = 1;
	else
		conn_close(&s->ckpt);
	sqlite3_wal_hook(s->writer.db, wal_hook, s);
}

static void
ckpt_end(struct sstore *s)
{
	if (s->has_ckpt) {
		pthread_mutex_lock(&s->ckpt_mu);
		s->ckpt_stop = 1;
		pthread_cond_signal(&s->ckpt_cv);
		pthread_mutex_unlock(&s->ckpt_mu);
		pthread_join(s->ckpt_thread, NULL);
		s->has_ckpt = 0;
	}
	conn_close(&s->ckpt);
}

/* --- maintenance ---------------------------------------------------- */

/* Reads the schema version from the file itself, so it proves the
 * database can be read and is the one this binary migrated. */
/*
 * Whether writes still find the disk full: the last one did, and the
 * database's file system has not got ROOM_AGAIN_BYTES free since.  Space
 * that returns with no write to notice it counts too, so /healthz recovers
 * by itself; a write that fails again says full again.
 */
static int
out_of_space(struct sstore *s)
{
	struct statvfs fs;

	return atomic_load(&s->disk_full) && (statvfs(s->path, &fs) != 0 ||
	    (uint64_t)fs.f_bavail * fs.f_frsize < ROOM_AGAIN_BYTES);
}

static int
sq_ping(cs_store *cs)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	int rc;

	if ((rc = read_stmt(S(cs), ST_VERSION, &st)) == 0 &&
	    (rc = fetch_int(st, SQLITE_OK, &v, "ping")) == 0 &&
	    v != SCHEMA_VERSION)
		rc = cs_err_set(CS_ESTORE, "store: ping: schema version is %lld, "
		    "expected %d", (long long)v, SCHEMA_VERSION);
	if (rc == 0 && out_of_space(S(cs)))
		rc = cs_err_set(CS_EFULL, "store: the disk is full: the last "
		    "write found no space, and less than %d KiB is free",
		    ROOM_AGAIN_BYTES / 1024);
	return rc;
}

/*
 * Copy the database page by page (sqlite3_backup) in one step, which reads
 * one WAL snapshot: consistent, and writers go on meanwhile.  The source is
 * a connection of its own so a backup never disturbs a thread's reader or
 * sees a transaction in progress.  O_EXCL refuses an existing file
 * atomically: a backup never overwrites anything; the copy holds personal
 * data, so only its owner may read it.  A failed copy is removed.
 */
static int
sq_backup(cs_store *cs, const char *path)
{
	struct conn src;
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int fd, rc = 0, created = 0, step = SQLITE_ERROR;

	memset(&src, 0, sizeof(src));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		rc = cs_err_set(CS_EIO, "store: backup: %s: %s", path,
		    strerror(errno));
		goto out;
	}
	close(fd);
	created = 1;
	if ((rc = conn_open(S(cs)->path, 0, &src)) != 0)
		goto out;
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK &&
	    (b = sqlite3_backup_init(dst, "main", src.db, "main")) != NULL) {
		step = sqlite3_backup_step(b, -1);
		sqlite3_backup_finish(b);
	}
	if (step != SQLITE_DONE)
		rc = cs_err_set(CS_ESTORE, "store: backup to %s: %s", path,
		    dst ? sqlite3_errmsg(dst) : "out of memory");
out:
	sqlite3_close(dst);
	conn_close(&src);
	if (rc != 0 && created)
		unlink(path);
	return rc;
}

/*
 * Close every connection; the last one to close checkpoints the WAL into
 * the database file and removes it.  No other thread may be using the
 * store (or be exiting after using it) by now.  A transaction the calling
 * thread left open is rolled back.
 */
static void
sq_close(cs_store *cs)
{
	struct sstore *s = S(cs);
	struct slot *sl, *next;

	if (s != NULL) {
		if (s->has_key) {
			sl = pthread_getspecific(s->key);
			while (sl != NULL && sl->depth > 0)
				(void)tx_end(s, sl, 0);
			pthread_key_delete(s->key);
		}
		if (s->ckpt_started) {
			ckpt_end(s);
			pthread_mutex_destroy(&s->ckpt_mu);
			pthread_cond_destroy(&s->ckpt_cv);
		}
		for (sl = s->slots; sl != NULL; sl = next) {
			next = sl->next;
			conn_close(&sl->reader);
			free(sl);
		}
		conn_close(&s->writer);
		cs_zrecord_packer_free(s->packer);
		cs_lcache_free(s->lc);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->tok_cv);
		pthread_cond_destroy(&s->lead_cv);
		pthread_mutex_destroy(&s->reglock);
		free(s->path);
		free(s);
	}
}

static const struct cs_store_ops sqlite_ops = {
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.licence_put = sq_licence_put,
	.licence_get = sq_licence_get,
	.licence_by_ref = sq_licence_by_ref,
	.licences_by_holder = sq_licences_by_holder,
	.licences_by_bundle = sq_licences_by_bundle,
	.licences_by_number = sq_licences_by_number,
	.licence_next_seq = sq_licence_next_seq,
	.licence_number_taken = sq_licence_number_taken,
	.licence_count = sq_licence_count,
	.event_append = sq_event_append,
	.events_for = sq_events_for,
	.bundle_put = sq_bundle_put,
	.bundle_by_ref = sq_bundle_by_ref,
	.client_add = sq_client_add,
	.client_get = sq_client_get,
	.client_by_token_hash = sq_client_by_token_hash,
	.client_list = sq_client_list,
	.client_revoke = sq_client_revoke,
	.grant_add = sq_grant_add,
	.audit_append = sq_audit_append,
	.audit_query = sq_audit_query,
	.ping = sq_ping,
	.backup = sq_backup,
	.close = sq_close,
};

/* The database holds personal data (resident ID numbers), so a new file is
 * made readable by its owner only; SQLite gives its -wal and -shm files the
 * same mode.  An existing file keeps the mode its operator chose. */
static void
create_private(const char *path)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) != -1)
		close(fd);
}

int
cs_store_open_sqlite(const char *path, cs_store **out)
{
	struct sstore *s = NULL;
	int rc = 0;

	*out = NULL;
	if (!sqlite3_threadsafe()) {
		rc = cs_err_set(CS_ESTORE, "store: SQLite is built without "
		    "thread support");
		goto out;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = nomem();
		goto out;
	}
	s->base.ops = &sqlite_ops;
	pthread_once(&sqlite_once, sqlite_init);
	pthread_mutex_init(&s->mu, NULL);
	cs_cond_init_mono(&s->tok_cv);
	cs_cond_init_mono(&s->lead_cv);
	s->window_ms = GROUP_WINDOW_MS;
	pthread_mutex_init(&s->reglock, NULL);
	if (pthread_key_create(&s->key, slot_vacate) != 0) {
		rc = cs_err_set(CS_ESTORE, "store: no thread key left");
		goto out;
	}
	s->has_key = 1;
	if ((s->path = strdup(path)) == NULL ||
	    (s->lc = cs_lcache_new(LCACHE_BYTES)) == NULL) {
		rc = nomem();
		goto out;
	}
	/* Without a packer (out of memory) records are stored as text. */
	s->packer = cs_zrecord_packer_new();
	create_private(path);
	if ((rc = conn_open(path, 1, &s->writer)) == 0 &&
	    (rc = migrate(&s->writer, path)) == 0) {
		ckpt_start(s);
		s->ckpt_started = 1;
	}
out:
	if (rc == 0)
		*out = &s->base;
	else
		sq_close(s ? &s->base : NULL);
	return rc;
}

void
cs_store_sqlite_set_window(cs_store *cs, long ms)
{
	struct sstore *s = S(cs);

	pthread_mutex_lock(&s->mu);
	s->window_ms = ms < 0 ? 0 : ms;
	pthread_mutex_unlock(&s->mu);
}

void
cs_store_sqlite_stats(cs_store *cs, uint64_t *groups, uint64_t *members)
{
	struct sstore *s = S(cs);

	pthread_mutex_lock(&s->mu);
	*groups = s->n_groups;
	*members = s->n_members;
	pthread_mutex_unlock(&s->mu);
}
