/* fuzz.h — the fuzz targets' entry points. Each fuzz_<target>.c defines one function that feeds
 * one input through a loader and returns the loader's status; the same functions serve the
 * libFuzzer binaries (`make fuzz`, built with -DSARA_LIBFUZZER, which adds LLVMFuzzerTestOneInput)
 * and the corpus replay test (tests/test_fuzz_corpus.c, built by gcc into the test suite).
 *
 * Beyond "no crash, no sanitizer report", every target holds its loader to the library's error
 * contract: a failure comes with a non-empty one-line message that names the input
 * (fuzz_message_ok). Under libFuzzer a violation aborts, which libFuzzer reports as a crash. */
#ifndef SARA_FUZZ_H
#define SARA_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "sara/sara.h"

sara_status fuzz_safetensors(const uint8_t *data, size_t size);
sara_status fuzz_adapter(const uint8_t *data, size_t size);
sara_status fuzz_config(const uint8_t *data, size_t size);
sara_status fuzz_png(const uint8_t *data, size_t size);
sara_status fuzz_idx(const uint8_t *data, size_t size);
sara_status fuzz_metadata_jsonl(const uint8_t *data, size_t size);

/* The name each target gives its input in messages: a failure's message must contain it. (The
 * idx target writes real files, train-{images,labels}-idx*-ubyte: both names end so.) */
#define FUZZ_NAME_SAFETENSORS "fuzz-input.safetensors"
#define FUZZ_NAME_ADAPTER "fuzz-adapter.safetensors"
#define FUZZ_NAME_CONFIG "fuzz-config.json"
#define FUZZ_NAME_PNG "fuzz-image"
#define FUZZ_NAME_IDX "-ubyte"
#define FUZZ_NAME_METADATA_JSONL "fuzz-metadata.jsonl"

/* The fixed base model the adapter target applies adapters to (and the corpus generator writes
 * them for): conv.weight (4, 2, 3, 3), conv.bias (4), proj.weight (6, 4), proj.bias (6), filled
 * deterministically. p is initialised and allocated here; the caller frees it. */
sara_status fuzz_adapter_base(void *param_table_out);

/* 1 if s is SARA_OK, or a failure whose sara_last_error() is non-empty, one line, and contains
 * `name`; else 0. */
int fuzz_message_ok(sara_status s, const char *name);

/* A private scratch folder for targets that need real files (created once, removed at exit). */
const char *fuzz_scratch_dir(void);
/* Writes n bytes to dir/name; 0 on failure. */
int fuzz_write_file(const char *dir, const char *name, const uint8_t *data, size_t n);

/* Under libFuzzer: the entry point for target function FN, which names its input NAME. */
#ifdef SARA_LIBFUZZER
#include <stdlib.h>
#define FUZZ_ENTRY(fn, name)                                                \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)           \
    {                                                                       \
        if (!fuzz_message_ok(fn(data, size), name))                         \
            abort(); /* the error contract is broken: a finding */          \
        return 0;                                                           \
    }
#else
#define FUZZ_ENTRY(fn, name)
#endif

#endif
