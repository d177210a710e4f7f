/*
 * timeutil: calendar dates and instants as certsvc uses them.  Dates are
 * ISO "YYYY-MM-DD" in the deployment's fixed time zone (no DST: Asia/Shanghai
 * is UTC+8 all year); instants are Unix seconds, shown in RFC 3339 UTC
 * (crypto/rfc3339.h, the one RFC 3339 parser and formatter).
 */
#ifndef CS_TIMEUTIL_H
#define CS_TIMEUTIL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "rfc3339.h" /* cs_rfc3339, cs_rfc3339_parse: RFC 3339 instants */

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
int64_t cs_days_from_civil(int y, int m, int d);
void cs_civil_from_days(int64_t days, int *y, int *m, int *d);
/* The last day of a term of `years` years (> 0) that starts on day `from`:
 * the day before the same date `years` later (2026-11-24 + 5 runs to
 * 2031-11-23).  From 29 February into a common year the same date is
 * 1 March, so the term ends on 28 February. */
int64_t cs_term_end(int64_t from, int years);
/* Parse "YYYY-MM-DD" that names a real date; CS_EINVAL with the reason. */
int cs_date_parse(const char *s, int *y, int *m, int *d);
/* Format days as "YYYY-MM-DD" into out[11]. */
void cs_date_format(int64_t days, char out[11]);
/* The local date (days) of an instant in a zone tz_min minutes east of UTC. */
int64_t cs_local_days(time_t t, long tz_min);
/* The first second of a local date. */
time_t cs_day_start(int64_t days, long tz_min);
/* Milliseconds on the monotonic clock: for intervals, never for dates. */
int64_t cs_mono_ms(void);
/* Unix milliseconds (the wall clock): for timestamps, never for intervals. */
int64_t cs_wall_ms(void);
/* A cs_mono_ms() instant as the timespec pthread_cond_timedwait takes, for
 * a condition variable made by cs_cond_init_mono. */
struct timespec cs_mono_timespec(int64_t ms);
/* A condition variable whose timed waits use the monotonic clock, so that
 * a wall clock set back or forward neither stalls nor hurries them. */
void cs_cond_init_mono(pthread_cond_t *cv);

#endif
