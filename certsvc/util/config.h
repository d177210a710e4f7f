/*
 * config: every setting of certsvc, in one table (config.c) that the config
 * file, the command-line flags, `serve --check` and the commented sample
 * keys.example/certsvc.conf (checked against the table by test_config) all
 * follow, so they cannot drift apart; docs/design.md, "Configuration".
 *
 * File format: "name = value" lines, '#' starts a comment, blank lines
 * ignored; names use '_' (flags use '-': --public-url sets public_url).
 * Precedence: built-in default < --config FILE < flags.
 */
#ifndef CS_CONFIG_H
#define CS_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef struct cs_config {
	char db[512];
	char keys[512];
	char templates[512];
	char public_url[256];
	char library_name[65];   /* the subject of the keys' certificates (x509.h) */
	char listen[128];        /* ADDR:PORT; port 0 = any free port */
	char qr_form[16];        /* "url" | "compact" */
	char qr_ecc[4];          /* L M Q H */
	char log_file[512];      /* "" = standard error */
	long rate_limit;         /* public endpoints, requests/s per address; 0 = off */
	long auth_failures;      /* failures an address may make at once; 0 = off */
	long auth_failure_refill; /* seconds until one spent failure comes back */
	long threads;            /* HTTP worker threads */
	long sched_batch;        /* 1: serve runs its threads under SCHED_BATCH */
	long max_body;           /* bytes */
	long max_header;         /* bytes of request headers per connection */
	long max_connections;
	long connection_timeout; /* seconds of inactivity before a connection is closed */
	long tz_offset_minutes;  /* deployment time zone, east of UTC (Asia/Shanghai: 480) */
	long auth_cache_ms;      /* how long an authenticated token is trusted */
	long audit_flush_ms;     /* longest an audit record of a read waits for its group commit */
	long audit_max_lag_ms;   /* oldest an uncommitted read record may be while reads are answered */
	long audit_read_wait;    /* 1: reads wait for their audit record's commit */
	char trusted_proxies[512]; /* netlist.h: peers whose X-Forwarded-For is believed */
	char metrics_allow[512];   /* netlist.h: who may read /metrics */
	char cors_origins[1024];   /* "*", or origins allowed on the public API */
	char problem_base[256];   /* the URI before each problem type's slug */
	long status_list_ttl;      /* seconds from a status list's iat to its exp */
	long status_list_check_ms; /* how often serve asks whether its list is out of date */
	long status_list_refresh_s; /* the longest serve keeps one signed list */
	char pkcs11_module[512];   /* the PKCS#11 module of a keys URI without module-path */
	char webhook_ca_file[512]; /* CA bundle receivers' TLS is checked against ("": the system's) */
	long webhook_timeout_s;    /* a delivery with no answer by then has failed */
	long webhook_retry_max_s;  /* the longest wait between two attempts at one event */
	long webhook_lease_s;      /* a sending lease's life; renewed every third of it */
	long render_concurrency;   /* drawings (face.png, copies) at once; 0: online CPUs */
	long render_wait_ms;       /* longest a drawing waits for its turn before 503 */
} cs_config;

/* Fill cfg with the built-in defaults. */
void cs_config_defaults(cs_config *cfg);
/* Set one setting by name ("public_url" or "public-url") from text; CS_EINVAL
 * naming the setting and the reason for an unknown name or a bad value. */
int cs_config_set(cs_config *cfg, const char *name, const char *value);
/* 1 when name (either spelling) is a setting. */
int cs_config_is_setting(const char *name);
/* Read a config file; errors name the file and line. */
int cs_config_load_file(cs_config *cfg, const char *path);
/* Check cross-setting rules (listen parses, public_url is http(s)://...,
 * the address lists parse, each CORS origin is scheme://host[:port]). */
int cs_config_validate(const cs_config *cfg);
/* The --db setting, or a message quoting one, as it may be shown in a log
 * line, an error or an answer: every URI's password (user:PASSWORD@) and
 * every password= parameter replaced by "****".  out is always
 * terminated; text too long for it is cut. */
void cs_config_db_shown(const char *db, char *out, size_t n);
/* Print "  --name VALUE   help (default: x)" lines for --help texts: every
 * setting, or (only not NULL) those named in only, space-separated. */
void cs_config_print_flags(FILE *f, const char *only);

#endif
