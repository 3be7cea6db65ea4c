using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Kernels.Structured;
using LlmEngine.Scheduling;

namespace LlmEngine.Actors;

/// <summary>
/// The worker's own copy of the sequences it runs (vLLM's cached request states): each one's
/// tokens, block table, random stream and constraint position, kept up to date by applying each
/// <see cref="SchedulerOutput"/>. From them it builds the flat <see cref="ModelStep"/>: each
/// scheduled sequence contributes the tokens it computes now, and each of the step's sample rows
/// reads its sequence's last logits (a request's n parallel samples all read its prompt's), each
/// completion drawing from its own random stream.
/// </summary>
internal sealed class InputBatch(int blockSize, IReadOnlyCollection<int> eosTokenIds)
{
    // The scheduler hands back the request it was given: the engine schedules GenerationRequests.
    private sealed class RequestState(NewRequestData data, SamplingParameters sampling)
    {
        public NewRequestData Data { get; } = data;
        public SamplingParameters Sampling { get; } = sampling;
        public CompletionTerms Terms { get; } = data.Request.Terms;
        /// <summary>One random stream per completion index; a seeded request derives index i's seed
        /// from its own, so sample i equals a single request made with that derived seed.</summary>
        public SequenceRandom[] Randoms { get; } = Enumerable.Range(0, sampling.N)
            .Select(i => SequenceRandom.FromSeed(sampling.Seed is { } seed ? SequenceRandom.DeriveSeed(seed, i) : null)).ToArray();
        public SequenceRandom RandomOf(int index) => Randoms[Math.Min(index, Randoms.Length - 1)];
    }

    private sealed class SequenceState(RequestState request, int index, GuidePosition? guide)
    {
        public RequestState Request { get; } = request;
        public int Index { get; } = index;
        public List<int> Output { get; init; } = new();
        public List<int> Table { get; init; } = new();
        /// <summary>Where the constraint stands after the output (null: none); shared by forks.</summary>
        public GuidePosition? Guide { get; private set; } = guide;
        public int TokenCount => Request.Data.PromptTokenIds.Count + Output.Count;
        public int TokenAt(int position) => position < Request.Data.PromptTokenIds.Count ? Request.Data.PromptTokenIds[position] : Output[position - Request.Data.PromptTokenIds.Count];

        public void Append(int token)
        {
            Output.Add(token);
            Guide = Guide?.Advance(token);
        }

        public SequenceState Fork(int index) => new(Request, index, Guide) { Output = new(Output), Table = new(Table) };
    }

    private readonly Dictionary<long, SequenceState> _sequences = new();

    /// <summary>Sequences the worker holds (for tests).</summary>
    public int NumSequences => _sequences.Count;

    /// <summary>The block table the worker holds for a sequence (for tests).</summary>
    public IReadOnlyList<int> BlockTable(long sequenceId) => _sequences[sequenceId].Table;

    /// <summary>Applies a step's changes and builds its model input, with the step's sample rows
    /// (the scheduler's <see cref="SchedulerOutput.SampleRows"/>).</summary>
    public (ModelStep Step, IReadOnlyList<SampleRow> Rows) Apply(SchedulerOutput output)
    {
        foreach (var r in output.NewRequests)
        {
            var request = new RequestState(r, ((GenerationRequest)r.Request).Sampling);
            _sequences[r.FirstSequenceId] = new SequenceState(request, 0, request.Sampling.Guide is { } g ? GuidePosition.Start(g) : null);
        }
        foreach (var fork in output.Forks) _sequences[fork.Child] = _sequences[fork.Parent].Fork(fork.Index);
        foreach (var id in output.FinishedSequenceIds) _sequences.Remove(id);
        foreach (var s in output.Scheduled)
        {
            var sequence = _sequences[s.SequenceId];
            foreach (int token in s.NewTokenIds) sequence.Append(token);
            sequence.Table.RemoveRange(s.KeptBlocks, sequence.Table.Count - s.KeptBlocks);
            sequence.Table.AddRange(s.NewBlockIds);
        }
        return Build(output);
    }

