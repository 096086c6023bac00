/*
 * afile: small state files written whole and atomically, read without
 * following symbolic links.
 *
 * gslbd keeps operators' overrides and the names of its healthd in files
 * that a crash must never leave half written, and that another user must not
 * be able to redirect: a write goes to a new temporary file in the same
 * directory (created exclusively, not through a link), is flushed to disk,
 * then renamed over the old one; a read refuses a link. It does not parse
 * anything; callers do.
 */
#ifndef GSLB_AFILE_H
#define GSLB_AFILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/log.h"

/* Replace `path` with `len` bytes of `data`, atomically, with permissions
 * `mode`. Returns 0 or a negative errno (nothing is replaced then). */
int afile_write(const char *path, const void *data, size_t len, mode_t mode) ATTR_WUR;

/* Write all `len` bytes of `data` to `fd`, riding out short writes and
 * interruptions (what afile_write() does; the GeoIP loader's spill file
 * too). Returns 0 or a negative errno. */
int afile_write_all(int fd, const void *data, size_t len) ATTR_WUR;

/* Open `path` for reading, refusing a symbolic link. Returns the stream, or
 * NULL with errno set (ENOENT when there is no file, ELOOP for a link). */
FILE *afile_open(const char *path);

#endif
