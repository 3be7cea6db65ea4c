// The attention task in plain C++: any head size, any CPU. One key at a time, with the same
// online softmax as the vector kernels.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "attention.h"
#include "bf16.h"
#include "fp8.h"
#include "half.h"

namespace llm::scalar {

namespace {

inline float value(const float* p, int d) { return p[d]; }
inline float value(const uint16_t* p, int d) { return bf16_to_float(p[d]); }
inline float value(const Half* p, int d) { return half_to_float(p[d].bits); }
inline float value(const Fp8E4M3* p, int d) { return fp8_e4m3_to_float(p[d].bits); }
inline float value(const Fp8E5M2* p, int d) { return fp8_e5m2_to_float(p[d].bits); }

template <typename E>
void run_task(const AttentionArgs& a, const Task& t, int max_rows, float* partials, Scratch& scratch) {
    const int D = a.head_size, G = a.group(), R = t.nq * G, rows = t.heads * R;
    float* q = scratch.floats(2 * static_cast<size_t>(rows) * D + 2 * rows);
    float* acc = q + static_cast<size_t>(rows) * D;
    float* m = acc + static_cast<size_t>(rows) * D;
    float* l = m + rows;
    load_query_tile(a, t, q, D);
    std::fill(acc, acc + static_cast<size_t>(rows) * D, 0.0f);
    std::fill(m, m + rows, -std::numeric_limits<float>::infinity());
    std::fill(l, l + rows, 0.0f);

    for (int h = 0; h < t.heads; ++h) {
        const E* kbase = static_cast<const E*>(a.key_cache) + (t.kv_head + h) * a.k_stride[2];
        const E* vbase = static_cast<const E*>(a.value_cache) + (t.kv_head + h) * a.v_stride[2];
        for (int pos = t.k0; pos < t.k1; ++pos) {
            int64_t id = a.block(t.seq, pos / a.block_size), off = pos % a.block_size;
            const E* k = kbase + id * a.k_stride[0] + off * a.k_stride[1];
            const E* v = vbase + id * a.v_stride[0] + off * a.v_stride[1];
            // Rows whose token sees `pos`: at or after it, and (with a window) less than a window past it.
            int r_end = a.window > 0 ? std::min(R, (pos + a.window - t.first_pos) * G) : R;
            for (int r = h * R + std::max(0, (pos - t.first_pos) * G); r < h * R + r_end; ++r) {
                const float* qr = q + static_cast<size_t>(r) * D;
                float* ar = acc + static_cast<size_t>(r) * D;
                float s = 0;
                for (int d = 0; d < D; ++d) s += qr[d] * value(k, d);
                s = a.cap(s);
                if (s > m[r]) {
                    float corr = std::exp(m[r] - s);  // 0 when m was -inf
                    l[r] *= corr;
                    for (int d = 0; d < D; ++d) ar[d] *= corr;
                    m[r] = s;
                }
                float p = std::exp(s - m[r]);
                l[r] += p;
                for (int d = 0; d < D; ++d) ar[d] += p * value(v, d);
            }
        }
    }
    if (t.partial < 0) store_output_rows(a, t, acc, D, l);
    else store_partial_rows(t, rows, D, max_rows, m, l, acc, D, partials);
}

}  // namespace

void attention_task(const AttentionArgs& a, const Task& t, int max_rows, float* partials, Scratch& scratch) {
    if (a.kv_dtype == DType::BF16) run_task<uint16_t>(a, t, max_rows, partials, scratch);
    else if (a.kv_dtype == DType::F16) run_task<Half>(a, t, max_rows, partials, scratch);
    else if (a.kv_dtype == DType::F8E4M3) run_task<Fp8E4M3>(a, t, max_rows, partials, scratch);
    else if (a.kv_dtype == DType::F8E5M2) run_task<Fp8E5M2>(a, t, max_rows, partials, scratch);
    else run_task<float>(a, t, max_rows, partials, scratch);
}

}  // namespace llm::scalar
