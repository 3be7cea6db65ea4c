using System.Diagnostics;

namespace LlmEngine.Kernels.Runtime;

/// <summary>What a profiled interval of a step was spent on.</summary>
public enum ProfileSection { Linear, Attention, Norm, Rotary, Sampling, Forward }

/// <summary>Steps that carry prompt tokens, and steps that only decode.</summary>
public enum ProfilePhase { Prompt, Decode }

/// <summary>
/// Where a step's time goes, for <c>bench batch --profile</c>: wall time per section of the
/// forward pass (matrix products, attention, norms, rotary), sampling, and the whole forward pass,
/// apart for prompt and decode steps. The forward pass minus its timed sections is libtorch
/// dispatch, allocation and the small element-wise operations between them. Process-wide (the
/// shared layers are static helpers; threading a profiler through every model would touch them
/// all) and off unless enabled: a disabled <see cref="Time"/> costs one flag test.
/// </summary>
public static class ForwardProfile
{
    private static readonly int Sections = Enum.GetValues<ProfileSection>().Length;
    private static readonly long[] Ticks = new long[2 * Sections];
    private static readonly long[] Calls = new long[2 * Sections];
    private static readonly long[] Steps = new long[2];
    // Per phase: CPU nanoseconds of the forward passes' calling thread, and of its kernel pool's workers.
    private static readonly long[] CpuNanoseconds = new long[2 * 2];
    private static volatile bool _enabled;
    private static int _phase;

    public static bool Enabled
    {
        get => _enabled;
        set => _enabled = value;
    }

    /// <summary>Starts a step of the given phase (the sections timed until the next one belong to it).</summary>
    public static void BeginStep(ProfilePhase phase)
    {
        if (!_enabled) return;
        _phase = (int)phase;
        Interlocked.Increment(ref Steps[_phase]);
    }

    /// <summary>Times the enclosed interval (dispose the result to stop).</summary>
    public static Interval Time(ProfileSection section) => new(_enabled ? section : null);

    /// <summary>Adds an interval that native code timed (the fused decode layer's parts) to a section of the current step.</summary>
    public static void Add(ProfileSection section, long nanoseconds)
    {
        if (!_enabled) return;
        int slot = _phase * Sections + (int)section;
        Interlocked.Add(ref Ticks[slot], (long)(nanoseconds * (Stopwatch.Frequency / 1e9)));
        Interlocked.Increment(ref Calls[slot]);
    }

    public static void Reset()
    {
        Array.Clear(Ticks);
        Array.Clear(Calls);
        Array.Clear(Steps);
        Array.Clear(CpuNanoseconds);
    }

    public static ProfileSnapshot Snapshot(ProfilePhase phase)
    {
        int p = (int)phase;
        var seconds = Enum.GetValues<ProfileSection>().ToDictionary(s => s, s => (double)Interlocked.Read(ref Ticks[p * Sections + (int)s]) / Stopwatch.Frequency);
        var calls = Enum.GetValues<ProfileSection>().ToDictionary(s => s, s => Interlocked.Read(ref Calls[p * Sections + (int)s]));
        return new ProfileSnapshot(Interlocked.Read(ref Steps[p]), seconds, calls)
        {
            ThreadCpuSeconds = Interlocked.Read(ref CpuNanoseconds[2 * p]) * 1e-9,
            PoolCpuSeconds = Interlocked.Read(ref CpuNanoseconds[2 * p + 1]) * 1e-9,
        };
    }

    /// <remarks>The <see cref="ProfileSection.Forward"/> interval also counts the CPU time of the calling thread and of its
    /// kernel pool's workers: whether the second core did its share of the forward pass.</remarks>
    public readonly struct Interval : IDisposable
    {
        private readonly int _slot;
        private readonly long _start;
        private readonly (long Thread, long PoolWorkers) _cpu;

        internal Interval(ProfileSection? section)
        {
            _slot = section is { } s ? _phase * Sections + (int)s : -1;
            _start = section is null ? 0 : Stopwatch.GetTimestamp();
            if (section == ProfileSection.Forward) _cpu = Native.NativeKernels.CpuNanoseconds;
        }

        public void Dispose()
        {
            if (_slot < 0) return;
            // The CPU clocks are read inside the timed interval: a thread's CPU time cannot pass its wall time.
            bool forward = _slot % Sections == (int)ProfileSection.Forward;
            var (thread, pool) = forward ? Native.NativeKernels.CpuNanoseconds : default;
            Interlocked.Add(ref Ticks[_slot], Stopwatch.GetTimestamp() - _start);
            Interlocked.Increment(ref Calls[_slot]);
            if (!forward) return;
            int p = _slot / Sections;
            Interlocked.Add(ref CpuNanoseconds[2 * p], thread - _cpu.Thread);
            Interlocked.Add(ref CpuNanoseconds[2 * p + 1], pool - _cpu.PoolWorkers);
        }
    }
}

/// <summary>Totals of one phase: steps, seconds and calls per section.</summary>
public sealed record ProfileSnapshot(long Steps, IReadOnlyDictionary<ProfileSection, double> Seconds, IReadOnlyDictionary<ProfileSection, long> Calls)
{
    /// <summary>CPU seconds of the thread that ran the forward passes, inside them.</summary>
    public double ThreadCpuSeconds { get; init; }

    /// <summary>CPU seconds of that thread's kernel pool workers during the forward passes (their idle polling included).</summary>
    public double PoolCpuSeconds { get; init; }

    /// <summary>Forward-pass time outside the timed sections: dispatch, allocation, element-wise glue.</summary>
    public double OtherForwardSeconds => Seconds[ProfileSection.Forward] - Seconds[ProfileSection.Linear] - Seconds[ProfileSection.Attention]
        - Seconds[ProfileSection.Norm] - Seconds[ProfileSection.Rotary];

    /// <summary>Milliseconds per step of a section.</summary>
    public double PerStepMs(double seconds) => Steps > 0 ? seconds / Steps * 1000 : 0;
}
