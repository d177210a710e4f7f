/*
 * sender: the thread of serve that pushes the change feed to the
 * subscriptions (SPEC §9), over HTTP(S) with libcurl.
 *
 * Order and progress.  Each subscription's events go out one at a time,
 * in seq order: an event is not sent before every earlier one it wants
 * was delivered, which orders each licence's events (and all others)
 * at the price of a failing head holding back the rest of that
 * subscription.  The outcomes of a turn's attempts are appended to the
 * store (cs_store_sub_attempt_append) in one transaction at its end;
 * where a subscription stands is read back from those rows (the largest
 * seq delivered), so a SIGKILL loses at most the records of one turn,
 * whose attempts are then made again: at least once, and the receiver
 * dedupes by webhook-id.
 *
 * Retries.  A failed attempt (no 2xx, no answer within
 * webhook_timeout_s, no connection) is retried after a jittered wait
 * that doubles from 1 s up to webhook_retry_max_s, for ever; after 24 h
 * the subscription shows as failing (subscriptions.c).
 *
 * Many nodes (PostgreSQL).  A subscription is sent by the node holding
 * its lease (cs_store_sub_lease, LEASE_MS, renewed every RENEW_MS); a
 * node that dies hands over once its lease expires.  A node that does
 * not hold a lease forgets where the subscription stood and reads it
 * back when it next holds it.
 *
 * Never in issuance's way: the thread only reads the feed and appends
 * its own small rows; a slow or dead receiver grows its backlog only.
 */
#include "service_internal.h"
#include "sub_internal.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cs_err.h"
#include "log.h"
#include "thread.h"
#include "timeutil.h"

#define LEASE_MS 30000
#define RENEW_MS 10000
/* How long the thread sleeps, at most, when nothing wakes it: the delay
 * before it sees an event another process or node committed. */
#define ROUND_MS 200
/* Events of one subscription per turn, so that the others get theirs. */
#define TURN_EVENTS 100
/* The most of a receiver's answer read (and never logged). */
#define ANSWER_MAX (64 * 1024)
#define RETRY_FIRST_MS 1000

const char *const cs_sender_results[CS_SENDER_RESULTS] = {"delivered",
    "http_status", "timeout", "connect", "tls", "error"};
enum { R_DELIVERED, R_HTTP, R_TIMEOUT, R_CONNECT, R_TLS, R_ERROR };

/* One subscription as the sender runs it. */
struct run {
	struct run *next;
	cs_sub_row *row;       /* owned */
	CURL *curl;            /* kept: its connections are reused */
	int loaded;            /* cursor read from the store */
	int64_t cursor;        /* done (delivered or not wanted) up to this seq */
	int64_t failures;      /* failed attempts at the head */
	int64_t next_ms;       /* no attempt before (cs_mono_ms) */
	int held;              /* the lease */
	int64_t renewed_ms;    /* when it was last taken or renewed */
	int seen;              /* still in force in this round's list */
};

struct cs_sender {
	cs_service *svc;
	pthread_t thread;
	_Atomic int stop;
	char node[48];
	struct run *runs;
	_Atomic uint64_t attempts[CS_SENDER_RESULTS];
};

static void
run_free(struct run *r)
{
	if (r != NULL) {
		if (r->curl != NULL)
			curl_easy_cleanup(r->curl);
		cs_sub_row_free(r->row);
		free(r);
	}
}

/* --- signing (Standard Webhooks) ----------------------------------- */

/* "v1," + base64 HMAC-SHA256 of id.ts.body, keyed with the secret's
 * base64 after "whsec_".  out: at least 64 bytes. */
