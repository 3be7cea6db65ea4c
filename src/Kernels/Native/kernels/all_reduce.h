// An all-reduce among the tensor-parallel ranks of one process, over shared memory: each rank
// thread publishes the address of its partial sums, and after a barrier rank r adds up slice r
// of every rank's buffer, in rank order, and writes the sum back into all of them (a reduce-
// scatter and an all-gather in one pass). The summation order is fixed, so every rank holds
// bit-identical results, whichever thread arrives first.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace llm {

class AllReduceGroup {
public:
    explicit AllReduceGroup(int ranks);

    int ranks() const { return ranks_; }

    // Sums `count` elements (float32, or bfloat16 summed in float32) over the ranks in place.
    // Every rank calls it with the same count and dtype. Returns false when the group was
    // aborted (a rank failed), so that no thread waits forever for a rank that will not come.
    bool all_reduce(int rank, void* data, bool bf16, int64_t count);

    // Wakes every waiting rank and makes this and later calls fail until reset().
    void abort();
    // Clears an abort; called when no rank is inside all_reduce.
    void reset();

private:
    bool barrier();

    struct Slot {
        void* data = nullptr;
        int64_t count = 0;
        bool bf16 = false;
    };

    int ranks_;
    std::vector<Slot> slots_;
    std::atomic<int> arrived_{0};
    std::atomic<uint64_t> generation_{0};
    std::atomic<bool> aborted_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
};

}  // namespace llm
