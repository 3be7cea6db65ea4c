// 8-bit floats of an fp8 KV cache (--kv-cache-dtype fp8 / fp8_e4m3 / fp8_e5m2, as vLLM names
// them), in plain C++. Both formats as in libtorch (Float8_e4m3fn, Float8_e5m2) and OCP's spec:
//   e4m3fn  S EEEE MMM, bias 7: no infinities, S.1111.111 is NaN, largest finite 448, subnormals
//           M * 2^-9;
//   e5m2    S EEEEE MM, bias 15: the top byte of a float16 (infinities and NaNs included).
// Encoding rounds to nearest even and saturates (vLLM's per-tensor scale 1.0 without calibration,
// as CUDA's __NV_SATFINITE): a finite value or infinity beyond the largest finite becomes it, a
// NaN stays NaN (code 0x7f with its sign). Integer arithmetic only: no dependence on the FPU's
// rounding or flush modes. The vector kernels store and read the same bits (fp8_rows.cpp,
// attention_avx512.cpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>

#include "half.h"

namespace llm {

// An element of an fp8 cache row, one type per format so that kernels templated on the element
// type tell them apart.
struct Fp8E4M3 {
    uint8_t bits;
};
struct Fp8E5M2 {
    uint8_t bits;
};
static_assert(sizeof(Fp8E4M3) == 1 && sizeof(Fp8E5M2) == 1, "an fp8 element is its 8 bits");

inline float fp8_e4m3_to_float(uint8_t c) {
    const uint32_t e = (c >> 3) & 0xfu, m = c & 7u;
    float f;
    if (e == 15 && m == 7) {
        f = std::numeric_limits<float>::quiet_NaN();
    } else if (e == 0) {
        f = static_cast<float>(m) * 0x1p-9f;  // subnormal: exact
    } else {
        const uint32_t bits = ((e + 120u) << 23) | (m << 20);  // rebias 7 -> 127
        std::memcpy(&f, &bits, sizeof f);
    }
    return c & 0x80u ? -f : f;
}

inline float fp8_e5m2_to_float(uint8_t c) { return half_to_float(static_cast<uint16_t>(c << 8)); }

// Parameters of one 8-bit format: mantissa bits, exponent bias, largest finite code (sign-less).
template <int M, int Bias, uint32_t MaxFinite>
struct Fp8Format {
    static constexpr int kMantissa = M, kBias = Bias;
    static constexpr uint32_t kMaxFinite = MaxFinite, kNaN = 0x7f;
    static constexpr uint32_t kMinNormal = static_cast<uint32_t>(128 - Bias) << 23;  // float32 bits of 2^(1 - Bias)
    static constexpr float kSubnormalsPerUnit = static_cast<float>(1u << (Bias + M - 1));  // 1 / the subnormal step
};
using E4M3 = Fp8Format<3, 7, 0x7e>;
using E5M2 = Fp8Format<2, 15, 0x7b>;

template <typename F>
inline uint8_t float_to_fp8(float f) {
    uint32_t x;
    std::memcpy(&x, &f, sizeof x);
    const uint32_t sign = (x >> 24) & 0x80u, a = x & 0x7fffffffu;
    if (a > 0x7f800000u) return static_cast<uint8_t>(sign | F::kNaN);
    uint32_t code;
    if (a >= F::kMinNormal) {  // rebias and round the dropped bits (a carry may reach the exponent)
        constexpr int shift = 23 - F::kMantissa;
        const uint32_t r = a + ((1u << (shift - 1)) - 1) + ((a >> shift) & 1u);
        code = (r >> shift) - (static_cast<uint32_t>(127 - F::kBias) << F::kMantissa);
    } else {  // a subnormal (or zero): |f| in units of the subnormal step, rounded; it may carry into the first normal
        const int e = static_cast<int>(a >> 23);
        const int shift = (150 + 1 - F::kBias - F::kMantissa) - e;  // the significand's bits below one step
        if (e == 0 || shift > 25) return static_cast<uint8_t>(sign);  // below half a step
        const uint32_t m = (a & 0x7fffffu) | 0x800000u, halfway = 1u << (shift - 1);
        code = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1);
        if (rem > halfway || (rem == halfway && (code & 1u))) ++code;
    }
    return static_cast<uint8_t>(sign | (code > F::kMaxFinite ? F::kMaxFinite : code));
}

inline uint8_t float_to_fp8_e4m3(float f) { return float_to_fp8<E4M3>(f); }
inline uint8_t float_to_fp8_e5m2(float f) { return float_to_fp8<E5M2>(f); }

}  // namespace llm
