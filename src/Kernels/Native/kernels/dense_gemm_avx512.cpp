// The packed dense GEMM's register tiles and packing (layout in dense_gemm.h).
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma")
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "dense_gemm.h"

namespace llm::avx512dense {

namespace {

constexpr int MR = 8;  // rows per tile
constexpr int JR = 3;  // groups (16 columns each) per tile
constexpr int64_t kStreamAhead = 4096;

// What a step of k is for each weight type: the x values one broadcast carries and the instruction that
// adds their products to 16 outputs.
struct Bf16 {
    using T = uint16_t;
    static constexpr int per = 2;
    using Vec = __m512bh;
    static Vec broadcast(const T* x) {
        uint32_t v;
        std::memcpy(&v, x, sizeof v);
        return (Vec)_mm512_set1_epi32(static_cast<int>(v));
    }
    // The last element of an odd k alone: its pair's upper half is zero in the weight and here.
    static Vec broadcast_last(const T* x) { return (Vec)_mm512_set1_epi32(*x); }
    static Vec weights(const char* p) { return (Vec)_mm512_load_si512(p); }
    static __m512 add(__m512 acc, Vec x, Vec w) { return _mm512_dpbf16_ps(acc, x, w); }
};

struct F32 {
    using T = float;
    static constexpr int per = 1;
    using Vec = __m512;
    static Vec broadcast(const T* x) { return _mm512_set1_ps(*x); }
    static Vec broadcast_last(const T* x) { return broadcast(x); }
    static Vec weights(const char* p) { return _mm512_load_ps(p); }
    static __m512 add(__m512 acc, Vec x, Vec w) { return _mm512_fmadd_ps(x, w, acc); }
};

// out[i, 16 j + c] for i < M, j < J, c < cols - 16 j (the tile's first cols columns are stored).
// Each step also fetches a line of every group in ahead[0, na) into L2 (the next columns' weights).
template <class Fmt, int M, int J>
void tile(void* out, int64_t ldo, bool out_f32, const void* xv, int64_t ldx, int64_t k, const char* w, int64_t group_bytes,
          int64_t cols, const char* const* ahead, int na) {
    using T = typename Fmt::T;
    const T* x = static_cast<const T*>(xv);
    __m512 acc[M][J];
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < J; ++j) acc[i][j] = _mm512_setzero_ps();
    const int64_t full = k / Fmt::per;
    for (int64_t p = 0; p < full; ++p) {
        typename Fmt::Vec wv[J];
        for (int j = 0; j < J; ++j) wv[j] = Fmt::weights(w + j * group_bytes + p * 64);
        for (int a = 0; a < na; ++a) _mm_prefetch(ahead[a] + p * 64, _MM_HINT_T1);
        // A tile of one or two rows streams its weights from memory at the rate it multiplies them: ask for
        // them 4 KiB ahead (into L1), beyond what the hardware prefetchers keep in flight.
        if constexpr (M <= 2)
            for (int j = 0; j < J; ++j) _mm_prefetch(w + j * group_bytes + p * 64 + kStreamAhead, _MM_HINT_T0);
        for (int i = 0; i < M; ++i) {
            const auto b = Fmt::broadcast(x + i * ldx + Fmt::per * p);
            for (int j = 0; j < J; ++j) acc[i][j] = Fmt::add(acc[i][j], b, wv[j]);
        }
    }
    if (full * Fmt::per < k) {
        typename Fmt::Vec wv[J];
        for (int j = 0; j < J; ++j) wv[j] = Fmt::weights(w + j * group_bytes + full * 64);
        for (int i = 0; i < M; ++i) {
            const auto b = Fmt::broadcast_last(x + i * ldx + k - 1);
            for (int j = 0; j < J; ++j) acc[i][j] = Fmt::add(acc[i][j], b, wv[j]);
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

using Tile = void (*)(void*, int64_t, bool, const void*, int64_t, int64_t, const char*, int64_t, int64_t, const char* const*, int);

template <class Fmt, int J, int... M>
constexpr auto row_tiles(std::integer_sequence<int, M...>) {
    return std::array<Tile, sizeof...(M)>{&tile<Fmt, M + 1, J>...};
}

// Tiles<Fmt>::of[j - 1][m - 1]: m rows by j groups.
template <class Fmt>
struct Tiles {
    static constexpr std::array<Tile, MR> of[JR] = {row_tiles<Fmt, 1>(std::make_integer_sequence<int, MR>{}),
                                                    row_tiles<Fmt, 2>(std::make_integer_sequence<int, MR>{}),
                                                    row_tiles<Fmt, 3>(std::make_integer_sequence<int, MR>{})};
};

template <class Fmt>
void pack(const void* weight, const PackedDense& packed, int64_t group) {
    using T = typename Fmt::T;
    const int64_t n = packed.n, k = packed.k;
    T* dst = reinterpret_cast<T*>(const_cast<char*>(packed.group(group)));
    std::memset(dst, 0, static_cast<size_t>(packed.steps * 64));
    constexpr int lane = 4 / sizeof(T);  // elements per lane
    for (int c = 0; c < 16 && 16 * group + c < n; ++c) {
        const T* row = static_cast<const T*>(weight) + (16 * group + c) * k;
        for (int64_t e = 0; e < k; ++e) dst[(e / Fmt::per) * 16 * lane + lane * c + (e % Fmt::per)] = row[e];
    }
}

}  // namespace

void pack_group(const void* weight, const PackedDense& packed, int64_t group) {
    if (packed.f32) pack<F32>(weight, packed, group);
    else pack<Bf16>(weight, packed, group);
}

void gemm_block(void* out, int64_t ldo, bool out_f32, const void* x, int64_t ldx, int64_t m0, int64_t m1, const PackedDense& w,
                int64_t g0, int64_t g1, int64_t next) {
    const int64_t group_bytes = w.steps * 64;
    const int j = static_cast<int>(g1 - g0);
    const int64_t cols = std::min(w.n, 16 * g1) - 16 * g0;
    const size_t size = out_f32 ? sizeof(float) : sizeof(uint16_t), in_size = w.f32 ? sizeof(float) : sizeof(uint16_t);
    const auto& tiles = w.f32 ? Tiles<F32>::of : Tiles<Bf16>::of;
    // The next groups' weights, fetched into L2 while these compute: row tile t takes groups t, t + T, ...
    // (T row tiles), so that each group is fetched once and the fetches spread over the tiles.
    const int64_t upcoming = std::max<int64_t>(0, std::min<int64_t>(JR, next - g1));
    const int64_t row_tiles = (m1 - m0 + MR - 1) / MR;
    for (int64_t i = m0, t = 0; i < m1; i += MR, ++t) {
        const char* ahead[JR];
        int na = 0;
        for (int64_t g = t; g < upcoming; g += row_tiles) ahead[na++] = w.group(g1 + g);
        const int rows = static_cast<int>(std::min<int64_t>(MR, m1 - i));
        tiles[j - 1][rows - 1](static_cast<char*>(out) + (i * ldo + 16 * g0) * size, ldo, out_f32,
                               static_cast<const char*>(x) + i * ldx * in_size, ldx, w.k, w.group(g0), group_bytes, cols, ahead, na);
    }
}

}  // namespace llm::avx512dense
