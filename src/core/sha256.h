/* sha256.h — SHA-256 (FIPS 180-4), streaming: for the base-model hash that ties an adapter to
 * the weights it was trained from. Written from the standard; tested with its example vectors. */
#ifndef SARA_CORE_SHA256_H
#define SARA_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_BYTES 32
#define SHA256_HEX_CHARS 65 /* 64 hex digits + NUL */

typedef struct {
    uint32_t h[8];        /* chaining state */
    uint64_t length;      /* message bytes so far */
    uint8_t block[64];    /* pending partial block */
    size_t fill;          /* bytes in block */
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_final(sha256_ctx *c, uint8_t digest[SHA256_DIGEST_BYTES]);
/* Lower-case hex of a digest into hex (SHA256_HEX_CHARS). */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_BYTES], char hex[SHA256_HEX_CHARS]);

#endif
