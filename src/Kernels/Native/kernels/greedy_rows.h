// Greedy sampling of a step's float32 logits rows [rows, vocab]: each row's first maximum (the
// lowest id among equal maxima, as torch.argmax) and its log-probability, max - log-sum-exp. A row
// holding a NaN, or whose maximum is not finite, gets id -1: the general sampler decides those.
#pragma once

#include <cstdint>

namespace llm {

// One row: returns the id (or -1) and sets *logprob.
int32_t greedy_row(const float* row, int64_t vocab, float* logprob);

namespace avx512 {
int32_t greedy_row(const float* row, int64_t vocab, float* logprob);
}

}  // namespace llm
