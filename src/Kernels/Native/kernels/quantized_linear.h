// y = x · Wᵀ with W in ggml's quantized block layout (Q8_0, Q4_0; Q4_K, Q5_K, Q6_K in
// kquant_linear.h), rows of blocks back to back as GGUF files store them. As llama.cpp does, the activations are quantized on the fly to Q8_0
// (per block of 32: d = max|x| / 127 rounded to float16, q = round(x / d)) and the products are
// integer dot products of whole blocks, scaled by both blocks' d and summed in float32.
#pragma once

#include <cstdint>

namespace llm {

// ggml's type ids (as GGUF stores them).
enum class QuantType : int { Q4_0 = 2, Q8_0 = 8, Q4_K = 12, Q5_K = 13, Q6_K = 14 };

constexpr int kQuantBlock = 32;

// The activations of one call, quantized for one weight type (the AVX-512 kernels' layout):
// per row, pairs of blocks (64 elements; a missing last block is zero) in the order the weight
// loads produce, and per pair a vector of 16 scales matching the dot products' lanes; for Q4_0
// also -8 * (sum of each lane's 4 activations), which turns unsigned nibbles into q - 8.
struct QuantizedActivations {
    const int8_t* q;      // [m, pairs * 64]
    const float* scale;   // [m, pairs * 16]
    const int32_t* bias;  // [m, pairs * 16] (Q4_0 only)
    int64_t pairs;
};

// out: [m, n] with row stride ldo.
void quantized_linear_cpu(void* out, int64_t ldo, const void* x, bool bf16, int64_t m, int64_t k, const uint8_t* weight, QuantType type, int64_t n);

namespace avx512 {
// Quantizes rows [r0, r1) of x into the buffers of a (q, scale, bias as laid out above).
void quantize_activations(const void* x, bool bf16, int64_t k, QuantType type, int64_t r0, int64_t r1, int8_t* q, float* scale, int32_t* bias);
// out rows [m0, m1) x columns [n0, n1) (float32, row stride n).
void quantized_tiles(const QuantizedActivations& a, int64_t m0, int64_t m1, const uint8_t* weight, QuantType type, int64_t k,
                     int64_t n0, int64_t n1, float* out, int64_t n);
}  // namespace avx512

}  // namespace llm
