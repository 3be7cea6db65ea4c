#include "cache_ops.h"

#include "cache_checks.h"

#include <cstring>

#include "bf16.h"
#include "fp8_rows.h"
#include "half_rows.h"
#include "thread_pool.h"

namespace llm {

namespace {

constexpr int64_t kParallelBytes = 1 << 18;  // below this a job is not worth waking the pool

int64_t block_bytes(const TensorArg& cache) {
    return cache.size(1) * cache.size(2) * cache.size(3) * element_size(cache.dtype);
}

void check_cache(const TensorArg& cache) {
    check(cache.dim == 4, cache.name, ": expected [blocks, blockSize, kvHeads, headSize], got ", cache.shape());
    check(is_cache_dtype(cache.dtype), cache.name, ": ", kCacheDTypes, " expected");
    check(cache.contiguous(), cache.name, ": must be contiguous");
}

int64_t mapping_entry(const TensorArg& mapping, int64_t pair, int which) {
    return mapping.as<int64_t>()[pair * mapping.stride(0) + which * mapping.stride(1)];
}

// Copies whole blocks src[from] -> dst[to] for every pair of the mapping.
void copy_pairs(const TensorArg& src, const TensorArg& dst, const TensorArg& mapping) {
    const int64_t n = mapping.size(0), bytes = block_bytes(src);
    for (int64_t i = 0; i < n; ++i) {
        int64_t from = mapping_entry(mapping, i, 0), to = mapping_entry(mapping, i, 1);
        check(from >= 0 && from < src.size(0), "block_mapping[", i, "]: source block ", from, " out of range [0, ", src.size(0), ")");
        check(to >= 0 && to < dst.size(0), "block_mapping[", i, "]: destination block ", to, " out of range [0, ", dst.size(0), ")");
    }
    const char* s = static_cast<const char*>(src.data);
    char* d = static_cast<char*>(dst.data);
    auto one = [&](int i) {
        int64_t from = mapping_entry(mapping, i, 0), to = mapping_entry(mapping, i, 1);
        std::memcpy(d + to * bytes, s + from * bytes, static_cast<size_t>(bytes));
    };
    if (n * bytes < kParallelBytes) {
        for (int64_t i = 0; i < n; ++i) one(static_cast<int>(i));
    } else {
        ThreadPool::instance().for_each(static_cast<int>(n), one);
    }
}

}  // namespace

void write_kv_cpu(const TensorArg& key, const TensorArg& value, const TensorArg& key_cache, const TensorArg& value_cache,
                  const TensorArg& slot_mapping) {
    check_write_kv(key, value, key_cache, value_cache, slot_mapping);
    const int64_t tokens = key.size(0), heads = key.size(1), D = key.size(2), bs = key_cache.size(1);
    const int64_t slots = key_cache.size(0) * bs;
    const int64_t* slot = slot_mapping.as<int64_t>();
    const int64_t ss = slot_mapping.stride(0);
    for (int64_t t = 0; t < tokens; ++t)
        check(slot[t * ss] < slots, "slot_mapping[", t, "] = ", slot[t * ss], " is past the cache's ", slots, " slots");

    auto store = [&](const TensorArg& src, const TensorArg& cache, int64_t t, int64_t h) {
        int64_t s = slot[t * ss];
        if (s < 0) return;  // padding token
        int64_t dst = (s / bs) * cache.stride(0) + (s % bs) * cache.stride(1) + h * cache.stride(2);
        int64_t from = t * src.stride(0) + h * src.stride(1), step = src.stride(2);
        if (src.dtype == cache.dtype && step == 1) {
            int es = element_size(src.dtype);
            std::memcpy(static_cast<char*>(cache.data) + dst * es, static_cast<const char*>(src.data) + from * es,
                        static_cast<size_t>(D * es));
        } else if (cache.dtype == DType::F16) {
            to_half_row(static_cast<const char*>(src.data) + from * element_size(src.dtype), src.dtype, step, cache.as<uint16_t>() + dst, D);
        } else if (cache.dtype == DType::F8E4M3 || cache.dtype == DType::F8E5M2) {
            to_fp8_row(static_cast<const char*>(src.data) + from * element_size(src.dtype), src.dtype, step, cache.dtype, cache.as<uint8_t>() + dst, D);
        } else if (cache.dtype == DType::BF16) {
            uint16_t* out = cache.as<uint16_t>() + dst;
            for (int64_t d = 0; d < D; ++d)
                out[d] = src.dtype == DType::F32 ? float_to_bf16(src.as<float>()[from + d * step]) : src.as<uint16_t>()[from + d * step];
        } else {
            float* out = cache.as<float>() + dst;
            for (int64_t d = 0; d < D; ++d)
                out[d] = src.dtype == DType::F32 ? src.as<float>()[from + d * step] : bf16_to_float(src.as<uint16_t>()[from + d * step]);
        }
    };
    auto token = [&](int t) {
        for (int64_t h = 0; h < heads; ++h) {
            store(key, key_cache, t, h);
            store(value, value_cache, t, h);
        }
    };
    if (tokens * heads * D * 2 * element_size(key_cache.dtype) < kParallelBytes) {
        for (int64_t t = 0; t < tokens; ++t) token(static_cast<int>(t));
    } else {
        ThreadPool::instance().for_each(static_cast<int>(tokens), token);
    }
}

void copy_blocks_cpu(const TensorArg& key_cache, const TensorArg& value_cache, const TensorArg& block_mapping) {
    check_cache(key_cache);
    check_cache(value_cache);
    check_block_mapping(block_mapping);
    copy_pairs(key_cache, key_cache, block_mapping);
    copy_pairs(value_cache, value_cache, block_mapping);
}

void swap_blocks_cpu(const TensorArg& src, const TensorArg& dst, const TensorArg& block_mapping) {
    check_cache(src);
    check_cache(dst);
    check_block_mapping(block_mapping);
    check(src.dtype == dst.dtype, "swap_blocks: source and destination dtypes differ");
    for (int d = 1; d < 4; ++d) check(src.size(d) == dst.size(d), "swap_blocks: block shapes differ: ", src.shape(), " vs ", dst.shape());
    copy_pairs(src, dst, block_mapping);
}

}  // namespace llm
