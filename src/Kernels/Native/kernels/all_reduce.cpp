#include "all_reduce.h"

#include <algorithm>

#include "bf16.h"
#include "errors.h"

namespace llm {

namespace {

inline void relax() { __builtin_ia32_pause(); }

void reduce_f32(const std::vector<float*>& buffers, int64_t begin, int64_t end) {
    float* first = buffers[0];
    for (int64_t i = begin; i < end; ++i) {
        float sum = first[i];
        for (size_t k = 1; k < buffers.size(); ++k) sum += buffers[k][i];
        for (float* b : buffers) b[i] = sum;
    }
}

void reduce_bf16(const std::vector<uint16_t*>& buffers, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
        float sum = bf16_to_float(buffers[0][i]);
        for (size_t k = 1; k < buffers.size(); ++k) sum += bf16_to_float(buffers[k][i]);
        uint16_t rounded = float_to_bf16(sum);
        for (uint16_t* b : buffers) b[i] = rounded;
    }
}

}  // namespace

AllReduceGroup::AllReduceGroup(int ranks) : ranks_(ranks), slots_(static_cast<size_t>(ranks)) {}

// Ranks arrive within microseconds of each other on a quiet machine: spin a little, then sleep
// (the machine may be shared, and a spinning rank would take a core from the one it waits for).
bool AllReduceGroup::barrier() {
    uint64_t seen = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == ranks_ - 1) {
        arrived_.store(0, std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            generation_.fetch_add(1, std::memory_order_acq_rel);
        }
        wake_.notify_all();
        return !aborted_.load(std::memory_order_acquire);
    }
    for (int spin = 0; spin < 20000; ++spin) {
        if (generation_.load(std::memory_order_acquire) != seen) return !aborted_.load(std::memory_order_acquire);
        if (aborted_.load(std::memory_order_acquire)) return false;
        relax();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen || aborted_.load(std::memory_order_acquire); });
    return !aborted_.load(std::memory_order_acquire);
}

bool AllReduceGroup::all_reduce(int rank, void* data, bool bf16, int64_t count) {
    check(rank >= 0 && rank < ranks_, "all_reduce: rank ", rank, " outside a group of ", ranks_);
    if (aborted_.load(std::memory_order_acquire)) return false;
    slots_[static_cast<size_t>(rank)] = Slot{data, count, bf16};
    if (!barrier()) return false;
    for (const Slot& s : slots_)
        if (s.count != count || s.bf16 != bf16) {
            abort();
            fail("all_reduce: the ranks passed different sizes or dtypes");
        }
    // Slice r of the buffer is rank r's to sum; slices of whole cache lines.
    const int64_t per_rank = ((count + ranks_ - 1) / ranks_ + 15) / 16 * 16;
    const int64_t begin = std::min(count, per_rank * rank), end = std::min(count, begin + per_rank);
    if (bf16) {
        std::vector<uint16_t*> buffers;
        for (const Slot& s : slots_) buffers.push_back(static_cast<uint16_t*>(s.data));
        reduce_bf16(buffers, begin, end);
    } else {
        std::vector<float*> buffers;
        for (const Slot& s : slots_) buffers.push_back(static_cast<float*>(s.data));
        reduce_f32(buffers, begin, end);
    }
    // No rank may reuse its buffer (or publish the next one) before every slice is written.
    return barrier();
}

void AllReduceGroup::abort() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        aborted_.store(true, std::memory_order_release);
    }
    wake_.notify_all();
}

void AllReduceGroup::reset() {
    arrived_.store(0, std::memory_order_relaxed);
    aborted_.store(false, std::memory_order_release);
}

}  // namespace llm

LLM_EXPORT void* llm_all_reduce_create(int ranks) { return ranks >= 1 ? new llm::AllReduceGroup(ranks) : nullptr; }
LLM_EXPORT void llm_all_reduce_destroy(void* group) { delete static_cast<llm::AllReduceGroup*>(group); }
LLM_EXPORT void llm_all_reduce_abort(void* group) { static_cast<llm::AllReduceGroup*>(group)->abort(); }
LLM_EXPORT void llm_all_reduce_reset(void* group) { static_cast<llm::AllReduceGroup*>(group)->reset(); }

// 0: summed; 1: the group was aborted (another rank failed); -1: bad arguments (llm_native_last_error says why).
LLM_EXPORT int llm_all_reduce(void* group, int rank, void* data, int bf16, int64_t count) {
    try {
        return static_cast<llm::AllReduceGroup*>(group)->all_reduce(rank, data, bf16 != 0, count) ? 0 : 1;
    } catch (const std::exception&) {
        return -1;
    }
}
