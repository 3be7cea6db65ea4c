// AVX-512 SiLU-and-multiply: exp by a degree-6 polynomial on [-ln2/2, ln2/2] and scalef
// (about 1 ulp of float32, as libtorch's vectorised exp), 16 elements at a time.
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#include <immintrin.h>

#include "bf16.h"
#include "decode_ops.h"

namespace llm::avx512 {

namespace {

inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-103.0f)), _mm512_set1_ps(88.7f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

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

}  // namespace

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
