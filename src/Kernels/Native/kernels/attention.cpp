// Planning, reduction and dispatch of CPU paged attention (the task kernels are per ISA).
#include "attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>

#include "bf16.h"
#include "isa.h"
#include "thread_pool.h"
#include "switches.h"

namespace llm {

namespace {

constexpr int kTileRows = 16;       // query rows (tokens x heads of a group) per task
constexpr int kPartition = 512;     // key positions per task before the context is split
constexpr int kMinPartition = 64;
constexpr double kInlineBytes = 1 << 17;  // K/V bytes below which a call runs on the calling thread alone

float read(const void* base, DType t, int64_t index) {
    return t == DType::F32 ? static_cast<const float*>(base)[index]
                           : bf16_to_float(static_cast<const uint16_t*>(base)[index]);
}

void write(void* base, DType t, int64_t index, float value) {
    if (t == DType::F32) static_cast<float*>(base)[index] = value;
    else static_cast<uint16_t*>(base)[index] = float_to_bf16(value);
}

// Every sequence's lengths and block ids, before any thread reads through them.
void check_metadata(const AttentionArgs& a, int max_context_len) {
    check(a.query_starts[0] == 0, "query_starts[0] must be 0");
    check(a.query_starts[a.num_seqs] == a.num_tokens, "query_starts[-1] (", a.query_starts[a.num_seqs],
          ") must equal the number of query tokens (", a.num_tokens, ")");
    for (int s = 0; s < a.num_seqs; ++s) {
        int qlen = a.query_starts[s + 1] - a.query_starts[s], ctx = a.context_lens[s];
        check(qlen >= 0, "query_starts must not decrease (sequence ", s, ")");
        check(ctx >= qlen, "sequence ", s, ": context length ", ctx, " is shorter than its ", qlen, " query tokens");
        check(max_context_len <= 0 || ctx <= max_context_len, "sequence ", s, ": context length ", ctx,
              " exceeds max_context_len ", max_context_len);
        if (qlen == 0) continue;
        int blocks = (ctx + a.block_size - 1) / a.block_size;
        check(blocks <= a.max_blocks, "sequence ", s, ": ", blocks, " blocks needed, block table has ", a.max_blocks);
        for (int b = 0; b < blocks; ++b) {
            int id = a.block(s, b);
            check(id >= 0 && id < a.num_blocks, "sequence ", s, ": block id ", id, " out of range [0, ", a.num_blocks, ")");
        }
    }
}

TaskKernel kernel_for(const AttentionArgs& a) {
    Isa isa = selected_isa();
    if (isa == Isa::Avx512 && a.head_size % 16 == 0) return has_avx512_vbmi() && vbmi_enabled() ? avx512vbmi::attention_task : avx512::attention_task;
    if (isa >= Isa::Avx2 && a.head_size % 8 == 0) return avx2::attention_task;
    return scalar::attention_task;
}

struct Plan {
    std::vector<Group> groups;
    std::vector<int> task_group;  // group of each task
    std::vector<int> lows;  // first key position each group attends to (its first token's window start)
    std::vector<int> keys;  // key positions each group attends to (its last token's position + 1)
    std::vector<Task> tasks;
    int max_rows = 0;
    int slots = 0;
};

int first_position(const AttentionArgs& a, int s) { return a.context_lens[s] - (a.query_starts[s + 1] - a.query_starts[s]); }

// Groups of (sequence, kv heads, query tile) with `decode_heads` kv heads per decode group.
void make_groups(const AttentionArgs& a, int decode_heads, Plan& p) {
    p.groups.clear();
    p.lows.clear();
    p.keys.clear();
    const int G = a.group(), tile = std::max(1, kTileRows / G);
    for (int s = 0; s < a.num_seqs; ++s) {
        int start = a.query_starts[s], qlen = a.query_starts[s + 1] - start, first = first_position(a, s);
        for (int j = 0; j < qlen; j += tile) {
            int nq = std::min(tile, qlen - j), width = nq == 1 ? decode_heads : 1;
            for (int h = 0; h < a.kv_heads; h += width) {
                p.groups.push_back({s, h, std::min(width, a.kv_heads - h), start + j, nq, 1, -1});
                p.lows.push_back(a.first_visible(first + j));
                p.keys.push_back(first + j + nq);
            }
        }
    }
}

long count_tasks(const Plan& p, int part) {
    long n = 0;
    for (size_t g = 0; g < p.keys.size(); ++g) n += (p.keys[g] - p.lows[g] + part - 1) / part;
    return n;
}

// Bytes of cached keys and values the call reads.
double kv_bytes(const AttentionArgs& a) {
    double keys = 0;
    for (int s = 0; s < a.num_seqs; ++s)
        if (a.query_starts[s + 1] > a.query_starts[s]) keys += a.context_lens[s];
    return 2.0 * keys * a.kv_heads * a.head_size * element_size(a.kv_dtype);
}

// Key positions per item for sequence s: the default partition, halved (down to kMinPartition)
// until the sequence's own items (one kv head each) would give every pool thread a few. It
// depends on the sequence alone, not on the rest of the batch, so that the partition sums, and
// so the sequence's result, do not either.
int partition_for(const AttentionArgs& a, int s, int pool_threads) {
    if (a.partition_size > 0) return a.partition_size;
    const int tile = std::max(1, kTileRows / a.group()), start = a.query_starts[s];
    const int qlen = a.query_starts[s + 1] - start, first = first_position(a, s);
    auto items = [&](int part) {
        long n = 0;
        for (int j = 0; j < qlen; j += tile) {
            int nq = std::min(tile, qlen - j), keys = first + j + nq - a.first_visible(first + j);
            n += (keys + part - 1) / part;
        }
        return n * a.kv_heads;
    };
    int part = kPartition;
    if (pool_threads > 1)
        while (part > kMinPartition && items(part) < 4L * pool_threads) part /= 2;
    return part;
}

// threads: those the call runs on; pool_threads: the pool's (the partitions depend on it alone).
Plan plan(const AttentionArgs& a, int threads, int pool_threads) {
    Plan p;
    // While the threads would idle (a few sequences: a batch of one still uses every core), a
    // decode token's kv heads are split over items first (that changes no sum); then long
    // contexts are split into partitions (see partition_for). The heads are halved only until
    // the items come out even over the threads (or number 4 per thread): an item reads its heads'
    // rows of each key position, adjacent in the cache, and one kv head per item left each thread
    // reading 128-256 bytes out of every 1.5 KB, which one core read at ~2/3 of the rate of
    // whole runs (see README.md). LLM_ATTENTION_COARSE_SPLIT=0 halves them down to 4 items per thread.
    int heads = a.kv_heads;
    const int default_part = a.partition_size > 0 ? a.partition_size : kPartition;
    const bool coarse = coarse_split_enabled();
    auto too_few = [&](long items) {
        return items < 4L * threads && (!coarse || items < threads || items % threads != 0);
    };
    make_groups(a, heads, p);
    while (threads > 1 && heads > 1 && too_few(count_tasks(p, default_part))) {
        heads = (heads + 1) / 2;
        make_groups(a, heads, p);
    }
    std::vector<int> parts(a.num_seqs, 0);
    for (size_t g = 0; g < p.groups.size(); ++g) {
        Group& grp = p.groups[g];
        if (parts[grp.seq] == 0) parts[grp.seq] = partition_for(a, grp.seq, pool_threads);
        const int part = parts[grp.seq], low = p.lows[g], keys = p.keys[g];
        int first_pos = first_position(a, grp.seq) + (grp.q0 - a.query_starts[grp.seq]);
        p.max_rows = std::max(p.max_rows, grp.heads * grp.nq * a.group());
        grp.parts = (keys - low + part - 1) / part;
        if (grp.parts > 1) {
            grp.partial = p.slots;
            p.slots += grp.parts;
        }
        for (int k = 0; k < grp.parts; ++k) {
            p.task_group.push_back(static_cast<int>(g));
            p.tasks.push_back({grp.seq, grp.kv_head, grp.heads, grp.q0, grp.nq, first_pos, low + k * part,
                               std::min(keys, low + (k + 1) * part), grp.parts > 1 ? grp.partial + k : -1});
        }
    }
    return p;
}

// Combines a group's partitions: out = sum_p acc_p e^(m_p - M) / sum_p l_p e^(m_p - M).
void reduce(const AttentionArgs& a, const Group& g, int max_rows, const float* partials, int first_pos, Scratch& scratch) {
    const int D = a.head_size, rows = g.heads * g.nq * a.group();
    const size_t slot = partial_floats(max_rows, D);
    float* acc = scratch.floats(static_cast<size_t>(rows) * D + rows);
    float* l = acc + static_cast<size_t>(rows) * D;
    for (int r = 0; r < rows; ++r) {
        float M = -std::numeric_limits<float>::infinity();
        for (int p = 0; p < g.parts; ++p) M = std::max(M, partials[(g.partial + p) * slot + r * (D + 2)]);
        float* o = acc + static_cast<size_t>(r) * D;
        std::fill(o, o + D, 0.0f);
        float sum = 0;
        for (int p = 0; p < g.parts; ++p) {
            const float* row = partials + (g.partial + p) * slot + r * (D + 2);
            if (row[1] == 0.0f) continue;  // no key of this partition is visible to the row
            float w = std::exp(row[0] - M);
            sum += row[1] * w;
            for (int d = 0; d < D; ++d) o[d] += row[2 + d] * w;
        }
        l[r] = sum;
    }
    Task t{g.seq, g.kv_head, g.heads, g.q0, g.nq, first_pos, 0, 0, -1};
    store_output_rows(a, t, acc, D, l);
}

}  // namespace

bool coarse_split_enabled() {
    static const bool enabled = switched_on("LLM_ATTENTION_COARSE_SPLIT");
    return enabled;
}

bool decode_pass_enabled() {
    static const bool enabled = switched_on("LLM_ATTENTION_DECODE");
    return enabled;
}

bool vbmi_enabled() {
    static const bool enabled = switched_on("LLM_ATTENTION_VBMI");
    return enabled;
}

bool prompt_tiles_enabled() {
    static const bool enabled = switched_on("LLM_ATTENTION_PROMPT_TILES");
    return enabled;
}

float* Scratch::floats(size_t n) {
    if (n > size_) {
        std::free(data_);
        size_ = std::max(n, size_ * 2);
        data_ = static_cast<float*>(std::aligned_alloc(64, (size_ * sizeof(float) + 63) / 64 * 64));
    }
    return data_;
}

Scratch::~Scratch() { std::free(data_); }

void load_query_tile(const AttentionArgs& a, const Task& t, float* q, int row_stride) {
    const int G = a.group(), D = a.head_size;
    for (int h = 0; h < t.heads; ++h) {
        for (int i = 0; i < t.nq; ++i) {
            for (int g = 0; g < G; ++g) {
                float* row = q + static_cast<size_t>((h * t.nq + i) * G + g) * row_stride;
                int64_t base = (t.q0 + i) * a.q_stride[0] + ((t.kv_head + h) * G + g) * a.q_stride[1];
                if (a.q_dtype == DType::F32 && a.q_stride[2] == 1) {
                    const float* src = static_cast<const float*>(a.query) + base;
                    for (int d = 0; d < D; ++d) row[d] = src[d] * a.scale;
                } else {
                    for (int d = 0; d < D; ++d) row[d] = read(a.query, a.q_dtype, base + d * a.q_stride[2]) * a.scale;
                }
            }
        }
    }
}

void store_output_rows(const AttentionArgs& a, const Task& t, const float* acc, int row_stride, const float* l) {
    const int G = a.group(), D = a.head_size;
    for (int h = 0; h < t.heads; ++h) {
        for (int i = 0; i < t.nq; ++i) {
            for (int g = 0; g < G; ++g) {
                int r = (h * t.nq + i) * G + g;
                const float* row = acc + static_cast<size_t>(r) * row_stride;
                float inv = 1.0f / l[r];
                int64_t base = (t.q0 + i) * a.o_stride[0] + ((t.kv_head + h) * G + g) * a.o_stride[1];
                if (a.o_dtype == DType::F32 && a.o_stride[2] == 1) {
                    float* dst = static_cast<float*>(a.out) + base;
                    for (int d = 0; d < D; ++d) dst[d] = row[d] * inv;
                } else {
                    for (int d = 0; d < D; ++d) write(a.out, a.o_dtype, base + d * a.o_stride[2], row[d] * inv);
                }
            }
        }
    }
}

void store_partial_rows(const Task& t, int rows, int head_size, int max_rows, const float* m, const float* l,
                        const float* acc, int row_stride, float* partials) {
    const int D = head_size;
    float* slot = partials + t.partial * partial_floats(max_rows, D);
    for (int r = 0; r < rows; ++r) {
        float* dst = slot + static_cast<size_t>(r) * (D + 2);
        dst[0] = m[r];
        dst[1] = l[r];
        std::copy(acc + static_cast<size_t>(r) * row_stride, acc + static_cast<size_t>(r) * row_stride + D, dst + 2);
    }
}

void paged_attention_cpu(const AttentionArgs& a, int max_context_len) {
    check_metadata(a, max_context_len);
    if (a.num_tokens == 0) return;
    ThreadPool& pool = ThreadPool::instance();
    // A short context's few keys cost less than waking the other threads: one item, on this thread.
    const int threads = kv_bytes(a) < kInlineBytes ? 1 : pool.threads();
    Plan p = plan(a, threads, pool.threads());
    TaskKernel kernel = kernel_for(a);

    thread_local std::vector<float> partial_storage;
    float* partials = nullptr;
    if (p.slots > 0) {
        partial_storage.resize(static_cast<size_t>(p.slots) * partial_floats(p.max_rows, a.head_size));
        partials = partial_storage.data();
    }

    // The task that finishes a split group's last partition reduces the group (in partition
    // order, as before): no second round over the pool. Its acquire sees the partials that the
    // group's other tasks released as they finished.
    std::unique_ptr<std::atomic<int>[]> unfinished;
    if (p.slots > 0) {
        unfinished = std::make_unique<std::atomic<int>[]>(p.groups.size());
        for (size_t g = 0; g < p.groups.size(); ++g) unfinished[g].store(p.groups[g].parts, std::memory_order_relaxed);
    }
    auto run_task = [&](int i) {
        thread_local Scratch scratch;
        const Task& t = p.tasks[i];
        kernel(a, t, p.max_rows, partials, scratch);
        if (t.partial < 0) return;
        const int g = p.task_group[i];
        if (unfinished[g].fetch_sub(1, std::memory_order_acq_rel) == 1)
            reduce(a, p.groups[g], p.max_rows, partials, t.first_pos, scratch);
    };
    const int n = static_cast<int>(p.tasks.size());
    if (threads > 1) {
        pool.for_each(n, run_task);
    } else {
        for (int i = 0; i < n; ++i) run_task(i);
    }
}

}  // namespace llm
