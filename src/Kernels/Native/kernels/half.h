// IEEE float16 stored little-endian at p (ggml's block scales), to float, without F16C.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace llm {

inline float half_to_float(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, sizeof h);
    const uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ffu;
    const float value = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -24)
                        : exponent == 31 ? (mantissa ? NAN : INFINITY)
                                         : std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
    return (h & 0x8000u) ? -value : value;
}

}  // namespace llm
