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

void
cs_rfc3339(time_t t, char out[21])
{
	struct tm tm;

	/* An instant RFC 3339 cannot write (years outside 0000-9999; gmtime_r
	 * fails for some, and strftime would then read an unset tm) is shown
	 * as the nearest one it can. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900) {
		snprintf(out, 21, "%s", t < 0 ? "0000-01-01T00:00:00Z" :
		    "9999-12-31T23:59:59Z");
		return;
	}
	/* Not strftime's %Y: glibc writes year 999 as "999". */
	snprintf(out, 21, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int
cs_rfc3339_parse(const char *s, time_t *out)
{
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
	char date[11];
	const char *p;

	if (strlen(s) < 20 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d,
	    &h, &mi, &sec, &n) != 6 || n != 19)
		return cs_err_set(CS_EINVAL, "'%.40s' is not an RFC 3339 time", s);
	memcpy(date, s, 10);
	date[10] = '\0';
	if (cs_date_parse(date, &y, &mo, &d) != 0 || h > 23 || mi > 59 || sec > 60)
		return cs_err_set(CS_EINVAL, "'%.40s' is not an RFC 3339 time", s);
	p = s + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (strcmp(p, "Z") != 0 && strcmp(p, "z") != 0) {
		if ((p[0] != '+' && p[0] != '-') ||
		    sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || p[1 + n] != '\0')
			return cs_err_set(CS_EINVAL, "'%.40s' is not an RFC 3339 time", s);
		if (p[0] == '-') {
			oh = -oh;
			om = -om;
		}
	}
	*out = (time_t)(cs_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
	    sec - (oh * 3600 + om * 60));
	return 0;
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
