using LlmEngine.Scheduling;

namespace LlmEngine.Actors.Engine;

/// <summary>
/// Counters and time averages of the engine, updated by the scheduler actor once per step and
/// read as snapshots. Engine overhead is the share of each step's wall time (proposal to
/// samples back) not spent in the model's forward pass and sampling.
/// </summary>
internal sealed class EngineMeter
{
    private readonly object _lock = new();
    private long _steps, _preemptions, _swappedOut, _promptTokens, _generationTokens, _succeeded, _prefixQueries, _prefixHits;
    private int _peakRunning, _peakBlocksUsed, _peakShared, _blocksTotal, _blocksFree;
    private double _computeSeconds, _stepSeconds, _wasteSum, _sharedSum, _usage;
    // The last allocation's shares of all slots, weighted by the wall time of the step they ran in.
    private double _tokenShare, _unusedShare, _tokenShareTime, _unusedShareTime, _shareSeconds;
    private long _usageSamples;
    private int _running, _waiting, _swapped;
    private long _rejected;
    private readonly Dictionary<string, long> _aborts = new();
    private readonly long[] _iterationCounts = new long[IterationTokens.VllmBounds.Length + 1];
    private long _iterationSum;

    public void OnArrival(int promptTokens)
    {
        lock (_lock) _promptTokens += promptTokens;
    }

    public void OnSuccess()
    {
        lock (_lock) _succeeded++;
    }

    /// <summary>A request ended early; <paramref name="reason"/> is one of <see cref="AbortReasons"/>.</summary>
    public void OnAbort(string reason)
    {
        lock (_lock) _aborts[reason] = _aborts.GetValueOrDefault(reason) + 1;
    }

    /// <summary>A request was refused because the waiting queue was full.</summary>
    public void OnRejected()
    {
        lock (_lock) _rejected++;
    }

    public void OnAllocation(SchedulerOutput allocation)
    {
        lock (_lock)
        {
            var u = allocation.Usage;
            _preemptions += allocation.PreemptedByRecompute.Count + allocation.SwappedOut.Count;
            _swappedOut += allocation.SwappedOut.Count;
            SetBlocks(u.Total, u.Free);
            _peakBlocksUsed = Math.Max(_peakBlocksUsed, u.Total - u.Free);
            _peakShared = Math.Max(_peakShared, u.SharedBlocksSaved);
            _prefixQueries = u.PrefixQueries;
            _prefixHits = u.PrefixHits;
            // Slots per block are AllocatedSlots / used blocks; with none used both shares are 0.
            int usedBlocks = u.Total - u.Free;
            double totalSlots = usedBlocks == 0 ? 1 : (double)u.AllocatedSlots / usedBlocks * u.Total;
            _tokenShare = usedBlocks == 0 ? 0 : (u.AllocatedSlots - u.WastedSlots) / totalSlots;
            _unusedShare = usedBlocks == 0 ? 0 : u.WastedSlots / totalSlots;
            if (u.AllocatedSlots > 0)
            {
                _wasteSum += (double)u.WastedSlots / u.AllocatedSlots;
                _sharedSum += u.SharedBlocksSaved;
                _usageSamples++;
            }
        }
    }

    public void OnStep(int tokensComputed, int tokensGenerated, double computeSeconds, double stepSeconds, Scheduler scheduler)
    {
        lock (_lock)
        {
            _steps++;
            int bucket = Array.FindIndex(IterationTokens.VllmBounds, b => tokensComputed <= b);
            _iterationCounts[bucket < 0 ? IterationTokens.VllmBounds.Length : bucket]++;
            _iterationSum += tokensComputed;
            _generationTokens += tokensGenerated;
            _computeSeconds += computeSeconds;
            _stepSeconds += stepSeconds;
            _tokenShareTime += _tokenShare * stepSeconds;
            _unusedShareTime += _unusedShare * stepSeconds;
            _shareSeconds += stepSeconds;
            _peakRunning = Math.Max(_peakRunning, scheduler.NumRunning);
            (_running, _waiting, _swapped) = (scheduler.NumRunning, scheduler.NumWaiting, scheduler.NumSwapped);
        }
    }

    public EngineStatistics Snapshot(Scheduler scheduler)
    {
        lock (_lock)
        {
            (_running, _waiting, _swapped) = (scheduler.NumRunning, scheduler.NumWaiting, scheduler.NumSwapped);
            // Blocks come back outside allocations too (a failed step, an abort, a finish).
            SetBlocks(scheduler.Cache.NumTotalBlocks, scheduler.Cache.NumFreeBlocks);
            return Build();
        }
    }

    private void SetBlocks(int total, int free)
    {
        _blocksTotal = total;
        _blocksFree = free;
        _usage = total == 0 ? 0 : 1.0 - (double)free / total;
    }

    /// <summary>The figures as of the last step and allocation (safe to read from any thread).</summary>
    public EngineStatistics Latest
    {
        get { lock (_lock) return Build(); }
    }

    private EngineStatistics Build() => new(
        _running, _waiting, _swapped, _usage, _steps, _preemptions, _swappedOut, _promptTokens, _generationTokens, _succeeded,
        _peakRunning, _peakBlocksUsed, _blocksTotal, _blocksFree,
        _usageSamples == 0 ? 0 : _wasteSum / _usageSamples,
        _stepSeconds == 0 ? 0 : Math.Max(0, 1 - _computeSeconds / _stepSeconds),
        _prefixQueries, _prefixHits, _peakShared, _usageSamples == 0 ? 0 : _sharedSum / _usageSamples,
        _shareSeconds == 0 ? 0 : _tokenShareTime / _shareSeconds, _shareSeconds == 0 ? 0 : _unusedShareTime / _shareSeconds,
        _rejected, new Dictionary<string, long>(_aborts), new IterationTokens(IterationTokens.VllmBounds, [.. _iterationCounts], _iterationSum));
}
