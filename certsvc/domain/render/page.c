/*
 * page: the verification page's HTML (page.h).
 *
 * What a person must take in at a glance comes first: one large verdict in
 * one of three tones (green: genuine and in force; amber: genuine but not
 * in force now; red: not genuine, or revoked), said in words and with a
 * mark as well as by its colour, so that neither a colour-blind reader nor
 * a black-and-white printout loses it.  Then the licence as its public view
 * allows, the time of the check, and how to check offline.
 *
 * Every value is escaped with cs_sb_html() at the one place it is written;
 * the fixed texts below are trusted and written as they are.
 */
#include "page.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "digest.h"
#include "sbuf.h"
#include "timeutil.h"

#define ID_ROOT "1.2.156.3005.2."  /* SPEC §2a: the e-licence root code */

static const struct verdict {
	const char *result, *tone, *mark;
	const char *zh, *en;            /* the heading */
	const char *zh_note, *en_note;  /* one sentence under it */
} verdicts[] = {
	{"valid", "ok", "✓", "有效", "Valid",
	    "此证照真实，由下列机关颁发，当前有效。请核对下列信息与所持证照一致。",
	    "This licence is genuine, was issued by the authority below and is "
	    "in force. Check that the details below match the licence shown."},
	{"not_yet_valid", "warn", "!", "尚未生效", "Not yet valid",
	    "证照真实，但有效期尚未开始。",
	    "The licence is genuine, but its validity has not begun."},
	{"expired", "warn", "!", "已过期", "Expired",
	    "证照真实，但已超过有效期。",
	    "The licence is genuine, but it has expired."},
	{"suspended", "warn", "!", "已暂扣", "Suspended",
	    "证照真实，但已被颁发机构暂扣，暂扣期间不得使用。",
	    "The licence is genuine, but the authority has suspended it: it may "
	    "not be used while suspended."},
	{"superseded", "warn", "!", "已被新证照取代", "Superseded",
	    "证照真实，但已变更或延续，以新证照为准。",
	    "The licence is genuine, but it has been amended or renewed: the "
	    "newer licence is the one in force."},
	{"revoked", "bad", "✗", "已失效", "No longer in force",
	    "证照已被颁发机构吊销、撤销或注销，不得使用。",
	    "The authority has revoked, withdrawn or cancelled this licence: it "
	    "may not be used."},
	{"invalid_signature", "bad", "✗", "签名无效", "Invalid signature",
	    "二维码内容与签名不符，可能被篡改，请勿采信。",
	    "The content does not match its signature: it may have been "
	    "altered. Do not rely on it."},
	{"unknown_key", "bad", "✗", "签发密钥未知", "Unknown signing key",
	    "二维码不是由本系统认可的密钥签发的，请勿采信。",
	    "The code was not signed by a key this service trusts. Do not rely "
	    "on it."},
	{"malformed", "bad", "✗", "无法识别", "Not readable",
	    "这不是可识别的电子证照二维码，请勿采信。",
	    "This is not a readable e-licence code. Do not rely on it."},
	{"status_unknown", "warn", "!", "真实，状态未知", "Genuine, status "
	    "unknown",
	    "证照由下列他库签发且签名有效，但本系统未持有该库的状态列表，"
	    "无法确认是否已被暂扣或吊销。",
	    "The licence is genuine and was issued by the peer library below, "
	    "but this service holds no status list of that library: whether it "
	    "was suspended or revoked is not known."},
	{"not_found", "bad", "✗", "证照库中无此证照", "Not in the registry",
	    "签名有效，但本证照库中没有这张证照，请勿采信。",
	    "The signature is valid, but this registry holds no such licence. "
	    "Do not rely on it."},
};

/* A paper copy typed by hand has no signature: these say what the check
 * of the typed details found instead. */
