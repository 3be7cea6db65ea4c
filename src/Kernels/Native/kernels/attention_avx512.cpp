// The attention task for AVX-512 (F, BW, VL, DQ): 16 floats per vector.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "attention.h"
#include "fp8.h"
#include "half.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")

#include "hsum_avx512.h"

namespace llm::avx512 {

struct Simd {
    using V = __m512;
    static constexpr int W = 16;
    static V zero() { return _mm512_setzero_ps(); }
    static V set1(float x) { return _mm512_set1_ps(x); }
    static V load(const float* p) { return _mm512_loadu_ps(p); }
    static V load(const uint16_t* p) {  // bfloat16 -> float32: the bits are the upper half
        __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    static V load(const Half* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
    // e4m3fn -> float32 through float16: S.EEEE.MMM shifted to float16's S.0EEEE.MMM0000000 reads as
    // 2^-8 of the value (subnormals too, exactly), then x 2^8; S.1111.111 is NaN.
    static V load(const Fp8E4M3* p) {
        __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));  // the sign fills the top byte
        __m256i h = _mm256_and_si256(_mm256_slli_epi16(x, 7), _mm256_set1_epi16(static_cast<short>(0xbf80)));
        __mmask16 nan = _mm256_cmpeq_epi16_mask(_mm256_and_si256(x, _mm256_set1_epi16(0x7f)), _mm256_set1_epi16(0x7f));
        return _mm512_mask_mov_ps(_mm512_mul_ps(_mm512_cvtph_ps(h), _mm512_set1_ps(256.0f)), nan, _mm512_set1_ps(__builtin_nanf("")));
    }
    static V load(const Fp8E5M2* p) {  // e5m2 is the top byte of a float16
        return _mm512_cvtph_ps(_mm256_slli_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 8));
    }
    static void load_pair(const uint16_t* p, V& even, V& odd) {  // 32 bfloat16 -> elements 0,2,..,30 and 1,3,..,31
        __m512i x = _mm512_loadu_si512(p);
        even = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
        odd = _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
    }
    static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
    static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V max(V a, V b) { return _mm512_max_ps(a, b); }
    static V keep_first(V v, int n, float fill) {
        __mmask16 k = n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1);
        return _mm512_mask_blend_ps(k, _mm512_set1_ps(fill), v);
    }
    // Lanes where a >= b keep v, the others become fill.
    static V keep_ge(V v, V a, V b, float fill) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GE_OQ), _mm512_set1_ps(fill), v);
    }
    static float reduce_max(V v) { return _mm512_reduce_max_ps(v); }
    static float reduce_add(V v) { return _mm512_reduce_add_ps(v); }
    static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

    static V hsum(const V* a) { return hsum16(a); }

    // e^x for x <= 0 (Cephes' expf polynomial, ~1 ulp); below -87 it returns ~1e-38, and the
    // caller zeroes the lanes that stand for masked keys.
    static V exp(V x) {
        x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
        V n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        V r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
        r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
        V p = _mm512_set1_ps(1.9875691500e-4f);
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
        V y = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
        return _mm512_scalef_ps(y, n);
    }
};

#include "attention_simd.inc"

}  // namespace llm::avx512

#pragma GCC pop_options
