#include "packed_linear.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "bf16.h"
#include "errors.h"
#include "huge_pages.h"
#include "isa.h"
#include "kquant_linear.h"
#include "read_ahead.h"
#include "thread_pool.h"
#include "switches.h"

namespace llm {

namespace {

// Buffers of the calling thread, kept between calls: a decode step must not allocate.
struct Scratch {
    std::vector<int8_t> q;
    std::vector<float> d, y, x;
    std::vector<int32_t> bias;
    // The many-row kernel's copy of the activations (GemmRows).
    std::vector<int8_t> gq;
    std::vector<float> gd;
    std::vector<int32_t> gsums;
};

// From this many activation rows on, the many-row kernel (packed_gemm) runs; it gives the same bits. Its tile
// unpacks a block's quants once for 8 rows where the small tiles do it per 4 (and per row past a multiple of
// 4), and runs 8 dot chains side by side: one core, a llama-110m decode step's products from memory, medians
// of alternated pairs against the small tiles: Q4_0 1.14x at 4 rows, 1.55x at 5-6, 1.75x at 7-8; Q8_0 1.10x
// at 4, 1.24x at 6, 1.57x at 8; Q4_K 0.86x at 4, 0.93x at 6, 1.35x at 8. Q6_K's sub-blocks of 16 take an
// integer multiply per 4 dot products: its tiles of many rows were no faster than the 4-row tiles until the
// activations outgrew L2 (one core, one llama-110m layer: 0.74-0.95x at 32-256 rows, 1.20x at 1,024, 1.26x at
// 2,048). LLM_PACKED_GEMM_MIN_ROWS sets the first row count for the other types (16 before), to compare.
int64_t gemm_min_rows(QuantType type) {
    static const int64_t set = env_number("LLM_PACKED_GEMM_MIN_ROWS", 0);
    if (type == QuantType::Q6_K) return 512;
    if (set > 0) return set;
    return type == QuantType::Q8_0 || type == QuantType::Q4_0 ? 4 : 8;
}
// From this many rows on, Q8_0 / Q4_0 take the AMX kernel (same bits) where it is enabled: one core, llama-110m's
// four products of one layer, thread CPU time against the AVX-512 kernel (C++ harness, load ~10): 0.55-0.8x at 4-8
// rows (a block's 16 x 16 tile is mostly empty), 1.1-1.2x at 16, 1.15-1.3x at 32-512.
constexpr int64_t kAmxMinRows = 16;
// The many-row kernel's work items (a multiple of its tile rows, and groups of 16 weight rows).
constexpr int64_t kGemmItemRows = 256, kGemmItemGroups = 8;

// LLM_PACKED_GEMM=0 keeps every row count on the tiles (for A/B measurements).
bool gemm_enabled() {
    static const bool enabled = switched_on("LLM_PACKED_GEMM");
    return enabled;
}

// Turned off by amx::enable(false), to compare.
std::atomic<bool>& amx_on() {
    static std::atomic<bool> on{amx_int8_available()};
    return on;
}

}  // namespace

namespace amx {

bool enabled() { return amx_on().load(std::memory_order_relaxed); }

bool enable(bool on) {
    if (on && !amx_int8_available()) return false;
    amx_on().store(on, std::memory_order_relaxed);
    return true;
}

}  // namespace amx

namespace avx512 {

// LLM_WEIGHT_PREFETCH=bypass streams decode tiles' weights with non-temporal prefetches (packed_avx512.h).
bool stream_bypasses_caches() {
    static const bool bypass = [] {
        const char* v = std::getenv("LLM_WEIGHT_PREFETCH");
        return v && std::string_view(v) == "bypass";
    }();
    return bypass;
}

}  // namespace avx512

bool packable(QuantType type) {
    static const bool supported = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                  __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("f16c");
    return supported && (type == QuantType::Q8_0 || type == QuantType::Q4_0 || is_kquant(static_cast<int>(type)));
}

PackedWeight* pack_weight(const uint8_t* weight, QuantType type, int64_t n, int64_t k) {
    check(packable(type), "pack_weight: type ", static_cast<int>(type), " cannot be packed on this CPU");
    const bool kquant = is_kquant(static_cast<int>(type));
    const int64_t block = kquant ? kSuperBlock : kQuantBlock;
    check(n >= 1 && k >= block && k % block == 0, "pack_weight: shape [", n, ", ", k, "] does not fit (k must be a positive multiple of ", block, ")");
    auto* packed = new PackedWeight{type, n, k, (n + kPackRows - 1) / kPackRows, k / block, 0, nullptr};
    if (kquant) {
        const int64_t record = type == QuantType::Q4_K   ? KLayout<QuantType::Q4_K>::bytes
                               : type == QuantType::Q5_K ? KLayout<QuantType::Q5_K>::bytes
                                                         : KLayout<QuantType::Q6_K>::bytes;
        packed->group_bytes = packed->blocks * record;
    } else {
        packed->group_bytes = (packed->blocks + 1) / 2 * block_pair_bytes(type);
    }
    packed->data = static_cast<uint8_t*>(alloc_weights(static_cast<size_t>(packed->groups * packed->group_bytes)));
    if (!packed->data) {
        delete packed;
        fail("pack_weight: out of memory");
    }
    auto body = [&](int g) { kquant ? avx512::pack_group_kquant(weight, *packed, g) : avx512::pack_group(weight, *packed, g); };
    ThreadPool::instance().for_each(static_cast<int>(packed->groups), body);
    return packed;
}

void free_packed(PackedWeight* packed) {
    if (!packed) return;
    std::free(packed->data);
    delete packed;
}

void packed_linear_cpu(void* out, int64_t ldo, const void* x, bool bf16, int64_t m, const PackedWeight& w, bool accumulate) {
    check(m >= 1 && ldo >= w.n, "packed_linear: m ", m, " and output row stride ", ldo, " do not fit n ", w.n);
    thread_local Scratch scratch;
    const int64_t k = w.k, blocks = w.blocks;
    const bool kquant = is_kquant(static_cast<int>(w.type));
    // K-quants: Q8_K activations (kquant_linear.h); Q8_0 / Q4_0: Q8_0 with the weights' offset term.
    const int32_t offset = w.type == QuantType::Q8_0 ? 128 : 8;
    const bool gemm = m >= gemm_min_rows(w.type) && gemm_enabled();
    const bool amx = gemm && !kquant && m >= kAmxMinRows && amx::enabled();
    const int64_t tile_rows = amx ? amx::kTileRows : avx512::kGemmTileRows;
    avx512::GemmRows rows{};
    if (gemm) {
        const int64_t padded = (m + tile_rows - 1) / tile_rows * tile_rows;
        scratch.gq.resize(static_cast<size_t>(padded * k));
        scratch.gd.resize(static_cast<size_t>(padded * blocks));
        scratch.gsums.resize(static_cast<size_t>(padded * blocks * avx512::gemm_sums(w.type)));
        rows = {scratch.gq.data(), scratch.gd.data(), scratch.gsums.data()};
        // The AMX kernel multiplies whole tiles: the rows past m must add nothing slow (NaN, subnormals).
        if (amx)
            for (int64_t r = m; r < padded; ++r)
                for (int64_t b = 0; b < blocks; ++b) rows.d[avx512::gemm_row_at(r, blocks, tile_rows) + b * tile_rows] = 0;
    }
    // The quantizer's own layout: the small tiles' input, and the K-quants' on the way into rows.
    if (!gemm || kquant) {
        scratch.q.resize(static_cast<size_t>(m * k));
        scratch.d.resize(static_cast<size_t>(m * blocks));
        scratch.bias.resize(static_cast<size_t>(m * blocks * (kquant ? 16 : 1)));
    }
    // The pool's workers have thread_local scratch of their own: hand them this thread's buffers.
    int8_t* q = scratch.q.data();
    float* d = scratch.d.data();
    int32_t* bias = scratch.bias.data();
    const float* xf = static_cast<const float*>(x);
    if (kquant && bf16) {
        scratch.x.resize(static_cast<size_t>(m * k));
        for (int64_t i = 0; i < m * k; ++i) scratch.x[i] = bf16_to_float(static_cast<const uint16_t*>(x)[i]);
        xf = scratch.x.data();
    }
    auto quantize = [&](int r) {
        if (kquant) {
            quantize_rows_q8k(xf, k, r, r + 1, q, d, bias);
            if (gemm) avx512::gemm_rows(w.type, q, d, bias, k, r, r + 1, rows);
        } else if (gemm) {
            // Straight into the many-row kernel's layout: row r's block b at gemm_row_at(r, blocks) + b · tile rows.
            const int64_t at = avx512::gemm_row_at(r, blocks, tile_rows), step = tile_rows;
            avx512::quantize_row_q8(x, bf16, k, r, offset, rows.q + at * kQuantBlock, step * kQuantBlock, rows.d + at, rows.sums + at, step);
        } else {
            avx512::quantize_row_q8(x, bf16, k, r, offset, q + r * k, kQuantBlock, d + r * blocks, bias + r * blocks, 1);
        }
    };
    if (m >= 8) ThreadPool::instance().for_each(static_cast<int>(m), quantize);
    else for (int r = 0; r < m; ++r) quantize(r);

    float* y = static_cast<float*>(out);
    int64_t stride = ldo;
    if (bf16 || accumulate) {
        scratch.y.resize(static_cast<size_t>(m * w.n));
        y = scratch.y.data();
        stride = w.n;
    }
    if (gemm) {
        // An item is up to kGemmItemRows activation rows (their quants stay in L2) by kGemmItemGroups
        // groups (their weights stay in L2), so each is read from memory once per item.
        const int64_t row_items = (m + kGemmItemRows - 1) / kGemmItemRows, col_items = (w.groups + kGemmItemGroups - 1) / kGemmItemGroups;
        auto body = [&](int c) {
            const int64_t r0 = c / col_items * kGemmItemRows, g0 = c % col_items * kGemmItemGroups;
            const int64_t r1 = std::min(m, r0 + kGemmItemRows), g1 = std::min(w.groups, g0 + kGemmItemGroups);
            if (amx) amx::packed_gemm(w, rows, r0, r1, g0, g1, y, stride);
            else avx512::packed_gemm(w, rows, r0, r1, g0, g1, y, stride);
        };
        ThreadPool::instance().for_spans(static_cast<int>(row_items * col_items), body);
    } else {
        // Two groups (32 rows) per item: enough items to balance the cores on the narrowest layer. Each core
        // streams a contiguous span of the weight (for_spans).
        constexpr int64_t kChunk = 2;
        auto body = [&](int c) { avx512::packed_tiles(w, q, d, bias, m, c * kChunk, std::min(w.groups, (c + 1) * kChunk), y, stride); };
        ThreadPool::instance().for_spans(static_cast<int>((w.groups + kChunk - 1) / kChunk), body);
        read_ahead_after(&w, w.data, static_cast<size_t>(w.groups * w.group_bytes));
    }
    if (!bf16 && !accumulate) return;
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < w.n; ++j) {
            const float v = y[i * w.n + j];
            if (!bf16) {
                static_cast<float*>(out)[i * ldo + j] += v;
                continue;
            }
            uint16_t& o = static_cast<uint16_t*>(out)[i * ldo + j];
            o = accumulate ? float_to_bf16(bf16_to_float(o) + bf16_to_float(float_to_bf16(v))) : float_to_bf16(v);
        }
}

}  // namespace llm