static const struct verdict manual_verdicts[] = {
	{"valid", "ok", "✓", "有效", "Valid",
	    "证照库中有一张与所填编号和持证主体代码相符的证照，当前有效。请核对下列"
	    "信息与纸质件一致。",
	    "The registry holds a licence with the number and holder code you "
	    "typed, and it is in force. Check that the details below match the "
	    "paper copy."},
	{"not_found", "bad", "✗", "未找到相符的证照", "No matching licence",
	    "没有证照同时符合所填的证照编号（或标识）和持证主体代码。请核对后重试；"
	    "仍不相符时，请勿采信该纸质件。",
	    "No licence matches both the number (or identifier) and the holder "
	    "code you typed. Check them and try again; if they still do not "
	    "match, do not rely on the paper copy."},
	{"malformed", "bad", "✗", "无法核验", "Cannot check",
	    "请填写证照编号或证照标识，以及18位持证主体代码。",
	    "Give the licence number or identifier and the 18-character holder "
	    "code."},
};

static const struct {
	const char *kind, *zh, *en;
} revocations[] = {
	{"revoked", "已吊销", "Revoked"},
	{"withdrawn", "已撤销", "Withdrawn"},
	{"cancelled", "已注销", "Cancelled"},
};

/* What each tone means, in words. */
static const struct {
	const char *tone, *zh, *en;
} tones[] = {
	{"ok", "可以采信", "Can be relied on"},
	{"warn", "证照真实，但当前不在有效状态", "Genuine, but not in force now"},
	{"bad", "不可采信", "Do not rely on it"},
};

/*
 * Mobile first: one column, at most 40rem wide, nothing wider than a 360 px
 * screen (long identifiers break anywhere).  Contrast of every text on its
 * background is at least 4.5:1 (white on #157f3b 5.1, on #a15c00 5.2, on
 * #b42318 6.6; #4b5563 on white 7.6).
 */
