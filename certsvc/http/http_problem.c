/*
 * http_problem.c: error codes and problem lists turned into RFC 9457
 * responses, in one place.  The mapping: http_problem.h.
 */
#include "http_problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_err.h"
#include "http_internal.h"
#include "log.h"

/* The Retry-After of a 503 for a full disk or a lagging read audit writer.
 * Space comes back by an operator's hand, and the audit writer tries again
 * every 200 ms: a caller asking sooner would mostly be refused again. */
#define UNAVAILABLE_RETRY_MS 5000

/*
 * The error catalogue: every problem "type" certsvc answers, one row per
 * cause (docs/problems.md is its documentation, docs/openapi.json's
 * Problem.type its enum; tests/problems_test.py holds the three together).
 * Rows with CS_CAUSE_NONE are each status's type when nothing finer is
 * known.  zh: the Chinese title, and the detail a Chinese reader gets
 * instead of the English one (which then travels as "detail_en").
 */
static const struct kind {
	int cause, status;
	const char *slug, *title, *title_zh, *detail_zh;
} kinds[] = {
	{0, 400, "bad-request", "Bad Request", "请求有误", "请求格式有误"},
	{0, 401, "unauthorized", "Unauthorized", "未认证",
	    "缺少有效的访问令牌"},
	{0, 403, "forbidden", "Forbidden", "无权操作", "当前客户端无权执行此操作"},
	{0, 404, "not-found", "Not Found", "未找到", "请求的资源不存在"},
	{0, 405, "method-not-allowed", "Method Not Allowed", "方法不允许",
	    "该地址不支持此请求方法"},
	{0, 409, "conflict", "Conflict", "冲突", "请求与现有数据冲突"},
	{0, 413, "content-too-large", "Content Too Large", "请求体过大",
	    "请求体超过大小限制"},
	{0, 415, "unsupported-media-type", "Unsupported Media Type",
	    "内容类型不支持", "请求体的内容类型不被接受"},
	{0, 422, "validation-failed", "Unprocessable Content", "校验未通过",
	    "请求内容未通过校验，详见 errors"},
	{0, 429, "rate-limited", "Too Many Requests", "请求过于频繁",
	    "请求过于频繁，请稍后重试"},
	{0, 500, "internal-error", "Internal Server Error", "内部错误",
	    "服务内部错误，请提供 request_id 联系管理员"},
	{0, 503, "unavailable", "Service Unavailable", "服务暂不可用",
	    "服务暂不可用，请稍后重试"},
	{CS_CAUSE_APPROVAL_REF_CONFLICT, 409, "approval-ref-conflict",
	    "approval_ref already used with other content", "审批编号已被使用",
	    "该审批编号已用于内容不同的证照"},
	{CS_CAUSE_ILLEGAL_TRANSITION, 409, "illegal-transition",
	    "The licence's state does not allow this change", "状态不允许此操作",
	    "证照当前状态不允许此状态变更"},
	{CS_CAUSE_GRANT_MISSING, 403, "grant-missing",
	    "No grant for this licence type", "缺少授权",
	    "当前客户端没有该证照类型的授权"},
	{CS_CAUSE_NOT_ISSUER, 403, "not-issuer",
	    "Only the licence's issuer may do this", "非发证客户端",
	    "只有签发该证照的客户端可以执行此操作"},
	{CS_CAUSE_ROLE_FORBIDDEN, 403, "role-forbidden",
	    "The client's role does not allow this", "角色不允许",
	    "当前客户端的角色不允许此操作"},
	{CS_CAUSE_INVALID_CODE, 400, "invalid-code",
	    "The holder code fails its check", "持证主体代码无效",
	    "持证主体代码未通过校验"},
	{CS_CAUSE_PURPOSE_REQUIRED, 400, "purpose-required",
	    "X-Purpose is required", "缺少申请事由",
	    "查询持证主体的证照须在 X-Purpose 中说明申请事由"},
	{CS_CAUSE_UNKNOWN_PARAMETER, 400, "unknown-parameter",
	    "Unknown query parameter", "未知查询参数", "该接口不接受此查询参数"},
	{CS_CAUSE_INVALID_PARAMETER, 400, "invalid-parameter",
	    "Invalid query parameter or header", "参数无效",
	    "查询参数或请求头的取值无效"},
	{CS_CAUSE_MALFORMED_JSON, 400, "malformed-json",
	    "The body is not the JSON expected", "JSON 格式错误",
	    "请求体不是所需的 JSON"},
	{CS_CAUSE_INVALID_TOKEN, 401, "invalid-token",
	    "The bearer token is not valid", "访问令牌无效", "访问令牌无效或已吊销"},
};

