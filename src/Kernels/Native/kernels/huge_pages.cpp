#include "huge_pages.h"

#include <sys/mman.h>

#include <cstdlib>

#include "errors.h"
#include "switches.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

namespace llm {

// LLM_HUGE_PAGES=0 leaves weights on the default pages, to compare the two on one build.
bool huge_pages_enabled() {
    static const bool on = switched_on("LLM_HUGE_PAGES");
    return on;
}

void* alloc_weights(size_t bytes) {
    if (bytes < kHugePage || !huge_pages_enabled()) return std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (p) madvise(p, rounded, MADV_HUGEPAGE);
    return p;
}

size_t advise_huge_pages(void* p, size_t bytes) {
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHugePage - 1) & ~(kHugePage - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHugePage - 1);
    if (end <= begin || !huge_pages_enabled()) return 0;
    void* at = reinterpret_cast<void*>(begin);
    if (madvise(at, end - begin, MADV_HUGEPAGE) != 0) return 0;
    madvise(at, end - begin, MADV_COLLAPSE);
    return end - begin;
}

}  // namespace llm

// For C#: advise a weight tensor's memory (see advise_huge_pages); returns the bytes advised, or -1
// when the advice is off (LLM_HUGE_PAGES=0).
LLM_EXPORT int64_t llm_advise_huge_pages(void* p, int64_t bytes) {
    if (!llm::huge_pages_enabled()) return -1;
    return bytes > 0 ? static_cast<int64_t>(llm::advise_huge_pages(p, static_cast<size_t>(bytes))) : 0;
}
