// IEEE float16 <-> float32 in plain C++, bit for bit as the F16C / AVX-512 instructions convert
// (vcvtph2ps, vcvtps2ph with _MM_FROUND_TO_NEAREST_INT), so that the scalar kernels and the
// vector ones store and read the same values: float16 -> float32 is exact; float32 -> float16
// rounds to nearest even, overflows to infinity, and keeps a NaN a NaN (quiet, the top of its
// payload kept). Integer arithmetic only: no dependence on the FPU's rounding or flush modes.
#pragma once

#include <cstdint>
#include <cstring>

namespace llm {

// A float16 element of a cache row: its bits, as a type of its own so that kernels templated on
// the element type tell it from bfloat16 (which they hold as plain uint16_t).
struct Half {
    uint16_t bits;
};
static_assert(sizeof(Half) == 2, "a Half is its 16 bits");

inline float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16, rest = h & 0x7fffu;
    if (rest < 0x400u) {  // zero or subnormal: rest * 2^-24, exact in float32
        const float f = static_cast<float>(rest) * 0x1p-24f;
        return sign ? -f : f;
    }
    // Normal: rebias the exponent (15 -> 127). Infinity and NaN keep an all-ones exponent; a
    // NaN comes out quiet, as vcvtph2ps makes it.
    const uint32_t bits = sign | (rest >= 0x7c00u ? 0x7f800000u | ((rest & 0x3ffu) << 13) | (rest > 0x7c00u ? 0x400000u : 0u)
                                                  : (rest << 13) + 0x38000000u);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// Stored little-endian at p (ggml's block scales).
inline float half_to_float(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, sizeof h);
    return half_to_float(h);
}

inline uint16_t float_to_half(float f) {
    uint32_t x;
    std::memcpy(&x, &f, sizeof x);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    const uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN
    if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // 65520 and up (and infinity) round to infinity
    if (a >= 0x38800000u) {  // 2^-14 and up: a normal float16; rebias (127 -> 15), round the 13 dropped bits
        uint32_t r = a - 0x38000000u;
        r += 0xfffu + ((r >> 13) & 1u);
        return static_cast<uint16_t>(sign | (r >> 13));
    }
    if (a <= 0x33000000u) return sign;  // 2^-25 and below: 0 (2^-25 itself ties to the even 0)
    // A subnormal float16: the significand in units of 2^-24, rounded (it may carry into 2^-14).
    const uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, shift = 126 - e;  // shift in 14..24
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1u))) ++q;
    return static_cast<uint16_t>(sign | q);
}

}  // namespace llm
