/*
 * Fuzz target: any bytes as control-protocol input, the way gslbd reads its
 * control socket: reassembled into lines by ctl_feed(), each line parsed by
 * ctl_parse(). A line that parses is formatted again with ctl_format() and
 * parsed back, and must mean the same: the one encoder and the one parser
 * of the health contract agree on everything either accepts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Texts mean the same when they differ only in control characters, which
 * the encoder writes as spaces, in spaces at either end, which the parser
 * drops, and in being empty or absent. */
static void normal_text(const char *in, char *out, size_t size)
{
    size_t n = 0;

    for (; in != NULL && *in != '\0' && n + 1 < size; in++) {
        char c = (unsigned char)*in < 0x20 || *in == 0x7f ? ' ' : *in;
        if (c != ' ' || n > 0) {
            out[n++] = c;
        }
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
}

static bool same_text(const char *a, const char *b)
{
    char x[CTL_LINE_MAX + 2], y[CTL_LINE_MAX + 2];

    normal_text(a, x, sizeof(x));
    normal_text(b, y, sizeof(y));
    return strcmp(x, y) == 0;
}

/* What the message means, compared field by field. */
static void check_same(const ctl_msg_t *a, const ctl_msg_t *b)
{
    if (a->verb != b->verb || a->version != b->version || a->state != b->state ||
        a->override != b->override || a->interval_ms != b->interval_ms ||
        a->has_seq != b->has_seq || a->seq != b->seq || !same_str(a->peer, b->peer) ||
        !same_str(a->zone, b->zone) || !same_str(a->region, b->region) ||
        !same_str(a->member, b->member) || !same_str(a->vantage, b->vantage) ||
        !same_text(a->text, b->text) || a->json != b->json || !same_str(a->client, b->client) ||
        !same_str(a->qname, b->qname) || !same_str(a->qtype, b->qtype)) {
        abort();
    }
}

static void on_line(void *arg, char *line)
{
    char copy[CTL_LINE_MAX + 2], again[CTL_LINE_MAX + 2];
    ctl_msg_t m, m2;
    const char *why = NULL;
    (void)arg;

    if (ctl_parse(line, &m, &why) < 0) {
        if (m.verb != CTL_DATA && why == NULL) {
            abort(); /* a refused request always says why */
        }
        return;
    }
    if (m.verb == CTL_NONE || m.verb == CTL_DATA) {
        return;
    }
    int n = ctl_format(&m, copy, sizeof(copy));
    if (n == -EINVAL) {
        return; /* parsed, but holds what the encoder will not write (a name "a=b" as SET's
                 * optional address, say): the encoder is the stricter side */
    }
    if (n <= 0 || n > CTL_LINE_MAX + 1 || copy[n - 1] != '\n') {
        abort();
    }
    copy[n - 1] = '\0';
    memcpy(again, copy, (size_t)n);
    if (ctl_parse(again, &m2, NULL) != 0) {
        abort();
    }
    check_same(&m, &m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ctl_lines_t lb = {0};

    if (ctl_feed(&lb, (const char *)data, size, on_line, NULL) < 0) {
        return 0; /* an overlong line: gslbd would disconnect the peer */
    }
    return 0;
}
