#include "thread_pool.h"
#include "switches.h"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace llm {

namespace {

int default_threads() {
    if (const char* env = std::getenv("LLM_NATIVE_THREADS")) {
        int n = std::atoi(env);
        if (n > 0) return n;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
    return std::max(1u, std::thread::hardware_concurrency());
}

inline void relax() { __builtin_ia32_pause(); }

// How long an idle worker polls for the next job before it sleeps: LLM_NATIVE_SPIN_US microseconds, by
// the clock (a count of pauses lasts what the CPU makes of it); default 80, about what 4,000 pauses took
// here. A worker that sleeps misses the next job's start by a wake-up (tens of microseconds in a VM);
// one that polls longer takes a core from libtorch's threads and the actors between steps.
std::chrono::nanoseconds spin_time() {
    static const long long us = env_number("LLM_NATIVE_SPIN_US", 80);
    return std::chrono::microseconds(us);
}

// LLM_NATIVE_SPANS=0 hands for_spans' items out in index order like for_each's, to compare on one build.
bool spans_enabled() {
    static const bool enabled = switched_on("LLM_NATIVE_SPANS");
    return enabled;
}

// Bytes a worker asks for before it looks for a job again: a few hundred nanoseconds of memory traffic, so a
// job that comes meanwhile waits no longer than that.
constexpr size_t kAheadChunk = 4096;

thread_local ThreadPool* bound_pool = nullptr;
std::mutex spare_mutex;
std::vector<ThreadPool*> spare_pools;  // pools of rank threads that ended, for the next to bind

}  // namespace

ThreadPool& ThreadPool::instance() {
    if (bound_pool) return *bound_pool;
    // Never destroyed: the workers sleep until the process ends, so nothing races exit-time teardown.
    static ThreadPool* pool = new ThreadPool(default_threads());
    return *pool;
}

void ThreadPool::bind_current(int threads) {
    unbind_current();
    std::lock_guard<std::mutex> lock(spare_mutex);
    auto it = std::find_if(spare_pools.begin(), spare_pools.end(), [&](ThreadPool* p) { return p->threads() == threads; });
    if (it != spare_pools.end()) {
        bound_pool = *it;
        spare_pools.erase(it);
    } else {
        bound_pool = new ThreadPool(std::max(1, threads));
    }
}

void ThreadPool::unbind_current() {
    if (!bound_pool) return;
    std::lock_guard<std::mutex> lock(spare_mutex);
    spare_pools.push_back(bound_pool);
    bound_pool = nullptr;
}

ThreadPool::ThreadPool(int threads) : threads_(threads), cursors_(static_cast<size_t>(threads)) {
    for (int i = 1; i < threads_; ++i) {
        workers_.emplace_back([this, i] { work_loop(i); });
        handles_.push_back(workers_.back().native_handle());
        workers_.back().detach();
    }
}

int64_t ThreadPool::workers_cpu_ns() const {
    int64_t total = 0;
    for (pthread_t handle : handles_) {
        clockid_t clock;
        timespec t;
        if (pthread_getcpuclockid(handle, &clock) == 0 && clock_gettime(clock, &t) == 0) total += t.tv_sec * 1000000000LL + t.tv_nsec;
    }
    return total;
}

bool ThreadPool::claim(int span, int& index) {
    const int end = static_cast<int>(static_cast<int64_t>(span + 1) * count_ / threads_);
    if (cursors_[span].next.load(std::memory_order_relaxed) >= end) return false;
    index = cursors_[span].next.fetch_add(1, std::memory_order_relaxed);
    return index < end;
}

void ThreadPool::drain(int slot) {
    if (!spans_) {
        for (int i = next_.fetch_add(1, std::memory_order_relaxed); i < count_; i = next_.fetch_add(1, std::memory_order_relaxed))
            body_(context_, i);
        return;
    }
    // Its own span first (the caller's is span 0, worker i's span i), then the others' in turn.
    for (int s = 0; s < threads_; ++s) {
        const int span = (slot + s) % threads_;
        for (int i; claim(span, i);) body_(context_, i);
    }
}

void ThreadPool::read_ahead(const Range* ranges, int count) {
    if (workers_.empty()) return;
    std::unique_lock<std::mutex> lock(ahead_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return;  // another caller is publishing: these ranges are only a hint
    const int n = std::min(count, kMaxAhead);
    const uint32_t seq = ahead_seq_.load(std::memory_order_relaxed);
    ahead_seq_.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    for (int i = 0; i < n; ++i) {
        ahead_data_[i].store(ranges[i].data, std::memory_order_relaxed);
        ahead_bytes_[i].store(ranges[i].bytes, std::memory_order_relaxed);
    }
    ahead_count_.store(n, std::memory_order_relaxed);
    ahead_seq_.store(seq + 2, std::memory_order_release);
}

bool ThreadPool::fetch_ahead(int slot, AheadCursor& c) {
    const uint32_t seq = ahead_seq_.load(std::memory_order_acquire);
    if (seq & 1) return false;
    // A worker's share of a range: bytes [slot, slot + 1) · size / threads, to whole lines.
    auto share = [&](const Range& r, int s) { return static_cast<size_t>(r.bytes * static_cast<uint64_t>(s) / threads_) / 64 * 64; };
    if (seq != c.seq) {
        const int n = ahead_count_.load(std::memory_order_relaxed);
        for (int i = 0; i < n; ++i)
            c.ranges[i] = {ahead_data_[i].load(std::memory_order_relaxed), ahead_bytes_[i].load(std::memory_order_relaxed)};
        std::atomic_thread_fence(std::memory_order_acquire);
        if (ahead_seq_.load(std::memory_order_relaxed) != seq) return true;  // rewritten meanwhile: look again
        c.seq = seq;
        c.count = n;
        c.range = 0;
        c.offset = 0;
        // Where the last chunk this worker fetched lies in its new shares, what comes before it is fetched already
        // (the ranges come in the order the next jobs read them).
        const auto done = reinterpret_cast<uintptr_t>(c.done);
        for (int i = 0; i < n; ++i) {
            const auto begin = reinterpret_cast<uintptr_t>(c.ranges[i].data);
            const size_t from = share(c.ranges[i], slot), to = share(c.ranges[i], slot + 1);
            if (done > begin + from && done <= begin + to) {
                c.range = i;
                c.offset = done - begin - from;
                break;
            }
        }
    }
    while (c.range < c.count && c.offset >= share(c.ranges[c.range], slot + 1) - share(c.ranges[c.range], slot)) {
        ++c.range;
        c.offset = 0;
    }
    if (c.range >= c.count) return false;
    const Range& r = c.ranges[c.range];
    const size_t from = share(r, slot), bytes = std::min(kAheadChunk, share(r, slot + 1) - from - c.offset);
    const char* p = static_cast<const char*>(r.data) + from + c.offset;
    // Into L2 (prefetcht1): the worker's next job wants its L1.
    for (size_t i = 0; i < bytes; i += 64) __builtin_prefetch(p + i, 0, 2);
    c.offset += bytes;
    c.done = p + bytes;
    return true;
}

void ThreadPool::work_loop(int slot) {
    uint64_t seen = 0;
    AheadCursor ahead;
    for (;;) {
        // Fetch this worker's share of the next jobs' memory while there is some (read_ahead), spin a little (a
        // step's layers call back to back), then sleep.
        const auto until = std::chrono::steady_clock::now() + spin_time();
        while (generation_.load(std::memory_order_acquire) == seen) {
            if (fetch_ahead(slot, ahead)) continue;
            for (int spin = 0; spin < 64 && generation_.load(std::memory_order_acquire) == seen; ++spin) relax();
            if (std::chrono::steady_clock::now() >= until) break;
        }
        {
            std::unique_lock<std::mutex> lock(wake_mutex_);
            wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
            seen = generation_.load(std::memory_order_acquire);
            if (!open_) continue;  // that job is over already
            joined_.fetch_add(1, std::memory_order_acq_rel);
        }
        drain(slot);
        joined_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void ThreadPool::run(int count, void (*body)(void*, int), void* context, bool spans) {
    if (count <= 0) return;
    std::unique_lock<std::mutex> job(job_mutex_, std::try_to_lock);
    if (count == 1 || workers_.empty() || !job.owns_lock()) {
        for (int i = 0; i < count; ++i) body(context, i);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        count_ = count;
        body_ = body;
        context_ = context;
        next_.store(0, std::memory_order_relaxed);
        spans_ = spans && spans_enabled();
        if (spans_)
            for (int s = 0; s < threads_; ++s) cursors_[s].next.store(static_cast<int>(static_cast<int64_t>(s) * count / threads_), std::memory_order_relaxed);
        open_ = true;
        generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    wake_.notify_all();
    drain(0);
    {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        open_ = false;
    }
    while (joined_.load(std::memory_order_acquire) != 0) {
        for (int spin = 0; spin < 64 && joined_.load(std::memory_order_acquire) != 0; ++spin) relax();
        if (joined_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    }
}

}  // namespace llm
