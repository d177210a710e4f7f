/*
 * verify.c: is this QR code genuine and in force?  (SPEC §5 verify, §6
 * `certsvc verify`.)  Online, the library's status decides; offline, the
 * signature and the signed dates.  Every answer is a result object, never
 * an error, because a scanner needs a verdict whatever it scanned.
 */
#include "service_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "status_list.h"
#include "cs_err.h"
#include "timeutil.h"
#include "token.h"

/* How far in the future a token's iat may lie (clock skew, SPEC §4). */
#define IAT_SKEW 300

static const struct {
	const char *result, *reason;
} reasons[] = {
	{"valid", "genuine and in force / 真实有效"},
	{"not_yet_valid", "genuine, not yet in force / 尚未生效"},
	{"expired", "genuine, expired / 已过有效期"},
	{"suspended", "genuine, suspended / 已暂扣"},
	{"revoked", "genuine, revoked / 已吊销、撤销或注销"},
	{"superseded", "genuine, replaced by a newer licence / 已变更或延续"},
	{"not_found", "signed by a trusted key, but not in this library / 库中无此证照"},
	{"status_unknown", "genuine, signed by a peer library whose status "
	    "list is not held here: suspension and revocation not checked / "
	    "他库签发，未核验其状态"},
};

/* The words of a result, NULL for one without. */
static const char *
reason_of(const char *res)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(reasons[i].result, res) == 0)
			return reasons[i].reason;
	return NULL;
}

static json_t *
result(const char *res, const char *reason, json_t *cert)
{
	char now[21];

	cs_rfc3339(cs_now(), now);
	if (reason == NULL)
		reason = reason_of(res);
	return json_pack("{ss ss ss so}", "result", res, "reason", reason ? reason : res,
	    "checked_at", now, "certificate", cert ? cert : json_null());
}

/* The licence as the token tells it (for offline answers and not_found). */
static json_t *
claims_view(const json_t *claims, long tz_min)
{
	const json_t *l = json_object_get(claims, "-65537");
	const json_t *h = json_object_get(l, "h");
	json_t *exp = json_object_get(claims, "4"), *nbf = json_object_get(claims, "5");
	json_t *iat = json_object_get(claims, "6");
	char from[11] = "", until[11] = "", issued[21] = "";

	if (json_is_integer(nbf))
		cs_date_format(cs_local_days((time_t)json_integer_value(nbf), tz_min), from);
	if (json_is_integer(exp))
		cs_date_format(cs_local_days((time_t)json_integer_value(exp), tz_min), until);
	if (json_is_integer(iat))
		cs_rfc3339((time_t)json_integer_value(iat), issued);
	return json_pack("{sO* sO* sO* s{sO* sO* sO*} s{sO* sO*} ss ss so sO* sO*}",
	    "id", json_object_get(l, "id"), "type", json_object_get(l, "t"),
	    "number", json_object_get(l, "no"),
	    "holder", "name", json_object_get(h, "n"), "code_type",
	    json_object_get(h, "ct"), "code", json_object_get(h, "c"),
	    "issuer", "code", json_object_get(claims, "1"), "name",
	    json_object_get(json_object_get(l, "i"), "n"),
	    "issued_at", issued, "valid_from", from,
	    "valid_until", until[0] ? json_string(until) : json_null(),
	    "fields", json_object_get(l, "f"), "supersedes", json_object_get(l, "s"));
}

/* The holder as claims_view shows it (the token's n, ct and c, those it
 * has), compared without building it: each one equal, and no others. */
static int
same_holder(const json_t *cert_h, const json_t *h)
{
	static const char *const names[][2] = {{"name", "n"},
	    {"code_type", "ct"}, {"code", "c"}};
	const json_t *v;
	size_t i, n = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((v = json_object_get(h, names[i][1])) == NULL)
			continue;
		n++;
		if (!json_equal(json_object_get(cert_h, names[i][0]), v))
			return 0;
	}
	return json_is_object(cert_h) && json_object_size(cert_h) == n;
}

/*
 * Whether the library's licence of a token's id (its public view) is the
 * licence the token signs.  Serials are sequential, so an id can name
 * another licence: a database restored from a backup hands out again the
 * ids of the licences it lost, whose printed codes still verify.  Such a
 * code must not show whoever holds the id now.  Compared: what the claims
 * fix exactly (the validity dates depend on the time zone setting), read
 * from the claims as claims_view would show them; every scan makes this
 * comparison, and building that view would cost more than the rest of it.
 */
