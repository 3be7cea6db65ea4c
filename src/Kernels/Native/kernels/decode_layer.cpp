#include "decode_layer.h"

#include <time.h>

#include <cstdlib>
#include <exception>

#include "attention_direct.h"
#include "bf16.h"
#include "decode_ops.h"
#include "dense_gemm.h"
#include "errors.h"
#include "packed_linear.h"

namespace llm {

namespace {

// The calling thread's intermediate rows, grown as needed and kept: a decode step's layers reuse them.
class LayerScratch {
public:
    char* bytes(size_t n) {
        if (n > size_) {
            std::free(data_);
            size_ = n;
            data_ = static_cast<char*>(std::aligned_alloc(64, (n + 63) / 64 * 64));
            check(data_ != nullptr, "decode_layer: out of memory for ", n, " bytes of scratch");
        }
        return data_;
    }
    ~LayerScratch() { std::free(data_); }

private:
    char* data_ = nullptr;
    size_t size_ = 0;
};

int64_t now_ns() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

// Adds the time since the last mark to one of the profile's slots (none when not profiling).
class Clock {
public:
    explicit Clock(int64_t* slots) : slots_(slots), last_(slots ? now_ns() : 0) {}
    void mark(int slot) {
        if (!slots_) return;
        const int64_t t = now_ns();
        slots_[slot] += t - last_;
        last_ = t;
    }

private:
    int64_t* slots_;
    int64_t last_;
};

enum Slot { kProducts, kAttention, kNorms, kRotary };

// out [rows, columns of the weight] (row stride ldo, the model's dtype) = x [rows, k] · Wᵀ; accumulate: out += instead.
void product(const DecodeWeight& w, void* out, int64_t ldo, const void* x, bool bf16, int64_t rows, bool accumulate) {
    if (w.dense) {
        const auto& d = *static_cast<const PackedDense*>(w.parts[0]);
        dense_gemm(out, ldo, !bf16, x, d.k, rows, d);
        return;
    }
    const int64_t es = bf16 ? 2 : 4;
    int64_t column = 0;
    for (int i = 0; i < w.count; ++i) {
        const auto& part = *static_cast<const PackedWeight*>(w.parts[i]);
        packed_linear_cpu(static_cast<char*>(out) + column * es, ldo, x, bf16, rows, part, accumulate);
        column += part.n;
    }
}

// x += y as libtorch's add_ rounds it (float32: one addition; bfloat16: the sum of the two widened, rounded once).
void add_rows(void* x, const void* y, bool bf16, int64_t count) {
    if (!bf16) {
        auto* a = static_cast<float*>(x);
        const auto* b = static_cast<const float*>(y);
        for (int64_t i = 0; i < count; ++i) a[i] += b[i];
        return;
    }
    auto* a = static_cast<uint16_t*>(x);
    const auto* b = static_cast<const uint16_t*>(y);
    for (int64_t i = 0; i < count; ++i) a[i] = float_to_bf16(bf16_to_float(a[i]) + bf16_to_float(b[i]));
}

// Heads [first, first + count) of the rows of a projection [rows, stride] as [rows, count, head_size].
RawTensor heads_of(void* rows_data, int64_t rows, int64_t stride, int64_t first, int64_t count, int64_t head_size, bool bf16) {
    RawTensor t{};
    t.data = static_cast<char*>(rows_data) + first * head_size * (bf16 ? 2 : 4);
    t.dim = 3;
    t.sizes[0] = rows;
    t.sizes[1] = count;
    t.sizes[2] = head_size;
    t.strides[0] = stride;
    t.strides[1] = head_size;
    t.strides[2] = 1;
    t.dtype = bf16 ? 1 : 0;  // tensor_arg.h's DType numbers
    return t;
}

}  // namespace

void decode_layer(const DecodeLayerArgs& a) {
    check(a.rows >= 1 && a.width >= 1 && a.query_heads >= 1 && a.kv_heads >= 1 && a.head_size >= 1 && a.ffn >= 1 &&
              2 * a.rotary_half <= a.head_size && a.qkv.count >= 1 && a.qkv.count <= 4 && a.gate_up.count >= 1 && a.gate_up.count <= 4,
          "decode_layer: bad shape (", a.rows, " rows of ", a.width, ", ", a.query_heads, " + ", a.kv_heads, " heads of ", a.head_size,
          ", ffn ", a.ffn, ")");
    const bool bf16 = a.bf16 != 0;
    const int64_t es = bf16 ? 2 : 4, n = a.rows, d = a.width;
    const int64_t q = a.query_heads * a.head_size, kv = a.kv_heads * a.head_size, qkv_width = q + 2 * kv;
    // Scratch: the normed rows, the qkv projection, the attention's output, an output of the o or down product's
    // own, the gate/up projection and SiLU's product; each 64-byte aligned.
    auto at = [](int64_t elements, int64_t size) { return (elements * size + 63) / 64 * 64; };
    const int64_t normed_at = 0, qkv_at = normed_at + at(n * d, es), attended_at = qkv_at + at(n * qkv_width, es),
                  own_at = attended_at + at(n * q, es), gate_up_at = own_at + at(n * d, es), hidden_at = gate_up_at + at(n * 2 * a.ffn, es),
                  total = hidden_at + at(n * a.ffn, es);
    thread_local LayerScratch scratch;
    char* s = scratch.bytes(static_cast<size_t>(total));
    void *normed = s + normed_at, *qkv = s + qkv_at, *attended = s + attended_at, *own = s + own_at, *gate_up = s + gate_up_at,
         *hidden = s + hidden_at;
    const float eps = static_cast<float>(a.eps);
    Clock clock(a.nanoseconds);

    rms_norm(normed, a.x, nullptr, a.input_norm, bf16, n, d, eps, false);
    clock.mark(kNorms);
    product(a.qkv, qkv, qkv_width, normed, bf16, n, false);
    clock.mark(kProducts);
    rotary(qkv, bf16, n, qkv_width, a.query_heads + a.kv_heads, a.head_size, a.rotary_half, a.cos, a.sin, a.interleaved != 0);
    clock.mark(kRotary);

    RawTensor t[10];
    t[0] = heads_of(attended, n, q, 0, a.query_heads, a.head_size, bf16);
    t[1] = heads_of(qkv, n, qkv_width, 0, a.query_heads, a.head_size, bf16);
    t[2] = a.cache[0];
    t[3] = a.cache[1];
    t[4] = a.cache[2];
    t[5] = a.cache[3];
    t[6] = a.cache[4];
    t[7] = heads_of(qkv, n, qkv_width, a.query_heads, a.kv_heads, a.head_size, bf16);
    t[8] = heads_of(qkv, n, qkv_width, a.query_heads + a.kv_heads, a.kv_heads, a.head_size, bf16);
    t[9] = a.cache[5];
    attention_direct(t, true, a.scale, a.max_context_len, a.partition_size, a.window, a.softcap);
    clock.mark(kAttention);

    if (a.o_adds) {
        product(a.o, a.x, d, attended, bf16, n, true);
        clock.mark(kProducts);
        rms_norm(normed, a.x, nullptr, a.post_norm, bf16, n, d, eps, false);
    } else {
        product(a.o, own, d, attended, bf16, n, false);
        clock.mark(kProducts);
        rms_norm(normed, a.x, own, a.post_norm, bf16, n, d, eps, false);
    }
    clock.mark(kNorms);
    product(a.gate_up, gate_up, 2 * a.ffn, normed, bf16, n, false);
    clock.mark(kProducts);
    silu_mul(hidden, gate_up, bf16, n, a.ffn);
    clock.mark(kNorms);
    if (a.down_adds) {
        product(a.down, a.x, d, hidden, bf16, n, true);
    } else {
        product(a.down, own, d, hidden, bf16, n, false);
        add_rows(a.x, own, bf16, n * d);
    }
    clock.mark(kProducts);
}

}  // namespace llm

// C ABI for C#: llm::decode_layer. Returns 0, or -1 with the reason in llm_native_last_error().
LLM_EXPORT int llm_decode_layer(const llm::DecodeLayerArgs* args) {
    llm_native_clear_error();
    try {
        llm::decode_layer(*args);
        return 0;
    } catch (const std::exception& e) {
        if (llm_native_last_error()[0] == '\0') llm_native_set_error(e.what());
        return -1;
    }
}
