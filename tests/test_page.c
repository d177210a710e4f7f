/*
 * test_page: the verification page's HTML (certsvc/domain/render/page.c, SPEC §5 /v).
 *
 * Every result shows in its state (class, data-result, words, mark, tone);
 * every value from a licence or a request is escaped, in text and in the
 * one attribute a value goes into; the page loads nothing from anywhere and
 * stays under its 30 KiB budget for the largest licence the shipped catalog
 * allows; the paper-copy form's inputs become the right verify request.
 * The browser test (tests/browser_test.py) checks the same pages rendered.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "check.h"
#include "cs_err.h"
#include "page.h"

#define EVIL "<script>alert(1)</script>&\"'"
#define EVIL_HTML "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"

static json_t *
cert(const char *holder_name, const char *code_type, const char *code)
{
	return json_pack("{ss ss ss ss s{ss ss ss} s{ss ss} ss ss ss s{ss} ss}",
	    "id", "1.2.156.3005.2.11100000000013338W032.11440000006939756B."
	    "00000001.001.7",
	    "type", "11100000000013338W032", "type_name", "辐射安全许可证",
	    "number", "粤环辐证[00123]",
	    "holder", "name", holder_name, "code_type", code_type, "code", code,
	    "issuer", "name", "广东省生态环境厅", "code", "11440000006939756B",
	    "issued_at", "2026-11-24T08:00:00Z", "valid_from", "2026-11-24",
	    "valid_until", "2031-11-23", "fields", "licence_scope", "使用Ⅱ类射线装置",
	    "status", "valid");
}

static json_t *
result(const char *res, const char *reason, json_t *c)
{
	return json_pack("{ss ss ss so}", "result", res, "reason", reason,
	    "checked_at", "2026-11-24T08:00:05Z", "certificate",
	    c ? c : json_null());
}

/* The page of a result, or NULL (a failed check). */
static char *
page(const json_t *res, enum cs_page_source src)
{
	cs_page_opts o = {NULL, 480, src};
	char *html = NULL;
	size_t len = 0;
	int rc = cs_page_result(res, &o, &html, &len);

	CHECK_INT_EQ(rc, 0);
	if (html != NULL)
		CHECK_INT_EQ(strlen(html), len);
	return html;
}

/* Nothing that loads or runs: no script, no external reference, no
 * resource element; the language and the phone viewport declared. */
static void
check_self_contained(const char *html)
{
	CHECK(strstr(html, "<script") == NULL);
	CHECK(strstr(html, "http://") == NULL);
	CHECK(strstr(html, "https://") == NULL);
	CHECK(strstr(html, "src=") == NULL);
	CHECK(strstr(html, "<link") == NULL);
	CHECK(strstr(html, "@import") == NULL);
	CHECK(strstr(html, "url(") == NULL);
	CHECK(strstr(html, "href=\"//") == NULL);
	CHECK(strncmp(html, "<!DOCTYPE html>\n<html lang=\"zh-CN\">", 35) == 0);
	CHECK_CONTAINS(html, "name=\"viewport\" content=\"width=device-width");
	CHECK(strlen(html) < CS_PAGE_MAX_BYTES);
}

