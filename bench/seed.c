/*
 * seed: fill a benchmark database with real licences (bench/README.md).
 *
 * Every licence goes through cs_issue(), as an HTTP issuance would: the
 * request is validated against its type, numbered, its claims built and
 * signed with the key directory's active key, and it is stored with its
 * audit record.  Only the transactions differ: ISSUANCES are wrapped, a
 * batch at a time, in one outer store transaction (nested transactions,
 * store.h), so a million licences cost a thousand disk syncs, not a million.
 *
 * The licences cycle through the sample requests of docs/examples (one per
 * type of the shipped catalog).  Organisations hold four licences each, of
 * different types; the training certificate is held by a natural person
 * (RID), one each.  Holder names and codes, approval references and, for
 * the pollutant discharge permit, the licence numbers are made unique.
 *
 * It also writes, into DIR/sample/, what the benchmark's requests need:
 *   ids.txt          licence ids, spread evenly over the database
 *   holders.txt      organisation holder codes, likewise
 *   qr_url.txt       QR texts of the url form, likewise
 *   qr_compact.txt   QR texts of the compact form, likewise
 *   new_holders.txt  valid holder codes not in the database (issuance)
 *   issue.json       an issuance request to vary (issuance)
 * and DIR/tokens.env: BENCH_ISSUER_TOKEN=..., BENCH_READER_TOKEN=...
 *
 * Usage: seed --dir DIR --count N --templates DIR --examples DIR
 *             [--public-url URL] [--batch 1000] [--sample 20000]
 *             [--part K/P] [--db URI]
 * DIR/keys must hold a signing key (certsvc keygen); DIR/certsvc.db is
 * created, or with --db the store that URI names (a postgresql:// URI: the
 * store picks the backend, as certsvc serve --db does).  --part K/P issues only the K-th of P equal slices of the N
 * licences (holders, references and samples as in the whole run), so that
 * P processes can seed in parallel into P databases that bench/merge.py
 * then joins (bench/run.sh does this for large counts).
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "codes.h"
#include "config.h"
#include "cs_err.h"
/* The seeder commits its issuances many to a transaction, which only the
 * domain's own writer thread does: it reaches the store as the domain's
 * files do. */
/* White-box: batches many licences in one store transaction. */
#define CS_LAYER_DOMAIN
#include "service_internal.h"

#define ISSUER_CODE "11440000006939756B"
#define ISSUER_NAME "广东省生态环境厅"
#define PER_HOLDER 4
#define MAX_TYPES 16

struct sample_files {
	FILE *ids, *holders, *url, *compact;
};

static const char *const name_stems[] = {
	"深圳市%s精密制造有限公司", "广州市%s环保科技有限公司",
	"东莞市%s新材料股份有限公司", "佛山市%s医疗器械有限公司",
	"珠海市%s人民医院", "惠州市%s化工有限公司",
};
static const char *const name_parts[] = {
	"华", "粤", "南", "海", "新", "恒", "瑞", "达", "鑫", "源", "康", "泰",
	"宏", "信", "安", "盛",
};
static const char *const person_names[] = {
	"刘洋", "陈静", "张伟", "王芳", "李娜", "黄磊", "赵敏", "周杰",
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "seed: %s: %s\n", what, cs_err_msg());
	exit(1);
}

/* A valid USCC for organisation number h: 91 440300 + 9 digits + check. */
static void
org_code(long h, char out[CS_USCC_LEN + 1])
{
	snprintf(out, CS_USCC_LEN + 1, "91440300%09ld", h);
	out[17] = cs_uscc_check_char(out);
	out[18] = '\0';
}

/* A valid resident ID for person p: area 440304, a birth date from p, a
 * sequence number, the check character. */
static void
person_code(long p, char out[CS_RID_LEN + 1])
{
	int y = 1950 + (int)(p % 50), m = 1 + (int)(p / 50 % 12);
	int d = 1 + (int)(p / 600 % 28), seq = (int)(p / 16800 % 1000);

	snprintf(out, CS_RID_LEN + 1, "440304%04d%02d%02d%03d0", y, m, d, seq);
	out[17] = cs_rid_check_char(out);
	out[18] = '\0';
}

static void
org_name(long h, char *out, size_t n)
{
	char part[16];

	snprintf(part, sizeof(part), "%s%s", name_parts[h % 16],
	    name_parts[h / 16 % 16]);
	snprintf(out, n, name_stems[h / 256 % 6], part);
}

