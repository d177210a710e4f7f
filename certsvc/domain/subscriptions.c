/*
 * subscriptions: who is pushed the change feed (SPEC §9).  A subscription
 * is a name, a URL, the licence types and event types it wants, and a
 * signing secret made here and shown once, in the answer to its creation.
 * The store keeps rows (a removal is a row, store.h cs_sub_row); the
 * subscriptions in force are those rows folded by name.  Their delivery
 * state is read back from the attempts the sender (sender.c) appended.
 */
#include "service_internal.h"
#include "sub_internal.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_err.h"
#include "rfc3339.h"
#include "timeutil.h"

#define NAME_MAX_LEN 64
#define URL_MAX_LEN 2048
#define SECRET_BYTES 32
/* The pending count reads at most this many events past the delivered
 * ones; a backlog past it is shown as this (a lower bound). */
#define PENDING_SCAN_MAX 100000
/* A head event failing this long marks the subscription failing. */
#define FAILING_AFTER_MS (24LL * 3600 * 1000)

static const char *const event_types[] = {"licence.issued",
    "licence.amended", "licence.suspended", "licence.reinstated",
    "licence.revoked"};
#define N_EVENT_TYPES (sizeof(event_types) / sizeof(event_types[0]))

int
cs_sub_list_has(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	if (list == NULL || strcmp(list, "*") == 0)
		return 1;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len == n && memcmp(p, word, n) == 0)
			return 1;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

int
cs_sub_wants(const cs_sub_row *s, const cs_change *ch)
{
	return cs_sub_list_has(s->types, ch->licence_type) &&
	    cs_sub_list_has(s->events, ch->type);
}

/* --- the subscriptions in force ------------------------------------- */

