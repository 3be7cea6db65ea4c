// The SIMD vocabulary of the AVX-512 attention task (attention_simd.inc): 16 floats per vector.
// Include after a `#pragma GCC target` with AVX-512 F/BW/VL/DQ (and VBMI for Avx512Simd<true>): the
// functions take that target. Avx512Simd<true> reads fp8 rows by table lookups (vpermi2b).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "exp_avx512.h"
#include "fp8.h"
#include "half.h"
#include "hsum_avx512.h"

namespace llm::avx512 {

// float32 bits of fp8 magnitude code c (0..127) of format F, as fp8.h decodes it; a NaN code as the quiet
// NaN that vcvtph2ps makes of it. Integer arithmetic, so that the tables are built at compile time.
template <typename F>
constexpr uint32_t fp8_magnitude_bits(uint32_t c) {
    constexpr int M = F::kMantissa, E = 7 - M;
    constexpr uint32_t top = (1u << E) - 1;
    uint32_t e = c >> M, m = c & ((1u << M) - 1);
    if (F::kMaxFinite == 0x7e && c == 0x7f) return 0x7fc00000u;     // e4m3fn: S.1111.111 is NaN
    if (F::kMaxFinite != 0x7e && e == top) return m == 0 ? 0x7f800000u : 0x7fc00000u | (m << (23 - M));
    if (e == 0) {  // subnormal m * 2^(1 - bias - M): normalise
        if (m == 0) return 0;
        int exp = 1 - F::kBias;
        while (!(m & (1u << M))) {
            m <<= 1;
            --exp;
        }
        return static_cast<uint32_t>(exp + 127) << 23 | (m & ((1u << M) - 1)) << (23 - M);
    }
    return (e + 127 - F::kBias) << 23 | m << (23 - M);
}

// fp8 codes to float32 by two 128-entry byte tables (vpermi2b takes 7 bits of each code as the index,
// so the sign bit is ignored): bits 24-31 and 16-23 of each magnitude's float32 (the low 16 bits are
// zero for every code of both formats); the code's sign becomes bit 31. 64 codes: one load, two
// lookups, one ternary-logic OR of the signs and four byte permutes that place the two bytes in each
// float: 8 instructions for 4 vectors, NaN and subnormal codes exact (the float16 route took 8-9 per
// vector for e4m3).
template <typename F>
struct Fp8Rows {
    struct Tables {
        alignas(64) uint8_t high[128], low[128];  // bits 24-31 and 16-23 of fp8_magnitude_bits
        alignas(64) uint8_t place[4][64];          // vector k's bytes: float i takes codes 16k + i
    };
    static constexpr Tables make() {
        Tables t{};
        for (uint32_t c = 0; c < 128; ++c) {
            t.high[c] = static_cast<uint8_t>(fp8_magnitude_bits<F>(c) >> 24);
            t.low[c] = static_cast<uint8_t>(fp8_magnitude_bits<F>(c) >> 16);
        }
        for (int k = 0; k < 4; ++k)
            for (int i = 0; i < 16; ++i) {
                t.place[k][4 * i + 3] = static_cast<uint8_t>(16 * k + i);       // from the high bytes
                t.place[k][4 * i + 2] = static_cast<uint8_t>(64 + 16 * k + i);  // from the low bytes
            }
        return t;
    }
    static constexpr Tables kTables = make();
    static constexpr __mmask64 kUpperBytes = 0xccccccccccccccccull;  // bytes 2 and 3 of each float

    // hi / lo: bytes 3 and 2 of each code's float32.
    static void lookup(__m512i x, __m512i& hi, __m512i& lo) {
        hi = _mm512_permutex2var_epi8(_mm512_load_si512(kTables.high), x, _mm512_load_si512(kTables.high + 64));
        lo = _mm512_permutex2var_epi8(_mm512_load_si512(kTables.low), x, _mm512_load_si512(kTables.low + 64));
        hi = _mm512_ternarylogic_epi32(hi, x, _mm512_set1_epi8(static_cast<char>(0x80)), 0xf8);  // hi | (x & 0x80)
    }
    static __m512 place(__m512i hi, __m512i lo, int k) {
        return _mm512_castsi512_ps(_mm512_maskz_permutex2var_epi8(kUpperBytes, hi, _mm512_load_si512(kTables.place[k]), lo));
    }
    template <typename E>
    static __m512 load16(const E* p) {
        __m512i hi, lo;
        lookup(_mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), hi, lo);
        return place(hi, lo, 0);
    }
    template <typename E>
    static void load64(const E* p, __m512* v) {
        __m512i hi, lo;
        lookup(_mm512_loadu_si512(p), hi, lo);
        for (int k = 0; k < 4; ++k) v[k] = place(hi, lo, k);
    }
};

template <bool kVbmi>
struct Avx512Simd {
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
    // fp8 -> float32. With VBMI: by table (Fp8Rows below), 16 codes at a time or a 64-code row at a
    // time (load4). Without it, through float16: e4m3fn S.EEEE.MMM shifted to float16's
    // S.0EEEE.MMM0000000 reads as 2^-8 of the value (subnormals too, exactly), then x 2^8; S.1111.111
    // is NaN; e5m2 is the top byte of a float16.
    static V load(const Fp8E4M3* p) {
        if constexpr (kVbmi) return Fp8Rows<E4M3>::load16(p);
        __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));  // the sign fills the top byte
        __m256i h = _mm256_and_si256(_mm256_slli_epi16(x, 7), _mm256_set1_epi16(static_cast<short>(0xbf80)));
        __mmask16 nan = _mm256_cmpeq_epi16_mask(_mm256_and_si256(x, _mm256_set1_epi16(0x7f)), _mm256_set1_epi16(0x7f));
        return _mm512_mask_mov_ps(_mm512_mul_ps(_mm512_cvtph_ps(h), _mm512_set1_ps(256.0f)), nan, _mm512_set1_ps(__builtin_nanf("")));
    }
    static V load(const Fp8E5M2* p) {
        if constexpr (kVbmi) return Fp8Rows<E5M2>::load16(p);
        return _mm512_cvtph_ps(_mm256_slli_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 8));
    }
    // Whether load4 reads 4 vectors of fp8 codes at once.
    static constexpr bool kFp8Rows = kVbmi;
    template <typename E>
    static void load4(const E* p, V* v) {
        if constexpr (std::is_same_v<E, Fp8E4M3>) Fp8Rows<E4M3>::load64(p, v);
        else Fp8Rows<E5M2>::load64(p, v);
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

    // e^x for x <= 0 (exp16's polynomial, ~1 ulp), floored at -87 (~1e-38): the caller zeroes the lanes that
    // stand for masked keys.
    static V exp(V x) { return exp16(_mm512_max_ps(x, _mm512_set1_ps(-87.0f))); }
};

}  // namespace llm::avx512
