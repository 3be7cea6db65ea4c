using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Attention;

/// <summary>
/// Plain causal attention of one sequence's query tokens over its contiguous keys and values,
/// in float32. The reference that every other attention path is compared against.
/// </summary>
internal static class CausalAttention
{
    /// <param name="query">[queries, queryHeads, headSize]; query j sits at position firstQueryPosition + j</param>
    /// <param name="keys">[context, kvHeads, headSize]</param>
    /// <param name="values">[context, kvHeads, headSize]</param>
    /// <returns>[queries, queryHeads, headSize] in float32</returns>
    public static Tensor Attend(Tensor query, Tensor keys, Tensor values, int firstQueryPosition, AttentionScores scores)
    {
        using var scope = NewDisposeScope();
        long queries = query.shape[0], heads = query.shape[1], context = keys.shape[0], kvHeads = keys.shape[1];
        long group = heads / kvHeads;
        var q = query.to(float32).permute(1, 0, 2);                                     // [H, Q, D]
        var k = keys.to(float32).repeat_interleave(group, dim: 1).permute(1, 2, 0);      // [H, D, T]
        var v = values.to(float32).repeat_interleave(group, dim: 1).permute(1, 0, 2);    // [H, T, D]
        var weights = SoftCap(matmul(q, k).mul_(scores.Scale), scores.SoftCap);          // [H, Q, T]
        var queryPositions = arange(firstQueryPosition, firstQueryPosition + queries, dtype: int64).unsqueeze(1);
        var keyPositions = arange(context, dtype: int64).unsqueeze(0);
        var hidden = keyPositions.gt(queryPositions);                                   // [Q, T]: the future
        if (scores.Window > 0) hidden.logical_or_(keyPositions.le(queryPositions - scores.Window));
        weights.masked_fill_(hidden.unsqueeze(0), double.NegativeInfinity);
        var output = matmul(weights.softmax(-1), v).permute(1, 0, 2).contiguous();      // [Q, H, D]
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>cap * tanh(s / cap) in place, or s unchanged when cap is 0.</summary>
    public static Tensor SoftCap(Tensor scores, double cap) => cap > 0 ? scores.div_(cap).tanh_().mul_(cap) : scores;
}
