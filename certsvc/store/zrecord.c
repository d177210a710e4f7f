/* zrecord.c: stored records and change events, compressed (zrecord.h). */
#include "zrecord.h"

#include "cs_err.h"
#include "encode.h"
#include "pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* zstd's default level: level 1 saved 1.4 µs a record for 4 bytes more. */
#define ZSTD_LEVEL 3
/* Decompression contexts are kept for the next read (pool.h): one is
 * about 95 KB. */

/*
 * The preset dictionary for records: the SPEC §1 object's skeleton, keys
 * in the order the domain writes them, most common last (nearer is
 * cheaper).  A record of about 1.2 KB deflates to about 920 bytes alone
 * and to about 800 with it, since a small input has few repeats of its
 * own.  The zlib header names the dictionary by its Adler-32, so a later
 * dictionary can be added beside this one; this one must never change.
 * Records were written with it (zlib) before the second came.
 */
#define RECORD_DICT_V1                                                      \
    "\"valid_until\":null,\"unchecked\":true,\"code_type\":\"RID\","        \
    "\"alg\":\"EdDSA\",\"alg\":\"SM2\","                                    \
    "{\"id\":\"1.2.156.3005.2.\",\"type\":\"\",\"type_name\":\"\","         \
    "\"number\":\"\",\"holder\":{\"name\":\"\",\"code_type\":\"USCC\","     \
    "\"code\":\"\"},\"issuer\":{\"name\":\"\",\"code\":\"\"},"              \
    "\"issued_at\":\"2025-01-01T00:00:00Z\",\"valid_from\":\"2025-01-01\"," \
    "\"valid_until\":\"2030-01-01\",\"fields\":{},\"approval_ref\":\"\","   \
    "\"bundle\":null,\"supersedes\":null,\"kid\":\"\",\"alg\":\"ES256\","   \
    "\"token\":\""
static const char record_dict[] = RECORD_DICT_V1;

/*
 * The second dictionary, used for every record written since, with zlib
 * and then with zstd (as raw content): the shipped catalog's structure
 * (type codes and names, authorities, number prefixes, face-field names
 * and enumerated values), then the first dictionary, whose skeleton keys
 * stay nearest.  It took the records of
 * the benchmark's catalog sample from 864 to 727 bytes on average
 * (bench/README.md).  Types added later compress less, never wrongly.  As
 * with the first: never change it; add a third beside it.
 */
