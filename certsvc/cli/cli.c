/*
 * cli.c: the command line's flag parsing and dispatch to the command groups
 * (cli_*.c).  What each command does and its exit codes: cli.h.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "version.h"

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"serve", cs_cmd_serve, "run the HTTP API (SPEC §5)"},
	{"keygen", cs_cmd_keygen, "create a signing key in the key directory or a token"},
	{"key", cs_cmd_key, "retire a verification key: key retire KID"},
	{"client", cs_cmd_client, "manage API clients: add, grant, list, revoke"},
	{"issue", cs_cmd_issue, "issue a licence from a request file, without the server"},
	{"show", cs_cmd_show, "print a licence"},
	{"copy-of", cs_cmd_copy_of, "write an annotated copy (加注件) of a licence as a signed PDF"},
	{"qr", cs_cmd_qr, "write a licence's QR code as PNG or SVG"},
	{"events", cs_cmd_events, "print the change feed (SPEC §9) as JSON lines"},
	{"subscription", cs_cmd_subscription, "manage the change feed's subscriptions: add, list, remove"},
	{"trust-list", cs_cmd_trust_list, "print the verification keys (JWK Set)"},
	{"status-list", cs_cmd_status_list, "write the signed status list (SPEC §11)"},
	{"peer", cs_cmd_peer, "add, list or remove peer libraries (SPEC §11)"},
	{"verify", cs_cmd_verify, "check a QR text or token offline"},
	{"decode", cs_cmd_decode, "show every layer of a QR text or token"},
	{"backup", cs_cmd_backup, "copy the database online and consistently"},
	{"migrate", cs_cmd_migrate, "create or upgrade the database schema"},
	{"copy", cs_cmd_copy, "copy a whole library to another database, verified"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
help(FILE *f)
{
	size_t i;

	fprintf(f, "usage: certsvc COMMAND [options]\n\n"
	    "certsvc issues, signs and verifies electronic licences (电子证照).\n\n"
	    "commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'certsvc COMMAND --help' describes a command; "
	    "'certsvc --version' says which certsvc this is.\n");
}

int
cs_cli_main(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		if (argc >= 3 && strcmp(argv[1], "help") == 0) {
			char *sub[] = {argv[2], "--help", NULL};
			for (i = 0; i < NCOMMANDS; i++)
				if (strcmp(commands[i].name, argv[2]) == 0)
					return commands[i].run(2, sub);
		}
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("certsvc %s\n", cs_version());
		return 0;
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, argv[1]) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "certsvc: unknown command '%s'\n", argv[1]);
	help(stderr);
	return 2;
}

static cs_opt *
find_opt(cs_cli *c, const char *name)
{
	cs_opt *o;

	for (o = c->opts; o != NULL && o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

static void
usage(const cs_cli *c, const char *text, int uses_settings, FILE *f)
{
	const cs_opt *o;

	fprintf(f, "%s", text);
	if (c->opts != NULL && c->opts->name != NULL) {
		fprintf(f, "\noptions:\n");
		for (o = c->opts; o->name != NULL; o++)
			fprintf(f, "  --%-20s %s\n", o->name, o->help);
	}
	if (uses_settings) {
		const char *only = c->settings;

		if (only == NULL && strcmp(c->cmd, "serve") != 0)
			only = CS_CLI_LIBRARY_SETTINGS;
		fprintf(f, "\nsettings (from --config FILE, overridden by flags):\n");
		fprintf(f, "  --%-20s %s\n", "config FILE", "read settings from FILE");
		cs_config_print_flags(f, only);
		if (only != NULL)
			fprintf(f, "  ('certsvc serve --help' lists every setting)\n");
	}
}

/* Split "--name=value" or take the next word. */
static int
flag_value(int argc, char **argv, int *i, const char *eq, const char **value)
{
	if (eq != NULL) {
		*value = eq + 1;
		return 0;
	}
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 0;
}

