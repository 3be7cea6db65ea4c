// Q8_0 and Q4_0 weights repacked once at load for the AVX-512 VNNI dot products, so that a decode
// step reads each weight byte once with no shuffles and no horizontal sums (the unpacked kernel in
// quantized_linear.h spends most of its time rearranging blocks). Rows go in groups of 16: zmm
// lane r holds row r, so one vpdpbusd with 4 activation bytes broadcast to every lane advances all
// 16 rows' dot products by 4 elements, and a group's 16 outputs come out as one vector.
//
// A group holds the float16 scales of its blocks (16 per block, row order; 32 bytes a block,
// padded to 64), then per block of 32 elements 8 (Q8_0) or 4 (Q4_0) zmm of quants, where
//   Q8_0 zmm t: lane r = row r's bytes 4t..4t+3, stored as q + 128 (unsigned);
//   Q4_0 zmm t: lane r = row r's packed bytes 4t..4t+3 as ggml stores them (low nibbles are
//              elements 4t..4t+3, high nibbles 16+4t..16+4t+3, values 0..15).
// The activations, quantized to Q8_0 as llama.cpp does, stay signed; each block's dot starts from
// -128 (Q8_0) or -8 (Q4_0) times the sum of its activation quants, which undoes the weights'
// offset exactly. Rows past n in the last group are zero.
//
// Q4_K goes in the same groups of 16 rows, one record of kQ4KPackedBytes per super-block of 256:
//   d and dmin: 16 float16 each (row order); the 6-bit scale and min of each sub-block of 32,
//   unpacked to bytes [8 sub-blocks][16 rows] each; then per 64 elements (two sub-blocks: ggml's
//   32 bytes whose low nibbles are the first 32 elements, high nibbles the next 32) 8 zmm, lane r =
//   row r's bytes 4t..4t+3 of those 32. The activations are Q8_K as in kquant_linear.h; each
//   sub-block's integer dot is scaled by its integer scale and the mins go through the sums of the
//   activation quants, as llama.cpp's Q4_K x Q8_K dot does (the same integers).
#pragma once

#include <cstdint>

#include "quantized_linear.h"

namespace llm {

struct PackedWeight {
    QuantType type;
    int64_t n, k, groups, blocks;  // blocks of 32 (Q8_0, Q4_0) or super-blocks of 256 (Q4_K) per row
    int64_t quants_offset;  // from a group's start to its quants
    int64_t group_bytes;
    uint8_t* data;          // groups back to back, 64-byte aligned
};

constexpr int kPackRows = 16;
constexpr int64_t kQ4KPackedBytes = 64 + 2 * 128 + 4 * 512;

// True where the packed kernels can run (AVX-512 VNNI, F16C) and the type is Q8_0, Q4_0 or Q4_K.
bool packable(QuantType type);

// A packed copy of weight [n, k] in ggml's layout; release with free_packed.
PackedWeight* pack_weight(const uint8_t* weight, QuantType type, int64_t n, int64_t k);
void free_packed(PackedWeight* packed);

// out [m, n] (row stride ldo) = x [m, k] · Wᵀ, x float32 or bfloat16 (out the same).
void packed_linear_cpu(void* out, int64_t ldo, const void* x, bool bf16, int64_t m, const PackedWeight& weight);

namespace avx512 {
// Packs rows [16 g, 16 g + 16) of weight (ggml layout) into packed group g.
void pack_group(const uint8_t* weight, const PackedWeight& packed, int64_t group);
// Rows [r0, r1) of x quantized per block of 32: quants (row stride k), d, and the offset term.
void quantize_rows_q8(const void* x, bool bf16, int64_t k, int64_t r0, int64_t r1, int32_t offset, int8_t* q, float* d, int32_t* bias);
// out rows [0, m) x groups [g0, g1) (float32, row stride ldo). Q4_K: q, d and bias are Q8_K's quants,
// scales and sums of 16 (kquant_linear.h).
void packed_tiles(const PackedWeight& w, const int8_t* q, const float* d, const int32_t* bias, int64_t m, int64_t g0, int64_t g1,
                  float* out, int64_t ldo);
// The same two for Q4_K (packed_kquant_avx512.cpp).
void pack_group_q4k(const uint8_t* weight, const PackedWeight& packed, int64_t group);
void q4k_tiles(const PackedWeight& w, const int8_t* q, const float* d, const int32_t* bsums, int64_t m, int64_t g0, int64_t g1,
               float* out, int64_t ldo);
}  // namespace avx512

}  // namespace llm