static int
sign(const char *secret, const char *id, const char *ts, const char *body,
    char *out)
{
	unsigned char key[96], mac[EVP_MAX_MD_SIZE];
	const char *b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
	size_t blen = strlen(b64), mlen;
	unsigned int maclen = 0;
	char *msg = NULL;
	int klen, rc = 0;

	if (blen == 0 || blen > 128 || blen % 4 != 0 ||
	    (klen = EVP_DecodeBlock(key, (const unsigned char *)b64,
	    (int)blen)) < 0)
		return cs_err_set(CS_EINVAL, "unreadable subscription secret");
	/* EVP_DecodeBlock counts the padding's zero bytes. */
	klen -= (b64[blen - 1] == '=') + (b64[blen - 2] == '=');
	mlen = strlen(id) + strlen(ts) + strlen(body) + 3;
	if ((msg = malloc(mlen)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(msg, mlen, "%s.%s.%s", id, ts, body);
	if (HMAC(EVP_sha256(), key, klen, (unsigned char *)msg, strlen(msg), mac,
	    &maclen) == NULL) {
		rc = cs_err_openssl("webhook signature");
		goto out;
	}
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(msg);
	return rc;
}

/* --- one attempt ------------------------------------------------------ */

struct answer {
	size_t got;
	struct cs_sender *snd;
};

/* The answer is read to ANSWER_MAX and dropped: only its status counts. */
static size_t
on_answer(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;

	(void)p;
	a->got += size * n;
	return a->got > ANSWER_MAX ? 0 : size * n;
}

/* Abort a transfer once the server stops. */
static int
on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c,
    curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	return atomic_load(&((struct answer *)ctx)->snd->stop) ? 1 : 0;
}

static int
classify(CURLcode cc, long status, const struct answer *a)
{
	int body_ok = cc == CURLE_OK ||
	    (cc == CURLE_WRITE_ERROR && a->got > ANSWER_MAX);

	if (body_ok && status >= 200 && status < 300)
		return R_DELIVERED;
	if (body_ok && status > 0)
		return R_HTTP;
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return R_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		return R_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return R_TLS;
	default:
		return status > 0 ? R_HTTP : R_ERROR;
	}
}

/* The body sent: the feed's event, its seq first (events.c add_event). */
static char *
event_body(const cs_change *ch)
{
	size_t n = strlen(ch->body) + 32;
	char *b = malloc(n);

	if (b != NULL)
		snprintf(b, n, "{\"seq\":%lld,%s", (long long)ch->seq,
		    ch->body + 1);
	return b;
}

static CURL *
easy_new(const cs_config *cfg)
{
	CURL *c = curl_easy_init();

	if (c == NULL)
		return NULL;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->webhook_ca_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->webhook_ca_file);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cfg->webhook_timeout_s * 1000L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    cfg->webhook_timeout_s * 1000L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "certsvc-webhooks/1");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	return c;
}

/* POST ch to r's URL: which of cs_sender_results, *status the HTTP
 * status (0: none). */
static int
post(struct cs_sender *snd, struct run *r, const cs_change *ch, long *status)
{
	char ts[24], sig[80], h_id[96], h_ts[48], h_sig[96];
	struct curl_slist *hdr = NULL, *h;
	struct answer a = {0, snd};
	char *body = event_body(ch);
	CURLcode cc;
	int res = R_ERROR;

	*status = 0;
	if (body == NULL)
		return R_ERROR;
	if (r->curl == NULL && (r->curl = easy_new(&snd->svc->cfg)) == NULL)
		goto out;
	/* The real clock, not the test hooks' (cs_now): receivers compare it
	 * with theirs and refuse a stale one. */
	snprintf(ts, sizeof(ts), "%lld", (long long)(cs_wall_ms() / 1000));
	if (sign(r->row->secret, ch->event_id, ts, body, sig) != 0)
		goto out;
	snprintf(h_id, sizeof(h_id), "webhook-id: %s", ch->event_id);
	snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %s", ts);
	snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
	if ((h = curl_slist_append(hdr, "Content-Type: application/json")) ==
	    NULL || (hdr = h, h = curl_slist_append(hdr, h_id)) == NULL ||
	    (hdr = h, h = curl_slist_append(hdr, h_ts)) == NULL ||
	    (hdr = h, h = curl_slist_append(hdr, h_sig)) == NULL ||
	    (hdr = h, h = curl_slist_append(hdr, "Expect:")) == NULL)
		goto out;
	hdr = h;
	curl_easy_setopt(r->curl, CURLOPT_URL, r->row->url);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(r->curl, CURLOPT_XFERINFODATA, &a);
	cc = curl_easy_perform(r->curl);
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, status);
	res = classify(cc, *status, &a);
out:
	if (r->curl != NULL)
		curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdr);
	OPENSSL_cleanse(sig, sizeof(sig));
	free(body);
	return res;
}

/* The wait before the next attempt after failures failed ones: doubling
 * from RETRY_FIRST_MS, at most the configured longest, each drawn at
 * random from its upper half so that receivers coming back are not hit
 * by every sender at once. */
