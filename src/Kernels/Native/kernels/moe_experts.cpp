#include "moe_experts.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "bf16.h"
#include "isa.h"
#include "small_linear.h"
#include "thread_pool.h"

namespace llm {

namespace {

// Rows [n0, n1) of out [m, n] = x [m, k] · wᵀ, with the small linear's AVX-512 tiles where they apply.
void linear_rows(bool vector, const float* x, int m, int64_t k, const void* w, bool bf16, float* out, int64_t n, int64_t n0, int64_t n1) {
    if (vector) {
        avx512::small_linear_rows(x, m, k, w, bf16, out, n, n0, n1);
        return;
    }
    for (int64_t r = n0; r < n1; ++r)
        for (int i = 0; i < m; ++i) {
            float sum = 0;
            for (int64_t j = 0; j < k; ++j)
                sum += (bf16 ? bf16_to_float(static_cast<const uint16_t*>(w)[r * k + j]) : static_cast<const float*>(w)[r * k + j]) * x[i * k + j];
            out[i * n + r] = sum;
        }
}

inline float activate(MoeActivation a, float v) {
    switch (a) {
        case MoeActivation::Silu: return v / (1.0f + std::exp(-v));
        case MoeActivation::GeluTanh: return 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        case MoeActivation::Gelu: return 0.5f * v * (1.0f + std::erf(v * 0.7071067811865476f));
        default: return v > 0 ? v : 0.0f;
    }
}

struct Buffers {
    std::vector<int64_t> slot_token;
    std::vector<float> slot_weight, xs, h, a, y, o;
    void resize(int64_t slots, int64_t d, int64_t inter, int64_t outputs) {
        slot_token.resize(slots);
        slot_weight.resize(slots);
        xs.resize(slots * d);
        h.resize(slots * 2 * inter);
        a.resize(slots * inter);
        y.resize(slots * d);
        o.resize(outputs);
    }
};

const void* slice(const TensorArg& t, int64_t index) {
    return static_cast<const char*>(t.data) + index * t.size(1) * t.size(2) * element_size(t.dtype);
}

}  // namespace

void moe_experts_cpu(const TensorArg& out, const TensorArg& x, const TensorArg& routes, const TensorArg& weights,
                     const TensorArg& gate_up, const TensorArg& down, int activation) {
    check(!out.cuda, "moe_experts: CPU kernel reached with CUDA tensors");
    check(x.dim == 2 && out.dim == 2 && gate_up.dim == 3 && down.dim == 3, "moe_experts: expected x, out [T, d], gate_up [E, 2I, d], down [E, d, I]");
    routes.expect(2, DType::I64);
    weights.expect(2, DType::F32);
    const int64_t tokens = x.size(0), d = x.size(1), k = routes.size(1), experts = gate_up.size(0), inter = down.size(2);
    check(gate_up.size(1) == 2 * inter && gate_up.size(2) == d && down.size(0) == experts && down.size(1) == d && out.size(0) == tokens &&
              out.size(1) == d && routes.size(0) == tokens && weights.size(0) == tokens && weights.size(1) == k,
          "moe_experts: shapes x ", x.shape(), ", routes ", routes.shape(), ", weights ", weights.shape(), ", gate_up ", gate_up.shape(),
          ", down ", down.shape(), ", out ", out.shape(), " do not fit");
    check(x.dtype == gate_up.dtype && x.dtype == down.dtype && x.dtype == out.dtype && (x.dtype == DType::F32 || x.dtype == DType::BF16),
          "moe_experts: x, gate_up, down and out must all be float32 or all bfloat16");
    check(x.contiguous() && out.contiguous() && routes.contiguous() && weights.contiguous() && gate_up.contiguous() && down.contiguous(),
          "moe_experts: tensors must be contiguous");
    check(activation >= 0 && activation <= 3, "moe_experts: unknown activation ", activation);
    const bool bf16 = x.dtype == DType::BF16;
    const auto act = static_cast<MoeActivation>(activation);

    // Counting sort of the routes by expert (tokens ascending inside each): slot s holds one
    // (token, weight) pair; expert e owns slots [first[e], first[e + 1]).
    const int64_t slots = tokens * k;
    const int64_t* route = routes.as<int64_t>();
    std::vector<int64_t> first(experts + 1, 0);
    for (int64_t s = 0; s < slots; ++s) {
        check(route[s] >= 0 && route[s] < experts, "moe_experts: route ", route[s], " is not an expert of ", experts);
        ++first[route[s] + 1];
    }
    for (int64_t e = 0; e < experts; ++e) first[e + 1] += first[e];

    // Buffers of the calling thread, kept between calls: a decode step must not allocate. The
    // workers reach them through these pointers (a thread_local named inside a lambda would be
    // the worker's own).
    thread_local Buffers buffers;
    buffers.resize(slots, d, inter, bf16 ? tokens * d : 0);
    int64_t* slot_token = buffers.slot_token.data();
    float *slot_weight = buffers.slot_weight.data(), *xs = buffers.xs.data(), *h = buffers.h.data(), *a = buffers.a.data(), *y = buffers.y.data();
    std::vector<int64_t> next(first.begin(), first.end() - 1);
    for (int64_t t = 0; t < tokens; ++t)
        for (int64_t j = 0; j < k; ++j) {
            int64_t s = next[route[t * k + j]]++;
            slot_token[s] = t;
            slot_weight[s] = weights.as<float>()[t * k + j];
        }
    for (int64_t s = 0; s < slots; ++s) {
        int64_t t = slot_token[s];
        if (bf16)
            for (int64_t c = 0; c < d; ++c) xs[s * d + c] = bf16_to_float(x.as<uint16_t>()[t * d + c]);
        else
            std::memcpy(xs + s * d, x.as<float>() + t * d, d * sizeof(float));
    }
    const bool vector = selected_isa() == Isa::Avx512 && d % 16 == 0 && inter % 16 == 0;

    // Pass 1: per (expert, chunk of intermediate rows), gate and up for the expert's tokens.
    constexpr int64_t kRows = 64;
    const int64_t row_chunks = (inter + kRows - 1) / kRows;
    std::vector<int64_t> active;
    for (int64_t e = 0; e < experts; ++e)
        if (first[e + 1] > first[e]) active.push_back(e);
    auto up_pass = [&](int item) {
        int64_t e = active[item / row_chunks], j0 = (item % row_chunks) * kRows, j1 = std::min(inter, j0 + kRows);
        int m = static_cast<int>(first[e + 1] - first[e]);
        const float* xe = xs + first[e] * d;
        float* he = h + first[e] * 2 * inter;
        const void* w = slice(gate_up, e);
        linear_rows(vector, xe, m, d, w, bf16, he, 2 * inter, j0, j1);
        linear_rows(vector, xe, m, d, w, bf16, he, 2 * inter, inter + j0, inter + j1);
        float* ae = a + first[e] * inter;
        for (int i = 0; i < m; ++i)
            for (int64_t j = j0; j < j1; ++j) ae[i * inter + j] = activate(act, he[i * 2 * inter + j]) * he[i * 2 * inter + inter + j];
    };
    ThreadPool::instance().for_each(static_cast<int>(active.size() * row_chunks), up_pass);

    // Pass 2: per chunk of output columns, every active expert's down rows, then the weighted sum
    // per token in expert order. Items own disjoint columns, so nothing races.
    constexpr int64_t kColumns = 32;
    float* o32 = bf16 ? buffers.o.data() : out.as<float>();
    auto down_pass = [&](int item) {
        int64_t c0 = item * kColumns, c1 = std::min(d, c0 + kColumns);
        for (int64_t t = 0; t < tokens; ++t) std::fill(o32 + t * d + c0, o32 + t * d + c1, 0.0f);
        for (int64_t e : active) {
            int m = static_cast<int>(first[e + 1] - first[e]);
            float* ye = y + first[e] * d;
            linear_rows(vector, a + first[e] * inter, m, inter, slice(down, e), bf16, ye, d, c0, c1);
            for (int i = 0; i < m; ++i) {
                float w = slot_weight[first[e] + i];
                float* row = o32 + slot_token[first[e] + i] * d;
                for (int64_t c = c0; c < c1; ++c) row[c] += w * ye[i * d + c];
            }
        }
    };
    ThreadPool::instance().for_each(static_cast<int>((d + kColumns - 1) / kColumns), down_pass);
    if (bf16)
        for (int64_t i = 0; i < tokens * d; ++i) out.as<uint16_t>()[i] = float_to_bf16(o32[i]);
}

}  // namespace llm