TEST(states)
{
	static const struct {
		const char *result, *tone, *zh, *en, *mark;
	} want[] = {
		{"valid", "ok", "有效", "Valid", "✓"},
		{"not_yet_valid", "warn", "尚未生效", "Not yet valid", "!"},
		{"expired", "warn", "已过期", "Expired", "!"},
		{"suspended", "warn", "已暂扣", "Suspended", "!"},
		{"superseded", "warn", "已被新证照取代", "Superseded", "!"},
		{"revoked", "bad", "已失效", "No longer in force", "✗"},
		{"invalid_signature", "bad", "签名无效", "Invalid signature", "✗"},
		{"unknown_key", "bad", "签发密钥未知", "Unknown signing key", "✗"},
		{"malformed", "bad", "无法识别", "Not readable", "✗"},
		{"not_found", "bad", "证照库中无此证照", "Not in the registry", "✗"},
	};
	char cls[200], h1[200], mark[64];
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int genuine = strcmp(want[i].tone, "bad") != 0 ||
		    strcmp(want[i].result, "revoked") == 0;
		json_t *res = result(want[i].result, "why",
		    genuine ? cert("某公司", "USCC", "91440300708461136T") : NULL);
		char *html = page(res, CS_PAGE_QR);

		if (html == NULL)
			continue;
		snprintf(cls, sizeof(cls), "class=\"result state-%s tone-%s\" "
		    "role=\"status\" data-result=\"%s\"", want[i].result,
		    want[i].tone, want[i].result);
		CHECK_CONTAINS(html, cls);
		snprintf(h1, sizeof(h1), "<h1 id=\"verdict\">%s <span class=\"en\" "
		    "lang=\"en\">%s</span></h1>", want[i].zh, want[i].en);
		CHECK_CONTAINS(html, h1);
		snprintf(mark, sizeof(mark), "aria-hidden=\"true\">%s</p>",
		    want[i].mark);
		CHECK_CONTAINS(html, mark);
		CHECK_STR_EQ(cs_page_tone(want[i].result), want[i].tone);
		/* The tone in words, not only in colour. */
		CHECK_CONTAINS(html, strcmp(want[i].tone, "ok") == 0 ? "可以采信" :
		    strcmp(want[i].tone, "warn") == 0 ? "当前不在有效状态" :
		    "不可采信");
		/* The why of a failure is shown; a pass needs none. */
		CHECK((strstr(html, "Detail</span>: why") != NULL) ==
		    (strcmp(want[i].tone, "ok") != 0));
		CHECK_CONTAINS(html, "核验时间");
		CHECK_CONTAINS(html, "<time datetime=\"2026-11-24T08:00:05Z\">"
		    "2026-11-24 16:00:05 (UTC+08:00)</time>");
		CHECK_CONTAINS(html, "<h2 id=\"h-offline\">离线核验");
		CHECK_CONTAINS(html, "certsvc verify --trust-list");
		CHECK((strstr(html, "<h2 id=\"h-details\">") != NULL) == genuine);
		check_self_contained(html);
		free(html);
		json_decref(res);
	}
	/* A result the page does not know is not shown as a pass, and its
	 * name is not echoed. */
	{
		json_t *res = result("<b>", "?", NULL);
		char *html = page(res, CS_PAGE_QR);

		CHECK(html != NULL && strstr(html, "data-result=\"malformed\"") != NULL);
		CHECK(html != NULL && strstr(html, "<b>") == NULL);
		CHECK_STR_EQ(cs_page_tone("anything"), "bad");
		free(html);
		json_decref(res);
	}
}

TEST(details)
{
	json_t *c = cert("刘洋", "RID", "110105********002X"), *res;
	char *html;

	res = result("valid", "genuine", c);
	if ((html = page(res, CS_PAGE_QR)) == NULL)
		goto out;
	CHECK_CONTAINS(html, "<dd>辐射安全许可证</dd>");
	CHECK_CONTAINS(html, "<dd>粤环辐证[00123]</dd>");
	CHECK_CONTAINS(html, "<dd>刘洋</dd>");
	CHECK_CONTAINS(html, "公民身份号码（已隐去部分）");
	CHECK_CONTAINS(html, "<dd>110105********002X</dd>");
	CHECK_CONTAINS(html, "<dd>广东省生态环境厅</dd>");
	CHECK_CONTAINS(html, "<dd>2026-11-24 至 2031-11-23</dd>");
	CHECK_CONTAINS(html, "<dd>2026-11-24 16:00:00 (UTC+08:00)</dd>");
	/* No catalog given: the field's name stands for its label. */
	CHECK_CONTAINS(html, "<dt>licence_scope</dt><dd>使用Ⅱ类射线装置</dd>");
	CHECK_CONTAINS(html, "<dd>1.2.156.3005.2.11100000000013338W032.");
	/* English beside the Chinese, marked as English. */
	CHECK_CONTAINS(html, "持证主体 <span class=\"en\" lang=\"en\">Holder</span>");
	free(html);
	json_decref(res);

	/* An organisation's code is its USCC; no end date is "long-term". */
	c = cert("某公司", "USCC", "91440300708461136T");
	json_object_set_new(c, "valid_until", json_null());
	res = result("valid", "genuine", c);
	if ((html = page(res, CS_PAGE_QR)) == NULL)
		goto out;
	CHECK_CONTAINS(html, "统一社会信用代码");
	CHECK_CONTAINS(html, "<dd>2026-11-24 起长期有效 (no expiry)</dd>");
	free(html);
out:
	json_decref(res);
}

