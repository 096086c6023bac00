/*
 * zname: domain names as zone files write them, turned into absolute,
 * lower-case ldns names.
 *
 * Two conventions meet in a zone file. Owner names (keys under records: and
 * services:) follow zone-file rules: relative to the zone unless they end in
 * a dot, "@" for the apex. Host names in soa: and ns: are what people copy
 * from elsewhere ("ns1.gslb.example.com"), so a dotted name there is taken as
 * absolute and only a single label ("ns1") is relative to the zone. Record
 * data (CNAME targets and the like) is parsed by ldns with zone-file rules.
 *
 * Internal to zones/.
 */
#ifndef GSLB_ZNAME_H
#define GSLB_ZNAME_H

#include <stdbool.h>

#include <ldns/ldns.h>

/* A zone's own name: absolute whether or not it ends in a dot. Returns a
 * new name (caller frees with ldns_rdf_deep_free) or NULL if invalid. */
ldns_rdf *zname_zone(const char *text);

/* Owner name `text` under `origin`. Returns a new name (caller frees with
 * ldns_rdf_deep_free) or NULL if it is not a valid name. */
ldns_rdf *zname_owner(const char *text, const ldns_rdf *origin);

/* Host name `text`: absolute when it has a dot, else under origin. */
ldns_rdf *zname_host(const char *text, const ldns_rdf *origin);

/* SOA RNAME: a host name as above, or a mail address "hostmaster@example.com"
 * whose local part becomes the first label (RFC 1035 section 8: dots in it
 * are escaped). */
ldns_rdf *zname_mailbox(const char *text, const ldns_rdf *origin);

/* True when `name` is `zone` or below it. */
bool zname_in_zone(const ldns_rdf *name, const ldns_rdf *zone);

/* Presentation form without the final dot ("www.example.com", "." for the
 * root), for messages. Caller frees with free(). */
char *zname_text(const ldns_rdf *name);

#endif
