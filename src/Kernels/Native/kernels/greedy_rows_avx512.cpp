// The first maximum and log-sum-exp of a row, 16 logits at a time: the maximum and a NaN check in one
// pass, the sum of exp(x - max) in a second (four accumulators of 16 lanes, summed in double at the end),
// the first index of the maximum in a third that stops there.
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq")
#include <immintrin.h>

#include <cmath>

#include "exp_avx512.h"
#include "greedy_rows.h"

namespace llm::avx512 {

int32_t greedy_row(const float* row, int64_t vocab, float* logprob) {
    __m512 best = _mm512_set1_ps(-INFINITY);
    __mmask16 nan = 0;
    int64_t j = 0;
    for (; j + 16 <= vocab; j += 16) {
        const __m512 v = _mm512_loadu_ps(row + j);
        best = _mm512_max_ps(best, v);
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    if (j < vocab) {
        const __mmask16 m = static_cast<__mmask16>((1u << (vocab - j)) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(m, row + j);
        best = _mm512_mask_max_ps(best, m, best, v);
        nan |= _mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q);
    }
    if (nan) return -1;
    const float top = _mm512_reduce_max_ps(best);
    if (!std::isfinite(top)) return -1;

    const __m512 shift = _mm512_set1_ps(top);
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    j = 0;
    for (; j + 64 <= vocab; j += 64) {
        s0 = _mm512_add_ps(s0, exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j), shift)));
        s1 = _mm512_add_ps(s1, exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j + 16), shift)));
        s2 = _mm512_add_ps(s2, exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j + 32), shift)));
        s3 = _mm512_add_ps(s3, exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j + 48), shift)));
    }
    for (; j < vocab; j += 16) {
        const __mmask16 m = vocab - j >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (vocab - j)) - 1);
        s0 = _mm512_mask_add_ps(s0, m, s0, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j), shift)));
    }
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    double total = 0;
    for (float lane : lanes) total += lane;
    *logprob = top - (top + static_cast<float>(std::log(total)));

    for (j = 0; j + 16 <= vocab; j += 16) {
        const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_loadu_ps(row + j), shift, _CMP_EQ_OQ);
        if (hit) return static_cast<int32_t>(j + __builtin_ctz(hit));
    }
    for (; j < vocab; ++j)
        if (row[j] == top) return static_cast<int32_t>(j);
    return -1;
}

}  // namespace llm::avx512
