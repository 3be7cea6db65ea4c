using System.Diagnostics;
using LlmEngine.Kernels.Runtime;
using TorchSharp;

namespace LlmEngine.Kernels.Sharding;

/// <summary>One tensor-parallel rank (or pipeline stage) as it was built: its runner and what it owns (model shard, caches).</summary>
public sealed record RankParts(ModelRunner Runner, IDisposable Resources);

/// <summary>Per rank: seconds computing the forward pass, of those seconds in all-reduces, and bytes reduced.</summary>
public sealed record RankTimes(int Rank, double ForwardSeconds, double CommunicationSeconds, long BytesReduced, int AllReduces)
{
    /// <summary>What this rank did between <paramref name="earlier"/> and now.</summary>
    public RankTimes Since(RankTimes earlier) => new(Rank, ForwardSeconds - earlier.ForwardSeconds, CommunicationSeconds - earlier.CommunicationSeconds,
        BytesReduced - earlier.BytesReduced, AllReduces - earlier.AllReduces);
}

/// <summary>
/// A model split over T tensor-parallel ranks in this process, behind the one-runner interface the
/// worker calls: each step goes to every rank thread at once (the same step: same block ids, each
/// rank's cache holding its own key/value heads, each rank applying the cache operations to its
/// own part of the blocks); the ranks meet in the shared-memory all-reduces of every layer; then
/// their vocabulary slices of the logits are joined and sampled once. As a pipeline stage that is not
/// the last, the ranks' hidden states are equal after the layer's last all-reduce; rank 0's go on.
/// </summary>
public sealed class TensorParallelRunner : IStepRunner, IStageRunner, IHeadRunner, IDisposable
{
    private readonly RankThread[] _threads;
    private readonly RankParts[] _ranks;
    private readonly TensorShard[] _shards;
    private readonly double[] _forwardSeconds;
    private readonly SharedMemoryAllReduce _group;
    private readonly StepTimer _timer = new();
    private readonly bool _joinsLogits;

    private TensorParallelRunner(RankThread[] threads, RankParts[] ranks, TensorShard[] shards, SharedMemoryAllReduce group)
    {
        (_threads, _ranks, _shards, _group) = (threads, ranks, shards, group);
        _forwardSeconds = new double[ranks.Length];
        // Only a part that ends in the head returns logits (vocabulary slices to join); any other stage,
        // and a last stage whose head is on the first, returns hidden states, equal on every rank.
        _joinsLogits = ranks[0].Runner.Model is not Models.IStagedModel staged || (staged.Stage.IsLast && staged.Stage.HasHead);
    }

    /// <summary>Starts <paramref name="size"/> rank threads of <paramref name="threadsPerRank"/> threads each and
    /// builds every rank on its own thread (its shard's weights load in parallel with the others').</summary>
    public static TensorParallelRunner Start(int size, int threadsPerRank, Func<TensorShard, RankParts> build)
    {
        var group = new SharedMemoryAllReduce(size);
        var shards = Enumerable.Range(0, size).Select(r => new TensorShard(r, size, group)).ToArray();
        var threads = Enumerable.Range(0, size).Select(r => new RankThread($"tp-rank-{r}", threadsPerRank)).ToArray();
        var building = Enumerable.Range(0, size).Select(r => threads[r].Run(() => build(shards[r]))).ToArray();
        try
        {
            Task.WaitAll(building);
        }
        catch (AggregateException)
        {
            foreach (var built in building.Where(b => b.IsCompletedSuccessfully)) built.Result.Resources.Dispose();
            foreach (var thread in threads) thread.Dispose();
            group.Dispose();
            throw building.Select(b => b.Exception?.InnerException).First(e => e is not null)!;
        }
        return new TensorParallelRunner(threads, building.Select(b => b.Result).ToArray(), shards, group);
    }

    public int Size => _ranks.Length;
    public int ThreadsPerRank => _threads[0].Threads;
    public double ComputeSeconds => _timer.ComputeSeconds;
    public double SampleSeconds => _timer.SampleSeconds;

    public IReadOnlyList<RankTimes> Ranks => Enumerable.Range(0, Size)
        .Select(r => new RankTimes(r, _forwardSeconds[r], _shards[r].CommunicationSeconds, _shards[r].BytesReduced, _shards[r].AllReduces)).ToArray();

    public StepOutput Execute(ModelStep step) => _timer.Execute(this, step);

    /// <inheritdoc/>
    /// <remarks>Every rank runs the step, and their vocabulary slices of the logits are joined.</remarks>
    public torch.Tensor? Forward(ModelStep step) => Forward(step, null);

    /// <inheritdoc/>
    public torch.Tensor? Forward(ModelStep step, torch.Tensor? hidden)
    {
        var forwards = Enumerable.Range(0, Size).Select(r => _threads[r].Run(() => Forward(r, step, hidden))).ToArray();
        try
        {
            Task.WaitAll(forwards);
        }
        catch (AggregateException)
        {
            foreach (var done in forwards.Where(f => f.IsCompletedSuccessfully)) done.Result?.Dispose();
            _group.Reset();
            var errors = forwards.Select(f => f.Exception?.InnerException).OfType<Exception>().ToList();
            throw errors.FirstOrDefault(e => e is not AllReduceAbortedException) ?? errors[0];
        }
        var slices = forwards.Select(f => f.Result).ToArray();
        if (slices[0] is null) return null;
        if (!_joinsLogits)
        {
            foreach (var copy in slices.Skip(1)) copy!.Dispose();
            return slices[0];
        }
        return Join(slices!);
    }

    /// <inheritdoc/>
    /// <remarks>Each rank computes its vocabulary slice on its own thread; the slices are joined.</remarks>
    public torch.Tensor Head(torch.Tensor rows)
    {
        var heads = Enumerable.Range(0, Size).Select(r => _threads[r].Run(() => _ranks[r].Runner.Head(rows))).ToArray();
        try
        {
            Task.WaitAll(heads);
        }
        catch (AggregateException error)
        {
            foreach (var done in heads.Where(h => h.IsCompletedSuccessfully)) done.Result.Dispose();
            throw error.InnerExceptions[0];
        }
        return Join([.. heads.Select(h => h.Result)]);
    }

    private static torch.Tensor Join(torch.Tensor[] slices)
    {
        var joined = torch.cat(slices, 1);
        foreach (var slice in slices) slice.Dispose();
        return joined;
    }

    // On the rank's thread. A rank that fails aborts the group, so no other rank waits for it.
    private torch.Tensor? Forward(int rank, ModelStep step, torch.Tensor? hidden)
    {
        long started = Stopwatch.GetTimestamp();
        try
        {
            return _ranks[rank].Runner.Forward(step, hidden);
        }
        catch (Exception error) when (error is not AllReduceAbortedException)
        {
            _group.Abort();
            throw;
        }
        finally
        {
            _forwardSeconds[rank] += Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
    }

    public void Dispose()
    {
        foreach (var thread in _threads) thread.Dispose();
        foreach (var rank in _ranks) rank.Resources.Dispose();
        _group.Dispose();
    }
}
