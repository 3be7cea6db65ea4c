// AVX-512 VNNI kernels of the packed Q8_0 / Q4_0 linear (layout in packed_linear.h).
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "packed_avx512.h"
#include "packed_linear.h"

namespace llm::avx512 {

namespace {

// Blocks of 32 (Q8_0, Q4_0): tile<M> gives rows [m0, m0 + M) of x for one group of 16 weight rows (the first
// `valid` stored).
template <QuantType T>
struct Blocks {
    template <int M>
    static void tile(const PackedWeight& w, const uint8_t* group, const int8_t* q, const float* d, const int32_t* bias, int64_t m0,
                     float* out, int64_t ldo, int64_t col, __mmask16 valid, Fetch fetch) {
        constexpr int64_t quant_bytes = block_quant_bytes(T), pair_bytes = block_pair_bytes(T);
        const int64_t blocks = w.blocks, k = w.k;
        __m512 acc[M];
        for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
        for (int64_t b = 0; b < blocks; ++b) {
            const uint8_t* pair = group + (b >> 1) * pair_bytes;
            if ((b & 1) == 0) prefetch_ahead(pair, pair_bytes, fetch);
            const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(pair + 32 * (b & 1))));
            const uint8_t* qb = pair + 64 + (b & 1) * quant_bytes;
            __m512i wq[8];
            block_quants<T>(qb, wq);
            for (int i = 0; i < M; ++i) {
                const int64_t row = m0 + i;
                const int8_t* xq = q + row * k + b * 32;
                // Two chains of four: the dot's latency stays off the critical path at one row.
                __m512i s0 = _mm512_set1_epi32(bias[row * blocks + b]), s1 = _mm512_setzero_si512();
                for (int t = 0; t < 8; t += 2) {
                    s0 = _mm512_dpbusd_epi32(s0, wq[t], broadcast4(xq + 4 * t));
                    s1 = _mm512_dpbusd_epi32(s1, wq[t + 1], broadcast4(xq + 4 * t + 4));
                }
                const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(d[row * blocks + b]));
                acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), scale, acc[i]);
            }
        }
        for (int i = 0; i < M; ++i) _mm512_mask_storeu_ps(out + (m0 + i) * ldo + col, valid, acc[i]);
    }
};

inline __m512 load16(const void* x, bool bf16, int64_t i) {
    if (!bf16) return _mm512_loadu_ps(static_cast<const float*>(x) + i);
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(x) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

}  // namespace

void pack_group(const uint8_t* weight, const PackedWeight& packed, int64_t group) {
    const bool q8 = packed.type == QuantType::Q8_0;
    const int64_t src_block = q8 ? 34 : 18, row_bytes = packed.blocks * src_block, qbytes = block_quant_bytes(packed.type),
                  pair_bytes = block_pair_bytes(packed.type);
    uint8_t* dst = packed.data + group * packed.group_bytes;
    std::memset(dst, 0, static_cast<size_t>(packed.group_bytes));
    for (int r = 0; r < kPackRows; ++r) {
        const int64_t row = group * kPackRows + r;
        if (row >= packed.n) break;
        for (int64_t b = 0; b < packed.blocks; ++b) {
            const uint8_t* src = weight + row * row_bytes + b * src_block;
            uint8_t* pair = dst + (b >> 1) * pair_bytes;
            std::memcpy(pair + 32 * (b & 1) + 2 * r, src, 2);
            uint8_t* qb = pair + 64 + (b & 1) * qbytes;
            for (int t = 0; t < (q8 ? 8 : 4); ++t)
                for (int e = 0; e < 4; ++e) qb[64 * t + 4 * r + e] = q8 ? static_cast<uint8_t>(src[2 + 4 * t + e] ^ 0x80) : src[2 + 4 * t + e];
        }
    }
}

void quantize_row_q8(const void* x, bool bf16, int64_t k, int64_t r, int32_t offset, int8_t* q, int64_t q_step, float* d, int32_t* bias,
                     int64_t d_step) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int64_t b = 0; b < k / kQuantBlock; ++b, q += q_step, d += d_step, bias += d_step) {
        const int64_t at = r * k + b * kQuantBlock;
        const __m512 v0 = load16(x, bf16, at), v1 = load16(x, bf16, at + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1)));
        // As llama.cpp's x86 quantize_row_q8_0: q = round-to-nearest-even(x * 127 / amax), d = amax / 127 in float16.
        const __m512 id = _mm512_set1_ps(amax != 0 ? 127.0f / amax : 0.0f);
        const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id)), i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(i0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtsepi32_epi8(i1));
        *d = _cvtsh_ss(_cvtss_sh(amax / 127.0f, _MM_FROUND_TO_NEAREST_INT));
        *bias = -offset * _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    }
}

void packed_tiles(const PackedWeight& w, const int8_t* q, const float* d, const int32_t* bias, int64_t m, int64_t g0, int64_t g1,
                  float* out, int64_t ldo) {
    if (w.type == QuantType::Q8_0) for_tiles<Blocks<QuantType::Q8_0>>(w, q, d, bias, m, g0, g1, out, ldo);
    else if (w.type == QuantType::Q4_0) for_tiles<Blocks<QuantType::Q4_0>>(w, q, d, bias, m, g0, g1, out, ldo);
    else kquant_tiles(w, q, d, bias, m, g0, g1, out, ldo);
}

}  // namespace llm::avx512
