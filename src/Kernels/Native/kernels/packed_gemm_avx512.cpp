// AVX-512 VNNI kernel of the packed linear for many activation rows (prompt chunks, batched decode;
// layout in packed_linear.h). The tiles of packed_linear_avx512.cpp unpack a group's quants once per 4
// activation rows and run over every row for each group, so a prompt chunk of hundreds of rows
// re-unpacked each weight block m/4 times and read all the activations once per group of 16 columns.
// Here a tile is kGemmRows rows of one group: each block's quants are loaded (Q4_0: unpacked) once
// into registers for those rows, the rows' dot chains run side by side, and the activations come in
// a copy laid out per tile (GemmRows), so a tile reads them front to back at fixed offsets. A work
// item (packed_linear.cpp) is a run of rows by a run of groups; it goes down its rows tile by tile,
// groups inside: a tile's activations stay in L1 while its groups' weights come from L2.
//
// Batch invariance: each output is the same integer dot (integers: any order is exact), times the
// same scale (dw · dx), added into the accumulator in block order with the same fused multiply-add as
// the tiles, so a row's bits do not depend on how many rows share its call nor on which kernel ran.
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "packed_avx512.h"
#include "packed_linear.h"

namespace llm::avx512 {

namespace {

// Rows per tile: the accumulators of kGemmRows rows, a block's 8 zmm of quants and a few more fit the
// 32 zmm registers.
constexpr int kGemmRows = 8;

// Rows [0, R) of a tile of activations (GemmRows layout: per block, the tile's rows' 32 quants, d and
// bias side by side) against one group of 16 weight rows (Q8_0, Q4_0).
template <QuantType T, int R>
void blocks_tile(const PackedWeight& w, const uint8_t* group, const int8_t* q, const float* d, const int32_t* bias, bool first,
                 float* out, int64_t ldo, __mmask16 valid) {
    constexpr int64_t quant_bytes = block_quant_bytes(T), pair_bytes = block_pair_bytes(T);
    const int64_t blocks = w.blocks;
    __m512 acc[R];
    for (int i = 0; i < R; ++i) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b, q += kGemmRows * 32, d += kGemmRows, bias += kGemmRows) {
        const uint8_t* pair = group + (b >> 1) * pair_bytes;
        // An item's first tile of a group streams it from memory; the others find it in the cache.
        if (first && (b & 1) == 0) prefetch_ahead(pair, pair_bytes);
        const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(pair + 32 * (b & 1))));
        const uint8_t* qb = pair + 64 + (b & 1) * quant_bytes;
        __m512i wq[8];
        block_quants<T>(qb, wq);
        // The rows' chains side by side: each dot waits on the one before it in its row, so the
        // rows must be in flight together to keep the dot units busy.
        __m512i s[R];
#pragma GCC unroll 16
        for (int i = 0; i < R; ++i) s[i] = _mm512_set1_epi32(bias[i]);
#pragma GCC unroll 8
        for (int t = 0; t < 8; ++t)
#pragma GCC unroll 16
            for (int i = 0; i < R; ++i) s[i] = _mm512_dpbusd_epi32(s[i], wq[t], broadcast4(q + 32 * i + 4 * t));
#pragma GCC unroll 16
        for (int i = 0; i < R; ++i) acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[i]), _mm512_mul_ps(dw, _mm512_set1_ps(d[i])), acc[i]);
    }
    for (int i = 0; i < R; ++i) _mm512_mask_storeu_ps(out + i * ldo, valid, acc[i]);
}

template <QuantType T>
struct Blocks {
    static constexpr int64_t quants = kQuantBlock, sums = 1;  // per block and row: quants, bias terms
    template <int R>
    static void tile(const PackedWeight& w, const uint8_t* group, const int8_t* q, const float* d, const int32_t* bias, bool first,
                     float* out, int64_t ldo, __mmask16 valid) {
        blocks_tile<T, R>(w, group, q, d, bias, first, out, ldo, valid);
    }
};

// Kernel::tile<R> for a tile of `rows` rows, R in [1, kGemmRows]: the last rows of a call go through the
// same kernel at their count.
template <class Kernel, int R = kGemmRows>
inline void tile_of(int rows, const PackedWeight& w, const uint8_t* group, const int8_t* q, const float* d, const int32_t* bias,
                    bool first, float* out, int64_t ldo, __mmask16 valid) {
    if constexpr (R > 1) {
        if (rows < R) return tile_of<Kernel, R - 1>(rows, w, group, q, d, bias, first, out, ldo, valid);
    }
    Kernel::template tile<R>(w, group, q, d, bias, first, out, ldo, valid);
}

template <class Kernel>
void gemm(const PackedWeight& w, const GemmRows& x, int64_t r0, int64_t r1, int64_t g0, int64_t g1, float* out, int64_t ldo) {
    const int64_t blocks = w.blocks;
    for (int64_t m0 = r0, tile = r0 / kGemmRows; m0 < r1; m0 += kGemmRows, ++tile) {
        const int rows = static_cast<int>(std::min<int64_t>(kGemmRows, r1 - m0));
        const int64_t at = tile * blocks * kGemmRows;
        for (int64_t g = g0; g < g1; ++g) {
            const int64_t col = g * kPackRows;
            const __mmask16 valid = static_cast<__mmask16>((1u << std::min<int64_t>(kPackRows, w.n - col)) - 1);
            tile_of<Kernel>(rows, w, w.data + g * w.group_bytes, x.q + at * Kernel::quants, x.d + at, x.sums + at * Kernel::sums, m0 == r0,
                            out + m0 * ldo + col, ldo, valid);
        }
    }
}

}  // namespace

int64_t gemm_tile_rows() { return kGemmRows; }

void gemm_rows(const int8_t* q, const float* d, const int32_t* sums, int64_t k, int64_t block, int64_t sums_per_block, int64_t r0,
               int64_t r1, GemmRows& x) {
    const int64_t blocks = k / block;
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t tile = r / kGemmRows, i = r % kGemmRows;
        for (int64_t b = 0; b < blocks; ++b) {
            const int64_t at = (tile * blocks + b) * kGemmRows + i;
            std::memcpy(x.q + at * block, q + r * k + b * block, static_cast<size_t>(block));
            x.d[at] = d[r * blocks + b];
            std::memcpy(x.sums + at * sums_per_block, sums + (r * blocks + b) * sums_per_block, static_cast<size_t>(sums_per_block) * 4);
        }
    }
}

void packed_gemm(const PackedWeight& w, const GemmRows& x, int64_t r0, int64_t r1, int64_t g0, int64_t g1, float* out, int64_t ldo) {
    if (w.type == QuantType::Q8_0) gemm<Blocks<QuantType::Q8_0>>(w, x, r0, r1, g0, g1, out, ldo);
    else if (w.type == QuantType::Q4_0) gemm<Blocks<QuantType::Q4_0>>(w, x, r0, r1, g0, g1, out, ldo);
}

}  // namespace llm::avx512
