"""gslbtest.zones: zone files the tests share.

EXAMPLE_ZONE is the README's example zone as a fixed copy: zones/examples/ may change
for the demo, the answers the protocol tests expect must not. Tests write their own
zones as text with Test.write(); this module holds only what several suites share.
"""

EXAMPLE_ZONE = """\
zone: gslb.example.com
ttl: 300
soa: {mname: ns1.gslb.example.com, rname: hostmaster.example.com, refresh: 3600, retry: 600, expire: 604800, minimum: 60}
ns: [ns1.gslb.example.com, ns2.gslb.example.com]
records:
  ns1: {A: 198.51.100.53, AAAA: "2001:db8:53::1"}
  ns2: {A: 203.0.113.53}
  "@": {TXT: "gslb demo", MX: "10 mail.example.com."}
  docs: {CNAME: www}
  _sip._tcp: {SRV: "10 5 5060 sip.example.com."}
regions:
  us-east:  {location: [39.04, -77.49], weight: 100, pool: [192.0.2.10, "2001:db8:10::10"], check: web}
  eu-west:  {location: [53.35, -6.26],  weight: 100, pool: [198.51.100.10, "2001:db8:20::10"], check: web}
  ap-south: {location: [1.29, 103.85],  weight: 100, pool: [203.0.113.10], check: web}
checks:
  web: {type: http, port: 80, path: /health, expect: 200, interval: 2s, timeout: 1s, rise: 2, fall: 2}
services:
  www: {regions: [us-east, eu-west, ap-south], policy: nearest, ttl: 30}
"""

# The example zone's SOA as a negative answer carries it in the authority section:
# TTL min(SOA TTL 300, minimum 60) (RFC 2308 s5); SERIAL matches any serial.
EXAMPLE_NEG_SOA = ("gslb.example.com. 60 IN SOA ns1.gslb.example.com. "
                   "hostmaster.example.com. SERIAL 3600 600 604800 60")

# What gslbd puts in the OPT record of every reply to an EDNS query (RFC 6891 s7):
# version 0, a 1232-byte payload, no flags, no options. For Response.check_reply(edns=).
GSLBD_OPT = {"version": 0, "payload": 1232, "do": False, "options": []}


def write_example_zone(test, relpath="zones/gslb.example.com.yaml"):
    """EXAMPLE_ZONE written to the test's tmp/relpath; returns the Path."""
    return test.write(relpath, EXAMPLE_ZONE)
