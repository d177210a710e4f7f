/*
 * licence_internal: what the files of the licence module share
 * (licence.c: reads and transitions; licence_status.c: the status;
 * licence_view.c: the views and the record scanner; holder.c: a holder's
 * licences).  Not for use outside them; the module's API is in
 * service_internal.h and service.h.
 */
#ifndef CS_LICENCE_INTERNAL_H
#define CS_LICENCE_INTERNAL_H

/* Private to certsvc/domain: its library is built with CS_LAYER_DOMAIN;
 * anyone else gets this error (white-box tests define it on purpose). */
#ifndef CS_LAYER_DOMAIN
#error "licence_internal.h is private to certsvc/domain: include service.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "sbuf.h"
#include "service_internal.h"

/* --- the status (licence_status.c) --------------------------------------- */

/* The status of a licence whose events are evs[0..n), today, from and
 * until day numbers; *detail (when not NULL) the deciding event or NULL. */
const char *cs_status_at(cs_event **evs, size_t n, int64_t today,
    int64_t from, int64_t until, const cs_event **detail);

/* --- the views (licence_view.c) ------------------------------------------ */

/* The top-level members of a stored record that a view needs, found by
 * cs_rec_scan() (licence_view.c says why and when it gives up). */
struct rec_scan {
	const char *from, *until, *token;  /* string values, NULL if not */
	size_t from_len, until_len, token_len;
	size_t close;                      /* offset of the closing brace */
	int members;
};

int cs_rec_scan(const char *text, struct rec_scan *sc,
    const char *const *keep, cs_sbuf *trim, const cs_type *qr_type);
/* The object at *pp as json_loads would read it, *pp moved past it, when
 * it holds only strings without escapes, nulls and (depth up to 2) such
 * objects; NULL otherwise, and the caller reads it with json_loads. */
json_t *cs_flat_object(const char **pp, int depth);
/* A scanned date's day number, def when it is not one. */
int64_t cs_span_days(const char *s, size_t n, int64_t def);
/* The status_detail member of a view for its deciding event e. */
json_t *cs_status_detail(const cs_event *e);
/* The full view of row (cs_licence_view) as JSON text appended to b,
 * first sep, when its status is want (NULL: any); *shown says whether it
 * was.  The same bytes as json_dumps(JSON_COMPACT) of cs_licence_view's
 * object. */
int cs_licence_view_sb(cs_service *svc, const cs_licence_row *row,
    time_t now, const char *want, const char *sep, cs_sbuf *b, int *shown);
/* The same with evs, row's n status events, already read (a holder's
 * page reads its licences' in one call, cs_store_events_for_many). */
int cs_licence_view_sb_evs(cs_service *svc, const cs_licence_row *row,
    cs_event **evs, size_t n, time_t now, const char *want, const char *sep,
    cs_sbuf *b, int *shown);
/* s as a JSON string, the way json_dumps writes it. */
void cs_sb_json_string(cs_sbuf *b, const char *s);
/* Whether s is printable ASCII without '"' or '\\': written as a JSON
 * string's content as it is. */
int cs_json_plain(const char *s);

#endif
