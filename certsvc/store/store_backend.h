/*
 * store_backend: what a store backend implements, for the backends
 * (certsvc/store/<backend>/) and the front door (store.c, store_open.c)
 * only, with the row helpers the backends share (store_rows.c).  Everything else calls the
 * cs_store_* functions of store.h, which forward to these.
 *
 * Each op means what its cs_store_* wrapper says in store.h, and gets the
 * handle its backend's open function made.
 */
#ifndef CS_STORE_BACKEND_H
#define CS_STORE_BACKEND_H

/* Private to certsvc/store and its backends: its library is built with
 * CS_LAYER_STORE; anyone else gets this error (white-box tests define it on
 * purpose). */
#ifndef CS_LAYER_STORE
#error "store_backend.h is private to certsvc/store and its backends: include store.h"
#endif

#include "store.h"

struct cs_store_ops {
	const char *name;     /* "sqlite", "postgresql": what /healthz says */
	int (*begin)(cs_store *s);
	int (*commit)(cs_store *s);
	int (*rollback)(cs_store *s);

	int (*licence_put)(cs_store *s, const cs_licence_row *row);
	int (*licence_get)(cs_store *s, const char *id, cs_licence_row **out);
	int (*licence_by_ref)(cs_store *s, const char *client,
	    const char *approval_ref, cs_licence_row **out);
	/* The licence cache (lcache.h), for cs_store_licence_note; NULL
	 * (the op or its answer): none. */
	struct cs_lcache *(*licence_cache)(cs_store *s);
	int (*licences_by_holder)(cs_store *s, const char *holder_code,
	    const char *type, int64_t *pos, size_t limit, cs_licence_row ***out,
	    size_t *n);
	int (*licences_by_client)(cs_store *s, const cs_licence_filter *f,
	    cs_licence_row ***out, size_t *n);
	int (*licences_by_number)(cs_store *s, const char *number,
	    const char *holder_code, cs_licence_row ***out, size_t *n);
	int (*licences_by_bundle)(cs_store *s, const char *bundle_id,
	    cs_licence_row ***out, size_t *n);
	int (*licence_next_seq)(cs_store *s, const char *type,
	    const char *issuer_code, int64_t *out);
	int (*licence_number_taken)(cs_store *s, const char *type,
	    const char *issuer_code, const char *number, const char *serial,
	    int *taken);
	int (*licence_count)(cs_store *s, int64_t *out);

	int (*event_append)(cs_store *s, const cs_event *ev);
	int (*events_for)(cs_store *s, const char *licence_id, cs_event ***out,
	    size_t *n);
	/* NULL: cs_store_events_for_many calls events_for for each licence
	 * (store.c). */
	int (*events_for_many)(cs_store *s, const char *const *ids, size_t n_ids,
	    cs_event ***out, size_t **counts, size_t *total);

	int (*change_append)(cs_store *s, const cs_change *ch);
	int (*changes_page)(cs_store *s, int64_t after_seq, size_t limit,
	    cs_change ***out, size_t *n);

	int (*sub_put)(cs_store *s, const cs_sub_row *row);
	int (*subs_page)(cs_store *s, int64_t after_seq, size_t limit,
	    cs_sub_row ***out, size_t *n);
	int (*subs_import)(cs_store *s, cs_sub_row *const *rows, size_t n);
	int (*sub_attempt_append)(cs_store *s, const cs_sub_attempt *a,
	    size_t n);
	int (*sub_progress)(cs_store *s, int64_t sub, cs_sub_progress *out);
	int (*sub_lease)(cs_store *s, int64_t sub, const char *node,
	    int64_t ttl_ms, int *held);

	int (*bundle_put)(cs_store *s, const cs_bundle_row *b);
	int (*bundle_by_ref)(cs_store *s, const char *client,
	    const char *approval_ref, cs_bundle_row **out);

	int (*client_add)(cs_store *s, const cs_client *c);
	int (*client_get)(cs_store *s, const char *name, cs_client **out);
	int (*client_by_token_hash)(cs_store *s, const uint8_t hash[32],
	    cs_client **out);
	int (*client_list)(cs_store *s, cs_client ***out, size_t *n);
	int (*client_revoke)(cs_store *s, const char *name, int64_t at);
	int (*grant_add)(cs_store *s, const char *client_name, const cs_grant *g);
	int (*client_rotate)(cs_store *s, const char *name,
	    const uint8_t hash[32], int64_t at);
	int (*client_tokens_page)(cs_store *s, int64_t after_seq, size_t limit,
	    cs_client_token ***out, size_t *n);
	int (*client_tokens_import)(cs_store *s, cs_client_token *const *rows,
	    size_t n);

	int (*copy_put)(cs_store *s, const cs_copy_row *c);
	int (*copy_get)(cs_store *s, const char *id, cs_copy_row **out);
	int (*hact_put)(cs_store *s, const cs_hact_row *r);
	int (*hacts_get)(cs_store *s, const char *key, int64_t n_below,
	    size_t limit, cs_hact_row ***out, size_t *n);
	int (*hacts_page)(cs_store *s, const char *after_key, int64_t after_n,
	    size_t limit, cs_hact_row ***out, size_t *n);
	int (*peer_put)(cs_store *s, const cs_peer_row *p);
	int (*peers_page)(cs_store *s, int64_t after_seq, size_t limit,
	    cs_peer_row ***out, size_t *n);
	int (*audit_append)(cs_store *s, const cs_audit_rec *rec);
	/* NULL: cs_store_audit_append_many loops over audit_append in a
	 * nested level (store.c). */
	int (*audit_append_many)(cs_store *s, const cs_audit_rec *const *recs,
	    size_t n);
	int (*audit_query)(cs_store *s, const cs_audit_filter *f,
	    cs_audit_rec ***out, size_t *n);

	int (*licences_page)(cs_store *s, int64_t *pos, size_t limit,
	    cs_licence_row ***out, size_t *n);
	int (*events_page)(cs_store *s, int64_t after_seq, size_t limit,
	    cs_event ***out, size_t *n);
	int (*copies_page)(cs_store *s, const char *after_id, size_t limit,
	    cs_copy_row ***out, size_t *n);
	int (*bundles_page)(cs_store *s, const char *after_id, size_t limit,
	    cs_bundle_row ***out, size_t *n);
	int (*licences_import)(cs_store *s, cs_licence_row *const *rows,
	    size_t n);
	int (*events_import)(cs_store *s, cs_event *const *evs, size_t n);
	int (*audit_import)(cs_store *s, cs_audit_rec *const *recs, size_t n);
	int (*changes_import)(cs_store *s, cs_change *const *chs, size_t n);
	int (*client_import)(cs_store *s, const cs_client *c);
	int (*import_done)(cs_store *s);

	int (*status_scan)(cs_store *s, cs_status_fn fn, void *ctx);
	int (*status_mark)(cs_store *s, int64_t mark[2]);

	int (*ping)(cs_store *s);
	int (*backup)(cs_store *s, const char *path);
	void (*close)(cs_store *s);
};

/* A backend's handle begins with this; the rest is the backend's own. */
struct cs_store {
	const struct cs_store_ops *ops;
};

/* Free the strings of grant g and zero it (store_rows.c). */
void cs_grant_clear(cs_grant *g);
/* Free an array of n grants (structs, not pointers) and their strings. */
void cs_grants_free(cs_grant *g, size_t n);

#endif
