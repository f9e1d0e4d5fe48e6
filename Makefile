# portcullis build. Sources are found by folder, so a new module needs no
# edit here: common/, cache/, policy/, scanner/ and proxy/ *.c files form
# libportcullis.a, proxy/main.c adds the command line, and every
# tests/unit/test_*.c becomes one cmocka test program.
#
#   make              build build/portcullis
#   make check        install dependencies, run unit and end-to-end tests
#   make unit         unit tests only
#   make asan         unit tests under AddressSanitizer and UBSan
#   make fuzz         every libFuzzer target for FUZZ_SECONDS (default 10)
#   make demo         the main job on real images, end to end
#
# BUILD=dir puts objects elsewhere (make asan uses build-asan).

BUILD ?= build
CC ?= cc
PKGS = libevent libevent_openssl libevent_pthreads libnghttp2 libcurl \
       openssl libarchive libisal libzstd sqlite3 jansson yaml-0.1 lmdb \
       hiredis

WARNINGS = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-unused-parameter -Wno-missing-field-initializers \
           -Wno-format-truncation
ifneq ($(CI),)
WERROR ?= -Werror
endif
OPT ?= -O2 -g
SANITIZE ?=

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS_ALL = -std=c11 -D_GNU_SOURCE -I. $(OPT) $(WARNINGS) $(WERROR) \
             $(SANITIZE) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SANITIZE) $(LDFLAGS)
LIBS_ALL = $(PKG_LIBS) -lcrypt -lpthread -lm

LIB_SRCS := $(filter-out proxy/main.c, \
	$(wildcard common/*.c cache/*.c policy/*.c scanner/*.c proxy/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPER_SRCS := $(filter-out $(UNIT_SRCS), $(wildcard tests/unit/*.c))
UNIT_HELPER_OBJS := $(UNIT_HELPER_SRCS:%.c=$(BUILD)/%.o)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps unit e2e check asan demo clean format bench fuzz
.SECONDARY:

all: $(BUILD)/portcullis

deps:
	@./scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libportcullis.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/portcullis: $(BUILD)/proxy/main.o $(BUILD)/libportcullis.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(UNIT_HELPER_OBJS) $(BUILD)/libportcullis.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL) -lcmocka

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libportcullis.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)

unit: $(UNIT_BINS) $(BUILD)/portcullis
	@./tests/run-unit.sh $(BUILD) $(UNIT_BINS)

e2e: $(BUILD)/portcullis
	@./tests/e2e/run.sh $(BUILD)

bench: $(BENCH_BINS) $(BUILD)/portcullis

check: deps
	$(MAKE) all $(UNIT_BINS)
	$(MAKE) unit
	$(MAKE) e2e

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
		unit

demo: deps all
	@./scripts/demo.sh $(BUILD)

FUZZ_SECONDS ?= 10
fuzz:
	@./tests/fuzz/run.sh $(FUZZ_SECONDS)

format:
	clang-format -i $(LIB_SRCS) proxy/main.c $(UNIT_SRCS) \
		$(wildcard */*.h)

clean:
	rm -rf build build-asan build-*

-include $(LIB_OBJS:.o=.d) $(BUILD)/proxy/main.d
