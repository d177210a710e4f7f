/* cli_admin.c: commands that run or administer the service: serve, keygen,
 * client, trust-list, backup. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cs_err.h"
#include "encode.h"
#include "http.h"
#include "pkcs11.h"
#include "timeutil.h"
#include "x509.h"

/*
 * sched_batch (config.h): SCHED_BATCH for this thread, before the service
 * starts any other, so that every thread inherits it.  Not fatal: the
 * server only runs a little slower without it.
 */
static void
serve_scheduling(const cs_config *cfg)
{
	struct sched_param none = {0};

	if (cfg->sched_batch && sched_setscheduler(0, SCHED_BATCH, &none) != 0)
		fprintf(stderr, "certsvc serve: SCHED_BATCH not set (%s): "
		    "running with the usual policy\n", strerror(errno));
}

int
cs_cmd_serve(int argc, char **argv)
{
	cs_opt opts[] = {{"check", 0, "validate configuration, keys and catalog, then exit", NULL},
	    {NULL, 0, NULL, NULL}};
	cs_cli c = {.cmd = "serve", .opts = opts,
	    .before_open = serve_scheduling};
	cs_service *svc = NULL;
	int rc;

	if ((rc = cs_cli_open(&c, argc, argv,
	    "usage: certsvc serve [settings] [--listen ADDR:PORT] [--rate-limit N] [--check]\n\n"
	    "Run the HTTP API.  SIGTERM or SIGINT stops accepting, finishes the\n"
	    "requests in flight and closes the database cleanly.\n", 1, &svc)) >= 0)
		goto out;
	if (cs_cli_opt(&c, "check") != NULL) {
		const cs_keyring *keys = cs_service_keys(svc);
		char db[sizeof(c.cfg.db)];

		cs_config_db_shown(c.cfg.db, db, sizeof(db));
		printf("configuration ok: %zu licence types, %zu keys (active %s), "
		    "database %s\n", cs_service_catalog(svc)->n, keys->n,
		    cs_alg_name(keys->active->alg), db);
		rc = 0;
		goto out;
	}
	rc = cs_service_start_writers(svc) == 0 &&
	    cs_service_start_status_list(svc) == 0 &&
	    cs_service_start_sender(svc) == 0 && cs_http_run(svc) == 0 ?
	    0 : cs_cli_fail(&c, NULL);
out:
	cs_service_close(svc);
	free(c.args);
	return rc;
}

/* keygen --pkcs11 URI: the key pair is made inside the token. */
static int
keygen_token(cs_cli *c, const char *uri, int alg)
{
	uint8_t kid[CS_KID_LEN];
	char *b64 = NULL;

	if (cs_pkcs11_keygen(uri, c->cfg.pkcs11_module, alg, kid) != 0 ||
	    cs_b64url_encode(kid, CS_KID_LEN, &b64) != 0)
		return cs_cli_fail(c, NULL);
	/* The URI is printed without its query: it names the PIN file. */
	printf("%.*s (%s, kid %s): made in the token, not extractable\n",
	    (int)strcspn(uri, "?"), uri, cs_alg_name(alg), b64);
	free(b64);
	return 0;
}

int
cs_cmd_keygen(int argc, char **argv)
{
	cs_opt opts[] = {{"alg", 1, "ES256 (default), EdDSA or SM2", NULL},
	    {"pkcs11", 1, "make the key inside the PKCS#11 token of this URI "
	    "(pkcs11:token=T;object=LABEL?pin-source=file:PATH)", NULL},
	    {NULL, 0, NULL, NULL}};
	cs_cli c = {.cmd = "keygen", .opts = opts,
	    .settings = "keys pkcs11_module"};
	cs_key *key = NULL;
	char *stem = NULL, *kid = NULL;
	int alg = CS_ALG_ES256, done, rc;

	rc = cs_cli_parse(&c, argc, argv,
	    "usage: certsvc keygen [--alg ES256|EdDSA|SM2] [--keys DIR]\n"
	    "       certsvc keygen [--alg ES256] --pkcs11 URI\n\n"
	    "Create a signing key in the key directory (private key mode 0600,\n"
	    "public key and its X.509 certificate, CN=library_name, beside it),\n"
	    "or inside a PKCS#11 token (SPEC §11).  The newest key signs; older\n"
	    "ones verify.  A running server takes it on SIGHUP.\n", 1, &done);
	if (done)
		goto out;
	if (cs_cli_opt(&c, "alg") && cs_alg_from_name(cs_cli_opt(&c, "alg"), &alg) != 0) {
		rc = cs_cli_fail(&c, NULL);
		goto out;
	}
	if (cs_cli_opt(&c, "pkcs11") != NULL) {
		rc = keygen_token(&c, cs_cli_opt(&c, "pkcs11"), alg);
		goto out;
	}
	/* The certificate (SPEC §12) is made with the key and written beside
	 * it; an algorithm OpenSSL cannot certify gets one at the next start
	 * or never. */
	if (cs_key_generate(alg, &key) != 0 ||
	    ((rc = cs_x509_make(key, c.cfg.library_name, key->created,
	    &key->cert)) != 0 && rc != CS_EUNSUPPORTED) ||
	    cs_key_save(key, c.cfg.keys, &stem) != 0 ||
	    cs_b64url_encode(key->kid, CS_KID_LEN, &kid) != 0) {
		rc = cs_cli_fail(&c, NULL);
		goto out;
	}
	printf("%s/%s.key (%s, kid %s)\n", c.cfg.keys, stem, cs_alg_name(alg),
	    kid);
	rc = 0;
out:
	cs_key_free(key);
	free(stem);
	free(kid);
	free(c.args);
	return rc;
}

