# gslb build. `make` builds the daemons with warnings as errors; `make test`
# runs unit and end-to-end tests; `make demo` runs the loopback demo.
# `make deps` installs missing Debian packages (the other targets call it).
# SANITIZE=address,undefined builds everything with those sanitizers.

CC      ?= cc
PKGS    := ldns libuv yaml-0.1 libmaxminddb
# CFLAGS is yours (optimisation, debug info); the flags the build needs are
# kept apart so `make CFLAGS=-O0` still builds.
CFLAGS  ?= -O2 -g
XCFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wno-missing-field-initializers -I. -MMD -MP
# The built-in world database, found where `make` built it (override for installs).
WORLD_DB ?= $(CURDIR)/geo/world.mmdb
XCFLAGS += -DGSLB_WORLD_DB='"$(WORLD_DB)"' 
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lldns -luv -lyaml -lmaxminddb) -lm -lpthread
ifdef SANITIZE
XCFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

BUILD   := build
COMMON_SRC := $(wildcard common/*.c) $(wildcard zones/*.c) $(wildcard geo/*.c)
GSLBD_SRC  := $(filter-out gslbd/main.c gslbd/gslbctl.c,$(wildcard gslbd/*.c))
HEALTHD_SRC := $(filter-out healthd/main.c,$(wildcard healthd/*.c))
UNIT_SRC   := $(wildcard tests/unit/*.c)

COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o) $(BUILD)/geo/countries.o
GSLBD_OBJ  := $(GSLBD_SRC:%.c=$(BUILD)/%.o)
HEALTHD_OBJ := $(HEALTHD_SRC:%.c=$(BUILD)/%.o)
# healthd's pure parts (no libcurl, no libuv), linked into the unit tests
HEALTHD_PURE_OBJ := $(BUILD)/healthd/hstate.o $(BUILD)/healthd/target.o $(BUILD)/healthd/scan.o
UNIT_OBJ   := $(UNIT_SRC:%.c=$(BUILD)/%.o)

all: bin/gslbd bin/gslbctl bin/healthd geo/world.mmdb

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
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

bin/gslbd: $(BUILD)/gslbd/main.o $(GSLBD_OBJ) $(COMMON_OBJ)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bin/gslbctl: $(BUILD)/gslbd/gslbctl.o $(BUILD)/common/control.o $(BUILD)/common/log.o
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^

bin/healthd: $(BUILD)/healthd/main.o $(HEALTHD_OBJ) $(COMMON_OBJ)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcurl

bin/unit-tests: $(UNIT_OBJ) $(GSLBD_OBJ) $(HEALTHD_PURE_OBJ) $(COMMON_OBJ)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

# Fuzz targets: replayed over their corpora by `make test` (ordinary build),
# fuzzed for FUZZ_SECONDS each by `make fuzz` (clang, libFuzzer, ASan, UBSan).
FUZZ_TARGETS := answer zone
FUZZ_SECONDS ?= 60
LIB_OBJ      := $(GSLBD_OBJ) $(COMMON_OBJ)

bin/replay-%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o $(LIB_OBJ)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz: geo/world.mmdb
	$(MAKE) BUILD=build-fuzz CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
		LDFLAGS="-fsanitize=fuzzer,address,undefined" $(FUZZ_TARGETS:%=build-fuzz/fuzz-%)
	for t in $(FUZZ_TARGETS); do \
		build-fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
			tests/fuzz/corpus/$$t || exit 1; \
	done

build-fuzz/fuzz-%: build-fuzz/tests/fuzz/fuzz_%.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@tools/deps.sh

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

test: deps
	@$(MAKE) --no-print-directory all bin/unit-tests $(FUZZ_TARGETS:%=bin/replay-%)
	tools/run-tests.sh

unit: bin/unit-tests
	bin/unit-tests

demo: deps
	@$(MAKE) --no-print-directory all
	tools/demo.sh

FORMAT_SRC := $(COMMON_SRC) $(GSLBD_SRC) gslbd/main.c gslbd/gslbctl.c $(HEALTHD_SRC) healthd/main.c \
              $(wildcard */*.h)

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

clean:
	rm -rf $(BUILD) build-fuzz bin geo/world.mmdb

.PHONY: all deps test unit demo fuzz bench bench-healthd format format-check clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
