/*
 * http_routes: the route table of the HTTP API (SPEC §5) and one handler
 * per endpoint.  Each handler turns the request into a call of service.h
 * and its result into a response; the checks every route shares (rate
 * limit, authentication, content type, body size) ran before it, in
 * http.c.  Role and grant checks are the domain's (CS_EFORBIDDEN → 403).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs_err.h"
#include "face.h"
#include "http_internal.h"
#include "http_problem.h"
#include "log.h"
#include "qr.h"

#define PURPOSE_MAX_CHARS 200  /* SPEC §5: X-Purpose, at most 200 characters */
#define QR_MAX_AGE "private, max-age=300"
#define PUBLIC_MAX_AGE "public, max-age=300"

/* --- the QR image cache --------------------------------------------------- */

/*
 * Rendering a QR image costs far more than everything else in a read
 * (NOTES.md: 580 µs for a PNG against 6 µs for the lookup), and a licence's
 * QR text never changes (the token is immutable, the public URL is fixed
 * while the process runs).  So images are kept, keyed by format, form and
 * id, in a small LRU bounded in entries and bytes.  The licence read before
 * the lookup still runs every time: the grant check and the audit record
 * must not be skipped by a cache hit.
 */
struct qr_entry {
	uint64_t hash;
	char *key;
	uint8_t *data;
	size_t len;
	uint64_t used;      /* the LRU clock at the last hit */
};

struct cs_qr_cache {
	pthread_mutex_t lock;
	struct qr_entry *e;
	size_t n, max, bytes, max_bytes;
	uint64_t clock;
};

int
cs_qr_cache_new(size_t max_entries, size_t max_bytes, struct cs_qr_cache **out)
{
	struct cs_qr_cache *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->e = calloc(max_entries, sizeof(*c->e))) == NULL) {
		free(c);
		return cs_err_set(CS_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&c->lock, NULL);
	c->max = max_entries;
	c->max_bytes = max_bytes;
	*out = c;
	return 0;
}

void
cs_qr_cache_free(struct cs_qr_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->e[i].key);
		free(c->e[i].data);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->e);
	free(c);
}

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* A copy of the cached image (malloc'd) or NULL. */
static uint8_t *
cache_get(struct cs_qr_cache *c, const char *key, size_t *len)
{
	uint64_t h = fnv1a(key);
	uint8_t *copy = NULL;
	size_t i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++) {
		if (c->e[i].hash != h || strcmp(c->e[i].key, key) != 0)
			continue;
		if ((copy = malloc(c->e[i].len)) != NULL) {
			memcpy(copy, c->e[i].data, c->e[i].len);
			*len = c->e[i].len;
			c->e[i].used = ++c->clock;
		}
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return copy;
}

static void
cache_evict_one(struct cs_qr_cache *c)
{
	size_t i, old = 0;

	for (i = 1; i < c->n; i++)
		if (c->e[i].used < c->e[old].used)
			old = i;
	c->bytes -= c->e[old].len;
	free(c->e[old].key);
	free(c->e[old].data);
	c->e[old] = c->e[--c->n];
}

static void
cache_put(struct cs_qr_cache *c, const char *key, const uint8_t *data,
    size_t len)
{
	uint64_t h = fnv1a(key);
	struct qr_entry e = {h, NULL, NULL, len, 0};
	size_t i;

	if (len > c->max_bytes / 4 || c->max == 0)
		return;
	if ((e.key = strdup(key)) == NULL || (e.data = malloc(len)) == NULL) {
		free(e.key);
		return;  /* a cache that cannot grow is still correct */
	}
	memcpy(e.data, data, len);
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++)
		if (c->e[i].hash == h && strcmp(c->e[i].key, key) == 0)
			break;
	if (i < c->n) {
		/* Another thread rendered it meanwhile. */
		pthread_mutex_unlock(&c->lock);
		free(e.key);
		free(e.data);
		return;
	}
	while (c->n > 0 && (c->n == c->max || c->bytes + len > c->max_bytes))
		cache_evict_one(c);
	e.used = ++c->clock;
	c->e[c->n++] = e;
	c->bytes += len;
	pthread_mutex_unlock(&c->lock);
}

/* --- helpers --------------------------------------------------------------- */

static cs_service *
svc_of(cs_req *r)
{
	return r->srv->svc;
}