TEST(revoked_kinds_and_superseded)
{
	static const char *const kinds[][3] = {
		{"revoked", "已吊销", "Revoked"},
		{"withdrawn", "已撤销", "Withdrawn"},
		{"cancelled", "已注销", "Cancelled"},
	};
	char h1[160];
	json_t *c, *res;
	char *html;
	size_t i;

	for (i = 0; i < 3; i++) {
		c = cert("某公司", "USCC", "91440300708461136T");
		json_object_set_new(c, "status_detail", json_pack("{ss ss ss ss}",
		    "action", "revoke", "at", "2026-12-01T02:00:00Z", "kind",
		    kinds[i][0], "reason", "违规使用"));
		res = result("revoked", "genuine, revoked", c);
		if ((html = page(res, CS_PAGE_QR)) != NULL) {
			snprintf(h1, sizeof(h1), ">%s <span class=\"en\" lang=\"en\">%s"
			    "</span></h1>", kinds[i][1], kinds[i][2]);
			CHECK_CONTAINS(html, h1);
			CHECK_CONTAINS(html, "tone-bad");
			/* The reason is not public (issue 13, item 14). */
			CHECK(strstr(html, "违规使用") == NULL);
			CHECK_CONTAINS(html, "<dd>2026-12-01 10:00:00 (UTC+08:00)</dd>");
		}
		free(html);
		json_decref(res);
	}

	c = cert("某公司", "USCC", "91440300708461136T");
	json_object_set_new(c, "status_detail", json_pack("{ss ss ss}", "action",
	    "supersede", "at", "2026-12-01T02:00:00Z", "superseded_by",
	    "1.2.156.3005.2.11100000000013338W032.11440000006939756B.00000001.002.X"));
	res = result("superseded", "genuine, replaced", c);
	if ((html = page(res, CS_PAGE_QR)) != NULL) {
		CHECK_CONTAINS(html, "tone-warn");
		CHECK_CONTAINS(html, "<strong class=\"newer-id\">1.2.156.3005.2."
		    "11100000000013338W032.11440000006939756B.00000001.002.X</strong>");
	}
	free(html);
	json_decref(res);
}

TEST(escaping)
{
	json_t *c = cert(EVIL, "USCC", EVIL), *res;
	char *html, *forms = NULL;
	size_t len;

	json_object_set_new(c, "number", json_string(EVIL));
	json_object_set_new(c, "fields", json_pack("{ss si}", EVIL, EVIL, "n", 7));
	json_object_set_new(json_object_get(c, "issuer"), "name", json_string(EVIL));
	json_object_set_new(c, "status_detail", json_pack("{ss ss ss ss}",
	    "action", "supersede", "at", EVIL, "reason", EVIL, "superseded_by",
	    EVIL));
	res = json_pack("{ss ss ss so}", "result", "superseded", "reason", EVIL,
	    "checked_at", "\"><script>x</script>", "certificate", c);
	if ((html = page(res, CS_PAGE_QR)) != NULL) {
		CHECK(strstr(html, "<script") == NULL);
		CHECK(strstr(html, "alert(1)</") == NULL);
		CHECK_CONTAINS(html, "<dd>" EVIL_HTML "</dd>");
		CHECK_CONTAINS(html, "<dt>" EVIL_HTML "</dt>");
		CHECK_CONTAINS(html, "<dd>7</dd>");
		CHECK_CONTAINS(html, "class=\"newer-id\">" EVIL_HTML "</strong>");
		CHECK_CONTAINS(html, "Detail</span>: " EVIL_HTML);
		/* The attribute value cannot be closed from inside. */
		CHECK_CONTAINS(html, "<time datetime=\"&quot;&gt;&lt;script&gt;");
	}
	free(html);
	json_decref(res);

	CHECK_INT_EQ(cs_page_forms(EVIL, &forms, &len), 0);
	if (forms != NULL) {
		CHECK(strstr(forms, "<script") == NULL);
		CHECK_CONTAINS(forms, "role=\"alert\">" EVIL_HTML "</p>");
	}
	free(forms);
}

TEST(manual_source)
{
	json_t *res = result("not_found", "no licence with these details", NULL);
	char *html = page(res, CS_PAGE_MANUAL);

	if (html != NULL) {
		CHECK_CONTAINS(html, "未找到相符的证照");
		CHECK_CONTAINS(html, "No matching licence");
		CHECK_CONTAINS(html, "data-result=\"not_found\"");
		CHECK_CONTAINS(html, "tone-bad");
		CHECK(strstr(html, "签名有效") == NULL);
	}
	free(html);
	json_decref(res);

	res = result("valid", "genuine", cert("某公司", "USCC",
	    "91440300708461136T"));
	if ((html = page(res, CS_PAGE_MANUAL)) != NULL) {
		CHECK_CONTAINS(html, "与所填编号和持证主体代码相符");
		CHECK_CONTAINS(html, "tone-ok");
	}
	free(html);
	json_decref(res);

	/* States without a paper-copy wording keep the QR one. */
	res = result("suspended", "genuine, suspended", cert("某公司", "USCC",
	    "91440300708461136T"));
	if ((html = page(res, CS_PAGE_MANUAL)) != NULL)
		CHECK_CONTAINS(html, "已暂扣");
	free(html);
	json_decref(res);
}