/* The sample requests of docs/examples, one per type. */
static size_t
load_examples(const char *dir, json_t **reqs)
{
	struct dirent *e;
	json_error_t err;
	char path[1024];
	size_t n = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "seed: %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	while ((e = readdir(d)) != NULL && n < MAX_TYPES) {
		if (strncmp(e->d_name, "issue-", 6) != 0 ||
		    strstr(e->d_name, ".json") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((reqs[n] = json_load_file(path, 0, &err)) == NULL) {
			fprintf(stderr, "seed: %s: %s\n", path, err.text);
			exit(1);
		}
		n++;
	}
	closedir(d);
	/* A fixed order whatever readdir gives. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(json_string_value(json_object_get(
		    reqs[j - 1], "type")), json_string_value(json_object_get(reqs[j],
		    "type"))) > 0; j--) {
			json_t *t = reqs[j];
			reqs[j] = reqs[j - 1];
			reqs[j - 1] = t;
		}
	return n;
}

static int
is_person(const json_t *req)
{
	return strcmp(json_string_value(json_object_get(json_object_get(req,
	    "holder"), "code_type")), "RID") == 0;
}

static FILE *
open_out(const char *dir, const char *name)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "seed: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return f;
}

int
main(int argc, char **argv)
{
	const char *dir = NULL, *templates = NULL, *examples = NULL;
	const char *public_url = "http://127.0.0.1:8080", *db = NULL;
	long count = 0, batch = 1000, sample = 20000, i, first, last;
	long part = 0, parts = 1, person_at = -1;
	char issuer_code[CS_USCC_LEN + 1];
	long every, in_batch = 0, h;
	json_t *reqs[MAX_TYPES];
	size_t n_types, k;
	cs_service *svc = NULL;
	cs_client *issuer = NULL;
	cs_actor who;
	cs_config cfg;
	cs_problems probs = CS_PROBLEMS_INIT;
	struct sample_files sf;
	char path[1024], code[CS_USCC_LEN + 1], name[160], ref[64], number[64];
	char *tok_issuer = NULL, *tok_reader = NULL, *compact = NULL;
	double t0, t1;
	FILE *f;
	int a;

	for (a = 1; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--dir") == 0)
			dir = argv[a + 1];
		else if (strcmp(argv[a], "--count") == 0)
			count = atol(argv[a + 1]);
		else if (strcmp(argv[a], "--templates") == 0)
			templates = argv[a + 1];
		else if (strcmp(argv[a], "--examples") == 0)
			examples = argv[a + 1];
		else if (strcmp(argv[a], "--public-url") == 0)
			public_url = argv[a + 1];
		else if (strcmp(argv[a], "--db") == 0)
			db = argv[a + 1];
		else if (strcmp(argv[a], "--batch") == 0)
			batch = atol(argv[a + 1]);
		else if (strcmp(argv[a], "--sample") == 0)
			sample = atol(argv[a + 1]);
		else if (strcmp(argv[a], "--part") == 0) {
			if (sscanf(argv[a + 1], "%ld/%ld", &part, &parts) != 2)
				break;
		}
		else
			break;
	}
	if (a != argc || dir == NULL || templates == NULL || examples == NULL ||
	    count <= 0 || batch <= 0 || sample <= 0 || parts < 1 || part < 0 ||
	    part >= parts) {
		fprintf(stderr, "usage: seed --dir DIR --count N --templates DIR "
		    "--examples DIR [--public-url URL] [--batch N] [--sample N] "
		    "[--part K/P] [--db URI]\n");
		return 2;
	}
	/* As certsvc's main() does (certsvc/cli/main.c). */
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	if ((n_types = load_examples(examples, reqs)) == 0) {
		fprintf(stderr, "seed: no issue-*.json in %s\n", examples);
		return 1;
	}
	for (k = 0; k < n_types; k++)
		if (is_person(reqs[k]))
			person_at = (long)k;

	cs_config_defaults(&cfg);
	snprintf(path, sizeof(path), "%s/certsvc.db", dir);
	if (cs_config_set(&cfg, "db", db != NULL ? db : path) != 0)
		die("db");
	snprintf(path, sizeof(path), "%s/keys", dir);
	if (cs_config_set(&cfg, "keys", path) != 0 ||
	    cs_config_set(&cfg, "templates", templates) != 0 ||
	    cs_config_set(&cfg, "public_url", public_url) != 0)
		die("config");
	if (cs_service_open(&cfg, 1, &svc) != 0)
		die("open");
	/* Serials are per type and issuing authority, counted in each
	 * database: slices seeded apart would give the same ids, so slice K
	 * issues for an authority of its own (slice 0, the one the issuance
	 * scenario continues, for ISSUER_CODE). */
	if (part == 0)
		snprintf(issuer_code, sizeof(issuer_code), "%s", ISSUER_CODE);
	else {
		snprintf(issuer_code, sizeof(issuer_code), "1144000000694%04ld",
		    part % 10000);
		issuer_code[17] = cs_uscc_check_char(issuer_code);
		issuer_code[18] = '\0';
	}
	if (cs_client_create(svc, "bench-issuer", "issuer", &tok_issuer) != 0 ||
	    cs_client_grant(svc, "bench-issuer", "*", issuer_code,
	    ISSUER_NAME) != 0 ||
	    cs_client_create(svc, "bench-reader", "reader", &tok_reader) != 0 ||
	    cs_client_grant(svc, "bench-reader", "*", NULL, NULL) != 0)
		die("clients");
	if (cs_client_get(svc, "bench-issuer", &issuer) != 0)
		die("client");
	f = open_out(dir, "tokens.env");
	fprintf(f, "BENCH_ISSUER_TOKEN=%s\nBENCH_READER_TOKEN=%s\n", tok_issuer,
	    tok_reader);
	fclose(f);

	snprintf(path, sizeof(path), "%s/sample", dir);
	mkdir(path, 0755);
	sf.ids = open_out(path, "ids.txt");
	sf.holders = open_out(path, "holders.txt");
	sf.url = open_out(path, "qr_url.txt");
	sf.compact = open_out(path, "qr_compact.txt");
	every = count / sample > 0 ? count / sample : 1;

	memset(&who, 0, sizeof(who));
	who.client = issuer;
	who.remote = "seed";
	who.request_id = "seed";
	t0 = t1 = now_s();
	first = count / parts * part;
	last = part + 1 == parts ? count : count / parts * (part + 1);
	for (i = first; i < last; i++) {
		json_t *req = json_deep_copy(reqs[i % (long)n_types]), *lic = NULL;
		json_t *holder = json_object_get(req, "holder");
		long r = i % (long)n_types, cyc = i / (long)n_types;
		int created = 0, person = r == person_at;

		/* The i-th licence's holder, whichever slice issues it: the
		 * person ordinal, or the organisation ordinal / PER_HOLDER. */
		if (person) {
			h = cyc;
			person_code(h, code);
			snprintf(name, sizeof(name), "%s", person_names[h % 8]);
		} else {
			h = (cyc * ((long)n_types - (person_at >= 0)) +
			    (person_at >= 0 && r > person_at ? r - 1 : r)) / PER_HOLDER;
			org_code(h, code);
			org_name(h, name, sizeof(name));
		}
		json_object_set_new(holder, "code", json_string(code));
		json_object_set_new(holder, "name", json_string(name));
		snprintf(ref, sizeof(ref), "SEED-%08ld", i);
		json_object_set_new(req, "approval_ref", json_string(ref));
		if (json_object_get(req, "number") != NULL) {
			snprintf(number, sizeof(number), "%s%03ldP", code, i % 1000);
			json_object_set_new(req, "number", json_string(number));
		}
		if (in_batch == 0 && cs_store_begin(svc->store) != 0)
			die("begin");
		if (cs_issue(svc, &who, req, &lic, &created, &probs) != 0 ||
		    !created) {
			for (k = 0; k < probs.n; k++)
				fprintf(stderr, "seed: %s: %s\n", probs.items[k].field,
				    probs.items[k].message);
			die("issue");
		}
		if (i % every == 0) {
			fprintf(sf.ids, "%s\n", json_string_value(json_object_get(lic,
			    "id")));
			fprintf(sf.url, "%s\n", json_string_value(json_object_get(lic,
			    "qr_text")));
			if (cs_licence_qr_text(svc, lic, "compact", &compact) != 0)
				die("compact");
			fprintf(sf.compact, "%s\n", compact);
			free(compact);
			if (!person)
				fprintf(sf.holders, "%s\n", code);
		}
		json_decref(lic);
		json_decref(req);
		if (++in_batch == batch || i + 1 == last) {
			if (cs_store_commit(svc->store) != 0)
				die("commit");
			in_batch = 0;
		}
		if (now_s() - t1 >= 10) {
			t1 = now_s();
			fprintf(stderr, "seed %ld/%ld: %ld of %ld (%.0f/s)\n", part,
			    parts, i + 1 - first, last - first,
			    (double)(i + 1 - first) / (t1 - t0));
		}
	}
	fclose(sf.ids);
	fclose(sf.holders);
	fclose(sf.url);
	fclose(sf.compact);

	/* Holders the database does not know, for issuances. */
	f = open_out(path, "new_holders.txt");
	for (h = 0; h < 2000; h++) {
		org_code(900000000L + h, code);
		fprintf(f, "%s\n", code);
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/sample/issue.json", dir);
	for (k = 0; k < n_types && is_person(reqs[k]); k++)
		;
	if (json_dump_file(reqs[k], path, JSON_COMPACT) != 0)
		die("issue.json");
	printf("seeded %ld licences in %.1f s (%.0f/s)\n", last - first,
	    now_s() - t0, (double)(last - first) / (now_s() - t0));
	for (k = 0; k < n_types; k++)
		json_decref(reqs[k]);
	cs_problems_reset(&probs);
	cs_client_free(issuer);
	free(tok_issuer);
	free(tok_reader);
	cs_service_close(svc);
	return 0;
}
