/*
 * ctl: parsing and formatting control-protocol lines; see ctl.h for the
 * protocol. Pure: no I/O; parsing does not allocate (it cuts the line in
 * place), formatting writes into the caller's buffer.
 */
#include "common/ctl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errcode.h"

typedef struct {
    const char *name;
    ctl_verb_t verb;
    unsigned char min_args, max_args;
    const char *usage;
} ctl_verb_info_t;

/* Requests, and the two reply verbs (whose argument is free text). */
static const ctl_verb_info_t ctl_verbs[] = {
    {"HELLO", CTL_HELLO, 2, 2, "usage: HELLO PEER VERSION [vantage=NAME]"},
    {"MEMBER", CTL_MEMBER, 4, 4,
     "usage: MEMBER ZONE REGION ADDRESS up|down|unknown [seq=N] [vantage=NAME] [reason=TEXT]"},
    {"LOAD", CTL_LOAD, 3, 3,
     "usage: LOAD ZONE REGION UTIL|unknown [figure=X] [capacity=X] [seq=N] [vantage=NAME] "
     "[reason=TEXT]"},
    {"CANARY", CTL_CANARY, 1, 1, "usage: CANARY ok|failed [seq=N] [reason=TEXT]"},
    {"SYNCED", CTL_SYNCED, 1, 1, "usage: SYNCED INTERVAL_MS [seq=N]"},
    {"PING", CTL_PING, 0, 0, "usage: PING"},
    {"STATUS", CTL_STATUS, 0, 1, "usage: STATUS [text|json]"},
    {"SET", CTL_SET, 3, 4, "usage: SET drain|down|up|auto ZONE|* REGION [ADDRESS]"},
    {"RELOAD", CTL_RELOAD, 0, 0, "usage: RELOAD"},
    {"EXPLAIN", CTL_EXPLAIN, 2, 3, "usage: EXPLAIN ADDRESS[/PREFIX] NAME [TYPE]"},
    {"OK", CTL_OK, 0, 0, NULL},
    {"ERR", CTL_ERR, 0, 0, NULL},
};

#define CTL_N_VERBS (sizeof(ctl_verbs) / sizeof(ctl_verbs[0]))

static bool ctl_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static const ctl_verb_info_t *ctl_verb_by_name(const char *s, size_t len)
{
    for (size_t i = 0; i < CTL_N_VERBS; i++) {
        if (strlen(ctl_verbs[i].name) == len && memcmp(ctl_verbs[i].name, s, len) == 0) {
            return &ctl_verbs[i];
        }
    }
    return NULL;
}

static const ctl_verb_info_t *ctl_verb_info(ctl_verb_t verb)
{
    for (size_t i = 0; i < CTL_N_VERBS; i++) {
        if (ctl_verbs[i].verb == verb) {
            return &ctl_verbs[i];
        }
    }
    return NULL;
}

/* ---- parsing ---- */

/* Decimal digits only, at most `max`. Returns 0 or -EINVAL. */
static int ctl_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0') {
        return -EINVAL;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10) {
            return -EINVAL;
        }
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* The next token at *p, cut with a NUL; NULL at the end of the line. */
static char *ctl_token(char **p)
{
    char *s = *p, *start;

    while (ctl_space(*s)) {
        s++;
    }
    if (*s == '\0') {
        *p = s;
        return NULL;
    }
    start = s;
    while (*s != '\0' && !ctl_space(*s)) {
        s++;
    }
    if (*s != '\0') {
        *s++ = '\0';
    }
    *p = s;
    return start;
}

/* Free text from *p to the end of the line, without the spaces around it. */
static const char *ctl_rest(char *p)
{
    size_t len;

    while (ctl_space(*p)) {
        p++;
    }
    len = strlen(p);
    while (len > 0 && ctl_space(p[len - 1])) {
        p[--len] = '\0';
    }
    return p;
}

/* Is the token at p (not yet cut) key=value? Returns the key's length or 0. */
static size_t ctl_key_len(const char *p)
{
    size_t n = 0;

    while ((p[n] >= 'a' && p[n] <= 'z') || p[n] == '_' || (n > 0 && p[n] >= '0' && p[n] <= '9')) {
        n++;
    }
    return n > 0 && p[n] == '=' ? n : 0;
}

