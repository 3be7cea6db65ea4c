// Rows of float32 or bfloat16 to float16 (write_kv into a float16 cache), rounded to nearest
// even: F16C or AVX-512 conversions where the instruction set allows, float_to_half (half.h)
// elsewhere, with the same bits either way.
#pragma once

#include <cstdint>

#include "tensor_arg.h"

namespace llm {

// dst[i] = src[i * step] as float16, for i in [0, n); src is float32 or bfloat16.
void to_half_row(const void* src, DType src_dtype, int64_t step, uint16_t* dst, int64_t n);

}  // namespace llm
