// AVX-512 VNNI tiles of the quantized linear. Each step takes a pair of 32-element blocks (64
// bytes, one zmm) of MR activation rows and NR weight rows; vpdpbusd multiplies unsigned by
// signed bytes and adds groups of 4 into 16 int32 lanes, so one side must be unsigned:
//   Q8_0:  activations stored as q + 128 (unsigned) x weights (signed); each lane starts from
//          -128 * (sum of its 4 weights), computed once per weight load.
//   Q4_0:  weight nibbles 0..15 (unsigned) x activations (signed); each lane starts from
//          -8 * (sum of its 4 activations), computed once per call.
// The lanes are then converted to float and scaled by d_weight * d_activation of their block.
//
//   Q8_0 zmm: [ block b: 32 bytes        | block b+1: 32 bytes       ]   scales [db x8 | db1 x8]
//   Q4_0 zmm: [ b lo | b+1 lo | b hi | b+1 hi ]  (16 bytes each: elements 0-15, 16-31 of a block)
//             scales [db x4 | db1 x4 | db x4 | db1 x4]
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "quantized_linear.h"

namespace llm::avx512 {

namespace {

constexpr int MR = 4;
constexpr int NR = 4;

inline float half_at(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, sizeof h);
    return _cvtsh_ss(h);
}

template <QuantType T>
constexpr int64_t block_bytes() { return T == QuantType::Q8_0 ? 34 : 18; }

// [a x8 | b x8] for Q8_0, [a x4 | b x4 | a x4 | b x4] for Q4_0.
template <QuantType T>
inline __m512 pair_scales(float a, float b) {
    if constexpr (T == QuantType::Q8_0)
        return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(a)), _mm256_set1_ps(b), 1);
    __m256 half = _mm256_set_m128(_mm_set1_ps(b), _mm_set1_ps(a));
    return _mm512_insertf32x8(_mm512_castps256_ps512(half), half, 1);
}

// Blocks 2p and 2p + 1 (absent when !second) of a weight row, in the layout above, with their scales.
template <QuantType T>
inline __m512i load_weights(const uint8_t* row, int64_t p, bool second, __m512& scales) {
    const uint8_t* b0 = row + 2 * p * block_bytes<T>();
    const uint8_t* b1 = b0 + block_bytes<T>();
    scales = pair_scales<T>(half_at(b0), second ? half_at(b1) : 0.0f);
    if constexpr (T == QuantType::Q8_0) {
        __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0 + 2));
        __m256i hi = second ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b1 + 2)) : _mm256_setzero_si256();
        return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b0 + 2));
    __m128i q1 = second ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(b1 + 2)) : _mm_setzero_si128();
    __m256i both = _mm256_set_m128i(q1, q0), mask = _mm256_set1_epi8(0x0F);
    __m256i low = _mm256_and_si256(both, mask), high = _mm256_and_si256(_mm256_srli_epi16(both, 4), mask);
    return _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
}

template <QuantType T, int M>
void tile(const QuantizedActivations& a, int64_t m0, const uint8_t* weight, int64_t row_bytes, int64_t blocks, int64_t r0, int nr,
          float* out, int64_t n) {
    const uint8_t* rows[NR];
    for (int j = 0; j < NR; ++j) rows[j] = weight + (r0 + std::min(j, nr - 1)) * row_bytes;
    const int8_t* xq = a.q + m0 * a.pairs * 64;
    const float* xs = a.scale + m0 * a.pairs * 16;
    const int32_t* xb = T == QuantType::Q4_0 ? a.bias + m0 * a.pairs * 16 : nullptr;
    __m512 acc[M][NR];
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
    const __m512i offset = _mm512_set1_epi8(static_cast<char>(0x80)), zero = _mm512_setzero_si512();
    for (int64_t p = 0; p < a.pairs; ++p) {
        const bool second = 2 * p + 1 < blocks;
        __m512i w[NR], start[NR];
        __m512 dw[NR];
        for (int j = 0; j < NR; ++j) {
            w[j] = load_weights<T>(rows[j], p, second, dw[j]);
            if constexpr (T == QuantType::Q8_0) start[j] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, offset, w[j]));
        }
        for (int i = 0; i < M; ++i) {
            __m512i x = _mm512_loadu_si512(xq + (i * a.pairs + p) * 64);
            __m512 dx = _mm512_loadu_ps(xs + (i * a.pairs + p) * 16);
            __m512i xbias = T == QuantType::Q4_0 ? _mm512_loadu_si512(xb + (i * a.pairs + p) * 16) : zero;
            for (int j = 0; j < NR; ++j) {
                __m512i dot = T == QuantType::Q8_0 ? _mm512_dpbusd_epi32(start[j], x, w[j]) : _mm512_dpbusd_epi32(xbias, w[j], x);
                acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dx, dw[j]), acc[i][j]);
            }
        }
    }
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < nr; ++j) out[(m0 + i) * n + r0 + j] = _mm512_reduce_add_ps(acc[i][j]);
}

