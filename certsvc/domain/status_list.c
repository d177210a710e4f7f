/*
 * status_list.c: the signed status list of SPEC §11 built from the store
 * (status_list.h has its layout).  One scan of the licences
 * (cs_store_status_scan: type, issuer, id, sequence number, latest event)
 * gathers them by type and issuer; each group is then sorted by serial
 * and version, and becomes one entry.  Nothing but the states and the
 * latest versions is kept, so a list shows no more than what every
 * licence's own verification already answers (SPEC §11: everyone
 * downloads the same list).
 */
#include "service_internal.h"

#include <stdlib.h>
#include <string.h>

#include "cbor_walk.h"
#include "codes.h"
#include "cose.h"
#include "cs_err.h"
#include "encode.h"
#include "sbuf.h"
#include "status_list.h"

/* A state only older versions have: a newer one replaced them. */
#define SUPERSEDED 4
/* Not a serial certsvc numbered (see item.v). */
#define NOT_NUMERIC UINT64_MAX

/* One licence of a group. */
struct item {
	/* The serial read as a base-36 number; NOT_NUMERIC when it is not
	 * one in its shortest spelling (a leading 0, a character outside
	 * 0-9A-Z, too long), or the id did not parse. */
	uint64_t v;
	char *id;            /* kept for NOT_NUMERIC only */
	uint16_t version;
	uint8_t state;       /* CS_SL_* or SUPERSEDED */
	uint8_t assigned;    /* its serial is its own sequence number */
};

struct group {
	char *type, *issuer;
	struct item *it;
	size_t n, cap;
};

struct build {
	struct group *g;
	size_t ng, cap;
	size_t last;         /* the group the previous licence joined */
};

/* cs_sl_serial_number of s[0..n). */
static uint64_t
serial_number_n(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i;

	/* 12 characters stay below 2^63; certsvc's serials take at most 7
	 * before 78 billion licences of one type and issuer. */
	if (n == 0 || n > 12 || s[0] == '0')
		return NOT_NUMERIC;
	for (i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			v = v * 36 + (uint64_t)(s[i] - '0');
		else if (s[i] >= 'A' && s[i] <= 'Z')
			v = v * 36 + (uint64_t)(s[i] - 'A' + 10);
		else
			return NOT_NUMERIC;
	}
	return v;
}

uint64_t
cs_sl_serial_number(const char *s)
{
	return serial_number_n(s, strlen(s));
}

static void
base36_format(uint64_t v, char out[16])
{
	char tmp[16];
	size_t n = 0, i;

	do {
		tmp[n++] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[v % 36];
		v /= 36;
	} while (v > 0);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

static uint8_t
state_of(const char *action)
{
	if (action == NULL || strcmp(action, "reinstate") == 0)
		return CS_SL_IN_FORCE;
	if (strcmp(action, "suspend") == 0)
		return CS_SL_SUSPENDED;
	if (strcmp(action, "revoke") == 0)
		return CS_SL_REVOKED;
	return SUPERSEDED;
}

static struct group *
group_for(struct build *b, const char *type, const char *issuer)
{
	struct group *g;
	size_t i;

	if (b->ng > 0 && strcmp(b->g[b->last].type, type) == 0 &&
	    strcmp(b->g[b->last].issuer, issuer) == 0)
		return &b->g[b->last];
	for (i = 0; i < b->ng; i++)
		if (strcmp(b->g[i].type, type) == 0 &&
		    strcmp(b->g[i].issuer, issuer) == 0)
			return &b->g[b->last = i];
	if (b->ng == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		struct group *ng = realloc(b->g, cap * sizeof(*ng));
		if (ng == NULL)
			return NULL;
		b->g = ng;
		b->cap = cap;
	}
	g = &b->g[b->ng];
	memset(g, 0, sizeof(*g));
	g->type = strdup(type);
	g->issuer = strdup(issuer);
	if (g->type == NULL || g->issuer == NULL) {
		free(g->type);
		free(g->issuer);
		return NULL;
	}
	b->last = b->ng++;
	return g;
}

/*
 * The serial (as a number) and version of a stored licence's id when it
 * reads ROOT.type.issuer.SERIAL.VVV.C with the row's own type and issuer.
 * The store holds only identifiers checked in full when they were issued;
 * parsing each again (alphabets, the MOD 37,36 check character) took a
 * fifth of a build's CPU.  0 for any other shape: the caller parses it in
 * full, as before.
 */
static int
quick_id(const cs_status_row *row, uint64_t *v, int *version)
{
	static const char root[] = CS_LICENCE_ID_ROOT ".";
	size_t tl = strlen(row->type), il = strlen(row->issuer_code), n;
	const char *p = row->id, *s;

	if (strncmp(p, root, sizeof(root) - 1) != 0)
		return 0;
	p += sizeof(root) - 1;
	if (strncmp(p, row->type, tl) != 0 || p[tl] != '.')
		return 0;
	p += tl + 1;
	if (strncmp(p, row->issuer_code, il) != 0 || p[il] != '.')
		return 0;
	s = p + il + 1;
	n = strlen(s);
	/* SERIAL "." VVV "." C */
	if (n < 7 || n - 6 > CS_SERIAL_MAX || s[n - 6] != '.' ||
	    s[n - 2] != '.' || s[n - 5] < '0' || s[n - 5] > '9' ||
	    s[n - 4] < '0' || s[n - 4] > '9' || s[n - 3] < '0' ||
	    s[n - 3] > '9' || memchr(s, '.', n - 6) != NULL)
		return 0;
	*v = serial_number_n(s, n - 6);
	*version = (s[n - 5] - '0') * 100 + (s[n - 4] - '0') * 10 +
	    (s[n - 3] - '0');
	return 1;
}

/* The scan's callback: one licence into its group. */
static int
add_row(void *ctx, const cs_status_row *row)
{
	struct build *b = ctx;
	struct group *g;
	struct item *it;
	cs_licence_id id;
	uint64_t v;
	int version;

	if ((g = group_for(b, row->type, row->issuer_code)) == NULL)
		return cs_err_set(CS_ENOMEM, "status list: out of memory");
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		struct item *ni = realloc(g->it, cap * sizeof(*ni));
		if (ni == NULL)
			return cs_err_set(CS_ENOMEM, "status list: out of memory");
		g->it = ni;
		g->cap = cap;
	}
	it = &g->it[g->n];
	memset(it, 0, sizeof(*it));
	it->state = state_of(row->action);
	it->v = NOT_NUMERIC;
	if (quick_id(row, &v, &version)) {
		it->v = v;
		it->version = (uint16_t)version;
		it->assigned = it->v != NOT_NUMERIC && (int64_t)it->v == row->seq;
	} else if (cs_licence_id_parse(row->id, &id) == 0) {
		it->v = cs_sl_serial_number(id.serial);
		it->version = (uint16_t)id.version;
		it->assigned = it->v != NOT_NUMERIC && (int64_t)it->v == row->seq;
	}
	if (it->v == NOT_NUMERIC && (it->id = strdup(row->id)) == NULL)
		return cs_err_set(CS_ENOMEM, "status list: out of memory");
	g->n++;
	return 0;
}

