/*
 * cli: the `certsvc` command line (SPEC §6).  cli.c parses flags and
 * dispatches; each cli_*.c file holds the commands of one area.  Commands
 * call the domain (service.h) and crypto/ only.
 *
 * Exit codes (README, "Command line"): 0 success, 1 the operation failed
 * (or, for verify/decode, the answer is not "valid"/"all layers decode"),
 * 2 usage or input error (for verify: also a trust list or key directory
 * that cannot be read, so that 1 always means "not valid").
 */
#ifndef CS_CLI_H
#define CS_CLI_H

#include "config.h"
#include "service.h"

/* What a command that opens the library reads of the settings. */
#define CS_CLI_LIBRARY_SETTINGS "db keys templates public_url qr_form " \
	"qr_ecc tz_offset_minutes"

/* A command's own option.  value is set by the parser (borrowed from
 * argv); flags without a value get "1". */
typedef struct cs_opt {
	const char *name;      /* without the leading "--" */
	int takes_value;
	const char *help;
	const char *value;
} cs_opt;

typedef struct cs_cli {
	const char *cmd;       /* "issue", "client add", ... */
	cs_config cfg;
	cs_opt *opts;          /* the command's own, NULL-name terminated */
	/* The settings the command reads, space-separated, as --help lists
	 * them (every setting is still accepted); NULL: those of a command
	 * that opens the library (CS_CLI_LIBRARY_SETTINGS), or every one for
	 * serve. */
	const char *settings;
	char **args;           /* positional arguments */
	int nargs;
	/* cs_cli_open calls it, when set, after parsing and before the
	 * service opens (and starts threads). */
	void (*before_open)(const cs_config *cfg);
} cs_cli;

/* Parse argv (after the command words) into c: --config FILE first, then
 * settings flags over it, then the command's options.  Prints usage and
 * returns 2 on --help (with *done = 1) or on an error. */
int cs_cli_parse(cs_cli *c, int argc, char **argv, const char *usage,
    int uses_settings, int *done);
/* Parse, then open the service (need_key: a signing key must exist).
 * Returns -1 to go on, else the exit code to return. */
int cs_cli_open(cs_cli *c, int argc, char **argv, const char *usage,
    int need_key, cs_service **svc);
/* The value of a command option; NULL when not given. */
const char *cs_cli_opt(const cs_cli *c, const char *name);
/* Print "certsvc CMD: message" to stderr (with cs_err_msg()) and return 1. */
int cs_cli_fail(const cs_cli *c, const char *what);
/* Print a JSON value to stdout, indented. */
void cs_cli_print_json(const json_t *v);
/* Print a problems list to stderr and return 1. */
int cs_cli_problems(const cs_cli *c, int rc, const cs_problems *p);
/* Write buf[0..n) to a new or truncated file path (cli_licences.c);
 * CS_EIO naming the path. */
int cs_cli_write_file(const char *path, const void *buf, size_t n);

int cs_cli_main(int argc, char **argv);
/* A file's first max bytes (one more tells the caller it was longer);
 * NULL when it cannot be read. */
char *cs_cli_slurp(const char *path, size_t max, size_t *len);

/* Commands. */
int cs_cmd_serve(int argc, char **argv);
int cs_cmd_keygen(int argc, char **argv);
int cs_cmd_key(int argc, char **argv);
int cs_cmd_client(int argc, char **argv);
int cs_cmd_issue(int argc, char **argv);
int cs_cmd_trust_list(int argc, char **argv);
int cs_cmd_status_list(int argc, char **argv);
int cs_cmd_qr(int argc, char **argv);
int cs_cmd_verify(int argc, char **argv);
int cs_cmd_decode(int argc, char **argv);
int cs_cmd_show(int argc, char **argv);
int cs_cmd_copy_of(int argc, char **argv);
int cs_cmd_backup(int argc, char **argv);
int cs_cmd_migrate(int argc, char **argv);
int cs_cmd_copy(int argc, char **argv);
int cs_cmd_events(int argc, char **argv);
int cs_cmd_peer(int argc, char **argv);
int cs_cmd_subscription(int argc, char **argv);

#endif
