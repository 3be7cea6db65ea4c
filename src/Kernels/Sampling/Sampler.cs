using LlmEngine.Scheduling;
using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Sampling;

/// <summary>
/// Turns a step's logits into tokens, vectorised over the batch: penalties, logit bias and bans per row,
/// then one argmax for greedy rows and one sort / cumulative-sum pass for sampled rows
/// (temperature, top-k, top-p, min-p), choosing by inverse CDF with each row's own uniform.
/// Greedy picks the lowest id on a tie (torch.argmax returns the first maximum).
/// </summary>
public static class Sampler
{
    public static SampledToken[] Sample(Tensor logits, IReadOnlyList<SamplingRow> rows)
    {
        using var scope = NewDisposeScope();
        if (TryPlainGreedy(logits, rows) is { } plain) return plain;
        var processed = logits.to(float32).clone();
        for (int i = 0; i < rows.Count; i++) ApplyPenaltiesAndBans(processed[i], rows[i]);
        ApplyAllowed(processed, rows);

        var chosen = new long[rows.Count];
        var greedy = Indices(rows, r => r.Parameters.IsGreedy);
        var random = Indices(rows, r => !r.Parameters.IsGreedy);
        if (greedy.Length > 0)
        {
            var picks = processed.index_select(0, tensor(greedy)).argmax(-1).data<long>().ToArray();
            for (int j = 0; j < greedy.Length; j++) chosen[greedy[j]] = picks[j];
        }
        if (random.Length > 0)
        {
            var picks = SampleRandom(processed.index_select(0, tensor(random)), random.Select(i => rows[(int)i]).ToList());
            for (int j = 0; j < random.Length; j++) chosen[random[j]] = picks[j];
        }
        return Logprobs(processed, rows, chosen);
    }

    // Greedy with nothing to apply first (no penalty, bias, ban or mask) and no alternatives to
    // report: argmax and the chosen token's log-probability read on the CPU (RowMath), without the
    // general path's libtorch calls.
    private static bool IsPlainGreedy(SamplingRow r) =>
        r.Parameters.IsGreedy && r.Parameters.RepetitionPenalty == 1.0 && r.Parameters.LogitBias.Count == 0 && r.BannedTokens.Count == 0 && r.AllowedTokens is null
        && r.TopLogprobs == 0 && (r.OutputTokens.Count == 0 || (r.Parameters.PresencePenalty == 0 && r.Parameters.FrequencyPenalty == 0));

    /// <summary>Every row's token when all rows are plain greedy and every row's logits are numbers
    /// with a finite maximum (so none would fail); otherwise null, and the general path decides.</summary>
    internal static SampledToken[]? TryPlainGreedy(Tensor logits, IReadOnlyList<SamplingRow> rows)
    {
        if (!rows.All(IsPlainGreedy)) return null;
        using var scope = NewDisposeScope();
        return PlainGreedy(logits, rows);
    }

    private static SampledToken[]? PlainGreedy(Tensor logits, IReadOnlyList<SamplingRow> rows)
    {
        if (logits.dim() != 2 || logits.device_type != DeviceType.CPU) return null;
        var source = logits.dtype == float32 && logits.is_contiguous() ? logits : logits.to(float32).contiguous();
        var values = RowMath.Values(source);
        int vocab = (int)source.size(1);
        var ids = new int[rows.Count];
        var logprobs = new float[rows.Count];
        if (!GreedyRows.TryCompute(source, ids, logprobs)) RowMath.Greedy(values, vocab, ids, logprobs);
        var result = new SampledToken[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            if (ids[i] < 0) return null;
            result[i] = new SampledToken(ids[i], values[i * vocab + ids[i]], logprobs[i], []);
        }
        return result;
    }

    private static long[] Indices(IReadOnlyList<SamplingRow> rows, Func<SamplingRow, bool> keep) =>
        Enumerable.Range(0, rows.Count).Where(i => keep(rows[i])).Select(i => (long)i).ToArray();

    private static void ApplyPenaltiesAndBans(Tensor row, SamplingRow r)
    {
        var p = r.Parameters;
        long vocab = row.shape[0];
        // Ids a model cannot produce (e.g. a config's EOS beyond the vocabulary) have no logit to change.
        long[] Known(IEnumerable<int> ids) => ids.Where(t => t >= 0 && t < vocab).Select(t => (long)t).Distinct().ToArray();
        if (p.RepetitionPenalty != 1.0)
        {
            var seen = tensor(Known(r.PromptTokens.Concat(r.OutputTokens)));
            if (seen.numel() > 0)
            {
                var values = row.index_select(0, seen);
                row.index_copy_(0, seen, where(values.gt(0), values / p.RepetitionPenalty, values * p.RepetitionPenalty));
            }
        }
        if ((p.PresencePenalty != 0 || p.FrequencyPenalty != 0) && r.OutputTokens.Count > 0)
        {
            var counts = r.OutputTokens.Where(t => t >= 0 && t < vocab).GroupBy(t => t).ToArray();
            var ids = tensor(counts.Select(g => (long)g.Key).ToArray());
            var penalty = tensor(counts.Select(g => (float)(p.PresencePenalty + p.FrequencyPenalty * g.Count())).ToArray());
            row.index_add_(0, ids, penalty, -1);
        }
        if (p.LogitBias.Count > 0)
        {
            var biased = p.LogitBias.Where(b => b.Key < vocab).ToArray();
            if (biased.Length > 0)
                row.index_add_(0, tensor(biased.Select(b => (long)b.Key).ToArray()), tensor(biased.Select(b => (float)b.Value).ToArray()), 1);
        }
        var banned = Known(r.BannedTokens);
        if (banned.Length > 0) row.index_fill_(0, tensor(banned), float.NegativeInfinity);
    }