/* The length of an id without ".VVV.C": its type, issuer and serial. */
static size_t
serial_len(const struct item *it)
{
	size_t n = strlen(it->id);

	return it->version > 0 && n > 6 ? n - 6 : n;
}

/* Whether two licences are versions of one serial. */
static int
same_serial(const struct item *a, const struct item *b)
{
	if (a->v != b->v)
		return 0;
	if (a->v != NOT_NUMERIC)
		return 1;
	return serial_len(a) == serial_len(b) &&
	    memcmp(a->id, b->id, serial_len(a)) == 0;
}

/* By serial, then version: a serial's versions end with its latest. */
static int
item_cmp(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int c;

	if (a->v != b->v)
		return a->v < b->v ? -1 : 1;
	if (a->v == NOT_NUMERIC && !same_serial(a, b) &&
	    (c = strcmp(a->id, b->id)) != 0)
		return c;
	return (int)a->version - (int)b->version;
}

static int
group_cmp(const void *pa, const void *pb)
{
	const struct group *a = pa, *b = pb;
	int c = strcmp(a->type, b->type);

	return c ? c : strcmp(a->issuer, b->issuer);
}

/* A latest version's state on the list: a latest version that says it
 * was superseded (no newer one stored) counts as in force. */
static uint8_t
listed_state(uint8_t s)
{
	return s == SUPERSEDED ? CS_SL_IN_FORCE : s;
}

/* Sort a group's licences, unless they came sorted: the store reads them
 * in numbering order (SQLite) or the order stored (PostgreSQL), which is
 * already by serial and version for a library without amendments, and
 * sorting a million licences again took a fifth of a build's CPU. */
static void
items_sort(struct group *g)
{
	size_t i;

	for (i = 1; i < g->n; i++)
		if (item_cmp(&g->it[i - 1], &g->it[i]) > 0)
			break;
	if (i < g->n)
		qsort(g->it, g->n, sizeof(*g->it), item_cmp);
}

/* What one group's entry holds beyond its bytes. */
struct extras {
	cs_sbuf v, x;        /* the "v" and "x" maps' contents */
	size_t nv, nx;
};

/* The run it[0..k) of one serial: its byte, or its "x" member. */
static int
put_run(const struct group *g, const struct item *it, size_t k,
    uint8_t *bytes, struct extras *e)
{
	const struct item *latest = &it[k - 1];
	char serial[16], id[CS_LICENCE_ID_MAX];
	size_t i;
	int assigned = 0;

	for (i = 0; i < k; i++)
		assigned |= it[i].assigned;
	if (assigned) {
		bytes[latest->v - 1] = listed_state(latest->state);
		if (latest->version > 1) {
			cs_cbor_int(&e->v, (int64_t)latest->v);
			cs_cbor_int(&e->v, latest->version);
			e->nv++;
		}
		return 0;
	}
	if (latest->v == NOT_NUMERIC) {
		cs_cbor_text(&e->x, latest->id);
	} else {
		base36_format(latest->v, serial);
		if (cs_licence_id_format(g->type, g->issuer, serial,
		    latest->version, id) != 0)
			return CS_EINVAL;
		cs_cbor_text(&e->x, id);
	}
	cs_cbor_int(&e->x, listed_state(latest->state));
	e->nx++;
	return 0;
}

