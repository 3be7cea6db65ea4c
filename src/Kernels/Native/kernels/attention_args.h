// Checks the shapes of a paged_attention call and gathers its pointers and strides; shared by
// the CPU and CUDA registrations. The contents of the metadata (lengths, block ids) are
// checked by the CPU path only: on a GPU that would need a device-to-host copy per call.
#pragma once

#include "attention.h"
#include "cache_checks.h"
#include "tensor_arg.h"

namespace llm {

inline AttentionArgs attention_args(const TensorArg& out, const TensorArg& query, const TensorArg& key_cache,
                                    const TensorArg& value_cache, const TensorArg& block_tables,
                                    const TensorArg& context_lens, const TensorArg& query_starts, double scale,
                                    int64_t partition_size, int64_t window, double softcap) {
    check(query.dim == 3, "query: expected [tokens, heads, headSize], got ", query.shape());
    check(query.dtype == DType::F32 || query.dtype == DType::BF16, "query: float32 or bfloat16 expected, got ",
          dtype_name(query.dtype));
    check(out.dim == 3 && out.size(0) == query.size(0) && out.size(1) == query.size(1) && out.size(2) == query.size(2),
          "out: expected the query's shape ", query.shape(), ", got ", out.shape());
    check(out.dtype == DType::F32 || out.dtype == DType::BF16, "out: float32 or bfloat16 expected");
    check(key_cache.dim == 4, "key_cache: expected [blocks, blockSize, kvHeads, headSize], got ", key_cache.shape());
    for (int d = 0; d < 4; ++d)
        check(value_cache.dim == 4 && value_cache.size(d) == key_cache.size(d), "value_cache: expected the key cache's shape ",
              key_cache.shape(), ", got ", value_cache.shape());
    check(key_cache.dtype == value_cache.dtype && is_cache_dtype(key_cache.dtype), "key_cache/value_cache: one dtype of ",
          kCacheDTypes, " expected");
    check(key_cache.stride(3) == 1 && value_cache.stride(3) == 1, "key_cache/value_cache: the head dimension must be dense");
    check(key_cache.size(3) == query.size(2), "key_cache: head size ", key_cache.size(3), " differs from the query's ",
          query.size(2));
    check(key_cache.size(2) > 0 && query.size(1) % key_cache.size(2) == 0, "query heads (", query.size(1),
          ") must be a multiple of kv heads (", key_cache.size(2), ")");
    check(key_cache.size(1) >= 1 && key_cache.size(1) <= 1024, "block size must be in 1..1024");
    block_tables.expect(2, DType::I32);
    context_lens.expect(1, DType::I32);
    query_starts.expect(1, DType::I32);
    check(context_lens.size(0) == block_tables.size(0), "block_tables: one row per sequence expected (", context_lens.size(0),
          "), got ", block_tables.shape());
    check(query_starts.size(0) == context_lens.size(0) + 1, "query_starts: sequences + 1 entries expected");
    check(context_lens.stride(0) == 1 && query_starts.stride(0) == 1, "context_lens/query_starts must be contiguous");
    check(partition_size >= 0, "partition_size must be >= 0");
    check(window >= 0, "window must be >= 0 (0: no sliding window)");
    check(softcap >= 0, "softcap must be >= 0 (0: no soft-capping)");
    bool same_device = out.cuda == query.cuda && out.cuda == key_cache.cuda && out.cuda == value_cache.cuda &&
                       out.cuda == block_tables.cuda && out.cuda == context_lens.cuda && out.cuda == query_starts.cuda;
    check(same_device, "paged_attention: all tensors must be on one device");

    AttentionArgs a;
    a.query = query.data;
    a.q_dtype = query.dtype;
    a.out = out.data;
    a.o_dtype = out.dtype;
    for (int d = 0; d < 3; ++d) {
        a.q_stride[d] = query.stride(d);
        a.o_stride[d] = out.stride(d);
        a.k_stride[d] = key_cache.stride(d);
        a.v_stride[d] = value_cache.stride(d);
    }
    a.key_cache = key_cache.data;
    a.value_cache = value_cache.data;
    a.kv_dtype = key_cache.dtype;
    a.block_tables = block_tables.as<int32_t>();
    a.bt_stride[0] = block_tables.stride(0);
    a.bt_stride[1] = block_tables.stride(1);
    a.context_lens = context_lens.as<int32_t>();
    a.query_starts = query_starts.as<int32_t>();
    a.num_seqs = static_cast<int>(context_lens.size(0));
    a.num_tokens = static_cast<int>(query.size(0));
    a.q_heads = static_cast<int>(query.size(1));
    a.kv_heads = static_cast<int>(key_cache.size(2));
    a.head_size = static_cast<int>(query.size(2));
    a.block_size = static_cast<int>(key_cache.size(1));
    a.num_blocks = static_cast<int>(key_cache.size(0));
    a.max_blocks = static_cast<int>(block_tables.size(1));
    a.scale = static_cast<float>(scale);
    a.partition_size = static_cast<int>(partition_size);
    a.window = static_cast<int>(window);
    a.softcap = static_cast<float>(softcap);
    return a;
}

}  // namespace llm
