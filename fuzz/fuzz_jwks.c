/*
 * fuzz_jwks: a trust list (JWK Set, SPEC §5) from hostile JSON through
 * cs_keyring_from_jwks, as `certsvc verify --trust-list FILE` reads it.
 *
 * Property: a trust list that loads writes back (cs_keyring_to_jwks) to one
 * that loads to the same keys: same count, kids, algorithms and times,
 * none with a private half.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "cs_err.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cs_keyring *ring = NULL, *again = NULL;
	char *json = NULL;
	size_t i;

	if (cs_keyring_from_jwks((const char *)data, size, &ring) != 0)
		goto out;
	if (ring->active != NULL)
		fuzz_fail("a trust list gave a signing key");
	if (cs_keyring_to_jwks(ring, &json) != 0)
		fuzz_fail("a loaded trust list does not write: %s", cs_err_msg());
	if (cs_keyring_from_jwks(json, strlen(json), &again) != 0)
		fuzz_fail("a written trust list does not load: %s\n%s",
		    cs_err_msg(), json);
	if (again->n != ring->n)
		fuzz_fail("%zu keys became %zu", ring->n, again->n);
	for (i = 0; i < ring->n; i++) {
		if (ring->keys[i]->has_private || again->keys[i]->has_private)
			fuzz_fail("a trust list key has a private half");
		if (memcmp(ring->keys[i]->kid, again->keys[i]->kid, CS_KID_LEN) != 0 ||
		    ring->keys[i]->alg != again->keys[i]->alg ||
		    ring->keys[i]->created != again->keys[i]->created)
			fuzz_fail("key %zu changed through the trust list", i);
		if (EVP_PKEY_eq(ring->keys[i]->pkey, again->keys[i]->pkey) != 1)
			fuzz_fail("key %zu is another key after the round trip", i);
	}
out:
	free(json);
	cs_keyring_free(ring);
	cs_keyring_free(again);
	return 0;
}
