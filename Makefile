# mcpguard build.  Two entry points for people (see README):
#   make run    build, then start the gateway on the built-in default catalog (stdio)
#   make test   build with ASan+UBSan, then run every test (unit, fuzz smoke,
#               integration, conformance)
# Everything else here serves those two.

.DEFAULT_GOAL := all
PKGS      := jansson libuv yaml-0.1 libsodium libmicrohttpd libcurl libseccomp libhs
CC        ?= cc
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

# Library flags come from pkg-config, read only after the packages are
# installed: build/config.mk is made (install-deps, then configure) before
# anything is built, and make reads itself again once it exists.  So the
# first `make run` on a machine without the -dev packages installs, then
# builds and links in one go.  `make clean` needs none of it.
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),all)),)
include build/config.mk
endif

build/config.mk: scripts/install-deps.sh scripts/configure.sh Makefile
	@scripts/install-deps.sh build
	@scripts/configure.sh $@ $(PKGS)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wformat-nonliteral -Wswitch-default -Wimplicit-fallthrough \
        -Wpointer-arith -Wcast-qual -Wvla -Wundef -Wno-unused-parameter
BASE_CFLAGS := -std=gnu17 -D_GNU_SOURCE -Isrc -include src/base/banned.h \
               -DMG_VERSION='"$(VERSION)"' -DMG_GIT_REV='"$(GIT_REV)"' \
               $(WARN) $(PKG_CFLAGS)
LIBS := $(PKG_LIBS) -lm

# Release build: build/.  Test build (ASan+UBSan, debug): build/test/.
REL_CFLAGS  := $(BASE_CFLAGS) -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
REL_LDFLAGS := -pie -Wl,-z,relro,-z,now
SAN         := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TST_CFLAGS  := $(BASE_CFLAGS) -O1 -g $(SAN)
TST_LDFLAGS := $(SAN)

SRC_ALL  := $(sort $(wildcard src/*/*.c))
SRC_MAIN := src/cli/main.c
SRC_LIB  := $(filter-out $(SRC_MAIN),$(SRC_ALL))

REL_OBJ := $(SRC_LIB:%.c=build/obj/%.o)
TST_OBJ := $(SRC_LIB:%.c=build/test/obj/%.o)

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/test/unit/%)
FIXTURE_SRC := $(sort $(wildcard tests/fixtures/*.c))
FIXTURE_BIN := $(FIXTURE_SRC:tests/fixtures/%.c=build/fixtures/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

.PHONY: all run test deps test-deps unit fuzz fuzz-smoke integration conformance bench bench-sandbox \
        clean check-banned

all: build/mcpguard

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

build/mcpguard: $(REL_OBJ) build/obj/$(SRC_MAIN:.c=.o)
	@echo "  LINK    $@"
	@$(CC) $(REL_LDFLAGS) -o $@ $^ $(LIBS)

build/test/mcpguard: $(TST_OBJ) build/test/obj/$(SRC_MAIN:.c=.o)
	@echo "  LINK    $@"
	@$(CC) $(TST_LDFLAGS) -o $@ $^ $(LIBS)

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(REL_CFLAGS) -MMD -MP -c -o $@ $<

build/test/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC+SAN  $<"
	@$(CC) $(TST_CFLAGS) -MMD -MP -c -o $@ $<

build/test/unit/%: tests/unit/%.c $(TST_OBJ) | test-deps
	@mkdir -p $(dir $@)
	@echo "  UNIT    $<"
	@$(CC) $(TST_CFLAGS) -Itests/unit -o $@ $< $(TST_OBJ) $(TST_LDFLAGS) $(LIBS) -lcmocka

# Fixture servers are test peers, built without sanitizers so that they
# behave like ordinary servers (and run fast in benchmarks).
build/fixtures/%: tests/fixtures/%.c $(wildcard tests/fixtures/fixture/*.c) $(REL_OBJ)
	@mkdir -p $(dir $@)
	@echo "  FIXTURE $<"
	@$(CC) $(REL_CFLAGS) -o $@ $< $(REL_OBJ) $(REL_LDFLAGS) $(LIBS)

build/fuzz/%: tests/fuzz/%.c $(SRC_LIB) | test-deps
	@mkdir -p $(dir $@)
	@echo "  FUZZER  $<"
	@clang -std=gnu17 -D_GNU_SOURCE -Isrc -include src/base/banned.h -g -O1 \
	  -DMG_VERSION='"$(VERSION)"' -DMG_GIT_REV='"fuzz"' \
	  -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) \
	  -o $@ $< $(SRC_LIB) $(LIBS)

# Servers run in sandboxes, which need root (id ranges, cgroups).
run: deps build/mcpguard
	$(if $(filter 0,$(shell id -u)),,sudo) ./build/mcpguard gateway run $(ARGS)

unit: build/test/mcpguard $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

fuzz: $(FUZZ_BIN)

fuzz-smoke: $(FUZZ_BIN)
	@scripts/fuzz-smoke.sh $(FUZZ_BIN)

integration: build/test/mcpguard build/mcpguard $(FIXTURE_BIN)
	@scripts/run-integration.sh

conformance: build/test/mcpguard $(FIXTURE_BIN)
	@tests/conformance/run.sh

check-banned:
	@scripts/check-banned.sh

test: test-deps check-banned unit fuzz-smoke integration conformance
	@echo "== all tests passed"

bench: build/mcpguard $(FIXTURE_BIN) build/bench/sandbox_bench build/bench/leak_bench \
	build/bench/listtime_bench build/bench/inject_bench
	@bench/run.sh

# Sandbox creation and exec against bwrap, unshare and nsenter (root only).
bench-sandbox: build/bench/sandbox_bench
	@bench/sandbox.sh

build/bench/leak_bench: bench/leak_bench.c $(REL_OBJ)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $<"
	@$(CC) $(REL_CFLAGS) -o $@ $< $(REL_OBJ) $(REL_LDFLAGS) $(LIBS)

build/bench/defscan_bench: bench/defscan_bench.c $(REL_OBJ)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $<"
	@$(CC) $(REL_CFLAGS) -o $@ $< $(REL_OBJ) $(REL_LDFLAGS) $(LIBS)

build/bench/listtime_bench: bench/listtime_bench.c $(REL_OBJ)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $<"
	@$(CC) $(REL_CFLAGS) -o $@ $< $(REL_OBJ) $(REL_LDFLAGS) $(LIBS)

build/bench/inject_bench: bench/inject_bench.c $(REL_OBJ)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $<"
	@$(CC) $(REL_CFLAGS) -o $@ $< $(REL_OBJ) $(REL_LDFLAGS) $(LIBS)

build/bench/pins_bench: bench/pins_bench.c $(REL_OBJ)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $<"
	@$(CC) $(REL_CFLAGS) -o $@ $< $(REL_OBJ) $(REL_LDFLAGS) $(LIBS)

build/bench/sandbox_bench: bench/sandbox_bench.c $(REL_OBJ)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $<"
	@$(CC) $(REL_CFLAGS) -o $@ $< $(REL_OBJ) $(REL_LDFLAGS) $(LIBS)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
