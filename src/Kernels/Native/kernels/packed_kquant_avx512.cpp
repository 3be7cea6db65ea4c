// AVX-512 VNNI kernel of the packed K-quant linear (Q4_K, Q5_K, Q6_K; layout in packed_linear.h). The
// unpacked K-quant path decodes every super-block of every weight row into a buffer before its dot
// (scales one by one, quants to bytes), once per call: at one activation row that decoding is the
// work, and it streamed about 3-6 GB/s. Packed, the scales and mins are bytes ready to widen and the
// quants sit 16 rows to a zmm, so a decode step reads each weight byte once, 16 rows at a time, and
// turns it into unsigned quants with a mask (and for Q5_K / Q6_K a shift and an or per zmm).
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>

#include <cstring>

#include "kquant_linear.h"
#include "packed_avx512.h"
#include "packed_linear.h"

namespace llm::avx512 {

namespace {

// The unsigned quants of a chunk of 64 elements of the group's rows: zmm t, lane r = row r's elements
// 4t..4t+3 of the chunk.
template <QuantType T>
inline void chunk_quants(const uint8_t* chunk, __m512i wq[16]) {
    for (int t = 0; t < 16; ++t) wq[t] = chunk_zmm<T>(chunk, t);
}

// Super-blocks of 256 (K-quants): tile<M> gives activation rows [m0, m0 + M) for one group of 16 weight rows.
template <QuantType T>
struct Super {
    template <int M>
    static void tile(const PackedWeight& w, const uint8_t* group, const int8_t* q, const float* d, const int32_t* bsums, int64_t m0,
                     float* out, int64_t ldo, int64_t col, __mmask16 valid, Fetch fetch) {
        using L = KLayout<T>;
        constexpr int subs_per_chunk = L::subs / 4, zmm_per_sub = 16 / subs_per_chunk, sums_per_sub = 16 / L::subs;
        const int64_t blocks = w.blocks, k = w.k;
        const __m512i zero = _mm512_setzero_si512();
        __m512 acc[M];
        for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
        for (int64_t b = 0; b < blocks; ++b) {
            const uint8_t* sb = group + b * L::bytes;
            prefetch_ahead(sb, L::bytes, fetch);
            __m512i sumi[M], summ[M];
            for (int i = 0; i < M; ++i) sumi[i] = summ[i] = zero;
            for (int c = 0; c < 4; ++c) {
                __m512i wq[16];
                chunk_quants<T>(sb + L::quants_at + c * L::chunk_bytes, wq);
                for (int j = 0; j < subs_per_chunk; ++j) {
                    const int s = subs_per_chunk * c + j;
                    const __m512i scale = widen16(sb + L::scales_at + 16 * s);
                    const __m512i min = L::mins ? widen16(sb + L::mins_at + 16 * s) : scale;
                    const __m512i* wj = wq + zmm_per_sub * j;
                    for (int i = 0; i < M; ++i) {
                        const int64_t row = m0 + i;
                        const int8_t* xq = q + row * k + b * kSuperBlock + 64 * c + 4 * zmm_per_sub * j;
                        // Two chains: the dot's latency stays off the critical path at one row.
                        __m512i a0 = zero, a1 = zero;
                        for (int t = 0; t < zmm_per_sub; t += 2) {
                            a0 = _mm512_dpbusd_epi32(a0, wj[t], broadcast4(xq + 4 * t));
                            a1 = _mm512_dpbusd_epi32(a1, wj[t + 1], broadcast4(xq + 4 * t + 4));
                        }
                        sumi[i] = _mm512_add_epi32(sumi[i], _mm512_mullo_epi32(_mm512_add_epi32(a0, a1), scale));
                        // The sub-block's sum of activation quants from Q8_K's sums of 16.
                        const int32_t* bs = bsums + (row * blocks + b) * 16 + sums_per_sub * s;
                        const int32_t sum = sums_per_sub == 2 ? bs[0] + bs[1] : bs[0];
                        summ[i] = _mm512_add_epi32(summ[i], _mm512_mullo_epi32(min, _mm512_set1_epi32(sum)));
                    }
                }
            }
            const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sb)));
            const __m512 dminw = L::mins ? _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sb + 32))) : dw;
            for (int i = 0; i < M; ++i) {
                // Q6_K's quants are stored + 32: its mins are 32 · scale (kquant_linear.h), the same integers.
                if constexpr (!L::mins) summ[i] = _mm512_slli_epi32(summ[i], 5);
                const __m512 da = _mm512_set1_ps(d[(m0 + i) * blocks + b]);
                // As the unpacked kernels: d·da·Σ scale·dot − dmin·da·Σ min·sum, float only at the end.
                const __m512 scaled = _mm512_mul_ps(_mm512_mul_ps(dw, da), _mm512_cvtepi32_ps(sumi[i]));
                const __m512 mins = _mm512_mul_ps(_mm512_mul_ps(dminw, da), _mm512_cvtepi32_ps(summ[i]));
                acc[i] = _mm512_add_ps(acc[i], _mm512_sub_ps(scaled, mins));
            }
        }
        for (int i = 0; i < M; ++i) _mm512_mask_storeu_ps(out + (m0 + i) * ldo + col, valid, acc[i]);
    }
};