template <QuantType T>
void tiles(const QuantizedActivations& a, int64_t m0, int64_t m1, const uint8_t* weight, int64_t k, int64_t n0, int64_t n1, float* out, int64_t n) {
    const int64_t blocks = k / kQuantBlock, row_bytes = blocks * block_bytes<T>();
    // Weight rows outer: NR rows stay in L1 while every activation row passes over them.
    for (int64_t r = n0; r < n1; r += NR) {
        const int nr = static_cast<int>(std::min<int64_t>(NR, n1 - r));
        for (int64_t m = m0; m < m1; m += MR) {
            switch (std::min<int64_t>(MR, m1 - m)) {
                case 1: tile<T, 1>(a, m, weight, row_bytes, blocks, r, nr, out, n); break;
                case 2: tile<T, 2>(a, m, weight, row_bytes, blocks, r, nr, out, n); break;
                case 3: tile<T, 3>(a, m, weight, row_bytes, blocks, r, nr, out, n); break;
                default: tile<T, MR>(a, m, weight, row_bytes, blocks, r, nr, out, n); break;
            }
        }
    }
}

inline __m512 load16(const void* x, bool bf16, int64_t i) {
    if (!bf16) return _mm512_loadu_ps(static_cast<const float*>(x) + i);
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(x) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

}  // namespace

void quantize_activations(const void* x, bool bf16, int64_t k, QuantType type, int64_t r0, int64_t r1, int8_t* q, float* scale, int32_t* bias) {
    const int64_t blocks = k / kQuantBlock, pairs = (blocks + 1) / 2;
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t row = r * k;
        int8_t* rq = q + r * pairs * 64;
        float* rs = scale + r * pairs * 16;
        for (int64_t b = 0; b < 2 * pairs; ++b) {
            const int64_t p = b / 2, half = b % 2;
            float d = 0;
            __m128i lo = _mm_setzero_si128(), hi = _mm_setzero_si128();
            if (b < blocks) {
                __m512 v0 = load16(x, bf16, row + b * 32), v1 = load16(x, bf16, row + b * 32 + 16);
                float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1)));
                // As llama.cpp's x86 quantize_row_q8_0: q = round-to-nearest-even(x * 127 / amax), d = amax / 127 in float16.
                __m512 id = _mm512_set1_ps(amax != 0 ? 127.0f / amax : 0.0f);
                d = _cvtsh_ss(_cvtss_sh(amax / 127.0f, _MM_FROUND_TO_NEAREST_INT));
                lo = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v0, id)));
                hi = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v1, id)));
            }
            int8_t* pq = rq + p * 64;
            float* ps = rs + p * 16;
            if (type == QuantType::Q8_0) {
                const __m128i offset = _mm_set1_epi8(static_cast<char>(0x80));
                _mm_storeu_si128(reinterpret_cast<__m128i*>(pq + half * 32), _mm_xor_si128(lo, offset));
                _mm_storeu_si128(reinterpret_cast<__m128i*>(pq + half * 32 + 16), _mm_xor_si128(hi, offset));
                for (int l = 0; l < 8; ++l) ps[half * 8 + l] = d;
            } else {
                _mm_storeu_si128(reinterpret_cast<__m128i*>(pq + half * 16), lo);
                _mm_storeu_si128(reinterpret_cast<__m128i*>(pq + half * 16 + 32), hi);
                for (int l = 0; l < 4; ++l) ps[half * 4 + l] = ps[half * 4 + 8 + l] = d;
            }
        }
        if (type == QuantType::Q4_0)
            for (int64_t p = 0; p < pairs; ++p) {
                __m512i v = _mm512_loadu_si512(rq + p * 64);
                __m512i sum8 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), v);
                _mm512_storeu_si512(bias + (r * pairs + p) * 16, _mm512_sub_epi32(_mm512_setzero_si512(), sum8));
            }
    }
}

void quantized_tiles(const QuantizedActivations& a, int64_t m0, int64_t m1, const uint8_t* weight, QuantType type, int64_t k,
                     int64_t n0, int64_t n1, float* out, int64_t n) {
    if (type == QuantType::Q8_0) tiles<QuantType::Q8_0>(a, m0, m1, weight, k, n0, n1, out, n);
    else tiles<QuantType::Q4_0>(a, m0, m1, weight, k, n0, n1, out, n);
}

}  // namespace llm::avx512
