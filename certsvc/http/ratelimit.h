/*
 * ratelimit: a token bucket per remote address.  The HTTP layer keeps two:
 * one for the public endpoints (POST /api/v1/verify, the /v pages, the
 * trust list, the catalog), so one address cannot take the whole
 * verification capacity (SPEC §6 --rate-limit); and a budget of failures
 * (wrong bearer tokens, paper-copy checks that find nothing), so one
 * address cannot guess at length (http.c's top comment).
 *
 * Each address gets a bucket of `burst` tokens refilled at `rate` tokens a
 * second; a request takes one token or is refused with the time until the
 * next token arrives (the Retry-After of the 429).
 *
 * Memory is bounded: a fixed table of sets of a few slots each, chosen by a
 * keyed hash of the address (the key is random per table, so nobody can aim
 * many addresses at one set).  When a set is full, the slot seen least
 * recently is reused.  Evicting an address that has been idle for
 * burst/rate seconds loses nothing (its bucket had refilled); only under a
 * flood of distinct addresses can an evicted busy address start over with a
 * full bucket, which lets it through a little more, never less.
 *
 * Time is passed in (milliseconds on any monotonic clock), so tests are
 * deterministic.  Threads: cs_ratelimit_take() may be called from many
 * threads at once (one lock per set).
 */
#ifndef CS_RATELIMIT_H
#define CS_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct cs_ratelimit cs_ratelimit;

/* rate: tokens per second (> 0); burst: bucket size (>= 1); slots: about how
 * many addresses to remember (rounded up to a whole number of sets).
 * *out is freed with cs_ratelimit_free(). */
int cs_ratelimit_new(double rate, double burst, size_t slots,
    cs_ratelimit **out);
void cs_ratelimit_free(cs_ratelimit *rl);

/* Take one token for key (an address text, at most 63 bytes are used) at
 * now_ms.  Returns 1 when allowed, 0 when limited; then *retry_ms (when not
 * NULL) holds how long until a token is available, at least 1. */
int cs_ratelimit_take(cs_ratelimit *rl, const char *key, int64_t now_ms,
    int64_t *retry_ms);

/* Give key back a token it took (never beyond the burst): a caller that
 * takes one before some work, so that concurrent requests cannot all pass
 * a check of the budget, returns it when the work turns out not to count.
 * An address the table no longer holds is left as it is (full). */
void cs_ratelimit_give(cs_ratelimit *rl, const char *key, int64_t now_ms);

/* How many addresses the table holds now (for tests). */
size_t cs_ratelimit_count(cs_ratelimit *rl);

#endif
