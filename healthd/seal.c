/*
 * seal: sequence numbers and MACs on healthd's network lines; see seal.h.
 */
#include "healthd/seal.h"

#include <errno.h>
#include <string.h>

int seal_line(const ctlauth_key_t *key, const char *nonce, uint64_t seq, const char *line,
              size_t len, char *out, size_t size)
{
    char in[CTL_LINE_MAX + 2];
    ctl_msg_t m;
    int n;

    if (len > 0 && line[len - 1] == '\n') {
        len--;
    }
    if (len >= sizeof(in) || size < SEAL_LINE_MAX) {
        return -EINVAL;
    }
    memcpy(in, line, len);
    in[len] = '\0';
    if (ctl_parse(in, &m, NULL) < 0 || m.verb == CTL_NONE) {
        return -EINVAL;
    }
    m.seq = seq;
    m.has_seq = true;
    /* gslbd reads at most CTL_LINE_MAX bytes a line, the mac included: the
     * line is formatted short of that by the mac's length, and a reason
     * that would not fit is cut here rather than the line refused there. */
    n = ctl_format(&m, out, SEAL_LINE_MAX - CTLAUTH_SUFFIX_LEN);
    if (n < 0) {
        return n;
    }
    n = ctlauth_sign(key, nonce, out, (size_t)n - 1, size - 1); /* sign it without its "\n" */
    if (n < 0) {
        return -ENOSPC;
    }
    out[n++] = '\n';
    out[n] = '\0';
    return n;
}

int seal_nonce(const char *text, char out[CTLAUTH_NONCE_LEN + 1])
{
    size_t n;
    const char *p = ctlauth_attr(text, "nonce", &n);

    if (p == NULL) {
        return -ENOENT;
    }
    if (n == 0 || n > CTLAUTH_NONCE_LEN || strspn(p, "0123456789abcdefABCDEF") < n) {
        return -EINVAL;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}
