// The attention task for AVX-512 with VBMI (Ice Lake, Zen 4 and later): as attention_avx512.cpp, with
// fp8 rows read by table lookups (Avx512Simd<true>).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "attention.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx2,fma")

#include "attention_avx512_simd.h"

namespace llm::avx512vbmi {

using Simd = avx512::Avx512Simd<true>;

#include "attention_simd.inc"

}  // namespace llm::avx512vbmi

#pragma GCC pop_options
