/*
 * test_zrecord: stored records (zrecord.c).  A packed record must be a
 * standard zstd frame that plain libzstd reads with a frozen copy of the
 * dictionary (so the dictionary can never change unnoticed), records of
 * the earlier zlib form must read back, and a damaged blob must be refused,
 * never read as something else.  Change events likewise, with their own
 * dictionary.
 */
#include "check.h"
#include "cs_err.h"
#include "record_dicts.h"
#include "testutil.h"
#include "zrecord.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* A record of the usual size: skeleton, Chinese text, a 480-character
 * token that does not compress. */
static void
record_make(char *buf, size_t len)
{
	char token[481];

	token_like(token);
	snprintf(buf, len, "{\"id\":\"1.2.156.3005.2.11100000000013338W041."
	    "11440000006939756B.1.001.X\",\"type\":\"11100000000013338W041\","
	    "\"type_name\":\"排污许可证\",\"number\":\"91440300MA5F00001X001V\","
	    "\"holder\":{\"name\":\"深圳市某某医疗器械有限公司\",\"code_type\":"
	    "\"USCC\",\"code\":\"91440300MA5F00001X\"},\"issuer\":{\"name\":"
	    "\"生态环境部\",\"code\":\"11100000000013338W\"},\"issued_at\":"
	    "\"2025-05-22T08:30:00Z\",\"valid_from\":\"2025-05-22\","
	    "\"valid_until\":\"2030-05-21\",\"fields\":{\"production_address\":"
	    "\"深圳市南山区科技园南区某某路123号\",\"industry_category\":\"医疗器械\"},"
	    "\"approval_ref\":\"SP-1\",\"bundle\":null,\"supersedes\":null,"
	    "\"kid\":\"abababababababab\",\"alg\":\"ES256\",\"token\":\"%s\"}",
	    token);
}

/* A copy of what the packer made (its buffer is reused). */
static unsigned char *
pack_copy(cs_zrecord_packer *p, const char *text, size_t *n)
{
	const void *z = NULL;
	unsigned char *c = NULL;

	*n = 0;
	if (cs_zrecord_pack(p, text, strlen(text), &z, n) == 0 && z != NULL &&
	    (c = malloc(*n)) != NULL)
		memcpy(c, z, *n);
	return c;
}

TEST(zstd_round_trip)
{
	static char text[2048], plain[2048];
	cs_zrecord_packer *p = cs_zrecord_packer_new();
	ZSTD_DCtx *plain_dctx = ZSTD_createDCtx();
	unsigned char *blob;
	char *back = NULL;
	size_t n, len = 0, got;

	CHECK(p != NULL);
	record_make(text, sizeof(text));
	blob = pack_copy(p, text, &n);
	CHECK(blob != NULL && n > 4 && n < strlen(text) * 3 / 4);
	CHECK(blob != NULL && ZSTD_getFrameContentSize(blob, n) == strlen(text));
	CHECK_INT_EQ(cs_zrecord_unpack(blob, n, 1 << 20, &back, &len), 0);
	CHECK_STR_EQ(back, text);
	CHECK_INT_EQ(len, strlen(text));
	free(back);
	/* Plain libzstd, the frozen dictionary as raw content. */
	got = ZSTD_decompress_usingDict(plain_dctx, plain,
	    sizeof(plain) - 1, blob, n, frozen_dict_v2,
	    sizeof(frozen_dict_v2) - 1);
	CHECK(!ZSTD_isError(got) && got == strlen(text));
	plain[ZSTD_isError(got) ? 0 : got] = '\0';
	CHECK_STR_EQ(plain, text);
	/* The packer is reused, frame after frame, alike. */
	free(blob);
	blob = pack_copy(p, "{\"id\":\"x\",\"type\":\"11100000000013338W041\","
	    "\"type_name\":\"排污许可证\",\"holder\":{\"name\":\"\"}}", &n);
	CHECK_INT_EQ(cs_zrecord_unpack(blob, n, 1 << 20, &back, &len), 0);
	CHECK_STR_EQ(back, "{\"id\":\"x\",\"type\":\"11100000000013338W041\","
	    "\"type_name\":\"排污许可证\",\"holder\":{\"name\":\"\"}}");
	free(back);
	free(blob);
	ZSTD_freeDCtx(plain_dctx);
	cs_zrecord_packer_free(p);
	cs_zrecord_packer_free(NULL);
}

