// Q8_0 and Q4_0 weights repacked once at load for the AVX-512 VNNI dot products, so that a decode
// step reads each weight byte once with no shuffles and no horizontal sums (the unpacked kernel in
// quantized_linear.h spends most of its time rearranging blocks). Rows go in groups of 16: zmm
// lane r holds row r, so one vpdpbusd with 4 activation bytes broadcast to every lane advances all
// 16 rows' dot products by 4 elements, and a group's 16 outputs come out as one vector.
//
// A group holds its blocks of 32 elements in pairs, each pair one record read front to back: the two
// blocks' float16 scales (16 per block, row order, 32 bytes each), then per block 8 (Q8_0) or 4 (Q4_0)
// zmm of quants (an odd last block's pair is padded with zeros), where
//   Q8_0 zmm t: lane r = row r's bytes 4t..4t+3, stored as q + 128 (unsigned);
//   Q4_0 zmm t: lane r = row r's packed bytes 4t..4t+3 as ggml stores them (low nibbles are
//              elements 4t..4t+3, high nibbles 16+4t..16+4t+3, values 0..15).
// The activations, quantized to Q8_0 as llama.cpp does, stay signed; each block's dot starts from
// -128 (Q8_0) or -8 (Q4_0) times the sum of its activation quants, which undoes the weights'
// offset exactly. Rows past n in the last group are zero.
//
// The K-quants (Q4_K, Q5_K, Q6_K) go in the same groups of 16 rows, one record per super-block of 256
// (KLayout below): the rows' d (and dmin) as float16; each sub-block's scale (and min) as a byte per
// row, [sub-block][16 rows] (Q4_K, Q5_K: 6-bit, 8 sub-blocks of 32; Q6_K: signed 8-bit, 16 of 16);
// then per 64 elements 8 zmm of nibble bytes, lane r = row r's bytes 4t..4t+3 (low nibbles are
// elements 4t..4t+3, high nibbles 32+4t..32+4t+3: Q4_K's bytes as ggml stores them), followed by
// 2·bits zmm of the bits above the nibble (Q5_K 1, Q6_K 2): the high bits of the chunk's elements
// 4t..4t+3 sit in zmm t % (2·bits), field t / (2·bits) of each byte. The activations are Q8_K as in
// kquant_linear.h; each sub-block's integer dot is scaled by its integer scale and the mins (Q6_K:
// its offset of 32) go through the sums of the activation quants, as llama.cpp's K-quant x Q8_K dots
// do: the same integers as the unpacked kernels, and the same float operations per super-block.
#pragma once

#include <cstdint>

#include "quantized_linear.h"

