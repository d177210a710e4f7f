/*
 * pades: the incremental update and the CMS of a PAdES B-B signature
 * (pades.h).
 *
 * The update adds, after the original bytes (left untouched):
 *   S  the signature dictionary, /Contents a hex placeholder;
 *   W  the signature field, a hidden widget on the first page;
 *   P  the first page again, with /Annots [W];
 *   R  the catalog again, with /AcroForm << /Fields [W] /SigFlags 3 >>;
 * then its cross-reference section and a trailer with /Prev.  The byte
 * range is everything but the hex string of /Contents; it is written in
 * place into a fixed-width slot, then the CMS over it into the
 * placeholder, so no offset moves after the xref is written.
 */
#include "pades.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include "cs_err.h"
#include "digest.h"
#include "encode.h"
#include "sbuf.h"

/* The ByteRange slot: "[0 a b c]" padded with spaces to this width. */
#define BR_WIDTH 40

/* What the original file's last trailer and xref say. */
struct pdf_info {
	size_t xref;      /* offset of its xref section (for /Prev) */
	long size;        /* /Size: the next free object number */
	long root, info;  /* object numbers; info 0 when absent */
	long page;        /* the first page's object number */
};

/* The last occurrence of needle in h[0..n) before end; NULL if none. */
static const char *
rfind(const char *h, size_t end, const char *needle)
{
	size_t m = strlen(needle), i;

	for (i = end >= m ? end - m + 1 : 0; i-- > 0;)
		if (memcmp(h + i, needle, m) == 0)
			return h + i;
	return NULL;
}

/* The integer after name (e.g. "/Size") in the dictionary text d[0..n);
 * -1 when absent. */
static long
dict_int(const char *d, size_t n, const char *name)
{
	const char *p = d, *e = d + n;
	size_t m = strlen(name);

	for (; p + m < e; p++)
		if (memcmp(p, name, m) == 0 && (p[m] == ' ' || p[m] == '\n' ||
		    p[m] == '\r'))
			return strtol(p + m, NULL, 10);
	return -1;
}

/* The offset of object num from the original xref table: one
 * subsection walk ("first count" then 20-byte entries). */
static int
xref_offset(const char *s, size_t len, size_t xref, long num, size_t *off)
{
	const char *p = s + xref + 4, *e = s + len;
	long first, count;
	char *q;

	while (p < e && (*p == '\r' || *p == '\n' || *p == ' '))
		p++;
	while (p < e && *p >= '0' && *p <= '9') {
		first = strtol(p, &q, 10);
		count = strtol(q, &q, 10);
		while (q < e && (*q == '\r' || *q == '\n' || *q == ' '))
			q++;
		if (num >= first && num < first + count) {
			p = q + 20 * (num - first);
			if (p + 20 > e || p[17] != 'n')
				break;
			*off = (size_t)strtoul(p, NULL, 10);
			return *off < len ? 0 : cs_err_set(CS_EINVAL, "PDF: "
			    "object %ld lies past the end", num);
		}
		p = q + 20 * count;
	}
	return cs_err_set(CS_EINVAL, "PDF: object %ld is not in the "
	    "cross-reference table", num);
}

/* The dictionary body of object num: from after "<<" to before its last
 * ">>" before endobj, as [*d, *d + *n). */
static int
object_dict(const char *s, size_t len, const struct pdf_info *pi, long num,
    const char **d, size_t *n)
{
	const char *o, *end, *close;
	size_t off = 0;
	int rc;

	if ((rc = xref_offset(s, len, pi->xref, num, &off)) < 0)
		return rc;
	o = s + off;
	if ((end = strstr(o, "endobj")) == NULL ||
	    (o = strstr(o, "<<")) == NULL || o > end ||
	    (close = rfind(s, (size_t)(end - s), ">>")) == NULL || close < o)
		return cs_err_set(CS_EINVAL, "PDF: object %ld is not a "
		    "dictionary", num);
	*d = o + 2;
	*n = (size_t)(close - o - 2);
	return 0;
}

