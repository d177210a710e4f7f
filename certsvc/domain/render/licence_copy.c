/*
 * licence_copy.c: the signed PDF of an annotated copy of a stored licence
 * (加注件, SPEC §12): its face (licence_face.c), its issuing authority's
 * seal from <templates>/seals/<issuer code>.svg when there is one, the
 * marks, drawn by copy_pdf.c and signed by crypto/pades.c with the
 * library's active key and its certificate.
 */
#include "licence_copy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_err.h"
#include "face.h"
#include "pades.h"

/* A seal file is a small drawing; anything larger is not one. */
#define SEAL_MAX (512 * 1024)

/* The path is built from the licence's issuer code, an 18-character USCC
 * checked here again (nothing else may make a path), under the operator's
 * templates directory. */
static int
seal_load(const char *templates, const char *code, char **out, size_t *len)
{
	char path[700];
	FILE *f = NULL;
	char *b = NULL;
	size_t i, n;

	*out = NULL;
	*len = 0;
	if (code == NULL || strlen(code) != 18)
		return 0;
	for (i = 0; i < 18; i++)
		if (!((code[i] >= '0' && code[i] <= '9') ||
		    (code[i] >= 'A' && code[i] <= 'Z')))
			return 0;
	snprintf(path, sizeof(path), "%s/seals/%s.svg", templates, code);
	if ((f = fopen(path, "rb")) == NULL)
		return 0;
	if ((b = malloc(SEAL_MAX + 1)) == NULL) {
		fclose(f);
		return cs_err_set(CS_ENOMEM, "out of memory");
	}
	n = fread(b, 1, SEAL_MAX + 1, f);
	fclose(f);
	if (n == 0 || n > SEAL_MAX) {
		free(b);
		return cs_err_set(CS_EINVAL, "the seal of %s is empty or over "
		    "%d bytes", code, SEAL_MAX);
	}
	b[n] = '\0';
	*out = b;
	*len = n;
	return 0;
}

int
cs_licence_copy_pdf(cs_service *svc, const json_t *licence,
    const cs_copy_marks *marks, const cs_qr_opts *qr, time_t now,
    uint8_t **pdf, size_t *len)
{
	const cs_keyring *ring;
	const json_t *issuer = json_object_get(licence, "issuer");
	cs_copy_marks m = *marks;
	char *face = NULL, *seal = NULL;
	uint8_t *page = NULL;
	size_t page_len = 0;
	int rc;

	*pdf = NULL;
	*len = 0;
	m.issuer_name = json_string_value(json_object_get(issuer, "name"));
	if ((rc = seal_load(cs_service_config(svc)->templates,
	    json_string_value(json_object_get(issuer, "code")), &seal,
	    &m.seal_len)) < 0)
		goto out;
	m.seal_svg = seal;
	if ((rc = cs_licence_face_svg(svc, licence, NULL, qr, &face)) < 0 ||
	    (rc = cs_copy_pdf(face, strlen(face), &m, &page, &page_len)) < 0)
		goto out;
	/* Held while it signs: a reload (SIGHUP) waits for it. */
	ring = cs_service_keys_hold(svc);
	if (ring == NULL || ring->active == NULL || ring->active->cert == NULL)
		rc = cs_err_set(CS_EUNAVAIL, "no signing key with a "
		    "certificate to sign copies");
	else
		rc = cs_pades_sign(page, page_len, ring->active, now, pdf, len);
	cs_service_keys_release(svc);
out:
	free(face);
	free(seal);
	free(page);
	return rc;
}
