/* dataset_priv.h — helpers shared by the dataset loaders (not part of the public API). */
#ifndef SARA_DATA_DATASET_PRIV_H
#define SARA_DATA_DATASET_PRIV_H

#include "data/dataset.h"

/* Allocates images (count, C, H, W), labels (count) and the source string; on failure *d is freed. */
sara_status dataset_alloc(sara_dataset *d, const char *source, int count, int C, int H, int W);
/* Copies n class names into d (replacing any it has). */
sara_status dataset_set_classes(sara_dataset *d, const char *const *names, int n);

#endif
