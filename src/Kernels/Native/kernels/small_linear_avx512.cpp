// AVX-512 tiles of the small-batch linear: NR = 4 weight rows by up to MR = 6 rows of x, 24
// float32 accumulators in registers; each 16-wide step loads 4 weight and MR x vectors for
// 4 * MR fused multiply-adds, so at a few rows of x the weights stream at memory speed and at
// tens of rows the cores stay busy with arithmetic. bfloat16 weights are widened on load.
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#include <immintrin.h>

#include <algorithm>

#include "small_linear.h"

namespace llm::avx512 {

namespace {

constexpr int NR = 4;
constexpr int MR = 6;

template <bool BF16>
inline __m512 load(const void* base, int64_t i) {
    if constexpr (!BF16) return _mm512_loadu_ps(static_cast<const float*>(base) + i);
    __m256i halves = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves), 16));
}

inline const void* row(const void* weight, bool bf16, int64_t r, int64_t k) {
    return bf16 ? static_cast<const void*>(static_cast<const uint16_t*>(weight) + r * k)
                : static_cast<const void*>(static_cast<const float*>(weight) + r * k);
}

// out[m0 + i, r0 + j] for i < M, j < nr (nr <= NR; missing rows repeat the last one and are not stored).
template <int M, bool BF16>
void tile(const float* x, int64_t k, const void* weight, float* out, int64_t n, int64_t r0, int nr) {
    const void* w[NR];
    for (int j = 0; j < NR; ++j) w[j] = row(weight, BF16, r0 + (j < nr ? j : nr - 1), k);
    __m512 acc[M][NR];
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
    for (int64_t p = 0; p < k; p += 16) {
        __m512 wv[NR];
        for (int j = 0; j < NR; ++j) wv[j] = load<BF16>(w[j], p);
        for (int i = 0; i < M; ++i) {
            __m512 xv = _mm512_loadu_ps(x + i * k + p);
            for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_fmadd_ps(wv[j], xv, acc[i][j]);
        }
    }
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < nr; ++j) out[i * n + r0 + j] = _mm512_reduce_add_ps(acc[i][j]);
}

// One or two rows of x: a single sequential pass per weight row streams memory fastest. bfloat16 keeps U
// independent sums per x row (combined at the row's end): with one, each 32 bytes of weights waited for
// the previous FMA, which held a core below the memory's rate. float32 (64 bytes per FMA) measured the
// same either way and keeps its one chain, so its sums stay those of the earlier kernel. The weights
// are asked for kPrefetchBytes ahead: the rows lie back to back, so that is one stream.
constexpr int64_t kPrefetchBytes = 4096;

template <int M, bool BF16>
void stream_rows(const float* x, int64_t k, const void* weight, float* out, int64_t n, int64_t n0, int64_t n1) {
    constexpr int U = BF16 ? 4 : 1;
    constexpr int64_t bytes = (BF16 ? 2 : 4) * 16 * U;  // weight bytes per step of the loop
    for (int64_t r = n0; r < n1; ++r) {
        const void* w = row(weight, BF16, r, k);
        const char* wb = static_cast<const char*>(w);
        __m512 acc[M][U];
        for (int i = 0; i < M; ++i)
            for (int u = 0; u < U; ++u) acc[i][u] = _mm512_setzero_ps();
        int64_t p = 0;
        for (; p + 16 * U <= k; p += 16 * U, wb += bytes) {
            for (int64_t b = 0; b < bytes; b += 64) _mm_prefetch(wb + kPrefetchBytes + b, _MM_HINT_T0);
            for (int u = 0; u < U; ++u) {
                const __m512 wv = load<BF16>(w, p + 16 * u);
                for (int i = 0; i < M; ++i) acc[i][u] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + i * k + p + 16 * u), acc[i][u]);
            }
        }
        for (; p < k; p += 16) {
            const __m512 wv = load<BF16>(w, p);
            for (int i = 0; i < M; ++i) acc[i][0] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + i * k + p), acc[i][0]);
        }
        for (int i = 0; i < M; ++i) {
            if constexpr (U == 4) acc[i][0] = _mm512_add_ps(_mm512_add_ps(acc[i][0], acc[i][1]), _mm512_add_ps(acc[i][2], acc[i][3]));
            out[i * n + r] = _mm512_reduce_add_ps(acc[i][0]);
        }
    }
}

template <int M>
void rows_of(const float* x, int64_t k, const void* weight, bool bf16, float* out, int64_t n, int64_t n0, int64_t n1) {
    for (int64_t r = n0; r < n1; r += NR) {
        int nr = static_cast<int>(std::min<int64_t>(NR, n1 - r));
        if (bf16) tile<M, true>(x, k, weight, out, n, r, nr);
        else tile<M, false>(x, k, weight, out, n, r, nr);
    }
}

}  // namespace

void small_linear_rows(const float* x, int m, int64_t k, const void* weight, bool bf16, float* out, int64_t n, int64_t n0, int64_t n1) {
    if (m <= 2) {
        if (m == 1) bf16 ? stream_rows<1, true>(x, k, weight, out, n, n0, n1) : stream_rows<1, false>(x, k, weight, out, n, n0, n1);
        else bf16 ? stream_rows<2, true>(x, k, weight, out, n, n0, n1) : stream_rows<2, false>(x, k, weight, out, n, n0, n1);
        return;
    }
    for (int m0 = 0; m0 < m; m0 += MR) {
        const float* xs = x + m0 * k;
        float* os = out + m0 * n;
        switch (std::min(MR, m - m0)) {
            case 1: rows_of<1>(xs, k, weight, bf16, os, n, n0, n1); break;
            case 2: rows_of<2>(xs, k, weight, bf16, os, n, n0, n1); break;
            case 3: rows_of<3>(xs, k, weight, bf16, os, n, n0, n1); break;
            case 4: rows_of<4>(xs, k, weight, bf16, os, n, n0, n1); break;
            case 5: rows_of<5>(xs, k, weight, bf16, os, n, n0, n1); break;
            default: rows_of<6>(xs, k, weight, bf16, os, n, n0, n1); break;
        }
    }
}

}  // namespace llm::avx512