int
cs_subs_current(cs_service *svc, cs_sub_row ***out, size_t *n)
{
	cs_sub_row **rows = NULL, **keep = NULL;
	size_t i, j, nr = 0, nk = 0;
	int64_t after = 0;
	int rc;

	*out = NULL;
	*n = 0;
	/* Subscriptions are few: every row at once, then folded. */
	for (;;) {
		cs_sub_row **page = NULL, **grown;
		size_t np = 0;

		if ((rc = cs_store_subs_page(svc->store, after, 1000, &page,
		    &np)) != 0)
			goto out;
		if (np == 0)
			break;
		if ((grown = realloc(rows, (nr + np) * sizeof(*rows))) == NULL) {
			cs_sub_rows_free(page, np);
			rc = cs_err_set(CS_ENOMEM, "out of memory");
			goto out;
		}
		rows = grown;
		memcpy(rows + nr, page, np * sizeof(*page));
		nr += np;
		after = page[np - 1]->seq;
		free(page);
		if (np < 1000)
			break;
	}
	if (nr > 0 && (keep = calloc(nr, sizeof(*keep))) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	/* A creation row is in force unless a later row of its name follows
	 * (a removal). */
	for (i = 0; i < nr; i++) {
		int later = 0;

		if (rows[i]->removed)
			continue;
		for (j = i + 1; j < nr && !later; j++)
			later = strcmp(rows[j]->name, rows[i]->name) == 0;
		if (!later) {
			keep[nk++] = rows[i];
			rows[i] = NULL;
		}
	}
	*out = keep;
	*n = nk;
	keep = NULL;
out:
	cs_sub_rows_free(rows, nr);
	free(keep);
	return rc;
}

/* The subscription in force called name: CS_ENOTFOUND when none. */
static int
sub_find(cs_service *svc, const char *name, cs_sub_row **out)
{
	cs_sub_row **subs = NULL;
	size_t i, n = 0;
	int rc;

	*out = NULL;
	if ((rc = cs_subs_current(svc, &subs, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if (strcmp(subs[i]->name, name) == 0) {
			*out = subs[i];
			subs[i] = NULL;
			break;
		}
	cs_sub_rows_free(subs, n);
	if (*out == NULL)
		return cs_err_set(CS_ENOTFOUND, "no subscription %s", name);
	return 0;
}

static int
require_admin(const cs_actor *who)
{
	if (who->client != NULL && strcmp(who->client->role, "admin") != 0)
		return cs_err_set(CS_EFORBIDDEN, "only an admin client may "
		    "manage subscriptions");
	return 0;
}

/* --- checking a new one --------------------------------------------- */

static int
is_loopback(const char *h)
{
	return strcasecmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 ||
	    strcmp(h, "::1") == 0 || strcmp(h, "[::1]") == 0;
}

static int
is_wildcard(const char *h)
{
	return h[0] == '\0' || strcmp(h, "0.0.0.0") == 0 ||
	    strcmp(h, "::") == 0 || strcmp(h, "[::]") == 0 ||
	    strcmp(h, "*") == 0;
}

/* Split "host:port" (host may be [v6]) at its last colon. */
static void
split_hostport(const char *s, size_t len, char *host, size_t hlen, long *port,
    long def_port)
{
	const char *colon = NULL, *p;

	for (p = s; p < s + len; p++)
		if (*p == ':')
			colon = p;
	/* [v6] with no port: its last colon is inside the brackets. */
	if (colon != NULL && s[0] == '[' && s[len - 1] == ']')
		colon = NULL;
	if (colon == NULL) {
		snprintf(host, hlen, "%.*s", (int)len, s);
		*port = def_port;
	} else {
		snprintf(host, hlen, "%.*s", (int)(colon - s), s);
		*port = strtol(colon + 1, NULL, 10);
	}
}

/*
 * Would url reach this server itself (self: its listen address)?  The
 * same port on the same host, on a loopback name when it listens on
 * loopback or everywhere: a subscription there would post every event
 * back to certsvc.
 */
static int
points_at_self(const char *url, const char *self)
{
	char uhost[256], shost[256];
	long uport, sport;
	int https = strncasecmp(url, "https://", 8) == 0;
	const char *a = url + (https ? 8 : 7);
	size_t alen = strcspn(a, "/?#");
	const char *at = memchr(a, '@', alen);

	if (self == NULL || self[0] == '\0')
		return 0;
	if (at != NULL) {
		alen -= (size_t)(at + 1 - a);
		a = at + 1;
	}
	split_hostport(a, alen, uhost, sizeof(uhost), &uport, https ? 443 : 80);
	split_hostport(self, strlen(self), shost, sizeof(shost), &sport, 80);
	if (uport != sport)
		return 0;
	if (strcasecmp(uhost, shost) == 0)
		return 1;
	return is_loopback(uhost) && (is_loopback(shost) || is_wildcard(shost));
}

static void
check_url(const json_t *v, const char *self, cs_problems *p)
{
	const char *u = json_string_value(v);
	size_t i, hostlen;

	if (u == NULL) {
		cs_problems_add(p, "url", "is required: the receiver's http:// "
		    "or https:// URL");
		return;
	}
	if (strlen(u) > URL_MAX_LEN) {
		cs_problems_add(p, "url", "must be at most %d bytes",
		    URL_MAX_LEN);
		return;
	}
	for (i = 0; u[i] != '\0'; i++)
		if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f) {
			cs_problems_add(p, "url", "must not contain spaces or "
			    "control characters");
			return;
		}
	if (strncasecmp(u, "http://", 7) != 0 &&
	    strncasecmp(u, "https://", 8) != 0) {
		cs_problems_add(p, "url", "must be an http:// or https:// URL");
		return;
	}
	hostlen = strcspn(u + (u[4] == ':' ? 7 : 8), "/?#");
	if (hostlen == 0) {
		cs_problems_add(p, "url", "must name a host");
		return;
	}
	if (points_at_self(u, self))
		cs_problems_add(p, "url", "points at this server's own listen "
		    "address: it would be sent its own events");
}

static void
check_name(const json_t *v, cs_problems *p)
{
	const char *s = json_string_value(v);
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > NAME_MAX_LEN) {
		cs_problems_add(p, "name", "is required: 1 to %d characters of "
		    "letters, digits, '.', '_' and '-'", NAME_MAX_LEN);
		return;
	}
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-') {
			cs_problems_add(p, "name", "may hold only letters, "
			    "digits, '.', '_' and '-'");
			return;
		}
}

/* A list member of what ("types": a type code of the catalog; "events":
 * an event type).  Absent: everything. *out: "*" or the codes joined by
 * commas (malloc'd). */
static void
check_list(cs_service *svc, const json_t *v, const char *what, char **out,
    cs_problems *p)
{
	const json_t *e;
	size_t i, k, len = 2;
	char *s;

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		*out = strdup("*");
		return;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		cs_problems_add(p, what, "must be a non-empty array of %s",
		    strcmp(what, "types") == 0 ? "licence type codes" :
		    "event types");
		return;
	}
	json_array_foreach(v, i, e) {
		const char *c = json_string_value(e);
		int ok = 0;

		if (c != NULL && strcmp(what, "types") == 0)
			ok = cs_catalog_find(svc->catalog, c) != NULL ||
			    strcmp(c, "*") == 0;
		else if (c != NULL)
			for (k = 0; k < N_EVENT_TYPES && !ok; k++)
				ok = strcmp(c, event_types[k]) == 0 ||
				    strcmp(c, "*") == 0;
		if (!ok) {
			char field[32];

			snprintf(field, sizeof(field), "%s.%zu", what, i);
			cs_problems_add(p, field, strcmp(what, "types") == 0 ?
			    "is not a licence type of the catalog" : "must be "
			    "one of licence.issued, licence.amended, "
			    "licence.suspended, licence.reinstated, "
			    "licence.revoked");
			return;
		}
		len += strlen(c) + 1;
	}
	if ((s = calloc(1, len)) == NULL)
		return;
	json_array_foreach(v, i, e) {
		if (strcmp(json_string_value(e), "*") == 0) {
			strcpy(s, "*");
			break;
		}
		if (i > 0)
			strcat(s, ",");
		strcat(s, json_string_value(e));
	}
	*out = s;
}

