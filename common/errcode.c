/*
 * errcode: texts of error codes; see errcode.h.
 */
#include "common/errcode.h"

#include <string.h>

static const char *const gslb_texts[] = {
    [GSLB_ECONFIG - GSLB_ERRCODE_BASE] = "the configuration has errors",
    [GSLB_EGEODB - GSLB_ERRCODE_BASE] = "not a usable GeoIP database",
    [GSLB_EPROTO - GSLB_ERRCODE_BASE] = "malformed control-protocol message",
};

const char *gslb_strerror(int code)
{
    const char *text;

    if (code > GSLB_ERRCODE_BASE && code < GSLB_ERRCODE_END) {
        return gslb_texts[code - GSLB_ERRCODE_BASE];
    }
    if (code >= 0) {
        return code == 0 ? "success" : "unknown error";
    }
    /* glibc's strerrordesc_np: the untranslated text, from a constant table. */
    text = strerrordesc_np(-code);
    return text != NULL ? text : "unknown error";
}