/* An issuance's change event as the domain writes it (events.c). */
static const char event_text[] =
    "{\"event_id\":\"evt_3f9a1c0b7d2e4a6f8b1c2d3e4f5a6b7c\",\"type\":"
    "\"licence.issued\",\"at\":\"2026-12-06T00:41:13Z\",\"licence\":{\"id\":"
    "\"1.2.156.3005.2.11100000000013338W041.11440000006939756B.2612060001."
    "001.X\",\"type\":\"11100000000013338W041\",\"type_name\":\"排污许可证\","
    "\"number\":\"91350100M000123Y43001P\",\"issuer\":{\"name\":\"生态环境部\","
    "\"code\":\"11100000000013338W\"},\"issued_at\":\"2026-12-06T00:41:13Z\","
    "\"valid_from\":\"2026-12-06\",\"valid_until\":\"2031-12-05\","
    "\"supersedes\":null,\"bundle\":null,\"holder\":{\"name\":"
    "\"广州市绿源化工有限公司00123\",\"code_type\":\"USCC\",\"code\":"
    "\"91350100M000123Y43\",\"code_type_code\":\"001\"},\"status\":"
    "\"valid\"}}";

/* An event packs to well under half its text with its dictionary, reads
 * back byte for byte (webhook signatures are over it), is a standard
 * frame plain libzstd reads with the frozen copy, and is refused, not
 * misread, as a record. */
TEST(event_round_trip)
{
	static char plain[2048];
	cs_zrecord_packer *p = cs_zevent_packer_new();
	ZSTD_DCtx *plain_dctx = ZSTD_createDCtx();
	unsigned char *blob;
	char *back = NULL;
	size_t n = 0, len = 0, got;

	CHECK(p != NULL);
	blob = pack_copy(p, event_text, &n);
	CHECK(blob != NULL && n < (sizeof(event_text) - 1) * 2 / 5);
	CHECK_INT_EQ(cs_zevent_unpack(blob, n, 1 << 20, &back, &len), 0);
	CHECK_INT_EQ(len, sizeof(event_text) - 1);
	CHECK(back != NULL && memcmp(back, event_text, sizeof(event_text)) == 0);
	free(back);
	got = ZSTD_decompress_usingDict(plain_dctx, plain, sizeof(plain) - 1,
	    blob, n, frozen_event_dict_v1, sizeof(frozen_event_dict_v1) - 1);
	CHECK(!ZSTD_isError(got) && got == sizeof(event_text) - 1);
	plain[ZSTD_isError(got) ? 0 : got] = '\0';
	CHECK_STR_EQ(plain, event_text);
	CHECK(cs_zrecord_unpack(blob, n, 1 << 20, &back, &len) != 0);
	CHECK(back == NULL);
	/* Not a frame: refused (events were never zlib). */
	CHECK_INT_EQ(cs_zevent_unpack("x\x9c\x01\x02", 4, 1 << 20, &back, &len),
	    CS_EINVAL);
	/* Over the cap: refused. */
	CHECK_INT_EQ(cs_zevent_unpack(blob, n, 100, &back, &len), CS_ETOOBIG);
	free(blob);
	ZSTD_freeDCtx(plain_dctx);
	cs_zrecord_packer_free(p);
}

TEST(not_smaller_kept_as_text)
{
	cs_zrecord_packer *p = cs_zrecord_packer_new();
	const void *z = (const void *)1;
	size_t n = 1;

	CHECK_INT_EQ(cs_zrecord_pack(p, "{}", 2, &z, &n), 0);
	CHECK(z == NULL);
	CHECK_INT_EQ(n, 0);
	cs_zrecord_packer_free(p);
}

