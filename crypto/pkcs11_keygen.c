/*
 * pkcs11_keygen: `certsvc keygen --pkcs11 URI`, a key pair made inside the
 * token with C_GenerateKeyPair (libp11 0.4.12 makes RSA keys only), so the
 * private key is born there and never leaves: CKA_SENSITIVE, not
 * CKA_EXTRACTABLE.  The module is opened with dlopen and finalised before
 * this returns; the CLI does this in its own process, never the server.
 */
#include "pkcs11.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <p11-kit/pkcs11.h>

#include "cs_err.h"
#include "keys_internal.h"
#include "pkcs11_internal.h"

/* DER of the OID prime256v1 (1.2.840.10045.3.1.7), CKA_EC_PARAMS. */
static const unsigned char p256_oid[] = {
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
};

struct p11_lib {
	void *dl;
	CK_FUNCTION_LIST *f;
	CK_SESSION_HANDLE s;
	int initialized, session;
};

static int
ckr(CK_RV rv, const char *what)
{
	return cs_err_set(rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE ?
	    CS_EPERM : CS_EUNAVAIL, "PKCS#11: %s failed (CKR 0x%lx)", what,
	    (unsigned long)rv);
}

/* Token labels are 32 bytes padded with spaces. */
static int
label_is(const unsigned char lab[32], const char *want)
{
	size_t n = strlen(want), i;

	if (n > 32 || memcmp(lab, want, n) != 0)
		return 0;
	for (i = n; i < 32; i++)
		if (lab[i] != ' ')
			return 0;
	return 1;
}

