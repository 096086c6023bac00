/*
 * statuspage: the status page gslbd serves at /status, built in.
 *
 * gslbd/server/page/status.html with the world map's outline in it, made at build time
 * by tools/gen-worldmap.py and tools/embed-page.py (the Makefile's build/gen/statuspage.c).
 * The page is static: it fetches api/v1/status itself every few seconds, so serving it
 * is handing out these bytes. The outline is derived from the GSHHG shoreline, under
 * the LGPL-3+ (see tools/gen-worldmap.py); the page credits it.
 */
#ifndef GSLB_STATUSPAGE_H
#define GSLB_STATUSPAGE_H

#include <stddef.h>

/* The page, UTF-8 HTML, statuspage_len bytes (and a NUL after them). */
extern const char statuspage_html[];
extern const size_t statuspage_len;

#endif
