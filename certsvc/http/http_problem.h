/*
 * http_problem: RFC 9457 problem responses, application/problem+json:
 *
 *   {"type": "<problem_base><slug>", "title", "status", "detail",
 *    "errors": [{"field", "code", "message"}], "request_id"}
 *
 * The slug names the cause (one table, http_problem.c; docs/problems.md):
 * the status's own (conflict) unless a finer cause is known
 * (approval-ref-conflict).  Each error's "code" is stable (problems.h's
 * CS_FC_*).  A caller whose Accept-Language prefers zh gets title, detail
 * and each message in Chinese, the English beside them as "detail_en" and
 * "message_en"; Content-Language says which.
 *
 * and the one place CS_E* codes become HTTP status codes (SPEC §5 status
 * codes; service.h's table):
 *
 *   CS_EINVAL, CS_EUNSUPPORTED, CS_ESIGNATURE, CS_EUNKNOWNKEY   400
 *   CS_EAUTH                                                    401
 *   CS_EFORBIDDEN, CS_EPERM                                     403
 *   CS_ENOTFOUND                                                404
 *   CS_ECONFLICT                                                409
 *   CS_ETOOBIG                                                  413
 *   CS_EVALIDATION                                              422
 *   CS_EFULL, CS_EUNAVAIL                                       503
 *   CS_ENOMEM, CS_EIO, CS_ECRYPTO, CS_ESTORE, anything else      500
 *
 * "errors" appears when there is at least one; a 500 never shows the
 * internal message (it may name a file or a SQL statement): its detail is
 * generic with the request id, and the message goes to the log line of that
 * request id instead.  A 503 for a code likewise: its detail is the code's
 * description (cs_strerror) and it carries Retry-After.
 */
#ifndef CS_HTTP_PROBLEM_H
#define CS_HTTP_PROBLEM_H

#include <stddef.h>
#include <stdint.h>

#include "problems.h"

typedef struct cs_req cs_req;

/*
 * The Chinese message of a field error of code (a CS_FC_*): base, its
 * code's Chinese text, with the figures of en, its English message: the
 * size found and the limit (max_length, min_length, length, range), the
 * allowed values (enum), the pattern (pattern).  Into out (n bytes,
 * truncated); base alone when en carries none (http_problem_zh.c).
 */
void cs_http_problem_zh(const char *code, const char *base, const char *en,
    char *out, size_t n);

/* The status for a CS_E* code (0 gives 200). */
int cs_http_status_of(int code);

/* Leave a problem response in r: detail (NULL for none), errors (NULL or
 * empty for none).  401 adds WWW-Authenticate: Bearer, 503 Connection:
 * close. */
void cs_http_problem(cs_req *r, int status, const char *detail,
    const cs_problems *errors);
void cs_http_problemf(cs_req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same with a cause (enum cs_cause, 0 for none) deciding the type when
 * its status is status. */
void cs_http_problem_cause(cs_req *r, int cause, int status,
    const char *detail, const cs_problems *errors);
/* The status of a cause's problem (400 for none). */
int cs_http_cause_status(int cause);
/* A problem of a cause (its status) with one error: field, its code
 * (CS_FC_*), the message as detail. */
void cs_http_problem_at(cs_req *r, int cause, const char *field,
    const char *code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* The same with one error naming a field (a header, a parameter). */
void cs_http_problem_field(cs_req *r, int status, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* 429 with Retry-After: the whole seconds of retry_ms, rounded up; the
 * detail is what followed by "; retry in N s". */
void cs_http_problem_retry(cs_req *r, int64_t retry_ms, const char *what);
/* The problem for a domain error: its status, cs_err_msg() as detail and
 * errors (for CS_EVALIDATION).  For a 500 and a 503 see above. */
void cs_http_problem_err(cs_req *r, int code, const cs_problems *errors);

#endif
