/*
 * config.c: the table of every setting and the parsing of the config file
 * and flags against it.  The rules: config.h.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_err.h"
#include "netlist.h"
#include "text.h"

/*
 * The settings table.  Each row: name, kind, where it lives in cs_config,
 * bounds for numbers, the default, and the help line that --help and
 * keys.example/certsvc.conf repeat.
 */
enum kind { K_STR, K_LONG };

struct setting {
	const char *name;
	enum kind kind;
	size_t off;
	size_t size;       /* K_STR: buffer size */
	long min, max;     /* K_LONG */
	const char *def;
	const char *help;
};

#define S(field, def, help)                                                  \
	{#field, K_STR, offsetof(cs_config, field),                          \
	    sizeof(((cs_config *)0)->field), 0, 0, def, help}
#define L(field, min, max, def, help)                                        \
	{#field, K_LONG, offsetof(cs_config, field), 0, min, max, def, help}

static const struct setting settings[] = {
	S(db, "./certsvc.db", "SQLite database file, or a postgresql:// URI (SPEC §8)"),
	S(keys, "./keys", "key directory (private keys must be mode 0600), or "
	    "a PKCS#11 URI (pkcs11:token=T;object=O?pin-source=file:PATH)"),
	S(templates, "./templates", "licence-type catalog directory"),
	S(public_url, "http://127.0.0.1:8080",
	    "base URL printed into QR codes ({public_url}/v/{token})"),
	S(library_name, "certsvc",
	    "this library's name: the subject (CN) of its keys' certificates, "
	    "which sign annotated copies"),
	S(listen, "127.0.0.1:8080", "HTTP listen address ADDR:PORT (port 0: any free port)"),
	S(qr_form, "url", "default QR form: url or compact"),
	S(qr_ecc, "M", "QR error correction level: L, M, Q or H"),
	S(log_file, "", "request log file (empty: standard error); SIGHUP "
	    "opens it again after logrotate moved it"),
	L(rate_limit, 0, 1000000, "20",
	    "public endpoints: requests per second per remote address (0: off)"),
	L(auth_failures, 0, 1000000, "20",
	    "wrong bearer tokens and unmatched paper-copy checks an address may "
	    "make before 429 (0: off)"),
	L(auth_failure_refill, 1, 86400, "1",
	    "seconds until one of an address's auth_failures comes back"),
	L(threads, 1, 256, "4", "HTTP worker threads"),
	L(sched_batch, 0, 1, "1",
	    "1: serve runs its threads under Linux's SCHED_BATCH (no preempting "
	    "each other on every wake-up); 0: the usual policy"),
	L(max_body, 1024, 16 * 1024 * 1024, "65536", "largest request body in bytes"),
	L(max_header, 4096, 1024 * 1024, "16384",
	    "memory for one connection's request line and headers, in bytes"),
	L(max_connections, 4, 100000, "512", "most connections open at once"),
	L(connection_timeout, 1, 3600, "15",
	    "seconds of inactivity before a connection is closed"),
	L(tz_offset_minutes, -720, 840, "480",
	    "deployment time zone in minutes east of UTC (Asia/Shanghai: 480)"),
	L(auth_cache_ms, 0, 60000, "1000",
	    "how long a running server trusts a token it has checked: a client "
	    "revoked from the CLI is refused within this time (0: check every "
	    "request)"),
	L(audit_flush_ms, 0, 10000, "20",
	    "longest a read's audit record waits to be grouped into one commit"),
	L(audit_max_lag_ms, 1, 3600000, "1000",
	    "no read is answered once the oldest read audit record not yet on "
	    "disk is older than this (503 instead); more than audit_flush_ms"),
	L(audit_read_wait, 0, 1, "0",
	    "1: answer a read only once its audit record is on disk; 0: answer "
	    "at once and commit the record within audit_flush_ms (a crash can "
	    "lose that window's read records)"),
	S(trusted_proxies, "",
	    "addresses or networks (10.0.0.0/8) of reverse proxies whose "
	    "X-Forwarded-For or X-Real-IP names the client; empty: none"),
	S(metrics_allow, "*",
	    "addresses or networks that may read /metrics (*: anyone who "
	    "reaches the listen address, as SPEC §5 has it)"),
	S(cors_origins, "*",
	    "origins (https://portal.example.gov.cn) whose pages may call the "
	    "public API (verify, types, trust list); *: any; empty: none"),
	S(problem_base, "https://certsvc.example/problems/",
	    "the URI each problem type's name is appended to (its \"type\"): "
	    "where this deployment publishes docs/problems.md"),
	L(status_list_ttl, 3600, 7 * 86400, "86400",
	    "seconds from a status list's signing (iat) to its exp: past it "
	    "an offline verifier calls the list stale"),
	L(status_list_check_ms, 100, 60000, "5000",
	    "how often serve asks the database whether a licence or a status "
	    "change came in since it signed its status list (a new list "
	    "follows within this time and the signing)"),
	L(status_list_refresh_s, 1, 3600, "3600",
	    "the longest serve keeps one signed status list: it signs it "
	    "again at least this often, changes or not"),
	S(pkcs11_module, "",
	    "the PKCS#11 module (a .so) for a keys URI that has no "
	    "module-path"),
	S(webhook_ca_file, "",
	    "CA certificates (PEM) that subscription receivers' TLS "
	    "certificates are checked against (empty: the system's)"),
	L(webhook_timeout_s, 1, 60, "10",
	    "seconds a subscription receiver has to answer a delivery before "
	    "it counts as failed and is retried"),
	L(webhook_retry_max_s, 1, 600, "600",
	    "the longest wait (seconds) between two attempts at delivering "
	    "an event; the waits grow from about 1 s, jittered"),
	L(webhook_lease_s, 3, 600, "30",
	    "seconds a node's lease on sending a subscription lasts unless "
	    "renewed (every third of it): after a node dies, another takes "
	    "its subscriptions over within this time"),
	L(render_concurrency, 0, 64, "0",
	    "full-page drawings (face.png, annotated copies) running at once; "
	    "the others wait their turn (0: the number of online CPUs)"),
	L(render_wait_ms, 0, 600000, "10000",
	    "longest a drawing waits for its turn before the request is "
	    "refused with 503 and Retry-After; keep it under "
	    "connection_timeout, which closes a connection waiting longer"),
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static const struct setting *
find(const char *name)
{
	char norm[64];
	size_t i;

	for (i = 0; name[i] != '\0' && i < sizeof(norm) - 1; i++)
		norm[i] = name[i] == '-' ? '_' : name[i];
	norm[i] = '\0';
	for (i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].name, norm) == 0)
			return &settings[i];
	return NULL;
}

