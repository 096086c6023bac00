/*
 * target: targets from zones, reload matching, spreading and MEMBER lines;
 * see target.h. Config-time code: it allocates freely and aborts when memory
 * runs out.
 */
#include "healthd/target.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/ctl.h"

/* A growable string for building keys and URLs. */
typedef struct {
    char *s;
    size_t len, cap;
} target_str_t;

static void target_addf(target_str_t *b, const char *fmt, ...) ATTR_PRINTF(2, 3);

static void target_addf(target_str_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        alloc_fail("format");
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = xreallocarray(b->s, b->cap, 1);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* One key field, length-prefixed so no value can imitate a separator. */
static void target_key_field(target_str_t *k, const char *v)
{
    if (v == NULL) {
        target_addf(k, "-;");
        return;
    }
    target_addf(k, "%zu:%s;", strlen(v), v);
}

static char *target_key(const target_t *t, const zone_check_t *c)
{
    target_str_t k = {0};

    target_key_field(&k, t->zone);
    target_key_field(&k, t->region);
    target_key_field(&k, t->member);
    target_key_field(&k, t->where);
    target_key_field(&k, c->path);
    target_key_field(&k, c->host);
    target_key_field(&k, c->sni);
    target_key_field(&k, c->body);
    target_addf(&k, "%d/%d/%u/%u/%u/%u/", (int)c->type, c->tls_verify ? 1 : 0, c->interval_ms,
                c->timeout_ms, c->rise, c->fall);
    for (size_t i = 0; i < c->n_expect; i++) {
        target_addf(&k, "%u,", c->expect[i]);
    }
    return k.s;
}

char *target_zone_name(const zone_t *z)
{
    char *s = ldns_rdf2str(z->origin);
    size_t len;

    if (s == NULL) {
        alloc_fail("ldns_rdf2str");
    }
    len = strlen(s);
    if (len > 1 && s[len - 1] == '.') {
        s[len - 1] = '\0';
    }
    return s;
}

/* Fill sa and where from a probe address (family, addr) and port. */
static void target_address(target_t *t, int family, const uint8_t addr[16], uint16_t port,
                           char *host, size_t host_size)
{
    target_str_t w = {0};

    memset(&t->sa, 0, sizeof(t->sa));
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->sa;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        memcpy(&s6->sin6_addr, addr, 16);
        inet_ntop(AF_INET6, addr, host + 1, (socklen_t)host_size - 2);
        host[0] = '[';
        strcat(host, "]");
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&t->sa;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        memcpy(&s4->sin_addr, addr, 4);
        inet_ntop(AF_INET, addr, host, (socklen_t)host_size);
    }
    target_addf(&w, "%s:%u", host, port);
    t->where = w.s;
}

/* URL and connect-to of an http(s) check. With https and a name (sni, else
 * host) the URL carries the name, so TLS sends it as SNI and verifies the
 * certificate against it, while CURLOPT_CONNECT_TO still sends the
 * connection to the member. */
static void target_http(target_t *t, const zone_check_t *c, const char *host, uint16_t port)
{
    const char *name = c->type == CHECK_HTTPS ? (c->sni ? c->sni : c->host) : NULL;
    const char *scheme = c->type == CHECK_HTTPS ? "https" : "http";
    const char *path = c->path ? c->path : "/"; /* the loader insists on a leading '/' */
    target_str_t u = {0}, ct = {0};

    target_addf(&u, "%s://%s:%u%s", scheme, name ? name : host, port, path);
    t->url = u.s;
    if (name != NULL) {
        target_addf(&ct, "::%s:%u", host, port);
        t->connect_to = ct.s;
    }
    t->host = xstrdup_opt(c->host);
    t->body = c->body != NULL && c->body[0] != '\0' ? xstrdup_opt(c->body) : NULL;
    t->tls_verify = c->tls_verify;
}

/* What a check makes of a target at (family, addr, port): where and how to
 * probe it and when it changes state. */
static void target_check(target_t *t, const zone_check_t *c, int family, const uint8_t addr[16],
                         uint16_t port)
{
    char host[INET6_ADDRSTRLEN + 2];

    t->type = c->type;
    target_address(t, family, addr, port, host, sizeof(host));
    if (c->type != CHECK_TCP) {
        target_http(t, c, host, port);
    }
    t->n_expect = c->n_expect ? c->n_expect : 1;
    t->expect = xcalloc(t->n_expect, sizeof(*t->expect));
    for (size_t i = 0; i < t->n_expect; i++) {
        t->expect[i] = c->n_expect ? c->expect[i] : 200;
    }
    t->interval_ms = c->interval_ms;
    t->stale_after_ms = c->stale_after_ms;
    t->timeout_ms = c->timeout_ms;
    t->rise = c->rise;
    t->fall = c->fall;
}

