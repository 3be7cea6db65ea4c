#include "half_rows.h"

#include <immintrin.h>

#include "bf16.h"
#include "half.h"
#include "isa.h"
#include "rows_avx512.h"

namespace llm {

namespace {

// The first n - n % 16 elements of a dense row; returns how many were converted.
__attribute__((target("avx512f,avx512bw,avx512vl,avx2"))) int64_t to_half_avx512(const void* src, DType t, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = load16_as_float(src, t, i);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    return i;
}

// The first n - n % 8 elements of a dense row, with F16C.
__attribute__((target("avx2,f16c"))) int64_t to_half_avx2(const void* src, DType t, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = t == DType::F32
                       ? _mm256_loadu_ps(static_cast<const float*>(src) + i)
                       : _mm256_castsi256_ps(_mm256_slli_epi32(
                             _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(src) + i))), 16));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    return i;
}

}  // namespace

void to_half_row(const void* src, DType src_dtype, int64_t step, uint16_t* dst, int64_t n) {
    int64_t done = 0;
    if (step == 1) {
        const Isa isa = selected_isa();
        if (isa == Isa::Avx512) done = to_half_avx512(src, src_dtype, dst, n);
        else if (isa == Isa::Avx2) done = to_half_avx2(src, src_dtype, dst, n);
    }
    for (int64_t i = done; i < n; ++i)
        dst[i] = float_to_half(src_dtype == DType::F32 ? static_cast<const float*>(src)[i * step]
                                                       : bf16_to_float(static_cast<const uint16_t*>(src)[i * step]));
}

}  // namespace llm
