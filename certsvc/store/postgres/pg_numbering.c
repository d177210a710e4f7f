/*
 * pg_numbering: the numbers a transaction has taken, kept on this side
 * so that a writer batch of several issuances of one type and issuer
 * sends the numbering upsert (PS_NEXT_SEQ_LOCK) once, not once a licence
 * (bench/README.md, "Issuance's round trips").
 *
 * Why it is sound: the first upsert of a (type, issuer) in a transaction
 * takes the numbering lock and the counter row's lock, both held until
 * the transaction ends, so no other node's numbering moves that counter
 * meanwhile; what moves it is this transaction's own licence inserts (the
 * trigger cs_licence_insert), which pg_licence_put notes here.  The
 * database's answer, last + 1, is then what this
 * keeps.  Anything that may have undone part of the transaction on the
 * server, and with it those locks (a level rolled back, a failed write
 * rolled back to its savepoint, an import, a lost connection), forgets
 * it all: the next call asks the database again.  Only the token's
 * holder touches it, so it needs no lock.
 */
#include "store_pg_internal.h"

#include <string.h>

static struct pgnum *
find(struct pgstore *s, const char *type, const char *issuer_code)
{
	size_t i;

	for (i = 0; i < s->n_num; i++)
		if (strcmp(s->num[i].type, type) == 0 &&
		    strcmp(s->num[i].issuer, issuer_code) == 0)
			return &s->num[i];
	return NULL;
}

int
pg_num_get(struct pgstore *s, const char *type, const char *issuer_code,
    int64_t *next)
{
	const struct pgnum *n = find(s, type, issuer_code);

	if (n == NULL)
		return 0;
	*next = n->next;
	return 1;
}

/* The database said next for (type, issuer), under its locks; or a
 * licence of seq next - 1 was stored (only raising a number kept). */
static void
keep(struct pgstore *s, const char *type, const char *issuer_code,
    int64_t next, int from_db)
{
	struct pgnum *n = find(s, type, issuer_code);

	if (n != NULL) {
		if (next > n->next)
			n->next = next;
		return;
	}
	/* A licence put before any upsert of its pair: nothing locked yet,
	 * so nothing to keep.  Too long a key or too many pairs: ask the
	 * database each time, as without this. */
	if (!from_db || s->n_num == PG_NUM_MAX ||
	    strlen(type) >= sizeof(n->type) ||
	    strlen(issuer_code) >= sizeof(n->issuer))
		return;
	n = &s->num[s->n_num++];
	strcpy(n->type, type);
	strcpy(n->issuer, issuer_code);
	n->next = next;
}

void
pg_num_locked(struct pgstore *s, const char *type, const char *issuer_code,
    int64_t next)
{
	keep(s, type, issuer_code, next, 1);
}

void
pg_num_stored(struct pgstore *s, const char *type, const char *issuer_code,
    int64_t seq)
{
	keep(s, type, issuer_code, seq + 1, 0);
}

void
pg_num_forget(struct pgstore *s)
{
	s->n_num = 0;
}
