// KV cache operations on CUDA for llm::write_kv, llm::copy_blocks and llm::swap_blocks.
#include "cache_checks.h"
#include "cuda_common.cuh"

namespace llm::cuda {

namespace {

constexpr int kThreads = 256;

struct WriteArgs {
    const void* key;
    const void* value;
    void* key_cache;
    void* value_cache;
    const int64_t* slots;
    int64_t slot_stride;
    int64_t k_stride[3], v_stride[3], kc_stride[3], vc_stride[3];
    int heads, head_size, block_size;
};

// A block per token: its keys and values of every kv head to the token's slot.
template <typename S, typename T>
__global__ void write_kv_kernel(WriteArgs w) {
    const int64_t token = blockIdx.x;
    const int64_t slot = w.slots[token * w.slot_stride];
    if (slot < 0) return;  // padding token
    const int64_t block = slot / w.block_size, offset = slot % w.block_size;
    const S* key = static_cast<const S*>(w.key);
    const S* value = static_cast<const S*>(w.value);
    T* kc = static_cast<T*>(w.key_cache);
    T* vc = static_cast<T*>(w.value_cache);
    for (int i = threadIdx.x; i < w.heads * w.head_size; i += kThreads) {
        int h = i / w.head_size, d = i % w.head_size;
        kc[block * w.kc_stride[0] + offset * w.kc_stride[1] + h * w.kc_stride[2] + d] =
            from_float<T>(to_float(key[token * w.k_stride[0] + h * w.k_stride[1] + d * w.k_stride[2]]));
        vc[block * w.vc_stride[0] + offset * w.vc_stride[1] + h * w.vc_stride[2] + d] =
            from_float<T>(to_float(value[token * w.v_stride[0] + h * w.v_stride[1] + d * w.v_stride[2]]));
    }
}

// Grid (pairs, 2): y = 0 copies the key block, y = 1 the value block, in words of W.
template <typename W>
__global__ void copy_blocks_kernel(W* key_cache, W* value_cache, const int64_t* mapping, int64_t m0, int64_t m1,
                                   int64_t words_per_block) {
    W* cache = blockIdx.y == 0 ? key_cache : value_cache;
    const int64_t from = mapping[blockIdx.x * m0], to = mapping[blockIdx.x * m0 + m1];
    const W* src = cache + from * words_per_block;
    W* dst = cache + to * words_per_block;
    for (int64_t i = threadIdx.x; i < words_per_block; i += kThreads) dst[i] = src[i];
}

int64_t block_bytes(const TensorArg& cache) {
    return cache.size(1) * cache.size(2) * cache.size(3) * element_size(cache.dtype);
}

void check_cache(const TensorArg& cache) {
    check(cache.dim == 4, cache.name, ": expected [blocks, blockSize, kvHeads, headSize], got ", cache.shape());
    check(cache.dtype == DType::F32 || cache.dtype == DType::BF16, cache.name, ": float32 or bfloat16 expected");
    check(cache.contiguous(), cache.name, ": must be contiguous");
}

}  // namespace

void write_kv_cuda(const TensorArg& key, const TensorArg& value, const TensorArg& key_cache, const TensorArg& value_cache,
                   const TensorArg& slot_mapping) {
    check_write_kv(key, value, key_cache, value_cache, slot_mapping);
    check(key.dtype == value.dtype, "write_kv (CUDA): key and value must have one dtype");
    if (key.size(0) == 0) return;
    WriteArgs w{key.data, value.data, key_cache.data, value_cache.data, slot_mapping.as<int64_t>(), slot_mapping.stride(0),
                {}, {}, {}, {}, static_cast<int>(key.size(1)), static_cast<int>(key.size(2)), static_cast<int>(key_cache.size(1))};
    for (int d = 0; d < 3; ++d) {
        w.k_stride[d] = key.stride(d);
        w.v_stride[d] = value.stride(d);
        w.kc_stride[d] = key_cache.stride(d);
        w.vc_stride[d] = value_cache.stride(d);
    }
    DeviceGuard guard(key.device_index);
    cudaStream_t stream = current_stream(key.device_index);
    with_float_type(key.dtype, [&](auto s) {
        with_float_type(key_cache.dtype, [&](auto t) {
            write_kv_kernel<decltype(s), decltype(t)><<<static_cast<unsigned>(key.size(0)), kThreads, 0, stream>>>(w);
            check_launch("write_kv kernel");
        });
    });
}

void copy_blocks_cuda(const TensorArg& key_cache, const TensorArg& value_cache, const TensorArg& block_mapping) {
    check_cache(key_cache);
    check_cache(value_cache);
    check_block_mapping(block_mapping);
    check(key_cache.cuda && value_cache.cuda && block_mapping.cuda, "copy_blocks (CUDA): caches and mapping must be on the GPU");
    check(key_cache.dtype == value_cache.dtype && key_cache.size(0) == value_cache.size(0) && block_bytes(key_cache) == block_bytes(value_cache),
          "copy_blocks (CUDA): key and value caches differ in layout");
    const int64_t pairs = block_mapping.size(0), bytes = block_bytes(key_cache);
    if (pairs == 0) return;
    // Block ids are not checked here: that would need the mapping on the host.
    DeviceGuard guard(key_cache.device_index);
    cudaStream_t stream = current_stream(key_cache.device_index);
    dim3 grid(static_cast<unsigned>(pairs), 2);
    const int64_t* mapping = block_mapping.as<int64_t>();
    if (bytes % 16 == 0) {
        copy_blocks_kernel<uint4><<<grid, kThreads, 0, stream>>>(key_cache.as<uint4>(), value_cache.as<uint4>(), mapping,
                                                                  block_mapping.stride(0), block_mapping.stride(1), bytes / 16);
    } else {
        copy_blocks_kernel<uint16_t><<<grid, kThreads, 0, stream>>>(key_cache.as<uint16_t>(), value_cache.as<uint16_t>(), mapping,
                                                                     block_mapping.stride(0), block_mapping.stride(1), bytes / 2);
    }
    check_launch("copy_blocks kernel");
}

void swap_blocks_cuda(const TensorArg& src, const TensorArg& dst, const TensorArg& block_mapping) {
    check_cache(src);
    check_cache(dst);
    check_block_mapping(block_mapping);
    check(!block_mapping.cuda, "swap_blocks (CUDA): block_mapping must be on the host");
    check(src.dtype == dst.dtype, "swap_blocks: source and destination dtypes differ");
    for (int d = 1; d < 4; ++d) check(src.size(d) == dst.size(d), "swap_blocks: block shapes differ: ", src.shape(), " vs ", dst.shape());
    const int32_t device = src.cuda ? src.device_index : dst.device_index;
    DeviceGuard guard(device);
    cudaStream_t stream = current_stream(device);
    const int64_t bytes = block_bytes(src);
    const char* s = static_cast<const char*>(src.data);
    char* t = static_cast<char*>(dst.data);
    const int64_t* mapping = block_mapping.as<int64_t>();
    for (int64_t i = 0; i < block_mapping.size(0); ++i) {
        int64_t from = mapping[i * block_mapping.stride(0)], to = mapping[i * block_mapping.stride(0) + block_mapping.stride(1)];
        check(from >= 0 && from < src.size(0) && to >= 0 && to < dst.size(0), "block_mapping[", i, "]: block out of range");
        cudaError_t e = cudaMemcpyAsync(t + to * bytes, s + from * bytes, static_cast<size_t>(bytes), cudaMemcpyDefault, stream);
        check(e == cudaSuccess, "swap_blocks: ", cudaGetErrorString(e));
    }
}

}  // namespace llm::cuda