/* The first page: /Pages of the catalog, then the first of its /Kids. */
static int
first_page(const char *s, size_t len, struct pdf_info *pi)
{
	const char *d, *k;
	size_t n;
	long pages;
	int rc;

	if ((rc = object_dict(s, len, pi, pi->root, &d, &n)) < 0)
		return rc;
	if ((pages = dict_int(d, n, "/Pages")) <= 0)
		return cs_err_set(CS_EINVAL, "PDF: the catalog has no /Pages");
	if ((rc = object_dict(s, len, pi, pages, &d, &n)) < 0)
		return rc;
	if ((k = memmem(d, n, "/Kids", 5)) == NULL ||
	    (k = memchr(k, '[', (size_t)(d + n - k))) == NULL ||
	    (pi->page = strtol(k + 1, NULL, 10)) <= 0)
		return cs_err_set(CS_EINVAL, "PDF: no page in /Kids");
	return 0;
}

static int
pdf_parse(const char *s, size_t len, struct pdf_info *pi)
{
	const char *sx, *tr;

	memset(pi, 0, sizeof(*pi));
	if (len < 64 || memcmp(s, "%PDF-", 5) != 0 || s[len] != '\0')
		return cs_err_set(CS_EINVAL, "PDF: not a PDF file");
	if ((sx = rfind(s, len, "startxref")) == NULL ||
	    (pi->xref = strtoul(sx + 9, NULL, 10)) + 4 > len ||
	    memcmp(s + pi->xref, "xref", 4) != 0)
		return cs_err_set(CS_EINVAL, "PDF: no classic cross-reference "
		    "table to extend");
	if ((tr = rfind(s, (size_t)(sx - s), "trailer")) == NULL)
		return cs_err_set(CS_EINVAL, "PDF: no trailer");
	pi->size = dict_int(tr, (size_t)(sx - tr), "/Size");
	pi->root = dict_int(tr, (size_t)(sx - tr), "/Root");
	pi->info = dict_int(tr, (size_t)(sx - tr), "/Info");
	if (pi->size <= 0 || pi->root <= 0)
		return cs_err_set(CS_EINVAL, "PDF: trailer without /Size or "
		    "/Root");
	if (pi->info < 0)
		pi->info = 0;
	return first_page(s, len, pi);
}

/* "D:YYYYMMDDHHmmSSZ" for /M. */
static void
pdf_date(time_t t, char out[24])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 24, "D:%Y%m%d%H%M%SZ", &tm);
}

/* Object num again: its old dictionary body plus extra. */
static int
rewrite(cs_sbuf *b, const char *s, size_t len, const struct pdf_info *pi,
    long num, const char *extra)
{
	const char *d;
	size_t n;
	int rc;

	if ((rc = object_dict(s, len, pi, num, &d, &n)) < 0)
		return rc;
	if (memmem(d, n, "/Annots", 7) != NULL ||
	    memmem(d, n, "/AcroForm", 9) != NULL)
		return cs_err_set(CS_EINVAL, "PDF: object %ld already has "
		    "annotations or a form", num);
	cs_sb_printf(b, "%ld 0 obj\n<<", num);
	cs_sb_add(b, d, n);
	cs_sb_printf(b, " %s >>\nendobj\n", extra);
	return 0;
}

/* The update's objects and xref; offs[] gets each object's offset and
 * *contents the offset of the placeholder's '<'. */
