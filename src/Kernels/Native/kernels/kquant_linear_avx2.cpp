// AVX2 parts of the K-quant linear: unpacking a super-block's quants with 256-bit shifts and masks
// (16-bit lane shifts of at most 4 bits, so the masked bits never cross a byte), and the dot of one
// unpacked super-block with activation rows: maddubs (unsigned quants x signed activations, pairs
// summed into int16: at most 2 x 63 x 127, no saturation) then madd with ones into 8 int32 lanes of
// 4 consecutive elements each, times each lane's integer scale.
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "kquant_linear.h"

namespace llm::avx2 {

namespace {

inline __m256i load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void store(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

inline int32_t sum8(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

}  // namespace

void unpack_quants(const uint8_t* block, int type, KBlock& out) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10), bits45 = _mm256_set1_epi8(0x30);
    if (type == 14) {  // Q6_K
        for (int half = 0; half < 2; ++half) {
            const __m256i lo = load(block + 64 * half), hi = load(block + 64 * half + 32), h = load(block + 128 + 32 * half);
            uint8_t* q = out.q + 128 * half;
            store(q, _mm256_or_si256(_mm256_and_si256(lo, low4), _mm256_and_si256(_mm256_slli_epi16(h, 4), bits45)));
            store(q + 32, _mm256_or_si256(_mm256_and_si256(hi, low4), _mm256_and_si256(_mm256_slli_epi16(h, 2), bits45)));
            store(q + 64, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lo, 4), low4), _mm256_and_si256(h, bits45)));
            store(q + 96, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(hi, 4), low4), _mm256_and_si256(_mm256_srli_epi16(h, 2), bits45)));
        }
        return;
    }
    const bool q5 = type == 13;
    const uint8_t* qs = block + (q5 ? 48 : 16);
    const __m256i qh = q5 ? load(block + 16) : _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
        const __m256i bytes = load(qs + 32 * c);
        __m256i first = _mm256_and_si256(bytes, low4), second = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
        if (q5) {
            // bit 2c of qh to bit 4 of the first 32, bit 2c + 1 to bit 4 of the second
            const __m256i h0 = c < 3 ? _mm256_slli_epi16(qh, 4 - 2 * c) : _mm256_srli_epi16(qh, 2);
            const __m256i h1 = c < 2 ? _mm256_slli_epi16(qh, 3 - 2 * c) : _mm256_srli_epi16(qh, 2 * c - 3);
            first = _mm256_or_si256(first, _mm256_and_si256(h0, bit4));
            second = _mm256_or_si256(second, _mm256_and_si256(h1, bit4));
        }
        store(out.q + 64 * c, first);
        store(out.q + 64 * c + 32, second);
    }
}

void kblock_dot(const KBlock& w, const Q8KActivations& a, int64_t i0, int count, int64_t b, float* acc) {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i mins = load(w.min16), mins_hi = load(w.min16 + 8);
    for (int i = 0; i < count; ++i) {
        const int64_t row = i0 + i;
        const int8_t* q = a.q + (row * a.blocks + b) * kSuperBlock;
        const int32_t* bsums = a.bsums + (row * a.blocks + b) * 16;
        __m256i dot = _mm256_setzero_si256();
        for (int t = 0; t < 8; ++t) {
            // lanes of 4 elements: 32t + 4l, scale of the 16 it falls in
            const __m256i scale = _mm256_setr_epi32(w.scale16[2 * t], w.scale16[2 * t], w.scale16[2 * t], w.scale16[2 * t],
                                                    w.scale16[2 * t + 1], w.scale16[2 * t + 1], w.scale16[2 * t + 1], w.scale16[2 * t + 1]);
            const __m256i products = _mm256_madd_epi16(_mm256_maddubs_epi16(load(w.q + 32 * t), load(q + 32 * t)), ones);
            dot = _mm256_add_epi32(dot, _mm256_mullo_epi32(products, scale));
        }
        const __m256i m = _mm256_add_epi32(_mm256_mullo_epi32(mins, load(bsums)), _mm256_mullo_epi32(mins_hi, load(bsums + 8)));
        const float da = a.d[row * a.blocks + b];
        acc[i] += w.d * da * static_cast<float>(sum8(dot)) - w.dmin * da * static_cast<float>(sum8(m));
    }
}

}  // namespace llm::avx2

namespace llm::avx2 {

int32_t block_dot_q8_0(const uint8_t* block, const int8_t* x) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2)), a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
    // maddubs takes one unsigned side: |a| against w carrying a's sign (at most 2 x 127 x 127 per pair)
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(w, a));
    return sum8(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

int32_t block_dot_q4_0(const uint8_t* block, const int8_t* x) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
    const __m256i nibbles = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
    const __m256i w = _mm256_sub_epi8(_mm256_and_si256(nibbles, _mm256_set1_epi8(0x0F)), _mm256_set1_epi8(8));
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(w, a));
    return sum8(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

}  // namespace llm::avx2
