/*
 * zname: domain names as zone files write them. See zname.h. Parsing and
 * escaping are ldns's; this file only decides what a name is relative to.
 */
#include "zones/zname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A final dot makes a name absolute unless a backslash escapes it: "a\." is a
 * relative label holding a dot, "a\\." is absolute. */
static bool zname_absolute(const char *text)
{
    size_t len = strlen(text), slashes = 0;

    if (!len || text[len - 1] != '.') {
        return false;
    }
    while (slashes + 1 < len && text[len - 2 - slashes] == '\\') {
        slashes++;
    }
    return slashes % 2 == 0;
}

static ldns_rdf *zname_parse(const char *text)
{
    ldns_rdf *name = NULL;

    if (!*text || ldns_str2rdf_dname(&name, text) != LDNS_STATUS_OK) {
        return NULL;
    }
    ldns_dname2canonical(name);
    return name;
}

/* `rel` under origin, by joining the texts: ldns checks the length of the
 * whole name that way. */
static ldns_rdf *zname_join(const char *rel, const ldns_rdf *origin)
{
    char *otext = ldns_rdf2str(origin), *full;
    ldns_rdf *name;

    if (!otext) {
        abort();
    }
    /* Under the root zone "www" is "www.", not "www..". */
    if (asprintf(&full, "%s.%s", rel, strcmp(otext, ".") ? otext : "") < 0) {
        abort();
    }
    free(otext);
    name = zname_parse(full);
    free(full);
    return name;
}

ldns_rdf *zname_zone(const char *text)
{
    char *full;
    ldns_rdf *name;

    if (zname_absolute(text)) {
        return zname_parse(text);
    }
    if (!*text || text[0] == '.') {
        return NULL;
    }
    if (asprintf(&full, "%s.", text) < 0) {
        abort();
    }
    name = zname_parse(full);
    free(full);
    return name;
}

ldns_rdf *zname_owner(const char *text, const ldns_rdf *origin)
{
    if (!strcmp(text, "@")) {
        return ldns_rdf_clone(origin);
    }
    if (zname_absolute(text)) {
        return zname_parse(text);
    }
    if (!*text || text[0] == '.') {
        return NULL;
    }
    return zname_join(text, origin);
}

ldns_rdf *zname_host(const char *text, const ldns_rdf *origin)
{
    const char *dot = strchr(text, '.');

    if (dot) {
        return zname_zone(text);
    }
    return zname_owner(text, origin);
}

/* Copy the local part, escaping what would otherwise end or split a label. */
static char *zname_local_part(const char *text, size_t len)
{
    char *out = malloc(len * 2 + 1), *p = out;

    if (!out) {
        abort();
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '.' || text[i] == '\\') {
            *p++ = '\\';
        }
        *p++ = text[i];
    }
    *p = '\0';
    return out;
}

ldns_rdf *zname_mailbox(const char *text, const ldns_rdf *origin)
{
    const char *at = strchr(text, '@');
    char *local, *full;
    ldns_rdf *name;

    if (!at || !strcmp(text, "@")) {
        return zname_host(text, origin);
    }
    if (at == text || !at[1] || strchr(at + 1, '@')) {
        return NULL;
    }
    local = zname_local_part(text, (size_t)(at - text));
    if (asprintf(&full, "%s.%s%s", local, at + 1, zname_absolute(at + 1) ? "" : ".") < 0) {
        abort();
    }
    free(local);
    name = zname_parse(full);
    free(full);
    return name;
}

bool zname_in_zone(const ldns_rdf *name, const ldns_rdf *zone)
{
    return ldns_dname_compare(name, zone) == 0 || ldns_dname_is_subdomain(name, zone);
}

char *zname_text(const ldns_rdf *name)
{
    char *text = ldns_rdf2str(name);
    size_t len;

    if (!text) {
        abort();
    }
    len = strlen(text);
    if (len > 1 && text[len - 1] == '.') {
        text[len - 1] = '\0';
    }
    return text;
}