static int
lib_open(const cs_p11_uri *u, const char *module, struct p11_lib *l)
{
	CK_RV (*get)(CK_FUNCTION_LIST **);
	CK_C_INITIALIZE_ARGS args;
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64, i;
	CK_TOKEN_INFO ti;
	CK_RV rv;
	char *pin = NULL;
	int rc = 0;

	if ((l->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return cs_err_set(CS_ENOTFOUND, "PKCS#11: cannot load the module "
		    "%s: %s", module, dlerror());
	*(void **)&get = dlsym(l->dl, "C_GetFunctionList");
	if (get == NULL || get(&l->f) != CKR_OK)
		return cs_err_set(CS_EINVAL, "PKCS#11: %s is not a PKCS#11 module",
		    module);
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	if ((rv = l->f->C_Initialize(&args)) != CKR_OK)
		return ckr(rv, "C_Initialize");
	l->initialized = 1;
	if ((rv = l->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK)
		return ckr(rv, "C_GetSlotList");
	for (i = 0; i < n; i++)
		if (l->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    label_is(ti.label, u->token))
			break;
	if (i == n)
		return cs_err_set(CS_ENOTFOUND, "PKCS#11: no token labelled "
		    "\"%.64s\" in %s", u->token, module);
	if ((rv = l->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, &l->s)) != CKR_OK)
		return ckr(rv, "C_OpenSession");
	l->session = 1;
	if ((rc = cs_p11_pin_read(u, &pin)) != 0)
		return rc;
	if (pin != NULL && (rv = l->f->C_Login(l->s, CKU_USER,
	    (CK_UTF8CHAR *)pin, strlen(pin))) != CKR_OK &&
	    rv != CKR_USER_ALREADY_LOGGED_IN)
		rc = ckr(rv, "C_Login (check the PIN in pin-source)");
	cs_p11_pin_free(pin);
	return rc;
}

static void
lib_close(struct p11_lib *l)
{
	if (l->session)
		l->f->C_CloseSession(l->s);
	if (l->initialized)
		l->f->C_Finalize(NULL);
	if (l->dl != NULL)
		dlclose(l->dl);
}

/* The kid of the new public key from its CKA_EC_POINT (a DER OCTET STRING
 * holding the uncompressed point). */
static int
kid_of(struct p11_lib *l, CK_OBJECT_HANDLE pub, uint8_t kid[CS_KID_LEN])
{
	unsigned char pt[80];
	CK_ATTRIBUTE a = { CKA_EC_POINT, pt, sizeof(pt) };
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	cs_key *key = NULL;
	CK_RV rv;
	int rc = 0;

	if ((rv = l->f->C_GetAttributeValue(l->s, pub, &a, 1)) != CKR_OK)
		return ckr(rv, "reading the public key");
	if (a.ulValueLen != 67 || pt[0] != 0x04 || pt[1] != 65 || pt[2] != 0x04)
		return cs_err_set(CS_ECRYPTO, "PKCS#11: unexpected EC point");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    (char *)"prime256v1", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    pt + 2, 65);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		rc = cs_err_openssl("PKCS#11: reading the new public key");
		goto out;
	}
	if ((rc = cs_key_from_pkey(pkey, &key)) != 0)
		goto out;
	pkey = NULL;
	memcpy(kid, key->kid, CS_KID_LEN);
out:
	cs_key_free(key);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

int
cs_pkcs11_keygen(const char *uri, const char *module, int alg,
    uint8_t kid_out[CS_KID_LEN])
{
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_HANDLE pub, priv;
	struct p11_lib l;
	cs_p11_uri u;
	char id[17];
	const char *mod;
	uint8_t kid[CS_KID_LEN] = {0};
	CK_RV rv;
	int rc;

	memset(&l, 0, sizeof(l));
	if ((rc = cs_p11_uri_parse(uri, &u)) != 0)
		return rc;
	if (alg != CS_ALG_ES256) {
		rc = cs_err_set(CS_EUNSUPPORTED, "PKCS#11: keygen makes ES256 "
		    "keys (P-256); %s is not offered in a token yet",
		    cs_alg_name(alg) ? cs_alg_name(alg) : "this algorithm");
		goto out;
	}
	if (u.object == NULL || *u.object == '\0') {
		rc = cs_err_set(CS_EINVAL, "PKCS#11: keygen needs object=LABEL "
		    "in the URI");
		goto out;
	}
	if ((mod = cs_p11_module(&u, module)) == NULL) {
		rc = cs_err_set(CS_EINVAL, "PKCS#11: no module: give "
		    "module-path in the URI or the pkcs11_module setting");
		goto out;
	}
	if ((rc = lib_open(&u, mod, &l)) != 0)
		goto out;
	/* The creation time as CKA_ID: the loader orders keys by it, as a
	 * key directory's stems order its files. */
	cs_keys_stem_format(time(NULL), id);
	{
		CK_ATTRIBUTE pubt[] = {
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_VERIFY, &yes, sizeof(yes) },
			{ CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid) },
			{ CKA_LABEL, u.object, strlen(u.object) },
			{ CKA_ID, id, 16 },
		};
		CK_ATTRIBUTE privt[] = {
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &yes, sizeof(yes) },
			{ CKA_SENSITIVE, &yes, sizeof(yes) },
			{ CKA_EXTRACTABLE, &no, sizeof(no) },
			{ CKA_SIGN, &yes, sizeof(yes) },
			{ CKA_LABEL, u.object, strlen(u.object) },
			{ CKA_ID, id, 16 },
		};

		rv = l.f->C_GenerateKeyPair(l.s, &mech, pubt,
		    sizeof(pubt) / sizeof(pubt[0]), privt,
		    sizeof(privt) / sizeof(privt[0]), &pub, &priv);
	}
	if (rv != CKR_OK) {
		rc = ckr(rv, "C_GenerateKeyPair");
		goto out;
	}
	if ((rc = kid_of(&l, pub, kid)) != 0)
		goto out;
	if (kid_out != NULL)
		memcpy(kid_out, kid, CS_KID_LEN);
out:
	lib_close(&l);
	cs_p11_uri_free(&u);
	return rc;
}
