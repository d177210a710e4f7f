/*
 * cli_libraries: the libraries `certsvc verify` checks against (SPEC
 * §11), read from its --trust-list (files or directories, repeated) and
 * --status-list (repeated) options, or the key directory without any.
 */
#ifndef CS_CLI_LIBRARIES_H
#define CS_CLI_LIBRARIES_H

#include "cli.h"
#include "service.h"

#define CS_CLI_LIBS_MAX 64

typedef struct cs_cli_libs {
	cs_verify_library lib[CS_CLI_LIBS_MAX];  /* borrowing the rest */
	cs_keyring *rings[CS_CLI_LIBS_MAX];
	struct cs_status_list *lists[CS_CLI_LIBS_MAX];
	char *names[CS_CLI_LIBS_MAX];
	size_t n;
} cs_cli_libs;

/* 0, or 2 with the reason printed (an input error of verify's). */
int cs_cli_libs_load(const cs_cli *c, int argc, char **argv, cs_cli_libs *ls);
void cs_cli_libs_free(cs_cli_libs *ls);

#endif
