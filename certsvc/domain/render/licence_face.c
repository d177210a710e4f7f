/*
 * licence_face.c: the face of a stored licence, for every layer above the
 * render layer that shows one (face.svg, face.png): the type found in the
 * catalog, the QR text asked of the domain, the layout filled by face.c.
 */
#include "face.h"

#include <stdlib.h>

#include "cs_err.h"

int
cs_licence_face_svg(cs_service *svc, const json_t *licence, const char *form,
    const cs_qr_opts *qr, char **out)
{
	const char *type_code;
	const cs_type *type;
	char *text = NULL;
	int rc;

	*out = NULL;
	type_code = json_string_value(json_object_get(licence, "type"));
	if ((type = cs_catalog_find(cs_service_catalog(svc), type_code)) == NULL)
		/* The licence outlived its type in templates/. */
		return cs_err_set(CS_ENOTFOUND, "the catalog has no face layout for "
		    "licence type %s", type_code ? type_code : "?");
	if ((rc = cs_licence_qr_text(svc, licence, form, &text)) == 0)
		rc = cs_face_svg(type, licence, text, qr, out);
	free(text);
	return rc;
}