static const char record_dict_v2[] =
    "\"type\":\"11100000000013338W043\",\"type_name\":\"建设项目环境影响评价批复\","
    "\"issuer\":{\"name\":\"生态环境部\",\"code\":\"11100000000013338W\"},"
    "\"number\":\"粤环审〔\",\"project_name\":\""
    "\"construction_site\":\"\"eia_document_type\":\""
    "环境影响报告书\",环境影响报告表\","
    "\"construction_nature\":\"新建\",改建\",扩建\","
    "技术改造\",\"industry_category\":\""
    "\"total_investment\":\"\"environmental_investment\":\""
    "\"eia_preparer\":\"\"main_requirements\":\""
    "\"type\":\"11100000000013338W042\",\"type_name\":\"危险废物经营许可证\","
    "\"issuer\":{\"name\":\"生态环境部\",\"code\":\"11100000000013338W\"},"
    "\"number\":\"粤环危废证字[\",\"address\":\""
    "\"legal_representative\":\"\"facility_address\":\""
    "\"business_mode\":\"\"waste_categories\":\""
    "\"annual_capacity\":\""
    "\"type\":\"11100000000013338W041\",\"type_name\":\"排污许可证\","
    "\"issuer\":{\"name\":\"生态环境部\",\"code\":\"11100000000013338W\"},"
    "\"registered_address\":\"\"production_address\":\""
    "\"legal_representative\":\"\"industry_category\":\""
    "\"management_category\":\"重点管理\",简化管理\","
    "\"main_pollutant_categories\":\"\"main_pollutants\":\""
    "\"air_discharge_mode\":\"有组织排放\","
    "无组织排放\",有组织排放和无组织排放\","
    "\"water_discharge_mode\":\"直接排放\",间接排放\","
    "不外排\","
    "\"type\":\"11100000MB0143391C011\",\"type_name\":\"放射诊疗许可证\","
    "\"issuer\":{\"name\":\"国家卫生健康委员会\",\"code\":\"11100000MB0143391C\"},"
    "\"number\":\"粤卫放证字[\",\"institution_category\":\""
    "综合医院\",中医医院\",中西医结合医院\","
    "专科医院\",妇幼保健院\",社区卫生服务中心\","
    "乡镇卫生院\",门诊部\",诊所\",其他\","
    "\"address\":\"\"legal_representative\":\"\"principal\":\""
    "\"medical_licence_code\":\"\"diagnosis_scope\":\""
    "\"type\":\"11100000000013338W032\",\"type_name\":\"辐射安全许可证\","
    "\"issuer\":{\"name\":\"生态环境部\",\"code\":\"11100000000013338W\"},"
    "\"number\":\"粤环辐证[\",\"address\":\""
    "\"legal_representative\":\""
    "\"radiation_activity_category\":\"生产\",销售\","
    "使用\",生产、销售\",生产、使用\","
    "销售、使用\",生产、销售、使用\","
    "\"licence_scope\":\"\"remarks\":\""
    "\"type\":\"11100000000013338W044\",\"type_name\":\"辐射安全与防护培训合格证书\","
    "\"issuer\":{\"name\":\"生态环境部\",\"code\":\"11100000000013338W\"},"
    "\"number\":\"FS\",\"gender\":\"男\",女\",\"work_unit\":\""
    "\"training_category\":\"辐射安全管理\","
    "X射线探伤\",γ射线探伤\","
    "医用X射线诊断与介入放射学\",核医学\","
    "放射治疗\",粒子加速器\",放射性药品生产\","
    "放射性同位素销售\",工业辐照\",测井\","
    "科研、生产及其他\",\"exam_date\":\"\"exam_score\":\""
    RECORD_DICT_V1;

/*
 * The dictionary for change-feed event bodies (SPEC §9, events.c): far
 * to near, the other event types, statuses and a transition's reason
 * and kind; the shipped catalog's types with their names, issuers and
 * number prefixes; common parts of holder names; then an issuance
 * event's skeleton, keys in the order the domain writes them.  An event
 * of about 565 bytes packs to about 400 alone and to about 205 with it
 * (bench/README.md, "Change events packed").  Events have their own column, so their frames need
 * not name it.  Never change it: a second one goes beside it, and since
 * every frame carries its content's checksum, the reader can try the
 * dictionaries newest first and keep the one whose checksum holds.
 */
