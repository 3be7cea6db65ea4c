// One layer's attention on the CPU on tensors described by pointer, sizes and strides (RawTensor), without the
// dispatcher: llm::write_kv (when `write`) and then llm::paged_attention, with their checks. t: out, query,
// key_cache, value_cache, block_tables, context_lens, query_starts, then key, value, slot_mapping. Throws (with
// llm_native_last_error() set) on arguments the kernels reject. llm_paged_attention_direct and the fused decode
// layer (decode_layer.h) call it.
#pragma once

#include <cstdint>

#include "tensor_arg.h"

namespace llm {

void attention_direct(const RawTensor* t, bool write, double scale, int64_t max_context_len, int64_t partition_size, int64_t window,
                      double softcap);

}  // namespace llm
