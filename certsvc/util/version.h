/*
 * version: which certsvc this is, for `certsvc --version`, /healthz and
 * the certsvc_build_info metric.  The number is the project's (CMake's
 * project(VERSION)), set when the build is configured.
 */
#ifndef CS_VERSION_H
#define CS_VERSION_H

/* "0.1.0": a static string. */
const char *cs_version(void);

#endif
