// A sparse mixture of experts' feed-forward in one call: every token's top-k experts, each expert
// computed once for all the tokens routed to it, the weighted outputs summed per token.
//
//   out[t] = sum over j < k of weights[t, j] * expert_{routes[t, j]}(x[t])
//   expert_e(x) = down_e · (act(gate_e · x) * (up_e · x))      gate_up_e = [gate_e | up_e] by rows
//
// The TorchSharp composition issues about a dozen operators per expert (index_select, two matrix
// products, chunk, activation, products, index_add_) plus a host sync for the counts: at decode
// sizes those cost as much as the experts' own reads of their weights. Here the work is two passes
// over the pool: (1) per expert and chunk of its intermediate rows, gate and up for its tokens and
// act(gate) * up; (2) per chunk of output columns, every expert's down rows for its tokens, summed
// into out in expert order (the composition's order, so float32 agrees with it to rounding).
#pragma once

#include "tensor_arg.h"

namespace llm {

enum class MoeActivation { Silu = 0, GeluTanh = 1, Gelu = 2, Relu = 3 };

// out [T, d], x [T, d]: float32 or bfloat16 (the weights' dtype), contiguous; routes [T, k] int64
// (experts, distinct per token); weights [T, k] float32; gate_up [E, 2I, d]; down [E, d, I].
void moe_experts_cpu(const TensorArg& out, const TensorArg& x, const TensorArg& routes, const TensorArg& weights,
                     const TensorArg& gate_up, const TensorArg& down, int activation);

}  // namespace llm