static const char event_dict_v1[] =
    "\"reason\":\"\",\"kind\":\"\"}}"
    "\"type\":\"licence.revoked\",\"type\":\"licence.reinstated\","
    "\"type\":\"licence.suspended\",\"type\":\"licence.amended\","
    "\"status\":\"revoked\"\"status\":\"suspended\""
    "\"type\":\"11100000MB0143391C011\",\"type_name\":\"放射诊疗许可证\","
    "\"number\":\"粤卫放证字[\",\"issuer\":{\"name\":\"国家卫生健康委员会\","
    "\"code\":\"11100000MB0143391C\"},"
    "\"type\":\"11100000000013338W044\","
    "\"type_name\":\"辐射安全与防护培训合格证书\",\"number\":\"FS\","
    "\"code_type\":\"RID\",\"code\":\"\",\"code_type_code\":\"111\"},"
    "\"type\":\"11100000000013338W032\",\"type_name\":\"辐射安全许可证\","
    "\"number\":\"粤环辐证[\","
    "\"type\":\"11100000000013338W043\","
    "\"type_name\":\"建设项目环境影响评价批复\",\"number\":\"粤环审〔\","
    "\"type\":\"11100000000013338W042\",\"type_name\":\"危险废物经营许可证\","
    "\"number\":\"粤环危废证字[\","
    "有限公司\",\"科技有限公司\",\"环保\",\"医院\",\"深圳市\",\"广州市\","
    "{\"event_id\":\"evt_\",\"type\":\"licence.issued\","
    "\"at\":\"2026-01-01T00:00:00Z\",\"licence\":{\"id\":\"1.2.156.3005.2.\","
    "\"type\":\"11100000000013338W041\",\"type_name\":\"排污许可证\","
    "\"number\":\"\",\"issuer\":{\"name\":\"生态环境部\","
    "\"code\":\"11100000000013338W\"},\"issued_at\":\"2026-01-01T00:00:00Z\","
    "\"valid_from\":\"2026-01-01\",\"valid_until\":\"2031-01-01\","
    "\"supersedes\":null,\"bundle\":null,\"holder\":{\"name\":\"\","
    "\"code_type\":\"USCC\",\"code\":\"91\",\"code_type_code\":\"001\"},"
    "\"status\":\"valid\"}}";

/* A preset dictionary in zstd's digested forms (raw content: no magic
 * number, so no id in the frames). */
struct zdict {
	ZSTD_CDict *c;
	ZSTD_DDict *d;
};

/* Made once: the record dictionaries as a zlib stream names them (by
 * Adler-32), the newer first, and zstd's digested forms of the second
 * record dictionary and of the event dictionary. */
static pthread_once_t dicts_once = PTHREAD_ONCE_INIT;
static cs_zdict zlib_dicts[2];
static struct zdict record_z, event_z;

static void
zdict_make(struct zdict *z, const char *text, size_t len)
{
	z->c = ZSTD_createCDict(text, len, ZSTD_LEVEL);
	z->d = ZSTD_createDDict(text, len);
}

static void
dicts_init(void)
{
	const char *text[2] = {record_dict_v2, record_dict};
	const size_t len[2] = {sizeof(record_dict_v2) - 1,
	    sizeof(record_dict) - 1};
	int i;

	for (i = 0; i < 2; i++) {
		zlib_dicts[i].p = (const uint8_t *)text[i];
		zlib_dicts[i].len = len[i];
		zlib_dicts[i].adler = adler32(1, (const Bytef *)text[i],
		    (uInt)len[i]);
	}
	zdict_make(&record_z, record_dict_v2, sizeof(record_dict_v2) - 1);
	zdict_make(&event_z, event_dict_v1, sizeof(event_dict_v1) - 1);
}

struct cs_zrecord_packer {
	ZSTD_CCtx *cctx;
	unsigned char *buf;
	size_t cap;
};

/* A packer that writes with the dictionary *z (dicts_init). */
static cs_zrecord_packer *
packer_new(const struct zdict *z)
{
	cs_zrecord_packer *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	/* The dictionary and the checksum stay with the context for every
	 * frame it makes. */
	if (z->c == NULL || (p->cctx = ZSTD_createCCtx()) == NULL ||
	    ZSTD_isError(ZSTD_CCtx_refCDict(p->cctx, z->c)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(p->cctx,
	    ZSTD_c_checksumFlag, 1))) {
		cs_zrecord_packer_free(p);
		return NULL;
	}
	return p;
}

cs_zrecord_packer *
cs_zrecord_packer_new(void)
{
	pthread_once(&dicts_once, dicts_init);
	return packer_new(&record_z);
}

cs_zrecord_packer *
cs_zevent_packer_new(void)
{
	pthread_once(&dicts_once, dicts_init);
	return packer_new(&event_z);
}

void
cs_zrecord_packer_free(cs_zrecord_packer *p)
{
	if (p != NULL) {
		ZSTD_freeCCtx(p->cctx);
		free(p->buf);
		free(p);
	}
}

