/*
 * fuzz: what the libFuzzer targets of fuzz/ share.
 *
 * Each fuzz_<target>.c defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize).  A target must be deterministic for a given input
 * and must free everything it allocates: libFuzzer runs with leak
 * detection on, so a leak on any path is a finding.
 */
#ifndef CS_FUZZ_H
#define CS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A NUL-terminated copy of the input (malloc'd; abort on failure: out of
 * memory is not a finding). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* The fixed keyring of the fuzz targets: one ES256, one EdDSA and one SM2
 * key, private halves included, the same on every run so a finding
 * replays.  Built once; borrowed.  These keys exist only for fuzzing and
 * are trusted nowhere. */
const cs_keyring *fuzz_keyring(void);
/* One of its keys by COSE alg. */
const cs_key *fuzz_key(int alg);

/* A private temporary directory (under TMPDIR, else /dev/shm when it
 * exists, else /tmp) removed with its contents at exit.  Borrowed. */
const char *fuzz_tmpdir(void);

/* The source tree (templates/, docs/examples/), fixed at build time. */
#ifndef CS_SOURCE_DIR
#define CS_SOURCE_DIR "."
#endif

/* Abort with a message: a broken property or setup, which libFuzzer reports
 * as a crash with the input that caused it. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
