# Makefile — builds libsara.a, the `sara` CLI and the test runner.
# Why make and not CMake: one flat source tree, wildcards pick up new files, and the one
# special rule we need (src/ops compiled twice: float for the engine, double for the
# finite-difference tests) is two lines here. Targets:
#   make            library + CLI (build/sara)
#   make test       build and run the test suite (last line: "N passed, N failed")
#   make asan       the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench      benchmark programs (build/bench_*)
#   make clean
CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?=
# -Wno-format-truncation: error messages are one line and truncated by design.
CFLAGS  += -std=c11 $(OPT) -g -Wall -Wextra -Werror -Wno-format-truncation -D_GNU_SOURCE -fopenmp -Iinclude -Isrc
LDLIBS  += -fopenmp -lopenblas -llapacke -lcjson -lpng -ljpeg -lz -lm

# What the build found (llm.c style): say it once, do not guess silently.
BLAS_OK  := $(shell echo 'int main(void){return 0;}' | $(CC) -x c - -o /dev/null -lopenblas -llapacke -lcjson -lpng -ljpeg -lz 2>/dev/null && echo yes || echo no)
ifeq ($(BLAS_OK),no)
$(error a library is missing (OpenBLAS, LAPACKE, cJSON, libpng, libjpeg or zlib): run scripts/install-deps.sh)
endif

LIB_SRC   := $(wildcard src/*/*.c)
OPS_SRC   := $(wildcard src/ops/*.c)
CLI_SRC   := $(wildcard tools/cli/*.c)
TEST_SRC  := $(wildcard tests/*.c)
BENCH_SRC := $(wildcard bench/*.c)

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(OPS_SRC:%.c=$(BUILD)/obj64/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
LIB       := $(BUILD)/libsara.a

all: $(BUILD)/sara

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# src/ops is written over `real`; this copy is the double-precision twin (symbols end in _f64).
$(BUILD)/obj64/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DOPS_DOUBLE -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/sara: $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/sara_tests: $(TEST_OBJ) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench_%: $(BUILD)/obj/bench/bench_%.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

test: $(BUILD)/sara_tests $(BUILD)/sara
	SARA_BIN=$(BUILD)/sara ./$(BUILD)/sara_tests $(T)

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" test

bench: $(BENCH_SRC:bench/%.c=$(BUILD)/%)

clean:
	rm -rf build build-asan

.PHONY: all test asan bench clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
