// Sixteen elements of a dense float32 or bfloat16 row as float32 lanes, for the row converters
// (half_rows.cpp, fp8_rows.cpp): bfloat16 widens exactly by a 16-bit shift.
#pragma once

#include <cstdint>
#include <immintrin.h>

#include "tensor_arg.h"

namespace llm {

__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 load16_as_float(const void* src, DType t, int64_t i) {
    if (t == DType::F32) return _mm512_loadu_ps(static_cast<const float*>(src) + i);
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(src) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

}  // namespace llm
