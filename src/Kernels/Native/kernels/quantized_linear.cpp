#include "quantized_linear.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "bf16.h"
#include "errors.h"
#include "half.h"
#include "isa.h"
#include "kquant_linear.h"
#include "thread_pool.h"

namespace llm {

namespace {

// float -> float16 -> float, rounding to nearest even (what F16C's conversion does).
float round_to_half(float f) {
    if (f == 0 || !std::isfinite(f)) return f;
    int exponent;
    std::frexp(f, &exponent);                         // f = m * 2^exponent, 0.5 <= |m| < 1
    const int step = std::max(exponent - 11, -24);    // 11 significant bits; subnormals below 2^-14
    return std::nearbyint(std::ldexp(f, -step)) * std::ldexp(1.0f, step);
}

float input_at(const void* x, bool bf16, int64_t i) {
    return bf16 ? bf16_to_float(static_cast<const uint16_t*>(x)[i]) : static_cast<const float*>(x)[i];
}

int64_t block_bytes(QuantType type) { return type == QuantType::Q8_0 ? 34 : 18; }

int32_t scalar_block_dot(const uint8_t* block, QuantType type, const int8_t* xq) {
    int32_t dot = 0;
    for (int e = 0; e < kQuantBlock; ++e) {
        int w = type == QuantType::Q8_0 ? static_cast<int8_t>(block[2 + e]) : ((block[2 + e % 16] >> (e < 16 ? 0 : 4)) & 15) - 8;
        dot += w * xq[e];
    }
    return dot;
}

// The portable path: activations quantized per block in natural order, one block dot at a time
// (AVX2 integer dots where the CPU has them; the same integers either way).
void scalar_linear(const void* x, bool bf16, int64_t m, int64_t k, const uint8_t* weight, QuantType type, int64_t n, float* out, int64_t ldo) {
    const int64_t blocks = k / kQuantBlock;
    std::vector<int8_t> q(static_cast<size_t>(m * k));
    std::vector<float> d(static_cast<size_t>(m * blocks));
    for (int64_t i = 0; i < m * blocks; ++i) {
        float amax = 0;
        for (int e = 0; e < kQuantBlock; ++e) amax = std::max(amax, std::fabs(input_at(x, bf16, i * kQuantBlock + e)));
        const float id = amax != 0 ? 127.0f / amax : 0.0f;
        d[i] = round_to_half(amax / 127.0f);
        for (int e = 0; e < kQuantBlock; ++e) q[i * kQuantBlock + e] = static_cast<int8_t>(std::nearbyint(input_at(x, bf16, i * kQuantBlock + e) * id));
    }
    constexpr int64_t kChunk = 16;
    const bool avx2 = selected_isa() >= Isa::Avx2;
    auto body = [&](int c) {
        for (int64_t r = c * kChunk; r < std::min(n, (c + 1) * kChunk); ++r)
            for (int64_t i = 0; i < m; ++i) {
                float sum = 0;
                for (int64_t b = 0; b < blocks; ++b) {
                    const uint8_t* block = weight + (r * blocks + b) * block_bytes(type);
                    const int8_t* xq = q.data() + (i * blocks + b) * kQuantBlock;
                    const int32_t dot = avx2 ? (type == QuantType::Q8_0 ? avx2::block_dot_q8_0(block, xq) : avx2::block_dot_q4_0(block, xq))
                                             : scalar_block_dot(block, type, xq);
                    sum += half_to_float(block) * d[i * blocks + b] * static_cast<float>(dot);
                }
                out[i * ldo + r] = sum;
            }
    };
    ThreadPool::instance().for_each(static_cast<int>((n + kChunk - 1) / kChunk), body);
}

bool vnni() {
    static const bool supported = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("f16c");
    return supported;
}

// Buffers of the calling thread, kept between calls: a decode step must not allocate.
struct Scratch {
    std::vector<int8_t> q;
    std::vector<float> scale, y, x;
    std::vector<int32_t> bias;
};

const float* as_float(Scratch& scratch, const void* x, bool bf16, int64_t count) {
    if (!bf16) return static_cast<const float*>(x);
    scratch.x.resize(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) scratch.x[i] = bf16_to_float(static_cast<const uint16_t*>(x)[i]);
    return scratch.x.data();
}

// float32 output is written in place (row stride ldo); bfloat16 output goes through [m, n] floats.
float* out_as_float(Scratch& scratch, void* out, bool bf16, int64_t m, int64_t n, int64_t& stride) {
    if (!bf16) return static_cast<float*>(out);
    scratch.y.resize(static_cast<size_t>(m * n));
    stride = n;
    return scratch.y.data();
}

}  // namespace

void quantized_linear_cpu(void* out, int64_t ldo, const void* x, bool bf16, int64_t m, int64_t k, const uint8_t* weight, QuantType type, int64_t n) {
    check(type == QuantType::Q8_0 || type == QuantType::Q4_0 || is_kquant(static_cast<int>(type)), "quantized_linear: weight type ",
          static_cast<int>(type), " is not Q8_0 (8), Q4_0 (2), Q4_K (12), Q5_K (13) or Q6_K (14)");
    check(m >= 1 && n >= 1 && k >= kQuantBlock && k % kQuantBlock == 0, "quantized_linear: shapes m ", m, ", k ", k, ", n ", n,
          " do not fit (k must be a positive multiple of 32)");
    check(ldo >= n, "quantized_linear: output row stride ", ldo, " is below n ", n);
    thread_local Scratch scratch;
    int64_t stride = ldo;
    float* y = out_as_float(scratch, out, bf16, m, n, stride);
    if (is_kquant(static_cast<int>(type))) {
        kquant_linear(as_float(scratch, x, bf16, m * k), m, k, weight, static_cast<int>(type), n, y, stride);
    } else if (selected_isa() == Isa::Avx512 && vnni()) {
        const int64_t pairs = (k / kQuantBlock + 1) / 2;
        scratch.q.resize(static_cast<size_t>(m * pairs * 64));
        scratch.scale.resize(static_cast<size_t>(m * pairs * 16));
        if (type == QuantType::Q4_0) scratch.bias.resize(static_cast<size_t>(m * pairs * 16));
        // The pool's workers have thread_local scratch of their own: hand them this thread's buffers.
        int8_t* q = scratch.q.data();
        float* scale = scratch.scale.data();
        int32_t* bias = scratch.bias.data();
        auto quantize = [&](int r) { avx512::quantize_activations(x, bf16, k, type, r, r + 1, q, scale, bias); };
        if (m >= 8) ThreadPool::instance().for_each(static_cast<int>(m), quantize);
        else avx512::quantize_activations(x, bf16, k, type, 0, m, q, scale, bias);
        QuantizedActivations a{q, scale, bias, pairs};
        // Chunks of 16 weight rows: enough items to keep both cores busy on the narrowest layer.
        constexpr int64_t kChunk = 16;
        auto body = [&](int c) {
            avx512::quantized_tiles(a, 0, m, weight, type, k, c * kChunk, std::min(n, (c + 1) * kChunk), y, stride);
        };
        ThreadPool::instance().for_each(static_cast<int>((n + kChunk - 1) / kChunk), body);
    } else {
        scalar_linear(x, bf16, m, k, weight, type, n, y, stride);
    }
    if (bf16)
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) static_cast<uint16_t*>(out)[i * ldo + j] = float_to_bf16(y[i * n + j]);
}

}  // namespace llm

// C ABI for C#: the weights live outside libtorch (a QuantizedTensor's blocks), so this is a
// plain call rather than a dispatcher operator. out is [m, n] with row stride ldo (columns of a
// wider output: one part of a fused projection), x contiguous [m, k], float32 or (x_bf16 != 0)
// bfloat16 both. Returns 0, or -1 with llm_native_last_error() set.
LLM_EXPORT int llm_quantized_linear(void* out, int64_t ldo, const void* x, int x_bf16, int64_t m, int64_t k, const uint8_t* weight, int type, int64_t n) {
    llm_native_clear_error();
    try {
        llm::quantized_linear_cpu(out, ldo, x, x_bf16 != 0, m, k, weight, static_cast<llm::QuantType>(type), n);
        return 0;
    } catch (const std::exception&) {
        return -1;
    }
}