static void
reply_licence(cs_req *r, int rc, json_t *lic, int created, cs_problems *p)
{
	const char *id = json_string_value(json_object_get(lic, "id"));
	char loc[512];

	if (rc != 0) {
		cs_http_problem_err(r, rc, p);
		return;
	}
	cs_reply_json(r, created ? 201 : 200, lic);
	if (created && id != NULL) {
		snprintf(loc, sizeof(loc), "/api/v1/certificates/%s", id);
		cs_reply_header(r, MHD_HTTP_HEADER_LOCATION, loc);
	}
}

/* A text header (X-Purpose and friends): raw UTF-8 or percent-encoded,
 * decoded; control characters and invalid UTF-8 are a 400 naming it. */
static int
header_text(cs_req *r, const char *name, int required, size_t max_chars,
    char **out)
{
	const char *h = cs_req_header(r, name);
	size_t len, chars;

	*out = NULL;
	if (h == NULL || h[0] == '\0') {
		if (!required)
			return 0;
		cs_http_problem_field(r, 400, name, "the %s header is required: the "
		    "purpose of this lookup (申请事由), at most %zu characters",
		    name, max_chars);
		return -1;
	}
	if (cs_pct_decode(h, strlen(h), 0, out, &len) != 0 ||
	    cs_text_check(*out, len, &chars) != 0) {
		cs_http_problem_field(r, 400, name, "the %s header %s", name,
		    cs_err_msg());
		goto fail;
	}
	if (chars > max_chars) {
		cs_http_problem_field(r, 400, name, "the %s header is over %zu "
		    "characters", name, max_chars);
		goto fail;
	}
	return 0;
fail:
	free(*out);
	*out = NULL;
	return -1;
}

/* --- issuance and lifecycle ------------------------------------------------ */

static void
h_issue(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *req = cs_req_json(r), *lic = NULL;
	int created = 0, rc;

	if (req == NULL)
		return;
	rc = cs_issue(svc_of(r), &r->actor, req, &lic, &created, &p);
	if (rc == 0 && created)
		cs_metrics_issued(r->srv->metrics, 1);
	reply_licence(r, rc, lic, created, &p);
	cs_problems_reset(&p);
	json_decref(lic);
	json_decref(req);
}

static void
h_bundle(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *req = cs_req_json(r), *out = NULL;
	int created = 0, rc;

	if (req == NULL)
		return;
	rc = cs_issue_bundle(svc_of(r), &r->actor, req, &out, &created, &p);
	if (rc != 0) {
		cs_http_problem_err(r, rc, &p);
	} else {
		if (created)
			cs_metrics_issued(r->srv->metrics, (long)json_array_size(
			    json_object_get(out, "certificates")));
		cs_reply_json(r, created ? 201 : 200, out);
	}
	cs_problems_reset(&p);
	json_decref(out);
	json_decref(req);
}

static void
h_licence(cs_req *r)
{
	json_t *lic = NULL;
	int rc = cs_licence_read(svc_of(r), &r->actor, r->params[0], &lic);

	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		cs_reply_json(r, 200, lic);
	json_decref(lic);
}

static void
h_transition(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *body = cs_req_json(r), *out = NULL;
	int rc;

	if (body == NULL)
		return;
	rc = cs_licence_transition(svc_of(r), &r->actor, r->params[0],
	    r->route->arg, body, &out, &p);
	if (rc != 0)
		cs_http_problem_err(r, rc, &p);
	else
		cs_reply_json(r, 200, out);
	cs_problems_reset(&p);
	json_decref(out);
	json_decref(body);
}

static void
h_amend(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *req = cs_req_json(r), *lic = NULL;
	int created = 0, rc;

	if (req == NULL)
		return;
	rc = cs_licence_amend(svc_of(r), &r->actor, r->params[0], req, &lic,
	    &created, &p);
	if (rc == 0 && created)
		cs_metrics_issued(r->srv->metrics, 1);
	reply_licence(r, rc, lic, created, &p);
	cs_problems_reset(&p);
	json_decref(lic);
	json_decref(req);
}

/* --- images ---------------------------------------------------------------- */

/* ?form=url|compact, or the deployment's default; 400 left otherwise. */
static const char *
qr_form(cs_req *r)
{
	const char *form = cs_req_query(r, "form");

	if (form == NULL || form[0] == '\0')
		return svc_of(r)->cfg.qr_form;
	if (strcmp(form, "url") == 0 || strcmp(form, "compact") == 0)
		return form;
	cs_http_problem_field(r, 400, "form", "form must be url or compact");
	return NULL;
}