static int
same_licence(const json_t *cert, const json_t *claims)
{
	static const char *const names[][2] = {{"id", "id"}, {"type", "t"},
	    {"number", "no"}};
	const json_t *l = json_object_get(claims, "-65537");
	const json_t *iat = json_object_get(claims, "6");
	const json_t *issued_at;
	char issued[21] = "";
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!json_equal(json_object_get(cert, names[i][0]),
		    json_object_get(l, names[i][1])))
			return 0;
	if (json_is_integer(iat))
		cs_rfc3339((time_t)json_integer_value(iat), issued);
	issued_at = json_object_get(cert, "issued_at");
	return same_holder(json_object_get(cert, "holder"),
	    json_object_get(l, "h")) && json_is_string(issued_at) &&
	    json_string_length(issued_at) == strlen(issued) &&
	    memcmp(json_string_value(issued_at), issued, strlen(issued)) == 0;
}

/*
 * The checks every verifier shares: decode, find the key, verify, sanity
 * of the claims.  Returns NULL and sets *verdict (a result object) when the
 * token fails; otherwise the decoded layers for the caller to judge.
 */
static cs_token_layers *
check_token(const cs_keyring *keys, const char *text, size_t len,
    cs_token_peek *pk, json_t **verdict)
{
	cs_token_layers *l = NULL;
	const json_t *lic, *iat;
	cs_key *key;
	char why[600];
	int rc;

	*verdict = NULL;
	/* A text already peeked at is not decoded from its outer layers
	 * again: the peek made the same bytes. */
	if ((rc = pk != NULL ? cs_token_decode_peeked(pk, &l) :
	    cs_token_decode(text, len, &l)) != 0) {
		snprintf(why, sizeof(why), "%s layer: %s", l ? l->failed_layer : "input",
		    cs_err_msg());
		*verdict = result("malformed", why, NULL);
		goto fail;
	}
	lic = json_object_get(l->claims, "-65537");
	iat = json_object_get(l->claims, "6");
	if (!json_is_object(lic) || !json_is_string(json_object_get(lic, "id")) ||
	    !json_is_integer(iat)) {
		*verdict = result("malformed", "claims are not those of a licence", NULL);
		goto fail;
	}
	key = keys ? cs_keyring_find(keys, l->msg->kid, l->msg->kid_len) : NULL;
	if (key == NULL) {
		*verdict = result("unknown_key", "signed by a key that is not in the "
		    "trust list / 签名密钥不在信任列表中", NULL);
		goto fail;
	}
	if ((rc = cs_cose_verify(l->msg, key)) != 0) {
		snprintf(why, sizeof(why), "the signature does not verify / 签名无效: %s",
		    cs_err_msg());
		*verdict = result("invalid_signature", why, NULL);
		goto fail;
	}
	if (json_integer_value(iat) > (json_int_t)cs_now() + IAT_SKEW) {
		*verdict = result("malformed", "issued in the future", NULL);
		goto fail;
	}
	return l;
fail:
	cs_token_layers_free(l);
	return NULL;
}

static int
done(json_t *verdict, json_t **out)
{
	*out = verdict;
	return verdict ? 0 : cs_err_set(CS_ENOMEM, "out of memory");
}

/* Offline, without the library: the signed dates decide. */
static const char *
dates_result(const cs_token_layers *l)
{
	json_t *exp = json_object_get(l->claims, "4");
	json_t *nbf = json_object_get(l->claims, "5");
	time_t now = cs_now();

	if (json_is_integer(nbf) && now < (time_t)json_integer_value(nbf))
		return "not_yet_valid";
	if (json_is_integer(exp) && now > (time_t)json_integer_value(exp))
		return "expired";
	return "valid";
}

int
cs_verify_offline(const cs_keyring *keys, const char *text, size_t len,
    long tz_min, json_t **out)
{
	cs_token_layers *l;
	json_t *verdict = NULL;

	if ((l = check_token(keys, text, len, NULL, &verdict)) == NULL)
		return done(verdict, out);
	verdict = result(dates_result(l), NULL, claims_view(l->claims, tz_min));
	cs_token_layers_free(l);
	return done(verdict, out);
}

/*
 * What a status list (SPEC §11) says of a licence whose token verified:
 * the "status_list" member, and *res changed where the list decides.  A
 * lifecycle state outranks the calendar, as online.  "Never issued" is
 * taken at its word only for a licence signed well before the list
 * (IAT_SKEW): one issued while the list was being built is not on it.
 * A list past its exp still counts (a revocation stays one) but is
 * called stale.
 */
