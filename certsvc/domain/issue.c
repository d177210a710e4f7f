/*
 * issue.c: from an approval system's request to a signed, stored licence
 * (SPEC §1, §5): identifier and number assignment, claims, signature, one
 * transaction, and single issuances (cs_issue, the issuance writer's jobs).
 * Validation is issue_request.c's, the idempotency hashes issue_hash.c's;
 * bundles ("一件事", issue_bundle.c) and amendments (issue_amend.c) reuse
 * the same steps.
 */
#include "issue_internal.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "encode.h"
#include "timeutil.h"
#include "token.h"
#include "tx_queue.h"

static const char base36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/*
 * A licence's serial (SPEC §2a): its numbering sequence in base 36, "1",
 * "2", ... "ZZ" ...  The store hands out the sequence per (type, issuer)
 * inside the write transaction, so the serial is unique by construction;
 * an amendment keeps its licence's serial and takes a sequence number of
 * its own, which no new licence reuses.  Short because every character of
 * the identifier is carried by every QR code: a million licences of one
 * type and issuer need 4 characters, where the random serial used before
 * took 8.  The cost, that identifiers can be enumerated, is weighed in
 * docs/design.md.
 */
static void
seq_serial(int64_t seq, char out[CS_SERIAL_MAX + 1])
{
	char tmp[CS_SERIAL_MAX + 1];
	uint64_t v = seq > 0 ? (uint64_t)seq : 0;
	size_t n = 0, i;

	do {
		tmp[n++] = base36[v % 36];
		v /= 36;
	} while (v > 0);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

/* The random characters of a bundle's id (issue_internal.h). */
int
cs_issue_random_serial(char out[BUNDLE_RANDOM_LEN + 1])
{
	uint8_t raw[BUNDLE_RANDOM_LEN];
	int i;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return cs_err_openssl("serial");
	for (i = 0; i < BUNDLE_RANDOM_LEN; i++)
		out[i] = base36[raw[i] % 36];  /* 256 % 36 bias: harmless here */
	out[BUNDLE_RANDOM_LEN] = '\0';
	return 0;
}

/* The immutable record of SPEC §1 (no status, related or qr_text, which
 * are derived when it is read). */
static json_t *
build_record(const cs_key *key, const struct req *r, const char *id,
    const char *number, const char *bundle, const char *supersedes, time_t now)
{
	char issued[21], from[11], until[11];
	json_t *holder;

	cs_rfc3339(now, issued);
	cs_date_format(r->valid_from, from);
	if (r->valid_until >= 0)
		cs_date_format(r->valid_until, until);
	holder = json_pack("{ss ss ss}", "name", r->holder_name, "code_type",
	    r->code_type, "code", r->code);
	if (holder != NULL && r->unchecked)
		json_object_set_new(holder, "unchecked", json_true());
	return json_pack("{ss ss ss ss so s{ss ss} ss ss ss? sO ss ss? ss? ss ss}",
	    "id", id, "type", r->type->code, "type_name", r->type->name,
	    "number", number, "holder", holder,
	    "issuer", "name", r->grant->issuer_name, "code", r->grant->issuer_code,
	    "issued_at", issued, "valid_from", from,
	    "valid_until", r->valid_until >= 0 ? until : NULL,
	    "fields", r->fields, "approval_ref", r->approval_ref,
	    "bundle", bundle, "supersedes", supersedes,
	    "kid", "", "alg", cs_alg_name(key->alg));
}

static int
sign_record(cs_service *svc, const cs_key *key, const cs_type *t,
    json_t *rec)
{
	uint8_t *claims = NULL;
	size_t n;
	char *token = NULL, *kid = NULL;
	int rc;

	if ((rc = cs_claims_encode(t, rec, svc->cfg.tz_offset_minutes, &claims, &n)) != 0)
		goto out;
	if ((rc = cs_token_sign(key, claims, n, &token)) != 0)
		goto out;
	/* base64url, as the trust list writes it (SPEC §5), so a verifier
	 * finds the licence's key by comparing the two strings. */
	if ((rc = cs_b64url_encode(key->kid, CS_KID_LEN, &kid)) != 0)
		goto out;
	json_object_set_new(rec, "kid", json_string(kid));
	json_object_set_new(rec, "token", json_string(token));
out:
	free(kid);
	free(claims);
	free(token);
	return rc;
}

/* A licence number: 64 characters (cs_issue_parse_request) of up to 4 UTF-8 bytes. */
#define NUMBER_MAX (64 * 4 + 1)

/* The serial of a licence placed so with sequence seq: an amendment keeps
 * its licence's. */
static void
placed_serial(const struct placement *pl, int64_t seq,
    char out[CS_SERIAL_MAX + 1])
{
	if (pl->serial != NULL)
		snprintf(out, CS_SERIAL_MAX + 1, "%s", pl->serial);
	else
		seq_serial(seq, out);
}

/*
 * The sequence, serial and number of a new licence.  A number is unique
 * per type and issuing authority (SPEC §1), the versions of one licence
 * sharing it: a given number another licence carries is a conflict (409
 * naming the member), and the numbering rule skips the numbers given by
 * hand, taking the next sequence.  Inside the write transaction, so no
 * other issuance (of the same batch or bundle either) takes them
 * meanwhile; the store's claim on licence_put is the backstop.
 */
static int
assign_number(cs_service *svc, const struct req *r, const struct placement *pl,
    time_t now, int64_t *seq, char serial[CS_SERIAL_MAX + 1],
    char number[NUMBER_MAX], cs_problems *p)
{
	cs_store *st = svc->store;
	int rc, taken, y, m, d;

	cs_civil_from_days(cs_local_days(now, svc->cfg.tz_offset_minutes), &y, &m, &d);
	if ((rc = cs_store_licence_next_seq(st, r->type->code,
	    r->grant->issuer_code, seq)) != 0)
		return rc;
	for (;; (*seq)++) {
		if (r->number != NULL)
			snprintf(number, NUMBER_MAX, "%s", r->number);
		else if ((rc = cs_type_format_number(r->type, *seq, y, number,
		    NUMBER_MAX)) != 0)
			return rc;
		placed_serial(pl, *seq, serial);
		if ((rc = cs_store_licence_number_taken(st, r->type->code,
		    r->grant->issuer_code, number, serial, &taken)) != 0 || !taken)
			return rc;
		if (r->number != NULL) {
			cs_problems_addc(p, r->number_field, CS_FC_DUPLICATE, "is another licence's "
			    "number of this type and issuing authority");
			return cs_err_set(CS_ECONFLICT, "%s '%s' is another licence's "
			    "number of this type and issuing authority",
			    r->number_field, number);
		}
	}
}

/*
 * Create, sign and store one licence.  Runs inside the caller's
 * transaction, so the numbering sequence, the identifier and the number
 * are unique; signing here keeps the signed number and id equal to what
 * is stored.  A number taken goes into p (409).
 */
int
cs_issue_locked(cs_service *svc, const cs_actor *who, const struct req *r,
    const struct placement *pl, json_t **out, char **text_out, cs_problems *p)
{
	cs_store *st = svc->store;
	char serial[CS_SERIAL_MAX + 1], id[CS_LICENCE_ID_MAX], number[NUMBER_MAX];
	char *text = NULL;
	json_t *rec = NULL;
	cs_licence_row row;
	const cs_key *key = NULL;
	int64_t seq = 0;
	time_t now = cs_now();
	int rc;

	*out = NULL;
	if ((rc = assign_number(svc, r, pl, now, &seq, serial, number, p)) != 0)
		goto out;
	if ((rc = cs_licence_id_format(r->type->code, r->grant->issuer_code,
	    serial, pl->version, id)) != 0)
		goto out;
	if ((rc = cs_service_signer(svc, &key)) != 0)
		goto out;
	rec = build_record(key, r, id, number, pl->bundle, pl->supersedes, now);
	rc = rec == NULL ? cs_err_set(CS_ENOMEM, "out of memory") :
	    sign_record(svc, key, r->type, rec);
	if ((rc = cs_service_signed(svc, key, rc)) != 0)
		goto out;
	if ((text = json_dumps(rec, JSON_COMPACT)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	memset(&row, 0, sizeof(row));
	row.id = id;
	row.type = r->type->code;
	row.issuer_code = r->grant->issuer_code;
	row.seq = seq;
	row.holder_code = (char *)r->code;
	row.number = number;
	row.client = who->client->name;
	row.approval_ref = (char *)pl->ref_key;
	row.request_hash = (char *)pl->hash->normalised;
	row.bundle = (char *)pl->bundle;
	row.supersedes = (char *)pl->supersedes;
	row.issued_at = (int64_t)now;
	row.record = text;
	/* The sequence makes the id unique: a conflict here is a broken
	 * store, not the caller's doing (no 409), and a retry would not help. */
	if ((rc = cs_store_licence_put(st, &row)) == CS_ECONFLICT)
		rc = cs_err_set(CS_ESTORE, "licence %s is already stored: the "
		    "numbering sequence of its type and issuer is broken", id);
	if (rc != 0)
		goto out;
	if ((rc = cs_audit(svc, who, pl->supersedes ? "amend" : "issue", id, r->code,
	    NULL, 1)) != 0)
		goto out;
	if ((rc = cs_change_emit(svc, pl->supersedes ? "licence.amended" :
	    "licence.issued", rec, cs_status_of(rec, NULL, 0, now,
	    svc->cfg.tz_offset_minutes, NULL), NULL, NULL)) != 0)
		goto out;
	*out = rec;
	rec = NULL;
	if (text_out != NULL) {
		*text_out = text;  /* the stored record, for the answer */
		text = NULL;
	}
out:
	json_decref(rec);
	free(text);
	return rc;
}

/* An existing licence for (client, approval_ref): the same request gives it
 * back (200), a different one is a conflict (409).  The licence goes into
 * *text as JSON text when text is not NULL, else into *out. */
static int
replay(cs_service *svc, const struct request_hashes *hash, cs_licence_row *row,
    json_t **out, char **text)
{
	if (!cs_issue_same_request(row->request_hash, hash))
		return cs_err_setc(CS_ECONFLICT, CS_CAUSE_APPROVAL_REF_CONFLICT,
		    "approval_ref '%s' was already used "
		    "by this client for a different request (licence %s)",
		    row->approval_ref, row->id);
	if (text != NULL)
		return cs_licence_view_text(svc, row, cs_now(), text);
	return cs_licence_view(svc, row, cs_now(), out, NULL);
}

int
cs_issue_find_existing(cs_service *svc, const cs_actor *who, const char *ref,
    const struct request_hashes *hash, json_t **out, char **text)
{
	cs_licence_row *row = NULL;
	int rc;

	rc = cs_store_licence_by_ref(svc->store, who->client->name, ref, &row);
	if (rc == 0)
		rc = replay(svc, hash, row, out, text);
	cs_licence_row_free(row);
	return rc;
}

/* One issuance's transaction: re-check idempotency under the writer (two
 * identical requests may race), then create the licence. */
struct issue_tx {
	cs_service *svc;
	const cs_actor *who;
	const struct req *r;
	const struct placement *pl;
	json_t **out;         /* a replay's answer (text NULL) */
	char **text;          /* a replay's answer as text */
	json_t *rec;          /* a new licence's record */
	char *stored;         /* and its stored text (text not NULL) */
	cs_problems *p;       /* a conflict's member (a number taken) */
};

static int
issue_tx(void *arg)
{
	struct issue_tx *t = arg;
	int rc, again;

	rc = cs_issue_find_existing(t->svc, t->who, t->pl->ref_key, t->pl->hash, t->out,
	    t->text);
	if (rc != CS_ENOTFOUND)
		return rc;
	rc = cs_issue_locked(t->svc, t->who, t->r, t->pl, &t->rec,
	    t->text ? &t->stored : NULL, t->p);
	/* Many nodes (SPEC §8): another node stored this client's
	 * approval_ref between the look above and our write, and the store's
	 * key refused ours.  The request is then the second of two, answered
	 * as a replay: 200, or 409 when its content differs.  One node never
	 * gets here: its writer makes the look and the write one step. */
	if (rc == CS_ESTORE && (again = cs_issue_find_existing(t->svc, t->who,
	    t->pl->ref_key, t->pl->hash, t->out, t->text)) != CS_ENOTFOUND)
		rc = again;
	return rc;
}

/* After issue_tx's transaction ended with rc: a new licence's view into
 * *t->text or *t->out, its id into id (*created 1); a replay's answer is
 * there already.  On failure neither is left. */
static int
issue_answer(struct issue_tx *t, int rc, char id[CS_LICENCE_ID_MAX],
    int *created)
{
	*created = 0;
	if (rc == 0 && t->rec != NULL) {
		snprintf(id, CS_LICENCE_ID_MAX, "%s",
		    json_string_value(json_object_get(t->rec, "id")));
		if (t->text != NULL)
			rc = cs_record_view_text(t->svc, t->stored, cs_now(),
			    t->text);
		else if ((*t->out = cs_record_view(t->svc, t->rec, NULL, 0,
		    NULL, cs_now(), NULL)) == NULL)
			rc = cs_err_set(CS_ENOMEM, "out of memory");
		*created = rc == 0;
	}
	if (rc != 0 && t->text != NULL) {
		free(*t->text);
		*t->text = NULL;
	} else if (rc != 0) {
		json_decref(*t->out);
		*t->out = NULL;
	}
	return rc;
}

static void
issue_tx_reset(struct issue_tx *t)
{
	json_decref(t->rec);
	free(t->stored);
	t->rec = NULL;
	t->stored = NULL;
}

/* An issuance refused (403), audited under action with the type and the
 * issuing authority asked for as its target: "TYPE.ISSUER" as a licence
 * identifier joins them, or "TYPE" when the request named no authority. */
int
cs_issue_deny(cs_service *svc, const cs_actor *who, const char *action,
    const struct req *r)
{
	char target[CS_TYPE_CODE_LEN + 1 + CS_USCC_LEN + 1];

	/* A client whose role may not issue is refused before the type is
	 * read: its attempt is recorded without a target. */
	snprintf(target, sizeof(target), "%s%s%s", r->type ? r->type->code : "",
	    r->issuer_asked[0] ? "." : "", r->issuer_asked);
	return cs_audit_denied(svc, who, action, target, NULL);
}

/* --- single issuances ----------------------------------------------------- */

struct cs_issue_job {
	struct issue_tx t;
	struct req r;
	struct placement pl;
	struct request_hashes hash;
	json_t *request;      /* held: r borrows its strings */
	cs_problems problems; /* the writer's, for the answer */
	char *text;           /* the answer */
	char id[CS_LICENCE_ID_MAX];
	cs_issue_done done;
	void *ctx;
};

void
cs_issue_job_free(cs_issue_job *j)
{
	if (j == NULL)
		return;
	issue_tx_reset(&j->t);
	cs_issue_req_reset(&j->r);
	cs_problems_reset(&j->problems);
	json_decref(j->request);
	free(j->text);
	free(j);
}

int
cs_issue_prepare(cs_service *svc, const cs_actor *who, const json_t *request,
    cs_problems *p, cs_issue_job **out)
{
	cs_issue_job *j;
	int rc;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	j->request = json_incref((json_t *)request);
	rc = cs_issue_parse_request(svc, who, j->request, "", NULL, &j->r, p);
	if (rc == CS_EFORBIDDEN)
		rc = cs_issue_deny(svc, who, "issue", &j->r);
	if (rc == 0)
		rc = cs_issue_hash_request(j->request, &j->r, &j->hash);
	if (rc != 0) {
		cs_issue_job_free(j);
		return rc;
	}
	j->pl = (struct placement){NULL, NULL, NULL, 1, &j->hash,
	    j->r.approval_ref};
	j->t = (struct issue_tx){svc, who, &j->r, &j->pl, NULL, &j->text, NULL,
	    NULL, &j->problems};
	*out = j;
	return 0;
}

int
cs_issue(cs_service *svc, const cs_actor *who, const json_t *request,
    json_t **out, int *created, cs_problems *p)
{
	cs_issue_job *j;
	char id[CS_LICENCE_ID_MAX];
	int rc;

	*out = NULL;
	*created = 0;
	if ((rc = cs_issue_prepare(svc, who, request, p, &j)) != 0)
		return rc;
	/* In the caller's transaction, the licence as an object. */
	j->t.out = out;
	j->t.text = NULL;
	j->t.p = p;
	rc = cs_tx_run(svc->store, issue_tx, &j->t);
	rc = issue_answer(&j->t, rc, id, created);
	cs_issue_job_free(j);
	return rc;
}

/* The writer's completion: the answer to the caller's, then the job is
 * gone. */
static void
job_done(void *arg, int rc)
{
	cs_issue_job *j = arg;
	int created;

	rc = issue_answer(&j->t, rc, j->id, &created);
	j->done(j->ctx, rc, &j->problems, j->text, j->id, created);
	j->text = NULL;
	cs_issue_job_free(j);
}

int
cs_issue_submit(cs_issue_job *j, cs_issue_done done, void *ctx)
{
	int rc;

	j->done = done;
	j->ctx = ctx;
	if (j->t.svc->issue_writer == NULL)
		rc = cs_err_set(CS_ESTORE, "the issuance writer is not running");
	else
		rc = cs_tx_queue_submit(j->t.svc->issue_writer, issue_tx,
		    job_done, j);
	if (rc != 0)
		cs_issue_job_free(j);
	return rc;
}
