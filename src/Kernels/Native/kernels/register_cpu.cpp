// Registers the llm:: operators with libtorch's dispatcher through the stable C ABI, at load
// time, with their CPU kernels; a CUDA build adds kernels for the CUDA key under the same
// names (src/Kernels/Native/cuda). Also the small C API that C# reads the library's state through.
#include <time.h>

#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "attention.h"
#include "attention_args.h"
#include "attention_direct.h"
#include "cache_ops.h"
#include "errors.h"
#include "isa.h"
#include "moe_experts.h"
#include "small_linear.h"
#include "tensor_arg.h"
#include "thread_pool.h"
#include "torch_abi.h"

namespace {

thread_local std::string last_error;
std::string status = "not registered";

using namespace llm;

void paged_attention_kernel(StableIValue* stack, uint64_t, uint64_t) {
    llm_native_clear_error();
    HandleGuard guard(stack, {0, 1, 2, 3, 4, 5, 6});
    TensorArg out(stack[0], "out"), query(stack[1], "query"), key_cache(stack[2], "key_cache"),
        value_cache(stack[3], "value_cache"), block_tables(stack[4], "block_tables"), context_lens(stack[5], "context_lens"),
        query_starts(stack[6], "query_starts");
    check(!out.cuda, "paged_attention: CPU kernel reached with CUDA tensors");
    AttentionArgs args = attention_args(out, query, key_cache, value_cache, block_tables, context_lens, query_starts,
                                        as_double(stack[7]), as_int(stack[9]), as_int(stack[10]), as_double(stack[11]));
    paged_attention_cpu(args, static_cast<int>(as_int(stack[8])));
}

void write_kv_kernel(StableIValue* stack, uint64_t, uint64_t) {
    llm_native_clear_error();
    HandleGuard guard(stack, {0, 1, 2, 3, 4});
    TensorArg key(stack[0], "key"), value(stack[1], "value"), key_cache(stack[2], "key_cache"),
        value_cache(stack[3], "value_cache"), slot_mapping(stack[4], "slot_mapping");
    write_kv_cpu(key, value, key_cache, value_cache, slot_mapping);
}

void copy_blocks_kernel(StableIValue* stack, uint64_t, uint64_t) {
    llm_native_clear_error();
    HandleGuard guard(stack, {0, 1, 2});
    TensorArg key_cache(stack[0], "key_cache"), value_cache(stack[1], "value_cache"), mapping(stack[2], "block_mapping");
    copy_blocks_cpu(key_cache, value_cache, mapping);
}

void swap_blocks_kernel(StableIValue* stack, uint64_t, uint64_t) {
    llm_native_clear_error();
    HandleGuard guard(stack, {0, 1, 2});
    TensorArg src(stack[0], "src"), dst(stack[1], "dst"), mapping(stack[2], "block_mapping");
    swap_blocks_cpu(src, dst, mapping);
}

void small_linear_kernel(StableIValue* stack, uint64_t, uint64_t) {
    llm_native_clear_error();
    HandleGuard guard(stack, {0, 1, 2});
    TensorArg out(stack[0], "out"), x(stack[1], "x"), weight(stack[2], "weight");
    small_linear_cpu(out, x, weight);
}

void moe_experts_kernel(StableIValue* stack, uint64_t, uint64_t) {
    llm_native_clear_error();
    HandleGuard guard(stack, {0, 1, 2, 3, 4, 5});
    TensorArg out(stack[0], "out"), x(stack[1], "x"), routes(stack[2], "routes"), weights(stack[3], "weights"),
        gate_up(stack[4], "gate_up"), down(stack[5], "down");
    moe_experts_cpu(out, x, routes, weights, gate_up, down, static_cast<int>(as_int(stack[6])));
}

constexpr const char* kSchemas[] = {
    "paged_attention(Tensor(a!) out, Tensor query, Tensor key_cache, Tensor value_cache, Tensor block_tables, "
    "Tensor context_lens, Tensor query_starts, float scale, int max_context_len, int partition_size, int window, "
    "float softcap) -> ()",
    "write_kv(Tensor key, Tensor value, Tensor(a!) key_cache, Tensor(b!) value_cache, Tensor slot_mapping) -> ()",
    "copy_blocks(Tensor(a!) key_cache, Tensor(b!) value_cache, Tensor block_mapping) -> ()",
    "swap_blocks(Tensor src, Tensor(a!) dst, Tensor block_mapping) -> ()",
    "small_linear(Tensor(a!) out, Tensor x, Tensor weight) -> ()",
    "moe_experts(Tensor(a!) out, Tensor x, Tensor routes, Tensor weights, Tensor gate_up, Tensor down, int activation) -> ()",
};

struct Registration {
    // The torch::Library objects must outlive every call: they are kept for the process's life.
    TorchLibraryHandle defs = nullptr, impls = nullptr;