int
cs_cli_parse(cs_cli *c, int argc, char **argv, const char *text, int uses_settings,
    int *done)
{
	char name[64];
	const char *arg, *eq, *value;
	cs_opt *o;
	int i, rc;

	*done = 0;
	cs_config_defaults(&c->cfg);
	c->args = calloc((size_t)argc + 1, sizeof(char *));
	c->nargs = 0;
	/* --config first, so flags override the file whatever their order. */
	for (i = 1; uses_settings && i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strncmp(argv[i], "--config", 8) == 0 &&
		    (argv[i][8] == '\0' || argv[i][8] == '=')) {
			eq = argv[i][8] == '=' ? argv[i] + 8 : NULL;
			if (flag_value(argc, argv, &i, eq, &value) != 0)
				goto missing;
			if ((rc = cs_config_load_file(&c->cfg, value)) != 0) {
				fprintf(stderr, "certsvc %s: %s\n", c->cmd, cs_err_msg());
				*done = 1;
				return 2;
			}
		}
	}
	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			while (++i < argc)
				c->args[c->nargs++] = argv[i];
			break;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			c->args[c->nargs++] = argv[i];
			continue;
		}
		eq = strchr(arg, '=');
		snprintf(name, sizeof(name), "%.*s",
		    (int)(eq ? (size_t)(eq - arg - 2) : strlen(arg + 2)), arg + 2);
		if (strcmp(name, "help") == 0) {
			usage(c, text, uses_settings, stdout);
			*done = 1;
			return 0;
		}
		if ((o = find_opt(c, name)) != NULL) {
			if (!o->takes_value)
				o->value = "1";
			else if (flag_value(argc, argv, &i, eq, &o->value) != 0)
				goto missing;
			continue;
		}
		if (uses_settings && (strcmp(name, "config") == 0 ||
		    cs_config_is_setting(name))) {
			if (flag_value(argc, argv, &i, eq, &value) != 0)
				goto missing;
			if (strcmp(name, "config") != 0 &&
			    cs_config_set(&c->cfg, name, value) != 0) {
				fprintf(stderr, "certsvc %s: %s\n", c->cmd, cs_err_msg());
				*done = 1;
				return 2;
			}
			continue;
		}
		fprintf(stderr, "certsvc %s: unknown option '--%s' (see --help)\n",
		    c->cmd, name);
		*done = 1;
		return 2;
	}
	return 0;
missing:
	fprintf(stderr, "certsvc %s: option '%s' needs a value\n", c->cmd, argv[i]);
	*done = 1;
	return 2;
}

const char *
cs_cli_opt(const cs_cli *c, const char *name)
{
	const cs_opt *o;

	for (o = c->opts; o != NULL && o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return o->value;
	return NULL;
}

int
cs_cli_fail(const cs_cli *c, const char *what)
{
	fprintf(stderr, "certsvc %s: %s%s%s\n", c->cmd, what ? what : "",
	    what && *cs_err_msg() ? ": " : "", cs_err_msg());
	return 1;
}

void
cs_cli_print_json(const json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
}

int
cs_cli_problems(const cs_cli *c, int rc, const cs_problems *p)
{
	size_t i;

	if (rc != CS_EVALIDATION || p->n == 0)
		return cs_cli_fail(c, NULL);
	fprintf(stderr, "certsvc %s: the request is not valid:\n", c->cmd);
	for (i = 0; i < p->n; i++)
		fprintf(stderr, "  %s: %s\n", p->items[i].field, p->items[i].message);
	return 1;
}

/* Parse, then open the service; returns -1 to go on, else an exit code. */
int
cs_cli_open(cs_cli *c, int argc, char **argv, const char *usage,
    int need_key, cs_service **svc)
{
	int done, rc;

	*svc = NULL;
	rc = cs_cli_parse(c, argc, argv, usage, 1, &done);
	if (done)
		return rc;
	if (c->before_open != NULL)
		c->before_open(&c->cfg);
	if (cs_service_open(&c->cfg, need_key, svc) != 0)
		return cs_cli_fail(c, NULL);
	return -1;
}


char *
cs_cli_slurp(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;
	FILE *mem;
	int ch;

	if (f == NULL)
		return NULL;
	if ((mem = open_memstream(&buf, &n)) != NULL) {
		while ((ch = fgetc(f)) != EOF && n < max)
			fputc(ch, mem);
		fclose(mem);
	}
	fclose(f);
	*len = n;
	return buf;
}
