/*
 * problems.c: the (field, message) list validators append to.  See
 * problems.h.
 */
#include "problems.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "text.h"

static int
grow(cs_problems *p)
{
	size_t cap = p->cap ? p->cap * 2 : 8;
	cs_problem *items;

	if (p->n < p->cap)
		return 0;
	items = realloc(p->items, cap * sizeof(*items));
	if (items == NULL)
		return -1;
	p->items = items;
	p->cap = cap;
	return 0;
}

static void
add(cs_problems *p, const char *field, const char *code, const char *msg)
{
	if (grow(p) != 0)
		return;
	p->items[p->n].code = code ? code : CS_FC_INVALID;
	p->items[p->n].field = strdup(field ? field : "");
	p->items[p->n].message = strdup(msg);
	/* A field path or message cut by a fixed buffer (a long member name
	 * in Chinese) can end inside a character; an invalid one would be
	 * dropped from the JSON answer, and the caller not told of it. */
	if (p->items[p->n].field != NULL)
		cs_utf8_scrub(p->items[p->n].field);
	if (p->items[p->n].message != NULL)
		cs_utf8_scrub(p->items[p->n].message);
	p->n++;
}

void
cs_problems_vaddc(cs_problems *p, const char *field, const char *code,
    const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	add(p, field, code, msg);
}

void
cs_problems_add(cs_problems *p, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cs_problems_vaddc(p, field, NULL, fmt, ap);
	va_end(ap);
}

void
cs_problems_addc(cs_problems *p, const char *field, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cs_problems_vaddc(p, field, code, fmt, ap);
	va_end(ap);
}

void
cs_problems_adderr(cs_problems *p, const char *field)
{
	add(p, field, cs_err_reason(), cs_err_msg());
}

void
cs_problems_merge(cs_problems *dst, const cs_problems *src, const char *prefix)
{
	char path[512];
	size_t i;

	for (i = 0; i < src->n; i++) {
		if (prefix != NULL && prefix[0] != '\0')
			snprintf(path, sizeof(path), "%s.%s", prefix, src->items[i].field);
		else
			snprintf(path, sizeof(path), "%s", src->items[i].field);
		add(dst, path, src->items[i].code, src->items[i].message);
	}
}

void
cs_problems_reset(cs_problems *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->items[i].field);
		free(p->items[i].message);
	}
	free(p->items);
	p->items = NULL;
	p->n = p->cap = 0;
}