static int
append_update(cs_sbuf *b, const char *s, size_t len,
    const struct pdf_info *pi, time_t when, size_t *contents, size_t *brslot)
{
	long sig = pi->size, wid = pi->size + 1;
	long nums[4] = {sig, wid, pi->page, pi->root};
	size_t offs[4], xref, i;
	char date[24], extra[96];
	int rc;

	pdf_date(when, date);
	cs_sb_puts(b, "\n");
	offs[0] = b->len;
	cs_sb_printf(b, "%ld 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite "
	    "/SubFilter /ETSI.CAdES.detached /M (%s)\n/ByteRange ", sig, date);
	*brslot = b->len;
	cs_sb_printf(b, "%-*s\n/Contents ", BR_WIDTH, "[]");
	*contents = b->len;
	cs_sb_puts(b, "<");
	for (i = 0; i < 2 * CS_PADES_CMS_MAX; i++)
		cs_sb_puts(b, "0");
	cs_sb_puts(b, "> >>\nendobj\n");
	offs[1] = b->len;
	cs_sb_printf(b, "%ld 0 obj\n<< /Type /Annot /Subtype /Widget /FT /Sig "
	    "/T (Signature1) /V %ld 0 R /F 132 /Rect [0 0 0 0] /P %ld 0 R "
	    ">>\nendobj\n", wid, sig, pi->page);
	offs[2] = b->len;
	snprintf(extra, sizeof(extra), "/Annots [%ld 0 R]", wid);
	if ((rc = rewrite(b, s, len, pi, pi->page, extra)) < 0)
		return rc;
	offs[3] = b->len;
	snprintf(extra, sizeof(extra), "/AcroForm << /Fields [%ld 0 R] "
	    "/SigFlags 3 >>", wid);
	if ((rc = rewrite(b, s, len, pi, pi->root, extra)) < 0)
		return rc;
	xref = b->len;
	cs_sb_puts(b, "xref\n");
	for (i = 0; i < 4; i++)
		cs_sb_printf(b, "%ld 1\n%010zu 00000 n \n", nums[i], offs[i]);
	cs_sb_printf(b, "trailer\n<< /Size %ld /Root %ld 0 R", pi->size + 2,
	    pi->root);
	if (pi->info > 0)
		cs_sb_printf(b, " /Info %ld 0 R", pi->info);
	cs_sb_printf(b, " /Prev %zu >>\nstartxref\n%zu\n%%%%EOF\n", pi->xref,
	    xref);
	return 0;
}

/* One DER encoding of a signed attribute, for sorting. */
struct enc {
	unsigned char *p;
	int n;
};

/* DER orders a SET OF by its elements' encodings (X.690 11.6). */
static int
enc_cmp(const void *a, const void *b)
{
	const struct enc *x = a, *y = b;
	int c = memcmp(x->p, y->p, (size_t)(x->n < y->n ? x->n : y->n));

	return c != 0 ? c : x->n - y->n;
}

/* The DER of si's signed attributes as a SET (tag 0x31), which is what
 * the signature covers (RFC 5652 5.4); *out OPENSSL_malloc'd. */
