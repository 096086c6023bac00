/*
 * version: the one version of gslb, shared by gslbd, healthd and gslbctl.
 *
 * It comes from the VERSION file at the top of the tree; the Makefile
 * compiles it into version.c alone, so changing it rebuilds one object.
 */
#ifndef GSLB_VERSION_H
#define GSLB_VERSION_H

/* "0.1.0": static storage, never freed. */
const char *gslb_version(void);

#endif