static int64_t
backoff_ms(const cs_config *cfg, int64_t failures)
{
	int64_t max = cfg->webhook_retry_max_s * 1000, d = RETRY_FIRST_MS;
	unsigned int rnd = 0;

	while (--failures > 0 && d < max)
		d *= 2;
	if (d > max)
		d = max;
	(void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	return d / 2 + (int64_t)(rnd % (unsigned int)(d / 2 + 1));
}

/* --- the rounds ------------------------------------------------------ */

/* Attempt ch for r, its record into *rec (rec->result NULL when the
 * stop aborted it: no attempt); 1 when delivered. */
static int
attempt(struct cs_sender *snd, struct run *r, const cs_change *ch,
    cs_sub_attempt *rec)
{
	long status = 0;
	int res = post(snd, r, ch, &status);

	memset(rec, 0, sizeof(*rec));
	if (atomic_load(&snd->stop) && res != R_DELIVERED)
		return 0;  /* aborted by the stop: not an attempt */
	atomic_fetch_add(&snd->attempts[res], 1);
	rec->sub = r->row->seq;
	rec->event_seq = ch->seq;
	rec->at_ms = cs_wall_ms();
	rec->status = status;
	rec->result = (char *)cs_sender_results[res];
	if (res == R_DELIVERED) {
		r->failures = 0;
		return 1;
	}
	r->failures++;
	r->next_ms = cs_mono_ms() + backoff_ms(&snd->svc->cfg, r->failures);
	cs_log_msg("subscription %s: event %lld (%s) not delivered: %s "
	    "(HTTP %ld), attempt %lld, next in %lld ms", r->row->name,
	    (long long)ch->seq, ch->event_id, cs_sender_results[res], status,
	    (long long)r->failures, (long long)(r->next_ms - cs_mono_ms()));
	return 0;
}

/*
 * Record a turn's n attempts in one transaction: one disk sync for up to
 * TURN_EVENTS deliveries, where one each capped a SQLite sender near the
 * disk's sync rate (bench/README.md).  The HTTP calls are made before it,
 * so the writer is never held across one.  A SIGKILL before it loses the
 * records of that turn's deliveries, which are then made again: at
 * least once, as ever.
 */
static void
record(struct cs_sender *snd, struct run *r, const cs_sub_attempt *recs,
    size_t n)
{
	cs_store *st = snd->svc->store;
	size_t i;
	int rc;

	if (n == 0)
		return;
	if ((rc = cs_store_begin(st)) == 0) {
		for (i = 0; i < n && rc == 0; i++)
			rc = cs_store_sub_attempt_append(st, &recs[i]);
		rc = rc == 0 ? cs_store_commit(st) : (cs_store_rollback(st), rc);
	}
	if (rc != 0) {
		/* Unrecorded: made again once the cursor is read back. */
		cs_log_msg("subscription %s: cannot record %zu attempts: %s",
		    r->row->name, n, cs_err_msg());
		r->loaded = 0;
		r->next_ms = cs_mono_ms() + RETRY_FIRST_MS;
	}
}

/* Take or renew r's lease when due; 1 when r may be sent now. */
static int
lease(struct cs_sender *snd, struct run *r)
{
	int64_t now = cs_mono_ms();
	int held = 0;

	if (r->held && now - r->renewed_ms < RENEW_MS)
		return 1;
	if (cs_store_sub_lease(snd->svc->store, r->row->seq, snd->node,
	    LEASE_MS, &held) != 0)
		held = 0;
	if (held)
		r->renewed_ms = now;
	else
		r->loaded = 0;  /* another node moves it on */
	r->held = held;
	return held;
}

static int
load(struct cs_sender *snd, struct run *r)
{
	cs_sub_progress pr;

	if (r->loaded)
		return 0;
	if (cs_store_sub_progress(snd->svc->store, r->row->seq, &pr) != 0)
		return -1;
	r->cursor = pr.delivered > r->row->after_seq ? pr.delivered :
	    r->row->after_seq;
	r->failures = pr.head_attempts;
	r->loaded = 1;
	cs_sub_progress_clear(&pr);
	return 0;
}

/* One turn of r: at most TURN_EVENTS events, until a failure. */
static void
turn(struct cs_sender *snd, struct run *r)
{
	cs_sub_attempt recs[TURN_EVENTS];
	cs_change **chs = NULL;
	size_t i, n = 0, nrec = 0;
	int64_t start = cs_mono_ms();

	if (cs_mono_ms() < r->next_ms || !lease(snd, r) || load(snd, r) != 0)
		return;
	if (cs_store_changes_page(snd->svc->store, r->cursor, TURN_EVENTS, &chs,
	    &n) != 0)
		return;
	for (i = 0; i < n && !atomic_load(&snd->stop); i++) {
		if (cs_sub_wants(r->row, chs[i])) {
			int ok = attempt(snd, r, chs[i], &recs[nrec]);

			nrec += recs[nrec].result != NULL;
			if (!ok)
				break;
		}
		r->cursor = chs[i]->seq;
		/* Long turns renew the lease, or give it up to another node. */
		if (cs_mono_ms() - start > RENEW_MS / 2 && !lease(snd, r))
			break;
	}
	record(snd, r, recs, nrec);
	cs_changes_free(chs, n);
}

/* Bring the runs in line with the subscriptions in force. */
static void
refresh(struct cs_sender *snd)
{
	cs_sub_row **subs = NULL;
	struct run **pp, *r;
	size_t i, n = 0;

	if (cs_subs_current(snd->svc, &subs, &n) != 0)
		return;
	for (r = snd->runs; r != NULL; r = r->next)
		r->seen = 0;
	for (i = 0; i < n; i++) {
		for (r = snd->runs; r != NULL; r = r->next)
			if (r->row->seq == subs[i]->seq)
				break;
		if (r == NULL && (r = calloc(1, sizeof(*r))) != NULL) {
			r->row = subs[i];
			subs[i] = NULL;
			r->next = snd->runs;
			snd->runs = r;
		}
		if (r != NULL)
			r->seen = 1;
	}
	for (pp = &snd->runs; (r = *pp) != NULL;) {
		if (r->seen) {
			pp = &r->next;
		} else {
			*pp = r->next;
			run_free(r);
		}
	}
	cs_sub_rows_free(subs, n);
}

static void *
sender_thread(void *arg)
{
	struct cs_sender *snd = arg;
	uint64_t gen = 0;
	struct run *r;

	while (!atomic_load(&snd->stop)) {
		refresh(snd);
		for (r = snd->runs; r != NULL && !atomic_load(&snd->stop);
		    r = r->next)
			turn(snd, r);
		gen = cs_events_wait(gen, ROUND_MS);
	}
	return NULL;
}

int
cs_service_start_sender(cs_service *svc)
{
	struct cs_sender *snd;
	unsigned char rnd[8];
	int rc;

	if (svc->sender != NULL)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return cs_err_set(CS_EIO, "cannot initialise libcurl");
	if ((snd = calloc(1, sizeof(*snd))) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	snd->svc = svc;
	(void)RAND_bytes(rnd, sizeof(rnd));
	snprintf(snd->node, sizeof(snd->node), "%ld-%02x%02x%02x%02x%02x%02x",
	    (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	if ((rc = cs_thread_start(&snd->thread, sender_thread, snd)) != 0) {
		free(snd);
		return cs_err_set(CS_EIO, "cannot start the sender's thread");
	}
	svc->sender = snd;
	return 0;
}

void
cs_sender_free(struct cs_sender *snd)
{
	struct run *r, *next;

	if (snd == NULL)
		return;
	atomic_store(&snd->stop, 1);
	pthread_join(snd->thread, NULL);
	for (r = snd->runs; r != NULL; r = next) {
		next = r->next;
		run_free(r);
	}
	free(snd);
}

int
cs_sender_metrics_get(cs_service *svc, cs_sender_metrics *out)
{
	cs_sub_row **subs = NULL;
	cs_sub_state_t st;
	int64_t now = (int64_t)cs_now();
	size_t i, n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (svc->sender != NULL)
		for (i = 0; i < CS_SENDER_RESULTS; i++)
			out->attempts[i] = atomic_load(&svc->sender->attempts[i]);
	if ((rc = cs_subs_current(svc, &subs, &n)) != 0)
		return rc;
	out->subscriptions = (int64_t)n;
	for (i = 0; i < n && rc == 0; i++) {
		if ((rc = cs_sub_state(svc, subs[i], &st)) != 0)
			break;
		out->pending += st.pending;
		out->failing += st.failing;
		if (st.pending > 0 && now - st.oldest_at >
		    out->oldest_pending_age_s)
			out->oldest_pending_age_s = now - st.oldest_at;
	}
	cs_sub_rows_free(subs, n);
	return rc;
}