static const char style[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.5 system-ui,\"Noto Sans CJK SC\",\"PingFang SC\","
    "\"Microsoft YaHei\",sans-serif;color:#1a1a1a;background:#f3f4f6}"
    "main{max-width:40rem;margin:0 auto;padding:1rem}"
    ".result{border-radius:.75rem;padding:1.25rem 1rem;color:#fff;"
    "text-align:center}"
    ".tone-ok{background:#157f3b}.tone-warn{background:#a15c00}"
    ".tone-bad{background:#b42318}"
    ".mark{font-size:3rem;line-height:1;margin:0;font-weight:bold}"
    "h1{margin:.25rem 0;font-size:2rem;line-height:1.25}"
    ".en{display:block;font-size:1rem;font-weight:normal}"
    ".result .tone{margin:.25rem 0 0;font-weight:bold}"
    ".result p{margin:.5rem 0 0}"
    ".newer{background:#fff;color:#1a1a1a;border-radius:.5rem;"
    "padding:.5rem;text-align:left}"
    "h2{font-size:1.15rem;margin:1.25rem 0 .5rem}"
    "h2 .en,dt .en,label .en{display:inline;margin-left:.4rem;"
    "font-size:inherit}"
    ".card{background:#fff;border-radius:.75rem;padding:.5rem 1rem;margin:0}"
    "dt{color:#4b5563;font-size:.875rem;margin-top:.5rem}"
    "dd{margin:0 0 .5rem;font-weight:600}"
    "dd,code,.newer,.meta{overflow-wrap:anywhere}"
    "code{font-size:.875rem;background:#eef0f3;padding:0 .2rem}"
    ".meta{color:#4b5563;font-size:.875rem}"
    "a{color:#0b57d0}"
    "label{display:block;margin-top:.75rem;font-weight:600}"
    "textarea,input{width:100%;font:inherit;padding:.5rem;"
    "border:1px solid #6b7280;border-radius:.375rem;background:#fff}"
    "textarea{min-height:7rem;font-family:monospace;font-size:.875rem}"
    "button{font:inherit;font-weight:600;padding:.6rem 1.5rem;"
    "margin:.75rem 0 .5rem;background:#0b57d0;color:#fff;border:0;"
    "border-radius:.375rem}"
    ".notice{background:#fff;border-left:4px solid #a15c00;padding:.5rem .75rem}"
    ".status{color:#fff;border-radius:.5rem;padding:.25rem .75rem;"
    "margin:0 0 .5rem;font-weight:bold}"
    ".left{font-size:1.25rem;font-weight:bold}";

static const struct verdict *
verdict_find(const struct verdict *v, size_t n, const char *result)
{
	size_t i;

	for (i = 0; result != NULL && i < n; i++)
		if (strcmp(v[i].result, result) == 0)
			return &v[i];
	return NULL;
}

#define VERDICT(tab, r) verdict_find(tab, sizeof(tab) / sizeof(tab[0]), r)

const char *
cs_page_tone(const char *result)
{
	const struct verdict *v = VERDICT(verdicts, result);

	return v != NULL ? v->tone : "bad";
}

/* zh, then en beside it in its own language. */
static void
bilingual(cs_sbuf *b, const char *zh, const char *en)
{
	cs_sb_html(b, zh);
	cs_sb_puts(b, " <span class=\"en\" lang=\"en\">");
	cs_sb_html(b, en);
	cs_sb_puts(b, "</span>");
}

static void page_begin_refresh(cs_sbuf *b, const char *zh, const char *en,
    long refresh);

static void
page_begin(cs_sbuf *b, const char *zh, const char *en)
{
	page_begin_refresh(b, zh, en, -1);
}

/* The head and the start of the body; refresh >= 0: the page reloads
 * itself after that many seconds. */
static void
page_begin_refresh(cs_sbuf *b, const char *zh, const char *en, long refresh)
{
	cs_sb_puts(b, "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">\n"
	    "<meta name=\"robots\" content=\"noindex\">\n"
	    "<meta name=\"referrer\" content=\"no-referrer\">\n");
	if (refresh >= 0)
		cs_sb_printf(b, "<meta http-equiv=\"refresh\" content=\"%ld\">\n",
		    refresh);
	cs_sb_puts(b, "<title>");
	cs_sb_html(b, zh);
	cs_sb_puts(b, " ");
	cs_sb_html(b, en);
	cs_sb_puts(b, " · 电子证照核验 E-licence check</title>\n<style>");
	cs_sb_puts(b, style);
	cs_sb_puts(b, "</style>\n</head>\n<body>\n<main>\n");
}

static int
page_end(cs_sbuf *b, int link_back, char **out, size_t *len)
{
	if (link_back)
		cs_sb_puts(b, "<footer><p><a href=\"/v\">核验另一张证照 <span "
		    "lang=\"en\">· Check another licence</span></a></p></footer>\n");
	cs_sb_puts(b, "</main>\n</body>\n</html>\n");
	if (b->failed) {
		cs_sb_free(b);
		return cs_err_set(CS_ENOMEM, "out of memory");
	}
	*out = b->p;
	*len = b->len;
	b->p = NULL;
	return 0;
}

/* "2026-11-24T08:00:00Z" as "2026-11-24 16:00:00 (UTC+08:00)" in the
 * deployment's zone, which is what a reader's clock shows; the input
 * unchanged when it does not parse. */
static const char *
local_time(const char *rfc3339, long tz_min, char *buf, size_t n)
{
	time_t t;
	struct tm tm;
	long off = tz_min < 0 ? -tz_min : tz_min;

	if (rfc3339 == NULL || cs_rfc3339_parse(rfc3339, &t) != 0)
		return rfc3339;
	t += (time_t)tz_min * 60;
	if (gmtime_r(&t, &tm) == NULL)
		return rfc3339;
	snprintf(buf, n, "%04d-%02d-%02d %02d:%02d:%02d (UTC%c%02ld:%02ld)",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, tz_min < 0 ? '-' : '+', off / 60, off % 60);
	return buf;
}

/* A scalar JSON value as text; NULL for null, objects and arrays. */
static const char *
scalar_text(const json_t *v, char *buf, size_t n)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, n, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, n, "%s", json_is_true(v) ? "是 yes" : "否 no");
	else
		return NULL;
	return buf;
}

/* One term of the details; nothing when the value is empty.  en may be
 * NULL (catalog labels are Chinese only). */
static void
row(cs_sbuf *b, const char *zh, const char *en, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return;
	cs_sb_puts(b, "<dt>");
	if (en != NULL)
		bilingual(b, zh, en);
	else
		cs_sb_html(b, zh);
	cs_sb_puts(b, "</dt><dd>");
	cs_sb_html(b, value);
	cs_sb_puts(b, "</dd>\n");
}

