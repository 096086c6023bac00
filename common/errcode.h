/*
 * errcode: the one error convention of gslb.
 *
 * A function that can fail returns int: 0 (or a count, where it says so) on
 * success, a negative code on failure, and writes its output parameters only
 * on success. A code is a negative errno where one fits (-ENOENT, -EINVAL,
 * -ENOMEM, -EADDRINUSE, -EMSGSIZE, ...), or one of the GSLB_E* codes below
 * for failures errno has no word for. libuv's negative codes are errno
 * values on Linux, so they pass through unchanged. gslb_strerror() turns any
 * of them into text. Predicates ("is this valid", "does it fit") return bool
 * instead; what a person must read about bad input goes to a diag_t
 * (diag.h). Knot's libknot/errcode.h is the model.
 */
#ifndef GSLB_ERRCODE_H
#define GSLB_ERRCODE_H

enum {
    GSLB_ERRCODE_BASE = -10000, /* below every errno */
    GSLB_ECONFIG,               /* the configuration has errors (listed in a diag_t) */
    GSLB_EGEODB,                /* not a GeoIP database gslbd can use */
    GSLB_EPROTO,                /* a control-protocol message gslb cannot parse */
    GSLB_ERRCODE_END,
};

/* Text for a code (negative), e.g. "No such file or directory" or "the
 * configuration has errors". Thread-safe: the text is static and constant,
 * so worker threads may call it (strerror() may not be). */
const char *gslb_strerror(int code);

#endif
