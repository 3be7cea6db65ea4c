// AVX-512 VNNI kernel of the packed linear for many activation rows (prompt chunks, batched decode;
// layout in packed_linear.h). The tiles of packed_linear_avx512.cpp unpack a group's quants once per 4
// activation rows and run over every row for each group, so a prompt chunk of hundreds of rows
// re-unpacked each weight block m/4 times and read all the activations once per group of 16 columns.
// Here a tile is kGemmRows rows of one group: each block's (K-quants: sub-block's) quants are loaded
// and unpacked once into registers for those rows, the rows' dot chains run side by side, and the activations come in
// a copy laid out per tile (GemmRows), so a tile reads them front to back at fixed offsets. A work
// item (packed_linear.cpp) is a run of rows by a run of groups; it goes down its rows tile by tile,
// groups inside: a tile's activations stay in L1 while its groups' weights come from L2.
//
// Batch invariance: each output is the same integer dot (integers: any order is exact), times the
// same scale (dw · dx), added into the accumulator in block order with the same fused multiply-add as
// the tiles (K-quants: the same float operations per super-block), so a row's bits do not depend on
// how many rows share its call nor on which kernel ran.
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kquant_linear.h"
#include "packed_avx512.h"
#include "packed_linear.h"

namespace llm::avx512 {

namespace {

// Rows per tile: the accumulators of kGemmRows rows, a block's 8 zmm of quants and a few more fit the
// 32 zmm registers.
constexpr int kGemmRows = static_cast<int>(kGemmTileRows);

// Rows [0, R) of a tile of activations (GemmRows layout: per block, the tile's rows' 32 quants, d and
// bias side by side) against one group of 16 weight rows (Q8_0, Q4_0).
template <QuantType T, int R>
void blocks_tile(const PackedWeight& w, const uint8_t* group, const int8_t* q, const float* d, const int32_t* bias, bool first,
                 float* out, int64_t ldo, __mmask16 valid) {
    constexpr int64_t quant_bytes = block_quant_bytes(T), pair_bytes = block_pair_bytes(T);
    const int64_t blocks = w.blocks;
    __m512 acc[R];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b, q += kGemmRows * 32, d += kGemmRows, bias += kGemmRows) {
        const uint8_t* pair = group + (b >> 1) * pair_bytes;
        // An item's first tile of a group streams it from memory; the others find it in the cache.
        if ((b & 1) == 0) prefetch_ahead(pair, pair_bytes, first ? Fetch::Cached : Fetch::None);
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
#pragma GCC unroll 16
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

// Rows [0, R) of a tile of Q8_K activations (GemmRows: per super-block, the tile's rows' 256 quants, d and
// the sums of their sub-blocks in int16 pairs) against one group of 16 weight rows (Q4_K, Q5_K, Q6_K).
// Per sub-block the rows' dots run side by side and take the sub-block's scales by an integer multiply;
// the mins (Q6_K: its offset of 32 times the scale) take the rows' sub-block sums by vpdpwssd, two
// sub-blocks at a time: the integers of the tiles, then their float operations per super-block.
template <QuantType T, int R>
void super_tile(const PackedWeight& w, const uint8_t* group, const int8_t* q, const float* d, const int32_t* pairs, bool first,
                float* out, int64_t ldo, __mmask16 valid) {
    using L = KLayout<T>;
    constexpr int subs_per_chunk = L::subs / 4, zmm_per_sub = 16 / subs_per_chunk, npairs = L::subs / 2;
    constexpr int64_t mins_at = L::mins ? L::mins_at : L::scales_at;
    const int64_t blocks = w.blocks;
    const __m512i zero = _mm512_setzero_si512();
    __m512 acc[R];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b, q += kGemmRows * kSuperBlock, d += kGemmRows, pairs += kGemmRows * npairs) {
        const uint8_t* sb = group + b * L::bytes;
        // An item's first tile of a group streams it from memory; the others find it in the cache.
        prefetch_ahead(sb, L::bytes, first ? Fetch::Cached : Fetch::None);
        __m512i sumi[R];
#pragma GCC unroll 16
        for (int i = 0; i < R; ++i) sumi[i] = zero;
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
            const uint8_t* chunk = sb + L::quants_at + c * L::chunk_bytes;
#pragma GCC unroll 4
            for (int j = 0; j < subs_per_chunk; ++j) {
                __m512i wq[zmm_per_sub], dot[R];
#pragma GCC unroll 8
                for (int u = 0; u < zmm_per_sub; ++u) wq[u] = chunk_zmm<T>(chunk, zmm_per_sub * j + u);
#pragma GCC unroll 16
                for (int i = 0; i < R; ++i) dot[i] = zero;
#pragma GCC unroll 8
                for (int u = 0; u < zmm_per_sub; ++u)
#pragma GCC unroll 16
                    for (int i = 0; i < R; ++i)
                        dot[i] = _mm512_dpbusd_epi32(dot[i], wq[u], broadcast4(q + kSuperBlock * i + 64 * c + 4 * (zmm_per_sub * j + u)));
                const __m512i scale = widen16(sb + L::scales_at + 16 * (subs_per_chunk * c + j));
#pragma GCC unroll 16
                for (int i = 0; i < R; ++i) sumi[i] = _mm512_add_epi32(sumi[i], _mm512_mullo_epi32(dot[i], scale));
            }
        }
        // Lane r of mins[u]: row r's mins of sub-blocks 2u and 2u + 1 as int16.
        __m512i mins[npairs];
        for (int u = 0; u < npairs; ++u)
            mins[u] = _mm512_or_si512(_mm512_and_si512(widen16(sb + mins_at + 32 * u), _mm512_set1_epi32(0xFFFF)),
                                      _mm512_slli_epi32(widen16(sb + mins_at + 32 * u + 16), 16));
        const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sb)));
        const __m512 dminw = L::mins ? _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sb + 32))) : dw;
