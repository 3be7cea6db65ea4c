#include "fp8_rows.h"

#include <immintrin.h>

#include "bf16.h"
#include "fp8.h"
#include "isa.h"
#include "rows_avx512.h"

namespace llm {

namespace {

// float_to_fp8 on 16 lanes: the normal lanes rebias and round their dropped bits; the subnormal
// ones scale |f| to units of the format's subnormal step (exact: a power of two) and round to the
// nearest integer, even on ties; then saturation, NaN and the sign.
template <typename F>
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m128i to_fp8_16(__m512 v) {
    constexpr int shift = 23 - F::kMantissa;
    const __m512i x = _mm512_castps_si512(v), a = _mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff));
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(a, shift), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_add_epi32(_mm512_add_epi32(a, _mm512_set1_epi32((1 << (shift - 1)) - 1)), odd);
    const __m512i normal = _mm512_sub_epi32(_mm512_srli_epi32(rounded, shift), _mm512_set1_epi32((127 - F::kBias) << F::kMantissa));
    const __m512i subnormal = _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_castsi512_ps(a), _mm512_set1_ps(F::kSubnormalsPerUnit)),
                                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512i code = _mm512_mask_blend_epi32(_mm512_cmplt_epu32_mask(a, _mm512_set1_epi32(F::kMinNormal)), normal, subnormal);
    code = _mm512_min_epu32(code, _mm512_set1_epi32(F::kMaxFinite));
    code = _mm512_mask_mov_epi32(code, _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(0x7f800000)), _mm512_set1_epi32(F::kNaN));
    code = _mm512_or_si512(code, _mm512_and_si512(_mm512_srli_epi32(x, 24), _mm512_set1_epi32(0x80)));
    return _mm512_cvtepi32_epi8(code);
}

// The first n - n % 16 elements of a dense row; returns how many were converted.
template <typename F>
__attribute__((target("avx512f,avx512bw,avx512vl"))) int64_t to_fp8_avx512(const void* src, DType t, uint8_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = load16_as_float(src, t, i);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), to_fp8_16<F>(v));
    }
    return i;
}

template <typename F>
void to_fp8_row(const void* src, DType src_dtype, int64_t step, uint8_t* dst, int64_t n) {
    int64_t done = 0;
    if (step == 1 && selected_isa() == Isa::Avx512) done = to_fp8_avx512<F>(src, src_dtype, dst, n);
    for (int64_t i = done; i < n; ++i)
        dst[i] = float_to_fp8<F>(src_dtype == DType::F32 ? static_cast<const float*>(src)[i * step]
                                                         : bf16_to_float(static_cast<const uint16_t*>(src)[i * step]));
}

}  // namespace

void to_fp8_row(const void* src, DType src_dtype, int64_t step, DType format, uint8_t* dst, int64_t n) {
    if (format == DType::F8E4M3) to_fp8_row<E4M3>(src, src_dtype, step, dst, n);
    else to_fp8_row<E5M2>(src, src_dtype, step, dst, n);
}

}  // namespace llm
