/*
 * peers.c: other libraries whose tokens verify here (SPEC §11, 通办):
 * added, updated and removed by an admin (service.h cs_peer_*), stored as
 * append-only rows (store.h cs_peer_row), and held in memory as a set of
 * (name, keyring, status list) for the verifiers (service_internal.h
 * cs_peers_get).
 *
 * A peer's keys are public keys from its trust list, in a keyring of its
 * own: they verify its tokens and its status lists, and nothing here ever
 * signs with them (the library's own keys stay in svc->keys alone).  A
 * trust list holding a key that is already ours or another peer's is
 * refused, so a kid always names one library.  The peer's name is its
 * library name: the iss its status lists carry.
 */
#include "service_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "encode.h"
#include "status_list.h"
#include "timeutil.h"

/* How long a node trusts its copy of the peers before reading them again
 * (another node may have added one; a local change reloads at once). */
#define PEERS_TTL 10
/* Rows read a page at a time (peers are a handful; their history too). */
#define PAGE 200
/* The largest trust list accepted. */
#define TRUST_MAX (256 * 1024)

struct cs_peer_cache {
	pthread_mutex_t mu;
	struct cs_peer_set *set;   /* one reference held here; NULL: not read */
	time_t loaded_at;
};

static void
peer_clear(struct cs_peer *p)
{
	free(p->name);
	cs_keyring_free(p->keys);
	cs_status_list_free(p->list);
	free(p->list_b64);
}

