// Freed tensor memory stays in the process. By default glibc hands a freed block of 128 KiB or more
// back to the kernel (munmap, or a heap trimmed once 128 KiB lie free at its top), so the next
// step's tensor of that size arrives as fresh pages that fault in one by one, each zeroed by the
// kernel. A 32-sequence prompt of llama-110m in Q4_0 took ~65 page faults per token that way (~1 GB
// of pages per 4,096 tokens; 13-15% of its CPU samples in perf, most inside the GEMM's stores).
// With this, blocks up to 32 MiB (glibc's largest mmap threshold) come from the heap and up to
// 1 GiB of freed heap stays mapped for the next step. Larger blocks are still mapped per use.
// Set when the kernels' library loads; LLM_KEEP_FREED_MEMORY=0 leaves glibc's defaults.
#include <malloc.h>

#include <cstdlib>

namespace {

struct KeepFreedMemory {
    KeepFreedMemory() {
        const char* env = std::getenv("LLM_KEEP_FREED_MEMORY");
        if (env && env[0] == '0') return;
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
    }
};

const KeepFreedMemory keep_freed_memory;

}  // namespace