static int
signed_attrs_der(CMS_SignerInfo *si, unsigned char **out, size_t *len)
{
	int i, n = CMS_signed_get_attr_count(si);
	struct enc e[8];
	size_t body = 0, off;
	unsigned char *p;
	int rc = 0;

	if (n <= 0 || n > 8)
		return cs_err_set(CS_ECRYPTO, "unexpected signed attributes");
	memset(e, 0, sizeof(e));
	for (i = 0; i < n; i++) {
		if ((e[i].n = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i),
		    &e[i].p)) <= 0) {
			rc = cs_err_openssl("encoding a signed attribute");
			goto out;
		}
		body += (size_t)e[i].n;
	}
	qsort(e, (size_t)n, sizeof(e[0]), enc_cmp);
	/* Tag, then the length in DER's shortest form: one byte below 128,
	 * else 0x81 or 0x82 and the bytes (a few hundred at most). */
	if (body > 0xffff || (p = OPENSSL_malloc(body + 4)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	p[0] = 0x31;
	if (body < 128) {
		p[1] = (unsigned char)body;
		off = 2;
	} else if (body < 256) {
		p[1] = 0x81;
		p[2] = (unsigned char)body;
		off = 3;
	} else {
		p[1] = 0x82;
		p[2] = (unsigned char)(body >> 8);
		p[3] = (unsigned char)body;
		off = 4;
	}
	for (i = 0; i < n; off += (size_t)e[i].n, i++)
		memcpy(p + off, e[i].p, (size_t)e[i].n);
	*out = p;
	*len = off;
out:
	for (i = 0; i < n; i++)
		OPENSSL_free(e[i].p);
	return rc;
}

/*
 * Sign si by hand: content type and message digest added here, then the
 * signature over the sorted attributes set into si.  CMS_final (through
 * CMS_SignerInfo_sign) would add a signing-time attribute that PAdES
 * baseline forbids (EN 319 142-1 5.2.1: the time is the dictionary's /M),
 * and offers no flag to leave it out.
 */
static int
sign_attrs(CMS_SignerInfo *si, const cs_key *key, const uint8_t *data,
    size_t n)
{
	unsigned char md[CS_SHA256_LEN], *attrs = NULL, *sig = NULL;
	size_t alen = 0, slen = 0;
	EVP_MD_CTX *ctx = NULL;
	int rc = 0;

	if (cs_sha256(data, n, md) != 0 ||
	    !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType,
	    V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data), -1) ||
	    !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest,
	    V_ASN1_OCTET_STRING, md, sizeof(md))) {
		rc = cs_err_openssl("adding the signed attributes");
		goto out;
	}
	if ((rc = signed_attrs_der(si, &attrs, &alen)) < 0)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &slen, attrs, alen) != 1 ||
	    (sig = OPENSSL_malloc(slen)) == NULL ||
	    EVP_DigestSign(ctx, sig, &slen, attrs, alen) != 1 ||
	    ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig,
	    (int)slen) != 1)
		rc = cs_err_openssl("signing the attributes");
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(attrs);
	OPENSSL_free(sig);
	return rc;
}

/* The detached CMS over the two ranges of p: the signer's certificate,
 * SHA-256, ESS signing-certificate-v2 (CMS_CADES), no signing time. */