/*
 * key retire KID when keys names a PKCS#11 token.  certsvc deletes
 * nothing from a token: a file key's retirement is a move that can be
 * undone, a token object's deletion cannot, and a token is often shared
 * with other applications.  So the kid is checked as for a directory (a
 * key of the token, not the one that signs) and the answer is the token
 * tools' commands for its two objects, by the CKA_ID keygen gave them
 * (its creation time, "YYYYmmddTHHMMSSZ").  Exit 1: nothing was retired.
 */
static int
key_retire_token(cs_cli *c, const char *b64, const uint8_t *kid)
{
	cs_keyring *ring = NULL;
	const cs_key *k;
	char id[17] = "", hex[33] = "";
	struct tm tm;
	size_t i;
	int rc;

	if (cs_keyring_load(c->cfg.keys, c->cfg.pkcs11_module, &ring) != 0) {
		rc = cs_cli_fail(c, NULL);
		goto out;
	}
	if ((k = cs_keyring_find(ring, kid, CS_KID_LEN)) == NULL) {
		rc = cs_err_set(CS_ENOTFOUND, "key %s: the token holds no such "
		    "key", b64);
		rc = cs_cli_fail(c, NULL);
		goto out;
	}
	if (k == ring->active) {
		rc = cs_err_set(CS_ECONFLICT, "key %s: it is the signing key: "
		    "make a new one first (certsvc keygen --pkcs11) and reload "
		    "the server (SIGHUP)", b64);
		rc = cs_cli_fail(c, NULL);
		goto out;
	}
	if (k->created != 0 && gmtime_r(&k->created, &tm) != NULL &&
	    strftime(id, sizeof(id), "%Y%m%dT%H%M%SZ", &tm) == 16)
		for (i = 0; i < 16; i++)
			snprintf(hex + 2 * i, 3, "%02x", (unsigned char)id[i]);
	fprintf(stderr, "certsvc key: key %s is in the PKCS#11 token; certsvc "
	    "deletes nothing from a token (that cannot be undone).  To retire "
	    "it, delete its two objects with the token's own tools, then "
	    "reload the server (SIGHUP):\n", b64);
	if (hex[0] != '\0')
		fprintf(stderr, "  pkcs11-tool --module MODULE --token-label "
		    "TOKEN --login --delete-object --type privkey --id %s\n"
		    "  pkcs11-tool --module MODULE --token-label TOKEN --login "
		    "--delete-object --type pubkey --id %s\n(CKA_ID %s, the "
		    "key's creation time)\n", hex, hex, id);
	else
		fprintf(stderr, "  its CKA_ID is not a creation time certsvc "
		    "gave it: find it with pkcs11-tool --list-objects\n");
	rc = 1;
out:
	cs_keyring_free(ring);
	return rc;
}

/* key retire KID: the kid as the trust list, licences and decode write
 * it (base64url). */
