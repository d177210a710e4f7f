/*
 * licence_view: the views of a stored licence: the full view (the record
 * with related, status, status_detail and qr_text added) as JSON and, on
 * the hot paths, as text spliced onto the record's own text (the scanner
 * is licence_scan.c); the public view and the QR text.
 */
#include "service_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "json_text.h"
#include "licence_internal.h"
#include "sbuf.h"
#include "text.h"
#include "timeutil.h"
#include "token.h"

/* --- views -------------------------------------------------------------- */

json_t *
cs_status_detail(const cs_event *e)
{
	char at[21];

	cs_rfc3339((time_t)e->at, at);
	return json_pack("{ss ss so* so* so*}", "action", e->action, "at", at,
	    "kind", e->kind ? json_string(e->kind) : NULL,
	    "reason", e->reason ? json_string(e->reason) : NULL,
	    "superseded_by", strcmp(e->action, "supersede") == 0 && e->ref
		? json_string(e->ref) : NULL);
}

/* The view built on v itself, whose reference the caller gives up, as is
 * related's (NULL: none): no copy of a record just parsed. */
static json_t *
view_in_place(cs_service *svc, json_t *v, cs_event **evs, size_t n,
    json_t *related, time_t now, const char **status_out)
{
	const cs_event *detail = NULL;
	const char *status;
	char *qr = NULL;

	status = cs_status_of(v, evs, n, now, svc->cfg.tz_offset_minutes, &detail);
	json_object_set_new(v, "related", related ? related : json_array());
	json_object_set_new(v, "status", json_string(status));
	if (detail != NULL)
		json_object_set_new(v, "status_detail", cs_status_detail(detail));
	if (cs_licence_qr_text(svc, v, NULL, &qr) == 0)
		json_object_set_new(v, "qr_text", json_string(qr));
	free(qr);
	if (status_out != NULL)
		*status_out = status;  /* a static string */
	return v;
}

json_t *
cs_record_view(cs_service *svc, const json_t *rec, cs_event **evs, size_t n,
    const json_t *related, time_t now, const char **status_out)
{
	json_t *v = json_deep_copy(rec);

	if (v == NULL)
		return NULL;
	return view_in_place(svc, v, evs, n, related ? json_deep_copy(related) :
	    NULL, now, status_out);
}

static json_t *
related_ids(cs_service *svc, const cs_licence_row *row)
{
	cs_licence_row **rows = NULL;
	json_t *ids;
	size_t i, n = 0;

	if (row->bundle == NULL ||
	    cs_store_licences_by_bundle(svc->store, row->bundle, &rows, &n) != 0)
		return NULL;
	ids = json_array();
	for (i = 0; i < n; i++)
		if (strcmp(rows[i]->id, row->id) != 0)
			json_array_append_new(ids, json_string(rows[i]->id));
	cs_licence_rows_free(rows, n);
	return ids;
}

/* row's full view with evs, its n status events, already read. */
static int
licence_view_evs(cs_service *svc, const cs_licence_row *row, cs_event **evs,
    size_t n, time_t now, json_t **out, const char **status_out)
{
	json_t *rec;
	json_error_t err;

	*out = NULL;
	if ((rec = json_loads(row->record, 0, &err)) == NULL)
		return cs_err_set(CS_ESTORE, "stored record of %s is not JSON",
		    row->id);
	/* rec was parsed for this view alone: built on it, not on a copy. */
	*out = view_in_place(svc, rec, evs, n, related_ids(svc, row), now,
	    status_out);
	return 0;
}

int
cs_licence_view(cs_service *svc, const cs_licence_row *row, time_t now,
    json_t **out, const char **status_out)
{
	cs_event **evs = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if ((rc = cs_store_events_for(svc->store, row->id, &evs, &n)) == 0)
		rc = licence_view_evs(svc, row, evs, n, now, out, status_out);
	cs_events_free(evs, n);
	return rc;
}

/* --- views as text ------------------------------------------------------ */

/* v serialised as cs_reply_json would; b->failed when it cannot be. */
static void
sb_json(cs_sbuf *b, const json_t *v)
{
	char *t;

	/* Straight into b; a real (none in a view) goes through jansson. */
	if (cs_json_text(b, v) == 0)
		return;
	if ((t = json_dumps(v, JSON_COMPACT)) == NULL)
		b->failed = 1;
	else
		cs_sb_puts(b, t);
	free(t);
}