// C ABI for C#. llm_pack_quantized returns a packed copy of weight [n, k] (ggml blocks of `type`),
// or null where the packed kernels cannot run (then use llm_quantized_linear) or on a bad shape
// (llm_native_last_error() says which). llm_packed_linear is llm_quantized_linear on packed weights;
// with accumulate != 0 it adds the product into out (packed_linear_cpu).
LLM_EXPORT int llm_packable(int type) { return llm::packable(static_cast<llm::QuantType>(type)) ? 1 : 0; }

LLM_EXPORT void* llm_pack_quantized(const uint8_t* weight, int type, int64_t n, int64_t k) {
    llm_native_clear_error();
    try {
        return llm::pack_weight(weight, static_cast<llm::QuantType>(type), n, k);
    } catch (const std::exception&) {
        return nullptr;
    }
}

// Whether the packed Q8_0 / Q4_0 products of many rows run on AMX-INT8 tiles (amx::enabled), and the switch
// (0 off, else on; returns -1 where AMX-INT8 is not available).
LLM_EXPORT int llm_native_amx_int8() { return llm::amx::enabled() ? 1 : 0; }
LLM_EXPORT int llm_native_set_amx_int8(int on) { return llm::amx::enable(on != 0) ? 0 : -1; }

LLM_EXPORT void llm_free_packed(void* packed) { llm::free_packed(static_cast<llm::PackedWeight*>(packed)); }

LLM_EXPORT int llm_packed_linear(void* out, int64_t ldo, const void* x, int x_bf16, int64_t m, int64_t k, const void* packed, int accumulate) {
    llm_native_clear_error();
    try {
        const auto& w = *static_cast<const llm::PackedWeight*>(packed);
        llm::check(k == w.k, "packed_linear: x has ", k, " columns, the weight ", w.k);
        llm::packed_linear_cpu(out, ldo, x, x_bf16 != 0, m, w, accumulate != 0);
        return 0;
    } catch (const std::exception&) {
        return -1;
    }
}
