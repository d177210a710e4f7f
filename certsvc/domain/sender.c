/*
 * sender: the thread of serve that pushes the change feed to the
 * subscriptions (SPEC §9), over HTTP(S) with libcurl.
 *
 * Concurrency.  The one thread drives every subscription's delivery at
 * once through libcurl's multi interface: each subscription has at most
 * one request in flight (its own easy handle), so a receiver that hangs
 * until the timeout holds back its own subscription only, never the
 * others'.  The multi handle keeps the connections, reused from one
 * request to the next.
 *
 * Order and progress.  Each subscription's events go out one at a time,
 * in seq order: an event is not sent before every earlier one it wants
 * was delivered, which orders each licence's events (and all others)
 * at the price of a failing head holding back the rest of that
 * subscription.  A subscription takes a page of up to PAGE_EVENTS from
 * the feed and sends them one after the other (the page read once in a
 * turn of the loop and shared by every subscription that stands in it:
 * struct feed); the outcomes of the
 * attempts of finished pages (all sent, a failure, or the lease lost),
 * of all subscriptions, are appended to the store
 * (cs_store_sub_attempt_append) together in one transaction (flush);
 * where a subscription stands is read back from those rows (the largest
 * seq delivered), so a SIGKILL loses at most the records not yet
 * flushed, whose attempts are then made again: at least once, and the
 * receiver dedupes by webhook-id.
 *
 * Retries.  A failed attempt (no 2xx, no answer within
 * webhook_timeout_s, no connection) is retried after a jittered wait
 * that doubles from 1 s up to webhook_retry_max_s, for ever; after 24 h
 * the subscription shows as failing (subscriptions.c).
 *
 * Many nodes (PostgreSQL).  A subscription is sent by the node holding
 * its lease (cs_store_sub_lease, webhook_lease_s, renewed every third of
 * it, also while a request is in flight); a node that dies hands over
 * once its lease expires.  A node that does not hold a lease forgets where the
 * subscription stood and reads it back when it next holds it.
 *
 * Never in issuance's way: the thread only reads the feed and appends
 * its own small rows; a slow or dead receiver grows its backlog only.
 */
#include "service_internal.h"
#include "sub_internal.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
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

/* How long the thread sleeps, at most, when nothing wakes it: the delay
 * before it sees an event another process or node committed. */
#define ROUND_MS 200
/* While requests are in flight the thread waits on their sockets; the
 * feed's wake-up cannot interrupt that wait, so it looks at the feed at
 * least this often: the most a new event waits behind a slow receiver
 * of another subscription. */
#define BUSY_POLL_MS 20
/* Events of one subscription read from the feed at a time, their
 * attempts recorded in one transaction. */
#define PAGE_EVENTS 100
/* Finished pages' attempt records wait at most this long, or for
 * PAGE_EVENTS of them, to be committed together (flush). */
#define FLUSH_MS 50
/* The most of a receiver's answer read (and never logged). */
#define ANSWER_MAX (64 * 1024)
#define RETRY_FIRST_MS 1000

const char *const cs_sender_results[CS_SENDER_RESULTS] = {"delivered",
    "http_status", "timeout", "connect", "tls", "error"};
enum { R_DELIVERED, R_HTTP, R_TIMEOUT, R_CONNECT, R_TLS, R_ERROR };

struct answer {
	size_t got;
	struct cs_sender *snd;
};

/*
 * A page of the feed, read once and shared: subscriptions that stand at
 * about the same seq (all of them, when they keep up) would each read
 * the same events otherwise, eight reads of one page with eight
 * subscriptions.  It holds every event of (after, the last's seq] as of
 * its reading, so a subscription whose cursor lies in that range takes
 * the events past its cursor from it as from a read of its own; it is
 * taken only in the turn of the loop that read it, so no subscription
 * sees an older feed than it would by reading.  Counted: the sender's
 * list of the turn's pages and every subscription's page in hand.
 */
