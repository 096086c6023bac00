/* dname: wire-format name helpers; see dname.h. */
#include "gslbd/engine/dname.h"

#include <stdio.h>
#include <string.h>

size_t dname_len(const uint8_t *name)
{
    size_t i = 0;

    while (name[i] != 0) {
        i += (size_t)name[i] + 1;
    }
    return i + 1;
}

unsigned dname_labels(const uint8_t *name, uint8_t offs[DNAME_MAX_LABELS])
{
    unsigned n = 0;
    size_t i = 0;

    while (name[i] != 0) {
        offs[n++] = (uint8_t)i;
        i += (size_t)name[i] + 1;
    }
    return n;
}

bool dname_is_sub(const uint8_t *name, size_t len, const uint8_t *parent, size_t plen)
{
    size_t i = 0;

    if (plen > len) {
        return false;
    }
    /* Walk label boundaries so "xample.com" never matches inside "example.com". */
    while (len - i > plen) {
        i += (size_t)name[i] + 1;
    }
    return len - i == plen && memcmp(name + i, parent, plen) == 0;
}

char *dname_to_text(const uint8_t *name, char *buf, size_t size)
{
    size_t o = 0, i = 0;

    if (name[0] == 0) {
        snprintf(buf, size, ".");
        return buf;
    }
    while (name[i] != 0 && o + 5 < size) {
        uint8_t n = name[i++];
        for (uint8_t k = 0; k < n && o + 5 < size; k++, i++) {
            uint8_t c = name[i];
            if (c == '.' || c == '\\') {
                o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
            } else if (c <= ' ' || c >= 127) {
                o += (size_t)snprintf(buf + o, size - o, "\\%03u", c);
            } else {
                buf[o++] = (char)c;
            }
        }
        buf[o++] = '.';
    }
    buf[o] = '\0';
    return buf;
}
