/* classifier.h — the project's Fashion-MNIST classifier: a small CNN whose penultimate layer is
 * the feature space of FID and whose logits judge whether a sample shows the class it was asked
 * for. Trained by this project's own kernels (`sara classifier train`), stored as safetensors
 * with PyTorch-style names (conv1.weight, norm1.weight, ..., fc.weight) and metadata.
 *
 * Architecture: L conv3x3 layers (the first stride 1, the others stride 2, padding 1), each
 * followed by GroupNorm and SiLU, then global average pooling (the features) and one linear
 * layer to the class logits. Widths and L come from the file's tensor shapes; the GroupNorm
 * group count and the image size from its metadata. */
#ifndef SARA_EVAL_CLASSIFIER_H
#define SARA_EVAL_CLASSIFIER_H

#include <stdint.h>

#include "core/params.h"
#include "sara/sara.h"

typedef struct classifier classifier;

/* Loads a classifier safetensors file (weights + metadata); one-line error naming the file on bad input. */
sara_status classifier_load(classifier **out, const char *path);
void classifier_free(classifier *c);
int classifier_feature_dim(const classifier *c);   /* penultimate layer width (FID features) */
int classifier_num_classes(const classifier *c);   /* 10 */
int classifier_image_size(const classifier *c);    /* 32: inputs are (n, 1, 32, 32) */
const char *classifier_class_name(const classifier *c, int k); /* Fashion-MNIST names, as fashion_mnist_class_names */
/* images (n, 1, S, S) float in [-1, 1] (the dataset/sampler convention: Fashion-MNIST padded to 32x32 with -1);
 * features (n, feature_dim) and/or logits (n, num_classes), either may be NULL. Works in internal batches
 * (bounded memory for any n), threads via OpenMP like the ops. Deterministic. */
sara_status classifier_forward(classifier *c, const float *images, int n, float *features, float *logits);

/* ---- evaluation ---- */

/* Counts, over images (n, 1, S, S) with labels (n), the images whose argmax logit is their label:
 * correct (num_classes) and total (num_classes) per class (both overwritten). A label outside
 * [0, num_classes) is an error. */
sara_status classifier_count_correct(classifier *c, const float *images, const int64_t *labels, int n,
                                     int64_t *correct, int64_t *total);

/* ---- training (sara classifier train, tests) ---- */

#define CLASSIFIER_MAX_CONVS 6
#define CLASSIFIER_FORMAT "sara-classifier"

typedef struct {
    int n_convs;
    int widths[CLASSIFIER_MAX_CONVS]; /* output channels of conv1..convL */
    int groups;                       /* GroupNorm groups; divides every width */
    int image_size;                   /* S: inputs (n, 1, S, S) */
} classifier_arch;

/* Widths 32, 64, 128, 128; 8 groups; 32×32 images. */
void classifier_arch_default(classifier_arch *a);
/* A classifier with zeroed weights; an invalid architecture is an error naming the field. */
sara_status classifier_create(classifier **out, const classifier_arch *a);
/* PyTorch's default initialisation: conv/linear weights and biases U(−1/√fan_in, 1/√fan_in),
 * GroupNorm scales 1, shifts 0. */
void classifier_init_random(classifier *c, uint64_t seed);
param_table *classifier_params(classifier *c);
const classifier_arch *classifier_get_arch(const classifier *c);

/* One training batch: forward with saved activations, mean softmax cross-entropy against labels
 * (n), backward. grads (the layout of classifier_params, via params_clone_layout) +=. *loss is
 * the mean loss, *correct (may be NULL) the images whose argmax is their label. The whole batch
 * is one pass: the saved activations grow to fit n. */
sara_status classifier_loss_backward(classifier *c, const float *images, const int64_t *labels, int n,
                                     param_table *grads, float *loss, int *correct);

/* Writes the weights and metadata (format, groupnorm_groups, image_size, class_names, then the
 * n_meta extra key/value pairs meta[2i], meta[2i+1]) atomically. */
sara_status classifier_save(const classifier *c, const char *path, const char *const *meta, int n_meta);

#endif
