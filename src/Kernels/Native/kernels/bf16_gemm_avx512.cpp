// The packed bfloat16 GEMM's register tiles and packing (layout in bf16_gemm.h).
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma")
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "bf16_gemm.h"

namespace llm::avx512bf16 {

namespace {

constexpr int MR = 8;  // rows per tile
constexpr int JR = 3;  // groups (16 columns each) per tile

inline __m512i pair(const uint16_t* x) {
    uint32_t v;
    std::memcpy(&v, x, sizeof v);
    return _mm512_set1_epi32(static_cast<int>(v));
}

// out[i, 16 j + c] for i < M, j < J, c < cols - 16 j (the tile's first cols columns are stored).
// Each pair step also fetches a line of every group in ahead[0, na) into L2 (the next columns' weights).
template <int M, int J>
void tile(void* out, int64_t ldo, bool out_f32, const uint16_t* x, int64_t ldx, int64_t k, const uint16_t* w, int64_t group_elems,
          int64_t cols, const uint16_t* const* ahead, int na) {
    __m512 acc[M][J];
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < J; ++j) acc[i][j] = _mm512_setzero_ps();
    const int64_t pairs = k / 2;
    for (int64_t p = 0; p < pairs; ++p) {
        __m512bh wv[J];
        for (int j = 0; j < J; ++j) wv[j] = (__m512bh)_mm512_load_si512(w + j * group_elems + p * 32);
        for (int a = 0; a < na; ++a) _mm_prefetch(reinterpret_cast<const char*>(ahead[a] + p * 32), _MM_HINT_T1);
        for (int i = 0; i < M; ++i) {
            __m512bh b = (__m512bh)pair(x + i * ldx + 2 * p);
            for (int j = 0; j < J; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], b, wv[j]);
        }
    }
    if (k & 1) {  // the last element alone: its pair's upper half is zero in the weight and here
        __m512bh wv[J];
        for (int j = 0; j < J; ++j) wv[j] = (__m512bh)_mm512_load_si512(w + j * group_elems + pairs * 32);
        for (int i = 0; i < M; ++i) {
            __m512bh b = (__m512bh)_mm512_set1_epi32(x[i * ldx + k - 1]);
            for (int j = 0; j < J; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], b, wv[j]);
        }
    }
    for (int j = 0; j < J; ++j) {
        const int64_t left = cols - 16 * j;
        if (left <= 0) break;
        const __mmask16 mask = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
        for (int i = 0; i < M; ++i) {
            if (out_f32) _mm512_mask_storeu_ps(static_cast<float*>(out) + i * ldo + 16 * j, mask, acc[i][j]);
            else _mm256_mask_storeu_epi16(static_cast<uint16_t*>(out) + i * ldo + 16 * j, mask, (__m256i)_mm512_cvtneps_pbh(acc[i][j]));
        }
    }
}

using Tile = void (*)(void*, int64_t, bool, const uint16_t*, int64_t, int64_t, const uint16_t*, int64_t, int64_t, const uint16_t* const*, int);

template <int J, int... M>
constexpr auto row_tiles(std::integer_sequence<int, M...>) {
    return std::array<Tile, sizeof...(M)>{&tile<M + 1, J>...};
}

// tiles[j - 1][m - 1]: m rows by j groups.
const std::array<Tile, MR> tiles[JR] = {row_tiles<1>(std::make_integer_sequence<int, MR>{}),
                                        row_tiles<2>(std::make_integer_sequence<int, MR>{}),
                                        row_tiles<3>(std::make_integer_sequence<int, MR>{})};

}  // namespace

void pack_group(const uint16_t* weight, const PackedBf16& packed, int64_t group) {
    const int64_t n = packed.n, k = packed.k, pairs = (k + 1) / 2;
    uint16_t* dst = packed.data + group * pairs * 32;
    std::memset(dst, 0, static_cast<size_t>(pairs * 64));
    for (int c = 0; c < 16 && 16 * group + c < n; ++c) {
        const uint16_t* row = weight + (16 * group + c) * k;
        for (int64_t e = 0; e < k; ++e) dst[(e / 2) * 32 + 2 * c + (e & 1)] = row[e];
    }
}

void gemm_block(void* out, int64_t ldo, bool out_f32, const uint16_t* x, int64_t ldx, int64_t m0, int64_t m1, const PackedBf16& w,
                int64_t g0, int64_t g1, int64_t next) {
    const int64_t group_elems = (w.k + 1) / 2 * 32;
    const int j = static_cast<int>(g1 - g0);
    const int64_t cols = std::min(w.n, 16 * g1) - 16 * g0;
    const size_t size = out_f32 ? sizeof(float) : sizeof(uint16_t);
    // The next groups' weights, fetched into L2 while these compute: row tile t takes groups t, t + T, ...
    // (T row tiles), so that each group is fetched once and the fetches spread over the tiles.
    const int64_t upcoming = std::max<int64_t>(0, std::min<int64_t>(JR, next - g1));
    const int64_t row_tiles = (m1 - m0 + MR - 1) / MR;
    for (int64_t i = m0, t = 0; i < m1; i += MR, ++t) {
        const uint16_t* ahead[JR];
        int na = 0;
        for (int64_t g = t; g < upcoming; g += row_tiles) ahead[na++] = w.data + (g1 + g) * group_elems;
        const int rows = static_cast<int>(std::min<int64_t>(MR, m1 - i));
        tiles[j - 1][rows - 1](static_cast<char*>(out) + (i * ldo + 16 * g0) * size, ldo, out_f32, x + i * ldx, ldx, w.k,
                               w.data + g0 * group_elems, group_elems, cols, ahead, na);
    }
}

}  // namespace llm::avx512bf16
