using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Families;

/// <summary>
/// Runs a model on the paged path the way the engine does, without the engine: every step is
/// one flattened batch in which each running sequence feeds its next uncomputed tokens (at most
/// <c>chunk</c>), so prompt chunks and decodes share steps; sequence i arrives at step i. Blocks
/// come from a shuffled free list, so block tables are neither contiguous nor ordered.
/// <code>
///  step 0: | s0 chunk 0..2 |
///  step 1: | s0 chunk 3..5 | s1 chunk 0..2 |
///  step 2: | s0 decode     | s1 chunk 3..5 | s2 chunk 0..0 |
///  tables: s0 -> [13, 2, 40], s1 -> [7, 31], ...   slot = table[p / B] * B + p % B
/// </code>
/// </summary>
internal sealed class PagedHarness : IDisposable
{
    private sealed class Sequence(int id, int[] prompt)
    {
        public int Id { get; } = id;
        public int[] Prompt { get; } = prompt;
        public List<int> Tokens { get; } = [.. prompt];
        public int Computed { get; set; }
        public List<int> Table { get; } = [];
        public int Generated => Tokens.Count - Prompt.Length;
    }

    private readonly ICausalLanguageModel _model;
    private readonly PagedKvCache _cache;
    private readonly IAttentionBackend _attention;
    private readonly Stack<int> _free;
    private readonly int _blockSize;

    /// <param name="cacheDType">the cache's element type (null: the model's dtype)</param>
    public PagedHarness(ICausalLanguageModel model, string backend, int blockSize, int capacityTokens, int seed, ScalarType? cacheDType = null)
    {
        var config = model.Config;
        _model = model;
        _blockSize = blockSize;
        // Room for every sequence's partly filled last block, and spare blocks so ids are sparse.
        int blocks = capacityTokens / blockSize + 64;
        _cache = new PagedKvCache(config.NumLayers, blocks, blockSize, config.KvHeads, config.HeadSize, cacheDType ?? model.DType, model.Device);
        _attention = AttentionBackends.Create(backend, _cache);
        var random = new Random(seed);
        _free = new Stack<int>(Enumerable.Range(0, blocks).OrderBy(_ => random.Next()));
    }

    /// <summary>Logits at every position of every prompt, one [length, vocab] tensor each.</summary>
    public Tensor[] PromptLogits(IReadOnlyList<int[]> prompts, int chunk)
    {
        var sequences = prompts.Select((p, i) => new Sequence(i, p)).ToList();
        var rows = prompts.Select(_ => new List<Tensor>()).ToArray();
        for (int step = 0; sequences.Any(s => s.Computed < s.Tokens.Count); step++)
        {
            var running = sequences.Take(step + 1).Where(s => s.Computed < s.Tokens.Count).ToList();
            var plan = Plan(running, chunk, everyToken: true);
            using var logits = Forward(plan.Step);
            for (int k = 0; k < running.Count; k++)
            {
                using var own = logits[plan.Step.QueryStarts[k]..plan.Step.QueryStarts[k + 1]];
                rows[running[k].Id].Add(own.clone());
            }
            Advance(plan);
        }
        return rows.Select(r => { var joined = cat(r, 0); r.ForEach(t => t.Dispose()); return joined; }).ToArray();
    }

    /// <summary>Greedy continuations (the engine's sampler at temperature 0), EOS ignored.</summary>
    public int[][] Greedy(IReadOnlyList<int[]> prompts, int maxTokens, int chunk)
    {
        var sampling = new SamplingParameters { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true };
        var sequences = prompts.Select((p, i) => new Sequence(i, p)).ToList();
        for (int step = 0; sequences.Any(s => s.Generated < maxTokens); step++)
        {
            var running = sequences.Take(step + 1).Where(s => s.Generated < maxTokens).ToList();
            var plan = Plan(running, chunk, everyToken: false);
            var rows = plan.Sampled.Select(s => new SamplingRow(sampling, s.Prompt, s.Tokens.Skip(s.Prompt.Length).ToList(), 0, [], 0)).ToArray();
            using (var logits = Forward(plan.Step))
            {
                var sampled = Sampler.Sample(logits, rows);
                for (int k = 0; k < plan.Sampled.Count; k++) plan.Sampled[k].Tokens.Add(sampled[k].TokenId);
            }
            Advance(plan);
            foreach (var done in running.Where(s => s.Generated == maxTokens)) Release(done);
        }
        return sequences.Select(s => s.Tokens.Skip(s.Prompt.Length).ToArray()).ToArray();
    }

