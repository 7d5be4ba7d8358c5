/* dataset_priv.h — helpers shared by the dataset loaders (not part of the public API). */
#ifndef SARA_DATA_DATASET_PRIV_H
#define SARA_DATA_DATASET_PRIV_H

#include <stdio.h>

#include "data/dataset.h"

/* Allocates images (count, C, H, W), labels (count) and the source string; on failure *d is freed. */
sara_status dataset_alloc(sara_dataset *d, const char *source, int count, int C, int H, int W);
/* Copies n class names into d (replacing any it has). */
sara_status dataset_set_classes(sara_dataset *d, const char *const *names, int n);

/* The listing and labelling half of dataset_load_folder for a metadata.jsonl read from fp (named
 * `origin` in messages; file names are relative to dir and must exist there): no image is decoded.
 * On success d->count entries have d->labels and d->class_names; d->images stays NULL. The fuzz
 * target fuzz/fuzz_metadata_jsonl.c and the corpus replay test call it on bytes in memory. */
sara_status dataset_folder_labels_jsonl(sara_dataset *d, const char *dir, const char *origin, FILE *fp,
                                        const char *const *class_names_fixed, int num_fixed);

#endif