void
cs_peers_put(struct cs_peer_set *s)
{
	size_t i;

	if (s == NULL || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (i = 0; i < s->n; i++)
		peer_clear(&s->p[i]);
	free(s->p);
	free(s);
}

struct cs_peer_cache *
cs_peer_cache_new(void)
{
	struct cs_peer_cache *c = calloc(1, sizeof(*c));

	if (c != NULL)
		pthread_mutex_init(&c->mu, NULL);
	return c;
}

void
cs_peer_cache_free(struct cs_peer_cache *c)
{
	if (c == NULL)
		return;
	cs_peers_put(c->set);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

size_t
cs_peer_cache_count(struct cs_peer_cache *c)
{
	size_t n;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->mu);
	n = c->set != NULL ? c->set->n : 0;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* Every row, in seq order. */
static int
all_rows(cs_service *svc, cs_peer_row ***out, size_t *n)
{
	cs_peer_row **rows = NULL, **page = NULL, **grown;
	size_t got = 0, k;
	int64_t after = 0;
	int rc;

	*out = NULL;
	*n = 0;
	for (;;) {
		if ((rc = cs_store_peers_page(svc->store, after, PAGE, &page,
		    &k)) != 0)
			break;
		if (k > 0 && (grown = realloc(rows, (got + k) *
		    sizeof(*rows))) == NULL) {
			cs_peer_rows_free(page, k);
			rc = cs_err_set(CS_ENOMEM, "out of memory");
			break;
		}
		if (k > 0) {
			rows = grown;
			memcpy(rows + got, page, k * sizeof(*rows));
			got += k;
			after = page[k - 1]->seq;
		}
		free(page);
		if (k < PAGE)
			break;
	}
	if (rc != 0) {
		cs_peer_rows_free(rows, got);
		return rc;
	}
	*out = rows;
	*n = got;
	return 0;
}

/* The latest row of each name that is not a removal (rows in seq order):
 * indexes into rows, *m of them. */
static size_t *
current(cs_peer_row **rows, size_t n, size_t *m)
{
	size_t *idx = calloc(n + 1, sizeof(*idx)), i, j, k = 0;

	if (idx == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++)
			if (strcmp(rows[j]->name, rows[i]->name) == 0)
				break;
		if (j == n && rows[i]->trust_list != NULL)
			idx[k++] = i;
	}
	*m = k;
	return idx;
}

/* A stored row as a peer: its keys and its status list, read again (the
 * row was checked when it was added; one that no longer reads is left
 * without, its message logged by the caller's refusal). */
static int
peer_from_row(const cs_peer_row *r, struct cs_peer *p)
{
	uint8_t *sl = NULL;
	size_t n = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	p->seq = r->seq;
	p->at = r->at;
	if ((p->name = strdup(r->name)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	if ((rc = cs_keyring_from_jwks(r->trust_list, strlen(r->trust_list),
	    &p->keys)) != 0)
		return rc;
	if (r->status_list == NULL)
		return 0;
	if ((p->list_b64 = strdup(r->status_list)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	if ((rc = cs_b64url_decode(r->status_list, strlen(r->status_list),
	    &sl, &n)) == 0)
		rc = cs_status_list_read_iss(p->keys, p->name, sl, n, &p->list);
	free(sl);
	return rc;
}

/* The peers as the store holds them now. */
static int
load(cs_service *svc, struct cs_peer_set **out)
{
	struct cs_peer_set *s;
	cs_peer_row **rows = NULL;
	size_t n = 0, m = 0, i, *idx = NULL;
	int rc;

	*out = NULL;
	if ((rc = all_rows(svc, &rows, &n)) != 0)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (idx = current(rows, n, &m)) == NULL ||
	    (s->p = calloc(m + 1, sizeof(*s->p))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	s->refs = 1;
	for (i = 0; i < m && rc == 0; i++, s->n++)
		rc = peer_from_row(rows[idx[i]], &s->p[i]);
	if (rc == 0) {
		*out = s;
		s = NULL;
	}
out:
	if (s != NULL) {
		s->refs = 1;
		cs_peers_put(s);
	}
	free(idx);
	cs_peer_rows_free(rows, n);
	return rc;
}

int
cs_peers_get(cs_service *svc, struct cs_peer_set **out)
{
	struct cs_peer_cache *c = svc->peers;
	struct cs_peer_set *fresh = NULL;
	time_t now = cs_now();
	int rc = 0;

	*out = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->set == NULL || now - c->loaded_at >= PEERS_TTL ||
	    now < c->loaded_at) {
		if ((rc = load(svc, &fresh)) == 0) {
			cs_peers_put(c->set);
			c->set = fresh;
			c->loaded_at = now;
		}
	}
	if (c->set != NULL) {
		__atomic_add_fetch(&c->set->refs, 1, __ATOMIC_ACQ_REL);
		*out = c->set;
		rc = 0;  /* a failed reload keeps what was read before */
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* After a local change: read again on the next use. */
static void
invalidate(cs_service *svc)
{
	pthread_mutex_lock(&svc->peers->mu);
	cs_peers_put(svc->peers->set);
	svc->peers->set = NULL;
	pthread_mutex_unlock(&svc->peers->mu);
}

const struct cs_peer *
cs_peers_find(const struct cs_peer_set *s, const uint8_t *kid, size_t len)
{
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++)
		if (cs_keyring_find(s->p[i].keys, kid, len) != NULL)
			return &s->p[i];
	return NULL;
}

/* An admin client, or the operator at the console (the CLI acts with no
 * client, as for the change feed). */
static int
require_admin(const cs_actor *who, const char *what)
{
	if (who == NULL || (who->client != NULL &&
	    strcmp(who->client->role, "admin") != 0))
		return cs_err_set(CS_EFORBIDDEN, "only an admin client may %s",
		    what);
	return 0;
}

/* A peer name: a library name, 1 to 64 of A-Z a-z 0-9 . _ - (it goes into
 * paths, log lines and file names). */
static int
name_ok(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '.' || name[i] == '_' || name[i] == '-'))
			return 0;
	return 1;
}

/* Whether any of ring's keys is ours or another peer's (not name's own):
 * a problem on "trust_list" naming the key and whose it is. */
static void
check_keys_free(cs_service *svc, const struct cs_peer_set *set,
    const char *name, const cs_keyring *ring, cs_problems *p)
{
	const struct cs_peer *other;
	const cs_keyring *ours;
	char *kid = NULL;
	size_t i;
	int own;

	for (i = 0; i < ring->n; i++) {
		const cs_key *k = ring->keys[i];
		if (cs_b64url_encode(k->kid, CS_KID_LEN, &kid) != 0)
			return;
		ours = cs_service_keys_hold(svc);
		own = ours != NULL && cs_keyring_find(ours, k->kid, CS_KID_LEN) != NULL;
		cs_service_keys_release(svc);
		if (own)
			cs_problems_add(p, "trust_list", "key %s is this "
			    "library's own: a peer cannot hold it", kid);
		else if ((other = cs_peers_find(set, k->kid, CS_KID_LEN)) !=
		    NULL && strcmp(other->name, name) != 0)
			cs_problems_add(p, "trust_list", "key %s is already "
			    "peer %s's", kid, other->name);
		free(kid);
		kid = NULL;
	}
}

/* The trust list and status list checked: *ring the peer's keys, *list
 * its status list (NULL when none given). */
static void
check_lists(cs_service *svc, const char *name, const char *trust,
    size_t tlen, const uint8_t *sl, size_t sl_len, cs_keyring **ring,
    cs_status_list **list, cs_problems *p)
{
	struct cs_peer_set *set = NULL;

	if (tlen > TRUST_MAX)
		cs_problems_add(p, "trust_list", "over %d bytes", TRUST_MAX);
	else if (cs_keyring_from_jwks(trust, tlen, ring) != 0)
		cs_problems_add(p, "trust_list", "%s", cs_err_msg());
	else if ((*ring)->n == 0)
		cs_problems_add(p, "trust_list", "holds no key");
	else if (cs_peers_get(svc, &set) != 0)
		cs_problems_add(p, "trust_list", "the peers cannot be read: %s",
		    cs_err_msg());
	else
		check_keys_free(svc, set, name, *ring, p);
	cs_peers_put(set);
	if (p->n == 0 && sl != NULL &&
	    cs_status_list_read_iss(*ring, name, sl, sl_len, list) != 0)
		cs_problems_add(p, "status_list", "%s", cs_err_msg());
}

/* The trust list's kids, base64url. */
static json_t *
kids_json(const cs_keyring *ring)
{
	json_t *a = json_array();
	char *kid = NULL;
	size_t i;

	for (i = 0; a != NULL && ring != NULL && i < ring->n; i++)
		if (cs_b64url_encode(ring->keys[i]->kid, CS_KID_LEN, &kid) == 0) {
			json_array_append_new(a, json_string(kid));
			free(kid);
		}
	return a;
}

json_t *
cs_peer_list_view(const cs_status_list *l)
{
	char at[21], until[21];
	time_t now = cs_now();

	if (l == NULL)
		return json_null();
	cs_rfc3339((time_t)cs_status_list_iat(l), at);
	cs_rfc3339((time_t)cs_status_list_exp(l), until);
	return json_pack("{ss ss sI sb}", "issued_at", at, "expires_at", until,
	    "age_seconds", (json_int_t)(now - cs_status_list_iat(l)), "stale",
	    now > cs_status_list_exp(l));
}

static json_t *
peer_view(const char *name, const cs_keyring *ring, const cs_status_list *l,
    int64_t at)
{
	char when[21];

	cs_rfc3339((time_t)at, when);
	return json_pack("{ss so ss so}", "name", name, "keys", kids_json(ring),
	    "updated_at", when, "status_list", cs_peer_list_view(l));
}

/* The row and its audit record, one transaction. */
static int
record(cs_service *svc, const cs_actor *who, const cs_peer_row *r,
    const char *action)
{
	int rc;

	if ((rc = cs_store_begin(svc->store)) != 0)
		return rc;
	if ((rc = cs_store_peer_put(svc->store, r)) != 0 ||
	    (rc = cs_audit(svc, who, action, r->name, NULL, NULL, 0)) != 0 ||
	    (rc = cs_store_commit(svc->store)) != 0) {
		cs_store_rollback(svc->store);
		return rc;
	}
	invalidate(svc);
	return 0;
}

int
cs_peer_add(cs_service *svc, const cs_actor *who, const char *name,
    const char *trust, size_t tlen, const uint8_t *sl, size_t sl_len,
    json_t **out, cs_problems *p)
{
	cs_keyring *ring = NULL;
	cs_status_list *list = NULL;
	cs_peer_row r;
	json_t *tl = NULL;
	char *b64 = NULL;
	int rc;

	*out = NULL;
	if ((rc = require_admin(who, "add a peer library")) != 0)
		return rc;
	if (!name_ok(name))
		cs_problems_add(p, "name", "1 to 64 characters of A-Z, a-z, "
		    "0-9, '.', '_' and '-': the peer's library name (the iss "
		    "of its status lists)");
	if (trust == NULL)
		cs_problems_add(p, "trust_list", "required: the peer's trust "
		    "list (GET /api/v1/trust-list there)");
	if (p->n == 0)
		check_lists(svc, name, trust, tlen, sl, sl_len, &ring, &list, p);
	if (p->n > 0) {
		rc = cs_err_set(CS_EVALIDATION, "the peer is refused");
		goto out;
	}
	/* Stored as it is read (compact), not as sent. */
	if ((tl = json_loadb(trust, tlen, 0, NULL)) == NULL ||
	    (sl != NULL && cs_b64url_encode(sl, sl_len, &b64) != 0)) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	memset(&r, 0, sizeof(r));
	r.name = (char *)name;
	r.trust_list = json_dumps(tl, JSON_COMPACT);
	r.status_list = b64;
	r.actor = (char *)(who->client ? who->client->name : "cli");
	r.at = cs_now();
	if (r.trust_list == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	else if ((rc = record(svc, who, &r, "peer_add")) == 0 &&
	    (*out = peer_view(name, ring, list, r.at)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	free(r.trust_list);
out:
	json_decref(tl);
	free(b64);
	cs_keyring_free(ring);
	cs_status_list_free(list);
	return rc;
}

int
cs_peer_remove(cs_service *svc, const cs_actor *who, const char *name)
{
	struct cs_peer_set *set = NULL;
	cs_peer_row r;
	size_t i;
	int rc, found = 0;

	if ((rc = require_admin(who, "remove a peer library")) != 0)
		return rc;
	/* Read now, not from a copy up to PEERS_TTL old. */
	invalidate(svc);
	if ((rc = cs_peers_get(svc, &set)) != 0)
		return rc;
	for (i = 0; i < set->n; i++)
		found |= strcmp(set->p[i].name, name) == 0;
	cs_peers_put(set);
	if (!found)
		return cs_err_set(CS_ENOTFOUND, "no peer library of this name");
	memset(&r, 0, sizeof(r));
	r.name = (char *)name;
	r.actor = (char *)(who->client ? who->client->name : "cli");
	r.at = cs_now();
	return record(svc, who, &r, "peer_remove");
}

int
cs_peer_list(cs_service *svc, const cs_actor *who, json_t **out)
{
	struct cs_peer_set *set = NULL;
	json_t *arr;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = require_admin(who, "list the peer libraries")) != 0)
		return rc;
	invalidate(svc);
	if ((rc = cs_peers_get(svc, &set)) != 0)
		return rc;
	arr = json_array();
	for (i = 0; arr != NULL && i < set->n; i++)
		json_array_append_new(arr, peer_view(set->p[i].name,
		    set->p[i].keys, set->p[i].list, set->p[i].at));
	cs_peers_put(set);
	if (arr == NULL || (*out = json_pack("{so}", "peers", arr)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	return 0;
}
