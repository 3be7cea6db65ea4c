// Float32 products of many rows (prompt chunks past 64 rows) as a GEMM: out = x · wᵀ with the
// weight read in blocks of 32 rows by KC inner steps that are transposed on the fly into a packed
// panel ([p][32], 32 KB, stays in L1), so the micro-kernel broadcasts one x value against two
// weight vectors: MR x 2 accumulators in registers and no horizontal sums, where the small-batch
// tiles (small_linear_avx512.cpp) spend their loads on x and their tail on reductions. The weight
// is still read from memory once per call; the packing costs a few shuffles per 16 floats.
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <new>

#include "small_linear.h"

namespace llm::avx512 {

namespace {

// A thread's packed panels, kept between calls: a decode step must not allocate.
class PanelBuffer {
public:
    float* get(size_t count) {
        if (count > capacity_) {
            release();
            data_ = static_cast<float*>(::operator new(count * sizeof(float), std::align_val_t(64)));
            capacity_ = count;
        }
        return data_;
    }
    ~PanelBuffer() { release(); }

private:
    void release() {
        if (data_) ::operator delete(data_, std::align_val_t(64));
        data_ = nullptr;
        capacity_ = 0;
    }
    float* data_ = nullptr;
    size_t capacity_ = 0;
};

constexpr int MR = 12;        // rows of x per micro-tile
constexpr int NR = 32;        // weight rows (output columns) per packed panel
constexpr int64_t KC = 2048;  // inner steps per packed panel: 256 KB of floats at most

// r[j] (row j, 16 columns) becomes column j's 16 rows.
inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // 128-bit lane L of r[4g + c] = rows 4g..4g+3 of column 4L + c.
    for (int g = 0; g < 4; ++g) {
        __m512d lo0 = _mm512_castps_pd(t[4 * g]), lo1 = _mm512_castps_pd(t[4 * g + 2]);
        __m512d hi0 = _mm512_castps_pd(t[4 * g + 1]), hi1 = _mm512_castps_pd(t[4 * g + 3]);
        r[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, lo1));
        r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, lo1));
        r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi0, hi1));
        r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi0, hi1));
    }
    for (int c = 0; c < 4; ++c) {
        __m512 u0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88), u1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
        __m512 u2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88), u3 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
        t[c] = _mm512_shuffle_f32x4(u0, u2, 0x88);
        t[c + 8] = _mm512_shuffle_f32x4(u0, u2, 0xdd);
        t[c + 4] = _mm512_shuffle_f32x4(u1, u3, 0x88);
        t[c + 12] = _mm512_shuffle_f32x4(u1, u3, 0xdd);
    }
    for (int j = 0; j < 16; ++j) r[j] = t[j];
}

// panel[p * NR + j] = w[r0 + j][p0 + p] for p < kc (a multiple of 16), j < nr; zero for j >= nr.
void pack(const float* w, int64_t k, int64_t r0, int nr, int64_t p0, int64_t kc, float* panel) {
    for (int jb = 0; jb < NR; jb += 16)
        for (int64_t p = 0; p < kc; p += 16) {
            __m512 r[16];
            for (int j = 0; j < 16; ++j)
                r[j] = jb + j < nr ? _mm512_loadu_ps(w + (r0 + jb + j) * k + p0 + p) : _mm512_setzero_ps();
            transpose16(r);
            for (int q = 0; q < 16; ++q) _mm512_store_ps(panel + (p + q) * NR + jb, r[q]);
        }
}

// Software prefetch of the weight rows the calling thread will pack next, a few lines per inner
// step of the micro-kernel, so that their memory reads overlap the arithmetic on this block.
struct Prefetcher {
    const char* row = nullptr;  // current row's start
    int64_t row_bytes = 0;
    int64_t lines_per_row = 0;
    int64_t rows_left = 0;
    int64_t line = 0;
    int per_step = 0;

    void step() {
        for (int s = 0; s < per_step && rows_left > 0; ++s) {
            _mm_prefetch(row + line * 64, _MM_HINT_T0);
            if (++line == lines_per_row) {
                line = 0;
                row += row_bytes;
                --rows_left;
            }
        }
    }
};

