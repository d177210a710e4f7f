/*
 * client_rotate: a client's bearer token replaced (certsvc client rotate,
 * service.h cs_client_rotate).  The new token's hash is appended to
 * client_tokens (store.h cs_client_token), never written over the client:
 * the history of which token held when stays, and the client's row never
 * changes.
 */
#include "service_internal.h"

#include "cs_err.h"

#include <stdint.h>
#include <stdlib.h>

int
cs_client_rotate(cs_service *svc, const cs_actor *who, const char *name,
    char **token_out)
{
	uint8_t hash[32];
	cs_store *st = svc->store;
	int rc;

	*token_out = NULL;
	if ((rc = cs_client_token_new(token_out, hash)) != 0)
		return rc;
	/* The rotation and its record commit together: a rotation nobody
	 * can account for is what an attacker holding the database would
	 * want. */
	if ((rc = cs_store_begin(st)) != 0)
		goto out;
	if ((rc = cs_store_client_rotate(st, name, hash, (int64_t)cs_now())) ==
	    0 && (rc = cs_audit(svc, who, "client_rotate", name, NULL, NULL,
	    0)) == 0)
		rc = cs_store_commit(st);
	else
		(void)cs_store_rollback(st);
	if (rc == CS_ENOTFOUND)
		cs_err_set(rc, "no active client named '%.64s'", name);
	else if (rc == CS_ECONFLICT)
		cs_err_set(rc, "client '%.64s' was rotated by someone else at "
		    "the same moment: run the rotation again", name);
out:
	if (rc != 0)
		cs_client_token_clear(token_out);
	return rc;
}
