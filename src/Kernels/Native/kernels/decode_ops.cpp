#include "decode_ops.h"

#include <cmath>
#include <exception>

#include "bf16.h"
#include "errors.h"
#include "isa.h"
#include "thread_pool.h"

namespace llm {

namespace {

inline float load(const void* p, bool bf16, int64_t i) {
    return bf16 ? bf16_to_float(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}

inline void store(void* p, bool bf16, int64_t i, float v) {
    if (bf16) static_cast<uint16_t*>(p)[i] = float_to_bf16(v);
    else static_cast<float*>(p)[i] = v;
}

// What a value becomes once stored in the dtype.
inline float rounded(float v, bool bf16) { return bf16 ? bf16_to_float(float_to_bf16(v)) : v; }

// Eight partial sums: the compiler keeps them in vector lanes.
float sum_of_squares(const void* x, bool bf16, int64_t d) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= d; j += 8)
        for (int t = 0; t < 8; ++t) {
            float v = load(x, bf16, j + t);
            s[t] += v * v;
        }
    for (; j < d; ++j) {
        float v = load(x, bf16, j);
        s[j % 8] += v * v;
    }
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// Rows split over the pool once there are enough of them to pay for waking it.
template <typename F>
void for_rows(int64_t rows, int64_t row_elements, F&& f) {
    if (rows < 2 || rows * row_elements < (1 << 15)) {
        f(0, rows);
        return;
    }
    auto body = [&](int r) { f(r, r + 1); };
    ThreadPool::instance().for_each(static_cast<int>(rows), body);
}

}  // namespace

void rms_norm_rows(void* out, void* x, const void* residual, const void* weight, bool bf16, int64_t d, float eps,
                   bool unit_offset, int64_t r0, int64_t r1) {
    const int64_t es = bf16 ? 2 : 4;
    const bool vector = selected_isa() == Isa::Avx512;
    for (int64_t r = r0; r < r1; ++r) {
        void* xr = static_cast<char*>(x) + r * d * es;
        void* orow = static_cast<char*>(out) + r * d * es;
        if (vector) {
            avx512::rms_norm_row(orow, xr, residual ? static_cast<const char*>(residual) + r * d * es : nullptr, weight, bf16, d, eps, unit_offset);
            continue;
        }
        if (residual) {
            const void* rr = static_cast<const char*>(residual) + r * d * es;
            for (int64_t j = 0; j < d; ++j) store(xr, bf16, j, load(xr, bf16, j) + load(rr, bf16, j));
        }
        const float scale = 1.0f / std::sqrt(sum_of_squares(xr, bf16, d) / static_cast<float>(d) + eps);
        for (int64_t j = 0; j < d; ++j) {
            const float normed = load(xr, bf16, j) * scale, w = load(weight, bf16, j);
            store(orow, bf16, j, unit_offset ? normed * (w + 1.0f) : rounded(normed, bf16) * w);
        }
    }
}

void silu_mul_rows(void* out, const void* gate_up, bool bf16, int64_t h, int64_t r0, int64_t r1) {
    const int64_t es = bf16 ? 2 : 4;
    const bool vector = selected_isa() == Isa::Avx512;
    for (int64_t r = r0; r < r1; ++r) {
        const void* g = static_cast<const char*>(gate_up) + r * 2 * h * es;
        void* o = static_cast<char*>(out) + r * h * es;
        if (vector) {
            avx512::silu_mul_row(o, g, bf16, h);
            continue;
        }
        const void* u = static_cast<const char*>(g) + h * es;
        for (int64_t j = 0; j < h; ++j) {
            const float v = load(g, bf16, j);
            store(o, bf16, j, rounded(v / (1.0f + std::exp(-v)), bf16) * load(u, bf16, j));
        }
    }
}

void rotary_rows(void* x, bool bf16, int64_t stride, int64_t heads, int64_t head_size, int64_t half, const float* cos,
                 const float* sin, bool interleaved, int64_t r0, int64_t r1) {
    const int64_t es = bf16 ? 2 : 4;
    // Each product and sum is rounded on its own (this file is built without contraction into
    // fused multiply-adds), as libtorch's separate multiplications and additions round them.
    const bool vector = selected_isa() == Isa::Avx512 && !interleaved;
    for (int64_t r = r0; r < r1; ++r) {
        const float* c = cos + r * half;
        const float* s = sin + r * half;
        if (vector) {
            avx512::rotary_half_split_row(static_cast<char*>(x) + r * stride * es, bf16, heads, head_size, half, c, s);
            continue;
        }
        for (int64_t head = 0; head < heads; ++head) {
            void* p = static_cast<char*>(x) + (r * stride + head * head_size) * es;
            for (int64_t i = 0; i < half; ++i) {
                const int64_t a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
                const float xa = load(p, bf16, a), xb = load(p, bf16, b);
                const float ac = xa * c[i], bs = xb * s[i], bc = xb * c[i], as = xa * s[i];
                store(p, bf16, a, ac - bs);
                store(p, bf16, b, bc + as);
            }
        }
    }
}

void rms_norm(void* out, void* x, const void* residual, const void* weight, bool bf16, int64_t rows, int64_t d, float eps,
              bool unit_offset) {
    for_rows(rows, d, [&](int64_t r0, int64_t r1) { rms_norm_rows(out, x, residual, weight, bf16, d, eps, unit_offset, r0, r1); });
}

void silu_mul(void* out, const void* gate_up, bool bf16, int64_t rows, int64_t h) {
    for_rows(rows, h, [&](int64_t r0, int64_t r1) { silu_mul_rows(out, gate_up, bf16, h, r0, r1); });
}

void rotary(void* x, bool bf16, int64_t rows, int64_t stride, int64_t heads, int64_t head_size, int64_t half, const float* cos,
            const float* sin, bool interleaved) {
    for_rows(rows, heads * head_size, [&](int64_t r0, int64_t r1) {
        rotary_rows(x, bf16, stride, heads, head_size, half, cos, sin, interleaved, r0, r1);
    });
}

}  // namespace llm