/* A load figure: a finite decimal, 0 or more. */
static int ctl_real(const char *s, double *out)
{
    char *end;
    double v;

    /* Digits and one point: no sign, exponent, hex, "nan" or "inf". */
    if (s[strspn(s, "0123456789.")] != '\0' || strchr(s, '.') != strrchr(s, '.') ||
        strspn(s, "0123456789") == 0) {
        return -EINVAL;
    }
    errno = 0;
    v = strtod(s, &end);
    if (*end != '\0' || errno != 0 || !isfinite(v)) {
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static int ctl_attr(ctl_msg_t *m, const char *key, size_t klen, const char *value)
{
    if (m->verb == CTL_LOAD && klen == 6 && memcmp(key, "figure", 6) == 0) {
        return isnan(m->figure) ? ctl_real(value, &m->figure) : -EINVAL;
    }
    if (m->verb == CTL_LOAD && klen == 8 && memcmp(key, "capacity", 8) == 0) {
        return isnan(m->capacity) ? ctl_real(value, &m->capacity) : -EINVAL;
    }
    if (klen == 7 && memcmp(key, "vantage", 7) == 0) {
        if (m->vantage != NULL || *value == '\0') {
            return -EINVAL;
        }
        m->vantage = value;
    } else if (klen == 3 && memcmp(key, "seq", 3) == 0) {
        if (m->has_seq || ctl_uint(value, UINT64_MAX, &m->seq) < 0) {
            return -EINVAL;
        }
        m->has_seq = true;
    }
    return 0; /* unknown keys are a newer sender's: ignored */
}

/* The verbs whose free text is a reason= attribute. */
static bool ctl_has_reason(ctl_verb_t verb)
{
    return verb == CTL_MEMBER || verb == CTL_LOAD || verb == CTL_CANARY;
}

/* Attributes, and MEMBER's reason, after the positional arguments. */
static int ctl_attrs(char *p, ctl_msg_t *m)
{
    for (;;) {
        while (ctl_space(*p)) {
            p++;
        }
        if (*p == '\0') {
            return 0;
        }
        size_t klen = ctl_key_len(p);
        if (klen == 6 && memcmp(p, "reason", 6) == 0 && ctl_has_reason(m->verb)) {
            m->text = ctl_rest(p + 7);
            return 0;
        }
        if (klen == 0) {
            if (m->verb != CTL_MEMBER || m->text != NULL) {
                return -EINVAL;
            }
            m->text = ctl_rest(p); /* a version 1 reason */
            return 0;
        }
        char *tok = ctl_token(&p);
        if (ctl_attr(m, tok, klen, tok + klen + 1) < 0) {
            return -EINVAL;
        }
    }
}

/* CANARY's verdict: "ok" or "failed", as an up or down state. */
static int ctl_canary_word(const char *s, health_state_t *out)
{
    if (strcmp(s, "ok") == 0) {
        *out = HEALTH_UP;
    } else if (strcmp(s, "failed") == 0) {
        *out = HEALTH_DOWN;
    } else {
        return -EINVAL;
    }
    return 0;
}

/* The positional arguments of m's verb (n of them, as many as the verb
 * takes: ctl_parse() counted them against the table). */
static int ctl_args(ctl_msg_t *m, char *const *arg, int n)
{
    uint64_t v;

    switch (m->verb) {
    case CTL_HELLO:
        if (n != 2) {
            return -EINVAL;
        }
        m->peer = arg[0];
        if (ctl_uint(arg[1], 1000000, &v) < 0) {
            return -EINVAL;
        }
        m->version = (unsigned)v;
        return 0;
    case CTL_MEMBER:
        if (n != 4) {
            return -EINVAL;
        }
        m->zone = arg[0];
        m->region = arg[1];
        m->member = arg[2];
        return health_state_parse(arg[3], &m->state);
    case CTL_LOAD:
        if (n != 3) {
            return -EINVAL;
        }
        m->zone = arg[0];
        m->region = arg[1];
        m->util_known = strcmp(arg[2], "unknown") != 0;
        return m->util_known ? ctl_real(arg[2], &m->util) : 0;
    case CTL_CANARY:
        if (n != 1) {
            return -EINVAL;
        }
        return ctl_canary_word(arg[0], &m->state);
    case CTL_SYNCED:
        if (n != 1 || ctl_uint(arg[0], 86400000, &v) < 0) {
            return -EINVAL;
        }
        m->interval_ms = (unsigned)v;
        return 0;
    case CTL_SET:
        if (n < 3) {
            return -EINVAL;
        }
        m->zone = arg[1];
        m->region = arg[2];
        m->member = n == 4 ? arg[3] : NULL;
        return health_override_parse(arg[0], &m->override);
    case CTL_STATUS:
        if (n == 1 && strcmp(arg[0], "json") != 0 && strcmp(arg[0], "text") != 0) {
            return -EINVAL;
        }
        m->json = n == 1 && strcmp(arg[0], "json") == 0;
        return 0;
    case CTL_EXPLAIN:
        if (n < 2) {
            return -EINVAL;
        }
        m->client = arg[0];
        m->qname = arg[1];
        m->qtype = n == 3 ? arg[2] : NULL;
        return 0;
    default:
        return 0;
    }
}

int ctl_parse(char *line, ctl_msg_t *m, const char **why)
{
    char *p = line, *arg[4] = {NULL, NULL, NULL, NULL};
    const ctl_verb_info_t *info;
    size_t vlen;
    int n = 0;

    memset(m, 0, sizeof(*m));
    m->figure = m->capacity = NAN;
    while (ctl_space(*p)) {
        p++;
    }
    for (vlen = 0; p[vlen] != '\0' && !ctl_space(p[vlen]);) {
        vlen++;
    }
    if (vlen == 0) {
        m->verb = CTL_NONE;
        return 0;
    }
    if ((info = ctl_verb_by_name(p, vlen)) == NULL) {
        m->verb = CTL_DATA;
        m->text = ctl_rest(line);
        if (why != NULL) {
            *why = "unknown command";
        }
        return GSLB_EPROTO;
    }
    m->verb = info->verb;
    p += vlen;
    if (m->verb == CTL_OK || m->verb == CTL_ERR) {
        m->text = ctl_rest(p);
        return 0;
    }
    /* The first min_args are taken as they come (a zone name may hold "=");
     * optional ones only while they do not look like attributes. */
    while (n < info->max_args) {
        while (ctl_space(*p)) {
            p++;
        }
        if (*p == '\0' || (n >= info->min_args && ctl_key_len(p) > 0)) {
            break;
        }
        arg[n++] = ctl_token(&p);
    }
    if (n < info->min_args || ctl_args(m, arg, n) < 0 || ctl_attrs(p, m) < 0) {
        if (why != NULL) {
            *why = info->usage;
        }
        return GSLB_EPROTO;
    }
    return 0;
}

/* ---- formatting ---- */

/* A positional argument or attribute value: non-empty, no spaces, no
 * control characters. */
bool ctl_name_ok(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;

    return n > 0 && n <= CTL_NAME_MAX &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz"
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789-_.") == n;
}

static bool ctl_token_ok(const char *s)
{
    if (s == NULL || *s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= ' ' || *s == 0x7f) {
            return false;
        }
    }
    return true;
}

typedef struct {
    char buf[CTL_LINE_MAX + 2];
    size_t len;
    bool bad; /* an argument the protocol cannot carry */
} ctl_out_t;

static void ctl_put(ctl_out_t *o, const char *s)
{
    size_t n = strlen(s);

    if (o->len + n >= sizeof(o->buf)) {
        o->bad = true; /* longer than any line: -ENOSPC below */
        o->len = sizeof(o->buf);
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void ctl_put_arg(ctl_out_t *o, const char *s)
{
    if (s == NULL || !ctl_token_ok(s)) {
        o->bad = true;
        return;
    }
    ctl_put(o, " ");
    ctl_put(o, s);
}

/* A LOAD figure: positional (key NULL; NAN is "unknown") or an attribute
 * " key=" (NAN: left out). Enough digits for any figure a balancer counts;
 * never a sign, an exponent, "nan" or "inf", which the parser refuses. */
static void ctl_put_real(ctl_out_t *o, const char *key, double v)
{
    char num[48];

    if (key == NULL && isnan(v)) {
        ctl_put_arg(o, "unknown");
        return;
    }
    if (isnan(v)) {
        return;
    }
    o->bad |= !(v >= 0 && v < 1e15);
    snprintf(num, sizeof(num), "%.6f", v >= 0 && v < 1e15 ? v : 0);
    /* Trailing zeros say nothing: "0.930000" is "0.93", "20.000000" "20". */
    size_t len = strlen(num);
    while (len > 1 && num[len - 1] == '0') {
        len--;
    }
    if (num[len - 1] == '.') {
        len--;
    }
    num[len] = '\0';
    if (key == NULL) {
        ctl_put_arg(o, num);
    } else {
        ctl_put(o, key);
        ctl_put(o, num);
    }
}

static void ctl_put_head(ctl_out_t *o, const ctl_msg_t *m)
{
    char num[32]; /* " seq=" and 20 digits */

    switch (m->verb) {
    case CTL_HELLO:
        ctl_put_arg(o, m->peer);
        snprintf(num, sizeof(num), "%u", m->version);
        ctl_put_arg(o, num);
        break;
    case CTL_MEMBER:
        ctl_put_arg(o, m->zone);
        ctl_put_arg(o, m->region);
        ctl_put_arg(o, m->member);
        ctl_put_arg(o, (unsigned)m->state <= HEALTH_DOWN ? health_state_name(m->state) : NULL);
        break;
    case CTL_LOAD:
        ctl_put_arg(o, m->zone);
        ctl_put_arg(o, m->region);
        ctl_put_real(o, NULL, m->util_known ? m->util : NAN);
        ctl_put_real(o, " figure=", m->figure);
        ctl_put_real(o, " capacity=", m->capacity);
        break;
    case CTL_CANARY:
        ctl_put_arg(o, m->state == HEALTH_UP ? "ok" : m->state == HEALTH_DOWN ? "failed" : NULL);
        break;
    case CTL_SYNCED:
        snprintf(num, sizeof(num), "%u", m->interval_ms);
        ctl_put_arg(o, num);
        break;
    case CTL_SET:
        ctl_put_arg(o, (unsigned)m->override <= HEALTH_OV_UP ? health_override_name(m->override)
                                                             : NULL);
        ctl_put_arg(o, m->zone);
        ctl_put_arg(o, m->region);
        if (m->member != NULL) {
            /* An optional argument must not look like an attribute. */
            o->bad |= ctl_key_len(m->member) > 0;
            ctl_put_arg(o, m->member);
        }
        break;
    case CTL_STATUS:
        if (m->json) {
            ctl_put_arg(o, "json");
        }
        break;
    case CTL_EXPLAIN:
        ctl_put_arg(o, m->client);
        ctl_put_arg(o, m->qname);
        if (m->qtype != NULL) {
            o->bad |= ctl_key_len(m->qtype) > 0;
            ctl_put_arg(o, m->qtype);
        }
        break;
    default:
        break;
    }
    if (m->vantage != NULL) {
        ctl_put(o, " vantage=");
        o->bad |= !ctl_token_ok(m->vantage);
        ctl_put(o, m->vantage);
    }
    if (m->has_seq) {
        snprintf(num, sizeof(num), " seq=%llu", (unsigned long long)m->seq);
        ctl_put(o, num);
    }
}

/* Append the text, sanitised and cut so that the line and its "\n" stay
 * within `limit` bytes; nothing at all if not even its first byte fits. */
static void ctl_put_text(ctl_out_t *o, const char *prefix, const char *text, size_t limit)
{
    size_t plen = strlen(prefix), end;

    while (text != NULL && ctl_space(*text)) {
        text++;
    }
    if (text == NULL || *text == '\0' || o->len + plen + 2 > limit) {
        return;
    }
    memcpy(o->buf + o->len, prefix, plen);
    o->len += plen;
    end = o->len;
    for (; *text != '\0' && o->len + 1 < limit; text++) {
        bool ctrl = (unsigned char)*text < 0x20 || *text == 0x7f;
        o->buf[o->len++] = ctrl ? ' ' : *text;
        if (!ctrl && *text != ' ') {
            end = o->len; /* trailing spaces are dropped, as the parser would */
        }
    }
    o->len = end;
}

int ctl_format(const ctl_msg_t *m, char *out, size_t size)
{
    const ctl_verb_info_t *info = ctl_verb_info(m->verb);
    size_t limit = size > 0 ? size - 1 : 0; /* room for the NUL */
    ctl_out_t o = {.len = 0};

    if (limit > CTL_LINE_MAX + 1) {
        limit = CTL_LINE_MAX + 1;
    }
    if (m->verb == CTL_DATA) {
        ctl_put_text(&o, "", m->text, limit);
    } else if (info == NULL) {
        return -EINVAL;
    } else {
        ctl_put(&o, info->name);
        ctl_put_head(&o, m);
        if (o.bad && o.len < sizeof(o.buf)) {
            return -EINVAL;
        }
        if (o.len + 1 > limit) {
            return -ENOSPC;
        }
        bool reason = ctl_has_reason(m->verb);
        ctl_put_text(&o, reason ? " reason=" : " ",
                     reason || m->verb == CTL_OK || m->verb == CTL_ERR ? m->text : NULL, limit);
    }
    o.buf[o.len++] = '\n';
    memcpy(out, o.buf, o.len);
    out[o.len] = '\0';
    return (int)o.len;
}

/* ---- lines ---- */

int ctl_split(char *line, char **argv, int max)
{
    int n = 0;
    char *p = line;

    while (n < max) {
        while (ctl_space(*p)) {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        argv[n++] = p;
        if (n == max) {
            break; /* the last token keeps the rest of the line */
        }
        while (*p != '\0' && !ctl_space(*p)) {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        *p++ = '\0';
    }
    if (n > 0) {
        size_t len = strlen(argv[n - 1]);
        while (len > 0 && ctl_space(argv[n - 1][len - 1])) {
            argv[n - 1][--len] = '\0';
        }
    }
    return n;
}

int ctl_feed(ctl_lines_t *lb, const char *data, size_t n, void (*fn)(void *arg, char *line),
             void *arg)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            lb->buf[lb->len] = '\0';
            lb->len = 0;
            fn(arg, lb->buf);
            continue;
        }
        if (lb->len == CTL_LINE_MAX) {
            return -EMSGSIZE;
        }
        lb->buf[lb->len++] = data[i];
    }
    return 0;
}
