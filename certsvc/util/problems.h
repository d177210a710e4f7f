/*
 * problems: a list of (field, message) pairs, the "errors" member of an
 * RFC 9457 problem (SPEC §5).  Validators append to it instead of stopping
 * at the first problem, so a caller learns everything wrong in one answer.
 * Field paths are dotted: "holder.code", "fields.licence_scope",
 * "certificates.1.holder.code".
 */
#ifndef CS_PROBLEMS_H
#define CS_PROBLEMS_H

#include <stdarg.h>
#include <stddef.h>

/*
 * The stable codes of field errors (docs/problems.md lists them with their
 * Chinese messages): a client branches on these, never on the English
 * message.  Static strings; CS_FC_INVALID when no finer code applies.
 */
#define CS_FC_REQUIRED "required"            /* missing */
#define CS_FC_TYPE "type"                    /* wrong JSON kind */
#define CS_FC_UNKNOWN_MEMBER "unknown_member"
#define CS_FC_UNKNOWN_PARAMETER "unknown_parameter"
#define CS_FC_EMPTY "empty"
#define CS_FC_MAX_LENGTH "max_length"
#define CS_FC_MIN_LENGTH "min_length"
#define CS_FC_LENGTH "length"                /* a code of fixed length */
#define CS_FC_PATTERN "pattern"
#define CS_FC_ENUM "enum"
#define CS_FC_DATE "date"
#define CS_FC_RANGE "range"
#define CS_FC_CHARSET "charset"              /* a character not allowed */
#define CS_FC_CHECK_CHARACTER "check_character"
#define CS_FC_DUPLICATE "duplicate"          /* taken by another record */
#define CS_FC_INVALID "invalid"

/*
 * The causes of a refusal finer than its status, each its own problem
 * "type" (the table with titles and Chinese text: certsvc/http/
 * http_problem.c; the list for callers: docs/problems.md).  Set with
 * cs_err_set_cause() where the refusal is decided.
 */
enum cs_cause {
	CS_CAUSE_NONE = 0,
	CS_CAUSE_APPROVAL_REF_CONFLICT,  /* 409 */
	CS_CAUSE_ILLEGAL_TRANSITION,     /* 409 */
	CS_CAUSE_GRANT_MISSING,          /* 403 */
	CS_CAUSE_NOT_ISSUER,             /* 403 */
	CS_CAUSE_ROLE_FORBIDDEN,         /* 403 */
	CS_CAUSE_INVALID_CODE,           /* 400 */
	CS_CAUSE_PURPOSE_REQUIRED,       /* 400 */
	CS_CAUSE_UNKNOWN_PARAMETER,      /* 400 */
	CS_CAUSE_INVALID_PARAMETER,      /* 400 */
	CS_CAUSE_MALFORMED_JSON,         /* 400 */
	CS_CAUSE_INVALID_TOKEN,          /* 401 */
	CS_CAUSE_N
};

typedef struct cs_problem {
	char *field;       /* owned */
	char *message;     /* owned */
	const char *code;  /* static: a CS_FC_* */
} cs_problem;

typedef struct cs_problems {
	cs_problem *items;
	size_t n, cap;
} cs_problems;

#define CS_PROBLEMS_INIT {NULL, 0, 0}

/* Append one problem; the message is a printf format.  Out of memory drops
 * the problem (the caller still sees the ones already added). */
void cs_problems_add(cs_problems *p, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The same with its stable code (a CS_FC_*). */
void cs_problems_addc(cs_problems *p, const char *field, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The same with a va_list. */
void cs_problems_vaddc(cs_problems *p, const char *field, const char *code,
    const char *fmt, va_list ap);

/* Append the thread's last error: cs_err_msg() with cs_err_reason() as
 * code (CS_FC_INVALID when it has none). */
void cs_problems_adderr(cs_problems *p, const char *field);

/* Append every problem of src with "prefix." put before its field. */
void cs_problems_merge(cs_problems *dst, const cs_problems *src, const char *prefix);

/* Free the items; p itself may live on the stack. */
void cs_problems_reset(cs_problems *p);

#endif