static void target_one(target_t *t, const zone_t *z, const zone_region_t *r, const zone_member_t *m,
                       const char *zname)
{
    const zone_check_t *c = &z->checks[r->check];
    target_str_t label = {0};

    memset(t, 0, sizeof(*t));
    t->zone = xstrdup_opt(zname);
    t->region = xstrdup_opt(r->name);
    t->member = xstrdup_opt(m->text);
    t->check = xstrdup_opt(c->name);
    target_addf(&label, "%s %s %s", zname, r->name, m->text);
    t->label = label.s;
    target_check(t, c, m->probe_family, m->probe_addr, m->probe_port ? m->probe_port : c->port);
    t->key = target_key(t, c);
}

static size_t target_count(zone_t *const *zones, size_t n_zones)
{
    size_t n = 0;

    for (size_t i = 0; i < n_zones; i++) {
        for (size_t j = 0; j < zones[i]->n_regions; j++) {
            const zone_region_t *r = &zones[i]->regions[j];
            n += r->check >= 0 && (size_t)r->check < zones[i]->n_checks ? r->n_pool : 0;
        }
    }
    return n;
}

int target_build(zone_t *const *zones, size_t n_zones, target_t **out, size_t *n_out)
{
    size_t n = target_count(zones, n_zones), k = 0;
    target_t *t = xcalloc(n ? n : 1, sizeof(*t));

    for (size_t i = 0; i < n_zones; i++) {
        const zone_t *z = zones[i];
        char *zname = target_zone_name(z);

        for (size_t j = 0; j < z->n_regions; j++) {
            const zone_region_t *r = &z->regions[j];

            if (r->check < 0 || (size_t)r->check >= z->n_checks) {
                continue;
            }
            for (size_t m = 0; m < r->n_pool; m++) {
                target_one(&t[k++], z, r, &r->pool[m], zname);
            }
        }
        free(zname);
    }
    *out = t;
    *n_out = k;
    return 0;
}

/* ---- canaries ---- */

/* A canary without a check (zone.h): a TCP connect. */
static const zone_check_t target_canary_default = {
    .type = CHECK_TCP,
    .interval_ms = ZONE_CANARY_INTERVAL_MS,
    .timeout_ms = ZONE_CANARY_TIMEOUT_MS,
    .rise = ZONE_CANARY_RISE,
    .fall = ZONE_CANARY_FALL,
    .stale_after_ms = 3 * ZONE_CANARY_INTERVAL_MS,
};

static void target_canary(target_t *t, const zone_t *z, const zone_vantage_t *v,
                          const zone_canary_t *k)
{
    const zone_check_t *c = v->check >= 0 ? &z->checks[v->check] : &target_canary_default;
    target_str_t label = {0};

    memset(t, 0, sizeof(*t));
    t->member = xstrdup_opt(k->text);
    t->check = xstrdup_opt(c->name);
    target_check(t, c, k->family, k->addr, k->port ? k->port : c->port);
    target_addf(&label, "vantage %s canary %s", v->name, t->where);
    t->label = label.s;
    t->key = target_key(t, c);
}

static size_t target_count_canaries(zone_t *const *zones, size_t n_zones, const char *vantage)
{
    size_t n = 0;

    for (size_t i = 0; i < n_zones; i++) {
        for (size_t j = 0; j < zones[i]->n_vantages; j++) {
            const zone_vantage_t *v = &zones[i]->vantages[j];
            n += strcmp(v->name, vantage) == 0 ? v->n_canary : 0;
        }
    }
    return n;
}

typedef struct {
    const char *where;
    size_t idx;
} target_widx_t;

