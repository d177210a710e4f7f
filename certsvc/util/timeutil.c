/*
 * timeutil.c: civil dates in the deployment's zone, terms, and the
 * monotonic and wall clocks.  The conventions: timeutil.h.
 */
#include "timeutil.h"

#include <stdio.h>
#include <string.h>

#include "cs_err.h"

int64_t
cs_days_from_civil(int y, int m, int d)
{
	int64_t yy = y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void
cs_civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

int64_t
cs_term_end(int64_t from, int years)
{
	int y, m, d;

	cs_civil_from_days(from, &y, &m, &d);
	/* The day count runs on from the month's start: 29 February of a
	 * common year counts as its 1 March, the anniversary whose eve is
	 * 28 February. */
	return cs_days_from_civil(y + years, m, d) - 1;
}

int
cs_date_parse(const char *s, int *y, int *m, int *d)
{
	int yy, mm, dd, i, ry, rm, rd;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return cs_err_set(CS_EINVAL, "'%.32s' is not a date YYYY-MM-DD", s);
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return cs_err_set(CS_EINVAL, "'%.32s' is not a date YYYY-MM-DD", s);
	yy = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	mm = (s[5] - '0') * 10 + (s[6] - '0');
	dd = (s[8] - '0') * 10 + (s[9] - '0');
	/* A real date survives the round trip through a day count. */
	cs_civil_from_days(cs_days_from_civil(yy, mm, dd), &ry, &rm, &rd);
	if (mm < 1 || mm > 12 || dd < 1 || ry != yy || rm != mm || rd != dd)
		return cs_err_set(CS_EINVAL, "%s is not a real date", s);
	*y = yy;
	*m = mm;
	*d = dd;
	return 0;
}

void
cs_date_format(int64_t days, char out[11])
{
	int64_t lo = cs_days_from_civil(0, 1, 1);
	int64_t hi = cs_days_from_civil(9999, 12, 31);
	int y, m, d;

	/* A signed token may carry any NumericDate: a day outside what four
	 * digits can write is shown as the nearest one they can, never as a
	 * wrapped year (and never with arithmetic that overflows). */
	if (days < lo)
		days = lo;
	else if (days > hi)
		days = hi;
	cs_civil_from_days(days, &y, &m, &d);
	snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
}

int64_t
cs_local_days(time_t t, long tz_min)
{
	int64_t s, q;

	/* t may come from a signed token (any 64-bit NumericDate): an instant
	 * at the very end of the range stays there instead of overflowing. */
	if (__builtin_add_overflow((int64_t)t, (int64_t)tz_min * 60, &s))
		s = t < 0 ? INT64_MIN : INT64_MAX;
	/* Floor division, without negating s (INT64_MIN has no negation). */
	q = s / 86400;
	if (s % 86400 < 0)
		q--;
	return q;
}

time_t
cs_day_start(int64_t days, long tz_min)
{
	return (time_t)(days * 86400 - tz_min * 60);
}

static int64_t
clock_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
cs_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t
cs_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

struct timespec
cs_mono_timespec(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	return ts;
}

void
cs_cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}
