// A small persistent pool of worker threads for the CPU kernels. libtorch brings its own
// OpenMP runtime; a second one in the same process would fight it for the cores, so the
// kernels use these few plain threads instead. The calling thread takes part in every job;
// one job runs at a time, and a caller that finds the pool busy runs its job alone.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <pthread.h>
#include <thread>
#include <vector>

namespace llm {

class ThreadPool {
public:
    // The pool of the calling thread: the one bound to it, else the process-wide pool
    // (threads: LLM_NATIVE_THREADS, else the CPUs this process may use).
    static ThreadPool& instance();

    // Gives the calling thread a pool of its own with `threads` threads (itself included), so
    // that tensor-parallel rank threads each compute on their share of the cores instead of
    // queueing for the one process-wide pool. unbind_current() hands the pool back for reuse
    // (its workers sleep and are never joined, like the process-wide pool's).
    static void bind_current(int threads);
    static void unbind_current();

    int threads() const { return threads_; }

    // CPU time in nanoseconds that this pool's worker threads (the callers not included) have used so far.
    int64_t workers_cpu_ns() const;

    // Calls body(context, i) for every i in [0, count), spread over the pool; returns when all are done.
    // spans: as for_spans below.
    void run(int count, void (*body)(void* context, int index), void* context, bool spans = false);

    template <typename F>
    void for_each(int count, F& f) {
        run(count, [](void* c, int i) { (*static_cast<F*>(c))(i); }, &f);
    }

    // As for_each, but each thread takes its items from a contiguous span of its own, in order, and then
    // helps with what is left of the others' spans: a kernel that streams memory in index order (a decode
    // step's weights) then reads one long run per core, which the prefetchers follow, instead of runs that
    // interleave with the other cores' every few KiB. A thread that joins late finds its span taken from
    // the front by the others; no item runs twice.
    template <typename F>
    void for_spans(int count, F& f) {
        run(count, [](void* c, int i) { (*static_cast<F*>(c))(i); }, &f, true);
    }

    // Memory that the next jobs will read in spans, in order (read_ahead.h: a decode step's next weights).
    // Between jobs, each idle worker prefetches its own share of each range, the part its span covers when the
    // range is split evenly over the threads, a few KiB at a time, and leaves off as soon as a job comes: a line
    // that one core fetched was no faster for the other than memory on this machine. Replaces the ranges given
    // before; a worker skips what it fetched of them already. Prefetches never fault: a range whose memory was
    // freed since costs a little bandwidth and nothing else. Without workers, nothing happens.
    struct Range {
        const void* data;
        size_t bytes;
    };
    static constexpr int kMaxAhead = 16;
    void read_ahead(const Range* ranges, int count);

private:
    explicit ThreadPool(int threads);
    // A worker's place in the read-ahead ranges: its own copy of them (seq: the version copied), the range
    // and offset in its share it fetches next, and the address after the last chunk it fetched.
    struct AheadCursor {
        uint32_t seq = 0;
        int count = 0, range = 0;
        size_t offset = 0;
        Range ranges[kMaxAhead];
        const char* done = nullptr;
    };

    void work_loop(int slot);
    void drain(int slot);
    bool claim(int span, int& index);
    bool fetch_ahead(int slot, AheadCursor& cursor);  // one chunk of the worker's share; false when none is left

    int threads_;
    std::vector<std::thread> workers_;
    std::vector<pthread_t> handles_;  // the workers' (they are detached, their std::thread no longer names them)
    std::mutex job_mutex_;  // one job at a time

    // A worker joins the current job under wake_mutex_ only while it is open; the caller closes
    // it when its own share is done and then waits for the workers that joined, never for one
    // that is still waking up (which would add a scheduler delay to every call).
    std::mutex wake_mutex_;
    std::condition_variable wake_;
    std::atomic<uint64_t> generation_{0};
    bool open_ = false;
    std::atomic<int> joined_{0};  // workers inside the current job
    std::atomic<int> next_{0};
    // Span mode: span s is [s * count_ / threads_, (s + 1) * count_ / threads_); cursors_[s] its next item.
    struct alignas(64) Cursor {
        std::atomic<int> next{0};
    };
    std::vector<Cursor> cursors_;
    bool spans_ = false;
    int count_ = 0;
    void (*body_)(void*, int) = nullptr;
    void* context_ = nullptr;

    // The read-ahead ranges, behind a seqlock (odd while a caller rewrites them).
    std::mutex ahead_mutex_;  // one writer
    std::atomic<uint32_t> ahead_seq_{0};
    std::atomic<const void*> ahead_data_[kMaxAhead] = {};
    std::atomic<size_t> ahead_bytes_[kMaxAhead] = {};
    std::atomic<int> ahead_count_{0};
};

}  // namespace llm
