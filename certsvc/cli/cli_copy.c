/* cli_copy.c: `certsvc copy`, a whole library from one database to
 * another (domain copy.h), with the progress on stderr and the verified
 * counts on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "copy.h"
#include "cs_err.h"

#define USAGE                                                                \
	"usage: certsvc copy --from DB --to DB [--batch N] [--verify-only]\n\n" \
	"Copy a whole library (clients with their grants and revocations,\n"   \
	"bundles, licences, status events, the audit log) from one database\n" \
	"to another, SQLite or PostgreSQL either way, keeping every id,\n"     \
	"sequence number, timestamp and record, then verify it: every row of\n" \
	"both sides is read back and compared.  DB is what --db takes: a\n"    \
	"postgresql:// URI or a SQLite file.  The target is created and\n"     \
	"migrated when new.  Nothing may write to it during the copy.\n\n"     \
	"Safe to run again: rows the target holds already, with the same\n"    \
	"content, are skipped, so a copy that was interrupted, or a source\n"  \
	"that has grown since, is completed.  A row the target holds with\n"   \
	"other content stops the copy, naming the table and the key; the\n"    \
	"batch it was in changes nothing.\n\n"                                  \
	"Prints \"verified: N licences, ...\" and exits 0 when the target\n"  \
	"holds exactly the source's rows; exits 1 naming the first\n"          \
	"difference or conflict, 2 on a usage error.\n"

/* A SQLite source that does not exist would be created empty and copied
 * as an empty library: a mistyped path must not look like success. */
static int
source_missing(const char *db)
{
	return strncasecmp(db, "postgres", 8) != 0 && access(db, F_OK) != 0;
}

static void
print_report(const cs_copy_report *r)
{
	size_t i;

	printf("verified:");
	for (i = 0; i < r->n; i++)
		printf("%s %lld %s", i ? "," : "", (long long)r->t[i].verified,
		    r->t[i].table);
	printf("\ncopied:");
	for (i = 0; i < r->n; i++)
		printf("%s %lld %s", i ? "," : "", (long long)r->t[i].copied,
		    r->t[i].table);
	printf("\ndigest: sha256:%s\n", r->digest);
}

int
cs_cmd_copy(int argc, char **argv)
{
	cs_opt opts[] = {
	    {"from", 1, "the database copied (SQLite file or postgresql:// URI)", NULL},
	    {"to", 1, "the database written (created and migrated when new)", NULL},
	    {"batch", 1, "rows per transaction (default 1000)", NULL},
	    {"verify-only", 0, "compare the two databases, copy nothing", NULL},
	    {NULL, 0, NULL, NULL}};
	cs_cli c = {.cmd = "copy", .opts = opts};
	cs_copy_opts o = {0};
	cs_copy_report r;
	const char *from, *to, *batch;
	char shown[512];
	char *end;
	int done, rc;

	rc = cs_cli_parse(&c, argc, argv, USAGE, 0, &done);
	if (done)
		goto out;
	from = cs_cli_opt(&c, "from");
	to = cs_cli_opt(&c, "to");
	batch = cs_cli_opt(&c, "batch");
	rc = 2;
	if (c.nargs != 0 || from == NULL || to == NULL) {
		fprintf(stderr, "certsvc copy: needs --from DB and --to DB, "
		    "and nothing else (see --help)\n");
		goto out;
	}
	if (batch != NULL) {
		o.batch = (size_t)strtoul(batch, &end, 10);
		if (*batch == '-' || *end != '\0' || o.batch == 0 ||
		    o.batch > 100000) {
			fprintf(stderr, "certsvc copy: --batch: a number of rows "
			    "from 1 to 100000\n");
			goto out;
		}
	}
	if (source_missing(from)) {
		cs_config_db_shown(from, shown, sizeof(shown));
		fprintf(stderr, "certsvc copy: --from %s: no such file\n", shown);
		rc = 1;
		goto out;
	}
	o.verify_only = cs_cli_opt(&c, "verify-only") != NULL;
	o.progress = stderr;
	if (cs_copy_run(from, to, &o, &r) != 0) {
		rc = cs_cli_fail(&c, NULL);
		goto out;
	}
	print_report(&r);
	rc = 0;
out:
	free(c.args);
	return rc;
}
