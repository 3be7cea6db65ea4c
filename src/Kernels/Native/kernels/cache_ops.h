// KV cache operations on the CPU: store a step's keys and values at their slots, copy blocks
// inside a cache (copy-on-write), swap blocks between two caches (device <-> host).
#pragma once

#include "tensor_arg.h"

namespace llm {

void write_kv_cpu(const TensorArg& key, const TensorArg& value, const TensorArg& key_cache, const TensorArg& value_cache,
                  const TensorArg& slot_mapping);
void copy_blocks_cpu(const TensorArg& key_cache, const TensorArg& value_cache, const TensorArg& block_mapping);
void swap_blocks_cpu(const TensorArg& src, const TensorArg& dst, const TensorArg& block_mapping);

}  // namespace llm