static void
h_qr(cs_req *r)
{
	int png = strcmp(r->route->arg, "png") == 0, rc;
	const char *form = qr_form(r), *id;
	json_t *lic = NULL;
	char *key = NULL, *text = NULL, *svg = NULL;
	uint8_t *img = NULL;
	size_t len = 0;

	if (form == NULL)
		return;
	/* Authorised and audited on every request, cache or not. */
	if ((rc = cs_licence_read(svc_of(r), &r->actor, r->params[0], &lic)) != 0)
		goto out;
	if ((id = json_string_value(json_object_get(lic, "id"))) == NULL)
		id = r->params[0];
	if (asprintf(&key, "%s\x1f%s\x1f%s", r->route->arg, form, id) < 0) {
		key = NULL;
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((img = cache_get(r->srv->qr_cache, key, &len)) == NULL) {
		if ((rc = cs_licence_qr_text(svc_of(r), lic, form, &text)) != 0)
			goto out;
		if (png)
			rc = cs_qr_png(text, &r->srv->qr, &img, &len, NULL);
		else if ((rc = cs_qr_svg(text, &r->srv->qr, &svg, NULL)) == 0) {
			img = (uint8_t *)svg;
			len = strlen(svg);
		}
		if (rc != 0)
			goto out;
		cache_put(r->srv->qr_cache, key, img, len);
	}
	cs_reply(r, 200, png ? "image/png" : "image/svg+xml; charset=utf-8", img,
	    len, 1);
	img = NULL;
	cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, QR_MAX_AGE);
out:
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	free(img);
	free(text);
	free(key);
	json_decref(lic);
}

static void
h_face(cs_req *r)
{
	const char *form = qr_form(r), *type_code;
	const cs_type *type;
	json_t *lic = NULL;
	char *text = NULL, *svg = NULL;
	int rc;

	if (form == NULL)
		return;
	if ((rc = cs_licence_read(svc_of(r), &r->actor, r->params[0], &lic)) != 0)
		goto out;
	type_code = json_string_value(json_object_get(lic, "type"));
	if ((type = cs_catalog_find(svc_of(r)->catalog, type_code)) == NULL) {
		/* The licence outlived its type in templates/. */
		rc = cs_err_set(CS_ENOTFOUND, "the catalog has no face layout for "
		    "licence type %s", type_code ? type_code : "?");
		goto out;
	}
	if ((rc = cs_licence_qr_text(svc_of(r), lic, form, &text)) != 0 ||
	    (rc = cs_face_svg(type, lic, text, &r->srv->qr, &svg)) != 0)
		goto out;
	cs_reply(r, 200, "image/svg+xml; charset=utf-8", svg, strlen(svg), 1);
	svg = NULL;
	cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, QR_MAX_AGE);
	/* The face is a document a browser may open: it may not run or load
	 * anything, whatever a value in it says. */
	cs_reply_header(r, "Content-Security-Policy",
	    "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
out:
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	free(svg);
	free(text);
	json_decref(lic);
}

/* --- holders and audit ----------------------------------------------------- */

static void
h_holder(cs_req *r)
{
	cs_purpose why = {NULL, NULL, NULL};
	char *purpose = NULL, *item = NULL, *ref = NULL;
	json_t *out = NULL;
	int rc;

	if (header_text(r, "X-Purpose", 1, PURPOSE_MAX_CHARS, &purpose) != 0 ||
	    header_text(r, "X-Service-Item", 0, PURPOSE_MAX_CHARS, &item) != 0 ||
	    header_text(r, "X-Case-Ref", 0, PURPOSE_MAX_CHARS, &ref) != 0)
		goto out;
	why.purpose = purpose;
	why.service_item = item;
	why.case_ref = ref;
	rc = cs_holder_licences(svc_of(r), &r->actor, r->params[0],
	    cs_req_query(r, "type"), cs_req_query(r, "status"), &why, &out);
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		cs_reply_json(r, 200, out);
out:
	json_decref(out);
	free(purpose);
	free(item);
	free(ref);
}

/* n decimal digits at s, or -1. */
static int
digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* RFC 3339 date-time ("2026-11-24T08:00:00Z", "...T16:00:00.5+08:00") or
 * Unix milliseconds, to Unix milliseconds. */