    Registration() {
        if (aoti_torch_library_init_def("llm", __FILE__, __LINE__, &defs) != 0) {
            status = "cannot create the llm operator library (already registered by another copy?)";
            return;
        }
        for (const char* schema : kSchemas)
            if (aoti_torch_library_def(defs, schema) != 0) {
                status = std::string("cannot define ") + schema;
                return;
            }
        if (aoti_torch_library_init_impl("llm", "CPU", __FILE__, __LINE__, &impls) != 0) {
            status = "cannot create the llm CPU implementation library";
            return;
        }
        struct { const char* name; BoxedKernel fn; } kernels[] = {
            {"paged_attention", paged_attention_kernel},
            {"write_kv", write_kv_kernel},
            {"copy_blocks", copy_blocks_kernel},
            {"swap_blocks", swap_blocks_kernel},
            {"small_linear", small_linear_kernel},
            {"moe_experts", moe_experts_kernel},
        };
        for (auto& k : kernels)
            if (aoti_torch_library_impl(impls, k.name, k.fn) != 0) {
                status = std::string("cannot register the CPU kernel of llm::") + k.name;
                return;
            }
        status = "ok";
    }
} registration;

}  // namespace

namespace llm {
[[noreturn]] void fail(const std::string& message) {
    last_error = message;
    throw std::runtime_error(message);
}
}  // namespace llm

LLM_EXPORT const char* llm_native_last_error() { return last_error.c_str(); }
LLM_EXPORT void llm_native_clear_error() { last_error.clear(); }
LLM_EXPORT void llm_native_set_error(const char* message) { last_error = message ? message : ""; }

// "ok" once every operator is registered, else what failed.
LLM_EXPORT const char* llm_native_status() { return status.c_str(); }
LLM_EXPORT const char* llm_native_isa() { return llm::isa_name(llm::selected_isa()); }
LLM_EXPORT const char* llm_native_detected_isa() { return llm::isa_name(llm::detected_isa()); }
LLM_EXPORT int llm_native_threads() { return llm::ThreadPool::instance().threads(); }

// CPU time (ns) of the calling thread, and of its kernel pool's workers: bench batch --profile's split of a
// forward pass's work between the step thread and the pool (whether the second core takes its share).
LLM_EXPORT int64_t llm_native_thread_cpu_ns() {
    timespec t;
    return clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) == 0 ? t.tv_sec * 1000000000LL + t.tv_nsec : 0;
}

LLM_EXPORT int64_t llm_native_pool_cpu_ns() { return llm::ThreadPool::instance().workers_cpu_ns(); }
// A pool of `threads` for the calling thread's kernels (0: back to the process-wide pool).
LLM_EXPORT void llm_native_bind_threads(int threads) {
    if (threads > 0) llm::ThreadPool::bind_current(threads);
    else llm::ThreadPool::unbind_current();
}

// Lowers (or restores) the instruction set the kernels use: "avx512", "avx2" or "scalar".
// Returns 0, or -1 when the CPU lacks it.
LLM_EXPORT int llm_native_select_isa(const char* name) {
    llm::Isa isa = std::strcmp(name, "avx512") == 0 ? llm::Isa::Avx512
                   : std::strcmp(name, "avx2") == 0 ? llm::Isa::Avx2
                   : std::strcmp(name, "scalar") == 0 ? llm::Isa::Scalar
                                                      : llm::detected_isa();
    return llm::select_isa(isa) ? 0 : -1;
}

namespace llm {

void attention_direct(const RawTensor* t, bool write, double scale, int64_t max_context_len, int64_t partition_size, int64_t window,
                      double softcap) {
    TensorArg out(t[0], "out"), query(t[1], "query"), key_cache(t[2], "key_cache"), value_cache(t[3], "value_cache"),
        block_tables(t[4], "block_tables"), context_lens(t[5], "context_lens"), query_starts(t[6], "query_starts");
    if (write) {
        TensorArg key(t[7], "key"), value(t[8], "value"), slot_mapping(t[9], "slot_mapping");
        write_kv_cpu(key, value, key_cache, value_cache, slot_mapping);
    }
    AttentionArgs args = attention_args(out, query, key_cache, value_cache, block_tables, context_lens, query_starts, scale,
                                        partition_size, window, softcap);
    paged_attention_cpu(args, static_cast<int>(max_context_len));
}

}  // namespace llm

// One layer's attention on the CPU without the dispatcher (llm::attention_direct, attention_direct.h). Through the
// dispatcher each call boxed its tensors three times over (a handle per tensor in C#, IValues, handles again for the
// kernel) and walked the autograd fallback; a decode step at one sequence paid that twice per layer, on code and data
// that the step's weight pass had pushed out of the caches. Returns 0, or -1 with the reason in llm_native_last_error().
LLM_EXPORT int llm_paged_attention_direct(const llm::RawTensor* t, int write, double scale, int64_t max_context_len,
                                          int64_t partition_size, int64_t window, double softcap) {
    llm_native_clear_error();
    try {
        llm::attention_direct(t, write != 0, scale, max_context_len, partition_size, window, softcap);
        return 0;
    } catch (const std::exception& e) {
        if (last_error.empty()) last_error = e.what();
        return -1;
    }
}
