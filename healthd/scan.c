/*
 * scan: substring search across chunk boundaries; see scan.h.
 *
 * A match either lies inside the new chunk (memmem on the chunk), or starts
 * in the carried tail and ends in the first len-1 bytes of the chunk (memmem
 * on tail + that prefix, copied to scratch). Then the tail becomes the last
 * len-1 bytes of tail + chunk.
 */
#include "healthd/scan.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

void scan_init(scan_t *s, const char *needle)
{
    s->needle = needle;
    s->len = strlen(needle);
    s->buf = xmalloc(s->len * 3 + 1);
    scan_reset(s);
}

void scan_reset(scan_t *s)
{
    s->tail = 0;
    s->found = s->len == 0;
}

static bool scan_straddle(scan_t *s, const char *data, size_t n)
{
    char *scratch = s->buf + s->len;
    size_t k = n < s->len - 1 ? n : s->len - 1;

    if (s->tail == 0) {
        return false;
    }
    memcpy(scratch, s->buf, s->tail);
    memcpy(scratch + s->tail, data, k);
    return memmem(scratch, s->tail + k, s->needle, s->len) != NULL;
}

static void scan_keep_tail(scan_t *s, const char *data, size_t n)
{
    size_t keep = s->len - 1;

    if (n >= keep) {
        memcpy(s->buf, data + n - keep, keep);
        s->tail = keep;
        return;
    }
    /* Old tail then the whole chunk, cut to the last `keep` bytes. */
    size_t total = s->tail + n, drop = total > keep ? total - keep : 0;
    memmove(s->buf, s->buf + drop, s->tail - drop);
    memcpy(s->buf + s->tail - drop, data, n);
    s->tail = total - drop;
}

bool scan_feed(scan_t *s, const char *data, size_t n)
{
    if (s->found || n == 0) {
        return s->found;
    }
    if (scan_straddle(s, data, n) || memmem(data, n, s->needle, s->len) != NULL) {
        s->found = true;
        return true;
    }
    scan_keep_tail(s, data, n);
    return false;
}

void scan_free(scan_t *s)
{
    if (s == NULL) {
        return;
    }
    free(s->buf);
    s->buf = NULL;
}
