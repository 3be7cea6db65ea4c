using LlmEngine.Actors.Sequences;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Actors.Scheduling;

/// <summary>
/// Flattens a committed step into the worker's <see cref="ModelStep"/>: each scheduled sequence
/// contributes the tokens it computes now; a sequence whose tokens are then all computed gets a
/// sample row on its last token's logits (n rows when a request's prompt fans out to n
/// parallel samples, each drawing from its own random stream).
/// </summary>
public static class StepBuilder
{
    public static (ModelStep Step, IReadOnlyList<StepSample> Samples) Build(
        IReadOnlyList<(Sequence Sequence, SequenceGroup Group, ScheduledSequence Work)> scheduled,
        CacheOperationsPlan cacheOperations,
        IReadOnlyCollection<int> eosTokenIds)
    {
        int n = scheduled.Count, tokens = scheduled.Sum(x => x.Work.NumNew);
        var ids = new int[n];
        var starts = new int[n + 1];
        var contexts = new int[n];
        var tables = new int[n][];
        var tokenIds = new int[tokens];
        var positions = new int[tokens];
        var slots = new long[tokens];
        var logitIndices = new List<int>();
        var sampleRows = new List<int>();
        var rows = new List<SamplingRow>();
        var samples = new List<StepSample>();
        int cursor = 0;
        for (int i = 0; i < n; i++)
        {
            var (sequence, group, work) = scheduled[i];
            ids[i] = (int)sequence.Id;
            tables[i] = work.BlockTable;
            contexts[i] = work.NumComputed + work.NumNew;
            for (int j = 0; j < work.NumNew; j++, cursor++)
            {
                positions[cursor] = work.NumComputed + j;
                tokenIds[cursor] = sequence.TokenAt(work.NumComputed + j);
                slots[cursor] = work.Slots[j];
            }
            starts[i + 1] = cursor;
            if (contexts[i] < sequence.TokenCount) continue;
            int logitRow = logitIndices.Count;
            logitIndices.Add(cursor - 1);
            var sampling = group.Request.Sampling;
            bool fanOut = !group.FannedOut && sampling.N > 1 && group.Beams is null;
            // A beam asks for its 2W best next tokens; the sampled token itself is not used.
            int top = group.Beams is null ? sampling.Logprobs ?? 0 : Math.Max(2 * sampling.N, sampling.Logprobs ?? 0);
            var allowed = sequence.Guide?.Mask();
            // When the constraint leaves only the end, min_tokens cannot hold it back.
            var banned = sequence.Guide?.State is { IsComplete: true } or { IsDead: true } ? [] : StopConditions.Banned(sequence, sampling, eosTokenIds);
            foreach (int index in fanOut ? Enumerable.Range(0, sampling.N) : [sequence.Index])
            {
                var random = fanOut ? group.Randoms[index] : sequence.Random;
                rows.Add(new SamplingRow(sampling, sequence.PromptTokenIds, sequence.OutputTokenIds, random.NextUniform(), banned, top, allowed));
                sampleRows.Add(logitRow);
                samples.Add(new StepSample(sequence, group, index));
            }
        }
        var step = new ModelStep(ids, tokenIds, positions, starts, contexts, tables, slots,
            logitIndices.ToArray(), sampleRows.ToArray(), rows.ToArray(), cacheOperations);
        return (step, samples);
    }
}
