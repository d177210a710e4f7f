/*
 * fuzz_cbor: any CBOR through the walker (cs_cbor_check, cs_cbor_diag, the
 * diagnostic notation of `certsvc decode`) and cs_cbor_to_json (how claims
 * become JSON), all bounded to CS_COSE_MAX_DEPTH.
 *
 * Properties: the check and the diagnostic notation agree on what is
 * well-formed; whatever becomes JSON was well-formed; the JSON and the
 * notation serialise.
 */
#include "fuzz.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cose.h"
#include "cs_err.h"
#include "token.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = NULL;
	char *diag = NULL, *dump = NULL;
	int crc, drc, jrc, d;

	crc = cs_cbor_check(data, size, CS_COSE_MAX_DEPTH);
	drc = cs_cbor_diag(data, size, &diag);
	if ((crc == 0) != (drc == 0))
		fuzz_fail("cs_cbor_check says %s, cs_cbor_diag says %s",
		    cs_errname(crc), cs_errname(drc));
	if (drc == 0 && (diag == NULL || strlen(diag) == 0))
		fuzz_fail("well-formed CBOR with no diagnostic notation");
	/* A shallower bound refuses more, never less. */
	for (d = 0; d < CS_COSE_MAX_DEPTH; d += 5)
		if (cs_cbor_check(data, size, d) == 0 && crc != 0)
			fuzz_fail("well-formed at depth %d but not at %d", d,
			    CS_COSE_MAX_DEPTH);
	jrc = cs_cbor_to_json(data, size, &j);
	if (jrc == 0 && crc != 0)
		fuzz_fail("cs_cbor_to_json took CBOR the check refused");
	if (jrc == 0 && (dump = json_dumps(j, JSON_ENCODE_ANY)) == NULL)
		fuzz_fail("claims JSON does not serialise");
	free(dump);
	free(diag);
	json_decref(j);
	return 0;
}
