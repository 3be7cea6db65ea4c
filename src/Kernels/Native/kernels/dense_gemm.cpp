#include "dense_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "errors.h"
#include "huge_pages.h"
#include "isa.h"
#include "read_ahead.h"
#include "thread_pool.h"
#include "switches.h"

namespace llm {

namespace {

constexpr int64_t kBlockGroups = 3;   // 48 columns per item: one register tile wide
constexpr int64_t kBlockRows = 256;   // rows per item: x's rows stay in L2 while the item's columns pass

// LLM_DENSE_SPANS=0 keeps decode steps on runs of blocks handed out in turn, to compare on one build.
bool block_spans_enabled() {
    static const bool on = switched_on("LLM_DENSE_SPANS");
    return on;
}

}  // namespace

bool dense_amx_enabled() {
    static const bool on = has_amx_bf16() && switched_on("LLM_AMX");
    return on && selected_isa() == Isa::Avx512;
}

bool dense_gemm_available(bool f32) { return selected_isa() == Isa::Avx512 && (f32 || has_avx512_bf16()); }

PackedDense* pack_dense(const void* weight, bool f32, int64_t n, int64_t k) {
    check(dense_gemm_available(f32), f32 ? "pack_dense: the kernels do not run at AVX-512 here"
                                         : "pack_dense: this CPU (or the selected instruction set) has no AVX512_BF16 dot products");
    check(n >= 1 && k >= 1, "pack_dense: empty weight [", n, ", ", k, "]");
    const int64_t groups = (n + 15) / 16, steps = f32 ? k : (k + 1) / 2;
    auto* packed = new PackedDense{f32, n, k, groups, steps, alloc_weights(static_cast<size_t>(groups * steps * 64))};
    if (!packed->data) {
        delete packed;
        fail("pack_dense: out of memory");
    }
    auto body = [&](int g) { avx512dense::pack_group(weight, *packed, g); };
    ThreadPool::instance().for_each(static_cast<int>(groups), body);
    return packed;
}

void free_dense(PackedDense* packed) {
    if (!packed) return;
    std::free(packed->data);
    delete packed;
}

void unpack_dense(const PackedDense& w, void* weight) {
    // Element e of column c sits at step e / per, lane c, slot e % per (per: elements a lane holds).
    const int64_t per = w.f32 ? 1 : 2, size = w.f32 ? 4 : 2;
    for (int64_t r = 0; r < w.n; ++r) {
        const char* group = w.group(r / 16);
        for (int64_t e = 0; e < w.k; ++e)
            std::memcpy(static_cast<char*>(weight) + (r * w.k + e) * size, group + (e / per) * 64 + (r % 16) * 4 + (e % per) * size,
                        static_cast<size_t>(size));
    }
}

void dense_gemm(void* out, int64_t ldo, bool out_f32, const void* x, int64_t ldx, int64_t m, const PackedDense& w, DenseKernel kernel) {
    check(m >= 0 && ldo >= w.n && ldx >= w.k, "dense_gemm: m ", m, ", row strides ", ldx, " (x) and ", ldo, " (out) do not fit [", w.n, ", ", w.k, "]");
    check(out_f32 || !w.f32, "dense_gemm: a float32 weight's product is float32");
    check(kernel != DenseKernel::Amx || (!w.f32 && dense_amx_enabled()), "dense_gemm: AMX tiles do not run here (or not for float32 weights)");
    if (m == 0) return;
    const bool amx = !w.f32 && (kernel == DenseKernel::Amx || (kernel == DenseKernel::Auto && dense_amx_enabled()));
    const amxdense::Rows rows = amx ? amxdense::prepare(x, ldx, m, w.k) : amxdense::Rows{};
    const int64_t width = amx ? amxdense::kBlockGroups : kBlockGroups;
    auto block = [&](int64_t m0, int64_t m1, int64_t g0, int64_t g1, int64_t next) {
        if (amx) amxdense::gemm_block(out, ldo, out_f32, rows, m0, m1, w, g0, g1, next);
        else avx512dense::gemm_block(out, ldo, out_f32, x, ldx, m0, m1, w, g0, g1, next);
    };
    const int64_t blocks = (w.groups + width - 1) / width, chunks = (m + kBlockRows - 1) / kBlockRows;
    if (chunks == 1 && block_spans_enabled()) {
        // A decode step: one item per block, in spans (each core streams a contiguous share of the weight and
        // then helps with the other's), each block fetching the one after it, its own next item. Runs of blocks
        // handed out in turn gave 8-9 items per call: a core that took one more than the other left the other
        // idle for up to a ninth of the call (at one row too, where a core that joins a call late is the rule);
        // and a worker's span is the share of the next weights that it reads ahead (read_ahead.h).
        auto one = [&](int b) { block(0, m, b * width, std::min(w.groups, (b + 1) * width), std::min(w.groups, (b + 2) * width)); };
        ThreadPool::instance().for_spans(static_cast<int>(blocks), one);
        read_ahead_after(&w, w.data, static_cast<size_t>(w.groups * w.steps * 64));
        return;
    }
    // An item: a row chunk by a run of column blocks, done in order, each block's weights fetched
    // while the one before computes. Runs of a few blocks: about 4 items per thread and chunk, enough
    // to balance the cores on a shared machine. Items by row chunk first: both threads work on one
    // chunk of x at a time (shared in L3).
    const int64_t run = std::max<int64_t>(1, blocks / (4 * ThreadPool::instance().threads()));
    const int64_t runs = (blocks + run - 1) / run;
    auto body = [&](int item) {
        const int64_t c = item / runs, b0 = item % runs * run, b1 = std::min(blocks, b0 + run);
        for (int64_t b = b0; b < b1; ++b)
            block(c * kBlockRows, std::min(m, (c + 1) * kBlockRows), b * width, std::min(w.groups, (b + 1) * width), std::min(w.groups, b1 * width));
    };
    ThreadPool::instance().for_each(static_cast<int>(runs * chunks), body);
}

}  // namespace llm

