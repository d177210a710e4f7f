/*
 * cs_err: the one error convention of certsvc.
 *
 * Every fallible function returns 0 on success or one negative CS_E* code
 * from the table below.  The detail a person needs ("holder.code: check
 * character is 3, expected 7") goes into a per-thread message set with
 * cs_err_set() at the place the error is found; callers read it with
 * cs_err_msg() and may prefix context with cs_err_wrap().  OpenSSL's and
 * SQLite's own messages are turned into this message where they are called
 * and never travel further (they must not reach an HTTP response).
 */
#ifndef CS_ERR_H
#define CS_ERR_H

#include <stddef.h>

/* X(name, value, short description).  The HTTP layer maps these to status
 * codes in one place (certsvc/http/http_problem.c). */
#define CS_ERR_TABLE(X)                                                      \
	X(CS_EINVAL, -1, "invalid argument or malformed input")                  \
	X(CS_ENOMEM, -2, "out of memory")                                        \
	X(CS_EIO, -3, "input/output error")                                      \
	X(CS_ENOTFOUND, -4, "not found")                                         \
	X(CS_ECONFLICT, -5, "conflict")                                          \
	X(CS_EVALIDATION, -6, "validation failed")                               \
	X(CS_ECRYPTO, -7, "cryptographic library error")                         \
	X(CS_EUNSUPPORTED, -8, "unsupported algorithm or feature")               \
	X(CS_ESIGNATURE, -9, "signature does not verify")                        \
	X(CS_EUNKNOWNKEY, -10, "unknown signing key")                            \
	X(CS_EPERM, -11, "permission denied")                                    \
	X(CS_ETOOBIG, -12, "input over the size limit")                          \
	X(CS_ESTORE, -13, "storage error")                                       \
	X(CS_EFORBIDDEN, -14, "not allowed for this client")                     \
	X(CS_EAUTH, -15, "missing or unknown credentials")                       \
	X(CS_EFULL, -16, "disk full: no space left to write")                    \
	X(CS_EUNAVAIL, -17, "temporarily unavailable")

enum cs_err {
	CS_OK = 0,
#define CS_ERR_ENUM(name, value, desc) name = value,
	CS_ERR_TABLE(CS_ERR_ENUM)
#undef CS_ERR_ENUM
};

/* Set the per-thread message (printf format) and return code, so that
 * `return cs_err_set(CS_EINVAL, "...")` reads naturally. */
int cs_err_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefix the current message with context ("templates/x.json: ") and
 * return code unchanged. */
int cs_err_wrap(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append the newest OpenSSL error queue entry (if any) to a message and
 * clear the queue; returns CS_ECRYPTO. */
int cs_err_openssl(const char *what);

/* The last message set on this thread; never NULL (empty when unset).
 * Borrowed: valid until the next cs_err_* call on this thread. */
const char *cs_err_msg(void);

/* Clear the message of this thread (and its cause and reason). */
void cs_err_clear(void);

/*
 * Two finer labels beside the code, for answers a program reads: the
 * cause (an enum of certsvc/util/problems.h: an approval_ref conflict and
 * a forbidden status change are both CS_ECONFLICT, but a client must tell
 * them apart without parsing English) and the reason (a field error's
 * stable code, a static string such as "check_character").  Set by the
 * code that knows why, after cs_err_set(), which clears both; cs_err_wrap()
 * keeps them.  0 and NULL when unset.
 */
void cs_err_set_cause(int cause);
/* cs_err_set() and cs_err_set_cause() in one. */
int cs_err_setc(int code, int cause, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cs_err_cause(void);
void cs_err_set_reason(const char *reason);
const char *cs_err_reason(void);

/* The table's short description of a code; "unknown error" otherwise. */
const char *cs_strerror(int code);

/* The table's symbolic name ("CS_EINVAL"); for logs and tests. */
const char *cs_errname(int code);

#endif
