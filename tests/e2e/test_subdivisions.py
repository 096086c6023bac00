#!/usr/bin/env python3
"""test_subdivisions.py: geo/build-subdivisions maps DB-IP names to ISO 3166-2 codes.

geo/build-subdivisions runs on a hand-made states list (no DB-IP data) against the real
Debian iso-codes data, with a small alias file of the test's own and with the repository's
geo/subdivision-aliases.tsv. Checked: each matching rule (exact name, folded accents and
punctuation, the name followed by its kind, iso-codes' bracketed and English variants, alias), that an alias wins over a
match and "-" keeps a name out, that a name two codes share is left out and listed, that
only the first subdivision level is matched (French departments, Indonesia's islands are
not), the output format and order, the coverage summary, and the error messages for bad
input, which name the file and line.

Needs iso-codes (make deps). Traffic: none.
"""

import os
import re
import subprocess

import gslbtest as g

BUILD = g.ROOT / "geo" / "build-subdivisions"
ISO = "/usr/share/iso-codes/json/iso_3166-2.json"

# (country, DB-IP name, networks, the code expected or None, why)
CASES = [
    ("US", "California", 900, "US-CA", "exact name"),
    ("US", "Texas", 80, None, "exact name, but the test's alias says '-'"),
    ("DE", "Baden-Wurttemberg", 70, "DE-BW", "accents folded (Baden-Württemberg)"),
    ("FR", "ILE DE FRANCE", 60, "FR-IDF", "case and hyphens folded (Île-de-France)"),
    ("FR", "Provence-Alpes-Cote d'Azur", 5, "FR-PAC", "apostrophe folded (’ in iso-codes)"),
    ("TR", "Izmir Province", 8, "TR-35", "the name and iso-codes' type of it (İzmir, Province)"),
    ("ES", "Cataluña", 50, "ES-CT", "the bracketed variant of 'Catalunya [Cataluña]'"),
    ("GB", "Cymru", 4, "GB-WLS", "the bracketed variant of 'Wales [Cymru GB-CYM]'"),
    ("DE", "Bavaria", 40, "DE-BY", "iso-codes' English translation of Bayern"),
    ("DE", "Hesse", 30, "DE-HE", "the test's alias (Hessen)"),
    ("JP", "Tokyo", 20, "JP-01", "the test's alias wins over the exact name (JP-13)"),
    ("HU", "Veszprem", 10, None, "ambiguous: county HU-VE and city HU-VM"),
    ("FR", "Gironde", 3, None, "a department, below the first level"),
    ("ID", "Jawa Barat", 2, "ID-JB", "an Indonesian province, the first level there"),
    ("ID", "Jawa", 1, None, "Indonesia's island group is not an administration"),
    ("US", "Atlantis", 7, None, "no such subdivision"),
    ("US", "", 100, None, "no state1: counted, never written"),
]

ALIASES = """# the test's aliases
DE\tHesse\tDE-HE\t# Hessen
JP\tTokyo\tJP-01\t# deliberately wrong, to show that an alias wins
US\tTexas\t-\t# kept unmapped
"""


def run(argv, timeout=30):
    """(status, stdout, stderr) of a bounded run."""
    try:
        p = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", "", ""
    return p.returncode, p.stdout, p.stderr