struct feed {
	struct feed *next;     /* the turn's pages (cs_sender.pages) */
	int refs;
	cs_change **chs;
	size_t n;
	int64_t after;         /* read after this seq */
};

/* One subscription as the sender runs it. */
struct run {
	struct run *next;
	cs_sub_row *row;       /* owned */
	CURL *curl;            /* kept: its connections are reused */
	EVP_MAC_CTX *mac;      /* HMAC keyed with the secret, kept (sign) */
	int loaded;            /* cursor read from the store */
	int64_t cursor;        /* done (delivered or not wanted) up to this seq */
	int64_t failures;      /* failed attempts at the head */
	int64_t next_ms;       /* no attempt before (cs_mono_ms) */
	int held;              /* the lease */
	int64_t renewed_ms;    /* when it was last taken or renewed */
	int seen;              /* still in force in this round's list */
	/* The page in hand, a slice of feed: chs[i] is the next to look
	 * at; full when the feed's page was (more may follow). */
	struct feed *feed;
	cs_change **chs;
	size_t n, i;
	int full;
	cs_sub_attempt recs[PAGE_EVENTS];
	size_t nrec;
	int more;              /* the last page was full: read on at once */
	uint64_t look_gen;     /* the feed's generation at the last read */
	int64_t look_ms;       /* and when (cs_mono_ms) */
	/* The request in flight (busy): its headers, body and answer. */
	int busy;
	struct curl_slist *hdr;
	char *body;
	struct answer ans;
};

struct cs_sender {
	cs_service *svc;
	pthread_t thread;
	_Atomic int stop;
	char node[48];
	CURLM *multi;          /* the thread's own */
	EVP_MAC *hmac;         /* fetched once: OpenSSL 3 looks it up per
	                        * call of HMAC() otherwise */
	uint64_t gen;          /* the feed's generation last seen */
	struct run *runs;
	struct feed *pages;    /* the pages read in this turn, shared */
	cs_sub_attempt *pend;  /* records of finished pages, not yet stored */
	size_t npend, cap;
	int64_t pend_ms;       /* when the first of them came (cs_mono_ms) */
	_Atomic uint64_t attempts[CS_SENDER_RESULTS];
};

static void page_drop(struct run *r);

/* The request in flight, if any, taken out of the multi handle. */
static void
unbusy(struct cs_sender *snd, struct run *r)
{
	if (r->busy) {
		curl_multi_remove_handle(snd->multi, r->curl);
		r->busy = 0;
	}
	if (r->curl != NULL)
		curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(r->hdr);
	r->hdr = NULL;
	free(r->body);
	r->body = NULL;
}

static void
run_free(struct cs_sender *snd, struct run *r)
{
	if (r != NULL) {
		unbusy(snd, r);
		page_drop(r);
		if (r->curl != NULL)
			curl_easy_cleanup(r->curl);
		EVP_MAC_CTX_free(r->mac);
		cs_sub_row_free(r->row);
		free(r);
	}
}

/* --- signing (Standard Webhooks) ----------------------------------- */

/* r's HMAC-SHA256 keyed with the secret's base64 after "whsec_", made
 * once per subscription: decoding the key and setting up the MAC cost
 * about as much as signing a small body. */