/*
 * The qr_text member of a scanned record's view.  The url form is written
 * straight from the scan: the token's text in a record jansson wrote, with
 * no escape in it (cs_rec_scan refuses one), is already what a JSON string
 * of it holds, and public_url is checked to be so.  A holder lookup made
 * one copy, one asprintf and one JSON escape pass per licence for it
 * (bench/README.md, issue 20).  The compact form goes the long way.
 */
static void
sb_qr_text(cs_service *svc, const struct rec_scan *sc, cs_sbuf *b)
{
	const char *form = svc->cfg.qr_form, *url = svc->cfg.public_url;
	char *token = NULL, *qr = NULL;

	if (sc->token == NULL)
		return;
	if ((form == NULL || strcmp(form, "url") == 0) && url != NULL &&
	    cs_json_plain(url)) {
		cs_sb_puts(b, ",\"qr_text\":\"");
		cs_sb_puts(b, url);
		cs_sb_add(b, "/v/", 3);
		cs_sb_add(b, sc->token, sc->token_len);
		cs_sb_add(b, "\"", 1);
		return;
	}
	if ((token = strndup(sc->token, sc->token_len)) == NULL)
		b->failed = 1;
	else if (cs_token_qr_text(token, form, url, &qr) == 0) {
		cs_sb_puts(b, ",\"qr_text\":");
		cs_sb_json_string(b, qr);
	}
	free(token);
	free(qr);
}

/*
 * A scanned record's view: its text with related (NULL: an empty list),
 * status, the deciding event's status_detail and qr_text appended, as
 * view_in_place adds them.
 */
static void
splice_view(cs_service *svc, const char *record, const struct rec_scan *sc,
    const json_t *related, const char *status, const cs_event *detail,
    cs_sbuf *b)
{
	json_t *sd = NULL;

	cs_sb_add(b, record, sc->close);
	cs_sb_puts(b, sc->members ? ",\"related\":" : "\"related\":");
	if (related != NULL)
		sb_json(b, related);
	else
		cs_sb_puts(b, "[]");
	cs_sb_puts(b, ",\"status\":\"");
	cs_sb_puts(b, status);
	cs_sb_puts(b, "\"");
	if (detail != NULL && (sd = cs_status_detail(detail)) != NULL) {
		cs_sb_puts(b, ",\"status_detail\":");
		sb_json(b, sd);
	}
	sb_qr_text(svc, sc, b);
	cs_sb_puts(b, "}");
	json_decref(sd);
}

/*
 * A record's scan is kept as a note on its cached row (cs_store_licence_note):
 * a lookup or fetch of a cached row then skips the scan, a quarter of a
 * holder's page (bench/README.md, "Lookup by holder ... tenth session").
 * Only the record's offsets are kept, never anything derived from the
 * time or the events: status, status_detail and related are made on every
 * read as before.  The note says which text it is of (its length) and is
 * checked against it, so that a note can only be used with its record.
 */
#define NOTE_MAGIC 0x56534e31u  /* "VSN1" */
enum { N_MAGIC, N_LEN, N_CLOSE, N_MEMBERS, N_FROM, N_FROM_LEN, N_UNTIL,
    N_UNTIL_LEN, N_TOKEN, N_TOKEN_LEN };
_Static_assert(N_TOKEN_LEN < CS_ROW_NOTE_WORDS, "a scan fits in a note");

/* An offset into a record of len bytes as a note keeps it: 0 for NULL. */
static uint32_t
note_at(const char *record, const char *p)
{
	return p != NULL ? (uint32_t)(p - record) + 1 : 0;
}

/* Where a noted span is, or NULL (-1: out of the record, a bad note). */
static int
note_span(const char *record, size_t len, uint32_t at, uint32_t n,
    const char **p, size_t *plen)
{
	*p = NULL;
	*plen = 0;
	if (at == 0)
		return 0;
	if (at - 1 > len || n > len - (at - 1))
		return -1;
	*p = record + at - 1;
	*plen = n;
	return 0;
}

/* row's scan from its note: 0, or -1 when there is none (or it is not of
 * this record). */