// out[i, j] (+)= Σ_p x[i, p] · panel[p, j] for i < M, j < nr.
template <int M>
void micro(const float* x, int64_t k, const float* panel, int64_t kc, float* out, int64_t n, int nr, bool add, Prefetcher& prefetch) {
    __m512 acc[M][2];
    for (int i = 0; i < M; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; ++p) {
        __m512 b0 = _mm512_load_ps(panel + p * NR), b1 = _mm512_load_ps(panel + p * NR + 16);
        for (int i = 0; i < M; ++i) {
            __m512 a = _mm512_set1_ps(x[i * k + p]);
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
        prefetch.step();
    }
    const __mmask16 masks[2] = {static_cast<__mmask16>(nr >= 16 ? 0xffff : (1u << nr) - 1),
                                static_cast<__mmask16>(nr >= 32 ? 0xffff : nr <= 16 ? 0 : (1u << (nr - 16)) - 1)};
    for (int i = 0; i < M; ++i)
        for (int h = 0; h < 2; ++h) {
            if (!masks[h]) continue;
            float* o = out + i * n + 16 * h;
            __m512 v = add ? _mm512_add_ps(acc[i][h], _mm512_maskz_loadu_ps(masks[h], o)) : acc[i][h];
            _mm512_mask_storeu_ps(o, masks[h], v);
        }
}

template <int M>
void micro_rows(const float* x, int64_t k, const float* panel, int64_t kc, float* out, int64_t n, int nr, bool add, Prefetcher& prefetch, int m) {
    if constexpr (M > 0) {
        if (m == M) return micro<M>(x, k, panel, kc, out, n, nr, add, prefetch);
        micro_rows<M - 1>(x, k, panel, kc, out, n, nr, add, prefetch, m);
    }
}

}  // namespace

void gemm_f32_rows(const float* x, int m, int64_t k, const float* weight, float* out, int64_t n, int64_t n0, int64_t n1, int64_t next0, int64_t next1) {
    // Two panels of up to KC inner steps: 2 x 256 KB at most, inside L2.
    static thread_local PanelBuffer buffer;
    const int64_t kc_max = std::min(KC, k);
    float* panel[2] = {buffer.get(static_cast<size_t>(2 * kc_max * NR)), nullptr};
    panel[1] = panel[0] + kc_max * NR;
    for (int64_t j0 = n0; j0 < n1; j0 += 2 * NR) {
        int nr[2] = {static_cast<int>(std::min<int64_t>(NR, n1 - j0)), static_cast<int>(std::clamp<int64_t>(n1 - j0 - NR, 0, NR))};
        // What this thread reads next: the following 64 rows of its range, else the range it will likely take next.
        int64_t f0 = j0 + 2 * NR < n1 ? j0 + 2 * NR : next0, f1 = j0 + 2 * NR < n1 ? std::min(n1, j0 + 4 * NR) : std::min(next1, next0 + 2 * NR);
        for (int64_t p0 = 0; p0 < k; p0 += KC) {
            const int64_t kc = std::min(KC, k - p0);
            for (int h = 0; h < 2; ++h)
                if (nr[h] > 0) pack(weight, k, j0 + h * NR, nr[h], p0, kc, panel[h]);
            Prefetcher prefetch;
            if (p0 == 0 && f1 > f0) {
                const int64_t steps = (m + MR - 1) / MR * 2 * std::min(KC, k);
                prefetch = {reinterpret_cast<const char*>(weight + f0 * k), k * 4, (k * 4 + 63) / 64, f1 - f0, 0, 0};
                prefetch.per_step = static_cast<int>(((f1 - f0) * prefetch.lines_per_row + steps - 1) / steps);
            }
            for (int i0 = 0; i0 < m; i0 += MR) {
                const int rows = std::min(MR, m - i0);
                for (int h = 0; h < 2; ++h)
                    if (nr[h] > 0)
                        micro_rows<MR>(x + i0 * k + p0, k, panel[h], kc, out + i0 * n + j0 + h * NR, n, nr[h], p0 > 0, prefetch, rows);
            }
        }
    }
}

}  // namespace llm::avx512
