// Registers the CUDA kernels of the llm:: operators for the CUDA dispatch key. The schemas are
// defined by libllm_kernels.so (a dependency of this library, so it registers first).
#include <stdexcept>
#include <string>

#include "attention_args.h"
#include "cache_checks.h"
#include "cuda_common.cuh"

namespace llm {
[[noreturn]] void fail(const std::string& message) {
    llm_native_set_error(message.c_str());
    throw std::runtime_error(message);
}
}  // namespace llm

namespace llm::cuda {
void paged_attention_cuda(const AttentionArgs& a, int max_context_len, int32_t device);
void write_kv_cuda(const TensorArg&, const TensorArg&, const TensorArg&, const TensorArg&, const TensorArg&);
void copy_blocks_cuda(const TensorArg&, const TensorArg&, const TensorArg&);
void swap_blocks_cuda(const TensorArg&, const TensorArg&, const TensorArg&);
}  // namespace llm::cuda

namespace {

using namespace llm;

std::string status = "not registered";

void paged_attention_kernel(StableIValue* stack, uint64_t, uint64_t) {
    llm_native_clear_error();
    HandleGuard guard(stack, {0, 1, 2, 3, 4, 5, 6});
    TensorArg out(stack[0], "out"), query(stack[1], "query"), key_cache(stack[2], "key_cache"),
        value_cache(stack[3], "value_cache"), block_tables(stack[4], "block_tables"), context_lens(stack[5], "context_lens"),
        query_starts(stack[6], "query_starts");
    check(out.cuda, "paged_attention: CUDA kernel reached with host tensors");
    AttentionArgs args = attention_args(out, query, key_cache, value_cache, block_tables, context_lens, query_starts,
                                        as_double(stack[7]), as_int(stack[9]));
    cuda::paged_attention_cuda(args, static_cast<int>(as_int(stack[8])), out.device_index);
}

void write_kv_kernel(StableIValue* stack, uint64_t, uint64_t) {
    llm_native_clear_error();
    HandleGuard guard(stack, {0, 1, 2, 3, 4});
    TensorArg key(stack[0], "key"), value(stack[1], "value"), key_cache(stack[2], "key_cache"),
        value_cache(stack[3], "value_cache"), slot_mapping(stack[4], "slot_mapping");
    cuda::write_kv_cuda(key, value, key_cache, value_cache, slot_mapping);
}

void copy_blocks_kernel(StableIValue* stack, uint64_t, uint64_t) {
    llm_native_clear_error();
    HandleGuard guard(stack, {0, 1, 2});
    TensorArg key_cache(stack[0], "key_cache"), value_cache(stack[1], "value_cache"), mapping(stack[2], "block_mapping");
    cuda::copy_blocks_cuda(key_cache, value_cache, mapping);
}

void swap_blocks_kernel(StableIValue* stack, uint64_t, uint64_t) {
    llm_native_clear_error();
    HandleGuard guard(stack, {0, 1, 2});
    TensorArg src(stack[0], "src"), dst(stack[1], "dst"), mapping(stack[2], "block_mapping");
    cuda::swap_blocks_cuda(src, dst, mapping);
}

struct Registration {
    TorchLibraryHandle impls = nullptr;  // kept for the process's life
    Registration() {
        if (aoti_torch_library_init_impl("llm", "CUDA", __FILE__, __LINE__, &impls) != 0) {
            status = "cannot create the llm CUDA implementation library";
            return;
        }
        struct { const char* name; BoxedKernel fn; } kernels[] = {
            {"paged_attention", paged_attention_kernel},
            {"write_kv", write_kv_kernel},
            {"copy_blocks", copy_blocks_kernel},
            {"swap_blocks", swap_blocks_kernel},
        };
        for (auto& k : kernels)
            if (aoti_torch_library_impl(impls, k.name, k.fn) != 0) {
                status = std::string("cannot register the CUDA kernel of llm::") + k.name;
                return;
            }
        status = "ok";
    }
} registration;

}  // namespace

LLM_EXPORT const char* llm_native_cuda_status() { return status.c_str(); }
