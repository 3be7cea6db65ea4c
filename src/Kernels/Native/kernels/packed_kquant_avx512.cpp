// AVX-512 VNNI kernel of the packed Q4_K linear (layout in packed_linear.h). The unpacked K-quant
// path decodes every super-block of every weight row into a buffer before its dot (scales one by
// one, nibbles to bytes), once per call: at one activation row that decoding is the work, and it
// streamed about 6 GB/s. Packed, the scales and mins are bytes ready to widen and the nibbles sit
// as the Q4_0 kernel reads them, so a decode step reads each weight byte once, 16 rows at a time.
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kquant_linear.h"
#include "packed_linear.h"

namespace llm::avx512 {

namespace {

constexpr int64_t kScalesAt = 64, kMinsAt = 64 + 128, kQuantsAt = 64 + 256;
constexpr int MR = 4;

inline __m512i broadcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

// 16 bytes (one per row) widened to 16 int32 lanes.
inline __m512i widen16(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(p))); }

// Outputs of activation rows [m0, m0 + M) for one group of 16 weight rows.
template <int M>
void group_tile(const PackedWeight& w, const uint8_t* group, const int8_t* q, const float* d, const int32_t* bsums, int64_t m0,
                float* out, int64_t ldo, int64_t col, __mmask16 valid) {
    const int64_t blocks = w.blocks, k = w.k;
    const __m512i low = _mm512_set1_epi8(0x0F), zero = _mm512_setzero_si512();
    __m512 acc[M];
    for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) {
        const uint8_t* sb = group + b * kQ4KPackedBytes;
        __m512i sumi[M], summ[M];
        for (int i = 0; i < M; ++i) sumi[i] = summ[i] = zero;
        for (int c = 0; c < 4; ++c) {
            // sub-blocks 2c (low nibbles) and 2c + 1 (high nibbles)
            const __m512i scale0 = widen16(sb + kScalesAt + 32 * c), scale1 = widen16(sb + kScalesAt + 32 * c + 16);
            const __m512i min0 = widen16(sb + kMinsAt + 32 * c), min1 = widen16(sb + kMinsAt + 32 * c + 16);
            const uint8_t* qc = sb + kQuantsAt + 512 * c;
            __m512i lo[8], hi[8];
            for (int t = 0; t < 8; ++t) {
                const __m512i v = _mm512_load_si512(qc + 64 * t);
                lo[t] = _mm512_and_si512(v, low);
                hi[t] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
            }
            for (int i = 0; i < M; ++i) {
                const int64_t row = m0 + i;
                const int8_t* xq = q + row * k + b * kSuperBlock + 64 * c;
                // Two chains per sub-block: the dot's latency stays off the critical path at one row.
                __m512i a0 = zero, a1 = zero, b0 = zero, b1 = zero;
                for (int t = 0; t < 8; t += 2) {
                    a0 = _mm512_dpbusd_epi32(a0, lo[t], broadcast4(xq + 4 * t));
                    a1 = _mm512_dpbusd_epi32(a1, lo[t + 1], broadcast4(xq + 4 * t + 4));
                    b0 = _mm512_dpbusd_epi32(b0, hi[t], broadcast4(xq + 32 + 4 * t));
                    b1 = _mm512_dpbusd_epi32(b1, hi[t + 1], broadcast4(xq + 32 + 4 * t + 4));
                }
                sumi[i] = _mm512_add_epi32(sumi[i], _mm512_add_epi32(_mm512_mullo_epi32(_mm512_add_epi32(a0, a1), scale0),
                                                                     _mm512_mullo_epi32(_mm512_add_epi32(b0, b1), scale1)));
                // Sums of 32 activation quants from Q8_K's sums of 16.
                const int32_t* bs = bsums + (row * blocks + b) * 16 + 4 * c;
                summ[i] = _mm512_add_epi32(summ[i], _mm512_add_epi32(_mm512_mullo_epi32(min0, _mm512_set1_epi32(bs[0] + bs[1])),
                                                                     _mm512_mullo_epi32(min1, _mm512_set1_epi32(bs[2] + bs[3]))));
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sb)));
        const __m512 dminw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sb + 32)));
        for (int i = 0; i < M; ++i) {
            const __m512 da = _mm512_set1_ps(d[(m0 + i) * blocks + b]);
            // As the unpacked kernels: d·da·Σ scale·dot − dmin·da·Σ min·sum, float only at the end.
            const __m512 scaled = _mm512_mul_ps(_mm512_mul_ps(dw, da), _mm512_cvtepi32_ps(sumi[i]));
            const __m512 mins = _mm512_mul_ps(_mm512_mul_ps(dminw, da), _mm512_cvtepi32_ps(summ[i]));
            acc[i] = _mm512_add_ps(acc[i], _mm512_sub_ps(scaled, mins));
        }
    }
    for (int i = 0; i < M; ++i) _mm512_mask_storeu_ps(out + (m0 + i) * ldo + col, valid, acc[i]);
}

}  // namespace

void pack_group_q4k(const uint8_t* weight, const PackedWeight& packed, int64_t group) {
    constexpr int Q4_K = 12;
    const int64_t block_bytes = kquant_block_bytes(Q4_K), row_bytes = packed.blocks * block_bytes;
    uint8_t* dst = packed.data + group * packed.group_bytes;
    std::memset(dst, 0, static_cast<size_t>(packed.group_bytes));
    KBlock unpacked;
    for (int r = 0; r < kPackRows; ++r) {
        const int64_t row = group * kPackRows + r;
        if (row >= packed.n) break;
        for (int64_t b = 0; b < packed.blocks; ++b) {
            const uint8_t* src = weight + row * row_bytes + b * block_bytes;
            uint8_t* sb = dst + b * kQ4KPackedBytes;
            std::memcpy(sb + 2 * r, src, 2);       // d
            std::memcpy(sb + 32 + 2 * r, src + 2, 2);  // dmin
            unpack_kblock(src, Q4_K, unpacked);
            for (int j = 0; j < 8; ++j) {
                sb[kScalesAt + 16 * j + r] = static_cast<uint8_t>(unpacked.scale16[2 * j]);
                sb[kMinsAt + 16 * j + r] = static_cast<uint8_t>(unpacked.min16[2 * j]);
            }
            const uint8_t* qs = src + 16;
            for (int c = 0; c < 4; ++c)
                for (int t = 0; t < 8; ++t) std::memcpy(sb + kQuantsAt + 512 * c + 64 * t + 4 * r, qs + 32 * c + 4 * t, 4);
        }
    }
}

void q4k_tiles(const PackedWeight& w, const int8_t* q, const float* d, const int32_t* bsums, int64_t m, int64_t g0, int64_t g1,
               float* out, int64_t ldo) {
    for (int64_t g = g0; g < g1; ++g) {
        const uint8_t* group = w.data + g * w.group_bytes;
        const int64_t col = g * kPackRows;
        const __mmask16 valid = static_cast<__mmask16>((1u << std::min<int64_t>(kPackRows, w.n - col)) - 1);
        for (int64_t m0 = 0; m0 < m; m0 += MR) {
            switch (std::min<int64_t>(MR, m - m0)) {
                case 1: group_tile<1>(w, group, q, d, bsums, m0, out, ldo, col, valid); break;
                case 2: group_tile<2>(w, group, q, d, bsums, m0, out, ldo, col, valid); break;
                case 3: group_tile<3>(w, group, q, d, bsums, m0, out, ldo, col, valid); break;
                default: group_tile<MR>(w, group, q, d, bsums, m0, out, ldo, col, valid); break;
            }
        }
    }
}

}  // namespace llm::avx512