static int
cms_over(const uint8_t *p, const size_t br[4], const cs_key *key,
    uint8_t **der, size_t *der_len)
{
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	uint8_t *data = NULL;
	unsigned char *d = NULL;
	unsigned int fl = CMS_BINARY | CMS_DETACHED | CMS_PARTIAL;
	int n, rc = 0;

	if (key->alg != CS_ALG_ES256)
		return cs_err_set(CS_EUNSUPPORTED, "copies are signed with an "
		    "ES256 key (ECDSA P-256); the active key is %s",
		    cs_alg_name(key->alg));
	if ((data = malloc(br[1] + br[3] + 1)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	memcpy(data, p, br[1]);
	memcpy(data + br[1], p + br[2], br[3]);
	if ((cms = CMS_sign(NULL, NULL, NULL, NULL, fl)) == NULL ||
	    (si = CMS_add1_signer(cms, key->cert, key->pkey, EVP_sha256(),
	    fl | CMS_NOSMIMECAP | CMS_CADES)) == NULL) {
		rc = cs_err_openssl("making the CMS signature");
		goto out;
	}
	if ((rc = sign_attrs(si, key, data, br[1] + br[3])) < 0)
		goto out;
	if ((n = i2d_CMS_ContentInfo(cms, &d)) <= 0) {
		rc = cs_err_openssl("encoding the CMS signature");
		goto out;
	}
	if ((size_t)n > CS_PADES_CMS_MAX) {
		rc = cs_err_set(CS_ETOOBIG, "the CMS signature is %d bytes, over "
		    "the %d kept for it", n, CS_PADES_CMS_MAX);
		goto out;
	}
	if ((*der = malloc((size_t)n)) == NULL) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(*der, d, (size_t)n);
	*der_len = (size_t)n;
out:
	OPENSSL_free(d);
	CMS_ContentInfo_free(cms);
	free(data);
	return rc;
}

/* Fill the ByteRange slot and the /Contents placeholder of b (the hex of
 * the DER, then the placeholder's zeros, which a DER reader ignores). */
static int
seal(cs_sbuf *b, size_t contents, size_t brslot, const cs_key *key)
{
	size_t br[4], n = 0;
	uint8_t *der = NULL;
	char slot[BR_WIDTH + 1], *hex = NULL;
	int rc;

	br[0] = 0;
	br[1] = contents;
	br[2] = contents + 2 + 2 * CS_PADES_CMS_MAX;
	br[3] = b->len - br[2];
	snprintf(slot, sizeof(slot), "[0 %zu %zu %zu]", br[1], br[2], br[3]);
	memset(b->p + brslot, ' ', BR_WIDTH);
	memcpy(b->p + brslot, slot, strlen(slot));
	if ((rc = cms_over((const uint8_t *)b->p, br, key, &der, &n)) == 0 &&
	    (rc = cs_hex_encode(der, n, &hex)) == 0)
		memcpy(b->p + contents + 1, hex, 2 * n);
	free(der);
	free(hex);
	return rc;
}

int
cs_pades_sign(const uint8_t *pdf, size_t len, const cs_key *key,
    time_t when, uint8_t **out, size_t *out_len)
{
	struct pdf_info pi;
	cs_sbuf b = CS_SBUF_INIT;
	size_t contents = 0, brslot = 0;
	char *src = NULL;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (key == NULL || !key->has_private || key->cert == NULL)
		return cs_err_set(CS_EINVAL, "signing a PDF needs a private key "
		    "with its certificate");
	/* The parser reads a copy with a terminating NUL, so its string
	 * searches stop at the end; the output grows (and moves) apart. */
	if ((src = malloc(len + 1)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	memcpy(src, pdf, len);
	src[len] = '\0';
	cs_sb_add(&b, pdf, len);
	if ((rc = pdf_parse(src, len, &pi)) < 0 ||
	    (rc = append_update(&b, src, len, &pi, when, &contents,
	    &brslot)) < 0)
		goto out;
	if (b.failed) {
		rc = cs_err_set(CS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = seal(&b, contents, brslot, key)) < 0)
		goto out;
	*out = (uint8_t *)b.p;
	*out_len = b.len;
	b.p = NULL;
out:
	free(src);
	cs_sb_free(&b);
	return rc;
}

int
cs_pades_find(const uint8_t *pdf, size_t len, size_t br[4], uint8_t **cms,
    size_t *cms_len)
{
	const char *s = (const char *)pdf, *p;
	const unsigned char *q;
	CMS_ContentInfo *ci;
	uint8_t *der = NULL;
	size_t i, n = 0;
	char *e;
	int rc;

	*cms = NULL;
	*cms_len = 0;
	if ((p = rfind(s, len, "/ByteRange [")) == NULL)
		return cs_err_set(CS_ENOTFOUND, "PDF: no signature");
	p += 12;
	for (i = 0; i < 4; i++, p = e)
		br[i] = strtoul(p, &e, 10);
	if (br[0] != 0 || br[1] >= br[2] || br[2] + br[3] != len ||
	    pdf[br[1]] != '<' || pdf[br[2] - 1] != '>')
		return cs_err_set(CS_EINVAL, "PDF: the byte range does not "
		    "frame /Contents");
	if ((rc = cs_hex_decode(s + br[1] + 1, br[2] - br[1] - 2, &der,
	    &n)) != 0)
		return cs_err_wrap(rc, "PDF: /Contents: ");
	/* The DER ends where the CMS does; the zeros after it are padding. */
	q = der;
	if ((ci = d2i_CMS_ContentInfo(NULL, &q, (long)n)) == NULL) {
		free(der);
		return cs_err_openssl("PDF: /Contents is not a CMS");
	}
	CMS_ContentInfo_free(ci);
	*cms = der;
	*cms_len = (size_t)(q - der);
	return 0;
}
