#!/usr/bin/env python3
"""test_manpages.py: the manual pages in man/ are clean and say what the programs do.

Every page must pass `mandoc -T lint` without a word of output (run in man/, where
the pages' cross-references to each other resolve), and render with man(1)
at 80 columns, and with groff's warnings all on (`groff -mandoc -ww`), without a word on
standard error. Each page has the sections its kind needs.

So that the pages cannot drift from the code: each program's options, as its --help
lists them, must be the options its page describes (the `.It Fl ...` items), both ways
and with the same short forms; gslbctl's commands likewise (`.It Cm ...`); and every key
of the zone loader's schema tables (zones/*.c) and every record type it takes must have
an item in gslb-zone(5), which may describe no other key. Each comparison is first shown
to fail on a planted mistake.

Not here: whether what the pages say is true (the other suites test the behaviour).
Needs mandoc, man-db and groff (make deps) and the programs (make). Traffic: none.
"""

import os
import re
import shutil
import subprocess

import gslbtest as g
from gslbtest.procs import GSLBCTL, GSLBD, HEALTHD

MAN = g.ROOT / "man"
PROGRAMS = {"gslbd": GSLBD, "healthd": HEALTHD, "gslbctl": GSLBCTL}

# The sections each page must have, in mdoc's upper case.
SECTIONS = {
    "gslbd.8": ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "ENVIRONMENT",
                "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO", "STANDARDS", "AUTHORS"],
    "healthd.8": ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "ENVIRONMENT",
                  "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO", "AUTHORS"],
    "gslbctl.8": ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "ENVIRONMENT",
                  "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO", "AUTHORS"],
    "gslb-zone.5": ["NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "EXAMPLES", "SEE ALSO",
                    "STANDARDS", "AUTHORS"],
}

# The zone loader's files whose schema tables list every key a zone file may hold.
SCHEMA_SOURCES = ["zones/load.c", "zones/services.c", "zones/zgeo.c", "zones/records.c",
                  "zones/zload.c", "zones/zvantage.c"]

# man(1) and groff in a known locale, writing to a pipe, warnings on.
RENDER_ENV = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80", MANROFFSEQ="",
                  MANPAGER="cat", PAGER="cat")


def run(argv, env=None, cwd=None, timeout=30):
    """Run a command to completion, bounded: (status, stdout, stderr)."""
    try:
        p = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           errors="replace", env=env, cwd=cwd, timeout=timeout,
                           check=False)
    except subprocess.TimeoutExpired:
        return "timeout", "", ""
    return p.returncode, p.stdout, p.stderr


# ---------------------------------------------------------------- what --help lists

def help_options(text):
    """{long option: its short form or None} that a --help text defines: those that
    start a line of the option list (indented at most 8 columns, after an optional
    "-x, "), and those in brackets on the usage line and command lines
    ("[--listen ADDR:PORT ...]", "status [--json]"). Options named inside the
    descriptions, further indented, are references, not definitions."""
    opts = {}
    for line in text.splitlines():
        m = re.match(r"^ {0,8}(?:(-[A-Za-z0-9]), )?(--[a-z][a-z0-9-]*)", line)
        if m:
            opts[m.group(2)] = m.group(1)
        if line.startswith("usage:") or re.match(r"^ {0,8}[a-z]", line):
            for name in re.findall(r"\[(--[a-z][a-z0-9-]*)", line):
                opts.setdefault(name, None)
    return opts


def help_commands(text):
    """The command words a --help text lists under "Commands:", up to a blank line;
    "drain|down|up|auto REGION" gives four."""
    words, inside = set(), False
    for line in text.splitlines():
        if re.match(r"^[A-Za-z ]*[Cc]ommands:\s*$", line):
            inside = True
            continue
        if inside and not line.strip():
            break
        m = re.match(r"^ {1,8}([a-z][a-z|]*)(?:\s|$)", line) if inside else None
        if m:
            words.update(w for w in m.group(1).split("|") if w)
    return words


# ---------------------------------------------------------------- what a page describes

def page_options(source):
    """{long option: short form or None} of the `.It` items of an mdoc page that name
    options: `.It Fl z Ar path , Fl -zones Ar path` gives {"--zones": "-z"}."""
    opts = {}
    for line in source.splitlines():
        if not line.startswith(".It "):
            continue
        words = line.split()
        short = None
        for i, word in enumerate(words[:-1]):
            if word != "Fl":
                continue
            arg = words[i + 1]
            if arg.startswith("-"):
                opts["-" + arg] = short
                short = None
            elif len(arg) == 1:
                short = "-" + arg
    return opts