static int
scan_noted(const cs_licence_row *row, struct rec_scan *sc)
{
	const uint32_t *w = row->note;
	size_t len;

	if (w[N_MAGIC] != NOTE_MAGIC)
		return -1;
	len = strlen(row->record);
	if (w[N_LEN] != len || w[N_CLOSE] >= len ||
	    row->record[w[N_CLOSE]] != '}')
		return -1;
	memset(sc, 0, sizeof(*sc));
	sc->close = w[N_CLOSE];
	sc->members = (int)w[N_MEMBERS];
	return note_span(row->record, len, w[N_FROM], w[N_FROM_LEN], &sc->from,
	    &sc->from_len) || note_span(row->record, len, w[N_UNTIL],
	    w[N_UNTIL_LEN], &sc->until, &sc->until_len) ||
	    note_span(row->record, len, w[N_TOKEN], w[N_TOKEN_LEN], &sc->token,
	    &sc->token_len) ? -1 : 0;
}

/* row's record scanned into sc (0), or -1 (the parsing path); a scan made
 * here is noted on the cached row for the next read. */
static int
scan_record(cs_service *svc, const cs_licence_row *row, struct rec_scan *sc)
{
	cs_licence_row noted;
	size_t len;

	if (scan_noted(row, sc) == 0)
		return 0;
	if (cs_rec_scan(row->record, sc, NULL, NULL, NULL) != 0)
		return -1;
	if ((len = strlen(row->record)) >= UINT32_MAX)
		return 0;
	noted = *row;
	memset(noted.note, 0, sizeof(noted.note));
	noted.note[N_MAGIC] = NOTE_MAGIC;
	noted.note[N_LEN] = (uint32_t)len;
	noted.note[N_CLOSE] = (uint32_t)sc->close;
	noted.note[N_MEMBERS] = (uint32_t)sc->members;
	noted.note[N_FROM] = note_at(row->record, sc->from);
	noted.note[N_FROM_LEN] = (uint32_t)sc->from_len;
	noted.note[N_UNTIL] = note_at(row->record, sc->until);
	noted.note[N_UNTIL_LEN] = (uint32_t)sc->until_len;
	noted.note[N_TOKEN] = note_at(row->record, sc->token);
	noted.note[N_TOKEN_LEN] = (uint32_t)sc->token_len;
	cs_store_licence_note(svc->store, &noted);
	return 0;
}

int
cs_licence_view_sb_evs(cs_service *svc, const cs_licence_row *row,
    cs_event **evs, size_t n, time_t now, const char *want, const char *sep,
    cs_sbuf *b, int *shown)
{
	struct rec_scan sc;
	const cs_event *detail = NULL;
	json_t *v = NULL, *related = NULL;
	const char *status;
	int64_t today;
	int rc = 0;

	*shown = 0;
	if (scan_record(svc, row, &sc) != 0) {
		if ((rc = licence_view_evs(svc, row, evs, n, now, &v,
		    &status)) != 0 || (want != NULL && strcmp(want, status) != 0))
			goto out;
		cs_sb_puts(b, sep);
		sb_json(b, v);
		*shown = 1;
		goto out;
	}
	today = cs_local_days(now, svc->cfg.tz_offset_minutes);
	status = cs_status_at(evs, n, today, cs_span_days(sc.from, sc.from_len, today),
	    cs_span_days(sc.until, sc.until_len, today), &detail);
	if (want != NULL && strcmp(want, status) != 0)
		goto out;
	related = related_ids(svc, row);
	cs_sb_puts(b, sep);
	splice_view(svc, row->record, &sc, related, status, detail, b);
	*shown = 1;
out:
	if (rc == 0 && b->failed)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	json_decref(v);
	json_decref(related);
	return rc;
}

int
cs_licence_view_sb(cs_service *svc, const cs_licence_row *row, time_t now,
    const char *want, const char *sep, cs_sbuf *b, int *shown)
{
	cs_event **evs = NULL;
	size_t n = 0;
	int rc;

	*shown = 0;
	if ((rc = cs_store_events_for(svc->store, row->id, &evs, &n)) == 0)
		rc = cs_licence_view_sb_evs(svc, row, evs, n, now, want, sep, b,
		    shown);
	cs_events_free(evs, n);
	return rc;
}

