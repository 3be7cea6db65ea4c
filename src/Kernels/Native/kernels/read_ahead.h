// A decode step streams every weight once from memory, one product after another, and between two products
// the calling thread runs the step's other work (norms, attention, the C# code between calls, the scheduler)
// while the kernels' other cores wait for the next job and memory idles. Each core pulls ~30 GB/s at most,
// about what two cores share of this machine's bandwidth, so a step's products cannot go faster on their own:
// the idle time is the reserve. The products come in the same order every step, so each calling thread learns
// which weight followed which, and after each decode product hands its pool (ThreadPool::read_ahead) the
// bytes of the weights that come next, up to LLM_READ_AHEAD_KB (0: off); each idle worker prefetches the share
// of them that its span of those products will read, and then reads it from its L2 or L3 instead of memory.
#pragma once

#include <cstddef>

namespace llm {

// After a decode product on the weight `key` (its bytes [data, data + bytes)): learns that it followed the
// calling thread's previous one, and hands the pool the bytes of the weights learned to follow it.
void read_ahead_after(const void* key, const void* data, size_t bytes);

}  // namespace llm