static int
parse_time_ms(const char *s, int64_t *out)
{
	struct tm tm;
	int64_t ms = 0, off = 0;
	const char *p;
	int y, mo, d, h, mi, se, oh, om, scale;
	time_t t;

	if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 15)
			return -1;
		*out = strtoll(s, NULL, 10);
		return 0;
	}
	if (strlen(s) < 20 || (y = digits(s, 4)) < 0 || s[4] != '-' ||
	    (mo = digits(s + 5, 2)) < 1 || mo > 12 || s[7] != '-' ||
	    (d = digits(s + 8, 2)) < 1 || d > 31 ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    (h = digits(s + 11, 2)) < 0 || h > 23 || s[13] != ':' ||
	    (mi = digits(s + 14, 2)) < 0 || mi > 59 || s[16] != ':' ||
	    (se = digits(s + 17, 2)) < 0 || se > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		for (p++, scale = 100; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ms += scale > 0 ? (*p - '0') * scale : 0;
		if (p == s + 20)
			return -1;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && (oh = digits(p + 1, 2)) >= 0 &&
	    oh <= 23 && p[3] == ':' && (om = digits(p + 4, 2)) >= 0 && om <= 59) {
		off = (int64_t)(oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se == 60 ? 59 : se;
	t = timegm(&tm);
	if (tm.tm_mday != d)  /* 2026-02-30 */
		return -1;
	*out = ((int64_t)t - off) * 1000 + ms;
	return 0;
}

static void
h_audit(cs_req *r)
{
	static const char *const times[] = {"since", "until"};
	cs_audit_filter f;
	json_t *out = NULL;
	const char *v;
	char *end;
	int64_t t[2] = {0, 0};
	long long n;
	int i, rc;

	memset(&f, 0, sizeof(f));
	f.client = cs_req_query(r, "client");
	f.action = cs_req_query(r, "action");
	f.holder = cs_req_query(r, "holder");
	f.target = cs_req_query(r, "target");
	for (i = 0; i < 2; i++)
		if ((v = cs_req_query(r, times[i])) != NULL &&
		    parse_time_ms(v, &t[i]) != 0) {
			cs_http_problem_field(r, 400, times[i], "%s must be an RFC 3339 "
			    "date-time (2026-11-24T08:00:00Z) or Unix milliseconds",
			    times[i]);
			return;
		}
	f.since_ms = t[0];
	f.until_ms = t[1];
	if ((v = cs_req_query(r, "after")) != NULL) {
		n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 0) {
			cs_http_problem_field(r, 400, "after", "after must be a record "
			    "sequence number (0 or more)");
			return;
		}
		f.after_seq = n;
	}
	if ((v = cs_req_query(r, "limit")) != NULL) {
		n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 1 || n > 1000) {
			cs_http_problem_field(r, 400, "limit",
			    "limit must be 1 to 1000");
			return;
		}
		f.limit = (int)n;
	}
	rc = cs_audit_list(svc_of(r), &r->actor, &f, &out);
	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		cs_reply_json(r, 200, out);
	json_decref(out);
}

/* --- verification ----------------------------------------------------- */

/* Scanners end what they read with CR/LF; the compact form may end in a
 * space (a Base45 character), so spaces are kept at the end. */
static void
trim_scan(const char **s, size_t *n)
{
	while (*n > 0 && strchr(" \t\r\n", (*s)[0]) != NULL)
		(*s)++, (*n)--;
	while (*n > 0 && strchr("\t\r\n", (*s)[*n - 1]) != NULL)
		(*n)--;
}

static int
verify_text(cs_req *r, const char *text, size_t n, json_t **out)
{
	int rc;

	trim_scan(&text, &n);
	rc = cs_verify_text(svc_of(r), text, n, out);
	if (rc == 0)
		cs_metrics_verification(r->srv->metrics,
		    json_string_value(json_object_get(*out, "result")));
	return rc;
}

static void
h_verify(cs_req *r)
{
	cs_problems p = CS_PROBLEMS_INIT;
	json_t *body = NULL, *out = NULL, *qr;
	int rc;

	if (!cs_req_content_is(r, "application/json")) {
		rc = verify_text(r, r->body, r->body_len, &out);
	} else if ((body = cs_req_json(r)) == NULL) {
		return;
	} else if ((qr = json_object_get(body, "qr")) != NULL) {
		if (!json_is_string(qr)) {
			cs_http_problem_field(r, 400, "qr", "qr must be a string: the "
			    "text of the QR code");
			goto out;
		}
		rc = verify_text(r, json_string_value(qr), json_string_length(qr),
		    &out);
	} else if (json_object_get(body, "id") != NULL ||
	    json_object_get(body, "number") != NULL ||
	    json_object_get(body, "holder_code") != NULL) {
		rc = cs_verify_manual(svc_of(r), body, &out, &p);
		if (rc == 0)
			cs_metrics_verification(r->srv->metrics,
			    json_string_value(json_object_get(out, "result")));
	} else {
		cs_http_problemf(r, 400, "expected {\"qr\": TEXT} or {\"id\" or "
		    "\"number\", \"holder_code\"}");
		goto out;
	}
	if (rc != 0)
		cs_http_problem_err(r, rc, &p);
	else
		cs_reply_json(r, 200, out);
out:
	cs_problems_reset(&p);
	json_decref(out);
	json_decref(body);
}

