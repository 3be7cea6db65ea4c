// Memory for the large tensors a step makes anew each time (a prompt chunk's products: 5-35 MB each), kept
// mapped between uses. glibc hands blocks that large back to the kernel when they are freed (munmap of an
// mmapped block, or of a thread arena's emptied secondary heap), so the next step's tensor of the same shape
// touched fresh pages again: on the project's VM a first touch of a 4 KiB page costs ~15 us (the host backs
// guest memory lazily; 84 ms to first write 22 MB, 0.6 ms to write it again), which was ~0.8 s of a float32
// prompt step of 1,365 rows on one core, a third of its matrix products. A block released here waits in a
// cache by size class for the next tensor of that class; the cache holds at most LLM_TENSOR_CACHE_MB
// (default 1024) megabytes and frees what would pass that. LLM_TENSOR_CACHE_MB=0 turns it off. New blocks are
// advised for 2 MiB pages (as weights are), so that filling the cache faults per 2 MiB: 12 MB first written in
// 31 ms, or 1.1 ms where the host still backed the pages, against 46 ms on 4 KiB pages (thread CPU, medians of 12).
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "errors.h"
#include "huge_pages.h"
#include "switches.h"

namespace {

// Smaller tensors are left to glibc: LLM_TENSOR_CACHE_MIN_KB kilobytes, default 128 (glibc's own threshold for
// giving a block its own mapping). It was 1 MiB, but in glibc's memory a 128-token prompt's norm and attention
// outputs (384 KiB each in float32 at llama-110m's width) kept faulting in fresh pages step after step (perf:
// page faults inside rms_norm_row and the attention's store_output_rows); glibc trims free memory at the top
// of a heap past 128 KiB by default.
size_t smallest() {
    static const size_t bytes = static_cast<size_t>(llm::env_number("LLM_TENSOR_CACHE_MIN_KB", 128)) << 10;
    return bytes;
}

size_t cache_limit() {
    static const size_t limit = static_cast<size_t>(llm::env_number("LLM_TENSOR_CACHE_MB", 1024)) << 20;
    return limit;
}

// Sizes within an eighth of a power of two share a class: prompt chunks of slightly different row counts
// reuse each other's blocks, at most 12.5% larger than they need.
size_t size_class(size_t bytes) {
    size_t step = 1;
    while (step * 16 <= bytes) step *= 2;
    return (bytes + step - 1) / step * step;
}

struct Cache {
    std::mutex mutex;
    std::unordered_map<void*, size_t> sizes;             // every block handed out or waiting: its class
    std::unordered_map<size_t, std::vector<void*>> free;  // waiting blocks by class
    size_t bytes = 0;                                     // in `free`
};

Cache& cache() {
    static Cache* c = new Cache;  // never destroyed: tensors may be released during exit
    return *c;
}

}  // namespace

// A 64-byte-aligned block of at least `bytes` for a tensor, to give back with llm_tensor_buffer_give (the
// deleter of a tensor made over it), or null where the caller should allocate as usual: under the smallest size above, the
// cache off, or out of memory.
LLM_EXPORT void* llm_tensor_buffer_take(int64_t bytes) {
    if (bytes < static_cast<int64_t>(smallest()) || cache_limit() == 0) return nullptr;
    const size_t size = size_class(static_cast<size_t>(bytes));
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free.find(size);
    if (it != c.free.end() && !it->second.empty()) {
        void* block = it->second.back();
        it->second.pop_back();
        c.bytes -= size;
        return block;
    }
    void* block = llm::alloc_weights(size);
    if (block) c.sizes[block] = size;
    return block;
}

LLM_EXPORT void llm_tensor_buffer_give(void* data) {
    if (!data) return;
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.sizes.find(data);
    if (it == c.sizes.end()) return;
    if (c.bytes + it->second <= cache_limit()) {
        c.free[it->second].push_back(data);
        c.bytes += it->second;
        return;
    }
    c.sizes.erase(it);
    std::free(data);
}