// C ABI for C#. llm_pack_dense returns a packed copy of a weight [n, k] (float32 when f32, else
// bfloat16), or null where the packed kernels cannot run (llm_dense_gemm_available(f32) is 0) or on a
// bad shape (llm_native_last_error() says which); llm_unpack_dense writes the dense weight back into
// [n, k]. llm_dense_gemm: out [m, n] (row stride ldo; float32 when out_f32, else bfloat16) = x [m, k]
// (row stride ldx) · Wᵀ, on the kernel `kernel` names (llm::DenseKernel: 0 the one this machine uses, 1 AVX-512,
// 2 AMX tiles, which llm_dense_amx_enabled() says whether they run). Returns 0, or -1 with llm_native_last_error().
LLM_EXPORT int llm_dense_gemm_available(int f32) { return llm::dense_gemm_available(f32 != 0) ? 1 : 0; }

LLM_EXPORT int llm_dense_amx_enabled() { return llm::dense_amx_enabled() ? 1 : 0; }

LLM_EXPORT void* llm_pack_dense(const void* weight, int f32, int64_t n, int64_t k) {
    llm_native_clear_error();
    try {
        return llm::pack_dense(weight, f32 != 0, n, k);
    } catch (const std::exception&) {
        return nullptr;
    }
}

LLM_EXPORT void llm_free_dense(void* packed) { llm::free_dense(static_cast<llm::PackedDense*>(packed)); }

LLM_EXPORT void llm_unpack_dense(const void* packed, void* weight) { llm::unpack_dense(*static_cast<const llm::PackedDense*>(packed), weight); }

LLM_EXPORT int llm_dense_gemm(void* out, int64_t ldo, int out_f32, const void* x, int64_t ldx, int64_t m, int64_t k, const void* packed,
                              int kernel) {
    llm_native_clear_error();
    try {
        const auto& w = *static_cast<const llm::PackedDense*>(packed);
        llm::check(k == w.k, "dense_gemm: x has ", k, " columns, the weight ", w.k);
        llm::check(kernel >= 0 && kernel <= 2, "dense_gemm: no kernel ", kernel);
        llm::dense_gemm(out, ldo, out_f32 != 0, x, ldx, m, w, static_cast<llm::DenseKernel>(kernel));
        return 0;
    } catch (const std::exception&) {
        return -1;
    }
}