def check_rules(t):
    states = t.write("states.tsv", "".join("%s\t%s\t%d\n" % (cc, name, n)
                                           for cc, name, n, _, _ in CASES))
    aliases = t.write("aliases.tsv", ALIASES)
    status, out, err = run([BUILD, "--aliases", aliases, states])
    t.eq("build-subdivisions exits 0", 0, status)
    got = {}
    for line in out.splitlines():
        fields = line.split("\t")
        t.check("output line %r has three tab-separated fields" % line, len(fields) == 3)
        if len(fields) == 3:
            got[(fields[0], fields[1])] = fields[2]
    for cc, name, _, code, why in CASES:
        t.eq("%s '%s': %s" % (cc, name, why), code, got.get((cc, name)))
    t.eq("the output is sorted by country, then name", sorted(out.splitlines()),
         out.splitlines())
    t.check("every code is the full ISO 3166-2 form, CC-XXX",
            all(re.fullmatch(r"%s-[A-Z0-9]{1,3}" % cc, c) for (cc, _), c in got.items()),
            out)
    t.like("the summary lists the ambiguous name with both codes",
           r"^  HU\tVeszprem\tHU-VE,HU-VM\t10 networks$", err)
    # US: 900 of 987 networks with a state1 mapped (Texas and Atlantis not).
    t.like("the summary gives US coverage by networks", r"^US +987 +91\.2% +1/3 ", err)
    t.like("the summary names the largest unmapped names, not those an alias keeps out",
           r"^US .*  Atlantis \(7\)$", err)
    status, out2, _ = run([BUILD, "--aliases", aliases, states, t.path("out.tsv")])
    t.check("OUTPUT argument: the same table written to the file",
            status == 0 and t.path("out.tsv").read_text() == out)


def check_repository_aliases(t):
    """The committed alias file loads, and decides the names it was written for."""
    states = t.write("real.tsv", "DE\tHesse\t5\nCN\tBeijing\t4\nRU\tSt.-Petersburg\t3\n"
                     "KR\tSeoul\t2\nFR\tRhone-Alpes\t1\nRU\tAltai\t1\n")
    status, out, err = run([BUILD, states])
    t.eq("geo/subdivision-aliases.tsv loads without error", 0, status)
    t.eq("its aliases map English and older names", "CN\tBeijing\tCN-BJ\nDE\tHesse\tDE-HE\n"
         "FR\tRhone-Alpes\tFR-ARA\nKR\tSeoul\tKR-11\nRU\tSt.-Petersburg\tRU-SPE\n", out)
    if status:
        t.diag(err)


def check_errors(t):
    good = t.write("ok.tsv", "US\tCalifornia\t1\n")
    aliases = t.write("none.tsv", "")
    bad_states = t.write("bad.tsv", "US\tCalifornia\t1\nUSA\tTexas\t2\nUS\tOhio\tmany\n"
                         "US\tOhio\n")
    status, _, err = run([BUILD, "--aliases", aliases, bad_states])
    t.eq("bad states list: exit 1", 1, status)
    t.like("a bad country code is named with file:line:column",
           r"bad\.tsv:2:1: error: 'USA' is not a country code", err)
    t.like("a bad count is named with its column",
           r"bad\.tsv:3:9: error: 'many' is not a number of networks", err)
    t.like("a short line is named", r"bad\.tsv:4: error: want CC<TAB>state1<TAB>networks", err)
    bad_aliases = t.write("bada.tsv", "DE\tHesse\tDE-XX\t# no such code\n"
                          "DE\tHesse\tFR-IDF\t# not German\nDE\tHesse\tDE-HE\n"
                          "DE\tHesse\tDE-HE\t# ok\nDE\tHesse\tDE-HE\t# twice\n")
    status, _, err = run([BUILD, "--aliases", bad_aliases, good])
    t.eq("bad alias file: exit 1", 1, status)
    t.like("an unknown code is named with file:line:column",
           r"bada\.tsv:1:10: error: 'DE-XX' is not an ISO 3166-2 code in iso-codes", err)
    t.like("a code of another country is refused",
           r"bada\.tsv:2:10: error: 'FR-IDF' is not a subdivision of DE", err)
    t.like("an alias must say why", r"bada\.tsv:3: error: want CC<TAB>name<TAB>CODE<TAB># why",
           err)
    t.like("an alias given twice is refused",
           r"bada\.tsv:5: error: 'Hesse' DE given again \(first on line 4\)", err)


with g.Test(__file__) as t:
    if not os.path.exists(ISO):
        t.bail("%s missing: install iso-codes (make deps)" % ISO)
    check_rules(t)
    check_repository_aliases(t)
    check_errors(t)