#pragma GCC unroll 16
        for (int i = 0; i < R; ++i) {
            __m512i summ = zero;
            for (int u = 0; u < npairs; ++u) summ = _mm512_dpwssd_epi32(summ, mins[u], _mm512_set1_epi32(pairs[npairs * i + u]));
            // Q6_K's quants are stored + 32: its mins are 32 · scale (kquant_linear.h), the same integers.
            if constexpr (!L::mins) summ = _mm512_slli_epi32(summ, 5);
            const __m512 da = _mm512_set1_ps(d[i]);
            // As the tiles: d·da·Σ scale·dot − dmin·da·Σ min·sum, float only at the end.
            const __m512 scaled = _mm512_mul_ps(_mm512_mul_ps(dw, da), _mm512_cvtepi32_ps(sumi[i]));
            const __m512 mins_f = _mm512_mul_ps(_mm512_mul_ps(dminw, da), _mm512_cvtepi32_ps(summ));
            acc[i] = _mm512_add_ps(acc[i], _mm512_sub_ps(scaled, mins_f));
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) _mm512_mask_storeu_ps(out + i * ldo, valid, acc[i]);
}

template <QuantType T>
struct Super {
    static constexpr int64_t quants = kSuperBlock, sums = KLayout<T>::subs / 2;  // per super-block and row
    template <int R>
    static void tile(const PackedWeight& w, const uint8_t* group, const int8_t* q, const float* d, const int32_t* pairs, bool first,
                     float* out, int64_t ldo, __mmask16 valid) {
        super_tile<T, R>(w, group, q, d, pairs, first, out, ldo, valid);
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

int64_t gemm_sums(QuantType type) {
    return type == QuantType::Q6_K ? 8 : type == QuantType::Q4_K || type == QuantType::Q5_K ? 4 : 1;
}

void gemm_rows(QuantType type, const int8_t* q, const float* d, const int32_t* sums, int64_t k, int64_t r0, int64_t r1, GemmRows& x) {
    const int64_t blocks = k / kSuperBlock, out_sums = gemm_sums(type);
    for (int64_t r = r0; r < r1; ++r) {
        for (int64_t b = 0; b < blocks; ++b) {
            const int64_t at = gemm_row_at(r, blocks) + b * kGemmRows;
            std::memcpy(x.q + at * kSuperBlock, q + r * k + b * kSuperBlock, static_cast<size_t>(kSuperBlock));
            x.d[at] = d[r * blocks + b];
            // Q8_K's sums of 16 added up per sub-block (of 32 for Q4_K / Q5_K), two sub-blocks per int32 as
            // int16 (|sum| <= 32 · 128), the low half first.
            int32_t* to = x.sums + at * out_sums;
            const int32_t* bs = sums + (r * blocks + b) * 16;
            const int per = 16 / static_cast<int>(2 * out_sums);
            for (int64_t u = 0; u < out_sums; ++u) {
                int32_t lo = 0, hi = 0;
                for (int e = 0; e < per; ++e) {
                    lo += bs[2 * u * per + e];
                    hi += bs[(2 * u + 1) * per + e];
                }
                to[u] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(lo)) | (static_cast<uint32_t>(hi) << 16));
            }
        }
    }
}

void packed_gemm(const PackedWeight& w, const GemmRows& x, int64_t r0, int64_t r1, int64_t g0, int64_t g1, float* out, int64_t ldo) {
    if (w.type == QuantType::Q8_0) gemm<Blocks<QuantType::Q8_0>>(w, x, r0, r1, g0, g1, out, ldo);
    else if (w.type == QuantType::Q4_0) gemm<Blocks<QuantType::Q4_0>>(w, x, r0, r1, g0, g1, out, ldo);
    else if (w.type == QuantType::Q4_K) gemm<Super<QuantType::Q4_K>>(w, x, r0, r1, g0, g1, out, ldo);
    else if (w.type == QuantType::Q5_K) gemm<Super<QuantType::Q5_K>>(w, x, r0, r1, g0, g1, out, ldo);
    else gemm<Super<QuantType::Q6_K>>(w, x, r0, r1, g0, g1, out, ldo);
}

}  // namespace llm::avx512
