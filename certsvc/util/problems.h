/*
 * problems: a list of (field, message) pairs, the "errors" member of an
 * RFC 9457 problem (SPEC §5).  Validators append to it instead of stopping
 * at the first problem, so a caller learns everything wrong in one answer.
 * Field paths are dotted: "holder.code", "fields.licence_scope",
 * "certificates.1.holder.code".
 */
#ifndef CS_PROBLEMS_H
#define CS_PROBLEMS_H

#include <stddef.h>

typedef struct cs_problem {
	char *field;    /* owned */
	char *message;  /* owned */
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

/* Append every problem of src with "prefix." put before its field. */
void cs_problems_merge(cs_problems *dst, const cs_problems *src, const char *prefix);

/* Free the items; p itself may live on the stack. */
void cs_problems_reset(cs_problems *p);

#endif
