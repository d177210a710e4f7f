/*
 * test_pades: crypto/pades.c against OpenSSL's own CMS verification: a
 * small classic PDF made here is signed; the byte range frames exactly the
 * /Contents hex string; the CMS found there verifies over that range with
 * the key's certificate, carries the ESS signing-certificate-v2 attribute
 * and SHA-256; one byte changed inside the range makes it fail; the
 * original bytes are kept as the update's prefix.
 */
#include <openssl/cms.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cs_err.h"
#include "keys.h"
#include "pades.h"
#include "x509.h"

/* A one-page PDF with a classic xref, offsets computed as it is written. */
static size_t
tiny_pdf(char *out, size_t cap)
{
	static const char *objs[] = {
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [ 3 0 R ] /Count 1 >>",
		"<< /Type /Page % 1\n /Parent 2 0 R /MediaBox [0 0 200 100] >>",
	};
	size_t off[3], n, i, xref;

	n = (size_t)snprintf(out, cap, "%%PDF-1.5\n%%\xe2\xe3\xcf\xd3\n");
	for (i = 0; i < 3; i++) {
		off[i] = n;
		n += (size_t)snprintf(out + n, cap - n, "%zu 0 obj\n%s\nendobj\n",
		    i + 1, objs[i]);
	}
	xref = n;
	n += (size_t)snprintf(out + n, cap - n, "xref\n0 4\n0000000000 65535 f \n");
	for (i = 0; i < 3; i++)
		n += (size_t)snprintf(out + n, cap - n, "%010zu 00000 n \n",
		    off[i]);
	n += (size_t)snprintf(out + n, cap - n, "trailer\n<< /Size 4 /Root 1 0 R "
	    ">>\nstartxref\n%zu\n%%%%EOF\n", xref);
	return n;
}

static cs_key *
signer(void)
{
	cs_key *k = NULL;

	CHECK_INT_EQ(cs_key_generate(CS_ALG_ES256, &k), 0);
	CHECK_INT_EQ(cs_x509_make(k, "test library", k->created, &k->cert), 0);
	return k;
}

/* CMS_verify over the byte range of pdf, trusting nothing but checking the
 * signature itself (the certificate is self-issued). */
static int
verifies(const uint8_t *pdf, size_t len, int *has_v2)
{
	size_t br[4];
	uint8_t *der = NULL, *data;
	const unsigned char *q;
	CMS_ContentInfo *cms;
	BIO *in;
	int ok;

	if (cs_pades_find(pdf, len, br, &der, &len) != 0)
		return 0;
	q = der;
	cms = d2i_CMS_ContentInfo(NULL, &q, (long)len);
	data = malloc(br[1] + br[3]);
	memcpy(data, pdf, br[1]);
	memcpy(data + br[1], pdf + br[2], br[3]);
	in = BIO_new_mem_buf(data, (int)(br[1] + br[3]));
	ok = cms != NULL && CMS_verify(cms, NULL, NULL, in, NULL,
	    CMS_BINARY | CMS_DETACHED | CMS_NO_SIGNER_CERT_VERIFY) == 1;
	if (cms != NULL && has_v2 != NULL) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(
		    CMS_get0_SignerInfos(cms), 0);

		/* PAdES baseline: signing-certificate-v2, and no
		 * signing-time (the time is the dictionary's /M). */
		*has_v2 = CMS_signed_get_attr_by_NID(si,
		    NID_id_smime_aa_signingCertificateV2, -1) >= 0 &&
		    CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime,
		    -1) < 0;
	}
	BIO_free(in);
	free(data);
	CMS_ContentInfo_free(cms);
	free(der);
	return ok;
}

TEST(sign_and_verify)
{
	char pdf[1024];
	size_t n = tiny_pdf(pdf, sizeof(pdf)), len = 0, br[4];
	uint8_t *out = NULL, *der = NULL;
	cs_key *k = signer();
	int v2 = 0;

	CHECK_INT_EQ(cs_pades_sign((const uint8_t *)pdf, n, k, 1764900000,
	    &out, &len), 0);
	CHECK(out != NULL && len > n);
	if (out == NULL)
		goto out;
	CHECK(memcmp(out, pdf, n) == 0);
	CHECK(verifies(out, len, &v2));
	CHECK(v2);
	CHECK_INT_EQ(cs_pades_find(out, len, br, &der, &n), 0);
	CHECK(br[0] == 0 && br[2] + br[3] == len && out[br[1]] == '<' &&
	    out[br[2] - 1] == '>');
	CHECK(memmem(out, len, "/SubFilter /ETSI.CAdES.detached", 31) != NULL);
	CHECK(memmem(out, len, "/AcroForm << /Fields [5 0 R] /SigFlags 3 >>",
	    43) != NULL);
	CHECK(memmem(out, len, "/Annots [5 0 R]", 15) != NULL);
	CHECK(memmem(out, len, "/Prev ", 6) != NULL);
	/* One byte changed before the signature, then one after it. */
	out[20] ^= 1;
	CHECK(!verifies(out, len, NULL));
	out[20] ^= 1;
	out[len - 8] ^= 1;
	CHECK(!verifies(out, len, NULL));
out:
	free(der);
	free(out);
	cs_key_free(k);
}

TEST(refusals)
{
	char pdf[1024];
	size_t n = tiny_pdf(pdf, sizeof(pdf)), len = 0;
	uint8_t *out = NULL;
	cs_key *k = signer(), *bare = NULL;

	CHECK_INT_EQ(cs_pades_sign((const uint8_t *)"%PDF-1.5\nnothing", 16, k,
	    0, &out, &len), CS_EINVAL);
	/* No xref table where startxref points. */
	memcpy(strstr(pdf, "xref\n0 4"), "yref", 4);
	CHECK_INT_EQ(cs_pades_sign((const uint8_t *)pdf, n, k, 0, &out, &len),
	    CS_EINVAL);
	CHECK(out == NULL);
	n = tiny_pdf(pdf, sizeof(pdf));
	CHECK_INT_EQ(cs_key_generate(CS_ALG_ES256, &bare), 0);
	CHECK_INT_EQ(cs_pades_sign((const uint8_t *)pdf, n, bare, 0, &out,
	    &len), CS_EINVAL);
	cs_key_free(bare);
	/* Copies are ECDSA P-256 (SPEC §12): another algorithm is refused. */
	CHECK_INT_EQ(cs_key_generate(CS_ALG_EDDSA, &bare), 0);
	CHECK_INT_EQ(cs_x509_make(bare, "lib", 0, &bare->cert), 0);
	CHECK_INT_EQ(cs_pades_sign((const uint8_t *)pdf, n, bare, 0, &out,
	    &len), CS_EUNSUPPORTED);
	cs_key_free(bare);
	cs_key_free(k);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(sign_and_verify);
	RUN(refusals);
	return check_summary();
}
