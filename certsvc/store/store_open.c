/*
 * store_open.c: the table of backends.  cs_store_open() picks the backend
 * whose URI scheme begins the --db setting.  It is a library of its own
 * (csstore_open) because it is the one place that knows every backend:
 * the store's interface (csstore) sits below the backends, this table
 * above them, so the layers link one way.  Adding a backend means adding
 * its folder under certsvc/store/ and one row in backends[] below.
 */
#include "store.h"

#include <string.h>
#include <strings.h>

#include "cs_err.h"
#include "store_pg.h"
#include "store_sqlite.h"

static int
open_sqlite(const char *db, long commit_window_ms, cs_store **out)
{
	int rc;

	if ((rc = cs_store_open_sqlite(db, out)) == 0)
		cs_store_sqlite_set_window(*out, commit_window_ms);
	return rc;
}

/* The PostgreSQL backend does no group commit of its own (store_pg.c):
 * the window is not used. */
static int
open_postgres(const char *db, long commit_window_ms, cs_store **out)
{
	return cs_store_open_pg(db, out);
}

static const char *const postgres_schemes[] = {"postgresql://",
	"postgres://", NULL};

/* The first backend one of whose URI schemes (compared without regard to
 * case, as RFC 3986 says) begins db; a backend without schemes takes any
 * db, so it comes last. */
static const struct backend {
	const char *const *schemes;
	int (*open)(const char *db, long commit_window_ms, cs_store **out);
} backends[] = {
	{postgres_schemes, open_postgres},
	{NULL, open_sqlite},
};

static int
names_backend(const struct backend *b, const char *db)
{
	const char *const *scheme;

	if (b->schemes == NULL)
		return 1;
	for (scheme = b->schemes; *scheme != NULL; scheme++)
		if (strncasecmp(db, *scheme, strlen(*scheme)) == 0)
			return 1;
	return 0;
}

int
cs_store_open(const char *db, long commit_window_ms, cs_store **out)
{
	size_t i;

	*out = NULL;
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (names_backend(&backends[i], db))
			return backends[i].open(db, commit_window_ms, out);
	return cs_err_set(CS_EUNSUPPORTED, "store: no backend for --db");
}