static json_t *
list_view(const cs_status_list *sl, const json_t *claims, const char **res)
{
	const char *id = json_string_value(json_object_get(
	    json_object_get(claims, "-65537"), "id"));
	int64_t iat = cs_status_list_iat(sl), exp = cs_status_list_exp(sl);
	int64_t signed_at = json_integer_value(json_object_get(claims, "6"));
	time_t now = cs_now();
	char at[21], until[21];
	cs_sl_answer a;

	cs_status_list_lookup(sl, id ? id : "", &a);
	if (strcmp(a.state, "suspended") == 0 ||
	    strcmp(a.state, "revoked") == 0 || strcmp(a.state, "superseded") == 0)
		*res = a.state;
	else if (strcmp(a.state, "never_issued") == 0 &&
	    signed_at < iat - IAT_SKEW)
		*res = "not_found";
	cs_rfc3339((time_t)iat, at);
	cs_rfc3339((time_t)exp, until);
	return json_pack("{sb ss ss ss sI sb ss si}", "checked", 1,
	    "issuer", cs_status_list_iss(sl), "issued_at", at,
	    "expires_at", until, "age_seconds", (json_int_t)(now - iat),
	    "stale", now > exp, "state", a.state,
	    "latest_version", a.latest_version);
}

int
cs_verify_offline_listed(const cs_keyring *keys, const cs_status_list *sl,
    const char *text, size_t len, long tz_min, json_t **out)
{
	cs_token_layers *l;
	json_t *verdict = NULL, *status = NULL;
	const char *res;
	char why[400];

	if ((l = check_token(keys, text, len, NULL, &verdict)) == NULL)
		return done(verdict, out);
	res = dates_result(l);
	status = sl ? list_view(sl, l->claims, &res) : json_pack("{sb ss}",
	    "checked", 0, "reason", "no status list given: suspension, "
	    "revocation and amendment not checked / 未核验暂扣、吊销和变更状态");
	verdict = result(res, NULL, claims_view(l->claims, tz_min));
	if (verdict != NULL && status != NULL &&
	    json_is_true(json_object_get(status, "stale"))) {
		snprintf(why, sizeof(why), "%s; the status list is stale (past "
		    "its exp) / 状态列表已过期", json_string_value(
		    json_object_get(verdict, "reason")));
		json_object_set_new(verdict, "reason", json_string(why));
	}
	if (verdict != NULL)
		json_object_set_new(verdict, "status_list", status ? status :
		    json_null());
	else
		json_decref(status);
	cs_token_layers_free(l);
	return done(verdict, out);
}

int
cs_verify_offline_libraries(const cs_verify_library *libs, size_t n,
    const char *text, size_t len, long tz_min, json_t **out)
{
	const cs_verify_library *lib = NULL;
	cs_token_layers *l = NULL;
	size_t i;
	int rc;

	/* A token that does not decode is answered by the check itself. */
	if (cs_token_decode(text, len, &l) == 0)
		for (i = 0; i < n && lib == NULL; i++)
			if (libs[i].keys != NULL && cs_keyring_find(libs[i].keys,
			    l->msg->kid, l->msg->kid_len) != NULL)
				lib = &libs[i];
	cs_token_layers_free(l);
	rc = cs_verify_offline_listed(lib ? lib->keys : NULL,
	    lib ? lib->list : NULL, text, len, tz_min, out);
	if (rc == 0 && lib != NULL && lib->name != NULL)
		json_object_set_new(*out, "library", json_string(lib->name));
	return rc;
}

/* The library's answer for a licence id whose token verified. */
static json_t *
library_verdict(cs_service *svc, const char *id, const json_t *claims)
{
	json_t *pub = NULL;
	const char *status = NULL;

	if (cs_licence_public(svc, id, &pub, &status) != 0)
		return result("not_found", NULL,
		    claims ? claims_view(claims, svc->cfg.tz_offset_minutes) : NULL);
	return result(status, NULL, pub);
}

/*
 * A token signed by a peer library's key (SPEC §11): checked as offline
 * with the peer's keys and its imported status list, named by the peer.
 * Without a list, a licence whose dates hold is "status_unknown": online,
 * "valid" would claim a check that was not made.  NULL when no peer holds
 * the key (the caller's unknown_key stands).
 */
