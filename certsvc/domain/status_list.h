/*
 * status_list: the signed status list of SPEC §11, read and looked up
 * (status_list_read.c), for `certsvc verify --status-list` and anyone else
 * holding a list file.  Building, signing and serving it go through
 * service.h (cs_status_list_make, cs_status_list_current).
 *
 *   COSE_Sign1(tag 18, SPEC §4) over {1: iss, 6: iat, 4: exp,
 *     -65538: [{"t": type, "i": issuer, "n": count, "s": zlib(n bytes),
 *               "v"?: {serial: version}, "x"?: {id: state}}, ...]}
 *
 * One byte per serial 1..n (base-36 serials read as numbers): the state of
 * the serial's latest version.  "v" names that version where it is above
 * 1; a token of an older version is superseded.  "x" holds, by the id of
 * its latest version, each licence whose serial certsvc did not assign
 * from its numbering sequence (a database from before sequential serials).
 */
#ifndef CS_STATUS_LIST_H
#define CS_STATUS_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

/* The claim key of the entries. */
#define CS_SL_CLAIM (-65538)
/* The largest list file, and the most bytes its entries' "s" may inflate
 * to in all (a list of 16M licences). */
#define CS_SL_MAX (16 * 1024 * 1024)

/* A serial's state byte. */
enum {
	CS_SL_IN_FORCE = 0,
	CS_SL_SUSPENDED = 1,
	CS_SL_REVOKED = 2,
	CS_SL_NEVER = 3,    /* never issued (a serial skipped, or an
			     * amendment's sequence number) */
};

typedef struct cs_status_list cs_status_list;

/* A serial (SPEC §2a) as the number it spells in base 36, when it is
 * spelt the shortest way (no leading 0) in at most 12 characters;
 * UINT64_MAX otherwise. */
uint64_t cs_sl_serial_number(const char *serial);

/* What a list says of one licence. */
typedef struct cs_sl_answer {
	/* "in_force", "suspended", "revoked", "superseded", "never_issued",
	 * or "not_listed": the list has no entry for the licence's type and
	 * issuer, or its serial (or version) is past what the list knew. */
	const char *state;
	int latest_version;  /* of its serial, 0 when not known */
} cs_sl_answer;

/*
 * Read a list file: the COSE_Sign1 message, its signature against keys
 * (by its kid), and the payload in full: iss a text, iat and exp integers,
 * every entry well formed, its "s" inflating to exactly n bytes each of
 * 0-3, no more than CS_SL_MAX bytes in all, no trailing bytes.
 * CS_ESIGNATURE for a signature that does not verify or a kid the keys
 * do not hold, CS_EINVAL (CS_ETOOBIG) for anything else; the message says
 * what.  *out freed with cs_status_list_free.
 */
int cs_status_list_read(const cs_keyring *keys, const uint8_t *buf,
    size_t n, cs_status_list **out);
/* The same, and refused (CS_EINVAL, "wrong iss") when the list's iss is
 * not iss: a peer's list must be its own, not another library's. */
int cs_status_list_read_iss(const cs_keyring *keys, const char *iss,
    const uint8_t *buf, size_t n, cs_status_list **out);
void cs_status_list_free(cs_status_list *l);
/* The list's claims. */
const char *cs_status_list_iss(const cs_status_list *l);
int64_t cs_status_list_iat(const cs_status_list *l);
int64_t cs_status_list_exp(const cs_status_list *l);
/* The entries in the list. */
size_t cs_status_list_entries(const cs_status_list *l);
/* What the list says of licence id (SPEC §2a form); "not_listed" for an
 * id that does not parse. */
void cs_status_list_lookup(const cs_status_list *l, const char *id,
    cs_sl_answer *out);

#endif
