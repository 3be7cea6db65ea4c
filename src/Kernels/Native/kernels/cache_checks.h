// Shape checks of the cache operations, shared by the CPU and CUDA registrations.
#pragma once

#include "tensor_arg.h"

namespace llm {

// The element types a KV cache may hold (the CUDA kernels accept fewer and check that themselves).
inline bool is_cache_dtype(DType t) {
    return t == DType::F32 || t == DType::BF16 || t == DType::F16 || t == DType::F8E4M3 || t == DType::F8E5M2;
}
constexpr const char* kCacheDTypes = "float32, bfloat16, float16, float8_e4m3fn or float8_e5m2";

inline void check_block_mapping(const TensorArg& block_mapping) {
    block_mapping.expect(2, DType::I64);
    check(block_mapping.size(1) == 2, "block_mapping: expected [pairs, 2], got ", block_mapping.shape());
}

inline void check_write_kv(const TensorArg& key, const TensorArg& value, const TensorArg& key_cache, const TensorArg& value_cache,
                           const TensorArg& slot_mapping) {
    check(key_cache.dim == 4 && value_cache.dim == 4, "caches: expected [blocks, blockSize, kvHeads, headSize]");
    for (int d = 0; d < 4; ++d) check(value_cache.size(d) == key_cache.size(d), "value_cache: shape differs from key_cache's");
    check(key_cache.dtype == value_cache.dtype && is_cache_dtype(key_cache.dtype), "caches: one dtype of ", kCacheDTypes, " expected");
    check(key_cache.stride(3) == 1 && value_cache.stride(3) == 1, "caches: the head dimension must be dense");
    check(key.dim == 3 && value.dim == 3, "key/value: expected [tokens, kvHeads, headSize]");
    for (int d = 0; d < 3; ++d) {
        check(key.size(d) == value.size(d), "value: shape ", value.shape(), " differs from key's ", key.shape());
        check(key.size(d) == (d == 0 ? key.size(0) : key_cache.size(d + 1)), "key: ", key.shape(),
              " does not match the cache's heads and head size ", key_cache.shape());
    }
    check((key.dtype == DType::F32 || key.dtype == DType::BF16) && (value.dtype == DType::F32 || value.dtype == DType::BF16),
          "key/value: float32 or bfloat16 expected");
    slot_mapping.expect(1, DType::I64);
    check(slot_mapping.size(0) == key.size(0), "slot_mapping: one slot per token expected (", key.size(0), "), got ",
          slot_mapping.shape());
    check(key.cuda == key_cache.cuda && key.cuda == value.cuda && key.cuda == value_cache.cuda && key.cuda == slot_mapping.cuda,
          "write_kv: all tensors must be on one device");
}

}  // namespace llm
