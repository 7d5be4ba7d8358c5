/* lora_file.h — LoRA adapter files (PEFT names `<module>.lora_A.weight` / `.lora_B.weight`,
 * metadata format=sara-adapter, method=lora, rank, alpha, base_sha256): recognising them and
 * folding them into a model's weights, W += α·(alpha/rank)·B·A, for `sara merge` and `sara sample`. */
#ifndef SARA_PEFT_LORA_FILE_H
#define SARA_PEFT_LORA_FILE_H

#include "core/params.h"
#include "core/safetensors.h"

/* 1 if f is a LoRA adapter written by sara (metadata method = lora). */
int lora_file_is(const st_file *f);
/* Folds the LoRA adapter at path into p with scale alpha. Every A/B pair must name a weight of p
 * with consistent shapes. base_hash: the base's SHA-256 (adapter_base_hash) that the file's
 * base_sha256 must equal; NULL skips the check (--force). */
sara_status lora_file_apply(param_table *p, const char *path, double alpha, const char *base_hash);

#endif
