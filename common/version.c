/*
 * version: see version.h. GSLB_VERSION is defined on this file's command
 * line by the Makefile, from the VERSION file.
 */
#include "common/version.h"

#ifndef GSLB_VERSION
#error "GSLB_VERSION must be defined (the Makefile passes it from the VERSION file)"
#endif

const char *gslb_version(void)
{
    return GSLB_VERSION;
}