/* The Chinese message of each field error code (problems.h). */
static const struct {
	const char *code, *zh;
} field_zh[] = {
	{CS_FC_REQUIRED, "必填"},
	{CS_FC_TYPE, "数据类型不正确"},
	{CS_FC_UNKNOWN_MEMBER, "不是可接受的成员"},
	{CS_FC_UNKNOWN_PARAMETER, "不是该接口的查询参数"},
	{CS_FC_EMPTY, "不能为空"},
	{CS_FC_MAX_LENGTH, "超过最大长度"},
	{CS_FC_MIN_LENGTH, "短于最小长度"},
	{CS_FC_LENGTH, "长度不正确"},
	{CS_FC_PATTERN, "不符合规定格式"},
	{CS_FC_ENUM, "不是允许的取值之一"},
	{CS_FC_DATE, "不是有效日期（YYYY-MM-DD）"},
	{CS_FC_RANGE, "超出允许范围"},
	{CS_FC_CHARSET, "含有不允许的字符"},
	{CS_FC_CHECK_CHARACTER, "校验位错误"},
	{CS_FC_DUPLICATE, "与已有证照重复"},
	{CS_FC_INVALID, "取值无效"},
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static const struct kind *
kind_of(int cause, int status)
{
	const struct kind *dflt = NULL;
	size_t i;

	for (i = 0; i < NKINDS; i++) {
		/* A cause only names the problem when its status is the one
		 * answered: a stale cause of an earlier error cannot relabel
		 * an unrelated answer. */
		if (kinds[i].status != status)
			continue;
		if (cause != 0 && kinds[i].cause == cause)
			return &kinds[i];
		if (kinds[i].cause == 0)
			dflt = &kinds[i];
	}
	return dflt;
}

static const char *
field_zh_of(const char *code)
{
	size_t i;

	for (i = 0; code != NULL && i < sizeof(field_zh) / sizeof(field_zh[0]); i++)
		if (strcmp(field_zh[i].code, code) == 0)
			return field_zh[i].zh;
	return field_zh[sizeof(field_zh) / sizeof(field_zh[0]) - 1].zh;
}

/*
 * Whether the caller prefers Chinese: the Accept-Language range of highest
 * q (the first of equal ones) is zh or zh-*.  English stays the default, as
 * SPEC §5 answered before there was a choice.
 */
static int
wants_zh(cs_req *r)
{
	const char *h = cs_req_header(r, "Accept-Language"), *s;
	double best = 0;
	int zh = 0;

	for (s = h; s != NULL && *s != '\0';) {
		const char *tag, *semi, *end = strchr(s, ',');
		size_t len;
		double q = 1;

		if (end == NULL)
			end = s + strlen(s);
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		tag = s;
		for (len = 0; tag + len < end && tag[len] != ';' &&
		    tag[len] != ' '; len++)
			;
		semi = memchr(tag, ';', (size_t)(end - tag));
		if (semi != NULL && (s = strstr(semi, "q=")) != NULL && s < end)
			q = strtod(s + 2, NULL);
		if (q > best) {
			best = q;
			zh = (len == 2 || (len > 2 && tag[2] == '-')) &&
			    strncasecmp(tag, "zh", 2) == 0;
		}
		s = *end ? end + 1 : end;
	}
	return zh;
}

int
cs_http_status_of(int code)
{
	switch (code) {
	case CS_OK:
		return 200;
	case CS_EINVAL:
	case CS_EUNSUPPORTED:
	case CS_ESIGNATURE:
	case CS_EUNKNOWNKEY:
		return 400;
	case CS_EAUTH:
		return 401;
	case CS_EFORBIDDEN:
	case CS_EPERM:
		return 403;
	case CS_ENOTFOUND:
		return 404;
	case CS_ECONFLICT:
		return 409;
	case CS_ETOOBIG:
		return 413;
	case CS_EVALIDATION:
		return 422;
	case CS_EFULL:
	case CS_EUNAVAIL:
		/* The client did nothing wrong, and the same request may
		 * succeed later (once space returns, once the read audit
		 * writer catches up). */
		return 503;
	default:
		/* CS_ENOMEM, CS_EIO, CS_ECRYPTO, CS_ESTORE and codes this
		 * table does not know: the client did nothing wrong. */
		return 500;
	}
}

/* The errors member: [{"field", "code", "message"}], with zh the Chinese
 * message of each code, with the English one's figures
 * (cs_http_problem_zh), and the English one as "message_en". */
static json_t *
errors_json(const cs_problems *errors, int zh)
{
	json_t *errs = json_array();
	size_t i;

	for (i = 0; errs != NULL && i < errors->n; i++) {
		const cs_problem *e = &errors->items[i];
		char msg_zh[512];
		json_t *o;

		if (zh)
			cs_http_problem_zh(e->code, field_zh_of(e->code),
			    e->message, msg_zh, sizeof(msg_zh));
		o = json_pack("{s:s? s:s s:s?}", "field", e->field,
		    "code", e->code ? e->code : CS_FC_INVALID, "message",
		    zh ? msg_zh : e->message);

		if (o != NULL && zh)
			json_object_set_new(o, "message_en",
			    json_string(e->message));
		if (o != NULL)
			json_array_append_new(errs, o);
	}
	return errs;
}

void
cs_http_problem_cause(cs_req *r, int cause, int status, const char *detail,
    const cs_problems *errors)
{
	const struct kind *k = kind_of(cause, status);
	const char *title = k ? k->title : "Error";
	int zh = k != NULL && wants_zh(r);
	char type[512];
	json_t *p = NULL;

	if (k != NULL)
		snprintf(type, sizeof(type), "%s%s",
		    cs_service_config(r->srv->svc)->problem_base, k->slug);
	else
		snprintf(type, sizeof(type), "about:blank");
	p = json_pack("{ss ss si ss}", "type", type, "title",
	    zh ? k->title_zh : title, "status", status, "request_id",
	    r->request_id);
	/* json_string() refuses invalid UTF-8: a detail quoting a client's
	 * bytes must not make the whole answer fail. */
	if (p != NULL && detail != NULL && detail[0] != '\0') {
		if (zh)
			json_object_set_new(p, "detail", json_string(k->detail_zh));
		if (json_object_set_new(p, zh ? "detail_en" : "detail",
		    json_string(detail)) != 0)
			json_object_set_new(p, zh ? "detail_en" : "detail",
			    json_string(title));
	}
	if (p != NULL && errors != NULL && errors->n > 0)
		json_object_set_new(p, "errors", errors_json(errors, zh));
	if (p == NULL) {
		cs_reply(r, status, "application/problem+json", NULL, 0, 0);
	} else {
		char *text = json_dumps(p, JSON_COMPACT);

		if (text != NULL)
			cs_reply(r, status, "application/problem+json", text,
			    strlen(text), 1);
		else
			cs_reply(r, status, "application/problem+json", NULL,
			    0, 0);
		json_decref(p);
	}
	if (k != NULL)
		cs_reply_header(r, MHD_HTTP_HEADER_CONTENT_LANGUAGE,
		    zh ? "zh-CN" : "en");
	if (status == 401)
		cs_reply_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"certsvc\"");
	if (status == 503)
		r->close = 1;
}

