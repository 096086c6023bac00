/*
 * zname: domain names as zone files write them. See zname.h. Parsing and
 * escaping are ldns's; this file only decides what a name is relative to.
 */
#include "zones/zname.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

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

/* `rel` under origin: ldns parses the relative part (escapes and all), and
 * its labels are joined to the origin's in wire form, which is what a
 * 100,000-name zone needs instead of a text round trip per name. The whole
 * name keeps the 255-byte limit (RFC 1035 3.1). */
static ldns_rdf *zname_join(const char *rel, const ldns_rdf *origin)
{
    ldns_rdf *head = zname_parse(rel), *name;
    uint8_t wire[LDNS_MAX_DOMAINLEN + 1];

    if (head == NULL) {
        return NULL;
    }
    size_t hlen = ldns_rdf_size(head) - 1, olen = ldns_rdf_size(origin); /* head: no root */
    if (hlen + olen > LDNS_MAX_DOMAINLEN) {
        ldns_rdf_deep_free(head);
        return NULL;
    }
    memcpy(wire, ldns_rdf_data(head), hlen);
    memcpy(wire + hlen, ldns_rdf_data(origin), olen);
    ldns_rdf_deep_free(head);
    name = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, hlen + olen, wire);
    if (name == NULL) {
        alloc_fail("ldns_rdf_new_frm_data");
    }
    ldns_dname2canonical(name);
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
    full = xasprintf("%s.", text);
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
    char *out = xmalloc(len * 2 + 1), *p = out;

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
    full = xasprintf("%s.%s%s", local, at + 1, zname_absolute(at + 1) ? "" : ".");
    free(local);
    name = zname_parse(full);
    free(full);
    return name;
}

/* name equals zone or lies below it, letter case aside (RFC 4343): the
 * zone's wire form must end the name's, starting at a label boundary. Walked
 * on the wire, as it runs once per record of a large zone. */
bool zname_in_zone(const ldns_rdf *name, const ldns_rdf *zone)
{
    const uint8_t *n = ldns_rdf_data(name), *z = ldns_rdf_data(zone);
    size_t nlen = ldns_rdf_size(name), zlen = ldns_rdf_size(zone), i = 0;

    while (nlen - i > zlen) {
        i += (size_t)n[i] + 1;
    }
    if (nlen - i != zlen) {
        return false;
    }
    for (size_t k = 0; k < zlen; k++) {
        if (tolower(n[i + k]) != tolower(z[k])) {
            return false;
        }
    }
    return true;
}

char *zname_text(const ldns_rdf *name)
{
    char *text = ldns_rdf2str(name);
    size_t len;

    if (!text) {
        alloc_fail("ldns_rdf2str");
    }
    len = strlen(text);
    if (len > 1 && text[len - 1] == '.') {
        text[len - 1] = '\0';
    }
    return text;
}
