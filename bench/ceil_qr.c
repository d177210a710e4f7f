/*
 * ceil_qr: the QR image ceiling of the benchmark (bench/README.md).  Raw
 * libqrencode + libpng renders of real QR texts into memory, one thread,
 * with the image certsvc serves: ECC M, 8-bit mode, 4 pixels per module, a
 * 4-module quiet zone, 1-bit grey, no filter, zlib level 1 with memLevel 2
 * (certsvc/domain/render/qr.c).  The texts come from a file, one a line (the benchmark's
 * sample of licences), and are rendered in turn.
 *
 * Usage: ceil_qr TEXTS-FILE [SECONDS]
 * Output: "qr_png 1700.0" (images per second).
 */
#include <png.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MODULE_PX 4
#define MARGIN 4

struct sink {
	unsigned char *buf;
	size_t len, cap;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sink_write(png_structp png, png_bytep data, png_size_t n)
{
	struct sink *s = png_get_io_ptr(png);

	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		if ((s->buf = realloc(s->buf, s->cap)) == NULL)
			png_error(png, "out of memory");
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
}

static void
sink_flush(png_structp png)
{
	(void)png;
}

static size_t
render(const char *text)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	struct sink s = {NULL, 0, 0};
	png_structp png;
	png_infop info;
	png_bytep row;
	size_t px, rowbytes, p, len;
	int y, x, k;

	if (qr == NULL) {
		fprintf(stderr, "ceil_qr: cannot encode %s\n", text);
		exit(1);
	}
	px = (size_t)(qr->width + 2 * MARGIN) * MODULE_PX;
	rowbytes = (px + 7) / 8;
	row = malloc(rowbytes);
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png_create_info_struct(png);
	if (row == NULL || png == NULL || info == NULL || setjmp(png_jmpbuf(png))) {
		fprintf(stderr, "ceil_qr: libpng failed\n");
		exit(1);
	}
	png_set_write_fn(png, &s, sink_write, sink_flush);
	png_set_IHDR(png, info, (png_uint_32)px, (png_uint_32)px, 1,
	    PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
	    PNG_FILTER_TYPE_DEFAULT);
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
	png_set_compression_level(png, 1);
	png_set_compression_mem_level(png, 2);
	png_write_info(png, info);
	for (y = 0; y < qr->width + 2 * MARGIN; y++) {
		memset(row, 0xff, rowbytes);
		if (y >= MARGIN && y < MARGIN + qr->width)
			for (x = 0; x < qr->width; x++) {
				if (!(qr->data[(y - MARGIN) * qr->width + x] & 1))
					continue;
				p = (size_t)(x + MARGIN) * MODULE_PX;
				for (k = 0; k < MODULE_PX; k++, p++)
					row[p >> 3] &= (png_byte)~(0x80u >> (p & 7));
			}
		for (k = 0; k < MODULE_PX; k++)
			png_write_row(png, row);
	}
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	free(row);
	QRcode_free(qr);
	len = s.len;
	free(s.buf);
	return len;
}

int
main(int argc, char **argv)
{
	char **texts = NULL, line[8192];
	size_t n = 0, cap = 0, i = 0, bytes = 0;
	double secs = argc > 2 ? atof(argv[2]) : 2.0, t0, t;
	long done = 0;
	FILE *f;

	if (argc < 2 || (f = fopen(argv[1], "r")) == NULL) {
		fprintf(stderr, "usage: ceil_qr TEXTS-FILE [SECONDS]\n");
		return 2;
	}
	while (fgets(line, sizeof(line), f) != NULL && n < 4096) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (n == cap && (texts = realloc(texts, (cap = cap ? 2 * cap : 64) *
		    sizeof(*texts))) == NULL)
			return 1;
		texts[n++] = strdup(line);
	}
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "ceil_qr: no texts in %s\n", argv[1]);
		return 1;
	}
	for (t0 = now(); (t = now()) - t0 < secs; i = (i + 1) % n, done++)
		bytes += render(texts[i]);
	printf("qr_png %.1f\n", (double)done / (t - t0));
	fprintf(stderr, "ceil_qr: %ld images, %zu bytes on average\n", done,
	    done ? bytes / (size_t)done : 0);
	return 0;
}