static const char *
str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static void
details_n(cs_sbuf *b, const json_t *cert, const cs_page_opts *o, int idx);
static void status_line(cs_sbuf *b, const char *status);

static void
details(cs_sbuf *b, const json_t *cert, const cs_page_opts *o)
{
	details_n(b, cert, o, -1);
}

/* The details of a licence; idx >= 0 numbers its heading's id, for a page
 * of several (ids must be unique). */
static void
details_n(cs_sbuf *b, const json_t *cert, const cs_page_opts *o, int idx)
{
	const json_t *holder = json_object_get(cert, "holder");
	const json_t *detail = json_object_get(cert, "status_detail");
	const json_t *fields = json_object_get(cert, "fields"), *v;
	const cs_type *type = o->catalog == NULL ? NULL :
	    cs_catalog_find(o->catalog, str(cert, "type"));
	const char *ct = str(holder, "code_type"), *from, *until, *key, *text;
	char buf[160], num[32];

	if (idx >= 0)
		cs_sb_printf(b, "<section class=\"licence\" aria-labelledby="
		    "\"h-details-%d\">\n<h2 id=\"h-details-%d\">", idx, idx);
	else
		cs_sb_puts(b, "<section aria-labelledby=\"h-details\">\n"
		    "<h2 id=\"h-details\">");
	if (idx >= 0 && str(cert, "type_name") != NULL)
		cs_sb_html(b, str(cert, "type_name"));
	else
		cs_sb_puts(b, "证照信息 <span class=\"en\" lang=\"en\">"
		    "Licence details</span>");
	cs_sb_puts(b, "</h2>\n");
	if (idx >= 0)
		status_line(b, str(cert, "status"));
	cs_sb_puts(b, "<dl class=\"card\">\n");
	row(b, "证照名称", "Licence", str(cert, "type_name"));
	row(b, "证照编号", "Number", str(cert, "number"));
	row(b, "持证主体", "Holder", str(holder, "name"));
	if (ct != NULL && strcmp(ct, "RID") == 0)
		row(b, "公民身份号码（已隐去部分）", "ID number, partly hidden",
		    str(holder, "code"));
	else if (ct != NULL && strcmp(ct, "USCC") == 0)
		row(b, "统一社会信用代码", "Unified social credit code",
		    str(holder, "code"));
	else
		row(b, "持证主体代码", "Holder code", str(holder, "code"));
	row(b, "颁发机构", "Issuing authority",
	    str(json_object_get(cert, "issuer"), "name"));
	from = str(cert, "valid_from");
	until = str(cert, "valid_until");
	if (from != NULL && from[0] != '\0') {
		if (until != NULL && until[0] != '\0')
			snprintf(buf, sizeof(buf), "%s 至 %s", from, until);
		else
			snprintf(buf, sizeof(buf), "%s 起长期有效 (no expiry)", from);
		row(b, "有效期", "Validity", buf);
	}
	row(b, "颁发时间", "Issued", local_time(str(cert, "issued_at"),
	    o->tz_offset_minutes, buf, sizeof(buf)));
	json_object_foreach((json_t *)fields, key, v) {
		const cs_field *f = type != NULL ? cs_type_field(type, key) : NULL;

		if ((text = scalar_text(v, num, sizeof(num))) != NULL)
			row(b, f != NULL && f->label != NULL ? f->label : key, NULL,
			    text);
	}
	/* The public view carries no reason (docs/design.md, "The public
	 * view"): the page shows when the status changed, not why. */
	if (json_is_object(detail))
		row(b, "状态变更时间", "Status changed", local_time(str(detail, "at"),
		    o->tz_offset_minutes, buf, sizeof(buf)));
	row(b, "证照标识", "Licence identifier", str(cert, "id"));
	cs_sb_puts(b, "</dl>\n</section>\n");
}

