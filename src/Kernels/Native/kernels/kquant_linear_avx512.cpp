// AVX-512 VNNI dot of one unpacked K-quant super-block with activation rows: vpdpbusd (unsigned quants
// x signed activations) into 16 int32 lanes of 4 consecutive elements, times each lane's integer scale;
// the integer sums are those of the scalar and AVX2 paths exactly.
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma")
#include <immintrin.h>

#include <cstring>

#include "kquant_linear.h"

namespace llm::avx512 {

namespace {

// (GCC 12's _mm512_reduce_add_epi32 trips -Wuninitialized.)
inline int32_t sum16(__m512i v) {
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

}  // namespace

void quantize_q8k(const float* x, int64_t blocks, int8_t* q, float* d, int32_t* bsums) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int64_t b = 0; b < blocks; ++b, x += kSuperBlock, q += kSuperBlock, bsums += 16) {
        // max(|x|, running): an |x| that is NaN gives the running maximum back, as the reference skips it.
        __m512 running = _mm512_setzero_ps();
        for (int v = 0; v < 16; ++v) running = _mm512_max_ps(_mm512_andnot_ps(sign, _mm512_loadu_ps(x + 16 * v)), running);
        const float amax = _mm512_reduce_max_ps(running);
        if (amax == 0) {
            d[b] = 0;
            std::memset(q, 0, kSuperBlock);
            std::memset(bsums, 0, 16 * sizeof(int32_t));
            continue;
        }
        // The reference's max: the first element (in order) of largest magnitude, with its sign.
        float max = 0;
        for (int v = 0; v < 16; ++v) {
            const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_andnot_ps(sign, _mm512_loadu_ps(x + 16 * v)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (hit) {
                max = x[16 * v + __builtin_ctz(hit)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        // min(127, nearbyint(iscale · x)): the conversion rounds to nearest even, as nearbyint does.
        const __m512 scale = _mm512_set1_ps(iscale);
        for (int v = 0; v < 16; ++v) {
            const __m512i i = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(scale, _mm512_loadu_ps(x + 16 * v))), _mm512_set1_epi32(127));
            // Truncated to bytes as the reference's cast (a NaN's INT_MIN becomes 0), and summed as stored.
            const __m128i bytes = _mm512_cvtepi32_epi8(i);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16 * v), bytes);
            bsums[v] = sum16(_mm512_cvtepi8_epi32(bytes));
        }
        d[b] = 1 / iscale;
    }
}

void kblock_dot(const KBlock& w, const Q8KActivations& a, int64_t i0, int count, int64_t b, float* acc) {
    const __m512i scales = _mm512_load_si512(w.scale16), mins = _mm512_load_si512(w.min16), zero = _mm512_setzero_si512();
    __m512i wq[4], scale[4];
    for (int t = 0; t < 4; ++t) {
        wq[t] = _mm512_load_si512(w.q + 64 * t);
        // lane l covers elements 64t + 4l .. + 3: the 16 numbered 4t + l / 4
        const __m512i index = _mm512_add_epi32(_mm512_set1_epi32(4 * t), _mm512_srli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 2));
        scale[t] = _mm512_maskz_permutexvar_epi32(0xFFFF, index, scales);  // (the unmasked form trips GCC 12's -Wuninitialized)
    }
    for (int i = 0; i < count; ++i) {
        const int64_t row = i0 + i;
        const int8_t* q = a.q + (row * a.blocks + b) * kSuperBlock;
        __m512i dot = zero;
        for (int t = 0; t < 4; ++t)
            dot = _mm512_add_epi32(dot, _mm512_mullo_epi32(_mm512_dpbusd_epi32(zero, wq[t], _mm512_loadu_si512(q + 64 * t)), scale[t]));
        const __m512i m = _mm512_mullo_epi32(mins, _mm512_loadu_si512(a.bsums + (row * a.blocks + b) * 16));
        const float da = a.d[row * a.blocks + b];
        acc[i] += w.d * da * static_cast<float>(sum16(dot)) - w.dmin * da * static_cast<float>(sum16(m));
    }
}

}  // namespace llm::avx512
