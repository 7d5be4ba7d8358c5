# Makefile — builds libsara.a, the `sara` CLI and the test runner.
# Why make and not CMake: one flat source tree, wildcards pick up new files, and the one
# special rule we need (src/ops compiled twice: float for the engine, double for the
# finite-difference tests) is two lines here. Targets:
#   make            library + CLI (build/sara)
#   make test       build and run the test suite (last line: "N passed, N failed")
#   make asan       the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench      benchmark programs (build/bench_*)
#   make fuzz       libFuzzer binaries (clang, ASan + UBSan) in build-fuzz/, one per fuzz/fuzz_*.c
#   make fuzz-run   runs each for FUZZ_SECONDS (60) from the committed corpus fuzz/corpus/<target>/
#   make fuzz-corpus  regenerates the committed seed corpus (fuzz/gen_corpus.c)
#   make valgrind   a short train + sample + merge under valgrind memcheck (scripts/valgrind-check.sh)
#   make check      test + fuzz-run (CHECK_FUZZ_SECONDS, 60, per target) + asan: the CI gate
#   make robustness-doc  regenerates docs/ROBUSTNESS.md from the bad-input and fault tests
#   make clean
CC      ?= cc
# Recursive makes (asan, fuzz, check) must not print "Leaving directory" after the suite's last line.
MAKEFLAGS += --no-print-directory
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
# The fuzz targets' entry points are also linked into the test runner, which replays the corpus.
FUZZ_SRC  := $(filter-out fuzz/gen_corpus.c,$(wildcard fuzz/*.c))
TEST_SRC  := $(wildcard tests/*.c) $(FUZZ_SRC)
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

# ---- fuzzing (clang + libFuzzer; Debian: clang, libclang-rt-14-dev, libomp-dev) --------------
# The library is rebuilt by clang into its own folder with coverage instrumentation and the
# sanitizers; each fuzz/fuzz_<target>.c becomes build-fuzz/fuzz_<target>.
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# clang only: gcc's -Wno-format-truncation is unknown to it, and at -O1 under the sanitizers it
# cannot honour every `omp simd` request, which -Werror would turn into an error.
FUZZ_WARN    := -Wno-unknown-warning-option -Wno-pass-failed
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(filter-out fuzz/fuzz_common.c,$(wildcard fuzz/fuzz_*.c)))
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) \
	    OPT="-O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(FUZZ_SAN) $(FUZZ_WARN)" \
	    $(FUZZ_BUILD)/libsara.a
	$(MAKE) $(FUZZ_BINS)

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.c fuzz/fuzz.h $(FUZZ_BUILD)/libsara.a
	$(FUZZ_CC) -std=c11 -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -DSARA_LIBFUZZER -Iinclude -Isrc \
	    -fsanitize=fuzzer $(FUZZ_SAN) -fopenmp $< fuzz/fuzz_common.c $(FUZZ_BUILD)/libsara.a -o $@ $(LDLIBS)

# Each target runs from its committed seeds (read-only) into a working corpus under build-fuzz/;
# a crash leaves its input as build-fuzz/artifacts/<target>-crash-* (commit it as a regression).
fuzz-run: fuzz
	@mkdir -p $(FUZZ_BUILD)/artifacts
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    ./$(FUZZ_BUILD)/fuzz_$$t $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t -max_total_time=$(FUZZ_SECONDS) \
	        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- \
	        2>$(FUZZ_BUILD)/$$t.log || { tail -40 $(FUZZ_BUILD)/$$t.log; exit 1; }; \
	    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" $(FUZZ_BUILD)/$$t.log | tr '\n' ' '; echo; \
	done

$(BUILD)/gen_corpus: fuzz/gen_corpus.c fuzz/fuzz_adapter.c fuzz/fuzz_common.c $(LIB)
	$(CC) $(CFLAGS) fuzz/gen_corpus.c fuzz/fuzz_adapter.c fuzz/fuzz_common.c $(LIB) -o $@ $(LDLIBS)

fuzz-corpus: $(BUILD)/gen_corpus
	./$(BUILD)/gen_corpus

# ---- the rest of the robustness work (docs/ROBUSTNESS.md) -----------------------------------
VALGRIND_BUILD ?= build-valgrind
CHECK_FUZZ_SECONDS ?= 60

valgrind:
	$(MAKE) BUILD=$(VALGRIND_BUILD) OPT="-O1" $(VALGRIND_BUILD)/sara
	scripts/valgrind-check.sh $(VALGRIND_BUILD)/sara

# The sanitizer run goes last so the closing line is the suite's "N passed, N failed".
check:
	$(MAKE) test
	$(MAKE) fuzz-run FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)
	$(MAKE) asan

# The CLI bad-input and fault tests append their rows when SARA_ROBUSTNESS_ROWS names a file.
robustness-doc: $(BUILD)/sara_tests $(BUILD)/sara
	rm -f $(BUILD)/robustness-rows.md
	SARA_ROBUSTNESS_ROWS=$(BUILD)/robustness-rows.md SARA_BIN=$(BUILD)/sara ./$(BUILD)/sara_tests robust
	scripts/robustness-doc.sh $(BUILD)/robustness-rows.md > docs/ROBUSTNESS.md

clean:
	rm -rf build build-asan $(FUZZ_BUILD) $(VALGRIND_BUILD)

.PHONY: all test asan bench fuzz fuzz-run fuzz-corpus valgrind check robustness-doc clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