/* By address, then by position: the first of equal ones sorts first. */
static int target_cmp_widx(const void *a, const void *b)
{
    const target_widx_t *x = a, *y = b;
    int c = strcmp(x->where, y->where);

    return c != 0 ? c : x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Keep the first target of each address, in order; returns how many. An
 * address is probed once however many zone files list it, and counts once
 * in the verdict. Sorted, so a vantage listed in many files costs n log n. */
static size_t target_unique_where(target_t *t, size_t n)
{
    target_widx_t *v = xcalloc(n + 1, sizeof(*v));
    bool *drop = xcalloc(n + 1, sizeof(*drop));
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        v[i] = (target_widx_t){t[i].where, i};
    }
    qsort(v, n, sizeof(*v), target_cmp_widx);
    for (size_t i = 1; i < n; i++) {
        drop[v[i].idx] = strcmp(v[i].where, v[i - 1].where) == 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (drop[i]) {
            target_clear(&t[i]);
        } else {
            t[k++] = t[i];
        }
    }
    free(v);
    free(drop);
    return k;
}

int target_build_canaries(zone_t *const *zones, size_t n_zones, const char *vantage, target_t **out,
                          size_t *n_out)
{
    size_t n = vantage != NULL ? target_count_canaries(zones, n_zones, vantage) : 0, k = 0;
    target_t *t = xcalloc(n ? n : 1, sizeof(*t));

    for (size_t i = 0; i < n_zones && n > 0; i++) {
        for (size_t j = 0; j < zones[i]->n_vantages; j++) {
            const zone_vantage_t *v = &zones[i]->vantages[j];

            for (size_t c = 0; strcmp(v->name, vantage) == 0 && c < v->n_canary; c++) {
                target_canary(&t[k++], zones[i], v, &v->canary[c]);
            }
        }
    }
    *out = t;
    *n_out = target_unique_where(t, k);
    return 0;
}

void target_clear(target_t *t)
{
    if (t == NULL) {
        return;
    }
    free(t->key);
    free(t->zone);
    free(t->region);
    free(t->member);
    free(t->check);
    free(t->label);
    free(t->where);
    free(t->url);
    free(t->connect_to);
    free(t->host);
    free(t->body);
    free(t->expect);
    memset(t, 0, sizeof(*t));
}

void target_free_all(target_t *t, size_t n)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        target_clear(&t[i]);
    }
    free(t);
}

typedef struct {
    const char *key;
    size_t idx;
} target_kidx_t;

static int target_cmp_kidx(const void *a, const void *b)
{
    return strcmp(((const target_kidx_t *)a)->key, ((const target_kidx_t *)b)->key);
}

/* The keys with their indices, sorted by key. */
static target_kidx_t *target_sorted(const char *const *keys, size_t n)
{
    target_kidx_t *v = xcalloc(n ? n : 1, sizeof(*v));

    for (size_t i = 0; i < n; i++) {
        v[i].key = keys[i];
        v[i].idx = i;
    }
    qsort(v, n, sizeof(*v), target_cmp_kidx);
    return v;
}

void target_match(const char *const *old_keys, size_t n_old, const char *const *new_keys,
                  size_t n_new, long *map)
{
    target_kidx_t *a = target_sorted(old_keys, n_old), *b = target_sorted(new_keys, n_new);
    size_t i = 0, j = 0;

    for (size_t k = 0; k < n_new; k++) {
        map[k] = -1;
    }
    while (i < n_old && j < n_new) {
        int c = strcmp(a[i].key, b[j].key);

        if (c == 0) {
            map[b[j].idx] = (long)a[i].idx;
            i++;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    free(a);
    free(b);
}

unsigned target_offset(size_t i, size_t n, unsigned interval_ms)
{
    if (n == 0 || i >= n) {
        return 0;
    }
    return (unsigned)((unsigned long long)i * interval_ms / n);
}

unsigned long long target_next_due(unsigned long long due, unsigned long long now,
                                   unsigned interval_ms)
{
    unsigned long long iv = interval_ms ? interval_ms : 1;

    due += iv;
    if (due <= now) {
        due += ((now - due) / iv + 1) * iv;
    }
    return due;
}

bool target_status_ok(const target_t *t, long status)
{
    for (size_t i = 0; i < t->n_expect; i++) {
        if (t->expect[i] == status) {
            return true;
        }
    }
    return false;
}

int target_member_line(const target_t *t, health_state_t state, const char *reason, char *out,
                       size_t size)
{
    if (state == HEALTH_UNKNOWN) {
        return -EINVAL; /* healthd reports what it judged, never "unknown" */
    }
    return ctl_format(&(ctl_msg_t){.verb = CTL_MEMBER,
                                   .zone = t->zone,
                                   .region = t->region,
                                   .member = t->member,
                                   .state = state,
                                   .text = reason},
                      out, size);
}
