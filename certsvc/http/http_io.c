/*
 * http_io: the handler's side of a request (http_internal.h): what it reads
 * of the request (headers, query parameters, the body as a JSON object) and
 * how it leaves its one answer (cs_reply*).  The request cycle that calls
 * the handler is http_request.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "http_internal.h"
#include "http_problem.h"
#include "json_text.h"

/* --- responses ------------------------------------------------------------- */

void
cs_reply(cs_req *r, int status, const char *content_type, void *data,
    size_t len, int own)
{
	if (r->resp != NULL) {
		MHD_destroy_response(r->resp);
		r->resp = NULL;
	}
	r->resp = MHD_create_response_from_buffer(len, len ? data : (void *)"",
	    own ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	if (r->resp == NULL) {
		if (own)
			free(data);
		return;
	}
	if (own && len == 0)
		free(data);
	r->status = status;
	if (content_type != NULL)
		MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    content_type);
}

void
cs_reply_static(cs_req *r, int status, const char *content_type,
    const void *data, size_t len)
{
	if (r->resp != NULL) {
		MHD_destroy_response(r->resp);
		r->resp = NULL;
	}
	r->resp = MHD_create_response_from_buffer(len, (void *)data,
	    MHD_RESPMEM_PERSISTENT);
	if (r->resp == NULL)
		return;
	r->status = status;
	if (content_type != NULL)
		MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    content_type);
}

void
cs_reply_json(cs_req *r, int status, const json_t *v)
{
	/* json_dumps's text, written without its per-character callback. */
	char *text = cs_json_dumps(v);

	if (text == NULL) {
		cs_err_set(CS_ENOMEM, "cannot serialise the response");
		cs_http_problem_err(r, CS_ENOMEM, NULL);
		return;
	}
	cs_reply(r, status, "application/json; charset=utf-8", text,
	    strlen(text), 1);
}

void
cs_reply_header(cs_req *r, const char *name, const char *value)
{
	if (r->resp != NULL)
		MHD_add_response_header(r->resp, name, value);
}

/* --- request ----------------------------------------------------------- */

const char *
cs_req_header(cs_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
cs_req_header_n(cs_req *r, const char *name, size_t *len)
{
	const char *v = NULL;

	*len = 0;
	if (MHD_lookup_connection_value_n(r->conn, MHD_HEADER_KIND, name,
	    strlen(name), &v, len) != MHD_YES)
		return NULL;
	return v;
}

const char *
cs_req_query(cs_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_query; i++)
		if (strcmp(r->query[i].name, name) == 0)
			return r->query[i].value[0] != '\0' ?
			    r->query[i].value : NULL;
	return NULL;
}

void
cs_json_error_text(const json_error_t *e, char *out, size_t n)
{
	char text[sizeof(e->text)], *near;

	/* jansson's text for "\u0000" names its own flag (JSON_ALLOW_NUL),
	 * and others may quote the input near the error ("near '...'"): say
	 * what in words, and where, never what was sent. */
	if (json_error_code(e) == json_error_null_character)
		snprintf(text, sizeof(text), "a string holds \\u0000, a NUL "
		    "character");
	else
		snprintf(text, sizeof(text), "%s", e->text);
	if ((near = strstr(text, " near ")) != NULL)
		*near = '\0';
	snprintf(out, n, "the body is not valid JSON: %s at line %d, column %d",
	    text, e->line, e->column);
}

static int nul_in(const json_t *v, char *path, size_t n, size_t used);

/* nul_in() for member name of a value, path[0..used) the value's path. */
static int
nul_in_member(const json_t *m, const char *name, char *path, size_t n,
    size_t used)
{
	int w = snprintf(path + used, n - used, "%s%s", used ? "." : "", name);

	used += w > 0 ? (size_t)w : 0;
	return nul_in(m, path, n, used < n ? used : n - 1);
}

/* 1 when a string in v holds a NUL character, its dotted path (SPEC §5:
 * "holder.name", "certificates.1.number") then in path[0..n).  Recursion
 * is bounded by jansson's nesting limit. */
static int
nul_in(const json_t *v, char *path, size_t n, size_t used)
{
	const char *key;
	char index[24];
	json_t *m;
	size_t i;

	if (json_is_string(v))
		return strlen(json_string_value(v)) != json_string_length(v);
	json_object_foreach((json_t *)v, key, m)
		if (nul_in_member(m, key, path, n, used))
			return 1;
	json_array_foreach(v, i, m) {
		snprintf(index, sizeof(index), "%zu", i);
		if (nul_in_member(m, index, path, n, used))
			return 1;
	}
	return 0;
}

json_t *
cs_req_json(cs_req *r)
{
	json_error_t e;
	json_t *v;
	char text[300], field[256] = "";

	if (r->body.len == 0) {
		if (r->route != NULL && (r->route->flags & CS_RT_JSON_OPT))
			return json_object();
		cs_http_problem_cause(r, CS_CAUSE_MALFORMED_JSON, 400,
		    "the request body is empty; a JSON object is expected", NULL);
		return NULL;
	}
	/* "\u0000" is valid JSON: read it, then refuse its member by name
	 * (422), as C strings would silently end at the NUL. */
	v = json_loadb(r->body.p, r->body.len, JSON_REJECT_DUPLICATES |
	    JSON_ALLOW_NUL, &e);
	if (v == NULL) {
		cs_json_error_text(&e, text, sizeof(text));
		cs_http_problem_cause(r, CS_CAUSE_MALFORMED_JSON, 400, text,
		    NULL);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		cs_http_problem_cause(r, CS_CAUSE_MALFORMED_JSON, 400,
		    "the body must be a JSON object", NULL);
		return NULL;
	}
	if (nul_in(v, field, sizeof(field), 0)) {
		json_decref(v);
		cs_http_problem_field(r, 422, field, "%s holds a NUL character "
		    "(\\u0000), which no text takes", field);
		return NULL;
	}
	return v;
}

int
cs_req_content_is(cs_req *r, const char *media)
{
	char type[80];
	int ok;

	return cs_http_media_type(cs_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE),
	    type, sizeof(type), &ok) == 0 && strcmp(type, media) == 0;
}