static int
apply(cs_config *cfg, const struct setting *s, const char *value)
{
	char *end;
	long v;

	if (s->kind == K_STR) {
		if (strlen(value) >= s->size)
			return cs_err_set(CS_EINVAL, "%s: longer than %zu characters",
			    s->name, s->size - 1);
		memcpy((char *)cfg + s->off, value, strlen(value) + 1);
		return 0;
	}
	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0')
		return cs_err_set(CS_EINVAL, "%s: '%s' is not a whole number",
		    s->name, value);
	if (v < s->min || v > s->max)
		return cs_err_set(CS_EINVAL, "%s: %ld is outside %ld..%ld", s->name,
		    v, s->min, s->max);
	*(long *)((char *)cfg + s->off) = v;
	return 0;
}

void
cs_config_defaults(cs_config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < NSETTINGS; i++)
		(void)apply(cfg, &settings[i], settings[i].def);
}

int
cs_config_is_setting(const char *name)
{
	return find(name) != NULL;
}

int
cs_config_set(cs_config *cfg, const char *name, const char *value)
{
	const struct setting *s = find(name);

	if (s == NULL)
		return cs_err_set(CS_EINVAL, "unknown setting '%s'", name);
	return apply(cfg, s, value);
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
cs_config_load_file(cs_config *cfg, const char *path)
{
	FILE *f = NULL;
	char line[1024], *p, *eq, *hash;
	int lineno = 0, rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		rc = cs_err_set(CS_EIO, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		/* A '#' starts a comment only at the start of a value or line,
		 * so URLs with fragments stay intact. */
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			rc = cs_err_set(CS_EINVAL, "%s:%d: expected 'name = value'",
			    path, lineno);
			goto out;
		}
		*eq = '\0';
		if ((hash = strstr(eq + 1, " #")) != NULL)
			*hash = '\0';
		if ((rc = cs_config_set(cfg, trim(p), trim(eq + 1))) != 0) {
			cs_err_wrap(rc, "%s:%d: ", path, lineno);
			goto out;
		}
	}
out:
	if (f != NULL)
		fclose(f);
	return rc;
}

/* One CORS origin of n bytes: "*" or scheme://host[:port], no path. */
static int
origin_ok(const char *o, size_t n)
{
	size_t scheme = strncmp(o, "https://", 8) == 0 ? 8 :
	    strncmp(o, "http://", 7) == 0 ? 7 : 0;

	if (n == 1 && o[0] == '*')
		return 1;
	return scheme > 0 && n > scheme &&
	    strcspn(o + scheme, "/?# \t,") >= n - scheme;
}

