/* dataset.h — datasets held in memory as float images in [-1, 1] with integer class labels:
 * Fashion-MNIST from its idx files, and image folders in the layouts fine-tuning users already
 * have (class sub-folders, metadata.jsonl, .txt captions). Every bad input is a one-line error
 * naming the file and, for metadata.jsonl, the line. */
#ifndef SARA_DATA_DATASET_H
#define SARA_DATA_DATASET_H

#include <stdint.h>

#include "sara/sara.h"

typedef struct {
    int count, channels, height, width;  /* images (count, channels, height, width) */
    float *images;                       /* (count, C, H, W), values in [-1, 1] */
    int64_t *labels;                     /* (count), class index in [0, num_classes) */
    int num_classes;
    char **class_names;                  /* (num_classes); for captions/metadata.jsonl the distinct texts */
    char *source;                        /* path it came from, for messages */
} sara_dataset;

/* Frees everything and zeroes *d; safe on a zeroed or already freed dataset. */
void dataset_free(sara_dataset *d);

#define FASHION_MNIST_CLASSES 10
#define FASHION_MNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist" /* Debian dataset-fashion-mnist */
extern const char *const fashion_mnist_class_names[FASHION_MNIST_CLASSES];

/* Fashion-MNIST from idx files ({train,t10k}-{images-idx3,labels-idx1}-ubyte, gzip or plain).
 * dir NULL -> $SARA_FASHION_MNIST if set, else FASHION_MNIST_DEFAULT_DIR. split "train" or
 * "test"; limit <= 0 loads all, else the first `limit`. Pixels p become p / 127.5 - 1 and the
 * image is centred on a pad_to×pad_to canvas of -1 (pixel value 0; when pad_to - side is odd
 * the extra row/column goes bottom/right); pad_to 0 keeps the file's size. Images: one channel. */
sara_status dataset_load_fashion_mnist(sara_dataset *d, const char *dir, const char *split, int limit, int pad_to);

/* An image folder, in the first layout that applies:
 *   1. dir/metadata.jsonl: one JSON object a line, {"file_name": F, "text": T} or
 *      {"file_name": F, "label": K} (F relative to dir; all lines the same kind; blank lines skipped);
 *   2. PNG/JPEG files directly in dir, each with a caption F-without-extension.txt beside it;
 *   3. class sub-folders, each a class, sorted by name, holding PNG/JPEG files.
 * Texts (captions, folder names) are trimmed; their distinct values sorted bytewise are the
 * classes. Integer labels K give classes "0".."max K". Images are in line order (1) or sorted by
 * file name (2; 3 within each class), converted to `channels` (1 or 3) and fitted to size×size
 * (image_fit_square: centre crop, or a random crop from rng_seed_stream(seed, image index) if
 * crop_random). class_names_fixed (num_fixed names), if non-NULL, replaces the discovered classes:
 * each text or folder must match one of them ignoring case, with ' ', '_', '-' and '/' all equal
 * (a folder cannot be named "T-shirt/top"), and integer labels must be below num_fixed. */
sara_status dataset_load_folder(sara_dataset *d, const char *dir, int size, int channels, int crop_random,
                                uint64_t seed, const char *const *class_names_fixed, int num_fixed);

#endif
