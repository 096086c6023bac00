/*
 * control: line reassembly and tokenizing for the control protocol; see
 * control.h for the protocol itself.
 */
#include "common/control.h"

#include <string.h>

int control_split(char *line, char **argv, int max)
{
    int n = 0;
    char *p = line;

    while (n < max) {
        while (*p == ' ' || *p == '\t' || *p == '\r') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        argv[n++] = p;
        if (n == max) {
            break; /* the last token keeps the rest of the line */
        }
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        *p++ = '\0';
    }
    if (n > 0) {
        size_t len = strlen(argv[n - 1]);
        while (len > 0 && (argv[n - 1][len - 1] == '\r' || argv[n - 1][len - 1] == ' ')) {
            argv[n - 1][--len] = '\0';
        }
    }
    return n;
}

int control_feed(control_lines_t *lb, const char *data, size_t n, void (*fn)(void *arg, char *line),
                 void *arg)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            lb->buf[lb->len] = '\0';
            lb->len = 0;
            fn(arg, lb->buf);
            continue;
        }
        if (lb->len == CONTROL_LINE_MAX) {
            return -1;
        }
        lb->buf[lb->len++] = data[i];
    }
    return 0;
}