static void
offline_help(cs_sbuf *b)
{
	cs_sb_puts(b, "<section aria-labelledby=\"h-offline\">\n"
	    "<h2 id=\"h-offline\">离线核验 <span class=\"en\" lang=\"en\">"
	    "Verify offline</span></h2>\n<div class=\"card\">\n"
	    "<p>二维码里带有颁发机构的数字签名，不联网也能核验真伪：取得本系统的"
	    "信任列表（<a href=\"/api/v1/trust-list\">/api/v1/trust-list</a>"
	    "，存为 trust.json），再运行 <code>certsvc verify --trust-list "
	    "trust.json '二维码文本'</code>。扫码打开本页时，本页的地址就是二维码"
	    "文本。离线只能核验真伪和有效期，暂扣、吊销等状态以联网核验为准。</p>\n"
	    "<p lang=\"en\">The QR code carries the issuing authority's digital "
	    "signature, so it can be checked without a network: save this "
	    "service's trust list (/api/v1/trust-list) as trust.json and run "
	    "<code>certsvc verify --trust-list trust.json 'QR TEXT'</code>. When "
	    "a scan opened this page, its address is the QR text. Offline, only "
	    "genuineness and the validity dates can be checked: suspension and "
	    "revocation show online only.</p>\n</div>\n</section>\n");
}

int
cs_page_result(const json_t *res, const cs_page_opts *o, char **out,
    size_t *len)
{
	const char *result = str(res, "result"), *zh, *en, *reason, *at, *kind;
	const json_t *cert = json_object_get(res, "certificate");
	const json_t *detail = json_object_get(cert, "status_detail");
	const struct verdict *vd = NULL;
	cs_sbuf b = CS_SBUF_INIT;
	char buf[64];
	size_t i;

	*out = NULL;
	*len = 0;
	if (o->source == CS_PAGE_MANUAL)
		vd = VERDICT(manual_verdicts, result);
	if (vd == NULL)
		vd = VERDICT(verdicts, result);
	if (vd == NULL)  /* a result this page does not know: not a pass */
		vd = VERDICT(verdicts, "malformed");
	zh = vd->zh;
	en = vd->en;
	/* A revocation says which of the three it was (SPEC §1). */
	kind = str(detail, "kind");
	for (i = 0; strcmp(vd->result, "revoked") == 0 && kind != NULL &&
	    i < sizeof(revocations) / sizeof(revocations[0]); i++)
		if (strcmp(revocations[i].kind, kind) == 0) {
			zh = revocations[i].zh;
			en = revocations[i].en;
		}

	page_begin(&b, zh, en);
	/* role=status: a screen reader announces the verdict first. */
	cs_sb_printf(&b, "<section class=\"result state-%s tone-%s\" "
	    "role=\"status\" data-result=\"%s\" aria-labelledby=\"verdict\">\n"
	    "<p class=\"mark\" aria-hidden=\"true\">%s</p>\n<h1 id=\"verdict\">",
	    vd->result, vd->tone, vd->result, vd->mark);
	bilingual(&b, zh, en);
	cs_sb_puts(&b, "</h1>\n<p class=\"tone\">");
	for (i = 0; i < sizeof(tones) / sizeof(tones[0]); i++)
		if (strcmp(tones[i].tone, vd->tone) == 0)
			bilingual(&b, tones[i].zh, tones[i].en);
	cs_sb_puts(&b, "</p>\n<p>");
	bilingual(&b, vd->zh_note, vd->en_note);
	cs_sb_puts(&b, "</p>\n");
	if (strcmp(vd->result, "superseded") == 0 &&
	    str(detail, "superseded_by") != NULL) {
		cs_sb_puts(&b, "<p class=\"newer\">新证照标识 <span lang=\"en\">· "
		    "Newer licence</span>:<br><strong class=\"newer-id\">");
		cs_sb_html(&b, str(detail, "superseded_by"));
		cs_sb_puts(&b, "</strong></p>\n");
	}
	/* A peer library's licence (SPEC §11) says whose it is. */
	if (str(res, "library") != NULL) {
		cs_sb_puts(&b, "<p class=\"library\">签发证照库 <span lang=\"en\">· "
		    "Issued by library</span>: <strong class=\"library-name\">");
		cs_sb_html(&b, str(res, "library"));
		cs_sb_puts(&b, "</strong></p>\n");
	}
	cs_sb_puts(&b, "</section>\n");

	if (json_is_object(cert))
		details(&b, cert, o);

	cs_sb_puts(&b, "<p class=\"meta\">");
	if ((at = str(res, "checked_at")) != NULL) {
		cs_sb_puts(&b, "核验时间 <span lang=\"en\">· Checked at</span>: "
		    "<time datetime=\"");
		cs_sb_html(&b, at);
		cs_sb_puts(&b, "\">");
		cs_sb_html(&b, local_time(at, o->tz_offset_minutes, buf,
		    sizeof(buf)));
		cs_sb_puts(&b, "</time>");
	}
	reason = str(res, "reason");
	if (reason != NULL && reason[0] != '\0' && strcmp(vd->tone, "ok") != 0) {
		cs_sb_puts(&b, "<br>详情 <span lang=\"en\">· Detail</span>: ");
		cs_sb_html(&b, reason);
	}
	cs_sb_puts(&b, "</p>\n");
	offline_help(&b);
	return page_end(&b, 1, out, len);
}

