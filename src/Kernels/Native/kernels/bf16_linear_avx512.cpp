// bfloat16 linear on AVX512_BF16 dot products: out = x · Wᵀ with x [m, k] and W [n, k] both
// bfloat16 as they lie (row-major, no repacking), float32 sums. One `vdpbf16ps` multiplies 32
// bfloat16 pairs of a weight row and an x row and adds the 16 pair sums into 16 float32 lanes,
// where the widening path spends two widenings (zero-extend and shift) and two fused
// multiply-adds per x row on the same 32 elements. Tiles of MR = 4 x rows by NR = 4 weight rows keep 16 accumulators; each 32-element
// step loads 4 weight and 4 x vectors for 16 dot products, and one transpose-and-add tree turns
// the 16 accumulators into the tile's 16 sums. Weight rows stay in L1 while every x row passes.
//
//   weight rows r0..r0+3 (k elements each)      x rows m0..m0+3
//   [w0 ......................]                  [x0 ......]   acc[i*4 + j] += dot32(x_i, w_j)
//   [w1 ......................]  per 32 of k:    [x1 ......]   lanes: 16 partial pair sums
//   [w2 ......................]                  ...           hsum16 -> sums[i*4 + j]
//   [w3 ......................]
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma")
#include <immintrin.h>

#include <algorithm>

#include "hsum_avx512.h"
#include "small_linear.h"

namespace llm::avx512bf16 {

namespace {

constexpr int NR = 4;
constexpr int MR = 4;

inline __m512bh load(const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); }

// Weight rows [r, r + nr) (missing ones repeat the last).
inline void weight_rows(const uint16_t* weight, int64_t k, int64_t r, int nr, const uint16_t** w) {
    for (int j = 0; j < NR; ++j) w[j] = weight + (r + std::min(j, nr - 1)) * k;
}

// out[m0 + i, r0 + j] for i < M, j < nr (nr <= NR; missing weight rows repeat the last one and are not stored).
// With `next`, the next weight rows are fetched a cache line per row and step, while this tile computes.
template <int M, bool F32Out>
void tile(const uint16_t* x, int64_t k, const uint16_t* const* w, const uint16_t* const* next, void* out, int64_t n, int64_t r0, int nr) {
    __m512 acc[MR * NR];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (int64_t p = 0; p < k; p += 32) {
        __m512bh wv[NR];
        for (int j = 0; j < NR; ++j) wv[j] = load(w[j] + p);
        if (next)
            for (int j = 0; j < NR; ++j) _mm_prefetch(reinterpret_cast<const char*>(next[j] + p), _MM_HINT_T0);
        for (int i = 0; i < M; ++i) {
            __m512bh xv = load(x + i * k + p);
            for (int j = 0; j < NR; ++j) acc[i * NR + j] = _mm512_dpbf16_ps(acc[i * NR + j], xv, wv[j]);
        }
    }
    __m512 sums = avx512::hsum16(acc);
    if constexpr (F32Out) {
        alignas(64) float s[MR * NR];
        _mm512_store_ps(s, sums);
        for (int i = 0; i < M; ++i)
            for (int j = 0; j < nr; ++j) static_cast<float*>(out)[i * n + r0 + j] = s[i * NR + j];
    } else {
        alignas(32) uint16_t s[MR * NR];  // rounded to nearest even, as libtorch rounds
        _mm256_store_si256(reinterpret_cast<__m256i*>(s), (__m256i)_mm512_cvtneps_pbh(sums));
        for (int i = 0; i < M; ++i)
            for (int j = 0; j < nr; ++j) static_cast<uint16_t*>(out)[i * n + r0 + j] = s[i * NR + j];
    }
}

template <bool F32Out>
void rows(const uint16_t* x, int m, int64_t k, const uint16_t* weight, void* out, int64_t n, int64_t n0, int64_t n1) {
    const size_t out_size = F32Out ? sizeof(float) : sizeof(uint16_t);
    const uint16_t* w[NR];
    const uint16_t* next[NR];
    for (int64_t r = n0; r < n1; r += NR) {
        const int nr = static_cast<int>(std::min<int64_t>(NR, n1 - r));
        weight_rows(weight, k, r, nr, w);
        // Rows past this chunk belong to another item, often on another core: fetch only ours.
        const bool more = r + NR < n1;
        if (more) weight_rows(weight, k, r + NR, static_cast<int>(std::min<int64_t>(NR, n1 - r - NR)), next);
        for (int m0 = 0; m0 < m; m0 += MR) {
            const uint16_t* xs = x + m0 * k;
            void* os = static_cast<char*>(out) + m0 * n * out_size;
            const uint16_t* const* ahead = more && m0 == 0 ? next : nullptr;
            switch (std::min(MR, m - m0)) {
                case 1: tile<1, F32Out>(xs, k, w, ahead, os, n, r, nr); break;
                case 2: tile<2, F32Out>(xs, k, w, ahead, os, n, r, nr); break;
                case 3: tile<3, F32Out>(xs, k, w, ahead, os, n, r, nr); break;
                default: tile<4, F32Out>(xs, k, w, ahead, os, n, r, nr); break;
            }
        }
    }
}

}  // namespace

void linear_rows(const uint16_t* x, int m, int64_t k, const uint16_t* weight, void* out, bool out_f32, int64_t n, int64_t n0, int64_t n1) {
    if (out_f32) rows<true>(x, m, k, weight, out, n, n0, n1);
    else rows<false>(x, m, k, weight, out, n, n0, n1);
}

}  // namespace llm::avx512bf16
