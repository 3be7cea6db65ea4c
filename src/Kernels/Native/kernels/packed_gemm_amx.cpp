// AMX-INT8 kernel of the packed Q8_0 / Q4_0 linear for many activation rows (layout in packed_linear.h).
// A packed block's quants for a group of 16 weight rows are an AMX B tile as they lie: zmm t is tile row
// t, 16 columns (weight rows) of 4 consecutive k (Q8_0 stored as q + 128, unsigned; Q4_0's nibbles are
// unpacked into a buffer first: low nibbles are tile rows 0-3, high 4-7). A block's activation quants of
// 16 rows are an A tile (signed), 32 bytes a row in GemmRows with tiles of kTileRows. One TDPBSUD gives
// the 16 x 16 exact integer block dots; stored, each row takes the AVX-512 kernel's offset term and its
// float operations (the int32 sum to float, times dw · dx, fused-added into the row's accumulator in block
// order): the same bits. Per block, 2 row tiles x 2 groups:
//
//   tile            rows x bytes   from                                            register
//   A (row tile a)  16 x 32        GemmRows, the block's quants (stride 32)        4 + a
//   B (group g)      8 x 64        the pair record's quants (Q4_0: unpacked)       6 + g
//   C (a, g)        16 x 64        int32 dots, stored to c[] for the float part    2a + g
//
// The float part (4 vector operations per 16 outputs and block against the AVX-512 kernel's 11) bounds it:
// a block's 16 x 16 took ~20 ns of it and ~18 ns of tile loads, dots and stores, ~32 ns together against
// ~43 ns in the AVX-512 kernel (one core, 32 rows of a layer's weights in L2).
#pragma GCC target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#include <immintrin.h>

#include <algorithm>

#include "amx_tiles.h"
#include "packed_avx512.h"
#include "packed_linear.h"

namespace llm::amx {

namespace {

TileConfig make_config() {
    TileConfig config;
    for (int t : {0, 1, 2, 3}) config.bytes_per_row[t] = 64, config.rows[t] = kTileRows;  // C
    for (int t : {4, 5}) config.bytes_per_row[t] = 32, config.rows[t] = kTileRows;        // A
    for (int t : {6, 7}) config.bytes_per_row[t] = 64, config.rows[t] = 8;                // B
    return config;
}

// The tile instructions with the bytes they read and write as operands: GCC's _tile_loadd names no memory
// (the compiler could move the stores that fill Q4_0's buffer past it) and _tile_stored clobbers all of it.
template <int Bytes>
struct Span {
    uint8_t bytes[Bytes];
};

template <int Tile, int Bytes>
inline void tile_load(const void* p, int64_t stride) {
    asm volatile("tileloadd (%0,%1,1), %%tmm%c3" : : "r"(p), "r"(stride), "m"(*static_cast<const Span<Bytes>*>(p)), "i"(Tile));
}

template <int Tile>
inline void tile_store(int32_t* p) {
    asm volatile("tilestored %%tmm%c3, (%1,%2,1)" : "=m"(*reinterpret_cast<Span<1024>*>(p)) : "r"(p), "r"(int64_t{64}), "i"(Tile));
}

template <int Tile>
inline void tile_zero() {
    asm volatile("tilezero %%tmm%c0" : : "i"(Tile));
}

// C += A (signed) · B (unsigned).
template <int C, int A, int B>
inline void tile_dpbsud() {
    asm volatile("tdpbsud %%tmm%c2, %%tmm%c1, %%tmm%c0" : : "i"(C), "i"(A), "i"(B));
}

// The B tile of one block (qb: its quants in a pair record): Q8_0 as stored, Q4_0 unpacked into buffer.
template <QuantType T>
inline const uint8_t* b_tile(const uint8_t* qb, uint8_t* buffer) {
    if constexpr (T == QuantType::Q8_0) {
        return qb;
    } else {
        __m512i wq[8];
        avx512::block_quants<T>(qb, wq);
        for (int t = 0; t < 8; ++t) _mm512_store_si512(buffer + 64 * t, wq[t]);
        return buffer;
    }
}

// The dots of one block for NA row tiles x NB groups into c[a][g] (tiles: C 2a + g, A 4 + a, B 6 + g).
template <QuantType T, int NA, int NB>
inline void block_dots(const uint8_t* const quants[2], const int8_t* q, int64_t a_stride, int32_t (*c)[2][256], uint8_t (*unpacked)[512]) {
    tile_load<6, 512>(b_tile<T>(quants[0], unpacked[0]), 64);
    if constexpr (NB > 1) tile_load<7, 512>(b_tile<T>(quants[1], unpacked[1]), 64);
    tile_load<4, 512>(q, kQuantBlock);
    if constexpr (NA > 1) tile_load<5, 512>(q + a_stride, kQuantBlock);
    tile_zero<0>();
    tile_dpbsud<0, 4, 6>();
    if constexpr (NB > 1) {
        tile_zero<1>();
        tile_dpbsud<1, 4, 7>();
    }
    if constexpr (NA > 1) {
        tile_zero<2>();
        tile_dpbsud<2, 5, 6>();
    }
    if constexpr (NA > 1 && NB > 1) {
        tile_zero<3>();
        tile_dpbsud<3, 5, 7>();
    }
    tile_store<0>(c[0][0]);
    if constexpr (NB > 1) tile_store<1>(c[0][1]);
    if constexpr (NA > 1) tile_store<2>(c[1][0]);
    if constexpr (NA > 1 && NB > 1) tile_store<3>(c[1][1]);
}

// acc (16 rows x 16 outputs) += one block's stored dots c (16 x 16 int32), as the AVX-512 kernel adds them.
inline void add_block(float* acc, const int32_t* c, __m512 dw, const float* d, const int32_t* bias) {
#pragma GCC unroll 16
    for (int i = 0; i < kTileRows; ++i) {
        const __m512i s = _mm512_add_epi32(_mm512_load_si512(c + 16 * i), _mm512_set1_epi32(bias[i]));
        const __m512 sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(d[i])), _mm512_load_ps(acc + 16 * i));
        _mm512_store_ps(acc + 16 * i, sum);
    }
}