    /// <summary>A constraint's mask, before any sampling mode looks at the logits, so greedy,
    /// random, top-k/p, parallel samples and beams all choose among allowed tokens only. The bit
    /// masks are unpacked on the tensor side (one shift-and per word), not token by token.</summary>
    private static void ApplyAllowed(Tensor processed, IReadOnlyList<SamplingRow> rows)
    {
        if (rows.All(r => r.AllowedTokens is null)) return;
        long vocab = processed.shape[1];
        int words = (int)((vocab + 63) / 64);
        var packed = new long[rows.Count * words];
        for (int i = 0; i < rows.Count; i++)
        {
            var allowed = rows[i].AllowedTokens;
            var row = packed.AsSpan(i * words, words);
            if (allowed is null) row.Fill(-1L);
            else CopyMask(allowed, row);
        }
        var bits = tensor(packed).view(rows.Count, words, 1).bitwise_right_shift(arange(64, dtype: int64)).bitwise_and(1);
        var refused = bits.view(rows.Count, words * 64L)[.., ..(int)vocab].eq(0);
        processed.masked_fill_(refused, float.NegativeInfinity);
    }

    // A mask shorter than the logits (a vocabulary padded past the tokenizer) refuses the rest.
    private static void CopyMask(ulong[] allowed, Span<long> row)
    {
        int n = Math.Min(allowed.Length, row.Length);
        System.Runtime.InteropServices.MemoryMarshal.Cast<ulong, long>(allowed.AsSpan(0, n)).CopyTo(row);
    }

    private static long[] SampleRandom(Tensor logits, IReadOnlyList<SamplingRow> rows)
    {
        long vocab = logits.shape[1];
        var temperature = tensor(rows.Select(r => (float)r.Parameters.Temperature).ToArray()).unsqueeze(1);
        var (sorted, order) = logits.div(temperature).sort(-1, descending: true);
        var probs = sorted.softmax(-1);
        var rank = arange(vocab).unsqueeze(0);
        var topK = tensor(rows.Select(r => r.Parameters.TopK <= 0 ? vocab : (long)r.Parameters.TopK).ToArray()).unsqueeze(1);
        var topP = tensor(rows.Select(r => (float)r.Parameters.TopP).ToArray()).unsqueeze(1);
        var minP = tensor(rows.Select(r => (float)r.Parameters.MinP).ToArray()).unsqueeze(1);
        // Drop a token when it is past top-k, when the mass before it already reaches top-p, or when
        // it is below min-p times the best; the best token itself always survives.
        var drop = rank.ge(topK)
            .logical_or(probs.cumsum(-1).sub(probs).gt(topP))
            .logical_or(probs.lt(probs[.., 0..1].mul(minP)));
        drop[.., 0] = false;
        var kept = probs.masked_fill(drop, 0);
        var cumulative = kept.cumsum(-1);
        var target = tensor(rows.Select(r => (float)r.Uniform).ToArray()).unsqueeze(1).mul(cumulative[.., ^1..]);
        var position = cumulative.lt(target).sum(-1, keepdim: true).clamp_max(vocab - 1);
        // Rounding can land on a dropped tail entry; step back to the last kept one.
        var safe = minimum(position, kept.gt(0).sum(-1, keepdim: true).sub(1));
        return order.gather(1, safe).squeeze(1).data<long>().ToArray();
    }

    private static SampledToken[] Logprobs(Tensor processed, IReadOnlyList<SamplingRow> rows, long[] chosen) =>
        Score(processed, chosen, [.. rows.Select(r => r.TopLogprobs)]);

    /// <summary>
    /// Prompt logprobs: each row's raw logits [rows, vocab] score the prompt token that follows its
    /// position, as vLLM scores them (no penalty, bias or temperature), with the token's rank (how
    /// many tokens are at least as likely) and each row's top alternatives.
    /// </summary>
    public static PromptLogprob[] ScorePrompt(Tensor logits, IReadOnlyList<int> tokenIds, IReadOnlyList<int> tops)
    {
        using var scope = NewDisposeScope();
        var scores = logits.to(float32);
        var ids = tokenIds.Select(t => (long)t).ToArray();
        var tokens = Score(scores, ids, [.. tops]);
        var picked = scores.gather(1, tensor(ids).unsqueeze(1));
        var ranks = scores.ge(picked).sum(-1).data<long>().ToArray();
        return [.. tokens.Select((t, i) => new PromptLogprob(t, (int)ranks[i]))];
    }

    private static SampledToken[] Score(Tensor processed, long[] chosen, int[] tops)
    {
        var logZ = processed.logsumexp(-1);
        var pickedLogits = processed.gather(1, tensor(chosen).unsqueeze(1)).squeeze(1);
        var logits = pickedLogits.data<float>().ToArray();
        var picked = pickedLogits.sub(logZ).data<float>().ToArray();
        int maxTop = tops.Length == 0 ? 0 : tops.Max();
        long[] topIds = [];
        float[] topValues = [];
        if (maxTop > 0)
        {
            var (values, ids) = processed.topk(maxTop, -1);
            topValues = values.sub(logZ.unsqueeze(1)).data<float>().ToArray();
            topIds = ids.data<long>().ToArray();
        }
        var result = new SampledToken[tops.Length];
        for (int i = 0; i < tops.Length; i++)
        {
            var top = new TokenLogprob[tops[i]];
            for (int k = 0; k < top.Length; k++) top[k] = new TokenLogprob((int)topIds[i * maxTop + k], topValues[i * maxTop + k]);
            result[i] = new SampledToken((int)chosen[i], logits[i], picked[i], top);
        }
        return result;
    }
}