static int
check_lists(const cs_config *cfg)
{
	cs_netlist l;
	const char *p = cfg->cors_origins;
	size_t n;

	if (cs_netlist_parse(cfg->trusted_proxies, &l) != 0)
		return cs_err_wrap(CS_EINVAL, "trusted_proxies: ");
	if (cs_netlist_parse(cfg->metrics_allow, &l) != 0)
		return cs_err_wrap(CS_EINVAL, "metrics_allow: ");
	for (; *(p += strspn(p, ", \t")) != '\0'; p += n) {
		n = strcspn(p, ", \t");
		if (!origin_ok(p, n))
			return cs_err_set(CS_EINVAL, "cors_origins: '%.*s' is not "
			    "* or scheme://host[:port]", (int)(n > 80 ? 80 : n), p);
	}
	return 0;
}

int
cs_config_validate(const cs_config *cfg)
{
	const char *colon = strrchr(cfg->listen, ':');
	char *end;
	long port;
	int rc;

	if (colon == NULL || colon == cfg->listen)
		return cs_err_set(CS_EINVAL, "listen: '%s' is not ADDR:PORT", cfg->listen);
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535)
		return cs_err_set(CS_EINVAL, "listen: port '%s' is not 0..65535", colon + 1);
	if (strncmp(cfg->public_url, "http://", 7) != 0 &&
	    strncmp(cfg->public_url, "https://", 8) != 0)
		return cs_err_set(CS_EINVAL, "public_url: '%s' must start with http:// or https://",
		    cfg->public_url);
	if (cfg->public_url[strlen(cfg->public_url) - 1] == '/')
		return cs_err_set(CS_EINVAL, "public_url: drop the trailing '/'");
	if (strcmp(cfg->qr_form, "url") != 0 && strcmp(cfg->qr_form, "compact") != 0)
		return cs_err_set(CS_EINVAL, "qr_form: '%s' is not url or compact", cfg->qr_form);
	if (strlen(cfg->qr_ecc) != 1 || strchr("LMQHlmqh", cfg->qr_ecc[0]) == NULL)
		return cs_err_set(CS_EINVAL, "qr_ecc: '%s' is not L, M, Q or H", cfg->qr_ecc);
	if ((rc = check_lists(cfg)) != 0)
		return rc;
	/* A record waits up to audit_flush_ms before its commit starts: a
	 * lag no longer than that would refuse reads with nothing wrong. */
	if (!cfg->audit_read_wait && cfg->audit_max_lag_ms <= cfg->audit_flush_ms)
		return cs_err_set(CS_EINVAL, "audit_max_lag_ms: %ld must be more "
		    "than audit_flush_ms (%ld)", cfg->audit_max_lag_ms,
		    cfg->audit_flush_ms);
	return 0;
}

void
cs_config_print_flags(FILE *f, const char *only)
{
	char flag[64];
	size_t i, j;

	for (i = 0; i < NSETTINGS; i++) {
		if (only != NULL && !cs_word_in(only, settings[i].name))
			continue;
		for (j = 0; settings[i].name[j] != '\0' && j < sizeof(flag) - 1; j++)
			flag[j] = settings[i].name[j] == '_' ? '-' : settings[i].name[j];
		flag[j] = '\0';
		fprintf(f, "  --%-20s %s (default: %s)\n", flag, settings[i].help,
		    settings[i].def[0] ? settings[i].def : "\"\"");
	}
}

/* k bytes of s appended to out[0..*len), cut to fit n with its NUL. */
static void
put(char *out, size_t n, size_t *len, const char *s, size_t k)
{
	if (k > n - 1 - *len)
		k = n - 1 - *len;
	memcpy(out + *len, s, k);
	*len += k;
}

/* The length of the user:password@ part that starts the authority at
 * p (just past "://"), and in *colon where its ':' is; 0 when there is
 * no password.  The last '@' of the authority counts: a password may
 * hold '@'. */
static size_t
userinfo_len(const char *p, const char **colon)
{
	size_t end = strcspn(p, "/? \t\n"), i, at = 0;

	for (i = 0; i < end; i++)
		if (p[i] == '@')
			at = i + 1;
	if (at == 0 || (*colon = memchr(p, ':', at - 1)) == NULL)
		return 0;
	return at - 1;
}

void
cs_config_db_shown(const char *db, char *out, size_t n)
{
	const char *p = db, *colon;
	size_t len = 0, u;

	if (n == 0)
		return;
	while (*p != '\0') {
		if (strncmp(p, "://", 3) == 0 &&
		    (u = userinfo_len(p + 3, &colon)) > 0) {
			put(out, n, &len, p, (size_t)(colon + 1 - p));
			put(out, n, &len, "****", 4);
			p += 3 + u;
			continue;
		}
		/* password=... as a URI parameter or a keyword=value pair. */
		if (strncasecmp(p, "password=", 9) == 0 &&
		    (p == db || strchr("?& ", p[-1]) != NULL)) {
			put(out, n, &len, p, 9);
			put(out, n, &len, "****", 4);
			p += 9;
			p += strcspn(p, "& ");
			continue;
		}
		put(out, n, &len, p++, 1);
	}
	out[len] = '\0';
}
