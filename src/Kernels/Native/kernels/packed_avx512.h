// What every packed type's AVX-512 kernel shares (include after the target pragma of an AVX-512 source):
// the broadcast of 4 activation bytes and the loop over groups of 16 weight rows and tiles of
// activation rows, which calls the type's tile for each.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "packed_linear.h"

namespace llm::avx512 {

// Activation rows per tile: a group's quants are unpacked once for up to this many rows.
constexpr int kTileRows = 4;

// How far ahead of the bytes being multiplied a tile asks for weight bytes. A decode step streams every
// weight once from memory; left to the hardware prefetchers, one core read the packed Q4_0 weights of a
// llama-110m step at ~17 GB/s (3.7 ms of thread CPU time on the loaded machine), with 4 KiB ahead at
// ~28 GB/s (2.2 ms); 2 KiB was half-way, 8-16 KiB the same as 4 within the noise.
constexpr int64_t kPrefetchBytes = 4096;

// How a tile asks for its group's bytes. Cached: into L1 (and on the way through L2, whose victims fill
// L3), for kernels that read a group again (more activation rows than one tile, the many-row kernel's
// items). Bypass (opt-in, LLM_WEIGHT_PREFETCH=bypass, for groups read once: 1-4 activation rows): a
// non-temporal prefetch, whose lines on Zen go to L1 and leave no copy in L2 or L3 when evicted, so that a
// decode step's weight stream would not flush the layer's keys and values, the code and the step's C#
// and libtorch objects out of L3. Not the default: on the shared 2-core machine a harness streaming
// 60 MB between reads of 12 x 590 KB of "keys and values" read them 16-17.5 -> 12.7-12.9 us per layer
// with one process and showed no difference with two; the engine's figures were noise at load 8-12.
// None: this tile finds the group in the cache (a later tile of the same group).
enum class Fetch { None, Cached, Bypass };

// Whether decode tiles stream their weights past the caches (Fetch::Bypass); read once.
bool stream_bypasses_caches();

inline void prefetch_line(const uint8_t* p, Fetch fetch) {
    if (fetch == Fetch::Bypass) _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_NTA);
    else _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
}

// Asks for the bytes kPrefetchBytes past [p, p + bytes) (bytes a multiple of 64). A prefetch past the
// weight's end is harmless: it never faults.
inline void prefetch_ahead(const uint8_t* p, int64_t bytes, Fetch fetch) {
    if (fetch == Fetch::None) return;
    for (int64_t i = 0; i < bytes; i += 64) prefetch_line(p + kPrefetchBytes + i, fetch);
}

// Asks for the first kPrefetchBytes of a run of groups that the tiles start on: prefetch_ahead covers a
// run's bytes past its first kPrefetchBytes, and the bytes before them only when the run continues the
// one before it.
inline void prefetch_start(const uint8_t* p, int64_t bytes, Fetch fetch) {
    for (int64_t i = 0; i < std::min(bytes, kPrefetchBytes); i += 64) prefetch_line(p + i, fetch);
}

inline __m512i broadcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

// The 8 zmm of one Q8_0 / Q4_0 block's quants for 16 rows (qb: the block's quants in a pair record), as
// unsigned bytes: Q8_0 as stored (q + 128), Q4_0's nibbles unpacked (values 0..15).
template <QuantType T>
inline void block_quants(const uint8_t* qb, __m512i wq[8]) {
    if constexpr (T == QuantType::Q8_0) {
        for (int t = 0; t < 8; ++t) wq[t] = _mm512_load_si512(qb + 64 * t);
    } else {
        const __m512i low = _mm512_set1_epi8(0x0F);
        for (int t = 0; t < 4; ++t) {
            const __m512i v = _mm512_load_si512(qb + 64 * t);
            wq[t] = _mm512_and_si512(v, low);
            wq[t + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
        }
    }
}

// 16 signed bytes (one per row) widened to 16 int32 lanes.
inline __m512i widen16(const uint8_t* p) { return _mm512_cvtepi8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(p))); }

// The unsigned quants of zmm t (0..15) of a packed K-quant chunk of 64 elements: lane r = row r's elements
// 4t..4t+3 of the chunk (packed_linear.h).
template <QuantType T>
inline __m512i chunk_zmm(const uint8_t* chunk, int t) {
    constexpr int bits = KLayout<T>::bits, highs = 2 * bits;
    const __m512i v = _mm512_load_si512(chunk + 64 * (t % 8));
    __m512i quants = _mm512_and_si512(t < 8 ? v : _mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F));
    if constexpr (bits > 0) {
        // The high bits are field t / highs of high zmm t % highs, moved to bit 4: 16-bit shifts of at
        // most 4, so the bits kept never come from the neighbouring byte.
        const __m512i h = _mm512_load_si512(chunk + 512 + 64 * (t % highs));
        const int shift = 4 - bits * (t / highs);
        const __m512i moved = shift >= 0 ? _mm512_slli_epi16(h, shift) : _mm512_srli_epi16(h, -shift);
        quants = _mm512_or_si512(quants, _mm512_and_si512(moved, _mm512_set1_epi8(static_cast<char>(((1 << bits) - 1) << 4))));
    }
    return quants;
}

// Groups [g0, g1) of w (into out, float32, row stride ldo) for activation rows [0, m) in tiles of up to
// kTileRows: Kernel::tile<M>(w, group, q, d, bias, m0, out, ldo, col, valid, fetch) computes rows [m0, m0 + M)
// of one group, given its bytes, its first output column, which of its 16 rows exist and how to ask
// for its bytes (the first tile of a group streams it from memory; the others find it in the cache).
template <class Kernel>
inline void for_tiles(const PackedWeight& w, const int8_t* q, const float* d, const int32_t* bias, int64_t m, int64_t g0, int64_t g1,
                      float* out, int64_t ldo) {
    const Fetch stream = m <= kTileRows && stream_bypasses_caches() ? Fetch::Bypass : Fetch::Cached;
    prefetch_start(w.data + g0 * w.group_bytes, (g1 - g0) * w.group_bytes, stream);
    for (int64_t g = g0; g < g1; ++g) {
        const uint8_t* group = w.data + g * w.group_bytes;
        const int64_t col = g * kPackRows;
        const __mmask16 valid = static_cast<__mmask16>((1u << std::min<int64_t>(kPackRows, w.n - col)) - 1);
        for (int64_t m0 = 0; m0 < m; m0 += kTileRows) {
            const Fetch fetch = m0 == 0 ? stream : Fetch::None;
            switch (std::min<int64_t>(kTileRows, m - m0)) {
                case 1: Kernel::template tile<1>(w, group, q, d, bias, m0, out, ldo, col, valid, fetch); break;
                case 2: Kernel::template tile<2>(w, group, q, d, bias, m0, out, ldo, col, valid, fetch); break;
                case 3: Kernel::template tile<3>(w, group, q, d, bias, m0, out, ldo, col, valid, fetch); break;
                default: Kernel::template tile<kTileRows>(w, group, q, d, bias, m0, out, ldo, col, valid, fetch); break;
            }
        }
    }
}

}  // namespace llm::avx512