/* One group as its entry, appended to out. */
static int
put_entry(struct group *g, cs_sbuf *out)
{
	struct extras e = {CS_SBUF_INIT, CS_SBUF_INIT, 0, 0};
	uint8_t *bytes = NULL, *z = NULL;
	uint64_t n = 0;
	size_t i, j, zlen = 0;
	int rc = 0;

	items_sort(g);
	for (i = 0; i < g->n; i++)
		if (g->it[i].assigned && g->it[i].v > n)
			n = g->it[i].v;
	if (n > CS_SL_MAX) {
		rc = cs_err_set(CS_ETOOBIG, "status list: %s.%s holds serial "
		    "%llu, past the list's %d", g->type, g->issuer,
		    (unsigned long long)n, CS_SL_MAX);
		goto out;
	}
	if ((bytes = malloc(n ? n : 1)) == NULL)
		goto nomem;
	memset(bytes, CS_SL_NEVER, n);
	for (i = 0; i < g->n && rc == 0; i = j) {
		for (j = i + 1; j < g->n && same_serial(&g->it[i], &g->it[j]);
		    j++)
			;
		rc = put_run(g, &g->it[i], j - i, bytes, &e);
	}
	if (rc != 0)
		goto out;
	/* Level 9: the list is built once a minute at most and fetched by
	 * every verifier; runs of 0 shrink to almost nothing at any level. */
	if ((rc = cs_zlib_compress(bytes, (size_t)n, 9, &z, &zlen)) != 0)
		goto out;
	cs_cbor_head(out, CBOR_MAJOR_MAP, 4 + (e.nv > 0) + (e.nx > 0));
	cs_cbor_text(out, "t");
	cs_cbor_text(out, g->type);
	cs_cbor_text(out, "i");
	cs_cbor_text(out, g->issuer);
	cs_cbor_text(out, "n");
	cs_cbor_int(out, (int64_t)n);
	cs_cbor_text(out, "s");
	cs_cbor_bstr(out, z, zlen);
	if (e.nv > 0) {
		cs_cbor_text(out, "v");
		cs_cbor_head(out, CBOR_MAJOR_MAP, e.nv);
		cs_sb_add(out, e.v.p, e.v.len);
	}
	if (e.nx > 0) {
		cs_cbor_text(out, "x");
		cs_cbor_head(out, CBOR_MAJOR_MAP, e.nx);
		cs_sb_add(out, e.x.p, e.x.len);
	}
	if (e.v.failed || e.x.failed)
		goto nomem;
	goto out;
nomem:
	rc = cs_err_set(CS_ENOMEM, "status list: out of memory");
out:
	cs_sb_free(&e.v);
	cs_sb_free(&e.x);
	free(bytes);
	free(z);
	return rc;
}

static void
build_free(struct build *b)
{
	size_t i, j;

	for (i = 0; i < b->ng; i++) {
		for (j = 0; j < b->g[i].n; j++)
			free(b->g[i].it[j].id);
		free(b->g[i].it);
		free(b->g[i].type);
		free(b->g[i].issuer);
	}
	free(b->g);
}

int
cs_status_list_make(cs_service *svc, int64_t iat, uint8_t **out,
    size_t *len)
{
	struct build b = {NULL, 0, 0, 0};
	cs_sbuf p = CS_SBUF_INIT;
	const cs_key *key = NULL;
	size_t i;
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = cs_store_status_scan(svc->store, add_row, &b)) != 0)
		goto out;
	if (b.ng > 1)  /* qsort takes no NULL, even for 0 elements */
		qsort(b.g, b.ng, sizeof(*b.g), group_cmp);
	cs_cbor_head(&p, CBOR_MAJOR_MAP, 4);
	cs_cbor_int(&p, 1);
	cs_cbor_text(&p, svc->cfg.library_name);
	cs_cbor_int(&p, 6);
	cs_cbor_int(&p, iat);
	cs_cbor_int(&p, 4);
	cs_cbor_int(&p, iat + svc->cfg.status_list_ttl);
	cs_cbor_int(&p, CS_SL_CLAIM);
	cs_cbor_head(&p, CBOR_MAJOR_ARRAY, b.ng);
	for (i = 0; i < b.ng && rc == 0; i++)
		rc = put_entry(&b.g[i], &p);
	if (rc != 0)
		goto out;
	if (p.failed) {
		rc = cs_err_set(CS_ENOMEM, "status list: out of memory");
		goto out;
	}
	if ((rc = cs_service_signer(svc, &key)) != 0)
		goto out;
	rc = cs_service_signed(svc, key, cs_cose_sign1(key,
	    (const uint8_t *)p.p, p.len, out, len));
out:
	cs_sb_free(&p);
	build_free(&b);
	return rc;
}
