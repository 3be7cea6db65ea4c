#include "read_ahead.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <unordered_map>

#include "errors.h"
#include "switches.h"
#include "thread_pool.h"

namespace llm {

namespace {

// How many bytes of the next weights (all threads' shares) the workers fetch ahead: LLM_READ_AHEAD_KB, default
// 0 (off; llm_set_read_ahead_kb changes it).
std::atomic<int64_t> ahead_bytes{std::max(0LL, env_number("LLM_READ_AHEAD_KB", 0)) << 10};

struct Next {
    const void* key;
    const void* data;
    size_t bytes;
};

// Per calling thread: the weight it computed last and what followed each weight. Keys are never dereferenced,
// so a freed weight's entry is harmless (its range is only prefetched) until a new one at its address
// overwrites it.
struct Chain {
    const void* last = nullptr;
    std::unordered_map<const void*, Next> next;
};

}  // namespace

void read_ahead_after(const void* key, const void* data, size_t bytes) {
    const auto budget = static_cast<size_t>(ahead_bytes.load(std::memory_order_relaxed));
    if (budget == 0) return;
    thread_local Chain chain;
    if (chain.last && chain.last != key) {
        if (chain.next.size() >= 4096) chain.next.clear();  // models loaded one after another
        chain.next[chain.last] = {key, data, bytes};
    }
    chain.last = key;
    ThreadPool::Range ranges[ThreadPool::kMaxAhead];
    int count = 0;
    size_t total = 0;
    for (const void* at = key; count < ThreadPool::kMaxAhead && total < budget;) {
        const auto it = chain.next.find(at);
        if (it == chain.next.end() || it->second.key == key) break;  // the end of what was learned, or a whole step
        const size_t take = std::min(it->second.bytes, budget - total);
        ranges[count++] = {it->second.data, take};
        total += take;
        at = it->second.key;
    }
    if (count > 0) ThreadPool::instance().read_ahead(ranges, count);
}

}  // namespace llm

// For C#: the read-ahead budget in KiB (LLM_READ_AHEAD_KB until set; 0: off).
LLM_EXPORT int64_t llm_read_ahead_kb() { return llm::ahead_bytes.load() >> 10; }
LLM_EXPORT void llm_set_read_ahead_kb(int64_t kb) { llm::ahead_bytes.store(std::max<int64_t>(0, kb) << 10); }
