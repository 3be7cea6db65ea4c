#include "small_linear.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

#include "bf16.h"
#include "isa.h"
#include "thread_pool.h"

namespace llm {

namespace {

// Up to 64 rows every row count sums each output in one order (16 lanes over the inner steps, then
// across them), so a request's logits do not depend on what else is in its batch; the GEMM sums in
// another, so it starts where libtorch's GEMM used to (prompt chunks). It is ahead of the tiles from
// 4 rows (one core, llama-110m's shapes), which batched decode would gain at the cost of that invariance.
constexpr int kGemmMinRows = kSmallLinearMaxRows + 1;
constexpr int64_t kGemmChunk = 64;   // weight rows per work item: two packed panels

bool f32_gemm_enabled() {
    static const bool allowed = [] {  // LLM_F32_GEMM=0: the small-batch tiles at every row count, to compare on one build
        const char* env = std::getenv("LLM_F32_GEMM");
        return !(env && std::strcmp(env, "0") == 0);
    }();
    return allowed;
}

float weight_at(const void* w, bool bf16, int64_t i) {
    return bf16 ? bf16_to_float(static_cast<const uint16_t*>(w)[i]) : static_cast<const float*>(w)[i];
}

void scalar_rows(const float* x, int m, int64_t k, const void* w, bool bf16, float* out, int64_t n, int64_t n0, int64_t n1) {
    for (int64_t r = n0; r < n1; ++r)
        for (int i = 0; i < m; ++i) {
            float sum = 0;
            for (int64_t j = 0; j < k; ++j) sum += weight_at(w, bf16, r * k + j) * x[i * k + j];
            out[i * n + r] = sum;
        }
}

}  // namespace

bool f32_gemm_available() { return f32_gemm_enabled() && selected_isa() == Isa::Avx512; }

bool bf16_dot_available() {
    static const bool allowed = [] {  // LLM_BF16_DOT=0: the widening path, to compare on one build
        const char* env = std::getenv("LLM_BF16_DOT");
        return !(env && std::strcmp(env, "0") == 0);
    }();
    return allowed && selected_isa() == Isa::Avx512 && has_avx512_bf16();
}

void small_linear_cpu(const TensorArg& out, const TensorArg& x, const TensorArg& weight) {
    check(!out.cuda, "small_linear: CPU kernel reached with CUDA tensors");
    check(x.dim == 2 && weight.dim == 2 && out.dim == 2, "small_linear: expected 2-dimensional x, weight and out");
    const int64_t m = x.size(0), k = x.size(1), n = weight.size(0);
    check(weight.size(1) == k && out.size(0) == m && out.size(1) == n, "small_linear: shapes x ", x.shape(), ", weight ",
          weight.shape(), ", out ", out.shape(), " do not fit");
    check(x.dtype == weight.dtype && out.dtype == weight.dtype && (x.dtype == DType::F32 || x.dtype == DType::BF16),
          "small_linear: x, weight and out must all be float32 or all bfloat16");
    check(x.contiguous() && weight.contiguous() && out.contiguous(), "small_linear: tensors must be contiguous");
    small_linear(out.data, x.data, weight.data, x.dtype == DType::BF16, m, k, n);
}

void small_linear(void* out, const void* x, const void* weight, bool bf16, int64_t m, int64_t k, int64_t n) {
    check(m >= 1 && (m <= kSmallLinearMaxRows || (!bf16 && f32_gemm_available())), "small_linear: x must have 1 to ", kSmallLinearMaxRows,
          " rows here, got ", m);
    check(k >= 1 && n >= 1, "small_linear: empty weight [", n, ", ", k, "]");

    // float32 past the tiles' rows: a GEMM on panels packed on the fly, in chunks of 64 weight rows;
    // each thread prefetches the chunk it will likely take next (chunks go round the pool in order).
    if (!bf16 && m >= kGemmMinRows && k % 16 == 0 && f32_gemm_available()) {
        const int threads = ThreadPool::instance().threads();
        const int chunks = static_cast<int>((n + kGemmChunk - 1) / kGemmChunk);
        auto body = [&](int c) {
            int64_t n0 = c * kGemmChunk, n1 = std::min(n, n0 + kGemmChunk);
            int64_t next0 = std::min(n, n0 + threads * kGemmChunk), next1 = std::min(n, next0 + kGemmChunk);
            avx512::gemm_f32_rows(static_cast<const float*>(x), static_cast<int>(m), k, static_cast<const float*>(weight), static_cast<float*>(out), n,
                                  n0, n1, next0, next1);
        };
        ThreadPool::instance().for_each(chunks, body);
        return;
    }

    // Chunks of 64 weight rows: enough items to balance the cores, each a long sequential read (the
    // tiles below take them in spans: one run of the weight per core).
    constexpr int64_t kChunk = 64;
    const int chunks = static_cast<int>((n + kChunk - 1) / kChunk);
    // bfloat16 dot products on x and weights as they are; one or two rows stream the weights as
    // fast widened (memory-bound either way: measured alike, one core, llama-110m's shapes).
    if (bf16 && m >= 3 && k % 32 == 0 && bf16_dot_available()) {
        auto body = [&](int c) {
            int64_t n0 = c * kChunk, n1 = std::min(n, n0 + kChunk);
            avx512bf16::linear_rows(static_cast<const uint16_t*>(x), static_cast<int>(m), k, static_cast<const uint16_t*>(weight), out,
                                    false, n, n0, n1);
        };
        ThreadPool::instance().for_each(chunks, body);
        return;
    }

    // Buffers of the calling thread, kept between calls: a decode step must not allocate.
    thread_local std::vector<float> x32, y32;
    if (bf16) {
        x32.resize(static_cast<size_t>(m * k));
        for (int64_t i = 0; i < m * k; ++i) x32[i] = weight_at(x, bf16, i);
    }
    float* y = bf16 ? (y32.resize(static_cast<size_t>(m * n)), y32.data()) : static_cast<float*>(out);
    const float* xs = bf16 ? x32.data() : static_cast<const float*>(x);

    const bool vector = selected_isa() == Isa::Avx512 && k % 16 == 0;
    auto body = [&](int c) {
        int64_t n0 = c * kChunk, n1 = std::min(n, n0 + kChunk);
        if (vector) avx512::small_linear_rows(xs, static_cast<int>(m), k, weight, bf16, y, n, n0, n1);
        else scalar_rows(xs, static_cast<int>(m), k, weight, bf16, y, n, n0, n1);
    };
    ThreadPool::instance().for_spans(chunks, body);
    if (bf16)
        for (int64_t i = 0; i < m * n; ++i) static_cast<uint16_t*>(out)[i] = float_to_bf16(y[i]);
}

}  // namespace llm

// C ABI for C# (no dispatcher on the way): out [m, n] = x [m, k] · weight [n, k]ᵀ, contiguous CPU
// memory, all float32 (bf16 = 0) or all bfloat16. Returns 0, or -1 with llm_native_last_error().
// 1 when bfloat16 products of 3 to 64 rows run on AVX512_BF16 dot products (their inner size a
// multiple of 32), 0 when they widen to float32.
LLM_EXPORT int llm_native_bf16_dot() { return llm::bf16_dot_available() ? 1 : 0; }

// 1 when float32 products of any row count run here (past 64 rows a GEMM on packed panels), 0 when
// at most 64 rows are taken.
LLM_EXPORT int llm_native_f32_gemm() { return llm::f32_gemm_available() ? 1 : 0; }

LLM_EXPORT int llm_small_linear(void* out, const void* x, const void* weight, int bf16, int64_t m, int64_t k, int64_t n) {
    llm_native_clear_error();
    try {
        llm::small_linear(out, x, weight, bf16 != 0, m, k, n);
        return 0;
    } catch (const std::exception&) {
        return -1;
    }
}
