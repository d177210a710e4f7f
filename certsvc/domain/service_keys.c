/*
 * service_keys: the service's keyring while it runs.  A SIGHUP reads the
 * key directory (or token) again, so a key made by `certsvc keygen` on a
 * running server signs and is published from then on (issue 18); a token
 * that stopped signing (it was unplugged, its files went away) is opened
 * again, at most once a second, until it signs: meanwhile issuance is 503,
 * never a crash (issue 16).
 *
 * Every use of the keyring holds keys_lock for reading
 * (cs_service_keys_hold); a reload takes it for writing, so a keyring is
 * freed only when nobody signs or verifies with it.  For a token the old
 * keyring is freed before the new one is loaded: freeing finalises the
 * module and loading initialises it again, which is what makes the module
 * look for the token afresh (SoftHSM2 does not otherwise see a token whose
 * files came back).  While it cannot be opened, the keys' public halves
 * stay, so verification goes on.
 */
#include "service_internal.h"

#include <stdlib.h>

#include "cs_err.h"
#include "log.h"
#include "pkcs11.h"
#include "timeutil.h"

/* The least time between two attempts to open a token that failed. */
#define RECOVER_MS 1000

/* The key directory or token of cfg into *out, certificates made for its
 * signing keys (written beside file keys; in memory for a token's). */
int
cs_service_keys_load(const cs_config *cfg, int need_signing_key,
    cs_keyring **out)
{
	cs_keyring *ring = NULL;
	int rc;

	*out = NULL;
	rc = cs_keyring_load(cfg->keys, cfg->pkcs11_module, &ring);
	if (rc != 0) {
		if (rc == CS_ENOTFOUND && !need_signing_key &&
		    !cs_pkcs11_is_uri(cfg->keys))
			return 0;       /* reading and verifying need no keys */
		return cs_err_wrap(rc, "keys: ");
	}
	if (need_signing_key && ring->active == NULL) {
		cs_keyring_free(ring);
		return cs_err_set(CS_ENOTFOUND, "keys: no private signing key in "
		    "%s (create one with: certsvc keygen --keys %s)", cfg->keys,
		    cfg->keys);
	}
	/* Keys made before certificates were (SPEC §12) get theirs now,
	 * once: annotated copies are signed with it. */
	if (need_signing_key && (rc = cs_keyring_ensure_certs(ring, cfg->keys,
	    cfg->library_name, NULL)) != 0) {
		cs_keyring_free(ring);
		return cs_err_wrap(rc, "keys: a certificate for the signing key: ");
	}
	*out = ring;
	return 0;
}

const cs_keyring *
cs_service_keys_hold(cs_service *svc)
{
	pthread_rwlock_rdlock(&svc->keys_lock);
	return svc->keys;
}

void
cs_service_keys_release(cs_service *svc)
{
	pthread_rwlock_unlock(&svc->keys_lock);
}

int
cs_service_reload_keys(cs_service *svc)
{
	cs_keyring *ring = NULL, *old = NULL;
	int rc;

	atomic_store(&svc->keys_retry_ms, cs_mono_ms());
	if (!cs_pkcs11_is_uri(svc->cfg.keys)) {
		/* A directory that fails to load leaves the keys in use. */
		if ((rc = cs_service_keys_load(&svc->cfg, 1, &ring)) != 0)
			return rc;
		pthread_rwlock_wrlock(&svc->keys_lock);
		old = svc->keys;
		svc->keys = ring;
		atomic_store(&svc->keys_broken, 0);
		pthread_rwlock_unlock(&svc->keys_lock);
		cs_keyring_free(old);
		return 0;
	}
	pthread_rwlock_wrlock(&svc->keys_lock);
	/* The public halves stay while the token is away: licences keep
	 * verifying (the trust list calls every key verify-only then). */
	if (cs_keyring_public(svc->keys, &old) != 0)
		old = NULL;
	cs_keyring_free(svc->keys);
	svc->keys = NULL;
	if ((rc = cs_service_keys_load(&svc->cfg, 1, &ring)) == 0) {
		svc->keys = ring;
		cs_keyring_free(old);
	} else if (old != NULL && old->n > 0) {
		svc->keys = old;
	} else
		cs_keyring_free(old);
	atomic_store(&svc->keys_broken, rc != 0);
	pthread_rwlock_unlock(&svc->keys_lock);
	return rc;
}

/* A token that failed is opened again, at most once per RECOVER_MS. */
static void
recover(cs_service *svc)
{
	int64_t now = cs_mono_ms();

	if (!atomic_load(&svc->keys_broken) ||
	    now - atomic_load(&svc->keys_retry_ms) < RECOVER_MS)
		return;
	if (cs_service_reload_keys(svc) == 0)
		cs_log_msg("certsvc: keys: the token signs again");
	else
		cs_log_msg("certsvc: keys: the token is still unavailable: %s",
		    cs_err_msg());
}

int
cs_service_signer(cs_service *svc, const cs_key **out)
{
	const cs_keyring *ring;

	recover(svc);
	ring = cs_service_keys_hold(svc);
	if (ring != NULL && ring->active != NULL &&
	    !atomic_load(&svc->keys_broken)) {
		*out = ring->active;
		return 0;
	}
	cs_service_keys_release(svc);
	*out = NULL;
	return cs_err_set(CS_EUNAVAIL, "the signing key is unavailable%s",
	    cs_pkcs11_is_uri(svc->cfg.keys) ? " (its PKCS#11 token does not "
	    "answer)" : "");
}

int
cs_service_signed(cs_service *svc, const cs_key *key, int rc)
{
	const cs_keyring *ring = svc->keys;

	if (rc != 0 && rc != CS_ENOMEM && ring != NULL && ring->p11 != NULL &&
	    key == ring->active) {
		/* The token refused: every signature would now fail the same
		 * way until it is opened again. */
		if (!atomic_exchange(&svc->keys_broken, 1))
			cs_log_msg("certsvc: keys: the token stopped signing: %s",
			    cs_err_msg());
		rc = cs_err_set(CS_EUNAVAIL, "the signing key is unavailable "
		    "(its PKCS#11 token does not answer)");
	}
	cs_service_keys_release(svc);
	return rc;
}