def page_items(source, macro, section=None):
    """The first argument of each `.It MACRO ...` line (in one section when given)."""
    items, current = set(), None
    for line in source.splitlines():
        if line.startswith(".Sh "):
            current = line[4:].strip()
        if section is not None and current != section:
            continue
        m = re.match(r"^\.It %s (\S+)" % macro, line)
        if m:
            items.add(m.group(1))
    return items


def page_sections(source):
    return [line[4:].strip() for line in source.splitlines() if line.startswith(".Sh ")]


def schema_keys(root):
    """(keys, record types) from the zone loader's tables: `{"weight", SCHEMA_INT, ...}`
    and `{"A", LDNS_RR_TYPE_A, ...}`."""
    keys, types = set(), set()
    for rel in SCHEMA_SOURCES:
        text = (root / rel).read_text()
        keys.update(re.findall(r'\{"([a-z_]+)",\s*SCHEMA_[A-Z]+', text))
        types.update(re.findall(r'\{"([A-Z0-9]+)",\s*LDNS_RR_TYPE_', text))
    return keys, types


def compare(what, documented, listed, documented_name, listed_name):
    """Problems between two sets (or dicts of long -> short option): missing either way,
    or a different short form."""
    problems = []
    for name in sorted(set(listed) - set(documented)):
        problems.append("%s %s is in %s but not in %s" % (what, name, listed_name,
                                                           documented_name))
    for name in sorted(set(documented) - set(listed)):
        problems.append("%s %s is in %s but not in %s" % (what, name, documented_name,
                                                           listed_name))
    if isinstance(documented, dict) and isinstance(listed, dict):
        for name in sorted(set(documented) & set(listed)):
            if documented[name] != listed[name]:
                problems.append("%s %s: short form %s in %s, %s in %s" % (
                    what, name, documented[name], documented_name, listed[name], listed_name))
    return problems


# ---------------------------------------------------------------- the checks

def check_tools(t):
    missing = [tool for tool in ("mandoc", "man", "groff") if shutil.which(tool) is None]
    if missing:
        t.bail("mandoc, man and groff are installed",
               "missing: %s (make deps installs mandoc, man-db and groff-base)"
               % " ".join(missing))
    t.ok("mandoc, man and groff are installed")


def check_lint(t, pages):
    # Run in man/: mandoc looks for the pages an Xr names in /usr/share/man and in
    # the current directory, so there the pages' references to each other resolve.
    status, out, err = run(["mandoc", "-T", "lint"] + [p.name for p in pages], cwd=MAN)
    t.check("mandoc -T lint of the %d pages, in man/, reports nothing" % len(pages),
            status == 0 and not out and not err,
            "status %s" % status, out, err)
    # The lint must be able to fail: a page with an unknown macro and an open list.
    bad = t.write("bad/bad.8", ".Dd December 2, 2026\n.Dt BAD 8\n.Os\n.Sh NAME\n.Nm bad\n"
                  ".Nd a broken page\n.Sh DESCRIPTION\n.Xx nothing\n.Bl -tag\n.It one\n")
    status, out, err = run(["mandoc", "-T", "lint", bad])
    t.like("mandoc -T lint reports a planted unknown macro", r"unknown macro", out + err)
    _, _, err = run(["man", "--warnings=w", "-l", bad], env=RENDER_ENV)
    t.like("man --warnings=w -l shows troff's warning about it on stderr",
           r"warning: macro 'Xx' not defined", err)
    _, _, err = run(["groff", "-mandoc", "-ww", "-z", "-Tutf8", bad], env=RENDER_ENV)
    t.like("groff -mandoc -ww shows it too", r"warning: macro 'Xx' not defined", err)


