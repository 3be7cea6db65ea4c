// One LLaMA decoder layer of a decode step (a few rows) in one call: RMSNorm, the fused qkv product, rotary in
// place, the layer's attention (KV write and paged attention, attention_direct.h), the o product into the residual
// stream, RMSNorm, the fused gate/up product, SiLU-and-multiply and the down product into the residual stream. The
// same kernels, in the same order, on the same numbers as the C# layer's calls one by one (LlamaDecoderLayer), so
// the same bits; without the C# and TorchSharp work between them (an output tensor, views, checks and a dispose
// scope per call: some 20 calls per layer at one row, on code and objects the weight stream keeps evicting). Its
// intermediate rows live in scratch memory of the calling thread.
#pragma once

#include <cstdint>

#include "tensor_arg.h"

namespace llm {

// One product's weight: the packed quantized parts stacked by rows (PackedWeight*, each adding its rows' columns to
// the output in turn), or one packed dense weight (PackedDense*, count 1).
struct DecodeWeight {
    const void* parts[4];
    int32_t count;
    int32_t dense;
};

// The C# side fills it (DecodeLayer.cs); field order and types are the ABI.
struct DecodeLayerArgs {
    void* x;  // residual stream [rows, width], contiguous, updated in place
    int64_t rows, width;
    int32_t bf16;         // rows, norm gains and dense weights are bfloat16; else float32
    int32_t interleaved;  // rotary pairs (2i, 2i + 1); else (i, i + half)
    const void* input_norm;
    const void* post_norm;
    double eps;
    DecodeWeight qkv, o, gate_up, down;
    // The o / down product adds itself into x as it stores it (a packed quantized weight of one part: the bits of
    // x.add_(product)); else it has an output of its own, which the post-attention norm adds first (o) or which
    // is added as libtorch's add rounds (down).
    int32_t o_adds, down_adds;
    int64_t query_heads, kv_heads, head_size, rotary_half, ffn;
    const float* cos;  // [rows, rotary_half] each
    const float* sin;
    // The layer's cache and the batch: key_cache, value_cache, block_tables, context_lens, query_starts, slot_mapping.
    const RawTensor* cache;
    double scale, softcap;
    int64_t max_context_len, partition_size, window;
    // Null, or nanoseconds to add to: [products, attention, norms and SiLU, rotary] (bench batch --profile).
    int64_t* nanoseconds;
};

void decode_layer(const DecodeLayerArgs& args);

}  // namespace llm
