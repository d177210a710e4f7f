/*
 * cs_err.c: the error names and the per-thread message.  The convention:
 * cs_err.h.
 */
#include "cs_err.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

/* One message per thread: the HTTP server answers requests on a pool. */
static _Thread_local char err_msg[1024];
static _Thread_local int err_cause;
static _Thread_local const char *err_reason;

int
cs_err_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	cs_utf8_scrub(err_msg);
	err_cause = 0;
	err_reason = NULL;
	return code;
}

int
cs_err_wrap(int code, const char *fmt, ...)
{
	char prefix[512], old[sizeof(err_msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err_msg, sizeof(old));
	snprintf(err_msg, sizeof(err_msg), "%s%s", prefix, old);
	cs_utf8_scrub(err_msg);
	return code;
}

int
cs_err_openssl(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return cs_err_set(CS_ECRYPTO, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

const char *
cs_err_msg(void)
{
	return err_msg;
}

void
cs_err_clear(void)
{
	err_msg[0] = '\0';
	err_cause = 0;
	err_reason = NULL;
}

void
cs_err_set_cause(int cause)
{
	err_cause = cause;
}

int
cs_err_setc(int code, int cause, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	cs_utf8_scrub(err_msg);
	err_cause = cause;
	err_reason = NULL;
	return code;
}

int
cs_err_cause(void)
{
	return err_cause;
}

void
cs_err_set_reason(const char *reason)
{
	err_reason = reason;
}

const char *
cs_err_reason(void)
{
	return err_reason;
}

const char *
cs_strerror(int code)
{
	switch (code) {
	case CS_OK:
		return "success";
#define CS_ERR_DESC(name, value, desc)                                       \
	case name:                                                           \
		return desc;
		CS_ERR_TABLE(CS_ERR_DESC)
#undef CS_ERR_DESC
	}
	return "unknown error";
}

const char *
cs_errname(int code)
{
	switch (code) {
	case CS_OK:
		return "CS_OK";
#define CS_ERR_NAME(name, value, desc)                                       \
	case name:                                                           \
		return #name;
		CS_ERR_TABLE(CS_ERR_NAME)
#undef CS_ERR_NAME
	}
	return "CS_E?";
}