def check_render(t, page, source):
    name = page.name
    status, out, err = run(["man", "--warnings=w", "-l", page], env=RENDER_ENV)
    title = name.rsplit(".", 1)[0].upper()
    t.check("%s: man -l renders it at 80 columns, with nothing on stderr" % name,
            status == 0 and not err.strip() and re.search(r"^NAME$", out, re.M)
            and title in out, "status %s" % status, "stderr:", err or "(none)")
    status, _, err = run(["groff", "-mandoc", "-ww", "-z", "-Tutf8", page], env=RENDER_ENV)
    t.check("%s: groff -mandoc -ww finds nothing to warn about" % name,
            status == 0 and not err.strip(), "status %s" % status, err)
    sections = page_sections(source)
    missing = [s for s in SECTIONS[name] if s not in sections]
    t.check("%s: has %s" % (name, ", ".join(SECTIONS[name])), not missing,
            "missing: %s" % ", ".join(missing), "has: %s" % ", ".join(sections))
    m = re.search(r"^\.Dt (\S+) (\d)$", source, re.M)
    t.check("%s: .Dt names the page and its section" % name,
            m is not None and "%s.%s" % (m.group(1).lower(), m.group(2)) == name,
            m.group(0) if m else "no .Dt line")


def check_options(t, prog, binary, source):
    if not os.access(binary, os.X_OK):
        t.not_ok("%s(8) describes the options of %s --help" % (prog, prog),
                 "%s is missing: run make first" % binary)
        return None
    status, out, err = run([binary, "--help"])
    if status != 0 or not out:
        t.not_ok("%s(8) describes the options of %s --help" % (prog, prog),
                 "%s --help: status %s" % (prog, status), err)
        return None
    listed, documented = help_options(out), page_options(source)
    t.report("%s(8) describes exactly the options of %s --help, with their short forms"
             % (prog, prog),
             compare("option", documented, listed, "%s.8" % prog, "--help"))
    return out


def check_commands(t, help_text, source):
    listed = help_commands(help_text)
    documented = page_items(source, "Cm", "COMMANDS")
    t.check("gslbctl --help lists commands", bool(listed), help_text)
    t.report("gslbctl(8) describes exactly the commands of gslbctl --help",
             compare("command", documented, listed, "gslbctl.8", "--help"))


def check_zone_keys(t, source):
    keys, types = schema_keys(g.ROOT)
    t.check("the zone loader's tables give keys and record types",
            len(keys) > 30 and {"A", "AAAA", "TXT"} <= types,
            "keys: %s" % sorted(keys), "types: %s" % sorted(types))
    t.report("gslb-zone(5) has an item for every key of the zone schema, and no other",
             compare("key", page_items(source, "Ic"), keys, "gslb-zone.5", "zones/*.c"))
    t.report("gslb-zone(5) has an item for every record type the loader takes",
             ["record type %s is in zones/records.c but not in gslb-zone.5" % ty
              for ty in sorted(types - page_items(source, "Cm"))])


def check_comparisons_fail(t, sources):
    """The comparisons above catch what they are for."""
    helptext = ("usage: x --zones PATH [--listen ADDR] [options]\n\n"
                "  -z, --zones PATH   zones\n"
                "      --tcp-max N    see also --zones\n"
                "  -q, --quiet        quiet\n\n"
                "Commands:\n  status [--json]   status\n  drain|up REGION   drain\n\n")
    t.eq("help options: defined ones only, with short forms, references left out",
         {"--zones": "-z", "--listen": None, "--tcp-max": None, "--quiet": "-q",
          "--json": None}, help_options(helptext))
    t.eq("help commands: pipes split", {"status", "drain", "up"}, help_commands(helptext))
    documented = page_options(sources["gslbd.8"])
    listed = dict(documented)
    listed.pop("--zones")
    listed["--planted"] = None
    listed["--quiet"] = "-Q"
    problems = compare("option", documented, listed, "gslbd.8", "--help")
    t.check("the option comparison reports a missing, an extra and a changed short option",
            len(problems) == 3 and any("--planted" in p for p in problems)
            and any("--zones" in p for p in problems) and any("-Q" in p for p in problems),
            *problems)


with g.Test(__file__) as t:
    check_tools(t)
    pages = sorted(MAN.glob("*.[1-9]"))
    t.eq("man/ holds the four pages", sorted(SECTIONS), [p.name for p in pages])
    sources = {p.name: p.read_text() for p in pages}
    check_lint(t, pages)
    for page in pages:
        if page.name in SECTIONS:
            check_render(t, page, sources[page.name])
    for prog, binary in PROGRAMS.items():
        text = check_options(t, prog, binary, sources.get(prog + ".8", ""))
        if prog == "gslbctl" and text is not None:
            check_commands(t, text, sources.get("gslbctl.8", ""))
    check_zone_keys(t, sources.get("gslb-zone.5", ""))
    check_comparisons_fail(t, sources)
