/*
 * fuzz_cose: COSE_Sign1 bytes (an uncompressed token, or any COSE message)
 * through cs_cose_parse, the Sig_structure and cs_cose_verify with each
 * fixed key.
 *
 * Property: whatever parsed, re-signed with the fixed EdDSA key under its
 * own protected header, parses again to the same payload and, when that
 * header says EdDSA, verifies.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "cose.h"
#include "cs_err.h"
#include "encode.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_keyring();
	return 0;
}

static void
resign(const cs_cose_msg *msg)
{
	const cs_key *ed = fuzz_key(CS_ALG_EDDSA);
	cs_cose_msg *again = NULL;
	uint8_t *out = NULL;
	size_t n;

	/* Refused when the header names another alg than EdDSA. */
	if (cs_cose_sign1_raw(ed->pkey, CS_ALG_EDDSA, msg->protected_raw,
	    msg->protected_len, NULL, 0, msg->payload, msg->payload_len, &out,
	    &n) != 0)
		goto out;
	/* Signing takes a payload of any size; parsing has a cap. */
	if (n > CS_ZLIB_MAX_OUT)
		goto out;
	if (cs_cose_parse(out, n, &again) != 0)
		fuzz_fail("a message cs_cose_sign1_raw made does not parse: %s",
		    cs_err_msg());
	if (again->payload_len != msg->payload_len ||
	    (msg->payload_len > 0 && memcmp(again->payload, msg->payload,
	    msg->payload_len) != 0))
		fuzz_fail("the payload changed through signing");
	if (again->alg == CS_ALG_EDDSA && cs_cose_verify(again, ed) != 0)
		fuzz_fail("a fresh EdDSA signature does not verify: %s",
		    cs_err_msg());
out:
	cs_cose_msg_free(again);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const cs_keyring *ring = fuzz_keyring();
	cs_cose_msg *msg = NULL;
	uint8_t *tbs = NULL;
	size_t i, n;
	int rc;

	if (cs_cose_parse(data, size, &msg) != 0)
		goto out;
	if (cs_cose_sig_structure(msg, &tbs, &n) != 0)
		fuzz_fail("parsed, but no Sig_structure: %s", cs_err_msg());
	cs_keyring_find(ring, msg->kid, msg->kid_len);
	for (i = 0; i < ring->n; i++) {
		rc = cs_cose_verify(msg, ring->keys[i]);
		if (rc != 0 && rc != CS_EINVAL && rc != CS_EUNSUPPORTED &&
		    rc != CS_ESIGNATURE)
			fuzz_fail("cs_cose_verify: unexpected %s: %s",
			    cs_errname(rc), cs_err_msg());
	}
	resign(msg);
out:
	free(tbs);
	cs_cose_msg_free(msg);
	return 0;
}
