/*
 * record_dicts: frozen copies of the store's record and event dictionaries
 * (certsvc/store/zrecord.c), byte for byte.  Every record written since each came
 * needs it to read back, so the tests hold their own copies: a change to
 * the source's is caught, not followed.
 */
#ifndef CS_TEST_RECORD_DICTS_H
#define CS_TEST_RECORD_DICTS_H

/* The first: zlib records before the second came. */
#define FROZEN_DICT_V1                                                      \
    "\"valid_until\":null,\"unchecked\":true,\"code_type\":\"RID\","        \
    "\"alg\":\"EdDSA\",\"alg\":\"SM2\","                                    \
    "{\"id\":\"1.2.156.3005.2.\",\"type\":\"\",\"type_name\":\"\","         \
    "\"number\":\"\",\"holder\":{\"name\":\"\",\"code_type\":\"USCC\","     \
    "\"code\":\"\"},\"issuer\":{\"name\":\"\",\"code\":\"\"},"              \
    "\"issued_at\":\"2025-01-01T00:00:00Z\",\"valid_from\":\"2025-01-01\"," \
    "\"valid_until\":\"2030-01-01\",\"fields\":{},\"approval_ref\":\"\","   \
    "\"bundle\":null,\"supersedes\":null,\"kid\":\"\",\"alg\":\"ES256\","   \
    "\"token\":\""
static const char frozen_dict_v1[] = FROZEN_DICT_V1;

/* The second: the catalog's structure, then the first; zlib records, then
 * zstd's (as raw content). */
static const char frozen_dict_v2[] =
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
    FROZEN_DICT_V1;

/* The change events' first (zstd, as raw content). */
static const char frozen_event_dict_v1[] =
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

#endif
