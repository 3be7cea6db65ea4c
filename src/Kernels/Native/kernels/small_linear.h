// y = x · Wᵀ for up to 64 rows of x (decode steps). libtorch's matrix-vector
// product streams weights at about 20 GB/s on the project's machine, well under the memory
// bandwidth; this kernel reads each weight row once for all rows of x, on every core.
#pragma once

#include "tensor_arg.h"

namespace llm {

constexpr int kSmallLinearMaxRows = 64;

// out [M, N], x [M, K], weight [N, K]: all float32 or all bfloat16, contiguous, M <= 64 (float32:
// any M where f32_gemm_available()).
void small_linear_cpu(const TensorArg& out, const TensorArg& x, const TensorArg& weight);

// The same on raw memory: out [m, n], x [m, k], weight [n, k], contiguous, all of one dtype.
void small_linear(void* out, const void* x, const void* weight, bool bf16, int64_t m, int64_t k, int64_t n);

// Whether float32 products of any row count run here (the kernels run at AVX-512 and LLM_F32_GEMM is not 0).
bool f32_gemm_available();

// Whether bfloat16 products use AVX512_BF16 dot products (the CPU has them, the kernels run at
// AVX-512, and LLM_BF16_DOT is not 0): then their inner size must be a multiple of 32.
bool bf16_dot_available();

namespace avx512bf16 {
// Rows [n0, n1) of out ([m, n], bfloat16, or float32 when out_f32) for bfloat16 x [m, k] and
// weight [n, k], k a multiple of 32.
void linear_rows(const uint16_t* x, int m, int64_t k, const uint16_t* weight, void* out, bool out_f32, int64_t n, int64_t n0, int64_t n1);
}

namespace avx512 {
// Rows [n0, n1) of out for float32 x (already converted) and weights of either type.
void small_linear_rows(const float* x, int m, int64_t k, const void* weight, bool bf16, float* out, int64_t n, int64_t n0, int64_t n1);
// Rows [n0, n1) of out [m, n] for float32 x [m, k] and weight [n, k], k a multiple of 16, as a GEMM
// on weight panels packed on the fly (f32_gemm_avx512.cpp): for prompt chunks. Weight rows
// [next0, next1) (what the calling thread will likely compute next) are prefetched meanwhile.
void gemm_f32_rows(const float* x, int m, int64_t k, const float* weight, float* out, int64_t n, int64_t n0, int64_t n1, int64_t next0, int64_t next1);
}

}  // namespace llm