TEST(forms)
{
	char *html = NULL;
	size_t len = 0;

	CHECK_INT_EQ(cs_page_forms(NULL, &html, &len), 0);
	if (html == NULL)
		return;
	check_self_contained(html);
	CHECK(strstr(html, "class=\"notice\"") == NULL);
	CHECK_CONTAINS(html, "<form class=\"card\" method=\"post\" action=\"/v\">");
	CHECK_CONTAINS(html, "<textarea id=\"qr\" name=\"qr\"");
	CHECK_CONTAINS(html, "<label for=\"qr\">");
	CHECK_CONTAINS(html, "<input id=\"licence\" name=\"licence\"");
	CHECK_CONTAINS(html, "<label for=\"licence\">");
	CHECK_CONTAINS(html, "<input id=\"holder_code\" name=\"holder_code\"");
	CHECK_CONTAINS(html, "<label for=\"holder_code\">");
	CHECK_CONTAINS(html, "<h1>电子证照核验");
	free(html);
}

static void
check_manual(const char *licence, const char *code, const char *want_json)
{
	json_t *req = cs_page_manual_request(licence, code);
	char *got = req ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	CHECK_STR_EQ(got, want_json);
	free(got);
	json_decref(req);
}

TEST(manual_request)
{
	check_manual("粤环辐证[00123]", "91440300708461136T",
	    "{\"holder_code\":\"91440300708461136T\",\"number\":\"粤环辐证[00123]\"}");
	check_manual(" 1.2.156.3005.2.11100000000013338W032.11220000013544541J."
	    "2430599.001.F\t", "9144 0300 7084 6113 6T",
	    "{\"holder_code\":\"91440300708461136T\",\"id\":\"1.2.156.3005.2."
	    "11100000000013338W032.11220000013544541J.2430599.001.F\"}");
	/* Spaces inside a number are kept; U+3000 around it is not. */
	check_manual("\u3000环评 批复 12\u3000", "\u3000110105 19491231 002x ",
	    "{\"holder_code\":\"11010519491231002x\",\"number\":\"环评 批复 12\"}");
	/* Missing and empty inputs are absent members: the verifier names
	 * what is missing. */
	check_manual(NULL, "91440300708461136T",
	    "{\"holder_code\":\"91440300708461136T\"}");
	check_manual("   ", NULL, "{}");
	check_manual("1.2.156.3005.2", "", "{\"number\":\"1.2.156.3005.2\"}");
}

/* The largest page the shipped catalog allows: every field that goes into
 * the public view at its longest, in three-byte characters. */
TEST(size_budget)
{
	cs_catalog *cat = NULL;
	char path[1024], *html;
	size_t t, f, k;

	snprintf(path, sizeof(path), "%s/templates", CS_SOURCE_DIR);
	if (cs_catalog_load(path, &cat) != 0) {
		fprintf(stderr, "size_budget: no catalog (%s): %s\n", path,
		    cs_err_msg());
		CHECK(0);
		return;
	}
	for (t = 0; t < cat->n; t++) {
		const cs_type *ty = &cat->types[t];
		json_t *c = cert("", "USCC", "91440300708461136T"), *fields, *res;
		cs_page_opts o = {cat, 480, CS_PAGE_QR};
		char name[3 * 200 + 1] = "";
		size_t len = 0;

		for (k = 0; k < 200; k++)  /* a long organisation name */
			strcat(name, "辐");
		json_object_set_new(json_object_get(c, "holder"), "name",
		    json_string(name));
		json_object_set_new(c, "type", json_string(ty->code));
		fields = json_object();
		for (f = 0; f < ty->n_fields; f++) {
			const cs_field *fd = &ty->fields[f];
			long n = fd->max_length > 0 ? fd->max_length : 200;
			char *v;

			if (!fd->in_qr)
				continue;
			if ((v = malloc((size_t)n * 3 + 1)) == NULL)
				break;
			v[0] = '\0';
			for (k = 0; k < (size_t)n; k++)
				strcat(v, "辐");
			json_object_set_new(fields, fd->name, json_string(v));
			free(v);
		}
		json_object_set_new(c, "fields", fields);
		res = result("valid", "genuine", c);
		html = NULL;
		CHECK_INT_EQ(cs_page_result(res, &o, &html, &len), 0);
		if (len >= CS_PAGE_MAX_BYTES)
			fprintf(stderr, "size_budget: %s: %zu bytes\n", ty->code, len);
		CHECK(html != NULL && len < CS_PAGE_MAX_BYTES);
		/* With the catalog, a field shows under its label. */
		for (f = 0; html != NULL && f < ty->n_fields; f++)
			if (ty->fields[f].in_qr) {
				char dt[300];

				snprintf(dt, sizeof(dt), "<dt>%s</dt>",
				    ty->fields[f].label);
				CHECK_CONTAINS(html, dt);
			}
		free(html);
		json_decref(res);
	}
	cs_catalog_free(cat);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(states);
	RUN(details);
	RUN(revoked_kinds_and_superseded);
	RUN(escaping);
	RUN(manual_source);
	RUN(forms);
	RUN(manual_request);
	RUN(size_budget);
	return check_summary();
}
