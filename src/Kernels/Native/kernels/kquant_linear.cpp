#include "kquant_linear.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "errors.h"
#include "half.h"
#include "isa.h"
#include "switches.h"
#include "thread_pool.h"

namespace llm {

namespace {

constexpr int Q4_K = 12, Q5_K = 13, Q6_K = 14;

// ggml's get_scale_min_k4: sub-block j's 6-bit scale and min from the 12 packed bytes.
void scale_min(int j, const uint8_t* q, int& scale, int& min) {
    if (j < 4) {
        scale = q[j] & 63;
        min = q[j + 4] & 63;
    } else {
        scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// ggml's quantize_row_q8_K_ref, one row: the same float operations, so the same integers.
void quantize_q8k(const float* x, int64_t blocks, int8_t* q, float* d, int32_t* bsums) {
    for (int64_t b = 0; b < blocks; ++b, x += kSuperBlock, q += kSuperBlock, bsums += 16) {
        float max = 0, amax = 0;
        for (int j = 0; j < kSuperBlock; ++j) {
            const float ax = std::fabs(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0) {
            d[b] = 0;
            std::memset(q, 0, kSuperBlock);
        } else {
            const float iscale = -127.0f / max;
            for (int j = 0; j < kSuperBlock; ++j) q[j] = static_cast<int8_t>(std::min(127, static_cast<int>(std::nearbyint(iscale * x[j]))));
            d[b] = 1 / iscale;
        }
        for (int j = 0; j < 16; ++j) {
            int32_t sum = 0;
            for (int e = 0; e < 16; ++e) sum += q[j * 16 + e];
            bsums[j] = sum;
        }
    }
}

// LLM_VECTOR_Q8K=0 quantizes K-quant activations with the scalar reference on every instruction set (the same
// integers; to compare).
bool vector_q8k_enabled() {
    static const bool on = switched_on("LLM_VECTOR_Q8K");
    return on;
}

void scalar_kblock_dot(const KBlock& w, const Q8KActivations& a, int64_t i0, int count, int64_t b, float* acc) {
    for (int i = 0; i < count; ++i) {
        const int64_t row = i0 + i;
        const int8_t* q = a.q + (row * a.blocks + b) * kSuperBlock;
        const int32_t* bsums = a.bsums + (row * a.blocks + b) * 16;
        int32_t dot = 0, mins = 0;
        for (int s = 0; s < 16; ++s) {
            int32_t sub = 0;
            for (int e = 0; e < 16; ++e) sub += static_cast<int32_t>(w.q[s * 16 + e]) * q[s * 16 + e];
            dot += w.scale16[s] * sub;
            mins += w.min16[s] * bsums[s];
        }
        const float da = a.d[row * a.blocks + b];
        acc[i] += w.d * da * static_cast<float>(dot) - w.dmin * da * static_cast<float>(mins);
    }
}

struct Scratch {
    std::vector<int8_t> q;
    std::vector<float> d;
    std::vector<int32_t> bsums;
};

}  // namespace

void unpack_scales(const uint8_t* packed, KBlock& out) {
    for (int j = 0; j < 8; ++j) {
        int scale, min;
        scale_min(j, packed, scale, min);
        out.scale16[2 * j] = out.scale16[2 * j + 1] = scale;
        out.min16[2 * j] = out.min16[2 * j + 1] = min;
    }
}

void quantize_rows_q8k(const float* x, int64_t k, int64_t r0, int64_t r1, int8_t* q, float* d, int32_t* bsums) {
    const int64_t blocks = k / kSuperBlock;
    const auto quantize = selected_isa() == Isa::Avx512 && vector_q8k_enabled() ? avx512::quantize_q8k : quantize_q8k;
    for (int64_t r = r0; r < r1; ++r) quantize(x + r * k, blocks, q + r * k, d + r * blocks, bsums + r * blocks * 16);
}

bool is_kquant(int type) { return type == Q4_K || type == Q5_K || type == Q6_K; }

int64_t kquant_block_bytes(int type) { return type == Q4_K ? 144 : type == Q5_K ? 176 : 210; }

void unpack_kblock(const uint8_t* block, int type, KBlock& out) {
    if (type == Q6_K) {
        const uint8_t *ql = block, *qh = block + 128;
        const int8_t* scales = reinterpret_cast<const int8_t*>(block + 192);
        if (selected_isa() != Isa::Scalar) avx2::unpack_quants(block, type, out);
        else for (int half = 0; half < 2; ++half)
            for (int l = 0; l < 32; ++l) {
                const uint8_t lo = ql[64 * half + l], hi = ql[64 * half + l + 32], h = qh[32 * half + l];
                uint8_t* q = out.q + 128 * half;
                q[l] = (lo & 0xF) | ((h & 3) << 4);
                q[l + 32] = (hi & 0xF) | (((h >> 2) & 3) << 4);
                q[l + 64] = (lo >> 4) | (((h >> 4) & 3) << 4);
                q[l + 96] = (hi >> 4) | (((h >> 6) & 3) << 4);
            }
        for (int s = 0; s < 16; ++s) {
            out.scale16[s] = scales[s];
            out.min16[s] = 32 * scales[s];  // q - 32: the offset through the sums of 16, scaled by d
        }
        out.d = out.dmin = half_to_float(block + 208);
        return;
    }
    const uint8_t* packed = block + 4;
    const uint8_t* qh = type == Q5_K ? block + 16 : nullptr;
    const uint8_t* qs = block + (type == Q5_K ? 48 : 16);
    unpack_scales(packed, out);
    out.d = half_to_float(block);
    out.dmin = half_to_float(block + 2);
    if (selected_isa() != Isa::Scalar) {
        avx2::unpack_quants(block, type, out);
        return;
    }
    for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l) {
            const uint8_t byte = qs[32 * c + l];
            int high0 = 0, high1 = 0;
            if (qh) {
                high0 = ((qh[l] >> (2 * c)) & 1) << 4;
                high1 = ((qh[l] >> (2 * c + 1)) & 1) << 4;
            }
            out.q[64 * c + l] = static_cast<uint8_t>((byte & 0xF) | high0);
            out.q[64 * c + 32 + l] = static_cast<uint8_t>((byte >> 4) | high1);
        }
}

void kquant_linear(const float* x, int64_t m, int64_t k, const uint8_t* weight, int type, int64_t n, float* out, int64_t ldo) {
    check(is_kquant(type), "quantized_linear: weight type ", type, " is not a K-quant");
    check(k % kSuperBlock == 0, "quantized_linear: k ", k, " is not a multiple of ", kSuperBlock, " (K-quant super-blocks)");
    const int64_t blocks = k / kSuperBlock, row_bytes = blocks * kquant_block_bytes(type);
    thread_local Scratch scratch;
    scratch.q.resize(static_cast<size_t>(m * k));
    scratch.d.resize(static_cast<size_t>(m * blocks));
    scratch.bsums.resize(static_cast<size_t>(m * blocks * 16));
    int8_t* q = scratch.q.data();
    float* d = scratch.d.data();
    int32_t* bsums = scratch.bsums.data();
    auto quantize = [&](int r) { quantize_rows_q8k(x, k, r, r + 1, q, d, bsums); };
    ThreadPool::instance().for_each(static_cast<int>(m), quantize);
    const Q8KActivations a{q, d, bsums, blocks};
    const Isa isa = selected_isa();
    auto dot = isa == Isa::Avx512 ? avx512::kblock_dot : isa == Isa::Avx2 ? avx2::kblock_dot : scalar_kblock_dot;
    // Chunks of 16 weight rows; tiles of 4 activation rows.
    constexpr int64_t kChunk = 16, kRows = 4;
    // Each weight row is unpacked once (into the worker's buffer, in L1) for every activation row.
    auto body = [&](int c) {
        thread_local std::vector<KBlock> unpacked;
        unpacked.resize(static_cast<size_t>(blocks));
        for (int64_t r = c * kChunk; r < std::min(n, (c + 1) * kChunk); ++r) {
            const uint8_t* row = weight + r * row_bytes;
            for (int64_t b = 0; b < blocks; ++b) unpack_kblock(row + b * kquant_block_bytes(type), type, unpacked[b]);
            for (int64_t i0 = 0; i0 < m; i0 += kRows) {
                const int count = static_cast<int>(std::min(kRows, m - i0));
                float acc[kRows] = {0, 0, 0, 0};
                for (int64_t b = 0; b < blocks; ++b) dot(unpacked[b], a, i0, count, b, acc);
                for (int i = 0; i < count; ++i) out[(i0 + i) * ldo + r] = acc[i];
            }
        }
    };
    ThreadPool::instance().for_each(static_cast<int>((n + kChunk - 1) / kChunk), body);
}

}  // namespace llm
