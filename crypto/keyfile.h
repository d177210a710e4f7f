/*
 * keyfile: the key directory (SPEC §7): a key saved as its PEM files, a
 * private key file loaded, a whole directory loaded into a keyring.  The
 * layout is described in keys.h.
 */
#ifndef CS_KEYFILE_H
#define CS_KEYFILE_H

#include "keys.h"

/* Write <dir>/<stem>.key (0600, created with O_EXCL), <dir>/<stem>.pub and,
 * when key->cert is set, <dir>/<stem>.crt (0644);
 * creates dir (0700) when missing.  *stem_out (optional) gets the stem,
 * caller frees. */
int cs_key_save(const cs_key *key, const char *dir, char **stem_out);
/* Give every key of ring that holds its private half and has no
 * certificate a new one (x509.h, subject CN=name), written to
 * <dir>/<stem>.crt beside its key (a key without a stem, one in a token,
 * keeps it in memory).  *made (optional) counts them.  A key whose
 * algorithm cannot sign a certificate is left without one. */
int cs_keyring_ensure_certs(cs_keyring *ring, const char *dir,
    const char *name, int *made);
/* Load a private key PEM; CS_EPERM when the file is readable by group or
 * others (the message names the file and its mode). */
int cs_key_load_private(const char *path, cs_key **out);
/* Load every key of a directory, each with its <stem>.crt when present
 * (CS_EINVAL when that certifies another key).  Fails on any unreadable or loose-mode
 * private key (CS_EPERM): the service refuses to start with one. */
int cs_keyring_load_dir(const char *dir, cs_keyring **out);

/* Take the key of kid out of the trust list: its files move to
 * <dir>/retired/.  CS_ENOTFOUND when dir holds no such key, CS_ECONFLICT
 * for the signing key.  *stem_out: the retired key's stem, caller frees. */
int cs_key_retire(const char *dir, const uint8_t kid[CS_KID_LEN],
    char **stem_out);

#endif