int
cs_zrecord_pack(cs_zrecord_packer *p, const char *text, size_t n,
    const void **out, size_t *outlen)
{
	size_t bound = ZSTD_compressBound(n), z;
	unsigned char *grown;

	*out = NULL;
	*outlen = 0;
	if (bound > p->cap) {
		if ((grown = realloc(p->buf, bound)) == NULL)
			return cs_err_set(CS_ENOMEM, "out of memory");
		p->buf = grown;
		p->cap = bound;
	}
	z = ZSTD_compress2(p->cctx, p->buf, p->cap, text, n);
	if (!ZSTD_isError(z) && z < n) {
		*out = p->buf;
		*outlen = z;
	}
	return 0;
}

/* --- reading -------------------------------------------------------- */

static cs_pool dctxs = CS_POOL_INIT;

static ZSTD_DCtx *
dctx_get(void)
{
	ZSTD_DCtx *d = cs_pool_take(&dctxs, 0);

	return d != NULL ? d : ZSTD_createDCtx();
}

static void
dctx_put(ZSTD_DCtx *d)
{
	ZSTD_freeDCtx(cs_pool_keep(&dctxs, 0, d));
}

/* A zstd frame made with ddict's dictionary: its content size (always
 * written) bounds the output, and the frame must be the whole blob. */
static int
unpack_zstd(const ZSTD_DDict *ddict, const void *blob, size_t n, size_t cap,
    char **out, size_t *outlen)
{
	unsigned long long size = ZSTD_getFrameContentSize(blob, n);
	ZSTD_DCtx *d;
	char *text;
	size_t got;

	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
		return cs_err_set(CS_EINVAL, "zstd: not a frame with its size");
	if (size > cap)
		return cs_err_set(CS_ETOOBIG, "zstd: %llu bytes, over the limit "
		    "of %zu", size, cap);
	if (ZSTD_findFrameCompressedSize(blob, n) != n)
		return cs_err_set(CS_EINVAL, "zstd: the frame is truncated or "
		    "followed by other bytes");
	if (ddict == NULL || (text = malloc((size_t)size + 1)) == NULL)
		return cs_err_set(CS_ENOMEM, "out of memory");
	if ((d = dctx_get()) == NULL) {
		free(text);
		return cs_err_set(CS_ENOMEM, "out of memory");
	}
	got = ZSTD_decompress_usingDDict(d, text, (size_t)size, blob, n, ddict);
	dctx_put(d);
	if (ZSTD_isError(got) || got != size) {
		free(text);
		return cs_err_set(CS_EINVAL, "zstd: %s", ZSTD_isError(got) ?
		    ZSTD_getErrorName(got) : "shorter than its header says");
	}
	text[got] = '\0';
	*out = text;
	*outlen = got;
	return 0;
}

/* zstd's magic number, little-endian: 28 b5 2f fd.  A zlib stream starts
 * with 0x?8, its compression method. */
static int
is_zstd(const void *blob, size_t n)
{
	const unsigned char *b = blob;

	return n >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f &&
	    b[3] == 0xfd;
}

int
cs_zrecord_unpack(const void *blob, size_t n, size_t cap, char **out,
    size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	pthread_once(&dicts_once, dicts_init);
	if (is_zstd(blob, n))
		return unpack_zstd(record_z.d, blob, n, cap, out, outlen);
	return cs_zlib_decompress_dict(blob, n, cap, zlib_dicts, 2,
	    (uint8_t **)out, outlen);
}

int
cs_zevent_unpack(const void *blob, size_t n, size_t cap, char **out,
    size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	pthread_once(&dicts_once, dicts_init);
	if (!is_zstd(blob, n))
		return cs_err_set(CS_EINVAL, "zstd: not a frame");
	return unpack_zstd(event_z.d, blob, n, cap, out, outlen);
}