// NA GemmRows tiles (q, d, bias at the first one's block 0; the second's a_stride quants, d_stride d further)
// x NB groups of 16 weight rows from group (group_bytes apart): 4 C tiles a block keep the tile unit busy
// while the block before is scaled. The accumulators (32 x 32 floats) stay in L1.
template <QuantType T, int NA, int NB>
void tiles(const PackedWeight& w, const uint8_t* group, const int8_t* q, const float* d, const int32_t* bias, int64_t a_stride,
           int64_t d_stride, bool first, int rows, float* out, int64_t ldo, int64_t col) {
    constexpr int64_t quant_bytes = block_quant_bytes(T), pair_bytes = block_pair_bytes(T), step = kTileRows * kQuantBlock;
    alignas(64) int32_t c[2][2][2][256];  // [block parity][row tile][group]
    alignas(64) uint8_t unpacked[2][512];
    alignas(64) float acc[2][2][256];  // [row tile][group][row, output]
    std::fill(&acc[0][0][0], &acc[0][0][0] + sizeof acc / sizeof(float), 0.0f);
    const int64_t blocks = w.blocks;
    auto dots = [&](int64_t b) {
        const uint8_t* quants[2];
        for (int g = 0; g < NB; ++g) {
            const uint8_t* pair = group + g * w.group_bytes + (b >> 1) * pair_bytes;
            // An item's first tiles of a group stream it from memory; the others find it in the cache.
            if ((b & 1) == 0) avx512::prefetch_ahead(pair, pair_bytes, first ? avx512::Fetch::Cached : avx512::Fetch::None);
            quants[g] = pair + 64 + (b & 1) * quant_bytes;
        }
        block_dots<T, NA, NB>(quants, q + b * step, a_stride, c[b & 1], unpacked);
    };
    // Block b + 1's dots run while block b is scaled.
    dots(0);
    for (int64_t b = 0; b < blocks; ++b) {
        if (b + 1 < blocks) dots(b + 1);
        for (int g = 0; g < NB; ++g) {
            const uint8_t* pair = group + g * w.group_bytes + (b >> 1) * pair_bytes;
            const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(pair + 32 * (b & 1))));
            for (int a = 0; a < NA; ++a)
                add_block(acc[a][g], c[b & 1][a][g], dw, d + a * d_stride + b * kTileRows, bias + a * d_stride + b * kTileRows);
        }
    }
    for (int a = 0; a < NA; ++a)
        for (int g = 0; g < NB; ++g) {
            const __mmask16 valid = static_cast<__mmask16>((1u << std::min<int64_t>(kPackRows, w.n - col - g * kPackRows)) - 1);
            for (int i = 0; i < std::min(kTileRows, static_cast<int64_t>(rows - a * kTileRows)); ++i)
                _mm512_mask_storeu_ps(out + (a * kTileRows + i) * ldo + g * kPackRows, valid, _mm512_load_ps(acc[a][g] + 16 * i));
        }
}

template <QuantType T>
void gemm(const PackedWeight& w, const avx512::GemmRows& x, int64_t r0, int64_t r1, int64_t g0, int64_t g1, float* out, int64_t ldo) {
    const int64_t blocks = w.blocks, a_stride = blocks * kTileRows * kQuantBlock, d_stride = blocks * kTileRows;
    for (int64_t m0 = r0; m0 < r1; m0 += 2 * kTileRows) {
        const int rows = static_cast<int>(std::min<int64_t>(2 * kTileRows, r1 - m0));
        const int64_t at = m0 * blocks;  // the first tile's first block, in blocks of quants
        for (int64_t g = g0; g < g1; g += 2) {
            const uint8_t* group = w.data + g * w.group_bytes;
            const int8_t* q = x.q + at * kQuantBlock;
            float* o = out + m0 * ldo + g * kPackRows;
            const bool first = m0 == r0, two_rows = rows > kTileRows, two_groups = g + 1 < g1;
            if (two_rows && two_groups) tiles<T, 2, 2>(w, group, q, x.d + at, x.sums + at, a_stride, d_stride, first, rows, o, ldo, g * kPackRows);
            else if (two_rows) tiles<T, 2, 1>(w, group, q, x.d + at, x.sums + at, a_stride, d_stride, first, rows, o, ldo, g * kPackRows);
            else if (two_groups) tiles<T, 1, 2>(w, group, q, x.d + at, x.sums + at, a_stride, d_stride, first, rows, o, ldo, g * kPackRows);
            else tiles<T, 1, 1>(w, group, q, x.d + at, x.sums + at, a_stride, d_stride, first, rows, o, ldo, g * kPackRows);
        }
    }
}

}  // namespace

void packed_gemm(const PackedWeight& w, const avx512::GemmRows& x, int64_t r0, int64_t r1, int64_t g0, int64_t g1, float* out,
                 int64_t ldo) {
    static const TileConfig config = make_config();
    _tile_loadconfig(&config);
    if (w.type == QuantType::Q8_0) gemm<QuantType::Q8_0>(w, x, r0, r1, g0, g1, out, ldo);
    else gemm<QuantType::Q4_0>(w, x, r0, r1, g0, g1, out, ldo);
    _tile_release();
}

}  // namespace llm::amx
