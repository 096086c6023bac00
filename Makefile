# gslb build. `make` builds the daemons with warnings as errors; `make test`
# runs unit and end-to-end tests; `make demo` runs the loopback demo.
# `make deps` installs missing Debian packages (the other targets call it).
# SANITIZE=address,undefined builds everything with those sanitizers.

CC      ?= cc
PKGS    := ldns libuv yaml-0.1 libmaxminddb
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wno-missing-field-initializers -I. -MMD -MP
# The built-in world database, found where `make` built it (override for installs).
WORLD_DB ?= $(CURDIR)/geo/world.mmdb
CFLAGS  += -DGSLB_WORLD_DB='"$(WORLD_DB)"'  
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lldns -luv -lyaml -lmaxminddb) -lm -lpthread
ifdef SANITIZE
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

BUILD   := build
COMMON_SRC := $(wildcard common/*.c) $(wildcard zones/*.c) $(wildcard geo/*.c)
GSLBD_SRC  := $(filter-out gslbd/main.c gslbd/gslbctl.c,$(wildcard gslbd/*.c))
UNIT_SRC   := $(wildcard tests/unit/*.c)

COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o) $(BUILD)/geo/countries.o
GSLBD_OBJ  := $(GSLBD_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ   := $(UNIT_SRC:%.c=$(BUILD)/%.o)

all: bin/gslbd bin/gslbctl geo/world.mmdb

# The built-in country-level world database, from data Debian ships
# (IPFire Location via tor-geoipdb, tzdata, CLDR): see geo/README-data.md.
WORLD_SRC := /usr/share/tor/geoip /usr/share/tor/geoip6 /usr/share/zoneinfo/zone.tab \
             /usr/share/unicode/cldr/common/supplemental/supplementalData.xml
geo/world.mmdb: geo/build-world geo/build-layout.pl geo/country-points.pl $(WORLD_SRC)
	geo/build-world $@

# One point per country (geo/countries.h), for GeoIP2 Country databases, which
# have no locations: the same tzdata zone.tab rows as geo/world.mmdb.
$(BUILD)/geo/countries.c: geo/build-countries geo/country-points.pl /usr/share/zoneinfo/zone.tab
	@mkdir -p $(dir $@)
	geo/build-countries $@

$(BUILD)/geo/countries.o: $(BUILD)/geo/countries.c
	$(CC) $(CFLAGS) -c -o $@ $<

bin/gslbd: $(BUILD)/gslbd/main.o $(GSLBD_OBJ) $(COMMON_OBJ)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bin/gslbctl: $(BUILD)/gslbd/gslbctl.o $(BUILD)/common/control.o $(BUILD)/common/log.o
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^

bin/unit-tests: $(UNIT_OBJ) $(GSLBD_OBJ) $(COMMON_OBJ)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

deps:
	@tools/deps.sh

test: deps
	@$(MAKE) --no-print-directory all bin/unit-tests
	tools/run-tests.sh

unit: bin/unit-tests
	bin/unit-tests

demo: deps
	@$(MAKE) --no-print-directory all
	tools/demo.sh

format:
	clang-format -i $(COMMON_SRC) $(GSLBD_SRC) gslbd/main.c $(wildcard */*.h) $(UNIT_SRC)

format-check:
	clang-format --dry-run --Werror $(COMMON_SRC) $(GSLBD_SRC) gslbd/main.c $(wildcard */*.h)

clean:
	rm -rf $(BUILD) bin geo/world.mmdb

.PHONY: all deps test unit demo format format-check clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
