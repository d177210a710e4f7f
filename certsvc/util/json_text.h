/*
 * json_text: a JSON value written as json_dumps(v, JSON_COMPACT) writes it,
 * byte for byte, into a cs_sbuf, for the answers of the hot read paths
 * (verify, fetch, lookup).  jansson's own writer checks and copies every
 * string one code point at a time through a callback: a verification's
 * answer cost more to write than to decide (bench/README.md, issue 20).
 */
#ifndef CS_JSON_TEXT_H
#define CS_JSON_TEXT_H

#include <jansson.h>

#include "sbuf.h"

/* v appended to b as json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) writes
 * it.  -1 (b as it was, unless b->failed) for what that would refuse (a
 * string that is not UTF-8) or what is left to jansson (a real). */
int cs_json_text(cs_sbuf *b, const json_t *v);

/* v as json_dumps(v, JSON_COMPACT) returns it: malloc'd text, NULL where
 * json_dumps gives NULL.  Reals and the rest go to json_dumps itself. */
char *cs_json_dumps(const json_t *v);

#endif