/* --- the presentation page (/p/{code}) ------------------------------ */

/* One licence's status in a presentation: its verdict's tone, mark and
 * words, the same as the /v page's heading says them. */
static void
status_line(cs_sbuf *b, const char *status)
{
	const struct verdict *vd = VERDICT(verdicts, status);

	if (vd == NULL)
		vd = VERDICT(verdicts, "malformed");
	cs_sb_printf(b, "<p class=\"status tone-%s\" data-status=\"%s\">"
	    "<span aria-hidden=\"true\">%s</span> ", vd->tone, vd->result,
	    vd->mark);
	bilingual(b, vd->zh, vd->en);
	cs_sb_puts(b, "</p>\n");
}

/* The time left counting down on the presentation page, from the
 * seconds the server wrote into data-seconds-left (the phone's clock may
 * be wrong; only its passing is used).  Without script the page shows the
 * time left when it was opened and still reloads itself at expiry. */
static const char countdown_js[] =
    "(function(){var p=document.querySelector('[data-seconds-left]');"
    "if(!p)return;var end=Date.now()+1e3*p.getAttribute('data-seconds-left');"
    "function tick(){var s=Math.max(0,Math.round((end-Date.now())/1e3)),"
    "m=String(Math.floor(s/60)),r=('0'+s%60).slice(-2),i,e;"
    "e=p.querySelectorAll('.mm');for(i=0;i<e.length;i++)e[i].textContent=m;"
    "e=p.querySelectorAll('.ss');for(i=0;i<e.length;i++)e[i].textContent=r;}"
    "tick();setInterval(tick,1e3);})();";

static char countdown_src[64];
static pthread_once_t countdown_once = PTHREAD_ONCE_INIT;

static void
countdown_hash(void)
{
	unsigned char md[CS_SHA256_LEN];
	char b64[48];

	if (cs_sha256(countdown_js, sizeof(countdown_js) - 1, md) != 0)
		return;  /* no hash: the script is not allowed, the page works */
	EVP_EncodeBlock((unsigned char *)b64, md, (int)sizeof(md));
	snprintf(countdown_src, sizeof(countdown_src), "'sha256-%s'", b64);
}

const char *
cs_page_presentation_script_src(void)
{
	pthread_once(&countdown_once, countdown_hash);
	return countdown_src;
}

/* Whole seconds from checked_at to expires_at (0 when either is bad). */
static long
seconds_left(const json_t *res)
{
	time_t now, until;

	if (cs_rfc3339_parse(str(res, "checked_at"), &now) != 0 ||
	    cs_rfc3339_parse(str(res, "expires_at"), &until) != 0 || until < now)
		return 0;
	return (long)(until - now);
}

