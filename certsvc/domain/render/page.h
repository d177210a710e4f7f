/*
 * page: the HTML of the public verification page (SPEC §5 GET /v/{token},
 * GET and POST /v): the result of one check, the form where a scanner's
 * text is pasted, and the form for a paper copy typed by hand.
 *
 * Pure functions from a verify result object ({"result", "reason",
 * "checked_at", "certificate"}, the certificate in its public view) to a
 * self-contained page: inline CSS, no script, no font, image or style
 * loaded from anywhere, so it works with JavaScript off, on a slow phone,
 * and leaks nothing to another site.  Every value that came from a licence
 * or a request is HTML-escaped.  The page is Chinese first with English
 * beside it, and under CS_PAGE_MAX_BYTES for any licence the catalog can
 * describe (each value is bounded by the catalog's field limits).
 */
#ifndef CS_PAGE_H
#define CS_PAGE_H

#include <jansson.h>
#include <stddef.h>

#include "catalog.h"

/* The budget of one page (the "under 30 KiB"). */
#define CS_PAGE_MAX_BYTES (30 * 1024)

/* How the details reached the page: it changes what "not found" and
 * "malformed" mean to the person reading it. */
enum cs_page_source {
	CS_PAGE_QR,      /* a QR code's text: scanned, opened or pasted */
	CS_PAGE_MANUAL,  /* a paper copy's number or id and holder code, typed */
};

typedef struct cs_page_opts {
	const cs_catalog *catalog;  /* field labels; NULL: the field names */
	long tz_offset_minutes;     /* the deployment's zone, for the check time */
	enum cs_page_source source;
} cs_page_opts;

/* The state a result is shown in: its tone (ok = green, warn = amber,
 * bad = red) and its class on the page.  Unknown results are "bad". */
const char *cs_page_tone(const char *result);

/* The result page for a verify result.  *out malloc'd, NUL-terminated,
 * *len its length.  CS_ENOMEM only: any result object makes a page (an
 * unknown result or a missing certificate shows as a failed check). */
int cs_page_result(const json_t *res, const cs_page_opts *o, char **out,
    size_t *len);

/* The /p/{code} page (SPEC §10, 亮证): a presentation's result object
 * (cs_presentation_verify: "presentation" with its "certificates" and
 * "expires_at", "presentation_expired" or "not_found") as one page: the
 * licences each with its status at a glance and the time left, the page
 * reloading itself when the code expires; an expired or unknown code is a
 * plain page that shows no licence.  *out as cs_page_result's. */
int cs_page_presentation(const json_t *res, const cs_page_opts *o,
    char **out, size_t *len);

/* The presentation page's one script (its time left counting down) is
 * allowed by hash alone: the CSP source "'sha256-...'" naming it, for
 * the page's script-src.  Static, computed once. */
const char *cs_page_presentation_script_src(void);

/* The /v page: where to paste a scanner's text, and the paper-copy form.
 * notice: a line shown above the forms (escaped), or NULL. */
int cs_page_forms(const char *notice, char **out, size_t *len);

/* The body of a paper-copy check (cs_verify_manual) from the form's two
 * inputs: "licence" (a licence identifier or a licence number: an
 * identifier starts with the e-licence root 1.2.156.3005.2.) and
 * "holder_code".  Surrounding spaces are dropped from both and spaces
 * inside the holder code too (people type it in groups).  NULL inputs
 * become absent members, so cs_verify_manual says what is missing.  The
 * inputs are valid UTF-8 (the caller checks them: cs_text_check); NULL
 * when they are not or memory runs out. */
json_t *cs_page_manual_request(const char *licence, const char *holder_code);

#endif