/* --- the verification page ------------------------------------------------- */

static const struct verdict {
	const char *result, *tone, *mark, *zh, *en, *zh_note, *en_note;
} verdicts[] = {
	{"valid", "ok", "✓", "有效", "Valid",
	    "此证照由下列机关签发，真实有效，当前在有效期内。",
	    "This licence was issued by the authority below, is genuine and "
	    "is in force."},
	{"not_yet_valid", "warn", "!", "尚未生效", "Not yet valid",
	    "证照真实，但有效期尚未开始。",
	    "The licence is genuine, but its validity has not begun."},
	{"expired", "bad", "✗", "已过期", "Expired",
	    "证照真实，但已超过有效期。",
	    "The licence is genuine, but it has expired."},
	{"suspended", "warn", "!", "已暂扣", "Suspended",
	    "证照真实，但已被签发机关暂扣，暂扣期间不得使用。",
	    "The licence is genuine, but its authority has suspended it; it "
	    "may not be used while suspended."},
	{"revoked", "bad", "✗", "已失效", "No longer in force",
	    "证照已被签发机关吊销、撤销或注销。",
	    "The authority has revoked, withdrawn or cancelled this licence."},
	{"superseded", "warn", "!", "已被新版本取代", "Superseded",
	    "证照已变更或延续，请以新版本为准。",
	    "The licence has been amended or renewed: the newer version is "
	    "the one in force."},
	{"invalid_signature", "bad", "✗", "签名无效", "Invalid signature",
	    "二维码内容与签名不符，可能被篡改，请勿采信。",
	    "The content does not match its signature: it may have been "
	    "altered. Do not rely on it."},
	{"unknown_key", "bad", "✗", "签发密钥未知", "Unknown signing key",
	    "二维码不是由本系统认可的密钥签发的，请勿采信。",
	    "The code was not signed by a key this service trusts. Do not "
	    "rely on it."},
	{"malformed", "bad", "✗", "无法识别", "Not readable",
	    "这不是可识别的电子证照二维码。",
	    "This is not a readable e-licence code."},
	{"not_found", "bad", "✗", "未找到", "Not found",
	    "签名有效，但本系统中没有这张证照。",
	    "The signature is valid, but this registry holds no such "
	    "licence."},
};

static const struct verdict *
verdict_of(const char *result)
{
	size_t i;

	for (i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
		if (strcmp(verdicts[i].result, result) == 0)
			return &verdicts[i];
	return NULL;
}

static const char page_style[] =
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,\"PingFang SC\","
    "\"Microsoft YaHei\",\"Noto Sans CJK SC\",sans-serif;color:#1a1a1a;"
    "background:#f3f4f6}"
    "main{max-width:40rem;margin:0 auto;padding:1rem}"
    ".result{border-radius:.75rem;padding:1.25rem;color:#fff;"
    "text-align:center}"
    ".ok{background:#157f3b}.warn{background:#a15c00}.bad{background:#b42318}"
    ".mark{font-size:3rem;line-height:1}"
    "h1{margin:.25rem 0;font-size:1.75rem}"
    "h1 span,.en{display:block;font-size:1rem;font-weight:normal;"
    "opacity:.9}"
    ".result p{margin:.5rem 0 0}"
    "dl{background:#fff;border-radius:.75rem;padding:.5rem 1.25rem;"
    "margin:1rem 0}"
    "dt{color:#555;font-size:.85rem;margin-top:.75rem}"
    "dd{margin:0 0 .5rem;font-weight:600;overflow-wrap:anywhere}"
    "textarea{width:100%;box-sizing:border-box;min-height:8rem;"
    "font:14px monospace}"
    "button{font-size:1rem;padding:.5rem 1.5rem;margin-top:.5rem}"
    "footer,.meta{color:#555;font-size:.85rem}"
    "a{color:#0b57d0}";

static void
page_begin(cs_sbuf *b, const char *title_zh, const char *title_en)
{
	cs_sb_puts(b, "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n<meta name=\"robots\" content=\"noindex\">\n"
	    "<title>");
	cs_sb_html(b, title_zh);
	cs_sb_puts(b, " · ");
	cs_sb_html(b, title_en);
	cs_sb_puts(b, " — 电子证照核验 E-licence check</title>\n<style>");
	cs_sb_puts(b, page_style);
	cs_sb_puts(b, "</style>\n</head>\n<body>\n<main>\n");
}

static void
page_end(cs_sbuf *b)
{
	cs_sb_puts(b, "<footer><p><a href=\"/v\">核验另一张证照 · Check another "
	    "licence</a></p></footer>\n</main>\n</body>\n</html>\n");
}

/* A scalar JSON value as text into buf; "" for null, objects, arrays. */
static const char *
scalar_text(const json_t *v, char *buf, size_t n)
{
	if (json_is_string(v))
		return json_string_value(v);
	buf[0] = '\0';
	if (json_is_integer(v))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, n, "%g", json_real_value(v));
	else if (json_is_true(v))
		snprintf(buf, n, "是 yes");
	else if (json_is_false(v))
		snprintf(buf, n, "否 no");
	return buf;
}

