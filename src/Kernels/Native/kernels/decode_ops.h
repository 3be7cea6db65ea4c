// The element-wise work between a decode step's matrix products, fused, so that a few rows
// (decode, small batches) cost one call each instead of libtorch's chain of small operators
// (an RMSNorm is eight of them, rotary a dozen, SiLU-and-multiply three), each of which
// allocates a tensor and dispatches. Rows are float32 or bfloat16; bfloat16 results are
// rounded where libtorch's chain rounds them, so the results match it to float32 rounding.
#pragma once

#include <cstdint>

namespace llm {

// Rows [r0, r1): when residual is given, x += residual first (x updated in place, rounded to
// its dtype); then out = rmsnorm(x) * weight. unit_offset: Gemma's gain (1 + weight), applied
// in float32 before the rounding; otherwise the normalised row is rounded, then multiplied.
void rms_norm_rows(void* out, void* x, const void* residual, const void* weight, bool bf16, int64_t d, float eps,
                   bool unit_offset, int64_t r0, int64_t r1);

// out[r, j] = silu(gate_up[r, j]) * gate_up[r, h + j] for rows [r0, r1) (silu's result rounded to the dtype first).
void silu_mul_rows(void* out, const void* gate_up, bool bf16, int64_t h, int64_t r0, int64_t r1);

// Rotates, in place, `heads` heads of head_size at the start of each row of x (row stride
// `stride` elements): the first 2 * half dimensions of each head by cos / sin [rows, half]
// (float32), pairs (i, i + half) (half-split) or (2i, 2i + 1) (interleaved).
void rotary_rows(void* x, bool bf16, int64_t stride, int64_t heads, int64_t head_size, int64_t half, const float* cos,
                 const float* sin, bool interleaved, int64_t r0, int64_t r1);

// The same on all `rows` rows, spread over the kernels' pool once there are enough of them to pay for waking it
// (the C exports below and the fused decode layer, decode_layer.h).
void rms_norm(void* out, void* x, const void* residual, const void* weight, bool bf16, int64_t rows, int64_t d, float eps,
              bool unit_offset);
void silu_mul(void* out, const void* gate_up, bool bf16, int64_t rows, int64_t h);
void rotary(void* x, bool bf16, int64_t rows, int64_t stride, int64_t heads, int64_t head_size, int64_t half, const float* cos,
            const float* sin, bool interleaved);

namespace avx512 {
void silu_mul_row(void* out, const void* gate_up, bool bf16, int64_t h);
// One row of rms_norm_rows, and of rotary_rows in the half-split style (row: the row's first head).
void rms_norm_row(void* out, void* x, const void* residual, const void* weight, bool bf16, int64_t d, float eps, bool unit_offset);
void rotary_half_split_row(void* row, bool bf16, int64_t heads, int64_t head_size, int64_t half, const float* cos, const float* sin);
}

}  // namespace llm
