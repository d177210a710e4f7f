/*
 * test_pkcs11: the RFC 7512 URI as crypto/pkcs11.c reads it (white-box:
 * pkcs11_internal.h), the PIN file's checks, and the start-up errors a
 * token load gives without any token (no module, a module that is not
 * there).  Signing in a real token is tests/pkcs11_token_test.py (SoftHSM2).
 */
#define CS_LAYER_CRYPTO 1

#include "check.h"
#include "cs_err.h"
#include "pkcs11.h"
#include "pkcs11_internal.h"
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>

TEST(uri_parse)
{
	cs_p11_uri u;

	CHECK(cs_pkcs11_is_uri("pkcs11:token=a"));
	CHECK(!cs_pkcs11_is_uri("/etc/certsvc/keys"));
	CHECK(!cs_pkcs11_is_uri(NULL));
	CHECK_INT_EQ(cs_p11_uri_parse("pkcs11:token=My%20Token;object=sign;"
	    "id=%01%00%ff;manufacturer=x?pin-source=file:/p&module-path=/m.so",
	    &u), 0);
	CHECK_STR_EQ(u.token, "My Token");
	CHECK_STR_EQ(u.object, "sign");
	CHECK_INT_EQ(u.id_len, 3);
	CHECK(u.id != NULL && memcmp(u.id, "\x01\x00\xff", 3) == 0);
	CHECK_STR_EQ(u.pin_source, "file:/p");
	CHECK_STR_EQ(cs_p11_module(&u, "/other.so"), "/m.so");
	cs_p11_uri_free(&u);

	CHECK_INT_EQ(cs_p11_uri_parse("pkcs11:token=t", &u), 0);
	CHECK(u.object == NULL && u.id == NULL && u.pin_source == NULL);
	CHECK_STR_EQ(cs_p11_module(&u, "/other.so"), "/other.so");
	CHECK(cs_p11_module(&u, "") == NULL);
	cs_p11_uri_free(&u);
}

TEST(uri_refused)
{
	static const struct {
		const char *uri, *why;
	} bad[] = {
		{"pkcs11:object=sign", "name the token"},
		{"pkcs11:token=", "name the token"},
		{"pkcs11:token=t?pin-value=1234", "pin-value is refused"},
		{"pkcs11:token=t%2", "two hex digits"},
		{"pkcs11:token=t%zz", "two hex digits"},
		{"pkcs11:token=t;object", "has no value"},
		{"/etc/keys", "not a PKCS#11 URI"},
	};
	cs_p11_uri u;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT_EQ(cs_p11_uri_parse(bad[i].uri, &u), CS_EINVAL);
		CHECK_CONTAINS(cs_err_msg(), bad[i].why);
		/* The PIN is never repeated in a message. */
		CHECK(strstr(cs_err_msg(), "1234") == NULL);
		cs_p11_uri_free(&u);
	}
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

TEST(pin_file)
{
	cs_p11_uri u;
	char uri[512], *pin = NULL;

	snprintf(uri, sizeof(uri), "pkcs11:token=t?pin-source=file:%s",
	    tpath("pin"));
	write_file(tpath("pin"), "s3cret\nsecond line\n", 0600);
	CHECK_INT_EQ(cs_p11_uri_parse(uri, &u), 0);
	CHECK_INT_EQ(cs_p11_pin_read(&u, &pin), 0);
	CHECK_STR_EQ(pin, "s3cret");
	cs_p11_pin_free(pin);
	pin = NULL;

	chmod(tpath("pin"), 0640);
	CHECK_INT_EQ(cs_p11_pin_read(&u, &pin), CS_EPERM);
	CHECK_CONTAINS(cs_err_msg(), "chmod 600");
	CHECK(pin == NULL && strstr(cs_err_msg(), "s3cret") == NULL);

	write_file(tpath("pin"), "\n", 0600);
	CHECK_INT_EQ(cs_p11_pin_read(&u, &pin), CS_EINVAL);
	unlink(tpath("pin"));
	CHECK_INT_EQ(cs_p11_pin_read(&u, &pin), CS_ENOTFOUND);
	cs_p11_uri_free(&u);

	/* No pin-source: no PIN, no login. */
	CHECK_INT_EQ(cs_p11_uri_parse("pkcs11:token=t", &u), 0);
	CHECK_INT_EQ(cs_p11_pin_read(&u, &pin), 0);
	CHECK(pin == NULL);
	cs_p11_uri_free(&u);
}

TEST(load_errors)
{
	cs_keyring *ring = NULL;

	CHECK_INT_EQ(cs_keyring_load_pkcs11("pkcs11:token=t", NULL, &ring),
	    CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "no module");
	CHECK_INT_EQ(cs_keyring_load_pkcs11("pkcs11:token=t?module-path="
	    "/nonexistent/module.so", NULL, &ring), CS_ENOTFOUND);
	CHECK(ring == NULL);
	CHECK_INT_EQ(cs_pkcs11_keygen("pkcs11:token=t?module-path=/x.so",
	    NULL, CS_ALG_ES256, NULL), CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "object=LABEL");
	CHECK_INT_EQ(cs_pkcs11_keygen("pkcs11:token=t;object=o?module-path="
	    "/x.so", NULL, CS_ALG_EDDSA, NULL), CS_EUNSUPPORTED);
}

int
main(int argc, char **argv)
{
	int rc;

	check_args(argc, argv);
	if (test_dir_make("test_pkcs11") != 0)
		return 1;
	RUN(uri_parse);
	RUN(uri_refused);
	RUN(pin_file);
	RUN(load_errors);
	rc = check_summary();
	rm_tree(test_dir);
	return rc;
}