static int
key_retire(cs_cli *c, const char *b64)
{
	uint8_t *kid = NULL;
	size_t n = 0;
	char *stem = NULL;
	int rc;

	if (cs_b64url_decode(b64, strlen(b64), &kid, &n) != 0 ||
	    n != CS_KID_LEN) {
		fprintf(stderr, "certsvc key: KID: expected the 11 base64url "
		    "characters of a kid, as the trust list shows it\n");
		free(kid);
		return 2;
	}
	if (cs_pkcs11_is_uri(c->cfg.keys)) {
		rc = key_retire_token(c, b64, kid);
		free(kid);
		return rc;
	}
	rc = cs_key_retire(c->cfg.keys, kid, &stem);
	if (rc == 0)
		printf("key %s retired: %s/retired/%s.* (out of the trust list "
		    "once the server reloads: SIGHUP)\n", b64, c->cfg.keys, stem);
	else {
		cs_err_wrap(rc, "key %s: ", b64);
		rc = cs_cli_fail(c, NULL);
	}
	free(stem);
	free(kid);
	return rc;
}

int
cs_cmd_key(int argc, char **argv)
{
	cs_cli c = {.cmd = "key", .opts = NULL,
	    .settings = "keys pkcs11_module"};
	int done, rc;

	rc = cs_cli_parse(&c, argc, argv,
	    "usage: certsvc key retire KID [--keys DIR]\n\n"
	    "Retire a verification key: it leaves the trust list (its files move\n"
	    "to DIR/retired/), and licences it signed stop verifying.  The signing\n"
	    "key cannot be retired: make a new one first (certsvc keygen) and\n"
	    "reload the server (SIGHUP).  KID is written as the trust list writes\n"
	    "it (base64url).  With keys in a PKCS#11 token, certsvc checks KID and\n"
	    "prints the token tools' commands that delete its objects.\n", 1,
	    &done);
	if (done)
		goto out;
	if (c.nargs == 2 && strcmp(c.args[0], "retire") == 0)
		rc = key_retire(&c, c.args[1]);
	else {
		fprintf(stderr, "certsvc key: expected retire KID (see --help)\n");
		rc = 2;
	}
out:
	free(c.args);
	return rc;
}

static void
print_client(const cs_client *cl)
{
	size_t i;

	printf("%-20s %-7s %s", cl->name, cl->role, cl->revoked_at ? "revoked" : "active");
	for (i = 0; i < cl->n_grants; i++)
		printf("%s%s%s%s%s%s%s", i ? "; " : "  ", cl->grants[i].types,
		    cl->grants[i].issuer_code ? " as " : "",
		    cl->grants[i].issuer_code ? cl->grants[i].issuer_code : "",
		    cl->grants[i].issuer_name ? " (" : "",
		    cl->grants[i].issuer_name ? cl->grants[i].issuer_name : "",
		    cl->grants[i].issuer_name ? ")" : "");
	printf("\n");
}

static int
client_add(cs_cli *c, cs_service *svc)
{
	const char *name = cs_cli_opt(c, "name"), *role = cs_cli_opt(c, "role");
	char *token = NULL;

	if (name == NULL || role == NULL) {
		fprintf(stderr, "certsvc client add: --name and --role are required\n");
		return 2;
	}
	if (cs_client_add(svc, name, role, cs_cli_opt(c, "types"),
	    cs_cli_opt(c, "issuer-code"), cs_cli_opt(c, "issuer-name"),
	    &token) != 0)
		return cs_cli_fail(c, NULL);
	printf("client %s (%s) created; its bearer token, shown once:\n%s\n", name,
	    role, token);
	if (cs_cli_opt(c, "types") == NULL && strcmp(role, "admin") != 0)
		fprintf(stderr, "certsvc client add: warning: %s has no licence "
		    "type yet, so it %s until 'certsvc client grant %s --types "
		    "...'\n", name, strcmp(role, "reader") == 0 ? "sees no licence"
		    : "may issue nothing", name);
	free(token);
	return 0;
}

/* client rotate NAME: the new token on standard output only, once; with
 * json as {"client", "token", "rotated_at"} for a script that hands it on. */
static int
client_rotate(cs_cli *c, cs_service *svc, int json)
{
	cs_actor who = {NULL, "cli", "cli", NULL};
	const char *name = c->args[1];
	cs_client *cl = NULL;
	char *token = NULL, at[21];
	json_t *out;

	if (cs_client_rotate(svc, &who, name, &token) != 0)
		return cs_cli_fail(c, NULL);
	at[0] = '\0';
	if (cs_client_get(svc, name, &cl) == 0)
		cs_rfc3339((time_t)cl->rotated_at, at);
	cs_client_free(cl);
	if (json) {
		out = json_pack("{ss ss ss}", "client", name, "token", token,
		    "rotated_at", at);
		cs_cli_print_json(out);
		json_decref(out);
	} else
		printf("client %s rotated; its new bearer token, shown once:\n%s\n"
		    "the old token is refused at once by the database and by "
		    "every node within auth_cache_ms (1 s by default)\n", name,
		    token);
	cs_client_token_clear(&token);
	return 0;
}