/* Records written with zlib and the same dictionary read back. */
TEST(zlib_records_read)
{
	static char text[2048];
	unsigned char out[2048];
	char *back = NULL;
	size_t len = 0;
	z_stream z;

	record_make(text, sizeof(text));
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 13, 6, Z_DEFAULT_STRATEGY);
	deflateSetDictionary(&z, (const Bytef *)frozen_dict_v2,
	    sizeof(frozen_dict_v2) - 1);
	z.next_in = (Bytef *)text;
	z.avail_in = (uInt)strlen(text);
	z.next_out = out;
	z.avail_out = sizeof(out);
	CHECK_INT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
	CHECK_INT_EQ(cs_zrecord_unpack(out, z.total_out, 1 << 20, &back, &len),
	    0);
	CHECK_STR_EQ(back, text);
	free(back);
	/* Cut short: refused. */
	CHECK_INT_EQ(cs_zrecord_unpack(out, z.total_out - 3, 1 << 20, &back,
	    &len), CS_EINVAL);
	CHECK(back == NULL);
	deflateEnd(&z);
}

/* A damaged frame is refused, whatever the damage. */
TEST(damaged_frames)
{
	static char text[2048];
	cs_zrecord_packer *p = cs_zrecord_packer_new();
	unsigned char *blob, *longer;
	char *back = NULL;
	size_t n, len = 0, i, silent = 0;

	record_make(text, sizeof(text));
	blob = pack_copy(p, text, &n);
	CHECK(blob != NULL);
	if (blob == NULL)
		return;
	CHECK_INT_EQ(cs_zrecord_unpack(blob, n - 1, 1 << 20, &back, &len),
	    CS_EINVAL);
	CHECK_INT_EQ(cs_zrecord_unpack(blob, 5, 1 << 20, &back, &len),
	    CS_EINVAL);
	longer = malloc(n + 1);
	memcpy(longer, blob, n);
	longer[n] = 0;
	CHECK_INT_EQ(cs_zrecord_unpack(longer, n + 1, 1 << 20, &back, &len),
	    CS_EINVAL);
	free(longer);
	CHECK_INT_EQ(cs_zrecord_unpack(blob, n, strlen(text) - 1, &back, &len),
	    CS_ETOOBIG);
	CHECK_INT_EQ(cs_zrecord_unpack(blob, n, strlen(text), &back, &len), 0);
	free(back);
	/* Every byte past the header flipped in turn: the checksum (or the
	 * decoder) refuses each; none reads back as other text. */
	for (i = 6; i < n; i++) {
		blob[i] ^= 0x20;
		back = NULL;
		if (cs_zrecord_unpack(blob, n, 1 << 20, &back, &len) == 0) {
			silent += strcmp(back, text) != 0;
			free(back);
		}
		blob[i] ^= 0x20;
	}
	CHECK_INT_EQ(silent, 0);
	free(blob);
	cs_zrecord_packer_free(p);
}

/* A frame that does not say its size is not one the store wrote. */
TEST(frame_without_size)
{
	static const char text[] = "{\"id\":\"1.2.156.3005.2.x\",\"type\":\"\"}"
	    "{\"id\":\"1.2.156.3005.2.x\",\"type\":\"\"}";
	unsigned char out[256];
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_outBuffer o = {out, sizeof(out), 0};
	ZSTD_inBuffer in = {text, sizeof(text) - 1, 0};
	char *back = NULL;
	size_t len = 0;

	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
	CHECK_INT_EQ(ZSTD_compressStream2(c, &o, &in, ZSTD_e_end), 0);
	CHECK_INT_EQ(cs_zrecord_unpack(out, o.pos, 1 << 20, &back, &len),
	    CS_EINVAL);
	CHECK_CONTAINS(cs_err_msg(), "size");
	ZSTD_freeCCtx(c);
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(zstd_round_trip);
	RUN(event_round_trip);
	RUN(not_smaller_kept_as_text);
	RUN(zlib_records_read);
	RUN(damaged_frames);
	RUN(frame_without_size);
	return check_summary();
}
