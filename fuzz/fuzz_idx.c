/* fuzz_idx.c — the Fashion-MNIST idx loader (gzip or plain, through zlib) on arbitrary files.
 * One input holds both files of a split and the load options:
 *   byte 0        options: bit 0 split (train / test), bits 1-2 limit (0 = all, 1, 3, 100),
 *                 bits 3-4 pad_to (0 = none, 28, 32, 4)
 *   bytes 1-2     n, the images file's length (little-endian; clamped to what is there)
 *   next n bytes  the images file ({train,t10k}-images-idx3-ubyte)
 *   the rest      the labels file ({train,t10k}-labels-idx1-ubyte)
 * Both are written to a scratch folder and loaded from there, as the CLI loads them. */
#include <stdlib.h>

#include "data/dataset.h"
#include "fuzz.h"

#define IDX_HEADER_BYTES 3

sara_status fuzz_idx(const uint8_t *data, size_t size)
{
    static const int limits[4] = {0, 1, 3, 100}, pads[4] = {0, 28, 32, 4};
    uint8_t opts = size > 0 ? data[0] : 0;
    size_t n = size >= IDX_HEADER_BYTES ? (size_t)data[1] | (size_t)data[2] << 8 : 0;
    size_t body = size > IDX_HEADER_BYTES ? size - IDX_HEADER_BYTES : 0;
    if (n > body)
        n = body;
    const uint8_t *images = data + (size > IDX_HEADER_BYTES ? IDX_HEADER_BYTES : size), *labels = images + n;
    int test = opts & 1;
    const char *dir = fuzz_scratch_dir();
    if (!fuzz_write_file(dir, test ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte", images, n) ||
        !fuzz_write_file(dir, test ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte", labels, body - n))
        abort(); /* the scratch folder is ours: a failure here is the harness's, not the loader's */
    sara_dataset d;
    int limit = limits[(opts >> 1) & 3], pad = pads[(opts >> 3) & 3];
    sara_status s = dataset_load_fashion_mnist(&d, dir, test ? "test" : "train", limit, pad);
    if (s == SARA_OK) {
        if (d.count < 1 || (limit > 0 && d.count > limit) || d.num_classes != FASHION_MNIST_CLASSES)
            abort();
        for (int i = 0; i < d.count; i++)
            if (d.labels[i] < 0 || d.labels[i] >= d.num_classes)
                abort();
        for (size_t i = 0; i < (size_t)d.count * d.channels * d.height * d.width; i++)
            if (!(d.images[i] >= -1.0f && d.images[i] <= 1.0f))
                abort();
    }
    dataset_free(&d);
    return s;
}

FUZZ_ENTRY(fuzz_idx, FUZZ_NAME_IDX)
