/*
 * licence_status: a licence's status, derived from its events and the
 * clock (valid, not_yet_valid, expired, suspended, revoked, superseded).
 */
#include "service_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cs_err.h"
#include "licence_internal.h"
#include "sbuf.h"
#include "text.h"
#include "timeutil.h"
#include "token.h"

/* --- status ------------------------------------------------------------- */

static int64_t
date_days(const json_t *v, int64_t def)
{
	int y, m, d;

	if (!json_is_string(v) || cs_date_parse(json_string_value(v), &y, &m, &d) != 0)
		return def;
	return cs_days_from_civil(y, m, d);
}

/*
 * Events are replayed in order: suspend and reinstate toggle, revoke and
 * supersede are terminal.  Lifecycle states outrank the calendar: a
 * revoked licence is revoked even after its end date.  from and until are
 * the record's dates as day numbers (today when it has none).
 */
const char *
cs_status_at(cs_event **evs, size_t n, int64_t today, int64_t from,
    int64_t until, const cs_event **detail)
{
	const cs_event *last = NULL;
	const char *state = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *a = evs[i]->action;
		if (state != NULL && (strcmp(state, "revoked") == 0 ||
		    strcmp(state, "superseded") == 0))
			break;
		if (strcmp(a, "suspend") == 0)
			state = "suspended";
		else if (strcmp(a, "reinstate") == 0)
			state = NULL;
		else if (strcmp(a, "revoke") == 0)
			state = "revoked";
		else if (strcmp(a, "supersede") == 0)
			state = "superseded";
		else
			continue;
		last = evs[i];
	}
	if (detail != NULL)
		*detail = state ? last : NULL;
	if (state != NULL)
		return state;
	if (today < from)
		return "not_yet_valid";
	if (today > until)
		return "expired";
	return "valid";
}

const char *
cs_status_of(const json_t *rec, cs_event **evs, size_t n, time_t now,
    long tz_min, const cs_event **detail)
{
	int64_t today = cs_local_days(now, tz_min);

	return cs_status_at(evs, n, today,
	    date_days(json_object_get(rec, "valid_from"), today),
	    date_days(json_object_get(rec, "valid_until"), today), detail);
}