static json_t *
peer_verdict(cs_service *svc, const char *text, size_t len)
{
	struct cs_peer_set *set = NULL;
	const struct cs_peer *peer;
	cs_token_layers *l = NULL;
	json_t *v = NULL;

	if (cs_peers_get(svc, &set) != 0 || set->n == 0 ||
	    cs_token_decode(text, len, &l) != 0 ||
	    (peer = cs_peers_find(set, l->msg->kid, l->msg->kid_len)) == NULL)
		goto out;
	if (cs_verify_offline_listed(peer->keys, peer->list, text, len,
	    svc->cfg.tz_offset_minutes, &v) != 0)
		goto out;
	if (peer->list == NULL && strcmp(json_string_value(json_object_get(v,
	    "result")), "valid") == 0) {
		json_object_set_new(v, "result", json_string("status_unknown"));
		json_object_set_new(v, "reason",
		    json_string(reason_of("status_unknown")));
	}
	json_object_set_new(v, "library", json_string(peer->name));
out:
	cs_token_layers_free(l);
	cs_peers_put(set);
	return v;
}

int
cs_verify_result(const char *res, const char *reason, json_t *cert,
    json_t **out)
{
	return done(result(res, reason, cert), out);
}

int
cs_verify_licence(cs_service *svc, const char *id, json_t **out)
{
	return done(library_verdict(svc, id, NULL), out);
}

/* What the fast path learnt of a text, for the full check after a miss:
 * the peek (its COSE message, so the text is not decoded again) and the
 * library's public view of the id it names, with its status. */
struct seen {
	cs_token_peek pk;
	int peeked;
	json_t *pub;
	const char *status;
};

/*
 * The fast path: the answer for a text that carries, byte for byte, the
 * token the library stored for a licence; NULL for any other text, which
 * then gets the full check.  Why it is sound (docs/design.md, "Verify's
 * fast path"): the stored token was signed over this licence's claims
 * when it was issued, and the record holding it is the authority the
 * answer's status already comes from; the id, kid and iat read
 * from the unverified text only choose what to compare, and the
 * comparison is of the whole zlib stream with the stored one, so whatever
 * they say, no text other than the stored token itself passes it.  What
 * the signature check would still decide is asked here too: the key must
 * still be in the keyring (a retired or compromised key is removed from
 * it, and its tokens fail as unknown_key), and the iat may not lie in the
 * future.  A stored token is the licence's own, so same_licence holds.
 * On a miss, s keeps what was read for the full check.
 */
static json_t *
fast_verdict(cs_service *svc, const char *text, size_t len, struct seen *s)
{
	const cs_keyring *keys;
	json_t *verdict = NULL;
	int known, same = 0;

	if (cs_token_peek_text(text, len, &s->pk) != 0)
		return NULL;
	s->peeked = 1;
	keys = cs_service_keys_hold(svc);
	known = keys != NULL && cs_keyring_find(keys, s->pk.kid,
	    s->pk.kid_len) != NULL;
	cs_service_keys_release(svc);
	if (known &&
	    s->pk.iat <= (int64_t)cs_now() + IAT_SKEW &&
	    cs_licence_public_token(svc, &s->pk, &s->pub, &s->status,
	    &same) == 0 &&
	    s->pub != NULL && same) {
		if ((verdict = result(s->status, NULL, s->pub)) != NULL)
			atomic_fetch_add_explicit(&svc->verify_fast, 1,
			    memory_order_relaxed);
		s->pub = NULL;
	}
	return verdict;
}

/*
 * The library's answer for the licence id of a token whose signature
 * verified: the view the fast path read, when it read this id's (the
 * same record, and its status from events read a moment ago, as
 * library_verdict would read them now), else read now.
 */
static json_t *
seen_verdict(cs_service *svc, struct seen *s, const char *id,
    const json_t *claims)
{
	json_t *pub;

	if (s->pub == NULL || strcmp(id, s->pk.id) != 0)
		return library_verdict(svc, id, claims);
	pub = s->pub;
	s->pub = NULL;
	return result(s->status, NULL, pub);
}

