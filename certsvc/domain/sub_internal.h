/*
 * sub_internal: what subscriptions.c offers the sender (sender.c) and the
 * metrics: the subscriptions in force, which events each wants, and
 * where its deliveries stand.  Private to certsvc/domain.
 */
#ifndef CS_SUB_INTERNAL_H
#define CS_SUB_INTERNAL_H

#ifndef CS_LAYER_DOMAIN
#error "sub_internal.h is private to certsvc/domain: include service.h"
#endif

#include "service.h"
#include "store.h"

/* 1 when the comma-separated list (or "*", or NULL) holds word. */
int cs_sub_list_has(const char *list, const char *word);
/* 1 when subscription s is to be sent change ch (its types and events). */
int cs_sub_wants(const cs_sub_row *s, const cs_change *ch);
/* The subscriptions in force (their creation rows), oldest first;
 * cs_sub_rows_free(*out, *n). */
int cs_subs_current(cs_service *svc, cs_sub_row ***out, size_t *n);

/* A subscription's delivery state, from its stored attempts and the feed. */
typedef struct cs_sub_state_t {
	int64_t delivered;     /* events up to this seq are done */
	int64_t pending;       /* wanted events after it (at most 100,000 read) */
	int64_t oldest_at;     /* Unix seconds of the first of them */
	int64_t attempts_at_head; /* failed attempts since the last delivery */
	int failing;           /* its head has failed for over 24 h */
	int64_t last_at_ms;    /* the last attempt, 0: none */
	int64_t last_status;
	char last_result[16];
} cs_sub_state_t;
int cs_sub_state(cs_service *svc, const cs_sub_row *s, cs_sub_state_t *st);

#endif
