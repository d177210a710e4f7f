/* licence_row.c: a licence row as one allocation (store.h). */
#include "store.h"
#include "strpack.h"

#include <stdlib.h>

/* The row's strings, in one order for packing and for pointing at copies. */
#define ROW_STRINGS(r) {(r)->id, (r)->type, (r)->issuer_code, \
	(r)->holder_code, (r)->number, (r)->client, (r)->approval_ref, \
	(r)->request_hash, (r)->bundle, (r)->supersedes, (r)->record}
#define ROW_STRING_SLOTS(d) {&(d)->id, &(d)->type, &(d)->issuer_code, \
	&(d)->holder_code, &(d)->number, &(d)->client, &(d)->approval_ref, \
	&(d)->request_hash, &(d)->bundle, &(d)->supersedes, &(d)->record}
#define NSTRINGS 11

size_t
cs_licence_row_size(const cs_licence_row *r)
{
	const char *src[NSTRINGS] = ROW_STRINGS(r);

	return sizeof(*r) + cs_strpack_size(src, NSTRINGS);
}

cs_licence_row *
cs_licence_row_pack(const cs_licence_row *r, void *at)
{
	const char *src[NSTRINGS] = ROW_STRINGS(r);
	cs_licence_row *d = at;
	char **const dst[NSTRINGS] = ROW_STRING_SLOTS(d);

	*d = *r;
	cs_strpack(src, dst, NSTRINGS, (char *)(d + 1));
	return d;
}

cs_licence_row *
cs_licence_row_copy(const cs_licence_row *r)
{
	void *p = malloc(cs_licence_row_size(r));

	return p != NULL ? cs_licence_row_pack(r, p) : NULL;
}

void
cs_licence_row_free(cs_licence_row *r)
{
	free(r);
}

void
cs_licence_rows_free(cs_licence_row **rows, size_t n)
{
	size_t i;

	for (i = 0; rows != NULL && i < n; i++)
		free(rows[i]);
	free(rows);
}