/* The plain page of a code that shows nothing: expired or unknown. */
static int
presentation_gone(const json_t *res, char **out, size_t *len)
{
	int expired = strcmp(str(res, "result"), "presentation_expired") == 0;
	cs_sbuf b = CS_SBUF_INIT;

	page_begin(&b, expired ? "亮证码已过期" : "无效的亮证码", expired ?
	    "Code expired" : "Unknown code");
	cs_sb_printf(&b, "<section class=\"result state-%s tone-%s\" "
	    "role=\"status\" data-result=\"%s\" aria-labelledby=\"verdict\">\n"
	    "<p class=\"mark\" aria-hidden=\"true\">%s</p>\n<h1 id=\"verdict\">",
	    expired ? "presentation_expired" : "not_found", expired ? "warn" :
	    "bad", expired ? "presentation_expired" : "not_found", expired ?
	    "!" : "✗");
	if (expired)
		bilingual(&b, "亮证码已过期", "This code has expired");
	else
		bilingual(&b, "无效的亮证码", "Not a valid code");
	cs_sb_puts(&b, "</h1>\n<p>");
	bilingual(&b, "请持证人在手机上重新出示亮证码。",
	    "Ask the holder to show a new code on their phone.");
	cs_sb_puts(&b, "</p>\n</section>\n");
	return page_end(&b, 0, out, len);
}

int
cs_page_presentation(const json_t *res, const cs_page_opts *o, char **out,
    size_t *len)
{
	const json_t *certs = json_object_get(res, "certificates"), *c;
	cs_sbuf b = CS_SBUF_INIT;
	char buf[64];
	long left;
	size_t i;

	*out = NULL;
	*len = 0;
	if (str(res, "result") == NULL ||
	    strcmp(str(res, "result"), "presentation") != 0)
		return presentation_gone(res, out, len);
	left = seconds_left(res);
	/* The page reloads itself the second the code expires, and then
	 * says so instead of showing the licences; its one script only
	 * counts the time left down. */
	page_begin_refresh(&b, "亮证", "Licences shown", left + 1);
	cs_sb_puts(&b, "<section class=\"result state-presentation tone-ok\" "
	    "role=\"status\" data-result=\"presentation\" "
	    "aria-labelledby=\"verdict\">\n<h1 id=\"verdict\">");
	bilingual(&b, "持证人亮证", "Licences shown by their holder");
	cs_sb_printf(&b, "</h1>\n<p class=\"left\" data-seconds-left=\"%ld\">"
	    "剩余 <span class=\"mm\">%ld</span> 分 <span class=\"ss\">%02ld"
	    "</span> 秒 <span class=\"en\" lang=\"en\"><span class=\"mm\">%ld"
	    "</span> min <span class=\"ss\">%02ld</span> s left</span>", left,
	    left / 60, left % 60, left / 60, left % 60);
	cs_sb_puts(&b, "<br>有效至 <span lang=\"en\">· until</span> <time "
	    "datetime=\"");
	cs_sb_html(&b, str(res, "expires_at"));
	cs_sb_puts(&b, "\">");
	cs_sb_html(&b, local_time(str(res, "expires_at"), o->tz_offset_minutes,
	    buf, sizeof(buf)));
	cs_sb_puts(&b, "</time></p>\n<p>");
	bilingual(&b, "以下是持证人出示的证照及其当前状态。请逐张核对状态。",
	    "These are the licences the holder shows, each with its status "
	    "now. Check the status of each.");
	cs_sb_puts(&b, "</p>\n</section>\n");
	if (json_array_size(certs) == 0) {
		cs_sb_puts(&b, "<p class=\"notice\">");
		bilingual(&b, "没有可出示的证照。", "No licence to show.");
		cs_sb_puts(&b, "</p>\n");
	}
	json_array_foreach(certs, i, c)
		details_n(&b, c, o, (int)i);
	cs_sb_puts(&b, "<script>");
	cs_sb_puts(&b, countdown_js);
	cs_sb_puts(&b, "</script>\n");
	return page_end(&b, 0, out, len);
}