/* The clients, one line each, or with json a JSON array of
 * cs_client_json objects (what GET /api/v1/me answers a client). */
static int
client_list(cs_service *svc, int json)
{
	cs_client **list = NULL;
	json_t *arr = json ? json_array() : NULL;
	size_t i, n = 0;

	if (cs_client_list(svc, &list, &n) != 0)
		return 1;
	for (i = 0; i < n; i++)
		if (json)
			json_array_append_new(arr, cs_client_json(list[i]));
		else
			print_client(list[i]);
	if (json && json_dumpf(arr, stdout, JSON_INDENT(2)) == 0)
		putchar('\n');
	json_decref(arr);
	cs_clients_free(list, n);
	return 0;
}

int
cs_cmd_client(int argc, char **argv)
{
	cs_opt opts[] = {{"name", 1, "client name (add)", NULL},
	    {"role", 1, "issuer, reader, admin or portal (add)", NULL},
	    {"types", 1, "licence type codes T1,T2 or * (add, grant)", NULL},
	    {"issuer-code", 1, "the issuing authority's USCC (issuers)", NULL},
	    {"issuer-name", 1, "the issuing authority's name (issuers; 1-64 characters)", NULL},
	    {"json", 0, "list, rotate: print JSON (list: as GET /api/v1/me shows a client)", NULL},
	    {NULL, 0, NULL, NULL}};
	cs_cli c = {.cmd = "client", .opts = opts};
	cs_service *svc = NULL;
	const char *verb;
	int rc;

	if ((rc = cs_cli_open(&c, argc, argv,
	    "usage: certsvc client add --name NAME --role issuer|reader|admin|portal\n"
	    "                          [--types T,..|*] [--issuer-name N --issuer-code C]\n"
	    "       certsvc client grant NAME --types T,.. [--issuer-code C --issuer-name N]\n"
	    "       certsvc client list [--json]\n"
	    "       certsvc client revoke NAME\n"
	    "       certsvc client rotate NAME [--json]\n\n"
	    "API clients hold a bearer token (only its SHA-256 is stored) and grants:\n"
	    "the licence types they may use and, for issuers, the authority they act as.\n"
	    "rotate gives a client a new token, printed once, and the old one stops\n"
	    "working: at once in the database, on every running node within\n"
	    "auth_cache_ms (1 s by default).  The rotation is audited (client_rotate).\n",
	    0, &svc)) >= 0)
		goto out;
	verb = c.nargs > 0 ? c.args[0] : "";
	if (strcmp(verb, "add") == 0)
		rc = client_add(&c, svc);
	else if (strcmp(verb, "list") == 0)
		rc = client_list(svc, cs_cli_opt(&c, "json") != NULL) == 0 ? 0
		    : cs_cli_fail(&c, NULL);
	else if (strcmp(verb, "grant") == 0 && c.nargs == 2 && cs_cli_opt(&c, "types")) {
		rc = cs_client_grant(svc, c.args[1], cs_cli_opt(&c, "types"),
		    cs_cli_opt(&c, "issuer-code"), cs_cli_opt(&c, "issuer-name")) == 0
		    ? 0 : cs_cli_fail(&c, NULL);
		if (rc == 0)
			printf("client %s granted %s\n", c.args[1],
			    cs_cli_opt(&c, "types"));
	} else if (strcmp(verb, "revoke") == 0 && c.nargs == 2) {
		rc = cs_client_revoke(svc, c.args[1]);
		rc = rc == 0 ? 0 : cs_cli_fail(&c, NULL);
		if (rc == 0)
			printf("client %s revoked: every node refuses its token "
			    "within a second\n", c.args[1]);
	} else if (strcmp(verb, "rotate") == 0 && c.nargs == 2)
		rc = client_rotate(&c, svc, cs_cli_opt(&c, "json") != NULL);
	else {
		fprintf(stderr, "certsvc client: expected add, grant NAME, list, "
		    "revoke NAME or rotate NAME (see --help)\n");
		rc = 2;
	}
out:
	cs_service_close(svc);
	free(c.args);
	return rc;
}

