/* version: see version.h. */
#include "version.h"

#ifndef CS_VERSION
#error "CS_VERSION is set by CMakeLists.txt from project(VERSION)"
#endif

const char *
cs_version(void)
{
	return CS_VERSION;
}