template <QuantType T>
void pack_records(const uint8_t* weight, const PackedWeight& packed, int64_t group) {
    using L = KLayout<T>;
    constexpr int type = static_cast<int>(T), highs = 2 * L::bits, per_sub = 16 / L::subs;
    constexpr int64_t d_at = T == QuantType::Q6_K ? 208 : 0;  // Q4_K, Q5_K: d then dmin
    const int64_t block_bytes = kquant_block_bytes(type), row_bytes = packed.blocks * block_bytes;
    uint8_t* dst = packed.data + group * packed.group_bytes;
    std::memset(dst, 0, static_cast<size_t>(packed.group_bytes));
    KBlock unpacked;
    for (int r = 0; r < kPackRows; ++r) {
        const int64_t row = group * kPackRows + r;
        if (row >= packed.n) break;
        for (int64_t b = 0; b < packed.blocks; ++b) {
            const uint8_t* src = weight + row * row_bytes + b * block_bytes;
            uint8_t* sb = dst + b * L::bytes;
            std::memcpy(sb + 2 * r, src + d_at, 2);
            if (L::mins) std::memcpy(sb + 32 + 2 * r, src + 2, 2);
            unpack_kblock(src, type, unpacked);
            for (int s = 0; s < L::subs; ++s) {
                sb[L::scales_at + 16 * s + r] = static_cast<uint8_t>(unpacked.scale16[per_sub * s]);
                if (L::mins) sb[L::mins_at + 16 * s + r] = static_cast<uint8_t>(unpacked.min16[per_sub * s]);
            }
            for (int c = 0; c < 4; ++c) {
                uint8_t* chunk = sb + L::quants_at + c * L::chunk_bytes;
                for (int t = 0; t < 16; ++t)
                    for (int e = 0; e < 4; ++e) {
                        const uint8_t v = unpacked.q[64 * c + 4 * t + e];
                        chunk[64 * (t % 8) + 4 * r + e] |= static_cast<uint8_t>((v & 0xF) << (t < 8 ? 0 : 4));
                        if (highs) chunk[512 + 64 * (t % highs) + 4 * r + e] |= static_cast<uint8_t>((v >> 4) << (L::bits * (t / highs)));
                    }
            }
        }
    }
}

}  // namespace

void pack_group_kquant(const uint8_t* weight, const PackedWeight& packed, int64_t group) {
    if (packed.type == QuantType::Q4_K) pack_records<QuantType::Q4_K>(weight, packed, group);
    else if (packed.type == QuantType::Q5_K) pack_records<QuantType::Q5_K>(weight, packed, group);
    else pack_records<QuantType::Q6_K>(weight, packed, group);
}

void kquant_tiles(const PackedWeight& w, const int8_t* q, const float* d, const int32_t* bsums, int64_t m, int64_t g0, int64_t g1,
                  float* out, int64_t ldo) {
    if (w.type == QuantType::Q4_K) for_tiles<Super<QuantType::Q4_K>>(w, q, d, bsums, m, g0, g1, out, ldo);
    else if (w.type == QuantType::Q5_K) for_tiles<Super<QuantType::Q5_K>>(w, q, d, bsums, m, g0, g1, out, ldo);
    else for_tiles<Super<QuantType::Q6_K>>(w, q, d, bsums, m, g0, g1, out, ldo);
}

}  // namespace llm::avx512