namespace llm {

struct PackedWeight {
    QuantType type;
    int64_t n, k, groups, blocks;  // blocks of 32 (Q8_0, Q4_0) or super-blocks of 256 (K-quants) per row
    int64_t group_bytes;
    uint8_t* data;          // groups back to back, 64-byte aligned
};

constexpr int kPackRows = 16;

// Q8_0 / Q4_0: bytes of one block's quants for 16 rows, and of a pair of blocks' record (scales, then quants).
constexpr int64_t block_quant_bytes(QuantType type) { return type == QuantType::Q8_0 ? 512 : 256; }
constexpr int64_t block_pair_bytes(QuantType type) { return 64 + 2 * block_quant_bytes(type); }

// Byte offsets inside a packed K-quant record (one super-block of a group).
template <QuantType T>
struct KLayout {
    static constexpr int bits = T == QuantType::Q4_K ? 0 : T == QuantType::Q5_K ? 1 : 2;  // above the nibble
    static constexpr int subs = T == QuantType::Q6_K ? 16 : 8;                            // sub-blocks of 256 / subs
    static constexpr bool mins = T != QuantType::Q6_K;                                     // Q6_K: 32 · scale, times d
    static constexpr int64_t scales_at = 64, mins_at = scales_at + 16 * subs, quants_at = mins_at + (mins ? 16 * subs : 0);
    static constexpr int64_t chunk_bytes = 512 + 128 * bits;  // per 64 elements
    static constexpr int64_t bytes = quants_at + 4 * chunk_bytes;
};

// True where the packed kernels can run (AVX-512 VNNI, F16C) and the type is Q8_0, Q4_0 or a K-quant.
bool packable(QuantType type);

// A packed copy of weight [n, k] in ggml's layout; release with free_packed.
PackedWeight* pack_weight(const uint8_t* weight, QuantType type, int64_t n, int64_t k);
void free_packed(PackedWeight* packed);

// out [m, n] (row stride ldo) = x [m, k] · Wᵀ, x float32 or bfloat16 (out the same). With accumulate,
// out += x · Wᵀ instead, rounded as out.add_(x · Wᵀ) rounds: the product rounded to out's dtype, then one
// float addition (a residual stream taking a projection without a tensor of its own and an add).
void packed_linear_cpu(void* out, int64_t ldo, const void* x, bool bf16, int64_t m, const PackedWeight& weight, bool accumulate = false);

namespace avx512 {
// Packs rows [16 g, 16 g + 16) of weight (ggml layout) into packed group g.
void pack_group(const uint8_t* weight, const PackedWeight& packed, int64_t group);
// Row r of x quantized per block of 32: block b's quants at q + b · q_step, its d and offset term at
// d[b · d_step] and bias[b · d_step].
void quantize_row_q8(const void* x, bool bf16, int64_t k, int64_t r, int32_t offset, int8_t* q, int64_t q_step, float* d, int32_t* bias,
                     int64_t d_step);
// out rows [0, m) x groups [g0, g1) (float32, row stride ldo). K-quants: q, d and bias are Q8_K's
// quants, scales and sums of 16 (kquant_linear.h).
void packed_tiles(const PackedWeight& w, const int8_t* q, const float* d, const int32_t* bias, int64_t m, int64_t g0, int64_t g1,
                  float* out, int64_t ldo);
// The same two for the K-quants (packed_kquant_avx512.cpp).
void pack_group_kquant(const uint8_t* weight, const PackedWeight& packed, int64_t group);
void kquant_tiles(const PackedWeight& w, const int8_t* q, const float* d, const int32_t* bsums, int64_t m, int64_t g0, int64_t g1,
                  float* out, int64_t ldo);
// packed_tiles for many rows (packed_gemm_avx512.cpp): the same bits from tiles of kGemmTileRows rows,
// whose activations go side by side per block (GemmRows: [tile][block][row of the tile] quants, d and
// sums; rows past m are never read): Q8_0 / Q4_0 quantized straight into it (gemm_row_at), K-quants
// copied there from the quantizer's layout by gemm_rows.
struct GemmRows {
    int8_t* q;
    float* d;
    int32_t* sums;
};
constexpr int64_t kGemmTileRows = 8;
// Where row r's first block goes in GemmRows, in blocks (of quants) from the start, for `blocks` per row and
// tiles of `tile_rows` (the AMX kernel's are amx::kTileRows); its block b is tile_rows · b blocks further.
inline int64_t gemm_row_at(int64_t r, int64_t blocks, int64_t tile_rows = kGemmTileRows) {
    return (r / tile_rows * blocks) * tile_rows + r % tile_rows;
}
// The int32 sums per block and row in GemmRows: Q8_0 / Q4_0 the offset term; K-quants each sub-block's
// sum of activation quants, two to an int32 (int16 each).
int64_t gemm_sums(QuantType type);
// Rows [r0, r1) of activations quantized for a K-quant `type` (quantize_rows_q8k) into x.
void gemm_rows(QuantType type, const int8_t* q, const float* d, const int32_t* sums, int64_t k, int64_t r0, int64_t r1, GemmRows& x);
// Rows [r0, r1) (r0 a multiple of kGemmTileRows) x groups [g0, g1).
void packed_gemm(const PackedWeight& w, const GemmRows& x, int64_t r0, int64_t r1, int64_t g0, int64_t g1, float* out, int64_t ldo);
}  // namespace avx512

namespace amx {
// The many-row kernel with AMX-INT8 tiles (packed_gemm_amx.cpp) for Q8_0 / Q4_0: the AVX-512 kernel's bits.
// Its GemmRows tiles are kTileRows rows (an A tile: a block's 32 quants of 16 rows, 32 bytes apart), and it
// reads the d of the last tile's rows past m (set them to 0). enabled(): where amx_int8_available() (isa.h),
// unless enable(false) turned it off (tests, A/B); enable returns false where AMX-INT8 is not available.
constexpr int64_t kTileRows = 16;
bool enabled();
bool enable(bool on);
// Rows [r0, r1) (r0 a multiple of kTileRows) x groups [g0, g1); loads the calling thread's tile configuration
// and releases the tiles when done.
void packed_gemm(const PackedWeight& w, const avx512::GemmRows& x, int64_t r0, int64_t r1, int64_t g0, int64_t g1, float* out,
                 int64_t ldo);
}  // namespace amx

}  // namespace llm
