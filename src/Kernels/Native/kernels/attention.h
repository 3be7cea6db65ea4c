// Paged attention on the CPU: the arguments as raw pointers and strides, the plan of work
// items, and the per-instruction-set task kernels.
//
// One work item (Task) is one sequence, a run of its kv heads (each with all the query heads
// that share it, so each K/V row is read once per item), a tile of its query tokens and a
// range of key positions. A decode token's item takes all kv heads, so that it sweeps each
// cache block [blockSize, kvHeads, D] front to back; a prompt tile's item takes one kv head,
// whose rows the tile's tokens reuse. A long context is split into partitions; each leaves a
// partial result (running max m, sum l, unnormalised output acc per query row) and a reduce
// step combines them:  out = sum_p acc_p e^(m_p - M) / sum_p l_p e^(m_p - M).
//
//   cache [blocks, blockSize, kvHeads, D]      block table row of sequence s: [7, 2, 9]
//   keys of s: pos 0..bs-1 -> block 7, pos bs..2bs-1 -> block 2, ...
//   item (s, heads h0.., tile, p): rows = heads x tile tokens x group, keys [lo+p*P, min(lo+(p+1)*P, last+1))
//   where lo is the first key the tile's first token sees (0 without a sliding window)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor_arg.h"

namespace llm {

struct AttentionArgs {
    const void* query = nullptr;  // [tokens, qHeads, D], any strides
    int64_t q_stride[3] = {};
    DType q_dtype = DType::F32;
    void* out = nullptr;  // [tokens, qHeads, D], any strides
    int64_t o_stride[3] = {};
    DType o_dtype = DType::F32;
    const void* key_cache = nullptr;  // [blocks, blockSize, kvHeads, D], last stride 1
    const void* value_cache = nullptr;
    int64_t k_stride[3] = {};
    int64_t v_stride[3] = {};
    DType kv_dtype = DType::F32;
    const int32_t* block_tables = nullptr;  // [seqs, maxBlocks]
    int64_t bt_stride[2] = {};
    const int32_t* context_lens = nullptr;  // [seqs]
    const int32_t* query_starts = nullptr;  // [seqs + 1]
    int num_seqs = 0, num_tokens = 0, q_heads = 0, kv_heads = 0, head_size = 0;
    int block_size = 0, num_blocks = 0, max_blocks = 0;
    float scale = 1.0f;
    int partition_size = 0;  // 0: choose
    int window = 0;          // > 0: the query at position i sees keys (i - window, i] only
    float softcap = 0;       // > 0: scores become softcap * tanh(score / softcap), before the mask

    // First key position a query at `pos` sees.
    int first_visible(int pos) const { return window > 0 ? std::max(0, pos - window + 1) : 0; }
    float cap(float s) const { return softcap > 0 ? softcap * std::tanh(s / softcap) : s; }

    int group() const { return q_heads / kv_heads; }
    int context(int s) const { return context_lens[s]; }
    int query_start(int s) const { return query_starts[s]; }
    int block(int s, int i) const { return block_tables[s * bt_stride[0] + i * bt_stride[1]]; }
};

struct Task {
    int seq;
    int kv_head, heads;  // kv heads [kv_head, kv_head + heads)
    int q0, nq;        // first batch token of the tile and tile length
    int first_pos;     // position of token q0 in its sequence
    int k0, k1;        // key positions [k0, k1)
    int partial;       // -1: write the output; else the partial slot to fill
};

struct Group {
    int seq, kv_head, heads, q0, nq, parts, partial;
};

// Per-thread working memory of a task kernel (64-byte aligned floats).
class Scratch {
public:
    float* floats(size_t n);
    ~Scratch();
private:
    float* data_ = nullptr;
    size_t size_ = 0;
};

// Floats of one partial slot: rows x (m, l, acc[D]).
inline size_t partial_floats(int rows, int head_size) { return static_cast<size_t>(rows) * (head_size + 2); }

using TaskKernel = void (*)(const AttentionArgs& a, const Task& t, int max_rows, float* partials, Scratch& scratch);

namespace scalar { void attention_task(const AttentionArgs&, const Task&, int, float*, Scratch&); }
namespace avx2 { void attention_task(const AttentionArgs&, const Task&, int, float*, Scratch&); }
namespace avx512 { void attention_task(const AttentionArgs&, const Task&, int, float*, Scratch&); }
namespace avx512vbmi { void attention_task(const AttentionArgs&, const Task&, int, float*, Scratch&); }

// Tasks share their query-row bookkeeping: row (h*nq + i)*G + g is kv head kv_head+h, token
// q0+i, query head g of the group; one kv head's rows are contiguous and token-major.
void load_query_tile(const AttentionArgs& a, const Task& t, float* q, int row_stride);
void store_output_rows(const AttentionArgs& a, const Task& t, const float* acc, int row_stride, const float* l);
void store_partial_rows(const Task& t, int rows, int head_size, int max_rows, const float* m, const float* l,
                        const float* acc, int row_stride, float* partials);

void paged_attention_cpu(const AttentionArgs& args, int max_context_len);

// Whether a decode token's kv heads are split over items only until the items come out even over
// the threads, rather than down to 4 items per thread; LLM_ATTENTION_COARSE_SPLIT=0 turns it off,
// to compare.
bool coarse_split_enabled();

// Whether decode items take the two-sweep path (scores, softmax, values) rather than the
// online-softmax chunks of prompt tiles; LLM_ATTENTION_DECODE=0 turns it off, to compare.
bool decode_pass_enabled();

// Whether AVX-512 CPUs with VBMI take the task that reads fp8 rows by table lookups (the same code
// otherwise); LLM_ATTENTION_VBMI=0 turns it off, to compare.
bool vbmi_enabled();

// Whether prompt tiles (causal, no window or soft-capping) take the tile-as-lanes path rather than
// the online chunks row by row; LLM_ATTENTION_PROMPT_TILES=0 turns it off, to compare.
bool prompt_tiles_enabled();

}  // namespace llm
