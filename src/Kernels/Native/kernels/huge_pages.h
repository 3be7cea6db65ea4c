// Weights on 2 MiB pages. A decode step streams every weight once; on 4 KiB pages that is a
// TLB miss every 4 KiB (a two-level page walk under a hypervisor), which keeps the stream well
// under the memory bandwidth. Linux backs memory advised with MADV_HUGEPAGE by 2 MiB pages when
// transparent huge pages are "madvise" (the default on Debian) or "always". LLM_HUGE_PAGES=0
// turns the advice off.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llm {

constexpr size_t kHugePage = size_t(2) << 20;

// False when LLM_HUGE_PAGES=0.
bool huge_pages_enabled();

// Memory for weights: 2 MiB-aligned, advised for huge pages before it is first touched (so the
// first writes fault in huge pages). Free with std::free.
void* alloc_weights(size_t bytes);

// Advises the whole 2 MiB pages inside [p, p + bytes) for huge pages and asks the kernel to
// collapse those already in memory now (MADV_COLLAPSE, Linux 6.1+; best effort). Returns the
// bytes advised.
size_t advise_huge_pages(void* p, size_t bytes);

}  // namespace llm
