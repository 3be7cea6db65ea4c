#include "bf16_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <exception>

#include "errors.h"
#include "huge_pages.h"
#include "isa.h"
#include "thread_pool.h"

namespace llm {

namespace {

constexpr int64_t kBlockGroups = 3;   // 48 columns per item: one register tile wide
constexpr int64_t kBlockRows = 256;   // rows per item: x's rows stay in L2 while the item's columns pass

}  // namespace

bool bf16_gemm_available() { return selected_isa() == Isa::Avx512 && has_avx512_bf16(); }

PackedBf16* pack_bf16(const uint16_t* weight, int64_t n, int64_t k) {
    check(bf16_gemm_available(), "pack_bf16: this CPU (or the selected instruction set) has no AVX512_BF16 dot products");
    check(n >= 1 && k >= 1, "pack_bf16: empty weight [", n, ", ", k, "]");
    const int64_t groups = (n + 15) / 16, bytes = groups * ((k + 1) / 2) * 64;
    auto* packed = new PackedBf16{n, k, groups, static_cast<uint16_t*>(alloc_weights(static_cast<size_t>(bytes)))};
    if (!packed->data) {
        delete packed;
        fail("pack_bf16: out of memory");
    }
    auto body = [&](int g) { avx512bf16::pack_group(weight, *packed, g); };
    ThreadPool::instance().for_each(static_cast<int>(groups), body);
    return packed;
}

void free_bf16(PackedBf16* packed) {
    if (!packed) return;
    std::free(packed->data);
    delete packed;
}

void unpack_bf16(const PackedBf16& w, uint16_t* weight) {
    const int64_t pairs = (w.k + 1) / 2;
    for (int64_t r = 0; r < w.n; ++r) {
        const uint16_t* group = w.data + r / 16 * pairs * 32 + 2 * (r % 16);
        for (int64_t e = 0; e < w.k; ++e) weight[r * w.k + e] = group[e / 2 * 32 + (e & 1)];
    }
}

void bf16_gemm(void* out, int64_t ldo, bool out_f32, const uint16_t* x, int64_t ldx, int64_t m, const PackedBf16& w) {
    check(m >= 0 && ldo >= w.n && ldx >= w.k, "bf16_gemm: m ", m, ", row strides ", ldx, " (x) and ", ldo, " (out) do not fit [", w.n, ", ", w.k, "]");
    if (m == 0) return;
    // An item: a row chunk by a run of column blocks, done in order, each block's weights fetched
    // while the one before computes. Runs of a few blocks: about 4 items per thread and chunk, enough
    // to balance the cores on a shared machine. Items by row chunk first: both threads work on one
    // chunk of x at a time (shared in L3).
    const int64_t blocks = (w.groups + kBlockGroups - 1) / kBlockGroups, chunks = (m + kBlockRows - 1) / kBlockRows;
    const int64_t run = std::max<int64_t>(1, blocks / (4 * ThreadPool::instance().threads()));
    const int64_t runs = (blocks + run - 1) / run;
    auto body = [&](int item) {
        const int64_t c = item / runs, b0 = item % runs * run, b1 = std::min(blocks, b0 + run);
        for (int64_t b = b0; b < b1; ++b)
            avx512bf16::gemm_block(out, ldo, out_f32, x, ldx, c * kBlockRows, std::min(m, (c + 1) * kBlockRows), w, b * kBlockGroups,
                                   std::min(w.groups, (b + 1) * kBlockGroups), std::min(w.groups, b1 * kBlockGroups));
    };
    ThreadPool::instance().for_each(static_cast<int>(runs * chunks), body);
}

}  // namespace llm

// C ABI for C#. llm_pack_bf16 returns a packed copy of a bfloat16 weight [n, k], or null where the
// packed kernels cannot run (llm_bf16_gemm_available() is 0) or on a bad shape (llm_native_last_error()
// says which); llm_unpack_bf16 writes the dense weight back into [n, k]. llm_bf16_gemm: out [m, n] (row stride ldo; bfloat16, float32 when out_f32) =
// x [m, k] (row stride ldx) · Wᵀ. Returns 0, or -1 with llm_native_last_error().
LLM_EXPORT int llm_bf16_gemm_available() { return llm::bf16_gemm_available() ? 1 : 0; }

LLM_EXPORT void* llm_pack_bf16(const uint16_t* weight, int64_t n, int64_t k) {
    llm_native_clear_error();
    try {
        return llm::pack_bf16(weight, n, k);
    } catch (const std::exception&) {
        return nullptr;
    }
}

LLM_EXPORT void llm_free_bf16(void* packed) { llm::free_bf16(static_cast<llm::PackedBf16*>(packed)); }

LLM_EXPORT void llm_unpack_bf16(const void* packed, uint16_t* weight) { llm::unpack_bf16(*static_cast<const llm::PackedBf16*>(packed), weight); }

LLM_EXPORT int llm_bf16_gemm(void* out, int64_t ldo, int out_f32, const uint16_t* x, int64_t ldx, int64_t m, int64_t k, const void* packed) {
    llm_native_clear_error();
    try {
        const auto& w = *static_cast<const llm::PackedBf16*>(packed);
        llm::check(k == w.k, "bf16_gemm: x has ", k, " columns, the weight ", w.k);
        llm::bf16_gemm(out, ldo, out_f32 != 0, x, ldx, m, w);
        return 0;
    } catch (const std::exception&) {
        return -1;
    }
}