static void
row(cs_sbuf *b, const char *zh, const char *en, const json_t *v)
{
	char buf[64];
	const char *text = scalar_text(v, buf, sizeof(buf));

	if (text == NULL || text[0] == '\0')
		return;
	cs_sb_puts(b, "<dt>");
	cs_sb_html(b, zh);
	if (en != NULL && en[0] != '\0') {
		cs_sb_puts(b, " · ");
		cs_sb_html(b, en);
	}
	cs_sb_puts(b, "</dt><dd>");
	cs_sb_html(b, text);
	cs_sb_puts(b, "</dd>\n");
}

static void
page_result(cs_req *r, const json_t *res)
{
	const char *result = json_string_value(json_object_get(res, "result"));
	const json_t *cert = json_object_get(res, "certificate");
	const json_t *detail = json_object_get(cert, "status_detail");
	const json_t *fields = json_object_get(cert, "fields"), *v;
	const cs_type *type = cs_catalog_find(svc_of(r)->catalog,
	    json_string_value(json_object_get(cert, "type")));
	const struct verdict *vd = verdict_of("malformed");
	const char *kind = json_string_value(json_object_get(detail, "kind"));
	const char *zh, *en, *key, *until;
	cs_sbuf b = {NULL, 0, 0, 0};

	if (result != NULL && verdict_of(result) != NULL)
		vd = verdict_of(result);
	zh = vd->zh;
	en = vd->en;
	if (strcmp(vd->result, "revoked") == 0 && kind != NULL) {
		if (strcmp(kind, "revoked") == 0) {
			zh = "已吊销";
			en = "Revoked";
		} else if (strcmp(kind, "withdrawn") == 0) {
			zh = "已撤销";
			en = "Withdrawn";
		} else if (strcmp(kind, "cancelled") == 0) {
			zh = "已注销";
			en = "Cancelled";
		}
	}
	page_begin(&b, zh, en);
	cs_sb_printf(&b, "<section class=\"result %s\" role=\"status\">\n"
	    "<div class=\"mark\" aria-hidden=\"true\">%s</div>\n<h1>", vd->tone,
	    vd->mark);
	cs_sb_html(&b, zh);
	cs_sb_puts(&b, "<span lang=\"en\">");
	cs_sb_html(&b, en);
	cs_sb_puts(&b, "</span></h1>\n<p>");
	cs_sb_html(&b, vd->zh_note);
	cs_sb_puts(&b, "<span class=\"en\" lang=\"en\">");
	cs_sb_html(&b, vd->en_note);
	cs_sb_puts(&b, "</span></p>\n</section>\n");

	if (json_is_object(cert)) {
		cs_sb_puts(&b, "<dl>\n");
		row(&b, "证照名称", "Licence", json_object_get(cert, "type_name"));
		row(&b, "证照编号", "Number", json_object_get(cert, "number"));
		row(&b, "持证主体", "Holder",
		    json_object_get(json_object_get(cert, "holder"), "name"));
		row(&b, "持证主体代码", "Holder code",
		    json_object_get(json_object_get(cert, "holder"), "code"));
		row(&b, "颁发机构", "Issued by",
		    json_object_get(json_object_get(cert, "issuer"), "name"));
		row(&b, "有效期自", "Valid from", json_object_get(cert, "valid_from"));
		until = json_string_value(json_object_get(cert, "valid_until"));
		if (until != NULL)
			row(&b, "有效期至", "Valid until",
			    json_object_get(cert, "valid_until"));
		else if (json_object_get(cert, "valid_from") != NULL) {
			json_t *forever = json_string("长期 No expiry");

			row(&b, "有效期至", "Valid until", forever);
			json_decref(forever);
		}
		row(&b, "签发时间", "Issued at", json_object_get(cert, "issued_at"));
		json_object_foreach((json_t *)fields, key, v) {
			const cs_field *f = type ? cs_type_field(type, key) : NULL;

			row(&b, f != NULL && f->label != NULL ? f->label : key, NULL, v);
		}
		if (detail != NULL) {
			row(&b, "状态变更时间", "Status changed at",
			    json_object_get(detail, "at"));
			row(&b, "原因", "Reason", json_object_get(detail, "reason"));
			row(&b, "新版本证照标识", "Superseded by",
			    json_object_get(detail, "superseded_by"));
		}
		row(&b, "证照标识", "Licence ID", json_object_get(cert, "id"));
		cs_sb_puts(&b, "</dl>\n");
	}
	cs_sb_puts(&b, "<p class=\"meta\">");
	{
		const char *why = json_string_value(json_object_get(res, "reason"));
		const char *at = json_string_value(json_object_get(res, "checked_at"));

		if (at != NULL) {
			cs_sb_puts(&b, "核验时间 Checked at ");
			cs_sb_html(&b, at);
		}
		if (why != NULL && strcmp(vd->result, "valid") != 0) {
			cs_sb_puts(&b, "<br>");
			cs_sb_html(&b, why);
		}
	}
	cs_sb_puts(&b, "</p>\n");
	page_end(&b);
	if (b.failed) {
		free(b.p);
		cs_err_set(CS_ENOMEM, "out of memory");
		cs_http_problem_err(r, CS_ENOMEM, NULL);
		return;
	}
	cs_reply(r, 200, "text/html; charset=utf-8", b.p, b.len, 1);
}

