// Paged attention on CUDA for the llm::paged_attention operator (CUDA dispatch key).
//
// One thread block per (query token, kv head, partition of the token's visible keys), in the
// style of vLLM's paged_attention_v2: the block scores its partition's keys for every query
// head of the group (GQA: each K row is read once per block), takes the softmax of the
// partition, and accumulates the values. A second kernel combines the partitions of tokens
// whose context spans more than one:  out = sum_p acc_p e^(m_p - M) / sum_p l_p e^(m_p - M).
// Decode tokens and prompt-chunk tokens are handled alike (a prompt chunk re-reads its keys
// per token; a tiled prefill kernel would read them once per tile).
#include <cfloat>

#include "attention_args.h"
#include "cuda_common.cuh"

namespace llm::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxHeadChunks = 16;  // head sizes up to 512 (32 lanes x 16)
constexpr int kDefaultPartition = 512;

// The sequence whose query tokens include `token`: the last s with query_starts[s] <= token.
__device__ __forceinline__ int sequence_of(const AttentionArgs& a, int token) {
    int lo = 0, hi = a.num_seqs - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (a.query_starts[mid] <= token) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

__device__ __forceinline__ float warp_max(float x) {
    for (int o = 16; o > 0; o /= 2) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

__device__ __forceinline__ float warp_sum(float x) {
    for (int o = 16; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

// partials: [tokens, qHeads, maxParts, 2 + D] = (max, sum, unnormalised output) per partition.
template <typename T, typename Q>
__global__ void __launch_bounds__(kThreads)
attention_kernel(AttentionArgs a, int partition, int max_parts, float* partials) {
    const int token = blockIdx.x, kvh = blockIdx.y, part = blockIdx.z;
    const int G = a.q_heads / a.kv_heads, D = a.head_size, bs = a.block_size;
    const int s = sequence_of(a, token);
    const int qlen = a.query_starts[s + 1] - a.query_starts[s];
    const int pos = a.context_lens[s] - qlen + (token - a.query_starts[s]);
    const int keys = pos + 1;  // causal: positions 0..pos
    const int parts = (keys + partition - 1) / partition;
    if (part >= parts) return;
    const int k0 = part * partition, k1 = min(keys, k0 + partition), n = k1 - k0;

    extern __shared__ float smem[];
    float* q = smem;                           // [G][D], scaled
    float* logits = q + G * D;                 // [G][partition]
    float* row_max = logits + G * partition;   // [G]
    float* row_sum = row_max + G;              // [G]
    int* ids = reinterpret_cast<int*>(row_sum + G);  // block ids spanned by the partition
    const int first_block = k0 / bs, blocks = (k1 - 1) / bs - first_block + 1;

    const Q* query = static_cast<const Q*>(a.query);
    for (int i = threadIdx.x; i < G * D; i += kThreads) {
        int g = i / D, d = i % D;
        q[i] = to_float(query[token * a.q_stride[0] + (kvh * G + g) * a.q_stride[1] + d * a.q_stride[2]]) * a.scale;
    }
    for (int i = threadIdx.x; i < blocks; i += kThreads)
        ids[i] = a.block_tables[s * a.bt_stride[0] + (first_block + i) * a.bt_stride[1]];
    __syncthreads();

    // Scores: a warp per key; each lane holds D/32 elements of the key row in registers.
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const T* kbase = static_cast<const T*>(a.key_cache) + kvh * a.k_stride[2];
    for (int k = k0 + warp; k < k1; k += kWarps) {
        const T* row = kbase + static_cast<int64_t>(ids[k / bs - first_block]) * a.k_stride[0] + (k % bs) * a.k_stride[1];
        float kv[kMaxHeadChunks];
#pragma unroll
        for (int c = 0; c < kMaxHeadChunks; ++c) {
            int d = lane + 32 * c;
            kv[c] = d < D ? to_float(row[d]) : 0.0f;
        }
        for (int g = 0; g < G; ++g) {
            float sum = 0;
#pragma unroll
            for (int c = 0; c < kMaxHeadChunks; ++c) {
                int d = lane + 32 * c;
                if (d < D) sum += q[g * D + d] * kv[c];
            }
            sum = warp_sum(sum);
            if (lane == 0) logits[g * partition + (k - k0)] = sum;
        }
    }
    __syncthreads();

    // Softmax of the partition, per query head: a warp per head.
    for (int g = warp; g < G; g += kWarps) {
        float m = -FLT_MAX;
        for (int i = lane; i < n; i += 32) m = fmaxf(m, logits[g * partition + i]);
        m = warp_max(m);
        float l = 0;
        for (int i = lane; i < n; i += 32) {
            float e = __expf(logits[g * partition + i] - m);
            logits[g * partition + i] = e;
            l += e;
        }
        l = warp_sum(l);
        if (lane == 0) {
            row_max[g] = m;
            row_sum[g] = l;
        }
    }
    __syncthreads();

    // Values: a thread per (head, element); neighbouring threads read neighbouring elements.
    const T* vbase = static_cast<const T*>(a.value_cache) + kvh * a.v_stride[2];
    Q* out = static_cast<Q*>(a.out);
    for (int i = threadIdx.x; i < G * D; i += kThreads) {
        int g = i / D, d = i % D;
        float acc = 0;
        for (int k = k0; k < k1; ++k) {
            const T* row = vbase + static_cast<int64_t>(ids[k / bs - first_block]) * a.v_stride[0] + (k % bs) * a.v_stride[1];
            acc += logits[g * partition + (k - k0)] * to_float(row[d]);
        }
        int head = kvh * G + g;
        if (parts == 1) {
            out[token * a.o_stride[0] + head * a.o_stride[1] + d * a.o_stride[2]] = from_float<Q>(acc / row_sum[g]);
        } else {
            float* slot = partials + ((static_cast<int64_t>(token) * a.q_heads + head) * max_parts + part) * (D + 2);
            if (d == 0) {
                slot[0] = row_max[g];
                slot[1] = row_sum[g];
            }
            slot[2 + d] = acc;
        }
    }
}

template <typename Q>
__global__ void __launch_bounds__(kThreads)
reduce_kernel(AttentionArgs a, int partition, int max_parts, const float* partials) {
    const int token = blockIdx.x, head = blockIdx.y, D = a.head_size;
    const int s = sequence_of(a, token);
    const int qlen = a.query_starts[s + 1] - a.query_starts[s];
    const int keys = a.context_lens[s] - qlen + (token - a.query_starts[s]) + 1;
    const int parts = (keys + partition - 1) / partition;
    if (parts == 1) return;  // written directly
    const float* base = partials + (static_cast<int64_t>(token) * a.q_heads + head) * max_parts * (D + 2);
    float M = -FLT_MAX;
    for (int p = 0; p < parts; ++p) M = fmaxf(M, base[p * (D + 2)]);
    float L = 0;
    for (int p = 0; p < parts; ++p) L += base[p * (D + 2) + 1] * __expf(base[p * (D + 2)] - M);
    Q* out = static_cast<Q*>(a.out);
    for (int d = threadIdx.x; d < D; d += kThreads) {
        float o = 0;
        for (int p = 0; p < parts; ++p) o += base[p * (D + 2) + 2 + d] * __expf(base[p * (D + 2)] - M);
        out[token * a.o_stride[0] + head * a.o_stride[1] + d * a.o_stride[2]] = from_float<Q>(o / L);
    }
}

size_t shared_bytes(int G, int D, int partition, int block_size) {
    return sizeof(float) * (static_cast<size_t>(G) * D + static_cast<size_t>(G) * partition + 2 * G) +
           sizeof(int) * (partition / block_size + 2);
}

}  // namespace

void paged_attention_cuda(const AttentionArgs& a, int max_context_len, int32_t device) {
    check(a.o_dtype == a.q_dtype, "paged_attention (CUDA): out must have the query's dtype");
    check(a.head_size <= 32 * kMaxHeadChunks, "paged_attention (CUDA): head size up to ", 32 * kMaxHeadChunks);
    check(max_context_len > 0, "paged_attention (CUDA): max_context_len (the longest context) is required");
    if (a.num_tokens == 0) return;
    const int G = a.group();
    // Partition: the requested size, else 512 keys, halved while the scores do not fit 48 KB of shared memory.
    int partition = a.partition_size > 0 ? a.partition_size : kDefaultPartition;
    while (partition > 32 && shared_bytes(G, a.head_size, partition, a.block_size) > 48 * 1024) partition /= 2;
    size_t smem = shared_bytes(G, a.head_size, partition, a.block_size);
    check(smem <= 48 * 1024, "paged_attention (CUDA): ", G, " query heads per kv head need too much shared memory");
    const int max_parts = (max_context_len + partition - 1) / partition;

    DeviceGuard guard(device);
    cudaStream_t stream = current_stream(device);
    DeviceScratch partials(max_parts > 1 ? static_cast<int64_t>(a.num_tokens) * a.q_heads * max_parts * (a.head_size + 2) : 1,
                           device);
    dim3 grid(a.num_tokens, a.kv_heads, max_parts);
    with_float_type(a.kv_dtype, [&](auto t) {
        using T = decltype(t);
        with_float_type(a.q_dtype, [&](auto qt) {
            using Q = decltype(qt);
            attention_kernel<T, Q><<<grid, kThreads, smem, stream>>>(a, partition, max_parts, partials.data());
            check_launch("paged_attention kernel");
            if (max_parts > 1) {
                reduce_kernel<Q><<<dim3(a.num_tokens, a.q_heads), kThreads, 0, stream>>>(a, partition, max_parts, partials.data());
                check_launch("paged_attention reduce kernel");
            }
        });
    });
}

}  // namespace llm::cuda