// C ABI for C#: contiguous CPU rows, float32 (bf16 = 0) or bfloat16 (bf16 = 1). Each returns
// 0, or -1 with the reason in llm_native_last_error().
LLM_EXPORT int llm_rms_norm(void* out, void* x, const void* residual, const void* weight, int bf16, int64_t rows, int64_t d,
                            double eps, int unit_offset) {
    llm_native_clear_error();
    try {
        llm::check(rows >= 0 && d >= 1, "rms_norm: bad shape [", rows, ", ", d, "]");
        llm::rms_norm(out, x, residual, weight, bf16 != 0, rows, d, static_cast<float>(eps), unit_offset != 0);
        return 0;
    } catch (const std::exception&) {
        return -1;
    }
}

LLM_EXPORT int llm_silu_mul(void* out, const void* gate_up, int bf16, int64_t rows, int64_t h) {
    llm_native_clear_error();
    try {
        llm::check(rows >= 0 && h >= 1, "silu_mul: bad shape [", rows, ", ", 2 * h, "]");
        llm::silu_mul(out, gate_up, bf16 != 0, rows, h);
        return 0;
    } catch (const std::exception&) {
        return -1;
    }
}

LLM_EXPORT int llm_rotary(void* x, int bf16, int64_t rows, int64_t stride, int64_t heads, int64_t head_size, int64_t half,
                          const float* cos, const float* sin, int interleaved) {
    llm_native_clear_error();
    try {
        llm::check(rows >= 0 && heads >= 1 && half >= 1 && 2 * half <= head_size && heads * head_size <= stride,
                   "rotary: ", heads, " heads of ", head_size, " (", 2 * half, " rotated) do not fit rows of ", stride);
        llm::rotary(x, bf16 != 0, rows, stride, heads, head_size, half, cos, sin, interleaved != 0);
        return 0;
    } catch (const std::exception&) {
        return -1;
    }
}
