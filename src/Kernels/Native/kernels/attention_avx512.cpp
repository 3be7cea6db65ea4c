// The attention task for AVX-512 (F, BW, VL, DQ): 16 floats per vector.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "attention.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")

#include "attention_avx512_simd.h"

namespace llm::avx512 {

using Simd = Avx512Simd<false>;

#include "attention_simd.inc"

}  // namespace llm::avx512

#pragma GCC pop_options