void
cs_http_problem(cs_req *r, int status, const char *detail,
    const cs_problems *errors)
{
	cs_http_problem_cause(r, 0, status, detail, errors);
}

int
cs_http_cause_status(int cause)
{
	size_t i;

	for (i = 0; i < NKINDS; i++)
		if (cause != 0 && kinds[i].cause == cause)
			return kinds[i].status;
	return 400;
}

/* A problem with one error naming field, its message the detail. */
static void
field_problem(cs_req *r, int cause, int status, const char *field,
    const char *code, const char *fmt, va_list ap)
{
	cs_problems p = CS_PROBLEMS_INIT;

	cs_problems_vaddc(&p, field, code, fmt, ap);
	cs_http_problem_cause(r, cause, status, p.n ? p.items[0].message :
	    NULL, &p);
	cs_problems_reset(&p);
}

void
cs_http_problem_at(cs_req *r, int cause, const char *field, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	field_problem(r, cause, cs_http_cause_status(cause), field, code, fmt,
	    ap);
	va_end(ap);
}

void
cs_http_problemf(cs_req *r, int status, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	cs_http_problem(r, status, detail, NULL);
}

void
cs_http_problem_field(cs_req *r, int status, const char *field,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	field_problem(r, 0, status, field, NULL, fmt, ap);
	va_end(ap);
}

static void
problem_retry(cs_req *r, int status, int64_t retry_ms, const char *what)
{
	char secs[24];

	snprintf(secs, sizeof(secs), "%lld",
	    (long long)((retry_ms + 999) / 1000));
	cs_http_problemf(r, status, "%s; retry in %s s", what, secs);
	cs_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
}

void
cs_http_problem_retry(cs_req *r, int64_t retry_ms, const char *what)
{
	problem_retry(r, 429, retry_ms, what);
}

void
cs_http_problem_err(cs_req *r, int code, const cs_problems *errors)
{
	int status = cs_http_status_of(code);
	char detail[160];

	if (status >= 500)
		cs_log_msg("certsvc: error req=%s %s: %s", r->request_id,
		    cs_errname(code), cs_err_msg());
	if (status == 503) {
		/* The table's description, not the message: that may quote
		 * SQLite. */
		problem_retry(r, 503, UNAVAILABLE_RETRY_MS, cs_strerror(code));
		return;
	}
	if (status >= 500) {
		snprintf(detail, sizeof(detail),
		    "an internal error occurred; quote request id %s",
		    r->request_id);
		cs_http_problem(r, status, detail, NULL);
		return;
	}
	cs_http_problem_cause(r, cs_err_cause(), status,
	    cs_err_msg()[0] ? cs_err_msg() : cs_strerror(code), errors);
}
