/*
 * log: the request log and the service's own lines (startup, shutdown,
 * internal errors), one line per event, to standard error or a file.
 *
 * Every value that can come from outside (a method, a client name, an
 * error message) is escaped with cs_log_escape() so that a newline, a
 * carriage return or any other control character never starts a new line or
 * forges a field: the log stays one event per line for grep and for log
 * shippers.  Callers never pass request bodies, Authorization headers,
 * tokens, licence identifiers or holder codes: the request line carries the
 * route pattern (/api/v1/certificates/{id}), not the raw path.
 *
 * A line is written with one write(2) on a descriptor opened O_APPEND, so
 * lines from many threads never interleave.
 *
 * Threads: every function may be called from any thread once cs_log_open()
 * has returned; cs_log_open() and cs_log_close() are called by the thread
 * that runs the server, before and after the workers exist.
 */
#ifndef CS_LOG_H
#define CS_LOG_H

#include <stddef.h>
#include <stdint.h>

/* Send the log to path (created mode 0640, appended to), or to standard
 * error when path is NULL or "".  CS_EIO naming the file on failure. */
int cs_log_open(const char *path);
/* Close the file, if any, and go back to standard error. */
void cs_log_close(void);
/* Open path again (after logrotate moved it away) in place of the file
 * being written: the descriptor keeps its number (dup2), so a thread
 * writing a line meanwhile writes it whole to the old file or the new one.
 * Nothing to do while the log is standard error.  CS_EIO naming the file
 * when it cannot be opened; the old file is kept then. */
int cs_log_reopen(const char *path);

/* Escape in for one log line into out (outlen bytes, always NUL-terminated
 * when outlen > 0).  Printable ASCII passes; '\\' and '"' get a backslash;
 * \n \r \t become \n \r \t; space, other control characters, DEL and bytes
 * that are not valid UTF-8 (or are C1 controls, U+2028, U+2029) become
 * \xHH.  Valid UTF-8 text (a client named in Chinese) passes unchanged.  A
 * value that does not fit is cut at a character boundary and ends in "...".
 * NULL or "" gives "-".  Returns the length written. */
size_t cs_log_escape(char *out, size_t outlen, const char *in);

/* One request, as the request log line shows it. */
typedef struct cs_log_request {
	int64_t time_ms;          /* Unix milliseconds, shown in UTC */
	const char *request_id;
	const char *client;       /* client name; NULL for anonymous */
	const char *method;
	const char *route;        /* the route pattern, never the raw path */
	int status;               /* 0 when no response was sent */
	double ms;                /* duration */
	const char *remote;       /* remote address */
} cs_log_request;

/* Format the line (without the newline):
 *   2026-11-24T08:00:00.123Z req=ID client=NAME method=M route=R status=S
 *   ms=1.23 remote=ADDR
 * Returns the length written (truncated to outlen - 1). */
size_t cs_log_format_request(char *out, size_t outlen, const cs_log_request *r);

/* Write the request line. */
void cs_log_request_line(const cs_log_request *r);

/* Write a free-form line ("certsvc: stopped").  The formatted text is
 * escaped as a whole except that spaces are kept, so a value with a newline
 * inside it still cannot start a new line. */
void cs_log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The same text, escaped the same way, always to standard error (and to the
 * log file too when one is open): for the one startup line tests and
 * supervisors read, "certsvc: listening on http://ADDR:PORT". */
void cs_log_stderr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
