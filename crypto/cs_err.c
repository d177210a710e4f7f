#include "cs_err.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One message per thread: the HTTP server answers requests on a pool. */
static _Thread_local char err_msg[1024];

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF) at p, or 0. */
static size_t
utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n = 0, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4;
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	for (i = 1; i < n; i++) {
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF))
			return 0;
	}
	return n;
}

/*
 * Messages reach JSON answers (a verify verdict's reason, a problem's
 * detail), where text must be UTF-8 or the whole answer fails to encode.
 * A message may quote hostile input, or be cut inside a character by the
 * buffer, so every byte outside a well-formed sequence becomes '?'.
 */
void
cs_utf8_scrub(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		if ((n = utf8_len(p)) == 0) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

int
cs_err_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	cs_utf8_scrub(err_msg);
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
