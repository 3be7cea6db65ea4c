// AVX-512 rows of the small-batch linear: one pass over each weight row, fused multiply-adds
// into one accumulator per row of x, float32 accumulation whatever the weights' type.
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#include <immintrin.h>

#include "small_linear.h"

namespace llm::avx512 {

namespace {

inline __m512 load(const void* base, int64_t i, bool bf16) {
    if (!bf16) return _mm512_loadu_ps(static_cast<const float*>(base) + i);
    __m256i halves = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves), 16));
}

template <int M>
void rows(const float* x, int64_t k, const void* weight, bool bf16, float* out, int64_t n, int64_t n0, int64_t n1) {
    const int64_t row_elems = k;
    for (int64_t r = n0; r < n1; ++r) {
        const void* w = bf16 ? static_cast<const void*>(static_cast<const uint16_t*>(weight) + r * row_elems)
                             : static_cast<const void*>(static_cast<const float*>(weight) + r * row_elems);
        __m512 acc[M];
        for (int m = 0; m < M; ++m) acc[m] = _mm512_setzero_ps();
        for (int64_t i = 0; i < k; i += 16) {
            __m512 wv = load(w, i, bf16);
            for (int m = 0; m < M; ++m) acc[m] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + m * k + i), acc[m]);
        }
        for (int m = 0; m < M; ++m) out[m * n + r] = _mm512_reduce_add_ps(acc[m]);
    }
}

}  // namespace

void small_linear_rows(const float* x, int m, int64_t k, const void* weight, bool bf16, float* out, int64_t n, int64_t n0, int64_t n1) {
    switch (m) {
        case 1: rows<1>(x, k, weight, bf16, out, n, n0, n1); break;
        case 2: rows<2>(x, k, weight, bf16, out, n, n0, n1); break;
        case 3: rows<3>(x, k, weight, bf16, out, n, n0, n1); break;
        case 4: rows<4>(x, k, weight, bf16, out, n, n0, n1); break;
        case 5: rows<5>(x, k, weight, bf16, out, n, n0, n1); break;
        case 6: rows<6>(x, k, weight, bf16, out, n, n0, n1); break;
        case 7: rows<7>(x, k, weight, bf16, out, n, n0, n1); break;
        default: rows<8>(x, k, weight, bf16, out, n, n0, n1); break;
    }
}

}  // namespace llm::avx512
