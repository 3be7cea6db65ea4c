// The packed dense GEMM on AMX-BF16 tiles (bfloat16 weights; layout in dense_gemm.h). A B tile of tdpbf16ps is
// 16 rows of 64 bytes, row p holding 16 columns' pair p: 16 consecutive zmm of a packed group, so the weights
// load as they are. Tiles 0-3: C (up to 2 row tiles x 2 groups, float32), 4-5: A (16 rows x 32 k of x), 6-7: B.
//
//   k block kk (32 k):   A0 = x rows [r, r+16) x k [32kk, 32kk+32)     B0 = group g,   pairs [16kk, 16kk+16)
//                        A1 = x rows [r+16, r+32)                      B1 = group g+1
//                        C00 += A0·B0  C01 += A0·B1  C10 += A1·B0  C11 += A1·B1
#pragma GCC target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16")
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "amx_tiles.h"
#include "dense_gemm.h"
#include "thread_pool.h"

namespace llm::amxdense {

namespace {

constexpr int64_t kStreamAhead = 4096;
constexpr size_t kKeptScratch = size_t{4} << 20;  // elements (8 MiB): x of 2048 rows at k 2048

// C[r][j] for R row tiles (from `tile` on) and J groups over x.blocks blocks of 32 k, the last from the padded
// copies btail when k ends inside it. Fetches the groups in ahead[0, na) into L2 meanwhile, and when `stream`,
// its own weights 4 KiB ahead into L1.
template <int R, int J>
void tiles(float (*c)[256], const Rows& x, int64_t tile, const char* const* b, const char* const* btail, const char* const* ahead, int na,
           bool stream) {
    _tile_zero(0);
    if constexpr (J > 1) _tile_zero(1);
    if constexpr (R > 1) _tile_zero(2);
    if constexpr (R > 1 && J > 1) _tile_zero(3);
    const int64_t a_bytes = x.rows * 64, next_tile = x.blocks * a_bytes;
    const char* a = x.a(tile, 0);
    for (int64_t kk = 0; kk < x.blocks; ++kk, a += a_bytes) {
        const bool whole = kk < x.whole;
        if (whole) {
            for (int i = 0; i < na; ++i)
                for (int line = 0; line < 16; ++line) _mm_prefetch(ahead[i] + kk * 1024 + line * 64, _MM_HINT_T1);
            if (stream)
                for (int j = 0; j < J; ++j)
                    for (int line = 0; line < 16; ++line) _mm_prefetch(b[j] + kk * 1024 + kStreamAhead + line * 64, _MM_HINT_T0);
        }
        _tile_loadd(6, whole ? b[0] + kk * 1024 : btail[0], 64);
        if constexpr (J > 1) _tile_loadd(7, whole ? b[1] + kk * 1024 : btail[1], 64);
        _tile_loadd(4, a, 64);
        _tile_dpbf16ps(0, 4, 6);
        if constexpr (J > 1) _tile_dpbf16ps(1, 4, 7);
        if constexpr (R > 1) {
            _tile_loadd(5, a + next_tile, 64);
            _tile_dpbf16ps(2, 5, 6);
            if constexpr (J > 1) _tile_dpbf16ps(3, 5, 7);
        }
    }
    _tile_stored(0, c[0], 64);
    if constexpr (J > 1) _tile_stored(1, c[1], 64);
    if constexpr (R > 1) _tile_stored(2, c[2], 64);
    if constexpr (R > 1 && J > 1) _tile_stored(3, c[3], 64);
}

using Tiles = void (*)(float (*)[256], const Rows&, int64_t, const char* const*, const char* const*, const char* const*, int, bool);
constexpr Tiles kTiles[2][2] = {{&tiles<1, 1>, &tiles<1, 2>}, {&tiles<2, 1>, &tiles<2, 2>}};

}  // namespace

Rows prepare(const void* xv, int64_t ldx, int64_t m, int64_t k) {
    const auto* x = static_cast<const uint16_t*>(xv);
    const int64_t rows = std::min<int64_t>(16, m), tiles = (m + 15) / 16;
    Rows r{m, rows, (k + 31) / 32, k / 32, nullptr};
    thread_local std::vector<uint16_t> scratch;
    // Kept between calls, but a copy far larger than this call's (a long prompt's, before decode steps) is freed.
    const size_t need = static_cast<size_t>(tiles * r.blocks * rows * 32);
    if (scratch.capacity() > std::max<size_t>(16 * need, kKeptScratch)) std::vector<uint16_t>().swap(scratch);
    scratch.resize(need);
    uint16_t* dst = scratch.data();
    auto copy = [&](int t) {
        for (int64_t i = 0; i < rows; ++i) {
            const int64_t row = t * 16 + i;
            for (int64_t kk = 0; kk < r.blocks; ++kk) {
                uint16_t* d = dst + ((t * r.blocks + kk) * rows + i) * 32;
                const int64_t have = row < m ? std::min<int64_t>(32, k - kk * 32) : 0;
                if (have > 0) std::memcpy(d, x + row * ldx + kk * 32, static_cast<size_t>(have * 2));
                if (have < 32) std::memset(d + have, 0, static_cast<size_t>((32 - have) * 2));
            }
        }
    };
    if (m * k >= (1 << 16)) ThreadPool::instance().for_each(static_cast<int>(tiles), copy);
    else
        for (int t = 0; t < tiles; ++t) copy(t);
    r.tiles = dst;
    return r;
}

void gemm_block(void* out, int64_t ldo, bool out_f32, const Rows& x, int64_t m0, int64_t m1, const PackedDense& w, int64_t g0,
                int64_t g1, int64_t next) {
    TileConfig config;
    for (int t = 0; t < 8; ++t) {
        config.bytes_per_row[t] = 64;
        config.rows[t] = static_cast<uint8_t>(t < 6 ? x.rows : 16);
    }
    _tile_loadconfig(&config);

    // The last pairs of k (past the whole blocks of 32) of each group, zero-padded to a whole B tile.
    alignas(64) char btail[kBlockGroups][1024];
    const int64_t tail_pairs = w.steps - x.whole * 16;
    if (tail_pairs > 0)
        for (int64_t g = g0; g < g1; ++g) {
            std::memcpy(btail[g - g0], w.group(g) + x.whole * 1024, static_cast<size_t>(tail_pairs * 64));
            std::memset(btail[g - g0] + tail_pairs * 64, 0, static_cast<size_t>(1024 - tail_pairs * 64));
        }
    asm volatile("" ::: "memory");  // _tile_loadd names no memory: the copies must be stored before the loads

    const size_t size = out_f32 ? sizeof(float) : sizeof(uint16_t);
    const bool stream = x.m <= 2;
    alignas(64) float c[4][256];
    for (int64_t r = m0; r < m1; r += 32) {
        const int R = m1 - r > 16 ? 2 : 1;
        for (int64_t g = g0; g < g1; g += 2) {
            const int J = static_cast<int>(std::min<int64_t>(2, g1 - g));
            const char* b[2] = {w.group(g), w.group(g + J - 1)};
            const char* bt[2] = {btail[g - g0], btail[g + J - 1 - g0]};
            // The first row tiles fetch the next block's groups (one per group of theirs) into L2.
            const char* ahead[2];
            int na = 0;
            if (r == m0)
                for (int64_t h = g1 + (g - g0); h < std::min(next, g1 + (g - g0) + J); ++h) ahead[na++] = w.group(h);
            kTiles[R - 1][J - 1](c, x, r / 16, b, bt, ahead, na, stream);
            for (int i = 0; i < R; ++i)
                for (int j = 0; j < J; ++j) {
                    const int64_t col = 16 * (g + j), left = std::min<int64_t>(16, w.n - col);
                    const __mmask16 mask = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
                    const int64_t row0 = r + 16 * i, row1 = std::min(m1, row0 + 16);
                    for (int64_t row = row0; row < row1; ++row) {
                        const __m512 v = _mm512_load_ps(c[i * 2 + j] + (row - row0) * 16);
                        char* o = static_cast<char*>(out) + (row * ldo + col) * size;
                        if (out_f32) _mm512_mask_storeu_ps(o, mask, v);
                        else _mm256_mask_storeu_epi16(o, mask, (__m256i)_mm512_cvtneps_pbh(v));
                    }
                }
        }
    }
    _tile_release();
}

}  // namespace llm::amxdense