int
cs_licence_view_text(cs_service *svc, const cs_licence_row *row, time_t now,
    char **out)
{
	cs_sbuf b = CS_SBUF_INIT;
	int rc, shown;

	*out = NULL;
	if ((rc = cs_licence_view_sb(svc, row, now, NULL, "", &b, &shown)) == 0) {
		*out = b.p;
		b.p = NULL;
	}
	cs_sb_free(&b);
	return rc;
}

int
cs_record_view_text(cs_service *svc, const char *record, time_t now,
    char **out)
{
	struct rec_scan sc;
	cs_sbuf b = CS_SBUF_INIT;
	json_t *rec = NULL, *v = NULL;
	json_error_t err;
	int64_t today;
	int rc = 0;

	*out = NULL;
	if (cs_rec_scan(record, &sc, NULL, NULL, NULL) == 0) {
		today = cs_local_days(now, svc->cfg.tz_offset_minutes);
		splice_view(svc, record, &sc, NULL, cs_status_at(NULL, 0, today,
		    cs_span_days(sc.from, sc.from_len, today), cs_span_days(sc.until,
		    sc.until_len, today), NULL), NULL, &b);
	} else if ((rec = json_loads(record, 0, &err)) == NULL) {
		rc = cs_err_set(CS_ESTORE, "a licence record is not JSON");
	} else if ((v = cs_record_view(svc, rec, NULL, 0, NULL, now,
	    NULL)) != NULL) {
		sb_json(&b, v);
	} else
		b.failed = 1;
	if (rc == 0 && b.failed)
		rc = cs_err_set(CS_ENOMEM, "out of memory");
	if (rc == 0) {
		*out = b.p;
		b.p = NULL;
	}
	cs_sb_free(&b);
	json_decref(rec);
	json_decref(v);
	return rc;
}

/* The deciding event as anyone may see it: its action, time, kind and
 * successor, without the issuer's free-text reason, which may say things
 * about the holder that only readers with access should see
 * (docs/design.md, "The public view"). */
static json_t *
public_detail(const json_t *detail)
{
	json_t *d;

	if (!json_is_object(detail) || (d = json_copy((json_t *)detail)) == NULL)
		return NULL;
	json_object_del(d, "reason");
	return d;
}

json_t *
cs_public_view(cs_service *svc, const json_t *full)
{
	const json_t *holder = json_object_get(full, "holder");
	const cs_type *t = cs_catalog_find(svc->catalog,
	    json_string_value(json_object_get(full, "type")));
	const char *ct = json_string_value(json_object_get(holder, "code_type"));
	const char *code = json_string_value(json_object_get(holder, "code"));
	char masked[64] = "";
	json_t *fields = json_object(), *v;
	size_t i;

	if (code != NULL && strlen(code) < sizeof(masked)) {
		if (ct != NULL && strcmp(ct, "RID") == 0)
			cs_code_mask(code, masked);
		else
			snprintf(masked, sizeof(masked), "%s", code);
	}
	for (i = 0; t != NULL && i < t->n_fields; i++)
		if (t->fields[i].in_qr &&
		    (v = json_object_get(json_object_get(full, "fields"),
		    t->fields[i].name)) != NULL)
			json_object_set(fields, t->fields[i].name, v);
	return json_pack("{sO sO sO sO s{sO sO ss} sO sO sO sO so sO sO* so*}",
	    "id", json_object_get(full, "id"), "type", json_object_get(full, "type"),
	    "type_name", json_object_get(full, "type_name"),
	    "number", json_object_get(full, "number"),
	    "holder", "name", json_object_get(holder, "name"),
	    "code_type", json_object_get(holder, "code_type"), "code", masked,
	    "issuer", json_object_get(full, "issuer"),
	    "issued_at", json_object_get(full, "issued_at"),
	    "valid_from", json_object_get(full, "valid_from"),
	    "valid_until", json_object_get(full, "valid_until"),
	    "fields", fields, "status", json_object_get(full, "status"),
	    "supersedes", json_object_get(full, "supersedes"),
	    "status_detail", public_detail(json_object_get(full, "status_detail")));
}

int
cs_licence_qr_text(cs_service *svc, const json_t *lic, const char *form, char **out)
{
	const char *token = json_string_value(json_object_get(lic, "token"));

	*out = NULL;
	if (token == NULL)
		return cs_err_set(CS_EINVAL, "licence has no token");
	return cs_token_qr_text(token, form ? form : svc->cfg.qr_form,
	    svc->cfg.public_url, out);
}