int
cs_page_forms(const char *notice, char **out, size_t *len)
{
	cs_sbuf b = CS_SBUF_INIT;

	*out = NULL;
	*len = 0;
	page_begin(&b, "核验", "Check");
	cs_sb_puts(&b, "<h1>电子证照核验 <span class=\"en\" lang=\"en\">"
	    "E-licence check</span></h1>\n");
	if (notice != NULL && notice[0] != '\0') {
		cs_sb_puts(&b, "<p class=\"notice\" role=\"alert\">");
		cs_sb_html(&b, notice);
		cs_sb_puts(&b, "</p>\n");
	}
	cs_sb_puts(&b, "<p>用手机相机扫描证照上的二维码即可核验。<span class=\"en\" "
	    "lang=\"en\">Scan the licence's QR code with a phone camera to check "
	    "it.</span></p>\n"
	    "<section aria-labelledby=\"h-paste\">\n<h2 id=\"h-paste\">粘贴二维码"
	    "文本 <span class=\"en\" lang=\"en\">Paste the QR code's text</span>"
	    "</h2>\n<form class=\"card\" method=\"post\" action=\"/v\">\n"
	    "<label for=\"qr\">扫码枪读出的文本（EL1: 开头或网址）<span class=\"en\" "
	    "lang=\"en\">Text read by a scanner (starting EL1: or an address)"
	    "</span></label>\n<textarea id=\"qr\" name=\"qr\" required "
	    "maxlength=\"4000\" autocomplete=\"off\" autocapitalize=\"off\" "
	    "spellcheck=\"false\"></textarea>\n"
	    "<button type=\"submit\">核验 · Check</button>\n</form>\n</section>\n"
	    "<section aria-labelledby=\"h-paper\">\n<h2 id=\"h-paper\">核验纸质"
	    "证照 <span class=\"en\" lang=\"en\">Check a paper copy</span></h2>\n"
	    "<form class=\"card\" method=\"post\" action=\"/v\">\n"
	    "<p>二维码无法读取时，填写证照上的编号（或证照标识）和持证主体代码。"
	    "<span class=\"en\" lang=\"en\">When the QR code cannot be read, type "
	    "the licence number (or identifier) and the holder's code.</span></p>\n"
	    "<label for=\"licence\">证照编号或证照标识 <span class=\"en\" "
	    "lang=\"en\">Licence number or identifier</span></label>\n"
	    "<input id=\"licence\" name=\"licence\" required maxlength=\"200\" "
	    "autocomplete=\"off\" spellcheck=\"false\">\n"
	    "<label for=\"holder_code\">持证主体代码：统一社会信用代码或公民身份号码"
	    " <span class=\"en\" lang=\"en\">Holder code: unified social credit "
	    "code or resident ID number</span></label>\n"
	    "<input id=\"holder_code\" name=\"holder_code\" required "
	    "maxlength=\"24\" autocomplete=\"off\" autocapitalize=\"characters\" "
	    "spellcheck=\"false\">\n"
	    "<button type=\"submit\">核验 · Check</button>\n</form>\n</section>\n");
	return page_end(&b, 0, out, len);
}

/* s without the spaces (ASCII and U+3000 ideographic) at both ends, or
 * everywhere when all; malloc'd. */
static char *
despace(const char *s, int all)
{
	char *out = malloc(strlen(s) + 1), *w = out, *last = out;

	if (out == NULL)
		return NULL;
	while (*s == ' ' || *s == '\t' || strncmp(s, "\u3000", 3) == 0)
		s += *s == ' ' || *s == '\t' ? 1 : 3;
	while (*s != '\0') {
		if (*s == ' ' || *s == '\t' || strncmp(s, "\u3000", 3) == 0) {
			size_t n = *s == ' ' || *s == '\t' ? 1 : 3;

			if (!all) {
				memcpy(w, s, n);
				w += n;
			}
			s += n;
			continue;
		}
		*w++ = *s++;
		last = w;
	}
	*last = '\0';
	return out;
}

json_t *
cs_page_manual_request(const char *licence, const char *holder_code)
{
	json_t *req = json_object();
	char *l = NULL, *c = NULL;
	int rc = 0;

	if (req == NULL)
		return NULL;
	if (licence != NULL) {
		if ((l = despace(licence, 0)) == NULL)
			goto fail;
		if (l[0] != '\0')
			rc |= json_object_set_new(req, strncmp(l, ID_ROOT,
			    strlen(ID_ROOT)) == 0 ? "id" : "number", json_string(l));
	}
	if (holder_code != NULL) {
		if ((c = despace(holder_code, 1)) == NULL)
			goto fail;
		if (c[0] != '\0')
			rc |= json_object_set_new(req, "holder_code", json_string(c));
	}
	if (rc != 0)
		goto fail;
	free(l);
	free(c);
	return req;
fail:
	free(l);
	free(c);
	json_decref(req);
	return NULL;
}
