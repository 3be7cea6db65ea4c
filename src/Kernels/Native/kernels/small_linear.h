// y = x · Wᵀ for up to 64 rows of x (decode steps). libtorch's matrix-vector
// product streams weights at about 20 GB/s on the project's machine, well under the memory
// bandwidth; this kernel reads each weight row once for all rows of x, on every core.
#pragma once

#include "tensor_arg.h"

namespace llm {

constexpr int kSmallLinearMaxRows = 64;

// out [M, N], x [M, K], weight [N, K]: all float32 or all bfloat16, contiguous, M <= 64.
void small_linear_cpu(const TensorArg& out, const TensorArg& x, const TensorArg& weight);

// The same on raw memory: out [m, n], x [m, k], weight [n, k], contiguous, all of one dtype.
void small_linear(void* out, const void* x, const void* weight, bool bf16, int64_t m, int64_t k, int64_t n);

namespace avx512 {
// Rows [n0, n1) of out for float32 x (already converted) and weights of either type.
void small_linear_rows(const float* x, int m, int64_t k, const void* weight, bool bf16, float* out, int64_t n, int64_t n0, int64_t n1);
}

}  // namespace llm
