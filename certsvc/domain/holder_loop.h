/*
 * holder_loop: what the holder-in-the-loop modules (SPEC §10:
 * presentation.c, authorisation.c, delegation.c, usage.c) share: the keys
 * of their rows in the store's holder acts (store.h cs_hact_row), the
 * portal check, the holder code of a path, the licences of a request and
 * the coverage of a delegation.  Domain-internal.
 *
 * Keys.  Every act of one thing shares a key; n orders its rows:
 *   "P" hex(SHA-256(code))   a presentation (n 0)
 *   "A" hex(SHA-256(code))   a use authorisation (n 0), its withdrawal
 *                            (n -1) and its uses (n 1..uses)
 *   "D" holder "/" agent     a holder's delegations to one agent and their
 *                            withdrawals (n 1, 2, ...: one row each)
 *   "U" holder               the holder's usage record as first
 *                            written (n: the time in microseconds); no
 *                            longer written nor read: the record is a
 *                            view of the audit log now (usage.c)
 * Codes are stored only as hashes: the table (and a copy of it) cannot
 * be read for a live code.
 */
#ifndef CS_HOLDER_LOOP_H
#define CS_HOLDER_LOOP_H

#include "service_internal.h"

#include "codes.h"

#define CS_HL_KEY_MAX 80
#define CS_HL_LICENCES_MAX 100
/* The most rows one key's history is read with: a delegation key grows by
 * a row per delegation or withdrawal, an authorisation by a row a use. */
#define CS_HL_ROWS_MAX 2000

/* key = prefix + hex SHA-256 of code. */
void cs_hl_code_key(char prefix, const char *code, char key[CS_HL_KEY_MAX]);
/* Only a portal speaks for a holder (SPEC §10): CS_EFORBIDDEN otherwise. */
int cs_hl_require_portal(const cs_actor *who, const char *what);
/* The holder code of a path, upper-cased into out: a credit code or
 * resident ID passing its check, else a problem naming "code" and
 * CS_EVALIDATION (SPEC §10: 422). */
int cs_hl_holder_code(const char *in, char out[CS_USCC_LEN + 1],
    cs_problems *p, const char *field);
/* Append one act; CS_ECONFLICT when (key, n) is taken. */
int cs_hl_put(cs_service *svc, const char *key, int64_t n, const char *kind,
    const char *holder, const json_t *body);
/* End the transaction begun for an act: commit when rc is 0, else roll
 * back keeping rc and its message.  Returns the outcome. */
int cs_hl_finish(cs_service *svc, int rc);
/* A key's rows, greatest n first (store.h); *rows cs_hact_rows_free. */
int cs_hl_rows(cs_service *svc, const char *key, cs_hact_row ***rows,
    size_t *n);
/* A row's body parsed; NULL when it is not JSON. */
json_t *cs_hl_body(const cs_hact_row *r);

/*
 * The licences a request names ("licences": [ids] | "all", or for an
 * authorisation also {"types": [...]}), checked against the holder:
 * a malformed, unknown or foreign id is a problem naming
 * "licences.N" (CS_EVALIDATION), another holder's licence CS_EFORBIDDEN.
 * With acting_for (an agent code, already checked) every licence must be
 * covered by a live delegation (CS_EFORBIDDEN).  *out: a JSON array of
 * ids ("all" resolved to the holder's licences, newest first, at most
 * CS_HL_LICENCES_MAX, those the delegation covers) or, when types_ok and
 * the request gave types, {"types": [...]}.
 */
int cs_hl_licences(cs_service *svc, const char *holder, const char *acting_for,
    const json_t *req, int types_ok, json_t **out, cs_problems *p);
/* The X-Acting-For header's agent code checked into out (CS_EINVAL
 * naming X-Acting-For when it fails), or out "" for NULL. */
int cs_hl_agent_code(const char *in, char out[CS_USCC_LEN + 1]);
/* For a request with X-Acting-For (in; NULL: none): the agent's code
 * into agent ("" for none), and CS_EFORBIDDEN unless some live delegation
 * from holder to the agent exists. */
int cs_hl_acting_check(cs_service *svc, const char *holder, const char *in,
    char agent[CS_USCC_LEN + 1]);
/* What a presentation's and an authorisation's request pass first: a
 * portal (what: "create a presentation"), a JSON object, the path's holder
 * code (into holder) and X-Acting-For (into agent, cs_hl_acting_check). */
int cs_hl_create_check(cs_service *svc, const cs_actor *who, const char *what,
    const char *holder_in, const char *acting_for, const json_t *req,
    char holder[CS_USCC_LEN + 1], char agent[CS_USCC_LEN + 1],
    cs_problems *p);
/* Whether a live delegation from holder to agent covers type (type NULL:
 * any live delegation): 1 yes, 0 no, <0 an error. */
int cs_hl_delegation_covers(cs_service *svc, const char *holder,
    const char *agent, const char *type);
#endif
