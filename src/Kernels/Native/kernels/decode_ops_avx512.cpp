// AVX-512 versions of the fused element-wise calls, 16 elements at a time. SiLU-and-multiply: exp16
// (exp_avx512.h). RMSNorm and rotary do the portable loops' operations in the same order, each product and sum
// rounded on its own (this file is built without contraction into fused multiply-adds), so they give the
// portable loops' bits: the sum of squares keeps its eight partial sums (lane t of a 256-bit vector takes
// elements t, t + 8, ...) and its final tree.
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#include <immintrin.h>

#include <cmath>

#include "bf16.h"
#include "decode_ops.h"
#include "exp_avx512.h"

namespace llm::avx512 {

namespace {

inline __m512 load16(const void* p, bool bf16, int64_t i, __mmask16 m) {
    if (!bf16) return _mm512_maskz_loadu_ps(m, static_cast<const float*>(p) + i);
    const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Round to nearest even as bf16.h does (NaN becomes the quiet NaN 0x7fc0).
inline __m256i to_bf16(__m512 v) {
    const __m512i bits = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_mov_epi32(r, nan, _mm512_set1_epi32(0x7fc0));
    return _mm512_cvtepi32_epi16(r);
}

inline __m512 round_to(__m512 v, bool bf16) {
    if (!bf16) return v;
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(to_bf16(v)), 16));
}

inline void store16(void* p, bool bf16, int64_t i, __m512 v, __mmask16 m) {
    if (bf16) _mm256_mask_storeu_epi16(static_cast<uint16_t*>(p) + i, m, to_bf16(v));
    else _mm512_mask_storeu_ps(static_cast<float*>(p) + i, m, v);
}

inline float load1(const void* p, bool bf16, int64_t i) {
    return bf16 ? bf16_to_float(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}

inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1); }

}  // namespace

void rms_norm_row(void* out, void* x, const void* residual, const void* weight, bool bf16, int64_t d, float eps, bool unit_offset) {
    if (residual)
        for (int64_t j = 0; j < d; j += 16) {
            const __mmask16 m = tail_mask(d - j);
            store16(x, bf16, j, _mm512_add_ps(load16(x, bf16, j, m), load16(residual, bf16, j, m)), m);
        }
    // Eight partial sums, element j in sum j % 8, as the portable loop adds them.
    __m256 acc = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 16 <= d; j += 16) {
        const __m512 v = load16(x, bf16, j, 0xffff);
        const __m256 lo = _mm512_castps512_ps256(v), hi = _mm512_extractf32x8_ps(v, 1);
        acc = _mm256_add_ps(acc, _mm256_mul_ps(lo, lo));
        acc = _mm256_add_ps(acc, _mm256_mul_ps(hi, hi));
    }
    alignas(32) float s[8];
    _mm256_store_ps(s, acc);
    for (; j < d; ++j) {
        const float v = load1(x, bf16, j);
        s[j % 8] += v * v;
    }
    const float sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    const __m512 scale = _mm512_set1_ps(1.0f / std::sqrt(sum / static_cast<float>(d) + eps));
    const __m512 one = _mm512_set1_ps(1.0f);
    for (j = 0; j < d; j += 16) {
        const __mmask16 m = tail_mask(d - j);
        const __m512 normed = _mm512_mul_ps(load16(x, bf16, j, m), scale), w = load16(weight, bf16, j, m);
        store16(out, bf16, j, unit_offset ? _mm512_mul_ps(normed, _mm512_add_ps(w, one)) : _mm512_mul_ps(round_to(normed, bf16), w), m);
    }
}

void rotary_half_split_row(void* row, bool bf16, int64_t heads, int64_t head_size, int64_t half, const float* cos, const float* sin) {
    const int64_t es = bf16 ? 2 : 4;
    for (int64_t head = 0; head < heads; ++head) {
        void* a = static_cast<char*>(row) + head * head_size * es;
        void* b = static_cast<char*>(a) + half * es;
        for (int64_t i = 0; i < half; i += 16) {
            const __mmask16 m = tail_mask(half - i);
            const __m512 xa = load16(a, bf16, i, m), xb = load16(b, bf16, i, m);
            const __m512 c = _mm512_maskz_loadu_ps(m, cos + i), s = _mm512_maskz_loadu_ps(m, sin + i);
            store16(a, bf16, i, _mm512_sub_ps(_mm512_mul_ps(xa, c), _mm512_mul_ps(xb, s)), m);
            store16(b, bf16, i, _mm512_add_ps(_mm512_mul_ps(xb, c), _mm512_mul_ps(xa, s)), m);
        }
    }
}

void silu_mul_row(void* out, const void* gate_up, bool bf16, int64_t h) {
    const void* up = static_cast<const char*>(gate_up) + h * (bf16 ? 2 : 4);
    for (int64_t j = 0; j < h; j += 16) {
        const __mmask16 m = h - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (h - j)) - 1);
        const __m512 g = load16(gate_up, bf16, j, m);
        const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
        store16(out, bf16, j, _mm512_mul_ps(round_to(silu, bf16), load16(up, bf16, j, m)), m);
    }
}

}  // namespace llm::avx512