/* "*" or "a,b" as a JSON array. */
static json_t *
list_json(const char *list)
{
	json_t *a = json_array();
	const char *p = list;

	while (a != NULL && p != NULL && *p != '\0') {
		size_t len = strcspn(p, ",");

		json_array_append_new(a, json_stringn(p, len));
		p = p[len] == ',' ? p + len + 1 : NULL;
	}
	return a;
}

static int
make_secret(char **out)
{
	unsigned char raw[SECRET_BYTES];
	char *s = malloc(6 + 4 * ((SECRET_BYTES + 2) / 3) + 1);

	*out = NULL;
	if (s == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		free(s);
		return cs_err_openssl("subscription secret");
	}
	memcpy(s, "whsec_", 6);
	EVP_EncodeBlock((unsigned char *)s + 6, raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	*out = s;
	return 0;
}

/* A subscription row appended with its audit record, in one transaction:
 * who subscribed whom (or stopped it) is on record like any admin act. */
static int
put_audited(cs_service *svc, const cs_actor *who, const cs_sub_row *row,
    const char *action)
{
	int rc;

	if ((rc = cs_store_begin(svc->store)) != 0)
		return rc;
	if ((rc = cs_store_sub_put(svc->store, row)) != 0 ||
	    (rc = cs_audit(svc, who, action, row->name, NULL, NULL, 0)) != 0 ||
	    (rc = cs_store_commit(svc->store)) != 0)
		cs_store_rollback(svc->store);
	return rc;
}

int
cs_sub_add(cs_service *svc, const cs_actor *who, const json_t *req,
    const char *self, json_t **out, cs_problems *p)
{
	cs_sub_row row, *have = NULL;
	char *types = NULL, *events = NULL, *secret = NULL;
	int rc;

	*out = NULL;
	memset(&row, 0, sizeof(row));
	if ((rc = require_admin(who)) != 0)
		return rc;
	if (!json_is_object(req))
		return cs_err_set(CS_EINVAL, "the body must be a JSON object");
	check_name(json_object_get(req, "name"), p);
	check_url(json_object_get(req, "url"), self, p);
	check_list(svc, json_object_get(req, "types"), "types", &types, p);
	check_list(svc, json_object_get(req, "events"), "events", &events, p);
	if (p->n > 0) {
		rc = cs_err_set(CS_EVALIDATION, "%s %s", p->items[0].field,
		    p->items[0].message);
		goto out;
	}
	if (types == NULL || events == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	row.name = (char *)json_string_value(json_object_get(req, "name"));
	rc = sub_find(svc, row.name, &have);
	if (rc == 0) {
		rc = cs_err_set(CS_ECONFLICT, "a subscription named %s exists: "
		    "remove it first", row.name);
		goto out;
	} else if (rc != CS_ENOTFOUND)
		goto out;
	if ((rc = make_secret(&secret)) != 0)
		goto out;
	row.url = (char *)json_string_value(json_object_get(req, "url"));
	row.types = types;
	row.events = events;
	row.secret = secret;
	row.at = (int64_t)cs_now();
	if ((rc = put_audited(svc, who, &row, "subscription_add")) != 0)
		goto out;
	if ((*out = json_pack("{ss ss so so ss}", "name", row.name, "url",
	    row.url, "types", list_json(types), "events", list_json(events),
	    "secret", secret)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
out:
	if (secret != NULL)
		OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	free(types);
	free(events);
	cs_sub_row_free(have);
	return rc;
}

int
cs_sub_remove(cs_service *svc, const cs_actor *who, const char *name)
{
	cs_sub_row row, *have = NULL;
	int rc;

	if ((rc = require_admin(who)) != 0)
		return rc;
	if ((rc = sub_find(svc, name, &have)) != 0)
		return rc;
	memset(&row, 0, sizeof(row));
	row.name = have->name;
	row.at = (int64_t)cs_now();
	row.removed = 1;
	rc = put_audited(svc, who, &row, "subscription_remove");
	cs_sub_row_free(have);
	return rc;
}

/* --- delivery state --------------------------------------------------- */

int
cs_sub_state(cs_service *svc, const cs_sub_row *s, cs_sub_state_t *st)
{
	cs_sub_progress pr;
	cs_change **chs = NULL;
	int64_t after, scanned = 0;
	size_t i, n = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = cs_store_sub_progress(svc->store, s->seq, &pr)) != 0)
		return rc;
	after = pr.delivered > s->after_seq ? pr.delivered : s->after_seq;
	st->delivered = after;
	while (scanned < PENDING_SCAN_MAX) {
		if ((rc = cs_store_changes_page(svc->store, after, 1000, &chs,
		    &n)) != 0)
			break;
		for (i = 0; i < n; i++) {
			if (!cs_sub_wants(s, chs[i]))
				continue;
			if (st->pending++ == 0)
				st->oldest_at = chs[i]->at;
		}
		if (n > 0)
			after = chs[n - 1]->seq;
		scanned += (int64_t)n;
		cs_changes_free(chs, n);
		chs = NULL;
		if (n < 1000)
			break;
	}
	st->attempts_at_head = pr.head_attempts;
	st->failing = pr.head_first_ms > 0 &&
	    cs_wall_ms() - pr.head_first_ms > FAILING_AFTER_MS;
	st->last_at_ms = pr.last.at_ms;
	st->last_status = pr.last.status;
	if (pr.last.result != NULL)
		snprintf(st->last_result, sizeof(st->last_result), "%s",
		    pr.last.result);
	cs_sub_progress_clear(&pr);
	return rc;
}

static json_t *
state_json(const cs_sub_state_t *st)
{
	json_t *last = json_null();
	int64_t now = (int64_t)cs_now();
	char at[21];

	if (st->last_at_ms > 0) {
		cs_rfc3339((time_t)(st->last_at_ms / 1000), at);
		last = json_pack("{ss ss sI}", "at", at, "result",
		    st->last_result, "status", (json_int_t)st->last_status);
	}
	return json_pack("{sI sI sb so}", "pending", (json_int_t)st->pending,
	    "oldest_pending_age_s", (json_int_t)(st->pending > 0 &&
	    now > st->oldest_at ? now - st->oldest_at : 0), "failing",
	    st->failing, "last_attempt", last);
}

int
cs_sub_list(cs_service *svc, const cs_actor *who, json_t **out)
{
	cs_sub_row **subs = NULL;
	json_t *arr = json_array();
	cs_sub_state_t st;
	size_t i, n = 0;
	char at[21];
	int rc;

	*out = NULL;
	if ((rc = require_admin(who)) != 0 ||
	    (rc = cs_subs_current(svc, &subs, &n)) != 0)
		goto out;
	for (i = 0; i < n && rc == 0; i++) {
		json_t *o;

		if ((rc = cs_sub_state(svc, subs[i], &st)) != 0)
			break;
		cs_rfc3339((time_t)subs[i]->at, at);
		o = json_pack("{ss ss so so ss so}", "name", subs[i]->name,
		    "url", subs[i]->url, "types", list_json(subs[i]->types),
		    "events", list_json(subs[i]->events), "created_at", at,
		    "delivery", state_json(&st));
		if (o == NULL || json_array_append_new(arr, o) != 0)
			rc = cs_err_set(CS_ENOMEM, "out of memory");
	}
	if (rc == 0 && (*out = json_pack("{sO}", "subscriptions", arr)) == NULL)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
out:
	json_decref(arr);
	cs_sub_rows_free(subs, n);
	return rc;
}