static int
mac_key(struct cs_sender *snd, struct run *r)
{
	unsigned char key[96];
	const char *secret = r->row->secret;
	const char *b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
	size_t blen = strlen(b64);
	OSSL_PARAM params[2];
	int klen, rc = 0;

	if (r->mac != NULL)
		return 0;
	if (blen == 0 || blen > 128 || blen % 4 != 0 ||
	    (klen = EVP_DecodeBlock(key, (const unsigned char *)b64,
	    (int)blen)) < 0)
		return cs_err_set(CS_EINVAL, "unreadable subscription secret");
	/* EVP_DecodeBlock counts the padding's zero bytes. */
	klen -= (b64[blen - 1] == '=') + (b64[blen - 2] == '=');
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (snd->hmac == NULL &&
	    (snd->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		rc = cs_err_openssl("webhook signature");
	else if ((r->mac = EVP_MAC_CTX_new(snd->hmac)) == NULL ||
	    EVP_MAC_init(r->mac, key, (size_t)klen, params) != 1) {
		EVP_MAC_CTX_free(r->mac);
		r->mac = NULL;
		rc = cs_err_openssl("webhook signature");
	}
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* "v1," + base64 HMAC-SHA256 of id.ts.body with r's secret (Standard
 * Webhooks).  out: at least 64 bytes. */
static int
sign(struct cs_sender *snd, struct run *r, const char *id, const char *ts,
    const char *body, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	int rc;

	if ((rc = mac_key(snd, r)) != 0)
		return rc;
	/* A NULL key starts again with the key set before. */
	if (EVP_MAC_init(r->mac, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(r->mac, (const unsigned char *)id, strlen(id)) != 1 ||
	    EVP_MAC_update(r->mac, (const unsigned char *)".", 1) != 1 ||
	    EVP_MAC_update(r->mac, (const unsigned char *)ts, strlen(ts)) != 1 ||
	    EVP_MAC_update(r->mac, (const unsigned char *)".", 1) != 1 ||
	    EVP_MAC_update(r->mac, (const unsigned char *)body,
	    strlen(body)) != 1 ||
	    EVP_MAC_final(r->mac, mac, &maclen, sizeof(mac)) != 1)
		return cs_err_openssl("webhook signature");
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
	return 0;
}

/* --- one request ---------------------------------------------------- */

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

/* Start POSTing ch to r's URL (r->busy once under way); -1 when it
 * cannot even be started (an error attempt, as if it failed at once). */
static int
post_start(struct cs_sender *snd, struct run *r, const cs_change *ch)
{
	char ts[24], sig[80], h_id[96], h_ts[48], h_sig[96];
	struct curl_slist *h;
	int rc = -1;

	if (r->curl == NULL && (r->curl = easy_new(&snd->svc->cfg)) == NULL)
		return -1;
	if ((r->body = event_body(ch)) == NULL)
		goto out;
	/* The real clock, not the test hooks' (cs_now): receivers compare it
	 * with theirs and refuse a stale one. */
	snprintf(ts, sizeof(ts), "%lld", (long long)(cs_wall_ms() / 1000));
	if (sign(snd, r, ch->event_id, ts, r->body, sig) != 0)
		goto out;
	snprintf(h_id, sizeof(h_id), "webhook-id: %s", ch->event_id);
	snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %s", ts);
	snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
	if ((h = curl_slist_append(r->hdr, "Content-Type: application/json")) ==
	    NULL || (r->hdr = h, h = curl_slist_append(r->hdr, h_id)) == NULL ||
	    (r->hdr = h, h = curl_slist_append(r->hdr, h_ts)) == NULL ||
	    (r->hdr = h, h = curl_slist_append(r->hdr, h_sig)) == NULL ||
	    (r->hdr = h, h = curl_slist_append(r->hdr, "Expect:")) == NULL)
		goto out;
	r->hdr = h;
	r->ans.got = 0;
	r->ans.snd = snd;
	curl_easy_setopt(r->curl, CURLOPT_URL, r->row->url);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->hdr);
	curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &r->ans);
	curl_easy_setopt(r->curl, CURLOPT_XFERINFODATA, &r->ans);
	curl_easy_setopt(r->curl, CURLOPT_PRIVATE, r);
	if (curl_multi_add_handle(snd->multi, r->curl) != CURLM_OK)
		goto out;
	r->busy = 1;
	rc = 0;
out:
	OPENSSL_cleanse(sig, sizeof(sig));
	if (rc != 0)
		unbusy(snd, r);
	return rc;
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

/* --- a subscription's pages ------------------------------------------ */

static void
feed_unref(struct feed *f)
{
	if (f != NULL && --f->refs == 0) {
		cs_changes_free(f->chs, f->n);
		free(f);
	}
}

static void
page_drop(struct run *r)
{
	feed_unref(r->feed);
	r->feed = NULL;
	r->chs = NULL;
	r->n = r->i = r->nrec = 0;
	r->full = 0;
}

/* The turn is over: its pages are read again when next wanted. */
static void
pages_drop(struct cs_sender *snd)
{
	struct feed *f;

	while ((f = snd->pages) != NULL) {
		snd->pages = f->next;
		feed_unref(f);
	}
}

/* Read the feed after seq from, as a page of this turn. */
static struct feed *
feed_read(struct cs_sender *snd, int64_t from)
{
	struct feed *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	if (cs_store_changes_page(snd->svc->store, from, PAGE_EVENTS, &f->chs,
	    &f->n) != 0) {
		free(f);
		return NULL;
	}
	f->refs = 1;
	f->after = from;
	f->next = snd->pages;
	snd->pages = f;
	return f;
}

/* This turn's page that serves a subscription at cursor: read from at
 * most cursor, and holding cursor's next events or all there was. */
static struct feed *
feed_find(const struct cs_sender *snd, int64_t cursor)
{
	struct feed *f;

	for (f = snd->pages; f != NULL; f = f->next)
		if (f->after <= cursor && (f->n < PAGE_EVENTS ||
		    f->chs[f->n - 1]->seq > cursor))
			return f;
	return NULL;
}

/* r's next page: from a page of this turn, or read anew from the
 * lowest cursor of the subscriptions about to read (idle, due, none of
 * this turn's pages for them) so that one read serves them all; if
 * that page fills before r's cursor, from r's. */
static int
page_take(struct cs_sender *snd, struct run *r)
{
	struct feed *f;
	struct run *q;
	int64_t from = r->cursor, now = cs_mono_ms();
	size_t k;

	if ((f = feed_find(snd, r->cursor)) == NULL) {
		for (q = snd->runs; q != NULL; q = q->next)
			if (q->loaded && q->held && !q->busy &&
			    q->chs == NULL && now >= q->next_ms &&
			    q->cursor < from && feed_find(snd, q->cursor) == NULL)
				from = q->cursor;
		if (feed_read(snd, from) == NULL)
			return -1;
		if ((f = feed_find(snd, r->cursor)) == NULL &&
		    (f = feed_read(snd, r->cursor)) == NULL)
			return -1;
	}
	for (k = 0; k < f->n && f->chs[k]->seq <= r->cursor; k++)
		;
	r->i = r->nrec = 0;
	r->full = f->n == PAGE_EVENTS;
	if (k == f->n) {
		r->more = r->full;
		return 0;
	}
	f->refs++;
	r->feed = f;
	r->chs = f->chs + k;
	r->n = f->n - k;
	return 0;
}

/*
 * Store the finished pages' attempt records, of every subscription, in
 * one transaction: when PAGE_EVENTS of them wait, FLUSH_MS after the
 * first, or (force) at the stop.  One commit per page capped the sender
 * once many subscriptions each had a page of one or two events (every
 * commit a disk sync the thread waits for, its requests idle meanwhile:
 * bench/README.md); one per delivery capped a SQLite sender near the
 * disk's sync rate.  The HTTP calls are made before, so the writer is
 * never held across one.  A SIGKILL before it loses those records, whose
 * deliveries are then made again: at least once, as ever.
 */
static void
flush(struct cs_sender *snd, int force)
{
	cs_store *st = snd->svc->store;
	struct run *r;
	int rc;

	if (snd->npend == 0 || (!force && snd->npend < PAGE_EVENTS &&
	    cs_mono_ms() - snd->pend_ms < FLUSH_MS))
		return;
	if ((rc = cs_store_begin(st)) == 0) {
		rc = cs_store_sub_attempt_append(st, snd->pend, snd->npend);
		rc = rc == 0 ? cs_store_commit(st) : (cs_store_rollback(st), rc);
	}
	if (rc != 0) {
		/* Unrecorded: every subscription reads its cursor back, and
		 * makes those attempts again. */
		cs_log_msg("sender: cannot record %zu attempts: %s", snd->npend,
		    cs_err_msg());
		for (r = snd->runs; r != NULL; r = r->next) {
			r->loaded = 0;
			r->more = 0;
			r->next_ms = cs_mono_ms() + RETRY_FIRST_MS;
		}
	}
	snd->npend = 0;
}

/* The page is over: its records wait for flush, and it is dropped. */
static void
page_end(struct cs_sender *snd, struct run *r)
{
	size_t cap = snd->cap ? snd->cap : PAGE_EVENTS;
	cs_sub_attempt *p;

	r->more = r->full && r->i == r->n;
	while (cap < snd->npend + r->nrec)
		cap *= 2;
	if (cap != snd->cap) {
		if ((p = realloc(snd->pend, cap * sizeof(*p))) == NULL) {
			/* Unrecorded: read back and made again. */
			r->loaded = 0;
			r->more = 0;
			r->nrec = 0;
		} else {
			snd->pend = p;
			snd->cap = cap;
		}
	}
	if (r->nrec > 0) {
		if (snd->npend == 0)
			snd->pend_ms = cs_mono_ms();
		memcpy(snd->pend + snd->npend, r->recs, r->nrec * sizeof(*p));
		snd->npend += r->nrec;
	}
	page_drop(r);
}

/* Take or renew r's lease when due; 1 when r may be sent now. */
static int
lease(struct cs_sender *snd, struct run *r)
{
	int64_t now = cs_mono_ms();
	int64_t lease_ms = snd->svc->cfg.webhook_lease_s * 1000;
	int held = 0;

	if (r->held && now - r->renewed_ms < lease_ms / 3)
		return 1;
	if (cs_store_sub_lease(snd->svc->store, r->row->seq, snd->node,
	    lease_ms, &held) != 0)
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

/* The outcome res (cs_sender_results) of the attempt at r's head: its
 * record kept for page_end, the counters, and the backoff on failure;
 * 1 when delivered. */
static int
attempted(struct cs_sender *snd, struct run *r, int res, long status)
{
	const cs_change *ch = r->chs[r->i];
	cs_sub_attempt *rec = &r->recs[r->nrec++];

	atomic_fetch_add(&snd->attempts[res], 1);
	memset(rec, 0, sizeof(*rec));
	rec->sub = r->row->seq;
	rec->event_seq = ch->seq;
	rec->at_ms = cs_wall_ms();
	rec->status = status;
	rec->result = (char *)cs_sender_results[res];
	if (res == R_DELIVERED) {
		r->failures = 0;
		r->cursor = ch->seq;
		r->i++;
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

/* Move r's page on: past the events it does not want, then start the
 * next request; the page ends when all are done, one cannot start, or
 * the lease is lost. */
static void
page_next(struct cs_sender *snd, struct run *r)
{
	while (r->i < r->n && !atomic_load(&snd->stop)) {
		if (!cs_sub_wants(r->row, r->chs[r->i])) {
			r->cursor = r->chs[r->i++]->seq;
			continue;
		}
		/* Long pages renew the lease, or give it up to another node. */
		if (!lease(snd, r))
			break;
		if (post_start(snd, r, r->chs[r->i]) == 0)
			return;
		if (!attempted(snd, r, R_ERROR, 0))
			break;
	}
	page_end(snd, r);
}

/* r's request is over (cc): its outcome, then the page moves on. */
static void
done(struct cs_sender *snd, struct run *r, CURLcode cc)
{
	long status = 0;
	int res;

	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
	res = classify(cc, status, &r->ans);
	unbusy(snd, r);
	if (atomic_load(&snd->stop) && res != R_DELIVERED)
		return;  /* aborted by the stop: not an attempt */
	if (attempted(snd, r, res, status))
		page_next(snd, r);
	else
		page_end(snd, r);
}

/* Start a page for r if it is idle, due, and the feed may hold events
 * for it: new ones committed here, a full last page, or ROUND_MS since
 * it last looked (events of another process or node). */
static void
page_start(struct cs_sender *snd, struct run *r)
{
	int64_t now = cs_mono_ms();

	if (r->busy || r->chs != NULL || now < r->next_ms)
		return;
	if (!r->more && r->look_gen == snd->gen && now - r->look_ms < ROUND_MS)
		return;
	/* Looked at now, whatever comes of it: a lease held elsewhere is
	 * asked for again after ROUND_MS, not on every turn of the loop. */
	r->look_gen = snd->gen;
	r->look_ms = now;
	r->more = 0;
	if (!lease(snd, r) || load(snd, r) != 0 || page_take(snd, r) != 0)
		return;
	if (r->chs != NULL)
		page_next(snd, r);
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
			r->look_gen = snd->gen - 1;  /* look at once */
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
			run_free(snd, r);
		}
	}
	cs_sub_rows_free(subs, n);
}

/* The requests' progress: each finished one handed to done(), which
 * may start the subscription's next; performed again until none
 * finishes, so that the next request starts now, not after a poll. */
static void
pump(struct cs_sender *snd)
{
	struct run *r;
	CURLMsg *m;
	int running = 0, left, ended;

	do {
		ended = 0;
		curl_multi_perform(snd->multi, &running);
		while ((m = curl_multi_info_read(snd->multi, &left)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			r = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			    (char **)&r);
			if (r != NULL && r->busy) {
				done(snd, r, m->data.result);
				ended++;
			}
		}
	} while (ended > 0 && !atomic_load(&snd->stop));
}

static void *
sender_thread(void *arg)
{
	struct cs_sender *snd = arg;
	int64_t refreshed = -ROUND_MS;
	struct run *r;
	int busy, more;

	while (!atomic_load(&snd->stop)) {
		pages_drop(snd);
		if (cs_mono_ms() - refreshed >= ROUND_MS) {
			refresh(snd);
			refreshed = cs_mono_ms();
		}
		busy = more = 0;
		for (r = snd->runs; r != NULL && !atomic_load(&snd->stop);
		    r = r->next) {
			if (r->busy && r->held)
				(void)lease(snd, r);  /* a long request keeps it */
			page_start(snd, r);
			busy += r->busy;
			more += r->more && r->chs == NULL && !r->busy;
		}
		if (busy > 0) {
			curl_multi_poll(snd->multi, NULL, 0, BUSY_POLL_MS, NULL);
			pump(snd);
			snd->gen = cs_events_wait(snd->gen, 0);
		} else {
			snd->gen = cs_events_wait(snd->gen, more ? 0 :
			    snd->npend > 0 ? FLUSH_MS : ROUND_MS);
		}
		flush(snd, 0);
	}
	/* What was delivered before the stop is recorded. */
	for (r = snd->runs; r != NULL; r = r->next) {
		unbusy(snd, r);
		if (r->chs != NULL)
			page_end(snd, r);
	}
	pages_drop(snd);
	flush(snd, 1);
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
	if ((snd->multi = curl_multi_init()) == NULL) {
		free(snd);
		return cs_err_set(CS_ENOMEM, "cannot initialise libcurl");
	}
	(void)RAND_bytes(rnd, sizeof(rnd));
	snprintf(snd->node, sizeof(snd->node), "%ld-%02x%02x%02x%02x%02x%02x",
	    (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	if ((rc = cs_thread_start(&snd->thread, sender_thread, snd)) != 0) {
		curl_multi_cleanup(snd->multi);
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
		run_free(snd, r);
	}
	curl_multi_cleanup(snd->multi);
	EVP_MAC_free(snd->hmac);
	free(snd->pend);
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
