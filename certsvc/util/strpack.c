/* strpack.c: strings packed behind their struct (strpack.h). */
#include "strpack.h"

#include <string.h>

size_t
cs_strpack_size(const char *const *src, size_t n)
{
	size_t i, total = 0;

	for (i = 0; i < n; i++)
		total += src[i] != NULL ? strlen(src[i]) + 1 : 0;
	return total;
}

void
cs_strpack(const char *const *src, char **const *dst, size_t n, char *p)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		if (src[i] == NULL) {
			*dst[i] = NULL;
			continue;
		}
		len = strlen(src[i]) + 1;
		*dst[i] = memcpy(p, src[i], len);
		p += len;
	}
}