    private (ModelStep, IReadOnlyList<SampleRow>) Build(SchedulerOutput output)
    {
        var scheduled = output.Scheduled;
        int n = scheduled.Count, tokens = output.NumScheduledTokens;
        var ids = new int[n];
        var starts = new int[n + 1];
        var contexts = new int[n];
        var lengths = new int[n];
        var tables = new int[n][];
        var tokenIds = new int[tokens];
        var positions = new int[tokens];
        var slots = new long[tokens];
        var logitIndices = new List<int>();
        var sampleRows = new List<int>();
        var samplingRows = new List<SamplingRow>();
        var promptIndices = new List<int>();
        var promptRows = new List<PromptRow>();
        var rows = output.SampleRows;
        int cursor = 0, row = 0;
        for (int i = 0; i < n; i++)
        {
            var work = scheduled[i];
            var sequence = _sequences[work.SequenceId];
            ids[i] = (int)work.SequenceId;
            tables[i] = sequence.Table.ToArray();
            contexts[i] = work.NumComputed + work.NumNew;
            lengths[i] = sequence.TokenCount;
            for (int j = 0; j < work.NumNew; j++, cursor++)
            {
                int position = work.NumComputed + j;
                positions[cursor] = position;
                tokenIds[cursor] = sequence.TokenAt(position);
                slots[cursor] = (long)sequence.Table[position / blockSize] * blockSize + position % blockSize;
            }
            starts[i + 1] = cursor;
            ScorePrompt(sequence.Request, work, starts[i], promptIndices, promptRows);
            if (row == rows.Count || rows[row].SequenceId != work.SequenceId) continue;
            int logitRow = logitIndices.Count;
            logitIndices.Add(cursor - 1);
            var request = sequence.Request;
            var sampling = request.Sampling;
            // A beam asks for its 2W best next tokens; the sampled token itself is not used.
            int top = sampling.UseBeamSearch ? Math.Max(2 * sampling.N, sampling.Logprobs ?? 0) : sampling.Logprobs ?? 0;
            var allowed = sequence.Guide?.Mask();
            // When the constraint leaves only the end, min_tokens cannot hold it back.
            var banned = sequence.Guide?.State is { IsComplete: true } or { IsDead: true } ? [] : StopConditions.Banned(sequence.Output.Count, request.Terms, eosTokenIds);
            for (; row < rows.Count && rows[row].SequenceId == work.SequenceId; row++)
            {
                var random = request.RandomOf(rows[row].Index);
                samplingRows.Add(new SamplingRow(sampling, request.Data.PromptTokenIds, sequence.Output, random.NextUniform(), banned, top, allowed));
                sampleRows.Add(logitRow);
            }
        }
        foreach (int index in promptIndices)
        {
            sampleRows.Add(logitIndices.Count);
            logitIndices.Add(index);
        }
        var step = new ModelStep(ids, tokenIds, positions, starts, contexts, tables, slots,
            logitIndices.ToArray(), sampleRows.ToArray(), samplingRows.ToArray(), output.CacheOperations) { SequenceLengths = lengths, PromptRows = [.. promptRows] };
        return (step, rows);
    }

    // Prompt logprobs: the logits of each prompt position computed now score the prompt token after
    // it (the last position's logits are the first sample's). A recomputed prompt is scored again.
    private static void ScorePrompt(RequestState request, ScheduledSequence work, int start, List<int> indices, List<PromptRow> rows)
    {
        if (request.Sampling.PromptLogprobs is not { } top) return;
        var prompt = request.Data.PromptTokenIds;
        int end = Math.Min(work.NumComputed + work.NumNew, prompt.Count - 1);
        for (int position = work.NumComputed; position < end; position++)
        {
            indices.Add(start + position - work.NumComputed);
            rows.Add(new PromptRow(request.Data.RequestId, position + 1, prompt[position + 1], top));
        }
    }
}
