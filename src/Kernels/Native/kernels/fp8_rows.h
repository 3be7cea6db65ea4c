// Rows of float32 or bfloat16 to an 8-bit float (write_kv into an fp8 cache), rounded to nearest
// even and saturated as fp8.h defines: AVX-512 where the instruction set allows, float_to_fp8
// elsewhere, with the same bits either way.
#pragma once

#include <cstdint>

#include "tensor_arg.h"

namespace llm {

// dst[i] = src[i * step] as `format` (F8E4M3 or F8E5M2), for i in [0, n); src is float32 or bfloat16.
void to_fp8_row(const void* src, DType src_dtype, int64_t step, DType format, uint8_t* dst, int64_t n);

}  // namespace llm
