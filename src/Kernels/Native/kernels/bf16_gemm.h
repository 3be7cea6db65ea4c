// bfloat16 GEMM on AVX512_BF16 dot products with the weight packed once at load: out = x · Wᵀ for
// x [m, k] bfloat16 (any m: decode steps and prompt chunks) and W [n, k] bfloat16, float32 sums,
// out rounded once to bfloat16 (nearest even, as libtorch rounds) or kept in float32.
//
// Layout: W's rows (the output columns) go in groups of 16; a group holds, per pair p of k, one zmm
// whose 32-bit lane c is (W[16g + c][2p], W[16g + c][2p + 1]). One `vdpbf16ps` of that zmm and x's
// pair (x[i][2p], x[i][2p + 1]) broadcast to every lane adds two products to each of 16 outputs of
// row i: no horizontal sums, no shuffles. Rows past n and the pair past an odd k are zero.
//
//   group g (16 output columns), k/2 pairs:     x row i
//   p=0: [c0: w0,w1 | c1: w0,w1 | ... | c15]   (x0,x1) broadcast -> acc[i] += w·x  (16 lanes)
//   p=1: [c0: w2,w3 | ...                  ]   (x2,x3) broadcast
//
// Register tiles of up to 8 rows x 3 groups (24 float32 accumulators): per pair 3 weight loads and 8
// broadcasts feed 24 dot products. Items are 48 columns x up to 256 rows, so a decode step reads each
// weight byte from memory once (the other row tiles find it in L2).
#pragma once

#include <cstdint>

namespace llm {

struct PackedBf16 {
    int64_t n, k, groups;
    uint16_t* data;  // groups back to back, each (k + 1) / 2 zmm; 2 MiB-aligned
};

// Whether the packed kernels run here (AVX512_BF16 and the kernels at AVX-512).
bool bf16_gemm_available();

// A packed copy of weight [n, k] (row-major bfloat16); release with free_bf16.
PackedBf16* pack_bf16(const uint16_t* weight, int64_t n, int64_t k);
void free_bf16(PackedBf16* packed);

// The dense weight [n, k] back from its packed copy.
void unpack_bf16(const PackedBf16& packed, uint16_t* weight);

// out [m, n] (row stride ldo) = x [m, k] (row stride ldx) · Wᵀ; out bfloat16, or float32 when out_f32.
void bf16_gemm(void* out, int64_t ldo, bool out_f32, const uint16_t* x, int64_t ldx, int64_t m, const PackedBf16& weight);

namespace avx512bf16 {
// Packs group g of weight [n, k] into its place in packed.
void pack_group(const uint16_t* weight, const PackedBf16& packed, int64_t group);
// out rows [m0, m1) x groups [g0, g1) (g1 - g0 <= 3), fetching groups [g1, next) (up to 3) meanwhile.
void gemm_block(void* out, int64_t ldo, bool out_f32, const uint16_t* x, int64_t ldx, int64_t m0, int64_t m1, const PackedBf16& w,
                int64_t g0, int64_t g1, int64_t next);
}  // namespace avx512bf16

}  // namespace llm