static void
page_headers(cs_req *r)
{
	/* Self-contained: nothing to load, nothing to run, and the token in
	 * the address is not sent on to another site. */
	cs_reply_header(r, "Content-Security-Policy", "default-src 'none'; "
	    "style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
	    "frame-ancestors 'none'");
	cs_reply_header(r, "Referrer-Policy", "no-referrer");
}

static void
page_verify(cs_req *r, const char *text, size_t n)
{
	json_t *res = NULL;
	int rc = verify_text(r, text, n, &res);

	if (rc != 0)
		cs_http_problem_err(r, rc, NULL);
	else
		page_result(r, res);
	json_decref(res);
	page_headers(r);
}

static void
page_form(cs_req *r)
{
	cs_sbuf b = {NULL, 0, 0, 0};

	page_begin(&b, "核验", "Check");
	cs_sb_puts(&b, "<h1>电子证照核验<span lang=\"en\">E-licence check</span>"
	    "</h1>\n<p>用手机扫描证照上的二维码即可核验；没有扫码工具时，"
	    "可将二维码的文本粘贴到下面。<span class=\"en\" lang=\"en\">Scan the "
	    "licence's QR code with a phone camera, or paste the code's text "
	    "below.</span></p>\n"
	    "<form method=\"post\" action=\"/v\">\n"
	    "<label for=\"qr\">二维码文本 · QR text</label>\n"
	    "<textarea id=\"qr\" name=\"qr\" required maxlength=\"4000\" "
	    "autocomplete=\"off\" spellcheck=\"false\"></textarea>\n"
	    "<button type=\"submit\">核验 · Check</button>\n</form>\n");
	cs_sb_puts(&b, "</main>\n</body>\n</html>\n");
	if (b.failed) {
		free(b.p);
		cs_err_set(CS_ENOMEM, "out of memory");
		cs_http_problem_err(r, CS_ENOMEM, NULL);
		return;
	}
	cs_reply(r, 200, "text/html; charset=utf-8", b.p, b.len, 1);
	page_headers(r);
}

/* GET /v/{token}: what a phone camera opens. */
static void
h_page_token(cs_req *r)
{
	page_verify(r, r->params[0], strlen(r->params[0]));
}

/* GET /v, and GET /v?qr=TEXT. */
static void
h_page(cs_req *r)
{
	const char *qr = cs_req_query(r, "qr");

	if (qr == NULL || qr[0] == '\0')
		page_form(r);
	else
		page_verify(r, qr, strlen(qr));
}