int
cs_cmd_trust_list(int argc, char **argv)
{
	cs_cli c = {.cmd = "trust-list", .opts = NULL,
	    .settings = "keys pkcs11_module"};
	cs_keyring *ring = NULL;
	char *text = NULL;
	int done, rc;

	rc = cs_cli_parse(&c, argc, argv,
	    "usage: certsvc trust-list [--keys DIR|PKCS11-URI]\n\n"
	    "Print the verification keys as a JWK Set (SPEC §5): what offline\n"
	    "verifiers need.  It never holds private key material.\n", 1, &done);
	if (done)
		goto out;
	if (cs_keyring_load(c.cfg.keys, c.cfg.pkcs11_module, &ring) != 0 ||
	    cs_keyring_to_jwks(ring, &text) != 0) {
		rc = cs_cli_fail(&c, NULL);
		goto out;
	}
	printf("%s\n", text);
	rc = 0;
out:
	cs_keyring_free(ring);
	free(text);
	free(c.args);
	return rc;
}

int
cs_cmd_status_list(int argc, char **argv)
{
	cs_cli c = {.cmd = "status-list", .opts = NULL,
	    .settings = "db keys templates library_name status_list_ttl"};
	cs_service *svc = NULL;
	uint8_t *list = NULL;
	size_t n = 0;
	int rc;

	if ((rc = cs_cli_open(&c, argc, argv,
	    "usage: certsvc status-list [settings] > list.cose\n\n"
	    "Write the signed status list (SPEC §11) to standard output: the\n"
	    "state of every licence (in force, suspended, revoked, superseded,\n"
	    "never issued), signed now with the active key, valid for\n"
	    "status_list_ttl seconds.  The same list as GET /api/v1/status-list.\n"
	    "`certsvc verify --trust-list T --status-list list.cose TEXT` reads\n"
	    "it offline.\n", 1, &svc)) >= 0)
		goto out;
	rc = 1;
	if (c.nargs != 0) {
		fprintf(stderr, "certsvc status-list: takes no arguments\n");
		rc = 2;
		goto out;
	}
	/* Binary on a terminal is noise at best. */
	if (isatty(STDOUT_FILENO)) {
		fprintf(stderr, "certsvc status-list: standard output is a "
		    "terminal; redirect it to a file (> list.cose)\n");
		rc = 2;
		goto out;
	}
	if (cs_status_list_make(svc, (int64_t)cs_now(), &list, &n) != 0) {
		rc = cs_cli_fail(&c, NULL);
		goto out;
	}
	if (fwrite(list, 1, n, stdout) != n || fflush(stdout) != 0) {
		fprintf(stderr, "certsvc status-list: cannot write the list\n");
		goto out;
	}
	rc = 0;
out:
	free(list);
	cs_service_close(svc);
	free(c.args);
	return rc;
}

int
cs_cmd_backup(int argc, char **argv)
{
	cs_cli c = {.cmd = "backup", .opts = NULL};
	cs_service *svc = NULL;
	int rc;

	if ((rc = cs_cli_open(&c, argc, argv,
	    "usage: certsvc backup [settings] OUT.db\n\n"
	    "Copy the database to a new file while the service runs; the copy is\n"
	    "consistent (SQLite's online backup).\n", 0, &svc)) >= 0)
		goto out;
	if (c.nargs != 1) {
		fprintf(stderr, "certsvc backup: give the output file\n");
		rc = 2;
		goto out;
	}
	rc = cs_service_backup(svc, c.args[0]) == 0 ? 0
	    : cs_cli_fail(&c, NULL);
	if (rc == 0)
		printf("backed up to %s\n", c.args[0]);
out:
	cs_service_close(svc);
	free(c.args);
	return rc;
}

int
cs_cmd_migrate(int argc, char **argv)
{
	cs_cli c = {.cmd = "migrate", .opts = NULL, .settings = "db"};
	char db[sizeof(c.cfg.db)];
	int done, rc;

	rc = cs_cli_parse(&c, argc, argv,
	    "usage: certsvc migrate [settings]\n\n"
	    "Create the database's schema, or upgrade it to this version's, and\n"
	    "exit.  serve does the same at start; on PostgreSQL one node at a\n"
	    "time, under an advisory lock.  Safe to run again.\n", 1, &done);
	if (done)
		goto out;
	if (c.nargs != 0) {
		fprintf(stderr, "certsvc migrate: takes no arguments (see --help)\n");
		rc = 2;
		goto out;
	}
	cs_config_db_shown(c.cfg.db, db, sizeof(db));
	if (cs_service_migrate(&c.cfg) != 0) {
		rc = cs_cli_fail(&c, NULL);
		goto out;
	}
	printf("schema of %s is up to date\n", db);
	rc = 0;
out:
	free(c.args);
	return rc;
}