int
cs_verify_text(cs_service *svc, const char *text, size_t len, json_t **out)
{
	struct seen s;
	cs_token_layers *l;
	json_t *verdict = NULL, *peer;

	memset(&s, 0, sizeof(s));
	if ((verdict = fast_verdict(svc, text, len, &s)) != NULL)
		goto out;
	l = check_token(cs_service_keys_hold(svc), text, len,
	    s.peeked ? &s.pk : NULL, &verdict);
	cs_service_keys_release(svc);
	if (l == NULL) {
		if (verdict != NULL && strcmp(json_string_value(json_object_get(
		    verdict, "result")), "unknown_key") == 0 && (peer = peer_verdict(svc, text,
		    len)) != NULL) {
			json_decref(verdict);
			verdict = peer;
		}
		goto out;
	}
	verdict = seen_verdict(svc, &s,
	    json_string_value(json_object_get(json_object_get(l->claims, "-65537"), "id")),
	    l->claims);
	if (verdict != NULL && strcmp(json_string_value(json_object_get(verdict,
	    "result")), "not_found") != 0 && !same_licence(json_object_get(verdict,
	    "certificate"), l->claims)) {
		json_decref(verdict);
		verdict = result("not_found", "signed by a trusted key, but the "
		    "library's licence of this id is another one / 库中此标识的证照"
		    "与此码不符", claims_view(l->claims, svc->cfg.tz_offset_minutes));
	}
	cs_token_layers_free(l);
out:
	json_decref(s.pub);
	cs_token_peek_free(&s.pk);
	return done(verdict, out);
}

int
cs_verify_malformed(const char *reason, json_t **out)
{
	json_t *v = result("malformed", reason, NULL);

	/* A reason that is not UTF-8 cannot go into JSON: a verdict without
	 * it beats none. */
	if (v == NULL)
		v = result("malformed", "the input cannot be read", NULL);
	return done(v, out);
}

/* The licence with this id, if its holder code is holder: one probe of
 * the primary key (and the licence cache). */
static json_t *
paper_by_id(cs_service *svc, const char *id, const char *holder)
{
	cs_licence_row *row = NULL;
	json_t *verdict = NULL;

	if (cs_store_licence_get(svc->store, id, &row) == 0 &&
	    strcmp(row->holder_code, holder) == 0)
		verdict = library_verdict(svc, row->id, NULL);
	cs_licence_row_free(row);
	return verdict;
}

/* The licence carrying this number for holder, by the index of numbers.
 * A number is unique per type and issuing authority only, and a paper
 * copy typed by hand names neither: when licences of several carry it for
 * one holder, none is picked (the id tells them apart). */
static json_t *
paper_by_number(cs_service *svc, const char *number, const char *holder)
{
	cs_licence_row **rows = NULL;
	json_t *verdict = NULL;
	size_t n = 0;

	if (cs_store_licences_by_number(svc->store, number, holder,
	    &rows, &n) != 0)
		return NULL;
	if (n == 1)
		verdict = library_verdict(svc, rows[0]->id, NULL);
	else if (n > 1)
		verdict = result("not_found", "several licences of this holder "
		    "carry this number: check by the licence id / 该持证主体有多张"
		    "证照使用此编号，请按证照标识核验", NULL);
	cs_licence_rows_free(rows, n);
	return verdict;
}

/*
 * A paper copy typed by hand: the identifier or the number, and the holder
 * code.  Both must match one licence; nothing beyond the public view is
 * shown, and nothing is told about a licence whose holder code differs.
 * Each is an indexed lookup: the work, and so the time of the answer, do
 * not depend on how many licences the holder has.
 */
int
cs_verify_manual(cs_service *svc, const json_t *body, json_t **out, cs_problems *p)
{
	const char *id = json_string_value(json_object_get(body, "id"));
	const char *number = json_string_value(json_object_get(body, "number"));
	const char *code = json_string_value(json_object_get(body, "holder_code"));
	char norm[CS_USCC_LEN + 1];
	json_t *verdict;

	(void)p;
	if (code == NULL || (id == NULL) == (number == NULL) || strlen(code) != 18)
		return done(result("malformed", "give the holder code (18 characters) "
		    "and either the licence id or the licence number", NULL), out);
	snprintf(norm, sizeof(norm), "%s", code);
	cs_code_check_uscc(norm);  /* upper-cases; a failing check finds nothing */
	if (id != NULL && cs_check_id(id) != 0)
		return done(result("malformed", cs_err_msg(), NULL), out);
	verdict = id != NULL ? paper_by_id(svc, id, norm) :
	    paper_by_number(svc, number, norm);
	return done(verdict ? verdict : result("not_found", "no licence with these "
	    "details / 未找到相符的证照", NULL), out);
}