/* POST /v: the form (qr=TEXT) or the text itself. */
static void
h_page_post(cs_req *r)
{
	const char *p, *amp;
	char *qr = NULL;
	size_t n = 0;

	if (!cs_req_content_is(r, "application/x-www-form-urlencoded")) {
		page_verify(r, r->body, r->body_len);
		return;
	}
	for (p = r->body; *p != '\0'; p = *amp ? amp + 1 : amp) {
		amp = p + strcspn(p, "&");
		if (strncmp(p, "qr=", 3) == 0 && qr == NULL &&
		    cs_pct_decode(p + 3, (size_t)(amp - p - 3), 1, &qr, &n) != 0) {
			cs_http_problem_field(r, 400, "qr", "qr %s", cs_err_msg());
			return;
		}
	}
	if (qr == NULL || n == 0)
		page_form(r);
	else
		page_verify(r, qr, n);
	free(qr);
}

/* --- public data and operations --------------------------------------------- */

static void
h_trust_list(cs_req *r)
{
	json_t *out = NULL;
	int rc = cs_trust_list(svc_of(r), &out);

	if (rc != 0) {
		cs_http_problem_err(r, rc, NULL);
	} else {
		cs_reply_json(r, 200, out);
		cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, PUBLIC_MAX_AGE);
	}
	json_decref(out);
}

static void
h_types(cs_req *r)
{
	cs_reply_static(r, 200, "application/json; charset=utf-8",
	    r->srv->types_json, r->srv->types_len);
	cs_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, PUBLIC_MAX_AGE);
}

static void
h_healthz(cs_req *r)
{
	static const char ok[] = "{\"status\":\"ok\"}";
	cs_store *st = svc_of(r)->store;

	if (st->ops->ping(st) != 0) {
		cs_log_msg("certsvc: health check: the store does not answer: %s",
		    cs_err_msg());
		cs_http_problemf(r, 503, "the database does not answer");
		return;
	}
	cs_reply_static(r, 200, "application/json; charset=utf-8", ok,
	    sizeof(ok) - 1);
}

static void
h_metrics(cs_req *r)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	cs_metrics_in_flight(r->srv->metrics, atomic_load(&r->srv->in_flight));
	if ((rc = cs_metrics_render(r->srv->metrics, &text, &len)) != 0) {
		cs_http_problem_err(r, rc, NULL);
		return;
	}
	cs_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len,
	    1);
}

/* --- the route table ----------------------------------------------------- */

#define AUTH 0
#define PUB (CS_RT_PUBLIC | CS_RT_LIMITED)

const cs_route cs_routes[] = {
	{"POST", "/api/v1/certificates", h_issue, AUTH | CS_RT_JSON, NULL},
	{"POST", "/api/v1/bundles", h_bundle, AUTH | CS_RT_JSON, NULL},
	{"GET", "/api/v1/certificates/{id}", h_licence, AUTH, NULL},
	{"GET", "/api/v1/certificates/{id}/qr.png", h_qr, AUTH, "png"},
	{"GET", "/api/v1/certificates/{id}/qr.svg", h_qr, AUTH, "svg"},
	{"GET", "/api/v1/certificates/{id}/face.svg", h_face, AUTH, NULL},
	{"POST", "/api/v1/certificates/{id}/suspend", h_transition,
	    AUTH | CS_RT_JSON | CS_RT_JSON_OPT, "suspend"},
	{"POST", "/api/v1/certificates/{id}/reinstate", h_transition,
	    AUTH | CS_RT_JSON | CS_RT_JSON_OPT, "reinstate"},
	{"POST", "/api/v1/certificates/{id}/revoke", h_transition,
	    AUTH | CS_RT_JSON | CS_RT_JSON_OPT, "revoke"},
	{"POST", "/api/v1/certificates/{id}/amend", h_amend, AUTH | CS_RT_JSON,
	    NULL},
	{"GET", "/api/v1/holders/{code}/certificates", h_holder, AUTH, NULL},
	{"POST", "/api/v1/verify", h_verify, PUB | CS_RT_VERIFY, NULL},
	{"GET", "/v/{token}", h_page_token, PUB, NULL},
	{"GET", "/v", h_page, PUB, NULL},
	{"POST", "/v", h_page_post, PUB | CS_RT_FORM, NULL},
	{"GET", "/api/v1/trust-list", h_trust_list, PUB, NULL},
	{"GET", "/api/v1/types", h_types, PUB, NULL},
	{"GET", "/api/v1/audit", h_audit, AUTH, NULL},
	{"GET", "/healthz", h_healthz, CS_RT_PUBLIC, NULL},
	{"GET", "/metrics", h_metrics, CS_RT_PUBLIC, NULL},
};

const size_t cs_n_routes = sizeof(cs_routes) / sizeof(cs_routes[0]);
