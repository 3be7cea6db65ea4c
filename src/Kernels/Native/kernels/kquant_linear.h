// y = x · Wᵀ for W in ggml's K-quant super-blocks (Q4_K, Q5_K, Q6_K: 256 weights each), as llama.cpp
// computes it: the activations quantized on the fly to Q8_K (per 256: d = -max/127 in float, where max
// is the element of largest magnitude, q = round(x / d), and sums of each 16), integer dot products
// per sub-block scaled by the sub-block's integer scale, the mins (Q4_K, Q5_K) and Q6_K's offset of 32
// taken through the sums of 16, and float only for d_weight * d_activation per super-block.
#pragma once

#include <cstdint>

namespace llm {

constexpr int kSuperBlock = 256;

// The activations of one call: per row and super-block, 256 int8 in natural order, d, and 16 sums of 16.
struct Q8KActivations {
    const int8_t* q;       // [m, blocks * 256]
    const float* d;        // [m, blocks]
    const int32_t* bsums;  // [m, blocks * 16]
    int64_t blocks;
};

// One super-block's integer parts of a weight row, unpacked: unsigned quants 0..63 in natural order,
// the scale of each 16 (Q4_K, Q5_K: of each 32, repeated) and the min of each 16, subtracted times
// dmin (Q6_K: its offset 32 times the scale, with dmin = d). A super-block against activations a:
//   d · da · Σ_s scale16[s] · Σ q·a  -  dmin · da · Σ_s min16[s] · bsums[s]
struct KBlock {
    alignas(64) uint8_t q[kSuperBlock];
    alignas(64) int32_t scale16[16];
    alignas(64) int32_t min16[16];
    float d, dmin;
};

// ggml type ids.
bool is_kquant(int type);
int64_t kquant_block_bytes(int type);

// Rows [r0, r1) of x [m, k] quantized to Q8_K as ggml's quantize_row_q8_K_ref: quants (row stride k),
// d (row stride k / 256) and sums of 16 (row stride k / 16).
void quantize_rows_q8k(const float* x, int64_t k, int64_t r0, int64_t r1, int8_t* q, float* d, int32_t* bsums);

// out [m, n] (row stride ldo, float32) from float32 activations.
void kquant_linear(const float* x, int64_t m, int64_t k, const uint8_t* weight, int type, int64_t n, float* out, int64_t ldo);

void unpack_kblock(const uint8_t* block, int type, KBlock& out);

namespace avx2 {
// The quants of unpack_kblock with 256-bit shifts and masks.
void unpack_quants(const uint8_t* block, int type, KBlock& out);
// Integer dot of one Q8_0 / Q4_0 weight block (d first) with 32 Q8_0 activations: the portable
// quantized linear's inner step on CPUs with AVX2 but not AVX-512 VNNI.
int32_t block_dot_q8_0(const uint8_t* block, const int8_t* x);
int32_t block_dot_q4_0(const uint8_t* block, const int8_t* x);
}

namespace avx512 {
// One row's `blocks` super-blocks of x quantized to Q8_K: the integers and d of quantize_rows_q8k's reference, in
// vectors (16 elements at a time).
void quantize_q8k(const float* x, int64_t blocks, int8_t* q, float* d, int32_t* bsums);
// Adds the super-block b of rows [i0, i0 + count) of a, against the unpacked weights w, into acc[0..count).
void kblock_dot(const KBlock& w, const Q8KActivations& a, int64_t i0, int count, int64_t b, float* acc);
}
namespace avx2 {
void kblock_dot(const KBlock& w, const Q8KActivations& a, int64_t i0, int count, int64_t b, float* acc);
}

}  // namespace llm
