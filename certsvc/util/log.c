/*
 * log.c: one line per event, written whole, to standard error or a file.
 * The line formats: log.h.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cs_err.h"
#include "encode.h"
#include "text.h"

/* The descriptor lines go to: 2 (standard error) or an O_APPEND file. */
static atomic_int log_fd = 2;

int
cs_log_open(const char *path)
{
	int fd;

	if (path == NULL || path[0] == '\0') {
		cs_log_close();
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return cs_err_set(CS_EIO, "log_file %s: cannot open: %s", path,
		    strerror(errno));
	cs_log_close();
	atomic_store(&log_fd, fd);
	return 0;
}

int
cs_log_reopen(const char *path)
{
	int old = atomic_load(&log_fd), fd;

	if (old == 2 || path == NULL || path[0] == '\0')
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return cs_err_set(CS_EIO, "log_file %s: cannot reopen: %s", path,
		    strerror(errno));
	/* dup2 swaps the file under the number at once; close(old) then
	 * open() would let another thread's open take the number between. */
	if (dup2(fd, old) < 0) {
		close(fd);
		return cs_err_set(CS_EIO, "log_file %s: cannot reopen: %s", path,
		    strerror(errno));
	}
	close(fd);
	return 0;
}

void
cs_log_close(void)
{
	int fd = atomic_exchange(&log_fd, 2);

	if (fd != 2)
		close(fd);
}

/* Length of the valid, allowed UTF-8 sequence at s (n bytes available), or
 * 0 when the bytes there are not one.  Overlong forms, surrogates, code
 * points past U+10FFFF, C1 controls and the Unicode line and paragraph
 * separators are refused: some log viewers break lines on those. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len = cs_utf8_decode((const char *)s, n, &cp);

	if (len == 0 || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 ||
	    cp == 0x2029)
		return 0;
	return len;
}

/* The escaped form of the character at s[i] (n bytes in all): its bytes
 * are stored at *piece (tmp or s itself) and its input length in *k.
 * Returns the escaped length. */
static size_t
piece(const unsigned char *s, size_t i, size_t n, int keep_space, char tmp[5],
    const char **piece_out, size_t *k)
{
	unsigned char c = s[i];

	*k = 1;
	*piece_out = tmp;
	if (c == '\\' || c == '"') {
		tmp[0] = '\\', tmp[1] = (char)c;
		return 2;
	}
	if (c == '\n' || c == '\r' || c == '\t') {
		tmp[0] = '\\', tmp[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		return 2;
	}
	if ((c > 0x20 && c < 0x7F) || (c == ' ' && keep_space)) {
		tmp[0] = (char)c;
		return 1;
	}
	if (c >= 0x80 && (*k = utf8_len(s + i, n - i)) > 0) {
		*piece_out = (const char *)s + i;
		return *k;
	}
	*k = 1;
	tmp[0] = '\\', tmp[1] = 'x';
	cs_hex_encode_into(&c, 1, tmp + 2);
	return 4;
}

/* The length of s when every byte of it stands for itself (piece() would
 * copy it as it is), else SIZE_MAX.  Request ids, routes, methods, addresses
 * and client names nearly always do, and copying them whole spares the
 * per-byte passes below: 8k instructions a request line. */
static size_t
plain_len(const unsigned char *s, int keep_space)
{
	size_t i;

	for (i = 0; (s[i] > 0x20 && s[i] < 0x7F && s[i] != '\\' &&
	    s[i] != '"') || (s[i] == ' ' && keep_space); i++)
		;
	return s[i] == '\0' ? i : SIZE_MAX;
}

/* Two passes: the first measures, so a value that fits is never cut and
 * one that does not is cut at a character boundary before "...". */
static size_t
escape(char *out, size_t outlen, const char *in, int keep_space)
{
	const unsigned char *s;
	const char *p;
	char tmp[5];
	size_t n, i, k, t, total = 0, o = 0, budget;

	if (outlen == 0)
		return 0;
	if (in == NULL || in[0] == '\0')
		in = "-";
	s = (const unsigned char *)in;
	if ((n = plain_len(s, keep_space)) < outlen) {
		memcpy(out, in, n + 1);
		return n;
	}
	n = strlen(in);
	for (i = 0; i < n; i += k)
		total += piece(s, i, n, keep_space, tmp, &p, &k);
	budget = total < outlen ? total : (outlen > 4 ? outlen - 4 : 0);
	for (i = 0; i < n; i += k) {
		t = piece(s, i, n, keep_space, tmp, &p, &k);
		if (o + t > budget)
			break;
		memcpy(out + o, p, t);
		o += t;
	}
	if (total >= outlen && outlen > 4) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}

size_t
cs_log_escape(char *out, size_t outlen, const char *in)
{
	return escape(out, outlen, in, 0);
}

/* The request line is built by hand: snprintf's 14 conversions were 6.7k
 * instructions a request, a twentieth of a fetch. */
struct line {
	char *p, *end;  /* end: the last byte, kept for the '\0' */
};

static void
put_str(struct line *l, const char *s)
{
	size_t n = strlen(s), room = (size_t)(l->end - l->p);

	n = n < room ? n : room;
	memcpy(l->p, s, n);
	l->p += n;
}

/* v in decimal, at least width digits. */
static void
put_uint(struct line *l, uint64_t v, int width)
{
	char d[24];
	int n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 || n < width);
	while (n > 0 && l->p < l->end)
		*l->p++ = d[--n];
}

/* " key=value", the value escaped and cut at width bytes (so a line stays
 * under 1 KiB). */
static void
put_field(struct line *l, const char *key, const char *value, size_t width)
{
	char escaped[200];

	put_str(l, key);
	cs_log_escape(escaped, width < sizeof(escaped) ? width : sizeof(escaped),
	    value);
	put_str(l, escaped);
}

size_t
cs_log_format_request(char *out, size_t outlen, const cs_log_request *r)
{
	struct tm tm;
	time_t secs = (time_t)(r->time_ms / 1000);
	uint64_t centi_ms = r->ms > 0 ? (uint64_t)(r->ms * 100 + 0.5) : 0;
	struct line l = { out, out + (outlen > 0 ? outlen - 1 : 0) };

	if (outlen == 0)
		return 0;
	gmtime_r(&secs, &tm);
	put_uint(&l, (uint64_t)(tm.tm_year + 1900), 4);
	put_str(&l, "-");
	put_uint(&l, (uint64_t)tm.tm_mon + 1, 2);
	put_str(&l, "-");
	put_uint(&l, (uint64_t)tm.tm_mday, 2);
	put_str(&l, "T");
	put_uint(&l, (uint64_t)tm.tm_hour, 2);
	put_str(&l, ":");
	put_uint(&l, (uint64_t)tm.tm_min, 2);
	put_str(&l, ":");
	put_uint(&l, (uint64_t)tm.tm_sec, 2);
	put_str(&l, ".");
	put_uint(&l, (uint64_t)(r->time_ms % 1000), 3);
	put_str(&l, "Z");
	put_field(&l, " req=", r->request_id, 80);
	put_field(&l, " client=", r->client, 200);
	put_field(&l, " method=", r->method, 40);
	put_field(&l, " route=", r->route, 120);
	put_str(&l, " status=");
	put_uint(&l, (uint64_t)(r->status > 0 ? r->status : 0), 1);
	put_str(&l, " ms=");
	put_uint(&l, centi_ms / 100, 1);
	put_str(&l, ".");
	put_uint(&l, centi_ms % 100, 2);
	put_field(&l, " remote=", r->remote, 80);
	*l.p = '\0';
	return (size_t)(l.p - out);
}

/* One write per line; a short write to a pipe or terminal is retried for
 * the rest so a line is never left without its newline. */
static void
write_line(int fd, char *line, size_t len)
{
	ssize_t w;

	line[len++] = '\n';
	while (len > 0) {
		w = write(fd, line, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		line += w;
		len -= (size_t)w;
	}
}

void
cs_log_request_line(const cs_log_request *r)
{
	char line[1024];
	size_t n = cs_log_format_request(line, sizeof(line) - 1, r);

	write_line(atomic_load(&log_fd), line, n);
}

static size_t
vformat_msg(char *line, size_t size, const char *fmt, va_list ap)
{
	char raw[2048];

	vsnprintf(raw, sizeof(raw), fmt, ap);
	return escape(line, size, raw, 1);
}

void
cs_log_msg(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = vformat_msg(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	write_line(atomic_load(&log_fd), line, n);
}

void
cs_log_stderr(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	size_t n;
	int fd;

	va_start(ap, fmt);
	n = vformat_msg(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	write_line(2, line, n);
	if ((fd = atomic_load(&log_fd)) != 2)
		write_line(fd, line, n);
}