    // As ModelRunner does, less sampling: one forward over the step's flattened batch.
    private Tensor Forward(ModelStep step)
    {
        using var noGrad = no_grad();
        using var batch = new AttentionBatch(step.SequenceIds, step.QueryStarts, step.ContextLengths, step.BlockTables, step.SlotMapping)
        {
            SequenceLengths = step.SequenceLengths,
        };
        using var tokens = tensor(step.TokenIds.Select(t => (long)t).ToArray(), dtype: int64, device: _model.Device);
        using var positions = tensor(step.Positions.Select(p => (long)p).ToArray(), dtype: int64, device: _model.Device);
        using var rows = tensor(step.LogitTokenIndices.Select(i => (long)i).ToArray(), dtype: int64, device: _model.Device);
        return _model.Forward(tokens, positions, batch, _attention, rows);
    }

    private sealed record StepPlan(ModelStep Step, List<Sequence> Running, int[] Fed, List<Sequence> Sampled);

    // The step in which every running sequence feeds up to `chunk` of its uncomputed tokens. The
    // logits wanted: every token's, or (for sampling) the last token's of each sequence whose
    // last token is fed.
    private StepPlan Plan(List<Sequence> running, int chunk, bool everyToken)
    {
        var tokens = new List<int>();
        var positions = new List<int>();
        var slots = new List<long>();
        var starts = new List<int> { 0 };
        var fed = new int[running.Count];
        var logitRows = new List<int>();
        var sampled = new List<Sequence>();
        for (int k = 0; k < running.Count; k++)
        {
            var s = running[k];
            fed[k] = Math.Min(chunk, s.Tokens.Count - s.Computed);
            while (s.Table.Count * _blockSize < s.Computed + fed[k]) s.Table.Add(_free.Pop());
            for (int p = s.Computed; p < s.Computed + fed[k]; p++)
            {
                tokens.Add(s.Tokens[p]);
                positions.Add(p);
                slots.Add((long)s.Table[p / _blockSize] * _blockSize + p % _blockSize);
            }
            starts.Add(tokens.Count);
            if (!everyToken && s.Computed + fed[k] == s.Tokens.Count)
            {
                logitRows.Add(tokens.Count - 1);
                sampled.Add(s);
            }
        }
        var step = new ModelStep(running.Select(s => s.Id).ToArray(), tokens.ToArray(), positions.ToArray(), starts.ToArray(),
            running.Select((s, k) => s.Computed + fed[k]).ToArray(), running.Select(s => s.Table.ToArray()).ToArray(), slots.ToArray(),
            everyToken ? Enumerable.Range(0, tokens.Count).ToArray() : logitRows.ToArray(), Enumerable.Range(0, logitRows.Count).ToArray(), [], CacheOperationsPlan.None)
        {
            SequenceLengths = [.. running.Select(s => s.Tokens.Count)],
        };
        return new StepPlan(step, running, fed, sampled);
    }

    private static void Advance(StepPlan plan)
    {
        for (int k = 0; k < plan.Running.Count; k++) plan.Running[k].Computed += plan.Fed[k];
    }

    private void Release(Sequence sequence)
    {
        foreach (int block in sequence.Table) _free.Push(block);
        sequence.Table.Clear();
    }

    public void Dispose() => _cache.Dispose();
}
